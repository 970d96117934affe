// One job: its state, live progress (Server-Sent Events from /v1/jobs/{id}/events), error,
// result, payload, files and history, with Retry and Cancel. Every event carries the whole job
// view; each part of the page is redrawn only when its own data changed, so the progress bar
// glides instead of jumping and a selection in the payload survives a progress event.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import {
  actionButton, copyButton, emptyState, errorBanner, fill, h, jsonBlock, loading, progressBar,
  readOnlyNote, shortId, stateBadge, TERMINAL, timeEl, toast, updateProgress,
} from "../dom.js";
import { formatBytes, formatDuration, formatNumber, t } from "../i18n.js";
import { confirmDialog } from "../modal.js";

const RETRYABLE = new Set(["dead", "cancelled", "failed"]);
// A failed job waits for its next attempt: cancelling it stops the retries.
const CANCELLABLE = new Set(["scheduled", "queued", "running", "failed"]);

export function mount(ctx) {
  const id = ctx.params[0];
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const session = currentSession();
  document.title = `${t("job.title")} ${shortId(id)} · tarea`;

  const slots = {};
  for (const name of ["badge", "actions", "error", "result", "payload", "details", "times", "tags", "artifacts", "attempts", "live"]) {
    slots[name] = h("div", { class: `slot slot--${name}` });
  }
  const banner = h("div", { class: "banner-slot" });
  const bar = progressBar(null, { label: t("job.progress") });
  const pctText = h("span", { class: "progress-card__pct tabular", dataset: { testid: "percent" } });
  const stepText = h("span", { class: "progress-card__step" });
  const countText = h("span", { class: "progress-card__count tabular muted" });
  const progressCard = h("section", { class: "card progress-card", "aria-labelledby": "progress-h" },
    h("div", { class: "progress-card__head" },
      h("h2", { class: "card__title", id: "progress-h" }, t("job.progress")), pctText),
    bar,
    h("div", { class: "progress-card__foot" }, stepText, countText));
  const kindEl = h("h1", { class: "job-head__kind mono" }, "…");
  const queueEl = h("span", { class: "muted" });

  const listUrl = sessionStorage.getItem("tarea.lastList") || "/ui/jobs";
  const page = h("div", { class: "page" },
    h("nav", { class: "crumbs", "aria-label": t("job.back") },
      h("a", { href: listUrl, class: "crumbs__back" }, "← ", t("job.back"))),
    banner,
    h("div", { class: "content", hidden: true },
      h("header", { class: "job-head" },
        h("div", { class: "job-head__main" },
          h("div", { class: "job-head__title" }, kindEl, slots.badge),
          h("div", { class: "job-head__meta" },
            h("code", { class: "mono job-head__id", dataset: { testid: "job-id" } }, id), copyButton(id),
            h("span", { class: "dot-sep", "aria-hidden": "true" }, "·"), queueEl, slots.live)),
        slots.actions),
      session.read_only ? readOnlyNote() : null,
      progressCard,
      slots.error,
      h("div", { class: "job-grid" },
        h("div", { class: "job-grid__main" }, slots.result, slots.payload, slots.artifacts, slots.attempts),
        h("div", { class: "job-grid__side" }, slots.details, slots.times, slots.tags))));
  fill(ctx.root, page);
  const content = page.querySelector(".content");
  page.append(loading());

  let job = null;
  const drawn = {};
  /** Redraws one part of the page when its data changed. */
  const part = (name, data, build) => {
    const key = JSON.stringify(data === undefined ? null : data);
    if (drawn[name] === key) return;
    drawn[name] = key;
    fill(slots[name], build());
  };

  function update(next) {
    job = next;
    page.querySelector(".loading")?.remove();
    content.hidden = false;
    kindEl.textContent = job.kind;
    queueEl.textContent = `${t("job.queue")}: ${job.queue}`;
    part("badge", job.state, () => stateBadge(job.state));
    part("actions", [job.state, session.read_only], actions);
    drawProgress(job);
    part("error", job.error, () => (job.error ? errorCard(job.error) : null));
    part("result", job.result, () => (job.result !== null && job.result !== undefined
      ? card(t("job.result"), jsonBlock(job.result, t("job.result")), "result") : null));
    part("payload", job.payload, () => card(t("job.payload"), jsonBlock(job.payload, t("job.payload")), "payload"));
    part("artifacts", job.artifacts, () => card(t("job.artifacts"), artifacts(job), "artifacts"));
    part("details", detailsData(job), () => card(t("job.details"), details(job), "details"));
    part("times", [job.created_at, job.run_at, job.started_at, job.finished_at, job.lease_expires_at],
      () => card(t("job.times"), times(job), "times"));
    part("tags", job.tags, () => card(t("job.tags"), tags(job), "tags"));
    loadAttempts();
  }

  // The attempt history is read again whenever the job's attempt or state moves on.
  let attemptsKey = null;
  async function loadAttempts() {
    const key = `${job.attempt}/${job.state}`;
    if (key === attemptsKey || job.attempt === 0) return;
    attemptsKey = key;
    try {
      const { attempts } = await api.attempts(id, tenant);
      if (attemptsKey === key) part("attempts", attempts, () => card(t("job.history"), attemptTable(attempts), "attempts"));
    } catch {
      attemptsKey = null;
    }
  }

  function drawProgress(j) {
    const p = j.progress;
    const pct = p && Number.isFinite(p.percent) ? p.percent : j.state === "succeeded" ? 100 : 0;
    updateProgress(bar, { percent: pct });
    bar.classList.toggle("progress--done", j.state === "succeeded");
    bar.classList.toggle("progress--stopped", ["dead", "cancelled", "failed"].includes(j.state));
    bar.classList.toggle("progress--active", j.state === "running");
    pctText.textContent = `${Math.round(pct)}%`;
    stepText.textContent = p && p.step ? p.step : p ? "" : t("job.noProgress");
    countText.textContent = p && p.current !== null && p.current !== undefined && p.total
      ? `${formatNumber(p.current)} / ${formatNumber(p.total)}` : "";
  }

  function actions() {
    const ro = session.read_only;
    const btns = [];
    if (RETRYABLE.has(job.state)) {
      btns.push(actionButton(t("job.retry"), {
        name: "retry", readOnly: ro,
        onclick: () => act(t("job.retryTitle"), t("job.retryBody", { queue: job.queue, max: job.max_attempts }),
          t("job.retry"), false, () => api.retry(id, tenant), t("job.retried")),
      }));
    }
    if (CANCELLABLE.has(job.state)) {
      btns.push(actionButton(t("job.cancel"), {
        name: "cancel", readOnly: ro, danger: true,
        onclick: () => act(t("job.cancelTitle"), t("job.cancelBody"), t("job.cancel"), true,
          () => api.cancel(id, tenant), t("job.cancelled")),
      }));
    }
    return btns.length ? h("div", { class: "job-head__actions" }, btns) : null;
  }

  async function act(title, body, confirmLabel, danger, call, done) {
    const view = await confirmDialog({ title, body, confirmLabel, danger, action: call });
    if (!view) return;
    toast(done);
    update(view);
    if (!TERMINAL.has(view.state)) follow();
  }

  // Live updates.
  let es = null, retryTimer = null, retryDelay = 1000, stopped = false;
  const setLive = (mode) => part("live", mode, () => mode && h("span", { class: `live live--${mode}`, dataset: { live: mode } },
    h("span", { class: "live-dot", "aria-hidden": "true" }),
    t(mode === "live" ? "job.live" : mode === "final" ? "job.final" : "job.reconnecting")));
  const stopStream = () => {
    if (es) es.close();
    es = null;
    clearTimeout(retryTimer);
  };
  const onEvent = (e) => {
    let view;
    try { view = JSON.parse(e.data); } catch { return; }
    retryDelay = 1000;
    setLive("live");
    update(view);
    if (TERMINAL.has(view.state)) {
      stopStream();
      setLive("final");
    }
  };
  function follow() {
    stopStream();
    if (stopped) return;
    es = new EventSource(api.eventsUrl(id, tenant));
    es.addEventListener("state", onEvent);
    es.addEventListener("progress", onEvent);
    es.addEventListener("error", () => {
      if (!es) return;
      setLive("reconnecting");
      // CONNECTING: the browser tries again by itself. CLOSED: it gave up (an HTTP error); ask
      // for the job to learn why, then follow again after a pause that grows.
      if (es.readyState === EventSource.CLOSED) {
        stopStream();
        retryTimer = setTimeout(recover, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    });
  }
  // Reads the job, shows it and follows it while it can still change.
  async function show() {
    const view = await api.job(id, tenant);
    update(view);
    if (TERMINAL.has(view.state)) setLive("final");
    else follow();
  }
  async function recover() {
    try {
      await show();
    } catch (err) {
      if (err.status === 401 || stopped) return;
      if (err.status === 404) return notFound();
      if (err.status === 403) { stopStream(); return fill(banner, errorBanner(err)); }
      retryTimer = setTimeout(recover, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    }
  }
  function notFound() {
    stopStream();
    page.querySelector(".loading")?.remove();
    content.hidden = true;
    fill(banner, emptyState(t("job.notFound"), h("a", { href: listUrl }, t("job.back"))));
  }

  (async () => {
    try {
      await show();
    } catch (err) {
      if (err.status === 401) return;
      if (err.status === 404) return notFound();
      page.querySelector(".loading")?.remove();
      fill(banner, errorBanner(err, { retry: () => { fill(banner); recover(); } }));
    }
  })();

  return {
    destroy() {
      stopped = true;
      stopStream();
    },
  };
}

function card(title, body, name) {
  return h("section", { class: `card card--${name}`, dataset: { section: name } },
    h("h2", { class: "card__title" }, title), body);
}

function errorCard(err) {
  const hasDetails = err.details && !(typeof err.details === "object" && !Array.isArray(err.details) && !Object.keys(err.details).length);
  return h("section", { class: "card card--error", dataset: { section: "error" }, role: "region", "aria-label": t("job.error") },
    h("div", { class: "error-head" },
      h("h2", { class: "card__title" }, t("job.error")),
      h("code", { class: "error-code", dataset: { testid: "error-code" } }, err.code)),
    h("p", { class: "error-message", dataset: { testid: "error-message" } }, err.message),
    hasDetails ? h("div", {}, h("h3", { class: "card__subtitle" }, t("job.errorDetails")), jsonBlock(err.details, t("job.errorDetails"))) : null);
}

function jobLink(otherId, tenant) {
  return h("a", { class: "mono", href: withQuery(`/ui/jobs/${otherId}`, { tenant: tenantParam(tenant) }), title: otherId }, shortId(otherId));
}

function detailsData(job) {
  const { queue, priority, attempt, max_attempts, attempts_left, tenant, batch_id, parent_id, next_id, idempotency_key, cache_key, timeout_ms } = job;
  return [queue, priority, attempt, max_attempts, attempts_left, tenant, batch_id, parent_id, next_id, idempotency_key, cache_key, timeout_ms];
}

function dl(rows) {
  return h("dl", { class: "dl" }, rows.filter(Boolean).map(([k, v, testid]) => [
    h("dt", {}, k), h("dd", { dataset: testid ? { testid } : null }, v),
  ]));
}

function details(job) {
  const s = currentSession();
  return dl([
    [t("job.queue"), h("a", { href: withQuery("/ui/jobs", { queue: job.queue, tenant: tenantParam(job.tenant) }) }, job.queue)],
    [t("job.attempts"), h("span", { class: "tabular" }, t("job.attemptsValue", { a: job.attempt, m: job.max_attempts }),
      h("span", { class: "muted" }, ` · ${t("job.attemptsLeft", { n: job.attempts_left })}`)), "attempts"],
    [t("job.priority"), h("span", { class: "tabular" }, String(job.priority))],
    s && s.admin ? [t("job.tenant"), job.tenant] : null,
    job.batch_id ? [t("job.batch"), h("a", { class: "mono", href: withQuery(`/ui/batches/${job.batch_id}`, { tenant: tenantParam(job.tenant) }), title: job.batch_id, dataset: { testid: "batch-link" } }, shortId(job.batch_id))] : null,
    job.parent_id ? [t("job.parent"), jobLink(job.parent_id, job.tenant)] : null,
    job.next_id ? [t("job.next"), jobLink(job.next_id, job.tenant)] : null,
    job.idempotency_key ? [t("job.idempotency"), h("span", { class: "mono wrap" }, job.idempotency_key)] : null,
    job.cache_key ? [t("job.cacheKey"), h("span", { class: "mono wrap" }, job.cache_key)] : null,
    job.timeout_ms ? [t("job.timeout"), formatDuration(job.timeout_ms)] : null,
  ]);
}

function times(job) {
  return dl([
    [t("job.created"), timeEl(job.created_at)],
    [t("job.runAt"), timeEl(job.run_at)],
    [t("job.started"), timeEl(job.started_at)],
    [t("job.finished"), timeEl(job.finished_at)],
    job.lease_expires_at ? [t("job.lease"), timeEl(job.lease_expires_at)] : null,
  ]);
}

function attemptTable(attempts) {
  const cols = [["att.number", "col-num"], ["att.outcome", ""], ["att.worker", ""], ["att.started", "col-time"], ["att.duration", "col-num"], ["att.error", ""]];
  return h("div", { class: "table-wrap table-wrap--flat" }, h("table", { class: "table table--attempts" },
    h("thead", {}, h("tr", {}, cols.map(([k, c]) => h("th", { scope: "col", class: c }, t(k))))),
    h("tbody", {}, attempts.slice().reverse().map((a) => {
      const cell = (label, cls, ...c) => h("td", { class: cls, dataset: { label: t(label) } }, ...c);
      const outcome = a.state === "queued" ? (a.error ? "lost" : "released") : a.state;
      return h("tr", { dataset: { attempt: String(a.attempt) } },
        h("th", { scope: "row", class: "col-num tabular", dataset: { label: t("att.number") } }, String(a.attempt)),
        cell("att.outcome", "", outcome === "lost" || outcome === "released"
          ? h("span", { class: `badge badge--${outcome}` }, t(`att.${outcome}`)) : stateBadge(outcome)),
        cell("att.worker", "mono muted wrap", a.worker || "—"),
        cell("att.started", "col-time", timeEl(a.started_at)),
        cell("att.duration", "col-num tabular", a.duration_ms === null || a.duration_ms === undefined ? (a.ended_at ? "—" : t("att.running")) : formatDuration(a.duration_ms)),
        cell("att.error", "", a.error ? h("span", {}, h("code", { class: "error-code" }, a.error.code), " ", h("span", { class: "att-message" }, a.error.message)) : h("span", { class: "muted" }, "—")));
    }))));
}

function tags(job) {
  if (!job.tags.length) return h("p", { class: "muted" }, t("job.noTags"));
  return h("ul", { class: "chips" }, job.tags.map((tag) => h("li", {},
    h("a", { class: "chip", href: withQuery("/ui/jobs", { tag, tenant: tenantParam(job.tenant) }) }, tag))));
}

function artifacts(job) {
  if (!job.artifacts.length) return h("p", { class: "muted" }, t("job.noArtifacts"));
  const cols = [["art.file", ""], ["art.size", "col-num"], ["art.type", ""], ["art.downloads", "col-num"], ["art.expires", "col-time"], ["", "col-action"]];
  return h("div", { class: "table-wrap table-wrap--flat" }, h("table", { class: "table table--artifacts" },
    h("thead", {}, h("tr", {}, cols.map(([k, c]) => h("th", { scope: "col", class: c }, k ? t(k) : h("span", { class: "visually-hidden" }, t("art.download")))))),
    h("tbody", {}, job.artifacts.map((a) => {
      const href = api.contentUrl(a, job.tenant);
      const cell = (label, cls, ...c) => h("td", { class: cls, dataset: { label: t(label) } }, ...c);
      return h("tr", { dataset: { artifact: a.id } },
        h("th", { scope: "row", dataset: { label: t("art.file") } }, h("a", { href, class: "file-link" }, a.filename)),
        cell("art.size", "col-num tabular", formatBytes(a.size)),
        cell("art.type", "mono muted", a.content_type),
        cell("art.downloads", "col-num tabular", formatNumber(a.download_count)),
        cell("art.expires", "col-time", a.expires_at ? timeEl(a.expires_at) : t("art.never")),
        h("td", { class: "col-action" }, h("a", { href, class: "btn btn--small", dataset: { action: "download" } }, t("art.download"))));
    }))));
}
