//! Browser links: `POST /v1/jobs/{id}/link` gives a signed, expiring URL with which a browser
//! follows one job — its view and its live events — and downloads what it made, without the
//! API key (which must never reach a browser). The link names the job and its expiry, signed
//! like artifact links; changing either refuses it.
//!
//! What a link shows is less than the API's view: no payload, tags or keys (the app's data
//! stays with the app), and the artifacts' `content_url`s are signed download links that end
//! with the link. The answers carry `Access-Control-Allow-Origin: *`: the link is the
//! credential, no cookie is involved, and the app's pages are on another origin.
use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tarea_core::{ErrorCode, JobId};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use super::artifacts::base_url;
use super::job_id;
use crate::auth::Auth;
use crate::extract::{Json, Query};
use crate::signing;
use crate::views::JobView;
use crate::{ApiError, AppState};

/// Longest a browser link lives: 7 days.
const LINK_MAX_S: u64 = 7 * 86_400;

/// Body of `POST /v1/jobs/{id}/link`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobLinkRequest {
    /// Seconds the link works, 1 to 604,800 (7 days). Default 3,600.
    expires_in_s: Option<u64>,
}

/// A browser link.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobLink {
    /// The job's view, without the API key.
    url: String,
    /// Its live events (Server-Sent Events).
    events_url: String,
    /// RFC 3339.
    expires_at: String,
}

/// The query of a link.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct Signed {
    /// Unix seconds.
    expires: Option<u64>,
    /// Hex HMAC.
    signature: Option<String>,
}

fn subject(id: JobId) -> String {
    format!("job/{id}")
}

/// Makes a browser link to one job of the tenant.
#[utoipa::path(post, path = "/v1/jobs/{id}/link", request_body = JobLinkRequest, tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobLink), (status = 404, description = "not_found")))]
pub(crate) async fn link(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Json(req): Json<JobLinkRequest>,
) -> Result<axum::Json<JobLink>, ApiError> {
    let id = job_id(&raw)?;
    let seconds = req.expires_in_s.unwrap_or(3_600);
    if seconds == 0 || seconds > LINK_MAX_S {
        return Err(ApiError::field("expires_in_s", format!("a link lives 1 to {LINK_MAX_S} seconds")));
    }
    state.store.job_get(Some(&auth.tenant), id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let expires = (now_ms() / 1000) as u64 + seconds;
    let signature = signing::sign_subject(&state.link_key, &subject(id), expires);
    let base = base_url(&state, &headers);
    let query = format!("expires={expires}&signature={signature}");
    Ok(axum::Json(JobLink {
        url: format!("{base}/v1/public/jobs/{id}?{query}"),
        events_url: format!("{base}/v1/public/jobs/{id}/events?{query}"),
        expires_at: tarea_core::format_ms(expires as i64 * 1000),
    }))
}

/// Checks a link; answers the job's tenant and the link's expiry.
async fn check(state: &AppState, raw: &str, q: &Signed) -> Result<(JobId, String, u64), ApiError> {
    let id = job_id(raw)?;
    let (Some(expires), Some(signature)) = (q.expires, q.signature.as_deref()) else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this link needs `expires` and `signature`; ask the app for a new one",
        ));
    };
    signing::verify_subject(&state.link_key, &subject(id), expires, signature, now_ms())?;
    let job = state.store.job_get(None, id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    Ok((id, job.tenant, expires))
}

/// The view a link shows: the API's, less the app's data, with signed download links.
fn shape(state: &AppState, view: JobView, expires: u64) -> Value {
    let mut v = serde_json::to_value(&view).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        for key in
            ["payload", "tenant", "tags", "idempotency_key", "cache_key", "lease_expires_at", "timeout_ms", "worker"]
        {
            m.remove(key);
        }
        if let Some(Value::Array(artifacts)) = m.get_mut("artifacts") {
            for a in artifacts.iter_mut() {
                let Some(id) = a.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok()) else { continue };
                let until = a
                    .get("expires_at")
                    .and_then(Value::as_str)
                    .and_then(tarea_core::parse_rfc3339_ms)
                    .map_or(expires, |ms| expires.min((ms / 1000).max(0) as u64));
                let sig = signing::sign(&state.link_key, id, until);
                a["content_url"] = Value::String(format!("/v1/artifacts/{id}/content?expires={until}&signature={sig}"));
                if let Some(m) = a.as_object_mut() {
                    m.remove("provenance");
                }
            }
        }
    }
    v
}

fn cors(mut res: Response) -> Response {
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A job through a browser link.
#[utoipa::path(get, path = "/v1/public/jobs/{id}", tag = "jobs", security(()),
    params(("id" = String, Path, description = "Job id"), Signed),
    responses((status = 200, description = "The job, as a link shows it"),
              (status = 403, description = "forbidden: the link was changed or has expired")))]
pub(crate) async fn job(State(state): State<AppState>, Path(raw): Path<String>, Query(q): Query<Signed>) -> Response {
    let result = async {
        let (id, tenant, expires) = check(&state, &raw, &q).await?;
        let job = state.store.job_get(Some(&tenant), id).await?.ok_or_else(|| ApiError::not_found("job"))?;
        let view = super::job_views(&state, vec![job]).await?.pop().ok_or_else(|| ApiError::not_found("job"))?;
        Ok::<_, ApiError>(axum::Json(shape(&state, view, expires)))
    }
    .await;
    cors(result.into_response())
}

/// A job's live events through a browser link (`EventSource`).
#[utoipa::path(get, path = "/v1/public/jobs/{id}/events", tag = "jobs", security(()),
    params(("id" = String, Path, description = "Job id"), Signed),
    responses((status = 200, content_type = "text/event-stream", description = "As /v1/jobs/{id}/events, as a link shows it"),
              (status = 403, description = "forbidden: the link was changed or has expired")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    async fn open(
        state: AppState,
        raw: String,
        q: Signed,
    ) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
        let (id, tenant, expires) = check(&state, &raw, &q).await?;
        super::stream::stream(state, tenant, id, Some((shape, expires)), None).await
    }
    cors(open(state, raw, q).await.into_response())
}
