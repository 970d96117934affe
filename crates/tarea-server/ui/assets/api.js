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

export const api = {
  jobs: (filters) => request("GET", withQuery("/v1/jobs", filters)),
  job: (id, tenant) => request("GET", withQuery(`/v1/jobs/${enc(id)}`, { tenant: tenantParam(tenant) })),
  attempts: (id, tenant) => request("GET", withQuery(`/v1/jobs/${enc(id)}/attempts`, { tenant: tenantParam(tenant) })),
  eventsUrl: (id, tenant) => withQuery(`/v1/jobs/${enc(id)}/events`, { tenant: tenantParam(tenant) }),
  retry: (id, tenant) => request("POST", withQuery(`/v1/jobs/${enc(id)}/retry`, { tenant: tenantParam(tenant) })),
  cancel: (id, tenant) => request("POST", withQuery(`/v1/jobs/${enc(id)}/cancel`, { tenant: tenantParam(tenant) })),
  /** Retries, cancels or deletes many jobs: `{action, ids | filter, dry_run}` (POST /v1/jobs/actions). */
  bulk: (body, tenant) => request("POST", withQuery("/v1/jobs/actions", { tenant: tenantParam(tenant) }), body),
  queues: (tenant) => request("GET", withQuery("/v1/queues", { tenant: tenantParam(tenant) })),
  pause: (name, tenant) => request("POST", withQuery(`/v1/queues/${enc(name)}/pause`, { tenant: tenantParam(tenant) })),
  resume: (name, tenant) => request("POST", withQuery(`/v1/queues/${enc(name)}/resume`, { tenant: tenantParam(tenant) })),
  tenants: () => request("GET", "/v1/tenants"),
  stats: (window, tenant) => request("GET", withQuery("/v1/stats", { window, tenant: tenantParam(tenant) })),
  workers: (tenant) => request("GET", withQuery("/v1/workers", { tenant: tenantParam(tenant) })),
  contentUrl: (artifact, tenant) => withQuery(artifact.content_url, { tenant: tenantParam(tenant) }),
};
