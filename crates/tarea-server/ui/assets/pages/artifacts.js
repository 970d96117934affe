// Files: every artifact of the tenant, newest first (what jobs made and what was uploaded),
// with its size, downloads, when it expires and the job that made it; "Load more" reads further
// pages. Jobs make files as they run, so the page follows the tenant's job changes live.
import { api, tenantParam, withQuery } from "../api.js";
import { pagedList } from "../paged.js";
import { emptyState, fill, h, loading, moreButton, shortId, timeEl } from "../dom.js";
import { formatBytes, formatNumber, t } from "../i18n.js";

export function mount(ctx) {
  document.title = `${t("artifacts.title")} · tarea`;
  const tenant = ctx.url.searchParams.get("tenant") || undefined;
  const banner = h("div", { class: "banner-slot" });
  const body = h("div", { class: "table-wrap" }, loading());
  const foot = h("div", { class: "list-foot" });
  const { feed, load } = pagedList(async (page) => {
    const data = await api.artifacts(page, tenant);
    return { items: data.artifacts, next_cursor: data.next_cursor };
  }, { banner, body, draw });

  function draw() {
    const total = feed.items.reduce((n, a) => n + a.size, 0);
    fill(foot,
      h("span", { class: "list-status" }, feed.items.length
        ? t("artifacts.count", { n: formatNumber(feed.items.length), size: formatBytes(total) }) : ""),
      feed.next ? h("div", { class: "pager" }, moreButton(() => load(true))) : null);
    if (!feed.items.length) {
      fill(body, emptyState(t("artifacts.empty"), t("artifacts.emptyHelp")));
      return;
    }
    const col = (key, cls) => h("th", { scope: "col", class: cls || null }, t(key));
    fill(body, h("table", { class: "table table--files" },
      h("thead", {}, h("tr", {},
        col("art.file"), col("artifacts.kind"), col("art.size", "col-num"), col("art.downloads", "col-num"),
        col("artifacts.created", "col-time"), col("art.expires", "col-time"), col("artifacts.job"),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("art.download"))))),
      h("tbody", {}, feed.items.map(row))));
  }

  function row(a) {
    const cell = (label, cls, ...c) => h("td", { class: cls, dataset: { label: t(label) } }, ...c);
    const href = api.contentUrl(a, tenant);
    const upload = !a.job_id;
    return h("tr", { dataset: { artifact: a.id } },
      h("th", { scope: "row", dataset: { label: t("art.file") } },
        h("div", { class: "stack" },
          h("a", { href, class: "file-link", download: "", dataset: { testid: "file" } }, a.filename),
          h("span", { class: "mono muted small" }, a.content_type))),
      cell("artifacts.kind", "", upload
        ? h("span", { class: "chip" }, t("artifacts.upload"))
        : h("span", { class: "mono small" }, a.kind)),
      cell("art.size", "col-num tabular", h("span", { dataset: { testid: "size" }, title: t("artifacts.bytes", { n: formatNumber(a.size) }) }, formatBytes(a.size))),
      cell("art.downloads", "col-num tabular", formatNumber(a.download_count)),
      cell("artifacts.created", "col-time", timeEl(a.created_at)),
      cell("art.expires", "col-time", a.expires_at ? timeEl(a.expires_at) : h("span", { class: "muted", title: t("artifacts.keptHelp") }, t("artifacts.kept"))),
      cell("artifacts.job", "", upload
        ? h("span", { class: "muted" }, t("none"))
        : h("a", { class: "mono", href: withQuery(`/ui/jobs/${a.job_id}`, { tenant: tenantParam(tenant) }), title: a.job_id }, shortId(a.job_id))),
      h("td", { class: "col-action" }, h("a", { href, class: "btn btn--small", download: "", dataset: { action: "download" } }, t("art.download"))));
  }

  const live = ctx.live(() => load(), { tenant, fallbackMs: 10000 });
  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("artifacts.title")),
      live.hint()),
    banner, body, foot));
  load();
  return {};
}
