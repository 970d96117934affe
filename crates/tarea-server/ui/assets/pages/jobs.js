// The jobs list: filters and the page cursor live in the URL (a link can be shared, reload keeps
// them), the rows are read again whenever the tenant's jobs change (the live stream; every few
// seconds while it is down), and only the rows are redrawn so the filters keep focus and the
// page keeps its scroll.
//
// Bulk actions: a checkbox per row (kept across refreshes while the row is shown) and a bar
// that retries, cancels or deletes the selected jobs; "Act on all matching…" does the same to
// every job the URL's filters match. Each first asks the server for a dry run, so the dialog
// says exactly how many jobs it will touch, and only then acts (POST /v1/jobs/actions).
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import {
  actionButton, emptyState, errorBanner, fill, h, loading, progressBar, readOnlyNote, shortId, STATES,
  stateBadge, timeEl, toast,
} from "../dom.js";
import { formatNumber, t, tn } from "../i18n.js";
import { confirmDialog } from "../modal.js";

const FILTERS = ["search", "state", "queue", "kind", "tag", "since", "batch", "tenant"];
/** The tenant filter's value for every tenant's jobs (admins). */
const ALL_TENANTS = "*";
/** "Created in the last…": the URL keeps the span, so a shared link stays rolling. */
const SINCE = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
/** How often the rows are read again while the live stream is down. */
const REFRESH_MS = 4000;
/** The live stream names at most this many queues in a message (past it, any may have changed). */
const LIVE_QUEUES_MAX = 100;
const ACTIONS = ["retry", "cancel", "delete"];
/** What the action route takes of the filters (not the tenant, which goes in the query). */
const ACTION_FILTERS = ["search", "state", "queue", "kind", "tag", "batch"];
/** Most jobs one bulk action by filter takes (the server's limit; `more` says when there are more). */
const MAX_MATCHED = 100000;

function createdAfter(since) {
  return new Date(Date.now() - SINCE[since]).toISOString();
}

/** The query of GET /v1/jobs for the URL's filters. */
function apiFilters(f) {
  const q = { ...f };
  delete q.since;
  if (SINCE[f.since]) q.created_after = createdAfter(f.since);
  if (f.tenant === ALL_TENANTS) {
    delete q.tenant;
    q.all_tenants = "true";
  }
  return q;
}

/** Whose changes the list follows: the tenant shown, or every tenant's. */
function scopeOf(f) {
  return f.tenant === ALL_TENANTS ? { allTenants: true } : { tenant: f.tenant };
}

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
  let loadSeq = 0;
  const readOnly = !!session.read_only;
  /** The ids of the selected jobs: only ever ones whose rows are on screen. */
  const selected = new Set();
  let acting = false;

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
    ? h("select", { id: "f-tenant", name: "tenant", class: "input" }, h("option", { value: "" }, session.tenant),
      h("option", { value: ALL_TENANTS }, t("jobs.allTenants")))
    : null;
  const searchIn = h("input", {
    id: "f-search", name: "search", type: "search", class: "input", placeholder: t("jobs.searchPh"),
    autocomplete: "off", spellcheck: "false", maxlength: "200",
  });
  const sinceSel = h("select", { id: "f-since", name: "since", class: "input" },
    h("option", { value: "" }, t("jobs.anyTime")),
    Object.keys(SINCE).map((k) => h("option", { value: k }, t(`jobs.since.${k}`))));
  const clearBtn = h("button", { type: "button", class: "btn btn--ghost", dataset: { action: "clear" } }, t("jobs.clear"));
  const batchChip = h("div", { class: "chips" });
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { class: "label", for: id }, label), control);
  const form = h("form", { class: "filters", id: "filters", role: "search", "aria-label": t("jobs.filters") },
    field("f-search", t("jobs.search"), searchIn),
    tenantSel ? field("f-tenant", t("jobs.tenant"), tenantSel) : null,
    field("f-state", t("jobs.state"), stateSel),
    field("f-queue", t("jobs.queue"), queueSel),
    field("f-kind", t("jobs.kind"), kindIn),
    field("f-tag", t("jobs.tag"), tagIn),
    field("f-since", t("jobs.created"), sinceSel),
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
    searchIn.value = filters.search || "";
    sinceSel.value = SINCE[filters.since] ? filters.since : "";
    if (tenantSel) {
      ensureOption(tenantSel, filters.tenant);
      tenantSel.value = filters.tenant || "";
    }
    clearBtn.hidden = !FILTERS.some((k) => filters[k]);
    fill(batchChip, filters.batch
      ? h("span", { class: "chip" }, `${t("jobs.batch")}: `,
        h("a", { class: "mono", href: withQuery(`/ui/batches/${filters.batch}`, { tenant: tenantParam(filters.tenant === ALL_TENANTS ? undefined : filters.tenant) }), title: filters.batch }, shortId(filters.batch)),
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
      live.setScope(scopeOf(filters));
    }
    history.pushState(null, "", withQuery("/ui/jobs", filters));
    lastRows = "";
    showFilters();
    load();
  }

  const fromForm = () => {
    const next = {
      search: searchIn.value.trim(), state: stateSel.value, queue: queueSel.value, kind: kindIn.value.trim(),
      tag: tagIn.value.trim(), since: sinceSel.value,
    };
    if (tenantSel) next.tenant = tenantSel.value;
    if (filters.batch) next.batch = filters.batch;
    return next;
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply(fromForm());
  });
  for (const sel of [stateSel, queueSel, sinceSel, tenantSel]) sel?.addEventListener("change", () => apply(fromForm()));
  clearBtn.addEventListener("click", () => apply({}));

  async function load() {
    try { sessionStorage.setItem("tarea.lastList", location.pathname + location.search); } catch { /* off */ }
    const shown = { ...filters, limit: 50 };
    const query = apiFilters(shown);
    // A refresh that answers after a newer one (a click while the timer's was on its way) is dropped.
    const seq = ++loadSeq;
    try {
      const data = await api.jobs(query);
      if (seq !== loadSeq) return;
      fill(banner);
      drawRows(data, shown);
    } catch (err) {
      if (err.status === 401 || seq !== loadSeq) return;
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
    // The selection keeps the ids still on screen.
    const ids = new Set(data.jobs.map((j) => j.id));
    for (const id of selected) if (!ids.has(id)) selected.delete(id);
    // Bulk actions act in one tenant: not on a list of every tenant's jobs.
    const everyTenant = shown.tenant === ALL_TENANTS;
    allMenu.hidden = !data.jobs.length || everyTenant;
    if (!data.jobs.length) {
      const filtered = FILTERS.some((k) => shown[k]) || shown.cursor;
      fill(body, filtered
        ? emptyState(t("jobs.emptyFiltered"), t("jobs.emptyFilteredHelp"))
        : emptyState(t("jobs.empty"), t("jobs.emptyHelp")));
    } else {
      // Focus on a checkbox or link of the table stays on the same one in the new rows.
      const refocus = focusKey(body);
      fill(body, table(data.jobs, { admin: session.admin, selected, readOnly, selectable: !everyTenant }));
      if (refocus) body.querySelector(refocus)?.focus({ preventScroll: true });
    }
    showSelection();
    fill(status, data.jobs.length ? t("jobs.count", { n: data.jobs.length }) : "");
    fill(pager,
      shown.cursor ? h("button", { type: "button", class: "btn", dataset: { action: "first-page" }, onclick: () => apply({ ...filters, cursor: undefined }) }, t("jobs.first")) : null,
      data.next_cursor ? h("button", { type: "button", class: "btn", dataset: { action: "next-page" }, onclick: () => apply({ ...filters, cursor: data.next_cursor }) }, t("jobs.next")) : null);
  }

  // Selection: one listener for every checkbox of the table, which is redrawn on refreshes.
  body.addEventListener("change", (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox" || readOnly) return;
    if (box.id === "select-all") {
      for (const el of body.querySelectorAll("input[data-select]")) {
        if (box.checked) selected.add(el.dataset.select);
        else selected.delete(el.dataset.select);
      }
    } else if (box.dataset.select) {
      if (box.checked) selected.add(box.dataset.select);
      else selected.delete(box.dataset.select);
    }
    showSelection();
  });

  const barCount = h("span", { class: "bulk-bar__count", dataset: { testid: "selected-count" }, "aria-live": "polite" });
  const bar = h("div", { class: "bulk-bar", role: "region", "aria-label": t("bulk.bar"), hidden: true },
    h("div", { class: "bulk-bar__info" },
      barCount,
      h("button", {
        type: "button", class: "btn btn--ghost btn--small", dataset: { action: "bulk-clear" },
        onclick: () => { selected.clear(); showSelection(); },
      }, t("bulk.clear"))),
    h("div", { class: "bulk-bar__actions" }, ACTIONS.map((action) => actionButton(t(`bulk.verb.${action}`), {
      name: `bulk-${action}`, readOnly, small: true, plain: action !== "delete", danger: action === "delete",
      onclick: (e) => bulk(action, { ids: [...selected] }, e.currentTarget),
    }))));

  /** Ticks the checkboxes from the selection, and shows or hides the bar. */
  function showSelection() {
    const boxes = [...body.querySelectorAll("input[data-select]")];
    for (const box of boxes) {
      box.checked = selected.has(box.dataset.select);
      box.closest("tr")?.classList.toggle("is-selected", box.checked);
    }
    const all = body.querySelector("#select-all");
    if (all) {
      const n = boxes.filter((b) => b.checked).length;
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    bar.hidden = !selected.size;
    barCount.textContent = selected.size ? tn("bulk.selected", selected.size) : "";
  }

  // "Act on all matching…": a menu of the three actions on the URL's filters.
  const allToggle = h("summary", { class: "btn btn--small menu__toggle", dataset: { action: "bulk-all" } }, t("bulk.allMatching"));
  const allDetails = h("details", { class: "menu" }, allToggle,
    h("div", { class: "menu__list" }, ACTIONS.map((action) => h("button", {
      type: "button", class: action === "delete" ? "menu__item menu__item--danger" : "menu__item",
      dataset: { action: `all-${action}` },
      onclick: () => {
        allDetails.open = false;
        allToggle.focus();
        bulk(action, { filter: actionFilter() }, allToggle);
      },
    }, t(`bulk.all.${action}`)))));
  allDetails.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !allDetails.open) return;
    e.preventDefault();
    allDetails.open = false;
    allToggle.focus();
  });
  const closeMenu = (e) => {
    if (allDetails.open && !allDetails.contains(e.target)) allDetails.open = false;
  };
  document.addEventListener("click", closeMenu);
  ctx.onLeave(() => document.removeEventListener("click", closeMenu));
  const allMenu = h("div", { class: "bulk-all", hidden: true }, readOnly
    ? actionButton(t("bulk.allMatching"), { name: "bulk-all", readOnly, plain: true })
    : allDetails);

  function actionFilter() {
    const f = {};
    for (const k of ACTION_FILTERS) if (filters[k]) f[k] = filters[k];
    if (SINCE[filters.since]) f.created_after = createdAfter(filters.since);
    return f;
  }

  /**
   * Counts with a dry run, says how many jobs the action will touch and asks; on yes, acts,
   * says what was done, clears the selection and reloads the rows.
   */
  async function bulk(action, target, opener) {
    if (acting || readOnly) return;
    acting = true;
    opener?.setAttribute("aria-busy", "true");
    const tenant = filters.tenant;
    let dry;
    try {
      dry = await api.bulk({ action, ...target, dry_run: true }, tenant);
    } catch (err) {
      if (err.status !== 401) {
        await confirmDialog({
          title: t("bulk.errorTitle"), opener,
          body: [err.message, err.code ? " " : null, err.code ? h("code", { class: "banner__code" }, err.code) : null],
        });
      }
      return;
    } finally {
      acting = false;
      opener?.removeAttribute("aria-busy");
    }
    const can = t(`bulk.can.${action}`);
    // By ids, by a filter, or (no filter at all) every job of the tenant.
    const scope = target.ids ? "Ids" : Object.keys(target.filter).length ? "Filter" : "All";
    const note = dry.more ? t("bulk.more", { max: formatNumber(MAX_MATCHED) }) : null;
    if (!dry.applicable) {
      const body = dry.matched
        ? tn(`bulk.none${scope}`, dry.matched, { can })
        : t(scope === "Ids" ? "bulk.gone" : scope === "Filter" ? "bulk.noMatch" : "bulk.noJobs");
      await confirmDialog({ title: t(`bulk.none.${action}`), body, note, opener });
      return;
    }
    // "40 match the filter; 3 of them are not in a state that can be cancelled." By ids, only
    // when some of them cannot be: the person has just ticked them.
    const rest = dry.matched - dry.applicable;
    const matched = tn(`bulk.match${scope}`, dry.matched);
    const first = rest ? `${matched}; ${tn("bulk.notApplicable", rest, { can })}.` : scope !== "Ids" ? `${matched}.` : null;
    const done = await confirmDialog({
      title: tn(`bulk.title.${action}`, dry.applicable),
      body: [first, t(`bulk.effect.${action}`)].filter(Boolean).join(" "),
      note,
      confirmLabel: tn(`bulk.confirm.${action}`, dry.applicable),
      danger: action !== "retry",
      opener,
      action: () => api.bulk({ action, ...target }, tenant),
    });
    if (!done) return;
    const said = tn(`bulk.done.${action}`, done.changed);
    toast(done.skipped ? `${said} (${tn("bulk.skipped", done.skipped)})` : said);
    selected.clear();
    showSelection();
    lastRows = "";
    load();
  }

  async function loadQueues() {
    try {
      if (filters.tenant === ALL_TENANTS) return;
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

  // A change in another queue than the one filtered on cannot change the rows.
  const live = ctx.live(load, {
    ...scopeOf(filters), fallbackMs: REFRESH_MS,
    filter: (c) => !filters.queue || !Array.isArray(c.queues) || c.queues.length >= LIVE_QUEUES_MAX || c.queues.includes(filters.queue),
  });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("jobs.title")),
      live.hint(),
      h("div", { class: "page__tools" }, allMenu, toggle)),
    readOnly ? readOnlyNote() : null,
    form, batchChip, banner, body, bar,
    h("div", { class: "list-foot" }, status, pager)));
  showFilters();
  load();
  loadQueues();
  if (tenantSel) loadTenants();

  return {
    onUrl(url) {
      filters = filtersOf(url);
      if (!session.admin) delete filters.tenant;
      live.setScope(scopeOf(filters));
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

/** A selector for the checkbox or link of the table that has focus, to find it again in new rows. */
function focusKey(root) {
  const el = document.activeElement;
  if (!el || !root.contains(el)) return null;
  if (el.id === "select-all") return "#select-all";
  const id = el.closest("tr")?.dataset.id;
  if (!id) return null;
  return `tr[data-id="${CSS.escape(id)}"] ${el.matches("input") ? "input[data-select]" : "a"}`;
}

/** A checkbox in a label that is easier to hit than the box itself. */
function checkbox(attrs, readOnly) {
  return h("label", { class: "check", title: readOnly ? t("readonly.tip") : null },
    h("input", {
      type: "checkbox", class: "check__box", disabled: readOnly,
      "aria-describedby": readOnly ? "readonly-note" : null, ...attrs,
    }));
}

function table(jobs, { admin, selected, readOnly, selectable }) {
  const cols = [
    ["jobs.id", "col-id"], admin ? ["jobs.tenant", "col-tenant"] : null, ["jobs.kind", "col-kind"],
    ["jobs.queue", "col-queue"], ["jobs.state", "col-state"], ["jobs.progress", "col-progress"],
    ["jobs.attempts", "col-num"], ["jobs.created", "col-time"], ["jobs.finished", "col-time"],
  ].filter(Boolean);
  return h("table", { class: "table table--jobs" },
    h("thead", {}, h("tr", {},
      selectable ? h("th", { scope: "col", class: "col-select" },
        checkbox({ id: "select-all", "aria-label": t("bulk.selectAll") }, readOnly)) : null,
      cols.map(([k, c]) => h("th", { scope: "col", class: c }, t(k))))),
    h("tbody", {}, jobs.map((job) => row(job, admin, selected.has(job.id), readOnly, selectable))));
}

function row(job, admin, isSelected, readOnly, selectable) {
  const cell = (label, cls, ...content) => h("td", { class: cls, dataset: { label: t(label) } }, ...content);
  const empty = (el) => { el.classList.add("is-empty"); return el; };
  const pct = job.progress && Number.isFinite(job.progress.percent) ? job.progress.percent : null;
  const showBar = pct !== null && !["succeeded", "queued", "scheduled"].includes(job.state);
  return h("tr", { class: isSelected ? "is-selected" : null, dataset: { id: job.id, state: job.state } },
    selectable ? h("td", { class: "col-select" }, checkbox({
      "aria-label": t("bulk.select", { id: shortId(job.id) }), dataset: { select: job.id }, checked: isSelected,
    }, readOnly)) : null,
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
