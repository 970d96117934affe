// Queues: how much waits, runs and failed in each, and Pause / Resume. Refreshes every few
// seconds while the tab is visible; the counts link to the jobs list filtered on them.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import { actionButton, emptyState, errorBanner, fill, h, loading, readOnlyNote, toast } from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { confirmDialog } from "../modal.js";

const REFRESH_MS = 4000;
const COUNTS = ["queued", "running", "scheduled", "failed", "dead"];

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
    fill(body, h("table", { class: "table table--queues" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("queues.name")),
        h("th", { scope: "col" }, t("queues.status")),
        h("th", { scope: "col", class: "col-num" }, t("queues.concurrency")),
        COUNTS.map((s) => h("th", { scope: "col", class: "col-num" }, t(`state.${s}`))),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("queues.pause"))))),
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
    const paused = q.paused;
    return h("tr", { dataset: { queue: q.name, paused: String(paused) } },
      h("th", { scope: "row", dataset: { label: t("queues.name") } },
        h("a", { class: "mono", href: withQuery("/ui/jobs", { queue: q.name, tenant: tenantParam(tenant) }) }, q.name)),
      h("td", { dataset: { label: t("queues.status") } },
        h("span", { class: paused ? "badge badge--paused" : "badge badge--active", dataset: { testid: "queue-status" } },
          t(paused ? "queues.paused" : "queues.active"))),
      h("td", { class: "col-num tabular", dataset: { label: t("queues.concurrency") } },
        q.concurrency ? formatNumber(q.concurrency) : h("span", { class: "muted" }, t("queues.unlimited"))),
      COUNTS.map(count),
      h("td", { class: "col-action" }, actionButton(t(paused ? "queues.resume" : "queues.pause"), {
        name: paused ? "resume" : "pause", readOnly: session.read_only, plain: true,
        onclick: () => toggle(q),
      })));
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

  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("queues.title")),
      h("span", { class: "live-hint" }, h("span", { class: "live-dot", "aria-hidden": "true" }), t("jobs.live"))),
    session.read_only ? readOnlyNote() : null,
    banner, body));
  load();
  ctx.poll(load, REFRESH_MS);
  return {};
}
