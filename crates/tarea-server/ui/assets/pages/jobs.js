// The jobs list: filters and the page cursor live in the URL (a link can be shared, reload keeps
// them), the rows refresh every few seconds while the tab is visible, and only the rows are
// redrawn so the filters keep focus and the page keeps its scroll.
import { api, currentSession, withQuery } from "../api.js";
import {
  emptyState, errorBanner, fill, h, loading, progressBar, shortId, STATES, stateBadge, timeEl,
} from "../dom.js";
import { t } from "../i18n.js";

const FILTERS = ["state", "queue", "kind", "tag", "batch", "tenant"];
const REFRESH_MS = 4000;

function filtersOf(url) {
  const f = {};
  for (const k of [...FILTERS, "cursor"]) {
    const v = url.searchParams.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function mount(ctx) {
  document.title = `${t("jobs.title")} · tarea`;
  const session = currentSession();
  let filters = filtersOf(ctx.url);
  // Only an admin acts in another tenant; a tenant key's link with one would only be refused.
  if (!session.admin) delete filters.tenant;
  let lastRows = "";

  const status = h("div", { class: "list-status", "aria-live": "polite" });
  const banner = h("div", { class: "banner-slot" });
  const body = h("div", { class: "table-wrap" }, loading());
  const pager = h("div", { class: "pager" });

  // Filters.
  const stateSel = h("select", { id: "f-state", name: "state", class: "input" },
    h("option", { value: "" }, t("jobs.anyState")),
    STATES.map((s) => h("option", { value: s }, t(`state.${s}`))));
  const queueSel = h("select", { id: "f-queue", name: "queue", class: "input" },
    h("option", { value: "" }, t("jobs.anyQueue")));
  const kindIn = h("input", {
    id: "f-kind", name: "kind", class: "input input--mono", placeholder: t("jobs.kindPh"),
    autocomplete: "off", spellcheck: "false", list: "kinds-seen",
  });
  const kindsSeen = h("datalist", { id: "kinds-seen" });
  const tagIn = h("input", {
    id: "f-tag", name: "tag", class: "input", placeholder: t("jobs.tagPh"), autocomplete: "off",
  });
  const tenantSel = session.admin
    ? h("select", { id: "f-tenant", name: "tenant", class: "input" }, h("option", { value: "" }, session.tenant))
    : null;
  const clearBtn = h("button", { type: "button", class: "btn btn--ghost", dataset: { action: "clear" } }, t("jobs.clear"));
  const batchChip = h("div", { class: "chips" });
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { class: "label", for: id }, label), control);
  const form = h("form", { class: "filters", id: "filters", role: "search", "aria-label": t("jobs.filters") },
    tenantSel ? field("f-tenant", t("jobs.tenant"), tenantSel) : null,
    field("f-state", t("jobs.state"), stateSel),
    field("f-queue", t("jobs.queue"), queueSel),
    field("f-kind", t("jobs.kind"), kindIn),
    field("f-tag", t("jobs.tag"), tagIn),
    kindsSeen,
    h("div", { class: "filters__buttons" },
      h("button", { type: "submit", class: "btn" }, t("jobs.apply")), clearBtn));

  // On a phone the filters fold behind a button that counts the active ones.
  const toggleCount = h("span", { class: "filters-toggle__count" });
  const toggle = h("button", {
    type: "button", class: "btn filters-toggle", "aria-expanded": "false", "aria-controls": "filters",
  }, t("jobs.filters"), toggleCount);
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    form.classList.toggle("is-open", open);
  });

  function showFilters() {
    const active = FILTERS.filter((k) => filters[k]).length;
    toggleCount.textContent = active ? String(active) : "";
    stateSel.value = filters.state || "";
    ensureOption(queueSel, filters.queue);
    queueSel.value = filters.queue || "";
    kindIn.value = filters.kind || "";
    tagIn.value = filters.tag || "";
    if (tenantSel) {
      ensureOption(tenantSel, filters.tenant);
      tenantSel.value = filters.tenant || "";
    }
    clearBtn.hidden = !FILTERS.some((k) => filters[k]);
    fill(batchChip, filters.batch
      ? h("span", { class: "chip" }, `${t("jobs.batch")}: `, h("span", { class: "mono" }, shortId(filters.batch)),
        h("button", { type: "button", class: "chip__remove", "aria-label": t("jobs.clear"),
          onclick: () => apply({ ...filters, batch: undefined, cursor: undefined }) }, "×"))
      : null);
  }

  /** Puts new filters in the URL (a new history entry) and loads the first page of them. */
  function apply(next) {
    const tenantChanged = (next.tenant || "") !== (filters.tenant || "");
    filters = next;
    if (tenantChanged) {
      fill(queueSel, h("option", { value: "" }, t("jobs.anyQueue")));
      loadQueues();
    }
    history.pushState(null, "", withQuery("/ui/jobs", filters));
    lastRows = "";
    showFilters();
    load();
  }

  const fromForm = () => {
    const next = { state: stateSel.value, queue: queueSel.value, kind: kindIn.value.trim(), tag: tagIn.value.trim() };
    if (tenantSel) next.tenant = tenantSel.value;
    if (filters.batch) next.batch = filters.batch;
    return next;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply(fromForm());
  });
  for (const sel of [stateSel, queueSel, tenantSel]) sel?.addEventListener("change", () => apply(fromForm()));
  clearBtn.addEventListener("click", () => apply({}));

  async function load() {
    try { sessionStorage.setItem("tarea.lastList", location.pathname + location.search); } catch { /* off */ }
    const shown = { ...filters, limit: 50 };
    try {
      const data = await api.jobs(shown);
      fill(banner);
      drawRows(data, shown);
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: load }));
      if (body.querySelector(".loading")) fill(body);
    }
  }

  function drawRows(data, shown) {
    const key = JSON.stringify([data, shown]);
    if (key === lastRows) {
      return;
    }
    lastRows = key;
    const kinds = new Set(data.jobs.map((j) => j.kind));
    fill(kindsSeen, [...kinds].sort().map((k) => h("option", { value: k })));
    if (!data.jobs.length) {
      const filtered = FILTERS.some((k) => shown[k]) || shown.cursor;
      fill(body, filtered
        ? emptyState(t("jobs.emptyFiltered"), t("jobs.emptyFilteredHelp"))
        : emptyState(t("jobs.empty"), t("jobs.emptyHelp")));
    } else {
      fill(body, table(data.jobs, session.admin));
    }
    fill(status, data.jobs.length ? t("jobs.count", { n: data.jobs.length }) : "");
    fill(pager,
      shown.cursor ? h("button", { type: "button", class: "btn", dataset: { action: "first-page" }, onclick: () => apply({ ...filters, cursor: undefined }) }, t("jobs.first")) : null,
      data.next_cursor ? h("button", { type: "button", class: "btn", dataset: { action: "next-page" }, onclick: () => apply({ ...filters, cursor: data.next_cursor }) }, t("jobs.next")) : null);
  }

  async function loadQueues() {
    try {
      const data = await api.queues(filters.tenant);
      for (const q of data.queues) ensureOption(queueSel, q.name);
      queueSel.value = filters.queue || "";
    } catch { /* the list still works without the names */ }
  }

  async function loadTenants() {
    try {
      const data = await api.tenants();
      for (const name of data.tenants) if (name !== session.tenant) ensureOption(tenantSel, name);
      tenantSel.value = filters.tenant || "";
    } catch { /* the tenant list is a convenience: the current tenant stays selectable */ }
  }

  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("jobs.title")),
      h("span", { class: "live-hint" }, h("span", { class: "live-dot", "aria-hidden": "true" }), t("jobs.live")),
      toggle),
    form, batchChip, banner, body,
    h("div", { class: "list-foot" }, status, pager)));
  showFilters();
  load();
  loadQueues();
  if (tenantSel) loadTenants();
  ctx.poll(load, REFRESH_MS);

  return {
    onUrl(url) {
      filters = filtersOf(url);
      lastRows = "";
      showFilters();
      load();
    },
  };
}

function ensureOption(select, value) {
  if (!value || [...select.options].some((o) => o.value === value)) return;
  select.append(h("option", { value }, value));
}

function jobHref(job) {
  const s = currentSession();
  return s && s.admin && job.tenant !== s.tenant
    ? withQuery(`/ui/jobs/${job.id}`, { tenant: job.tenant })
    : `/ui/jobs/${job.id}`;
}

function table(jobs, admin) {
  const cols = [
    ["jobs.id", "col-id"], admin ? ["jobs.tenant", "col-tenant"] : null, ["jobs.kind", "col-kind"],
    ["jobs.queue", "col-queue"], ["jobs.state", "col-state"], ["jobs.progress", "col-progress"],
    ["jobs.attempts", "col-num"], ["jobs.created", "col-time"], ["jobs.finished", "col-time"],
  ].filter(Boolean);
  return h("table", { class: "table table--jobs" },
    h("thead", {}, h("tr", {}, cols.map(([k, c]) => h("th", { scope: "col", class: c }, t(k))))),
    h("tbody", {}, jobs.map((job) => row(job, admin))));
}

function row(job, admin) {
  const cell = (label, cls, ...content) => h("td", { class: cls, dataset: { label: t(label) } }, ...content);
  const empty = (el) => { el.classList.add("is-empty"); return el; };
  const pct = job.progress && Number.isFinite(job.progress.percent) ? job.progress.percent : null;
  const showBar = pct !== null && !["succeeded", "queued", "scheduled"].includes(job.state);
  return h("tr", { dataset: { id: job.id, state: job.state } },
    h("th", { scope: "row", class: "col-id", dataset: { label: t("jobs.id") } },
      h("a", { class: "mono id-link", href: jobHref(job), title: job.id }, shortId(job.id))),
    admin ? cell("jobs.tenant", "col-tenant", job.tenant) : null,
    cell("jobs.kind", "col-kind", h("span", { class: "mono" }, job.kind)),
    cell("jobs.queue", "col-queue", job.queue),
    cell("jobs.state", "col-state", stateBadge(job.state)),
    showBar
      ? cell("jobs.progress", "col-progress", h("div", { class: "progress-cell" }, progressBar(job.progress, { small: true }), h("span", { class: "progress-cell__pct" }, `${Math.round(pct)}%`)))
      : empty(cell("jobs.progress", "col-progress", h("span", { class: "muted" }, t("none")))),
    cell("jobs.attempts", "col-num", h("span", { class: "tabular" }, `${job.attempt}/${job.max_attempts}`)),
    cell("jobs.created", "col-time", timeEl(job.created_at)),
    job.finished_at ? cell("jobs.finished", "col-time", timeEl(job.finished_at)) : empty(cell("jobs.finished", "col-time", timeEl(null))));
}
