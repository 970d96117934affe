// Building the page: `h()` makes elements from data with textContent only (payloads, errors and
// names are user data and never pass through innerHTML), plus the small pieces every page
// shares: state badges, progress bars, times, banners, empty states, JSON blocks.
import { t, formatDate, formatNumber, formatRelative } from "./i18n.js";

/**
 * h("a", {href: "/ui/jobs", class: "link", onclick: fn, dataset: {id}}, "text", child, …).
 * Attribute values are set with setAttribute (never `style`: the CSP forbids it; use
 * `el.style.x = …` in code instead). null/undefined/false attributes and children are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "text") {
      el.textContent = value;
    } else if (name === "style") {
      throw new Error("style attributes break the CSP; set el.style from code");
    } else if (name === "value" && "value" in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const TERMINAL = new Set(["succeeded", "dead", "cancelled"]);
export const STATES = ["scheduled", "queued", "running", "succeeded", "failed", "dead", "cancelled"];

export function stateBadge(state) {
  return h("span", {
    class: `badge badge--${state}`, dataset: { state }, title: t(`statehelp.${state}`),
  }, t(`state.${state}`));
}

/** A progress bar; `update(bar, progress)` moves it later without rebuilding it. */
export function progressBar(progress, { small = false, label } = {}) {
  const fillEl = h("span", { class: "progress__fill" });
  const bar = h("div", {
    class: small ? "progress progress--small" : "progress", role: "progressbar",
    "aria-valuemin": "0", "aria-valuemax": "100", "aria-label": label || t("job.progress"),
  }, fillEl);
  updateProgress(bar, progress);
  return bar;
}

export function updateProgress(bar, progress) {
  const pct = progress && Number.isFinite(progress.percent) ? Math.max(0, Math.min(100, progress.percent)) : 0;
  bar.setAttribute("aria-valuenow", String(Math.round(pct)));
  bar.querySelector(".progress__fill").style.width = `${pct}%`;
}

/** A <time> that reads "3 min ago" and shows the exact date on hover; kept fresh by `tickTimes`. */
export function timeEl(iso) {
  if (!iso) return h("span", { class: "muted" }, t("none"));
  return h("time", { datetime: iso, title: formatDate(iso), dataset: { rel: "" } }, formatRelative(iso));
}

/** Rewrites every relative time on the page (they age while the page stays open). */
export function tickTimes(root = document) {
  for (const el of root.querySelectorAll("time[data-rel]")) {
    const iso = el.getAttribute("datetime");
    el.textContent = formatRelative(iso);
    el.title = formatDate(iso);
  }
}

export function errorBanner(err, { retry } = {}) {
  return h("div", { class: "banner banner--error", role: "alert" },
    h("div", { class: "banner__body" },
      h("strong", { class: "banner__title" }, err.title || t("err.title")),
      h("span", {}, err.message),
      err.code ? h("code", { class: "banner__code" }, err.code) : null),
    retry ? h("button", { type: "button", class: "btn btn--small", onclick: retry }, t("err.retry")) : null);
}

export function emptyState(title, help) {
  return h("div", { class: "empty" },
    h("div", { class: "empty__icon", "aria-hidden": "true" }),
    h("p", { class: "empty__title" }, title),
    help ? h("p", { class: "empty__help" }, help) : null);
}

export function loading() {
  return h("div", { class: "loading", role: "status" },
    h("span", { class: "spinner", "aria-hidden": "true" }), h("span", {}, t("loading")));
}

/** Pretty-printed JSON in a <pre>, as text. */
export function jsonBlock(value, label) {
  return h("pre", { class: "json", tabindex: "0", "aria-label": label }, JSON.stringify(value, null, 2));
}

/** The last 8 characters: a UUIDv7 starts with the clock, so its head is the same for a minute of jobs. */
export function shortId(id) {
  return String(id).slice(-8);
}

/** A button that copies `text` and says so for a moment. */
export function copyButton(text, { label = t("job.copy"), plain = false } = {}) {
  const btn = h("button", {
    type: "button", class: plain ? "btn btn--small" : "btn btn--ghost btn--small", title: label, dataset: { action: "copy" },
  }, label);
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = h("textarea", { class: "visually-hidden" }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    btn.textContent = t("job.copied");
    setTimeout(() => { btn.textContent = label; }, 1500);
  });
  return btn;
}

/** A short message at the bottom of the screen: text, or nodes (a link to what was made). */
export function toast(message, { ms = 4000 } = {}) {
  const box = document.getElementById("toasts");
  const el = h("div", { class: "toast" }, message);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

/**
 * An action button that a read-only session sees disabled, with the reason on hover and for
 * screen readers (the note `readonly-note` explains it on the page).
 */
export function actionButton(label, { readOnly, danger, plain, small, onclick, name }) {
  const cls = ["btn", danger ? "btn--danger" : plain ? null : "btn--primary", plain || small ? "btn--small" : null];
  const btn = h("button", {
    type: "button", class: cls.filter(Boolean).join(" "), dataset: { action: name },
    disabled: readOnly, "aria-describedby": readOnly ? "readonly-note" : null,
    title: readOnly ? t("readonly.tip") : null, onclick: readOnly ? null : onclick,
  }, label);
  return readOnly ? h("span", { class: "btn-wrap", title: t("readonly.tip") }, btn) : btn;
}

export function readOnlyNote() {
  return h("p", { class: "note", id: "readonly-note" },
    h("span", { class: "note__icon", "aria-hidden": "true" }, "i"), t("readonly.note"));
}

/** The state of a batch as a badge: running, succeeded, or failed (some items dead or cancelled). */
export function batchBadge(state) {
  const look = { running: "running", succeeded: "succeeded", failed: "dead" }[state] || "cancelled";
  return h("span", { class: `badge badge--${look}`, dataset: { state }, title: t(`batch.statehelp.${state}`) },
    t(`batch.state.${state}`));
}

/**
 * Counts by job state as small chips ("12 queued · 3 dead"), the zero ones left out; each
 * links to `hrefOf(state)` when given.
 */
export function countChips(counts, { states = STATES, hrefOf } = {}) {
  const shown = states.filter((s) => counts && counts[s]);
  if (!shown.length) return h("span", { class: "muted" }, t("none"));
  return h("span", { class: "counts" }, shown.map((s) => {
    const text = [h("span", { class: "counts__n tabular" }, formatNumber(counts[s])), " ", t(`state.${s}`)];
    const attrs = { class: `counts__item counts__item--${s}`, dataset: { count: s } };
    return hrefOf ? h("a", { ...attrs, href: hrefOf(s) }, text) : h("span", attrs, text);
  }));
}

/** "Load more" under a list read in cursor pages; `load()` adds the next page. */
export function moreButton(load) {
  const btn = h("button", { type: "button", class: "btn", dataset: { action: "load-more" } }, t("list.more"));
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    btn.classList.add("is-busy");
    try { await load(); } finally {
      btn.disabled = false;
      btn.classList.remove("is-busy");
    }
  });
  return btn;
}

/** A card with a title (and something beside it, such as a button), around `body`. */
export function section(title, body, { name, tools } = {}) {
  return h("section", { class: "card", dataset: name ? { section: name } : null },
    h("div", { class: "card__head" }, h("h2", { class: "card__title" }, title), tools || null),
    body);
}
