// One batch: its progress, its items counted by state (each count opens the jobs list on
// those items, GET /v1/jobs?batch=), the job made when it ends, and Retry failed / Cancel,
// each saying first how many items it touches. Follows the tenant's job changes live.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import {
  actionButton, batchBadge, copyButton, emptyState, errorBanner, fill, h, loading, progressBar, readOnlyNote,
  shortId, STATES, timeEl, toast, updateProgress,
} from "../dom.js";
import { formatNumber, t, tn } from "../i18n.js";
import { confirmDialog } from "../modal.js";

/** What each action touches, as the server does it (batch_retry_failed, batch_cancel). */
const RETRIED = ["failed", "dead", "cancelled"];
const CANCELLED = ["scheduled", "queued", "running", "failed"];
/** Tones of the count tiles. */
const TONE = { running: "blue", succeeded: "green", failed: "amber", dead: "red" };

/** Dead items shown with their errors. */
const FAILURES_SHOWN = 5;

const sum = (counts, states) => states.reduce((n, s) => n + ((counts && counts[s]) || 0), 0);

export function mount(ctx) {
  const id = ctx.params[0];
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const session = currentSession();
  document.title = `${t("batch.title")} ${shortId(id)} · tarea`;
  const banner = h("div", { class: "banner-slot" });
  const badge = h("span", { class: "slot" });
  const actions = h("div", { class: "job-head__actions" });
  const bar = progressBar(null, { label: t("batches.progress") });
  const pct = h("span", { class: "progress-card__pct tabular", dataset: { testid: "percent" } });
  const done = h("span", { class: "progress-card__step" });
  const tiles = h("div", { class: "tiles tiles--counts" });
  const facts = h("div", { class: "slot" });
  const failures = h("div", { class: "slot" });
  const items = (state) => withQuery("/ui/jobs", { batch: id, state, tenant: tenantParam(tenant) });
  const live = ctx.live(load, { tenant, fallbackMs: 4000 });
  const content = h("div", { class: "content", hidden: true },
    h("header", { class: "job-head" },
      h("div", { class: "job-head__main" },
        h("div", { class: "job-head__title" }, h("h1", { class: "job-head__kind job-head__kind--plain" }, t("batch.title")), badge),
        h("div", { class: "job-head__meta" },
          h("code", { class: "mono job-head__id", dataset: { testid: "batch-id" } }, id), copyButton(id),
          h("span", { class: "dot-sep", "aria-hidden": "true" }, "·"), live.hint())),
      actions),
    session.read_only ? readOnlyNote() : null,
    h("section", { class: "card progress-card", "aria-labelledby": "progress-h" },
      h("div", { class: "progress-card__head" }, h("h2", { class: "card__title", id: "progress-h" }, t("batches.progress")), pct),
      bar,
      h("div", { class: "progress-card__foot" }, done,
        h("a", { href: items(), dataset: { testid: "all-items" } }, t("batch.allItems")))),
    tiles, failures, facts);
  const page = h("div", { class: "page" },
    h("nav", { class: "crumbs", "aria-label": t("batch.back") },
      h("a", { href: withQuery("/ui/batches", { tenant: tenantParam(tenant) }), class: "crumbs__back" }, "← ", t("batch.back"))),
    banner, content, loading());
  fill(ctx.root, page);

  let batch = null;
  let drawn = "";
  async function load() {
    try {
      show(await api.batch(id, tenant));
      fill(banner);
    } catch (err) {
      if (err.status === 401) return;
      page.querySelector(".loading")?.remove();
      if (err.status === 404) {
        content.hidden = true;
        fill(banner, emptyState(t("batch.notFound"), h("a", { href: "/ui/batches" }, t("batch.back"))));
        return;
      }
      fill(banner, errorBanner(err, { retry: load }));
    }
  }

  function show(b) {
    batch = b;
    page.querySelector(".loading")?.remove();
    content.hidden = false;
    const key = JSON.stringify([b, session.read_only]);
    if (key === drawn) return;
    drawn = key;
    fill(badge, batchBadge(b.state));
    const p = b.progress || { percent: 0, current: 0, total: b.total };
    updateProgress(bar, p);
    bar.classList.toggle("progress--done", b.state === "succeeded");
    bar.classList.toggle("progress--stopped", b.state === "failed");
    bar.classList.toggle("progress--active", b.state === "running" && b.counts.running > 0);
    pct.textContent = `${Math.floor(p.percent)}%`;
    done.textContent = t("batch.ended", { done: formatNumber(p.current), total: formatNumber(b.total) });
    fill(tiles, STATES.map((s) => tile(s, b.counts[s] || 0)));
    fill(facts, h("section", { class: "card", dataset: { section: "details" } },
      h("h2", { class: "card__title" }, t("job.details")),
      h("dl", { class: "dl dl--wide" },
        h("dt", {}, t("batch.total")), h("dd", { class: "tabular" }, formatNumber(b.total)),
        h("dt", {}, t("batch.then")), h("dd", {}, onComplete(b)),
        h("dt", {}, t("batches.created")), h("dd", {}, timeEl(b.created_at)),
        h("dt", {}, t("batches.finished")), h("dd", {}, b.finished_at ? timeEl(b.finished_at) : t("batches.notYet")))));
    fill(actions, buttons(b));
    loadFailures(b);
  }

  // The first few dead items with their errors, read again when the count of dead ones moves.
  let failuresKey = null;
  async function loadFailures(b) {
    const key = `${b.counts.dead}/${b.counts.succeeded}`;
    if (key === failuresKey) return;
    failuresKey = key;
    if (!b.counts.dead) return fill(failures);
    try {
      const { jobs } = await api.jobs({ batch: id, state: "dead", limit: FAILURES_SHOWN, tenant: tenantParam(tenant) });
      if (failuresKey === key) fill(failures, failureCard(jobs, b.counts.dead));
    } catch {
      failuresKey = null;
    }
  }

  function failureCard(jobs, dead) {
    const href = (job) => withQuery(`/ui/jobs/${job.id}`, { tenant: tenantParam(tenant) });
    return h("section", { class: "card card--failures", dataset: { section: "failures" } },
      h("div", { class: "card__head" },
        h("h2", { class: "card__title" }, t("batch.failures")),
        h("a", { href: items("dead"), class: "small" }, tn("batch.allDead", dead))),
      h("ul", { class: "failure-list" }, jobs.map((job) => h("li", { class: "failure-list__item", dataset: { job: job.id } },
        h("a", { class: "mono small", href: href(job), title: job.id }, shortId(job.id)),
        job.error ? h("code", { class: "error-code" }, job.error.code) : null,
        h("span", { class: "failure-list__message" }, job.error ? job.error.message : t("none"))))));
  }

  function tile(state, n) {
    const tone = n && TONE[state] ? ` tile--${TONE[state]}` : "";
    const attrs = { class: `tile tile--small${tone}${n ? "" : " tile--zero"}`, dataset: { tile: state } };
    const inner = [
      h("span", { class: "tile__label" }, t(`state.${state}`)),
      h("strong", { class: "tile__value tabular", dataset: { count: state } }, formatNumber(n)),
    ];
    return n ? h("a", { ...attrs, href: items(state), title: t("batch.showItems", { state: t(`state.${state}`) }) }, inner)
      : h("div", attrs, inner);
  }

  function onComplete(b) {
    if (!b.on_complete) return h("span", { class: "muted" }, t("batch.noThen"));
    return h("span", {}, h("span", { class: "mono" }, b.on_complete), " ",
      b.on_complete_job_id
        ? h("a", { class: "mono small", href: withQuery(`/ui/jobs/${b.on_complete_job_id}`, { tenant: tenantParam(tenant) }), title: b.on_complete_job_id }, shortId(b.on_complete_job_id))
        : h("span", { class: "muted small" }, t("batch.thenLater")));
  }

  function buttons(b) {
    const ro = session.read_only;
    const retry = sum(b.counts, RETRIED);
    const cancel = sum(b.counts, CANCELLED);
    return [
      retry ? actionButton(t("batch.retry"), { name: "retry", readOnly: ro, onclick: (e) => act("retry", retry, e.currentTarget) }) : null,
      cancel ? actionButton(t("batch.cancel"), { name: "cancel", readOnly: ro, danger: true, onclick: (e) => act("cancel", cancel, e.currentTarget) }) : null,
    ];
  }

  async function act(action, n, opener) {
    const retry = action === "retry";
    const view = await confirmDialog({
      title: tn(retry ? "batch.retryTitle" : "batch.cancelTitle", n),
      body: t(retry ? "batch.retryBody" : "batch.cancelBody"),
      note: batch.on_complete ? t(retry ? "batch.retryThen" : "batch.cancelThen", { kind: batch.on_complete }) : null,
      confirmLabel: tn(retry ? "batch.retryConfirm" : "batch.cancelConfirm", n),
      danger: !retry,
      opener,
      action: () => (retry ? api.batchRetry(id, tenant) : api.batchCancel(id, tenant)),
    });
    if (!view) return;
    toast(tn(retry ? "batch.retried" : "batch.cancelled", n));
    show(view);
  }

  load();
  return {};
}
