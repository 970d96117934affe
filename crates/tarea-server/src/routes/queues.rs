//! Queues: list, settings, pause and resume.
use axum::extract::{Path, State};
use serde::Deserialize;
use tarea_core::{QueueSettings, RetryPolicy, validate_name};
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::Json;
use crate::views::{QueueList, QueueView};
use crate::{ApiError, AppState};

/// The tenant's queues.
#[utoipa::path(get, path = "/v1/queues", tag = "queues", responses((status = 200, body = QueueList)))]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<QueueList>, ApiError> {
    let queues = state.store.queue_list(Some(&auth.tenant)).await?;
    Ok(axum::Json(QueueList { queues: queues.into_iter().map(Into::into).collect() }))
}

/// A queue's settings; `PUT` replaces them all (an absent field means no limit / the default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueRequest {
    /// Most jobs running at once across all workers.
    concurrency: Option<u32>,
    /// Most job starts per second.
    rate_limit: Option<f64>,
    /// Most jobs waiting; past it enqueue answers 429 `queue_full`.
    max_depth: Option<u64>,
    /// Default attempts.
    max_attempts: Option<u32>,
    /// Default backoff.
    #[schema(value_type = Option<Object>)]
    retry: Option<RetryPolicy>,
    /// Keep succeeded jobs this long (s).
    retention_succeeded_s: Option<u64>,
    /// Keep dead and cancelled jobs this long (s).
    retention_dead_s: Option<u64>,
}

fn queue_name(name: &str) -> Result<(), ApiError> {
    validate_name(name).map_err(|e| ApiError::field("name", e.to_string()))
}

/// Sets a queue's settings (creating the queue).
#[utoipa::path(put, path = "/v1/queues/{name}", request_body = QueueRequest, tag = "queues",
    params(("name" = String, Path, description = "Queue name")), responses((status = 200, body = QueueView)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Json(req): Json<QueueRequest>,
) -> Result<axum::Json<QueueView>, ApiError> {
    queue_name(&name)?;
    if req.concurrency == Some(0) {
        return Err(ApiError::field("concurrency", "concurrency must be at least 1 (pause the queue to stop it)"));
    }
    if let Some(r) = req.rate_limit
        && !(r > 0.0 && r <= 1_000_000.0)
    {
        return Err(ApiError::field("rate_limit", "rate_limit must be a number of jobs per second above 0"));
    }
    if req.max_depth == Some(0) {
        return Err(ApiError::field("max_depth", "max_depth must be at least 1"));
    }
    if let Some(a) = req.max_attempts
        && !(1..=tarea_core::limits::MAX_ATTEMPTS_MAX).contains(&a)
    {
        return Err(ApiError::field("max_attempts", "max_attempts must be between 1 and 1000"));
    }
    if let Some(r) = req.retry
        && (r.base_ms == 0 || r.max_ms < r.base_ms)
    {
        return Err(ApiError::field("retry", "retry needs base_ms ≥ 1 and max_ms ≥ base_ms"));
    }
    const TEN_YEARS_S: u64 = 10 * 366 * 86_400;
    for (field, v) in [("retention_succeeded_s", req.retention_succeeded_s), ("retention_dead_s", req.retention_dead_s)]
    {
        if v.is_some_and(|s| s > TEN_YEARS_S) {
            return Err(ApiError::field(field, format!("{field} must be at most {TEN_YEARS_S} (ten years)")));
        }
    }
    let settings = QueueSettings {
        concurrency: req.concurrency,
        rate_limit: req.rate_limit,
        max_depth: req.max_depth,
        max_attempts: req.max_attempts,
        retry: req.retry,
        retention_succeeded_s: req.retention_succeeded_s,
        retention_dead_s: req.retention_dead_s,
    };
    let q = state.store.queue_update(&auth.tenant, &name, settings).await?;
    state.hub.poke(&auth.tenant);
    Ok(axum::Json(q.into()))
}

/// Pauses a queue: nothing more is claimed from it.
#[utoipa::path(post, path = "/v1/queues/{name}/pause", tag = "queues",
    params(("name" = String, Path, description = "Queue name")), responses((status = 200, body = QueueView)))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<QueueView>, ApiError> {
    queue_name(&name)?;
    Ok(axum::Json(state.store.queue_set_paused(&auth.tenant, &name, true).await?.into()))
}

/// Resumes a queue.
#[utoipa::path(post, path = "/v1/queues/{name}/resume", tag = "queues",
    params(("name" = String, Path, description = "Queue name")), responses((status = 200, body = QueueView)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<QueueView>, ApiError> {
    queue_name(&name)?;
    let q = state.store.queue_set_paused(&auth.tenant, &name, false).await?;
    state.hub.poke(&auth.tenant);
    Ok(axum::Json(q.into()))
}
