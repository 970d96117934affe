//! The audit log of the dashboard: every change made with a session (who, what, when, how
//! many) is written after it succeeds, and admins read it at `GET /v1/audit`. Changes made
//! with a bearer key are the app's own, logged by the app; this log is of people.
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tarea_core::{AuditEntry, format_ms};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Admin;
use crate::extract::Query;
use crate::{ApiError, AppState};

/// The header by which a route tells how many things a change touched (bulk actions).
pub(crate) const AFFECTED_HEADER: &str = "x-tarea-affected";
/// The header by which a route names what a change did where the route does not (a bulk
/// action's `cancel`, `retry` or `delete`).
pub(crate) const WHAT_HEADER: &str = "x-tarea-what";
/// The header by which a route tells that it only counted (a bulk action's dry run): not an
/// action, not logged.
pub(crate) const DRY_RUN_HEADER: &str = "x-tarea-dry-run";

/// Writes a successful change made with a session cookie to the audit log.
pub(crate) async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let by_session = !req.method().is_safe()
        && crate::auth::bearer_of(headers).is_none()
        && super::session::token(headers).is_some();
    // Signing in and out are the session's own business (a sign-in is logged by its handler).
    if !by_session || req.uri().path().starts_with("/ui/") {
        let mut res = next.run(req).await;
        for h in [DRY_RUN_HEADER, WHAT_HEADER, AFFECTED_HEADER] {
            res.headers_mut().remove(h);
        }
        return res;
    }
    let token = super::session::token(headers).unwrap_or_default().to_owned();
    let (headers, uri) = (headers.clone(), req.uri().clone());
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let mut res = next.run(req).await;
    // These headers are for this log, not for the client.
    let h = res.headers_mut();
    let (dry_run, what, affected) =
        (h.remove(DRY_RUN_HEADER).is_some(), h.remove(WHAT_HEADER), h.remove(AFFECTED_HEADER));
    if !res.status().is_success() || dry_run {
        return res;
    }
    // Looked up again (the handler's extractor does not hand its caller out): a sign-out has
    // ended the session by now, and needs no entry.
    if let Ok((key, _, _)) = super::session::find(&state, &token).await
        && let Ok(acting) = crate::auth::acting_tenant(&key, &headers, Some(&uri))
    {
        let count = affected.and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(1);
        let what = what.and_then(|v| v.to_str().ok().map(|w| format!(" ({w})"))).unwrap_or_default();
        let entry = AuditEntry {
            id: 0,
            at: now_ms(),
            tenant: acting,
            key_id: key.id,
            action: format!("{method} {}{what}", route.as_deref().unwrap_or(&path)),
            target: path,
            count,
        };
        append(&state, entry).await;
    }
    res
}

/// Appends an entry; a failure is logged, not turned into an error for a change that is done.
pub(crate) async fn append(state: &AppState, entry: AuditEntry) {
    if let Err(e) = state.store.audit_append(entry.clone()).await {
        tracing::error!(error = %e, action = %entry.action, key = %entry.key_id, "the audit log could not be written");
    }
}

/// Filters of `GET /v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Only this tenant's entries (default: every tenant's).
    tenant: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<i64>,
    /// Page size, 1..1000 (default 100).
    limit: Option<u32>,
}

/// One entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditView {
    /// RFC 3339.
    at: String,
    /// The tenant acted in.
    tenant: String,
    /// The key the session was opened with.
    key_id: String,
    /// The route: `POST /v1/jobs/{id}/retry`, `sign in`.
    action: String,
    /// The path acted on.
    target: String,
    /// How many things it touched.
    count: u64,
}

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// Newest first.
    entries: Vec<AuditView>,
    /// Pass as `cursor` for the next page; null at the end.
    next_cursor: Option<i64>,
}

/// The audit log of the dashboard, newest first (admin keys only).
#[utoipa::path(get, path = "/v1/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, description = "forbidden")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "limit must be between 1 and 1000"));
    }
    let entries = state.store.audit_list(q.tenant.as_deref(), q.cursor, limit).await?;
    let next_cursor = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(axum::Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditView {
                at: format_ms(e.at),
                tenant: e.tenant,
                key_id: e.key_id,
                action: e.action,
                target: e.target,
                count: e.count,
            })
            .collect(),
        next_cursor,
    }))
}
