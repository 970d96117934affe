// Sign-in: an API key is exchanged for a session cookie (POST /ui/session). The key field is a
// password field, so it is not shown on a shared screen, and the key is not kept anywhere.
import { signIn } from "../api.js";
import { fill, h } from "../dom.js";
import { currentLang, setLang, t } from "../i18n.js";

export function mount(ctx) {
  document.title = `${t("signin.title")}`;
  const errorBox = h("div", { class: "banner banner--error", role: "alert", hidden: true });
  const input = h("input", {
    id: "key", name: "key", type: "password", class: "input input--mono", required: true,
    autocomplete: "off", spellcheck: "false", placeholder: "tarea_…", "aria-describedby": "key-help",
  });
  const submit = h("button", { type: "submit", class: "btn btn--primary btn--block" }, t("signin.submit"));
  const form = h("form", { class: "signin__form", novalidate: true },
    h("label", { class: "label", for: "key" }, t("signin.key")),
    input,
    errorBox,
    submit);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    errorBox.hidden = true;
    if (!key) {
      showError(t("signin.empty"));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t("signin.busy");
    try {
      await signIn(key);
      const next = ctx.url.searchParams.get("next");
      ctx.navigate(next && next.startsWith("/ui/") && !next.startsWith("/ui/signin") ? next : "/ui/jobs", { replace: true });
    } catch (err) {
      submit.disabled = false;
      submit.textContent = t("signin.submit");
      showError(err.message, err.code);
      input.select();
      input.focus();
    }
  });

  function showError(message, code) {
    fill(errorBox, h("span", {}, message), code ? h("code", { class: "banner__code" }, code) : null);
    errorBox.hidden = false;
  }

  const lang = h("select", { class: "lang__select", "aria-label": t("lang.label") },
    h("option", { value: "es" }, "Español"), h("option", { value: "en" }, "English"));
  lang.value = currentLang();
  lang.addEventListener("change", () => {
    setLang(lang.value);
    mount(ctx);
  });

  fill(ctx.root, h("div", { class: "signin" },
    h("div", { class: "signin__card" },
      h("div", { class: "signin__top" },
        h("div", { class: "brand brand--large" },
          h("img", { class: "brand__logo", src: "/ui/assets/favicon.svg", alt: "", width: "28", height: "28" }),
          h("span", { class: "brand__name" }, t("app.name"))),
        h("label", { class: "lang" }, lang)),
      h("h1", { class: "signin__title" }, t("signin.title")),
      h("p", { class: "signin__lead" }, t("signin.lead")),
      ctx.flash ? h("div", { class: "banner banner--info", role: "status" }, ctx.flash) : null,
      form,
      h("p", { class: "signin__safe" }, t("signin.safe")),
      h("section", { class: "signin__help", id: "key-help" },
        h("h2", { class: "signin__help-title" }, t("signin.where")),
        h("p", {}, t("signin.help1")),
        h("pre", { class: "code" }, "tarea keys create --tenant lab-rosario"),
        h("p", {}, t("signin.help2"))))));
  input.focus();
  return {};
}
