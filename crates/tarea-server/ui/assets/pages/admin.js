// Tenants and keys (admin sessions only): every tenant with links into it, every API key
// (without secrets) filtered by tenant, Create key (its secret shown once, to copy) and Revoke,
// and the audit log of what people did through the dashboard.
//
// The secret of a new key lives only in the dialog that shows it: it is never put in the list,
// the URL or storage, and closing the dialog drops it.
import { api, currentSession, withQuery } from "../api.js";
import {
  actionButton, copyButton, emptyState, errorBanner, fill, h, loading, moreButton, readOnlyNote, section, timeEl, toast,
} from "../dom.js";
import { formatNumber, t } from "../i18n.js";
import { confirmDialog } from "../modal.js";

const TENANT_NAME = /^[a-z0-9._-]{1,64}$/;
const ROLES = ["full", "read_only", "admin"];

export function mount(ctx) {
  document.title = `${t("admin.title")} · tarea`;
  const session = currentSession();
  if (!session.admin) {
    fill(ctx.root, h("div", { class: "page" }, h("div", { class: "empty", dataset: { testid: "admins-only" } },
      h("div", { class: "empty__icon", "aria-hidden": "true" }),
      h("h1", { class: "empty__title" }, t("admin.only")),
      h("p", { class: "empty__help" }, t("admin.onlyHelp")))));
    return {};
  }
  const ro = session.read_only;
  let filter = ctx.url.searchParams.get("tenant") || "";
  let tenants = [];
  let keys = [];
  const banner = h("div", { class: "banner-slot" });
  const tenantsEl = h("div", { class: "table-wrap table-wrap--flat" }, loading());
  const keysEl = h("div", { class: "table-wrap table-wrap--flat" }, loading());
  const auditEl = h("div", { class: "table-wrap table-wrap--flat" }, loading());
  const auditFoot = h("div", { class: "list-foot" });
  const filterSel = h("select", { id: "key-tenant", class: "input input--inline", "aria-label": t("admin.filter") });
  filterSel.addEventListener("change", () => {
    filter = filterSel.value;
    history.replaceState(null, "", withQuery("/ui/admin", { tenant: filter }));
    drawKeys();
    audit.items = [];
    loadAudit();
  });

  async function load() {
    try {
      const [tl, kl] = await Promise.all([api.tenants(), api.keys()]);
      tenants = tl.tenants;
      keys = kl.keys;
      fill(banner);
      drawTenants();
      drawKeys();
    } catch (err) {
      if (err.status === 401) return;
      fill(banner, errorBanner(err, { retry: load }));
      for (const el of [tenantsEl, keysEl]) if (el.querySelector(".loading")) fill(el);
    }
  }

  function drawTenants() {
    const counts = new Map();
    for (const k of keys) counts.set(k.tenant, (counts.get(k.tenant) || 0) + 1);
    fill(filterSel, h("option", { value: "" }, t("admin.allTenants")),
      tenants.map((name) => h("option", { value: name }, name)));
    filterSel.value = tenants.includes(filter) ? filter : "";
    filter = filterSel.value;
    if (!tenants.length) return fill(tenantsEl, emptyState(t("admin.noTenants")));
    const link = (path, name, label) => h("a", { href: withQuery(path, { tenant: name === session.tenant ? undefined : name }) }, label);
    fill(tenantsEl, h("table", { class: "table table--tenants" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("admin.tenant")), h("th", { scope: "col", class: "col-num" }, t("admin.keys")),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("admin.open"))))),
      h("tbody", {}, tenants.map((name) => h("tr", { dataset: { tenant: name } },
        h("th", { scope: "row", dataset: { label: t("admin.tenant") } },
          h("span", { class: "mono strong" }, name),
          name === session.tenant ? h("span", { class: "chip chip--you" }, t("admin.yours")) : null),
        h("td", { class: "col-num tabular", dataset: { label: t("admin.keys") } }, formatNumber(counts.get(name) || 0)),
        h("td", { class: "col-action" }, h("div", { class: "row-actions row-actions--links" },
          link("/ui/overview", name, t("nav.overview")), link("/ui/jobs", name, t("nav.jobs")),
          link("/ui/queues", name, t("nav.queues")))))))));
  }

  function drawKeys() {
    const shown = keys.filter((k) => !filter || k.tenant === filter);
    if (!shown.length) return fill(keysEl, emptyState(t("admin.noKeys")));
    fill(keysEl, h("table", { class: "table table--keys" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("admin.keyId")), h("th", { scope: "col" }, t("admin.role")),
        h("th", { scope: "col" }, t("admin.tenant")), h("th", { scope: "col", class: "col-time" }, t("admin.created")),
        h("th", { scope: "col", class: "col-action" }, h("span", { class: "visually-hidden" }, t("admin.revoke"))))),
      h("tbody", {}, shown.map((k) => h("tr", { dataset: { key: k.id, tenant: k.tenant } },
        h("th", { scope: "row", dataset: { label: t("admin.keyId") } },
          h("code", { class: "mono" }, k.id),
          k.id === session.key_id ? h("span", { class: "chip chip--you", title: t("admin.thisKeyHelp") }, t("admin.thisKey")) : null),
        h("td", { class: "col-corner", dataset: { label: t("admin.role") } }, roleBadge(k)),
        h("td", { dataset: { label: t("admin.tenant") } }, h("span", { class: "mono" }, k.tenant)),
        h("td", { class: "col-time", dataset: { label: t("admin.created") } }, timeEl(k.created_at)),
        h("td", { class: "col-action" }, actionButton(t("admin.revoke"), {
          name: "revoke", readOnly: ro, danger: true, small: true, onclick: (e) => revoke(k, e.currentTarget),
        })))))));
  }

  async function create(opener) {
    const tenantIn = h("input", {
      id: "new-key-tenant", name: "tenant", class: "input input--mono", list: "known-tenants", autocomplete: "off",
      spellcheck: "false", maxlength: "64", value: filter || session.tenant, "aria-describedby": "new-key-tenant-help",
    });
    const radios = ROLES.map((role) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "role", value: role, checked: role === "full" }),
      h("span", { class: "choice__text" }, h("strong", {}, t(`admin.role.${role}`)), h("span", { class: "muted small" }, t(`admin.role.${role}.help`)))));
    const made = await confirmDialog({
      title: t("admin.createTitle"),
      opener,
      content: h("div", { class: "form-grid" },
        h("div", { class: "form-field" },
          h("label", { class: "label", for: "new-key-tenant" }, t("admin.tenant")),
          tenantIn,
          h("datalist", { id: "known-tenants" }, tenants.map((name) => h("option", { value: name }))),
          h("p", { class: "form-field__help", id: "new-key-tenant-help" }, t("admin.tenantHelp"))),
        h("fieldset", { class: "form-field choices" }, h("legend", { class: "label" }, t("admin.role")), radios)),
      confirmLabel: t("admin.create"),
      action: () => {
        const tenant = tenantIn.value.trim();
        if (!TENANT_NAME.test(tenant)) {
          tenantIn.setAttribute("aria-invalid", "true");
          tenantIn.focus();
          throw new Error(t("admin.badTenant"));
        }
        const role = radios.map((l) => l.querySelector("input")).find((r) => r.checked).value;
        return api.keyCreate({ tenant, admin: role === "admin", read_only: role === "read_only" });
      },
    });
    if (!made) return;
    await showSecret(made, opener);
    load();
    loadAudit();
  }

  /** The one time the secret is shown: copy it now. */
  async function showSecret(made, opener) {
    await confirmDialog({
      title: t("admin.createdTitle"),
      body: t("admin.createdBody", { tenant: made.tenant }),
      note: t("admin.once"),
      content: h("div", { class: "secret" },
        h("code", { class: "secret__value mono", dataset: { testid: "new-key" }, tabindex: "0" }, made.key),
        copyButton(made.key, { label: t("admin.copyKey"), plain: true })),
      closeLabel: t("admin.copiedIt"),
      sticky: true,
      opener,
    });
  }

  async function revoke(k, opener) {
    const gone = await confirmDialog({
      title: t("admin.revokeTitle", { id: k.id }),
      body: t("admin.revokeBody", { tenant: k.tenant }),
      confirmLabel: t("admin.revoke"),
      danger: true,
      opener,
      action: async () => { await api.keyDelete(k.id); return true; },
    });
    if (!gone) return;
    toast(t("admin.revoked", { id: k.id }));
    keys = keys.filter((x) => x.id !== k.id);
    drawKeys();
    drawTenants();
    loadAudit();
  }

  // The audit log, newest first, in pages of 50 (its cursor is a number).
  const audit = { items: [], next: null };
  async function loadAudit(more = false) {
    try {
      const page = await api.audit({ limit: 50, cursor: more ? audit.next : undefined, tenant: filter || undefined });
      audit.items = more ? audit.items.concat(page.entries) : page.entries;
      audit.next = page.next_cursor;
      drawAudit();
    } catch (err) {
      if (err.status === 401) return;
      fill(auditEl, errorBanner(err, { retry: () => loadAudit() }));
    }
  }

  function drawAudit() {
    fill(auditFoot, audit.next !== null && audit.next !== undefined ? h("div", { class: "pager" }, moreButton(() => loadAudit(true))) : null);
    if (!audit.items.length) return fill(auditEl, emptyState(t("admin.auditEmpty"), t("admin.auditEmptyHelp")));
    fill(auditEl, h("table", { class: "table table--audit" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "col-time" }, t("admin.when")), h("th", { scope: "col" }, t("admin.action")),
        h("th", { scope: "col" }, t("admin.tenant")), h("th", { scope: "col" }, t("admin.by")),
        h("th", { scope: "col", class: "col-num" }, t("admin.count")))),
      h("tbody", {}, audit.items.map((e) => h("tr", {},
        h("th", { scope: "row", class: "col-time", dataset: { label: t("admin.when") } }, timeEl(e.at)),
        h("td", { dataset: { label: t("admin.action") } }, h("div", { class: "stack stack--end-phone" },
          h("span", { class: "mono small" }, e.action),
          e.target && !e.action.includes(e.target) && !e.target.startsWith("/ui/") ? h("span", { class: "mono muted small wrap" }, e.target) : null)),
        h("td", { dataset: { label: t("admin.tenant") } }, e.tenant),
        h("td", { class: "mono small", dataset: { label: t("admin.by") } }, e.key_id),
        h("td", { class: "col-num tabular", dataset: { label: t("admin.count") } }, formatNumber(e.count)))))));
  }

  fill(ctx.root, h("div", { class: "page page--wide" },
    h("div", { class: "page__head" },
      h("h1", { class: "page__title" }, t("admin.title")),
      h("div", { class: "page__tools" }, actionButton(t("admin.create"), {
        name: "create-key", readOnly: ro, onclick: (e) => create(e.currentTarget),
      }))),
    ro ? readOnlyNote() : null,
    banner,
    h("div", { class: "admin-grid" },
      section(t("admin.keysTitle"), keysEl, { name: "keys", tools: h("label", { class: "inline-field" }, t("admin.filter"), filterSel) }),
      section(t("admin.tenantsTitle"), tenantsEl, { name: "tenants" })),
    section(t("admin.auditTitle"), [auditEl, auditFoot], { name: "audit" })));
  load();
  loadAudit();
  return {};
}

function roleBadge(k) {
  const role = k.admin ? "admin" : k.read_only ? "read_only" : "full";
  return h("span", { class: "role-badges" },
    h("span", { class: `role role--${role === "read_only" ? "readonly" : role}`, dataset: { keyRole: role } }, t(`admin.role.${role}`)),
    k.admin && k.read_only ? h("span", { class: "role role--readonly", dataset: { keyRole: "read_only" } }, t("admin.role.read_only")) : null);
}
