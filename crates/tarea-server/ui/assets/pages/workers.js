// Workers: the tarea nodes alive (which leads, host, version, queues, heartbeat, uptime) and
// the external workers that claimed lately, each with the jobs it runs now and their progress.
//
// Who runs a job is its lease holder: the job's `locked_by` when the job view carries it, else
// the worker of its current attempt (GET /v1/jobs/{id}/attempts), looked up once per attempt
// and remembered. Heartbeats are not job changes, so the page also reads again every 5 s.
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import { emptyState, errorBanner, fill, h, loading, progressBar, shortId, timeEl } from "../dom.js";
import { formatDate, formatNumber, formatUptime, t } from "../i18n.js";

const HEARTBEAT_MS = 5000;
/** Running jobs read at once (the most GET /v1/jobs lists in one page is 1,000). */
const RUNNING_MAX = 200;
/** Attempt lookups in flight at once. */
const LOOKUPS = 4;

export function mount(ctx) {
  document.title = `${t("workers.title")} · tarea`;
  const session = currentSession();
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  // An admin sees every tenant's external workers, so also every tenant's running jobs.
  const everyTenant = session.admin && !tenant;
  const banner = h("div", { class: "banner-slot" });
  const nodesEl = h("div", { class: "worker-grid" }, loading());
  const externalEl = h("div", { class: "worker-grid" });
  const strayEl = h("div", {});
  /** `${id}/${attempt}` → the worker that holds it. */
  const holders = new Map();
  let last = "";
  let seq = 0;

  async function load() {
    const mine = ++seq;
    try {
      const [w, running] = await Promise.all([
        api.workers(tenant),
        api.jobs(everyTenant ? { state: "running", limit: RUNNING_MAX, all_tenants: "true" }
          : { state: "running", limit: RUNNING_MAX, tenant: tenantParam(tenant) }),
      ]);
      await findHolders(running.jobs);
      if (mine !== seq) return;
      fill(banner);
      draw(w, running);
    } catch (err) {
      if (err.status === 401 || mine !== seq) return;
      fill(banner, errorBanner(err, { retry: load }));
      if (nodesEl.querySelector(".loading")) fill(nodesEl);
    }
  }

  const holderOf = (job) => job.locked_by || holders.get(`${job.id}/${job.attempt}`) || null;

  async function findHolders(jobs) {
    const todo = jobs.filter((j) => !j.locked_by && !holders.has(`${j.id}/${j.attempt}`));
    const next = async () => {
      for (let j = todo.shift(); j; j = todo.shift()) {
        try {
          const { attempts } = await api.attempts(j.id, j.tenant);
          const a = attempts.find((x) => x.attempt === j.attempt) || attempts[attempts.length - 1];
          holders.set(`${j.id}/${j.attempt}`, (a && a.worker) || "");
        } catch { /* it may have ended meanwhile: shown without a holder */ }
      }
    };
    await Promise.all(Array.from({ length: LOOKUPS }, next));
    // Forget the attempts that ended.
    const live = new Set(jobs.map((j) => `${j.id}/${j.attempt}`));
    for (const k of holders.keys()) if (!live.has(k)) holders.delete(k);
  }

  function draw(w, running) {
    const byHolder = new Map();
    for (const job of running.jobs) {
      const who = holderOf(job) || "";
      if (!byHolder.has(who)) byHolder.set(who, []);
      byHolder.get(who).push(job);
    }
    const key = JSON.stringify([w, running.jobs.map((j) => [j.id, j.progress, holderOf(j)]), running.next_cursor]);
    if (key === last) return;
    last = key;
    const take = (name) => { const jobs = byHolder.get(name) || []; byHolder.delete(name); return jobs; };
    fill(nodesEl, w.nodes.length ? w.nodes.map((n) => nodeCard(n, take(n.id))) : emptyState(t("workers.noNodes")));
    fill(externalEl, w.workers.length ? w.workers.map((x) => workerCard(x, take(x.name)))
      : h("p", { class: "muted" }, t("workers.noExternal")));
    // Jobs whose holder is not listed: an external worker is listed for 30 s after its last claim
    // (heartbeats do not renew that), and a node that died leaves the list before its leases lapse.
    const rest = [...byHolder.values()].flat();
    fill(strayEl, rest.length ? h("section", { class: "card", dataset: { section: "unlisted" } },
      h("h2", { class: "card__title" }, t("workers.unlisted")),
      h("p", { class: "muted small" }, t("workers.unlistedHelp")),
      runList(rest, true)) : null,
    running.next_cursor ? h("p", { class: "muted small" }, t("workers.more", { n: formatNumber(RUNNING_MAX) })) : null);
  }

  function nodeCard(n, jobs) {
    const others = Math.max(0, n.running - jobs.length);
    return h("article", { class: "worker-card", dataset: { node: n.id } },
      h("header", { class: "worker-card__head" },
        h("span", { class: "worker-card__dot", "aria-hidden": "true" }),
        h("h3", { class: "worker-card__name mono" }, n.id),
        n.leader ? h("span", { class: "badge badge--active", title: t("overview.leaderHelp"), dataset: { testid: "leader" } }, t("overview.leader")) : null,
        h("span", { class: "chip" }, t(`workers.role.${n.role}`))),
      h("dl", { class: "facts" },
        fact(t("workers.host"), h("span", { class: "mono" }, n.host)),
        fact(t("workers.version"), h("span", { class: "mono" }, n.version)),
        fact(t("workers.queues"), n.queues.length ? n.queues.join(", ") : h("span", { class: "muted" }, t("workers.allQueues"))),
        fact(t("workers.running"), h("strong", { class: "tabular", dataset: { testid: "running" } }, formatNumber(n.running))),
        fact(t("workers.heartbeat"), timeEl(n.last_seen_at)),
        fact(t("workers.uptime"), h("span", { title: formatDate(n.started_at) }, formatUptime(Date.now() - Date.parse(n.started_at))))),
      runList(jobs),
      others && !session.admin ? h("p", { class: "muted small" }, t("workers.othersRunning", { n: formatNumber(others) })) : null);
  }

  function workerCard(x, jobs) {
    return h("article", { class: "worker-card worker-card--external", dataset: { worker: x.name } },
      h("header", { class: "worker-card__head" },
        h("span", { class: "worker-card__dot", "aria-hidden": "true" }),
        h("h3", { class: "worker-card__name mono" }, x.name),
        h("span", { class: "chip" }, t("overview.external"))),
      h("dl", { class: "facts" },
        session.admin ? fact(t("jobs.tenant"), x.tenant) : null,
        fact(t("workers.queues"), x.queues.join(", ") || t("none")),
        fact(t("workers.running"), h("strong", { class: "tabular", dataset: { testid: "running" } }, formatNumber(jobs.length))),
        fact(t("workers.lastClaim"), timeEl(x.last_seen_at)),
        fact(t("workers.firstSeen"), timeEl(x.first_seen_at))),
      runList(jobs));
  }

  function runList(jobs, showHolder = false) {
    if (!jobs.length) return h("p", { class: "run-list__idle muted" }, t("workers.idle"));
    return h("ul", { class: "run-list", "aria-label": t("workers.runsNow") }, jobs.map((j) => {
      const p = j.progress;
      const pct = p && Number.isFinite(p.percent) ? Math.round(p.percent) : null;
      const href = session.admin && j.tenant !== session.tenant ? withQuery(`/ui/jobs/${j.id}`, { tenant: j.tenant }) : `/ui/jobs/${j.id}`;
      return h("li", { class: "run-list__item", dataset: { job: j.id } },
        h("a", { class: "run-list__link", href, title: j.id },
          h("span", { class: "mono run-list__kind" }, j.kind),
          h("span", { class: "mono muted small" }, shortId(j.id))),
        h("span", { class: "run-list__meta muted small" },
          showHolder && holderOf(j) ? `${holderOf(j)} · ` : "",
          p && p.step ? p.step : j.queue, " · ", t("workers.since"), " ", timeEl(j.started_at)),
        pct === null ? null : h("span", { class: "run-list__progress" },
          progressBar({ percent: pct }, { small: true }),
          h("span", { class: "progress-cell__pct" }, `${pct}%`)));
    }));
  }

  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("workers.title")),
      ctx.live(load, { tenant: everyTenant ? undefined : tenant, allTenants: everyTenant, fallbackMs: HEARTBEAT_MS }).hint()),
    banner,
    h("section", { class: "workers-section", "aria-labelledby": "nodes-h" },
      h("h2", { class: "section-title", id: "nodes-h" }, t("workers.nodes")),
      h("p", { class: "section-help muted" }, t("workers.nodesHelp")),
      nodesEl),
    h("section", { class: "workers-section", "aria-labelledby": "external-h" },
      h("h2", { class: "section-title", id: "external-h" }, t("workers.external")),
      h("p", { class: "section-help muted" }, t("workers.externalHelp")),
      externalEl),
    strayEl));
  load();
  ctx.poll(load, HEARTBEAT_MS);
  return {};
}

function fact(label, value) {
  return h("div", { class: "facts__item" }, h("dt", {}, label), h("dd", {}, value));
}
