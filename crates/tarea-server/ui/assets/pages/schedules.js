// Schedules: each cron pattern in its time zone, the job it makes, when it runs next (and the
// few runs after, unfolded on demand), how its last run went, and Pause / Resume / Run now.
// A schedule's tick makes a job, so the page follows the tenant's job changes live.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import {
  actionButton, emptyState, errorBanner, fill, h, loading, readOnlyNote, shortId, timeEl, toast,
} from "../dom.js";
import { formatDate, formatNumber, locale, t } from "../i18n.js";
import { confirmDialog } from "../modal.js";

export function mount(ctx) {
  document.title = `${t("schedules.title")} · tarea`;
  const session = currentSession();
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const banner = h("div", { class: "banner-slot" });
  const body = h("div", { class: "table-wrap" }, loading());
  /** The schedules whose next runs are unfolded, kept across refreshes. */
  const open = new Set();
  let last = "";

  async function load() {
    try {
      const data = await api.schedules(tenant);
      fill(banner);
      draw(data.schedules);
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: load }));
      if (body.querySelector(".loading")) fill(body);
    }
  }

  function draw(schedules) {
    const key = JSON.stringify(schedules);
    if (key === last) return;
    last = key;
    if (!schedules.length) {
      fill(body, emptyState(t("schedules.empty"), t("schedules.emptyHelp")));
      return;
    }
    const col = (key, cls) => h("th", { scope: "col", class: cls || null }, t(key));
    fill(body, h("table", { class: "table table--schedules" },
      h("thead", {}, h("tr", {},
        col("schedules.name"), col("schedules.status"), col("schedules.when"), col("schedules.job"),
        col("schedules.next", "col-time"), col("schedules.last", "col-last"), col("schedules.runs", "col-num"),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("schedules.actions"))))),
      h("tbody", {}, schedules.map(row))));
  }

  function row(s) {
    const cell = (label, cls, ...c) => h("td", { class: cls, dataset: { label: t(label) } }, ...c);
    const runsHref = withQuery("/ui/jobs", { tag: `schedule:${s.name}`, tenant: tenantParam(tenant) });
    return h("tr", { dataset: { schedule: s.name, paused: String(s.paused) } },
      h("th", { scope: "row", dataset: { label: t("schedules.name") } },
        h("div", { class: "stack" },
          h("span", { class: "mono strong" }, s.name),
          s.description ? h("span", { class: "muted small" }, s.description) : null)),
      cell("schedules.status", "col-corner",
        h("span", { class: s.paused ? "badge badge--paused" : "badge badge--active", dataset: { testid: "schedule-status" } },
          t(s.paused ? "schedules.paused" : "schedules.active"))),
      cell("schedules.when", "",
        h("div", { class: "stack stack--end-phone" },
          h("code", { class: "cron" }, s.cron),
          h("span", { class: "muted small tz" }, s.timezone.split("/").flatMap((part, i) => (i ? ["/", h("wbr"), part] : [part]))))),
      cell("schedules.job", "",
        h("div", { class: "stack stack--end-phone" },
          h("span", { class: "mono" }, s.job.kind),
          h("a", { class: "muted small", href: withQuery("/ui/jobs", { queue: s.job.queue, tenant: tenantParam(tenant) }) },
            t("schedules.inQueue", { queue: s.job.queue })))),
      cell("schedules.next", "col-time", nextRuns(s)),
      cell("schedules.last", "col-last", lastRun(s)),
      cell("schedules.runs", "col-num tabular",
        h("a", { href: runsHref, title: t("schedules.runsHelp"), dataset: { testid: "runs" } }, formatNumber(s.runs))),
      h("td", { class: "col-action" }, h("div", { class: "row-actions" },
        actionButton(t("schedules.run"), {
          name: "run", readOnly: session.read_only, plain: true, onclick: (e) => runNow(s, e.currentTarget),
        }),
        actionButton(t(s.paused ? "schedules.resume" : "schedules.pause"), {
          name: s.paused ? "resume" : "pause", readOnly: session.read_only, plain: true,
          onclick: (e) => toggle(s, e.currentTarget),
        }))));
  }

  /** The next run, relative with the exact time on hover, and the ones after it unfolded. */
  function nextRuns(s) {
    if (s.paused || !s.next_run_at) return h("span", { class: "muted", dataset: { testid: "next-run" } }, t("schedules.noNext"));
    const list = s.next_runs.length > 1 ? h("details", { class: "next-runs", open: open.has(s.name) },
      h("summary", { class: "next-runs__toggle" }, t("schedules.nextRuns", { n: s.next_runs.length })),
      h("ol", { class: "next-runs__list" }, s.next_runs.map((iso) => h("li", {},
        h("time", { datetime: iso, title: formatDate(iso) }, inZone(iso, s.timezone)))))) : null;
    list?.addEventListener("toggle", () => (list.open ? open.add(s.name) : open.delete(s.name)));
    return h("div", { class: "stack stack--end-phone" }, h("span", { dataset: { testid: "next-run" } }, timeEl(s.next_run_at)), list);
  }

  function lastRun(s) {
    if (!s.last_run_at && !s.last_error) return h("span", { class: "muted" }, t("schedules.never"));
    const job = s.last_job_id
      ? h("a", { class: "mono small", href: withQuery(`/ui/jobs/${s.last_job_id}`, { tenant: tenantParam(tenant) }), title: s.last_job_id, dataset: { testid: "last-job" } },
        t("schedules.jobLink", { id: shortId(s.last_job_id) }))
      : null;
    return h("div", { class: "stack stack--end-phone" },
      s.last_run_at ? timeEl(s.last_run_at) : null,
      job,
      s.last_error ? h("span", { class: "error-text small", dataset: { testid: "last-error" } }, s.last_error) : null);
  }

  async function toggle(s, opener) {
    const pausing = !s.paused;
    const done = await confirmDialog({
      title: t(pausing ? "schedules.pauseTitle" : "schedules.resumeTitle", { name: s.name }),
      body: t(pausing ? "schedules.pauseBody" : "schedules.resumeBody"),
      confirmLabel: t(pausing ? "schedules.pause" : "schedules.resume"),
      opener,
      action: () => (pausing ? api.schedulePause(s.name, tenant) : api.scheduleResume(s.name, tenant)),
    });
    if (!done) return;
    toast(t(pausing ? "schedules.pausedToast" : "schedules.resumedToast", { name: s.name }));
    await load();
  }

  async function runNow(s, opener) {
    const job = await confirmDialog({
      title: t("schedules.runTitle", { name: s.name }),
      body: t("schedules.runBody", { kind: s.job.kind, queue: s.job.queue }),
      confirmLabel: t("schedules.run"),
      opener,
      action: () => api.scheduleRun(s.name, tenant),
    });
    if (!job) return;
    toast(h("span", {}, t("schedules.ranToast"), " ",
      h("a", { class: "toast__link", href: withQuery(`/ui/jobs/${job.id}`, { tenant: tenantParam(tenant) }), dataset: { testid: "toast-job" } },
        t("schedules.jobLink", { id: shortId(job.id) }))), { ms: 8000 });
    await load();
  }

  const live = ctx.live(load, { tenant, fallbackMs: 10000 });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("schedules.title")),
      live.hint()),
    session.read_only ? readOnlyNote() : null,
    banner, body,
    h("p", { class: "page__foot muted" }, t("schedules.howTo"), " ", h("code", {}, "PUT /v1/schedules/{name}"))));
  load();
  return {};
}

/** A time as the clock on the wall of the schedule's zone shows it ("Sat 29 Nov, 02:00"); the
 * browser's own time on hover. */
function inZone(iso, timeZone) {
  const opts = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(locale(), { ...opts, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(locale(), opts).format(new Date(iso));
  }
}
