//! Webhook subscriptions: `POST|GET /v1/webhooks`, `GET|DELETE /v1/webhooks/{id}`, and each
//! one's delivery log, `GET /v1/webhooks/{id}/deliveries` (the delivery jobs, newest first).
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tarea_core::{ErrorCode, JobFilter, WEBHOOK_KIND, Webhook, WebhookEvent, WebhookId, WebhookSpec, validate_name};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::{Json, Query};
use crate::views::JobList;
use crate::{ApiError, AppState};

/// Most subscriptions of a tenant.
const WEBHOOKS_MAX: usize = 50;

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookCreate {
    /// Where events are POSTed; it must pass the tenant's `http` allow-list.
    #[schema(example = "https://app.example.com/tarea/eventos")]
    url: String,
    /// `job.succeeded`, `job.failed`, `job.dead`, `job.cancelled`, `batch.done`.
    events: Vec<String>,
    /// Only jobs of these kinds (default: any).
    #[serde(default)]
    kinds: Vec<String>,
    /// Only jobs of these queues (default: any).
    #[serde(default)]
    queues: Vec<String>,
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: String,
    url: String,
    events: Vec<&'static str>,
    kinds: Vec<String>,
    queues: Vec<String>,
    created_at: String,
    /// Its delivery log.
    deliveries_url: String,
}

impl From<Webhook> for WebhookView {
    fn from(h: Webhook) -> Self {
        WebhookView {
            deliveries_url: format!("/v1/webhooks/{}/deliveries", h.id),
            id: h.id.to_string(),
            url: h.spec.url,
            events: h.spec.events.iter().map(|e| e.as_str()).collect(),
            kinds: h.spec.kinds,
            queues: h.spec.queues,
            created_at: tarea_core::format_ms(h.created_at),
        }
    }
}

/// A tenant's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<WebhookView>,
}

fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("webhook"))
}

/// Checks the URL as a delivery would (the allow-list, no private addresses).
async fn check_url(state: &AppState, tenant: &str, url: &str) -> Result<(), ApiError> {
    let Some(handler) = state.handlers.as_ref().and_then(|h| h.get(WEBHOOK_KIND)) else { return Ok(()) };
    let probe = serde_json::json!({"webhook": "", "url": url, "event": "job.succeeded", "body": {}});
    let raw = serde_json::value::to_raw_value(&probe).map_err(|e| ApiError::internal(e.to_string()))?;
    handler.check(tenant, &raw).await.map_err(|e| ApiError::field("url", e.message))
}

/// Subscribes to events.
#[utoipa::path(post, path = "/v1/webhooks", request_body = WebhookCreate, tag = "webhooks",
    responses((status = 201, body = WebhookView),
              (status = 400, description = "invalid_request: url outside the allow-list, unknown event, …")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<WebhookCreate>,
) -> Result<(StatusCode, axum::Json<WebhookView>), ApiError> {
    if req.events.is_empty() {
        return Err(ApiError::field("events", "events names at least one event, e.g. [\"job.dead\"]"));
    }
    let mut events = Vec::with_capacity(req.events.len());
    for (i, e) in req.events.iter().enumerate() {
        events.push(e.parse::<WebhookEvent>().map_err(|m| ApiError::field(&format!("events[{i}]"), m))?);
    }
    for (field, names) in [("kinds", &req.kinds), ("queues", &req.queues)] {
        for (i, n) in names.iter().enumerate() {
            validate_name(n).map_err(|e| ApiError::field(&format!("{field}[{i}]"), e.to_string()))?;
        }
    }
    check_url(&state, &auth.tenant, &req.url).await?;
    if state.store.webhook_list(&auth.tenant).await?.len() >= WEBHOOKS_MAX {
        return Err(ApiError::new(ErrorCode::Conflict, format!("a tenant has at most {WEBHOOKS_MAX} webhooks")));
    }
    let spec = WebhookSpec { url: req.url, events, kinds: req.kinds, queues: req.queues };
    let hook = state.store.webhook_create(&auth.tenant, spec, now_ms()).await?;
    tracing::info!(tenant = %auth.tenant, webhook = %hook.id, "webhook created");
    Ok((StatusCode::CREATED, axum::Json(hook.into())))
}

/// The tenant's subscriptions.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", responses((status = 200, body = WebhookList)))]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<WebhookList>, ApiError> {
    let webhooks = state.store.webhook_list(&auth.tenant).await?.into_iter().map(WebhookView::from).collect();
    Ok(axum::Json(WebhookList { webhooks }))
}

/// One subscription.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<WebhookView>, ApiError> {
    let hook =
        state.store.webhook_get(&auth.tenant, webhook_id(&id)?).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(axum::Json(hook.into()))
}

/// Deletes a subscription; deliveries already made stay in the log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.webhook_delete(&auth.tenant, webhook_id(&id)?).await? {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Paging of the delivery log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
    /// Page size, 1..1000 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The delivery log: one job per event delivered, newest first, with its state, attempts,
/// the receiver's answer (`result.status`) or the last error.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), DeliveryQuery),
    responses((status = 200, body = JobList), (status = 404, description = "not_found")))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<axum::Json<JobList>, ApiError> {
    let id = webhook_id(&id)?;
    let (limit, cursor) = super::page_of(q.limit, q.cursor)?;
    // A deleted subscription's log is still readable by its id.
    let filter = JobFilter { tag: Some(format!("webhook:{id}")), limit, cursor, ..Default::default() };
    Ok(axum::Json(super::job_page(&state, &auth.tenant, filter).await?))
}
