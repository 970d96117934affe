// Talking to tarea: the session (a cookie the browser keeps, plus the CSRF token every change
// must carry in X-CSRF-Token) and the /v1 API. Errors come back as ApiError with the server's
// code and message, which the pages show as they are: tarea's messages are written for people.
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let session = null;
const listeners = new Set();

export function currentSession() {
  return session;
}

/** Calls `fn()` when the session ends on its own (expired, key deleted): 401 from the API. */
export function onSessionLost(fn) {
  listeners.add(fn);
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf;
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", t("err.network"));
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = data && data.error;
    const err = new ApiError(res.status, e ? e.code : "http_" + res.status,
      e && e.message ? e.message : t("err.generic", { status: res.status }), e ? e.details : undefined);
    if (res.status === 401 && session && path.startsWith("/v1/")) {
      session = null;
      for (const fn of listeners) fn(err);
    }
    throw err;
  }
  return data;
}

/** The current session, or null when not signed in. */
export async function loadSession() {
  try {
    session = await request("GET", "/ui/session");
  } catch (err) {
    if (err.status !== 401) throw err;
    session = null;
  }
  return session;
}

export async function signIn(key) {
  session = await request("POST", "/ui/session", { key });
  return session;
}

export async function signOut() {
  try {
    await request("DELETE", "/ui/session");
  } finally {
    session = null;
  }
}

/** `path` with the query parameters that are set (empty strings and nulls are left out). */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** An admin looking at another tenant names it; everybody else acts in their own tenant. */
export function tenantParam(tenant) {
  return session && session.admin && tenant && tenant !== session.tenant ? tenant : undefined;
}

const enc = encodeURIComponent;

/** `{tenant}` for the query of a call in `tenant` (admins acting in another one), else nothing. */
const inTenant = (tenant) => ({ tenant: tenantParam(tenant) });

export const api = {
  jobs: (filters) => request("GET", withQuery("/v1/jobs", filters)),
  job: (id, tenant) => request("GET", withQuery(`/v1/jobs/${enc(id)}`, inTenant(tenant))),
  attempts: (id, tenant) => request("GET", withQuery(`/v1/jobs/${enc(id)}/attempts`, inTenant(tenant))),
  eventsUrl: (id, tenant) => withQuery(`/v1/jobs/${enc(id)}/events`, inTenant(tenant)),
  retry: (id, tenant) => request("POST", withQuery(`/v1/jobs/${enc(id)}/retry`, inTenant(tenant))),
  cancel: (id, tenant) => request("POST", withQuery(`/v1/jobs/${enc(id)}/cancel`, inTenant(tenant))),
  /** Retries, cancels or deletes many jobs: `{action, ids | filter, dry_run}` (POST /v1/jobs/actions). */
  bulk: (body, tenant) => request("POST", withQuery("/v1/jobs/actions", inTenant(tenant)), body),
  /** The live stream of a tenant's job changes (GET /v1/events): `{tenant}` or `{allTenants: true}`. */
  liveUrl: ({ tenant, allTenants } = {}) => withQuery("/v1/events", allTenants ? { all_tenants: "true" } : inTenant(tenant)),

  queues: (tenant) => request("GET", withQuery("/v1/queues", inTenant(tenant))),
  /** Replaces a queue's settings (PUT /v1/queues/{name}): an absent field means no limit. */
  queueUpdate: (name, settings, tenant) => request("PUT", withQuery(`/v1/queues/${enc(name)}`, inTenant(tenant)), settings),
  pause: (name, tenant) => request("POST", withQuery(`/v1/queues/${enc(name)}/pause`, inTenant(tenant))),
  resume: (name, tenant) => request("POST", withQuery(`/v1/queues/${enc(name)}/resume`, inTenant(tenant))),

  schedules: (tenant) => request("GET", withQuery("/v1/schedules", inTenant(tenant))),
  schedulePause: (name, tenant) => request("POST", withQuery(`/v1/schedules/${enc(name)}/pause`, inTenant(tenant))),
  scheduleResume: (name, tenant) => request("POST", withQuery(`/v1/schedules/${enc(name)}/resume`, inTenant(tenant))),
  /** Makes the schedule's job now; answers the job. */
  scheduleRun: (name, tenant) => request("POST", withQuery(`/v1/schedules/${enc(name)}/run`, inTenant(tenant))),

  /** A page of batches, newest first: `{batches, next_cursor}`. */
  batches: ({ limit, cursor } = {}, tenant) => request("GET", withQuery("/v1/batches", { limit, cursor, ...inTenant(tenant) })),
  batch: (id, tenant) => request("GET", withQuery(`/v1/batches/${enc(id)}`, inTenant(tenant))),
  batchRetry: (id, tenant) => request("POST", withQuery(`/v1/batches/${enc(id)}/retry`, inTenant(tenant))),
  batchCancel: (id, tenant) => request("POST", withQuery(`/v1/batches/${enc(id)}/cancel`, inTenant(tenant))),

  /** A page of the tenant's files, newest first: `{artifacts, next_cursor}`. */
  artifacts: ({ limit, cursor } = {}, tenant) => request("GET", withQuery("/v1/artifacts", { limit, cursor, ...inTenant(tenant) })),
  contentUrl: (artifact, tenant) => withQuery(artifact.content_url, inTenant(tenant)),

  workers: (tenant) => request("GET", withQuery("/v1/workers", inTenant(tenant))),
  stats: (window, tenant) => request("GET", withQuery("/v1/stats", { window, ...inTenant(tenant) })),

  // Admin keys only.
  tenants: () => request("GET", "/v1/tenants"),
  /** Every key, without secrets: `{keys: [{id, tenant, admin, read_only, created_at}]}`. */
  keys: () => request("GET", "/v1/keys"),
  /** `{tenant, admin, read_only}`; answers `{id, key, tenant, admin, read_only}`, the only time the secret is shown. */
  keyCreate: (body) => request("POST", "/v1/keys", body),
  keyDelete: (id) => request("DELETE", `/v1/keys/${enc(id)}`),
  /** A page of the audit log, newest first: `{entries, next_cursor}`; `tenant` filters. */
  audit: ({ limit, cursor, tenant } = {}) => request("GET", withQuery("/v1/audit", { limit, cursor, tenant })),
};

/**
 * A list read in cursor pages that can also be read again from its start, as far as it has
 * been shown (a refresh keeps what "Load more" added): `fetchPage({limit, cursor})` answers
 * `{items, next_cursor}`. The server takes at most 1,000 a page, so a refresh shows that many.
 */
export function cursorFeed(fetchPage, pageSize = 50) {
  // One read at a time, in order: a refresh never lands in the middle of a "Load more".
  let chain = Promise.resolve();
  const serial = (fn) => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
  const feed = {
    items: [],
    next: null,
    /** Reads the first `max(pageSize, shown)` items again. */
    reload: () => serial(async () => {
      const limit = Math.min(1000, Math.max(pageSize, feed.items.length));
      const page = await fetchPage({ limit });
      feed.items = page.items;
      feed.next = page.next_cursor;
      return feed;
    }),
    /** Adds the next page. */
    more: () => serial(async () => {
      if (!feed.next) return feed;
      const page = await fetchPage({ limit: pageSize, cursor: feed.next });
      const seen = new Set(feed.items.map((x) => x.id));
      feed.items = feed.items.concat(page.items.filter((x) => !seen.has(x.id)));
      feed.next = page.next_cursor;
      return feed;
    }),
  };
  return feed;
}
