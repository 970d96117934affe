// Queues: how much waits, runs and failed in each, their limits, Pause / Resume, and Edit (the
// limits: concurrency, rate, depth). Follows the tenant's job changes live; the counts link to
// the jobs list filtered on them.
//
// PUT /v1/queues/{name} replaces every setting, so Edit sends back the ones it does not show
// (attempts, retention, retry) as the list gave them. The server owns the limits' ranges: the
// dialog only checks that a field holds a number and shows the server's refusal as it is.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import { actionButton, emptyState, errorBanner, fill, h, loading, readOnlyNote, toast } from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { confirmDialog } from "../modal.js";

const COUNTS = ["queued", "running", "scheduled", "failed", "dead"];
/** The settings the dialog edits: [field, integer?]. */
const LIMITS = [["concurrency", true], ["rate_limit", false], ["max_depth", true]];
/** The settings it keeps as they are. */
const KEPT = ["max_attempts", "retention_succeeded_s", "retention_dead_s", "retry"];

export function mount(ctx) {
  document.title = `${t("queues.title")} · tarea`;
  const session = currentSession();
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const banner = h("div", { class: "banner-slot" });
  const body = h("div", { class: "table-wrap" }, loading());
  let last = "";

  async function load() {
    try {
      const data = await api.queues(tenant);
      fill(banner);
      draw(data.queues);
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: load }));
      if (body.querySelector(".loading")) fill(body);
    }
  }

  function draw(queues) {
    const key = JSON.stringify(queues);
    if (key === last) return;
    last = key;
    if (!queues.length) {
      fill(body, emptyState(t("queues.empty"), t("queues.emptyHelp")));
      return;
    }
    const num = (label) => h("th", { scope: "col", class: "col-num" }, label);
    fill(body, h("table", { class: "table table--queues" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("queues.name")),
        h("th", { scope: "col" }, t("queues.status")),
        num(t("queues.concurrency")), num(t("queues.rate")), num(t("queues.depth")),
        COUNTS.map((s) => num(t(`state.${s}`))),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("queues.actions"))))),
      h("tbody", {}, queues.map(row))));
  }

  function row(q) {
    const count = (state) => {
      const n = (q.counts && q.counts[state]) || 0;
      const text = formatNumber(n);
      const label = t("queues.showJobs", { state: t(`state.${state}`), name: q.name });
      return h("td", { class: "col-num tabular", dataset: { label: t(`state.${state}`), count: state } },
        n ? h("a", { class: `count count--${state}`, href: withQuery("/ui/jobs", { queue: q.name, state, tenant: tenantParam(tenant) }), "aria-label": label, title: label }, text)
          : h("span", { class: "muted" }, text));
    };
    const limit = (field, label, value) => h("td", { class: "col-num tabular", dataset: { label, setting: field } },
      value === null || value === undefined ? h("span", { class: "muted" }, t("queues.unlimited")) : value);
    const paused = q.paused;
    return h("tr", { dataset: { queue: q.name, paused: String(paused) } },
      h("th", { scope: "row", dataset: { label: t("queues.name") } },
        h("a", { class: "mono", href: withQuery("/ui/jobs", { queue: q.name, tenant: tenantParam(tenant) }) }, q.name)),
      h("td", { dataset: { label: t("queues.status") } },
        h("span", { class: paused ? "badge badge--paused" : "badge badge--active", dataset: { testid: "queue-status" } },
          t(paused ? "queues.paused" : "queues.active"))),
      limit("concurrency", t("queues.concurrency"), q.concurrency ? formatNumber(q.concurrency) : null),
      limit("rate_limit", t("queues.rate"), q.rate_limit ? t("queues.rateValue", { n: formatNumber(q.rate_limit) }) : null),
      limit("max_depth", t("queues.depth"), q.max_depth ? formatNumber(q.max_depth) : null),
      COUNTS.map(count),
      h("td", { class: "col-action" }, h("div", { class: "row-actions" },
        actionButton(t("queues.edit"), {
          name: "edit", readOnly: session.read_only, plain: true, onclick: (e) => edit(q, e.currentTarget),
        }),
        actionButton(t(paused ? "queues.resume" : "queues.pause"), {
          name: paused ? "resume" : "pause", readOnly: session.read_only, plain: true, onclick: () => toggle(q),
        }))));
  }

  async function toggle(q) {
    const pausing = !q.paused;
    const done = await confirmDialog({
      title: t(pausing ? "queues.pauseTitle" : "queues.resumeTitle", { name: q.name }),
      body: t(pausing ? "queues.pauseBody" : "queues.resumeBody"),
      confirmLabel: t(pausing ? "queues.pause" : "queues.resume"),
      danger: false,
      action: () => (pausing ? api.pause(q.name, tenant) : api.resume(q.name, tenant)),
    });
    if (!done) return;
    toast(t(pausing ? "queues.paused.toast" : "queues.resumed.toast", { name: q.name }));
    await load();
  }

  async function edit(q, opener) {
    const inputs = {};
    const fields = LIMITS.map(([field, integer]) => {
      const id = `q-${field.replace("_", "-")}`;
      const value = q[field] === null || q[field] === undefined ? "" : String(q[field]);
      inputs[field] = h("input", {
        id, name: field, class: "input input--mono", value, autocomplete: "off", spellcheck: "false",
        inputmode: integer ? "numeric" : "decimal", placeholder: t("queues.unlimited"),
        "aria-describedby": `${id}-help`,
      });
      return h("div", { class: "form-field" },
        h("label", { class: "label", for: id }, t(`queues.edit.${field}`)),
        inputs[field],
        h("p", { class: "form-field__help", id: `${id}-help` }, t(`queues.edit.${field}.help`)));
    });
    const saved = await confirmDialog({
      title: t("queues.editTitle", { name: q.name }),
      body: t("queues.editBody"),
      content: h("div", { class: "form-grid" }, fields),
      confirmLabel: t("queues.save"),
      opener,
      action: async () => {
        for (const el of Object.values(inputs)) el.removeAttribute("aria-invalid");
        const settings = {};
        for (const k of KEPT) if (q[k] !== null && q[k] !== undefined) settings[k] = q[k];
        for (const [field, integer] of LIMITS) {
          const raw = inputs[field].value.trim().replace(",", ".");
          if (!raw) continue;
          const n = Number(raw);
          if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
            invalid(inputs[field]);
            throw new Error(t(integer ? "queues.edit.notWhole" : "queues.edit.notNumber", { field: t(`queues.edit.${field}`) }));
          }
          settings[field] = n;
        }
        try {
          return await api.queueUpdate(q.name, settings, tenant);
        } catch (err) {
          const field = err.details && err.details.field;
          if (inputs[field]) invalid(inputs[field]);
          throw err;
        }
      },
    });
    if (!saved) return;
    toast(t("queues.saved", { name: q.name }));
    await load();
  }

  const live = ctx.live(load, { tenant, fallbackMs: 4000 });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("queues.title")),
      live.hint()),
    session.read_only ? readOnlyNote() : null,
    banner, body));
  load();
  return {};
}

function invalid(input) {
  input.setAttribute("aria-invalid", "true");
  input.focus();
}
