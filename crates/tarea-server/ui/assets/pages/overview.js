// Overview: what runs and waits now, how much finished and failed over the last hour, day or
// week (from the per-minute counts the server keeps, so a restart loses nothing), the queues
// that hold work, and the nodes and workers alive. Reads again when the tenant's jobs change,
// and every 15 s for what is not a job change (heartbeats, the minute's counts).
import { api, currentSession, tenantParam, withQuery } from "../api.js";
import { emptyState, errorBanner, fill, h, loading, timeEl } from "../dom.js";
import { formatDate, formatDuration, formatNumber, locale, t, tn } from "../i18n.js";

const REFRESH_MS = 5000;
const SAFETY_MS = 15000;
const WINDOWS = ["hour", "day", "week"];
const SVG = "http://www.w3.org/2000/svg";

export function mount(ctx) {
  document.title = `${t("overview.title")} · tarea`;
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  let windowName = WINDOWS.includes(ctx.url.searchParams.get("window")) ? ctx.url.searchParams.get("window") : "hour";
  const banner = h("div", { class: "banner-slot" });
  const tiles = h("div", { class: "tiles" }, loading());
  const chart = h("div", { class: "chart-slot" });
  const queues = h("div", { class: "table-wrap" });
  const nodes = h("div", { class: "table-wrap" });
  const switcher = h("div", { class: "segmented", role: "group", "aria-label": t("overview.window") },
    WINDOWS.map((w) => h("button", {
      type: "button", class: "segmented__btn", dataset: { window: w }, "aria-pressed": String(w === windowName),
      onclick: () => {
        windowName = w;
        for (const b of switcher.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.window === w));
        history.replaceState(null, "", withQuery(location.pathname, { tenant: tenantParam(tenant), window: w === "hour" ? undefined : w }));
        load();
      },
    }, t(`overview.${w}`))));

  let last = "";
  async function load() {
    try {
      const [stats, q, w] = await Promise.all([api.stats(windowName, tenant), api.queues(tenant), api.workers(tenant)]);
      fill(banner);
      const key = JSON.stringify([stats, q, w]);
      if (key === last) return;
      last = key;
      drawTiles(stats, q.queues, w);
      fill(chart, chartCard(stats));
      drawQueues(q.queues);
      drawNodes(w);
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: load }));
    }
  }

  function drawTiles(stats, qs, w) {
    const sum = (state) => qs.reduce((n, q) => n + ((q.counts && q.counts[state]) || 0), 0);
    const oldest = qs.map((q) => q.oldest_queued_at).filter(Boolean).sort()[0];
    const failures = stats.total.failed + stats.total.dead;
    const tile = (name, value, sub, tone, href) => h(href ? "a" : "div", { class: `tile${tone ? ` tile--${tone}` : ""}`, href, dataset: { tile: name } },
      h("span", { class: "tile__label" }, t(`overview.${name}`)),
      h("strong", { class: "tile__value tabular" }, value),
      sub ? h("span", { class: "tile__sub muted" }, sub) : null);
    const list = (state) => withQuery("/ui/jobs", { state, tenant: tenantParam(tenant) });
    fill(tiles,
      tile("running", formatNumber(sum("running")), null, "blue", list("running")),
      tile("waiting", formatNumber(sum("queued")), oldest ? t("overview.oldest", { age: formatDuration(Math.max(0, Date.now() - Date.parse(oldest))) }) : t("overview.noneWaiting"), null, list("queued")),
      tile("succeeded", formatNumber(stats.total.succeeded), t(`overview.in.${windowName}`), "green"),
      tile("failures", formatNumber(failures), t(`overview.in.${windowName}`), failures ? "red" : null, list("dead")),
      tile("nodes", formatNumber(w.nodes.length), tn("overview.workersSub", w.nodes.length, { workers: tn("overview.externalWorkers", w.workers.length) })));
  }

  function drawQueues(qs) {
    const busy = qs.filter((q) => q.counts.queued || q.counts.running || q.counts.scheduled || q.counts.failed);
    if (!busy.length) {
      fill(queues, emptyState(t("overview.idle"), t("overview.idleHelp")));
      return;
    }
    fill(queues, h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("queues.name")),
        h("th", { scope: "col", class: "col-num" }, t("state.queued")),
        h("th", { scope: "col", class: "col-num" }, t("state.running")),
        h("th", { scope: "col", class: "col-num" }, t("state.failed")),
        h("th", { scope: "col", class: "col-time" }, t("overview.oldestCol")))),
      h("tbody", {}, busy.map((q) => h("tr", { dataset: { queue: q.name } },
        h("th", { scope: "row", dataset: { label: t("queues.name") } },
          h("a", { class: "mono", href: withQuery("/ui/jobs", { queue: q.name, tenant: tenantParam(tenant) }) }, q.name),
          q.paused ? h("span", { class: "badge badge--paused" }, t("queues.paused")) : null),
        h("td", { class: "col-num tabular", dataset: { label: t("state.queued") } }, formatNumber(q.counts.queued)),
        h("td", { class: "col-num tabular", dataset: { label: t("state.running") } }, formatNumber(q.counts.running)),
        h("td", { class: "col-num tabular", dataset: { label: t("state.failed") } }, formatNumber(q.counts.failed)),
        h("td", { class: "col-time", dataset: { label: t("overview.oldestCol") } }, q.oldest_queued_at ? timeEl(q.oldest_queued_at) : h("span", { class: "muted" }, "—")))))));
  }

  function drawNodes(w) {
    const rows = [
      ...w.nodes.map((n) => ({ name: n.id, what: `${n.role} · ${n.host}`, running: n.running, seen: n.last_seen_at, leader: n.leader })),
      ...w.workers.map((x) => ({ name: x.name, what: `${t("overview.external")} · ${x.queues.join(", ")}`, running: null, seen: x.last_seen_at })),
    ];
    if (!rows.length) {
      fill(nodes, emptyState(t("overview.noNodes")));
      return;
    }
    fill(nodes, h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("overview.node")),
        h("th", { scope: "col" }, t("overview.what")),
        h("th", { scope: "col", class: "col-num" }, t("state.running")),
        h("th", { scope: "col", class: "col-time" }, t("overview.seen")))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { node: r.name } },
        h("th", { scope: "row", class: "mono wrap", dataset: { label: t("overview.node") } }, r.name,
          r.leader ? h("span", { class: "badge badge--active", title: t("overview.leaderHelp") }, t("overview.leader")) : null),
        h("td", { class: "muted", dataset: { label: t("overview.what") } }, r.what),
        h("td", { class: "col-num tabular", dataset: { label: t("state.running") } }, r.running === null ? "—" : formatNumber(r.running)),
        h("td", { class: "col-time", dataset: { label: t("overview.seen") } }, timeEl(r.seen)))))));
  }

  const live = ctx.live(load, { tenant, fallbackMs: REFRESH_MS, safetyMs: SAFETY_MS });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("overview.title")),
      live.hint(),
      h("div", { class: "page__tools" }, switcher)),
    banner, tiles, chart,
    h("div", { class: "overview-grid" },
      h("section", { class: "card" }, h("h2", { class: "card__title" }, t("overview.queues")), queues),
      h("section", { class: "card" }, h("h2", { class: "card__title" }, t("overview.nodes")), nodes))));
  load();
  return {};
}

/** Stacked bars per bucket: succeeded below, failures (failed + dead) above, drawn in SVG. */
function chartCard(stats) {
  const W = 720, H = 180, PAD = 28;
  const buckets = stats.buckets;
  const top = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed + b.dead));
  const bw = (W - PAD) / buckets.length;
  const y = (n) => H - 18 - (n / top) * (H - 30);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("overview.chartLabel", { ok: formatNumber(stats.total.succeeded), bad: formatNumber(stats.total.failed + stats.total.dead) }));
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    svg.append(el("line", { x1: PAD, x2: W, y1: yy, y2: yy, class: "chart__grid" }));
    svg.append(el("text", { x: PAD - 6, y: yy + 4, class: "chart__axis", "text-anchor": "end" }, formatNumber(Math.round(top * frac))));
  }
  const timeFmt = new Intl.DateTimeFormat(locale(), stats.window === "week" ? { weekday: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" });
  buckets.forEach((b, i) => {
    const x = PAD + i * bw;
    const g = el("g", { class: "chart__bucket" });
    const bad = b.failed + b.dead;
    g.append(el("title", {}, `${formatDate(b.at)}\n${t("overview.succeeded")}: ${formatNumber(b.succeeded)}\n${t("overview.failures")}: ${formatNumber(bad)}`));
    g.append(el("rect", { x, y: 0, width: bw, height: H - 18, class: "chart__hit" }));
    if (b.succeeded) g.append(el("rect", { x: x + bw * 0.12, y: y(b.succeeded), width: bw * 0.76, height: y(0) - y(b.succeeded), class: "chart__ok" }));
    if (bad) g.append(el("rect", { x: x + bw * 0.12, y: y(b.succeeded + bad), width: bw * 0.76, height: y(b.succeeded) - y(b.succeeded + bad), class: "chart__bad" }));
    svg.append(g);
    if (i % Math.ceil(buckets.length / 6) === 0) {
      svg.append(el("text", { x: x + bw / 2, y: H - 4, class: "chart__axis", "text-anchor": "middle" }, timeFmt.format(new Date(b.at))));
    }
  });
  return h("section", { class: "card chart-card", dataset: { section: "chart" } },
    h("div", { class: "chart-card__head" },
      h("h2", { class: "card__title" }, t("overview.throughput")),
      h("span", { class: "legend" },
        h("span", { class: "legend__item legend__item--ok" }, t("overview.succeeded")),
        h("span", { class: "legend__item legend__item--bad" }, t("overview.failures")))),
    svg,
    h("p", { class: "muted chart-card__note" }, t("overview.lag")));
}
