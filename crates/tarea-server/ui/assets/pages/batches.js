// Batches: the tenant's batches, newest first, each with its progress, its items counted by
// state and how it ended; "Load more" reads further pages. Follows the tenant's job changes
// live (a refresh reads again as many batches as are shown).
import { api, tenantParam, withQuery } from "../api.js";
import { pagedList } from "../paged.js";
import {
  batchBadge, countChips, emptyState, fill, h, loading, moreButton, progressBar, shortId, timeEl,
} from "../dom.js";
import { formatNumber, t } from "../i18n.js";

/** The counts a row shows, most telling first. */
const ROW_COUNTS = ["running", "queued", "scheduled", "failed", "dead", "cancelled", "succeeded"];

export function mount(ctx) {
  document.title = `${t("batches.title")} · tarea`;
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const banner = h("div", { class: "banner-slot" });
  const body = h("div", { class: "table-wrap" }, loading());
  const foot = h("div", { class: "list-foot" });
  const { feed, load } = pagedList(async (page) => {
    const data = await api.batches(page, tenant);
    return { items: data.batches, next_cursor: data.next_cursor };
  }, { banner, body, draw });

  function draw() {
    fill(foot,
      h("span", { class: "list-status" }, feed.items.length ? t("batches.count", { n: formatNumber(feed.items.length) }) : ""),
      feed.next ? h("div", { class: "pager" }, moreButton(() => load(true))) : null);
    if (!feed.items.length) {
      fill(body, emptyState(t("batches.empty"), t("batches.emptyHelp")));
      return;
    }
    const col = (key, cls) => h("th", { scope: "col", class: cls || null }, t(key));
    fill(body, h("table", { class: "table table--batches" },
      h("thead", {}, h("tr", {},
        col("batches.id", "col-id"), col("batches.state"), col("batches.progress", "col-progress"),
        col("batches.items"), col("batches.then"), col("batches.created", "col-time"), col("batches.finished", "col-time"))),
      h("tbody", {}, feed.items.map(row))));
  }

  function row(b) {
    const cell = (label, cls, ...c) => h("td", { class: cls, dataset: { label: t(label) } }, ...c);
    const href = withQuery(`/ui/batches/${b.id}`, { tenant: tenantParam(tenant) });
    const items = (state) => withQuery("/ui/jobs", { batch: b.id, state, tenant: tenantParam(tenant) });
    const pct = b.progress ? b.progress.percent : 0;
    const bar = progressBar(b.progress, { small: true, label: t("batches.progress") });
    bar.classList.toggle("progress--done", b.state === "succeeded");
    bar.classList.toggle("progress--stopped", b.state === "failed");
    return h("tr", { dataset: { batch: b.id, state: b.state } },
      h("th", { scope: "row", class: "col-id", dataset: { label: t("batches.id") } },
        h("a", { class: "mono id-link", href, title: b.id }, shortId(b.id))),
      cell("batches.state", "col-corner", batchBadge(b.state)),
      cell("batches.progress", "col-progress", h("div", { class: "progress-cell" }, bar,
        h("span", { class: "progress-cell__pct", dataset: { testid: "batch-progress" } },
          t("batches.ofTotal", { done: formatNumber(b.progress ? b.progress.current : 0), total: formatNumber(b.total) }),
          h("span", { class: "muted" }, ` · ${Math.floor(pct)}%`)))),
      cell("batches.items", "col-counts", countChips(b.counts, { states: ROW_COUNTS, hrefOf: items })),
      cell("batches.then", "", b.on_complete ? h("span", { class: "mono small" }, b.on_complete) : h("span", { class: "muted" }, t("none"))),
      cell("batches.created", "col-time", timeEl(b.created_at)),
      cell("batches.finished", "col-time", b.finished_at ? timeEl(b.finished_at) : h("span", { class: "muted" }, t("batches.notYet"))));
  }

  const live = ctx.live(() => load(), { tenant, fallbackMs: 5000 });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("batches.title")),
      live.hint()),
    banner, body, foot));
  load();
  return {};
}
