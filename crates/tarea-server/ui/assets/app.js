// The dashboard's entry point: loads the session, draws the top bar, and routes /ui/... paths
// to pages with history.pushState. A page is a module with `mount(ctx)` that returns an object
// with `destroy()` (and may take `onUrl(url)` to follow its own query string); timers, polls
// and event streams a page registers through `ctx` stop when it is left: `ctx.poll(fn, ms)`
// reads again every few seconds, `ctx.live(fn, opts)` whenever the tenant's jobs change
// (live.js: one stream per page, polling while it is down).
import { currentSession, loadSession, onSessionLost, signOut } from "./api.js";
import { errorBanner, fill, h, tickTimes, toast } from "./dom.js";
import { currentLang, setLang, t } from "./i18n.js";
import { createLive, poll } from "./live.js";
import * as signinPage from "./pages/signin.js";
import * as jobsPage from "./pages/jobs.js";
import * as jobPage from "./pages/job.js";
import * as queuesPage from "./pages/queues.js";
import * as overviewPage from "./pages/overview.js";
import * as schedulesPage from "./pages/schedules.js";
import * as batchesPage from "./pages/batches.js";
import * as batchPage from "./pages/batch.js";
import * as workersPage from "./pages/workers.js";
import * as artifactsPage from "./pages/artifacts.js";
import * as adminPage from "./pages/admin.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");

const ROUTES = [
  { name: "signin", re: /^\/ui\/signin\/?$/, page: signinPage, public: true },
  { name: "overview", re: /^\/ui\/overview\/?$/, page: overviewPage, nav: "overview" },
  { name: "jobs", re: /^\/ui\/jobs\/?$/, page: jobsPage, nav: "jobs" },
  { name: "job", re: /^\/ui\/jobs\/([^/]+)\/?$/, page: jobPage, nav: "jobs" },
  { name: "queues", re: /^\/ui\/queues\/?$/, page: queuesPage, nav: "queues" },
  { name: "schedules", re: /^\/ui\/schedules\/?$/, page: schedulesPage, nav: "schedules" },
  { name: "batches", re: /^\/ui\/batches\/?$/, page: batchesPage, nav: "batches" },
  { name: "batch", re: /^\/ui\/batches\/([^/]+)\/?$/, page: batchPage, nav: "batches" },
  { name: "workers", re: /^\/ui\/workers\/?$/, page: workersPage, nav: "workers" },
  { name: "artifacts", re: /^\/ui\/artifacts\/?$/, page: artifactsPage, nav: "artifacts" },
  { name: "admin", re: /^\/ui\/admin\/?$/, page: adminPage, nav: "admin" },
];

/** The top bar's links, in order; `admin` only for admin sessions. */
const NAV = [
  ["overview", "/ui/overview"], ["jobs", "/ui/jobs"], ["queues", "/ui/queues"], ["schedules", "/ui/schedules"],
  ["batches", "/ui/batches"], ["workers", "/ui/workers"], ["artifacts", "/ui/artifacts"], ["admin", "/ui/admin", true],
];

const notFoundPage = {
  mount(ctx) {
    document.title = `${t("notfound.title")} · tarea`;
    fill(ctx.root, h("div", { class: "page" },
      h("div", { class: "empty" },
        h("p", { class: "empty__title" }, t("notfound.title")),
        h("p", { class: "empty__help" }, t("notfound.body"), " ",
          h("a", { href: "/ui/jobs" }, t("nav.jobs"))))));
    return {};
  },
};

let current = null; // { route, instance, cleanups }
let flash = null; // a message for the sign-in page

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  render({ fromLink: !replace });
}

function match(path) {
  if (/^\/ui\/?$/.test(path)) return { redirect: "/ui/jobs" };
  for (const r of ROUTES) {
    const m = path.match(r.re);
    if (m) return { route: r, params: m.slice(1).map(decodeURIComponent) };
  }
  return { route: { name: "notfound", page: notFoundPage }, params: [] };
}

function leave() {
  if (!current) return;
  for (const fn of current.cleanups) {
    try { fn(); } catch (e) { console.error(e); }
  }
  if (current.instance && current.instance.destroy) current.instance.destroy();
  current = null;
}

function render({ fromLink = false } = {}) {
  const path = location.pathname;
  const found = match(path);
  if (found.redirect) {
    history.replaceState(null, "", found.redirect + location.search);
    return render();
  }
  const session = currentSession();
  const { route, params } = found;
  if (!session && !route.public) {
    const next = path + location.search;
    history.replaceState(null, "", `/ui/signin?next=${encodeURIComponent(next)}`);
    return render();
  }
  if (session && route.name === "signin") {
    const next = new URLSearchParams(location.search).get("next");
    history.replaceState(null, "", next && next.startsWith("/ui/") ? next : "/ui/jobs");
    return render();
  }
  // The same page with another query string (back/forward through filters): let it follow.
  if (current && current.route === route && current.key === path && current.instance.onUrl) {
    current.instance.onUrl(new URL(location.href));
    return;
  }
  leave();
  drawTopbar(route);
  const cleanups = [];
  let live = null;
  const ctx = {
    root: main, params, session, url: new URL(location.href), navigate,
    poll: (fn, ms) => cleanups.push(poll(fn, ms)),
    /**
     * Runs `fn` when the tenant's jobs change (see live.js for `opts`: fallbackMs, safetyMs,
     * filter, tenant, allTenants). Every call of a page shares one stream. Answers
     * `{hint(), setScope({tenant, allTenants})}`.
     */
    live: (fn, opts = {}) => {
      if (!live) {
        live = createLive();
        cleanups.push(() => live.stop());
      }
      if (opts.tenant || opts.allTenants) live.setScope({ tenant: opts.tenant, allTenants: opts.allTenants });
      cleanups.push(live.subscribe(fn, opts));
      return { hint: () => live.hint(), setScope: (scope) => live.setScope(scope) };
    },
    onLeave: (fn) => cleanups.push(fn),
    flash: flash,
  };
  flash = null;
  current = { route, key: path, cleanups, instance: {} };
  fill(main);
  try {
    current.instance = route.page.mount(ctx) || {};
  } catch (err) {
    console.error(err);
    fill(main, h("div", { class: "page" }, errorBanner(err)));
  }
  if (fromLink) {
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }
}

function langSwitch() {
  const select = h("select", { class: "lang__select", "aria-label": t("lang.label") },
    h("option", { value: "es" }, "Español"), h("option", { value: "en" }, "English"));
  select.value = currentLang();
  select.addEventListener("change", () => {
    setLang(select.value);
    document.getElementById("skip-link").textContent = t("app.skip");
    leave();
    render();
  });
  return h("label", { class: "lang" }, select);
}

function drawTopbar(route) {
  const session = currentSession();
  if (!session) {
    topbar.hidden = true;
    fill(topbar);
    return;
  }
  topbar.hidden = false;
  const link = (name, href) => h("a", {
    class: "nav__link", href, "aria-current": route.nav === name ? "page" : null,
  }, t(`nav.${name}`));
  const toggle = h("button", {
    type: "button", class: "menu-toggle", "aria-expanded": "false", "aria-controls": "topbar-menu",
  }, h("span", { class: "menu-toggle__bars", "aria-hidden": "true" }), h("span", { class: "visually-hidden" }, t("nav.menu")));
  const menu = h("div", { class: "topbar__menu", id: "topbar-menu" },
    h("nav", { class: "nav", "aria-label": t("nav.main") },
      NAV.filter(([, , adminOnly]) => !adminOnly || session.admin).map(([name, href]) => link(name, href))),
    h("div", { class: "topbar__right" },
      h("span", { class: "who", title: session.key_id },
        h("span", { class: "who__label" }, t("role.tenant")),
        h("strong", { class: "who__tenant", dataset: { testid: "tenant" } }, session.tenant)),
      session.admin ? h("span", { class: "role role--admin", dataset: { role: "admin" } }, t("role.admin")) : null,
      session.read_only ? h("span", { class: "role role--readonly", dataset: { role: "read-only" } }, t("role.readonly")) : null,
      langSwitch(),
      h("button", { type: "button", class: "btn btn--ghost btn--small", dataset: { action: "signout" }, onclick: doSignOut }, t("signout"))));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("is-open", open);
  });
  fill(topbar, h("div", { class: "topbar__inner" },
    h("a", { class: "brand", href: "/ui/jobs" },
      h("img", { class: "brand__logo", src: "/ui/assets/favicon.svg", alt: "", width: "22", height: "22" }),
      h("span", { class: "brand__name" }, t("app.name"))),
    toggle, menu));
}

async function doSignOut() {
  try {
    await signOut();
  } catch (err) {
    toast(err.message);
  }
  flash = t("signin.signedout");
  leave();
  navigate("/ui/signin", { replace: true });
}

/** Clicks on links inside the dashboard change the page without a reload. */
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui/") || url.pathname.startsWith("/ui/assets/")) return;
  e.preventDefault();
  document.getElementById("topbar-menu")?.classList.remove("is-open");
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", () => render());

onSessionLost(() => {
  flash = t("signin.expired");
  leave();
  navigate(`/ui/signin?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
});

setInterval(() => tickTimes(), 15000);

async function boot() {
  document.documentElement.lang = currentLang();
  document.getElementById("skip-link").textContent = t("app.skip");
  try {
    await loadSession();
  } catch (err) {
    fill(main, h("div", { class: "page" }, errorBanner(err, { retry: () => location.reload() })));
    return;
  }
  render();
}

boot();
