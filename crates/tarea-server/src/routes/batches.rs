//! Batches: many independent jobs created together, followed as one (progress, counts by
//! state, per-item results through the job listing), cancelled or retried as one, with an
//! `on_complete` job made when every item has ended.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tarea_core::{Batch, BatchId, BatchState, ErrorCode, StateCounts, limits};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::{Json, Query};
use crate::validate::EnqueueRequest;
use crate::{ApiError, AppState};

/// Largest batch body: 10,000 items of a few hundred bytes each.
pub(crate) const MAX_BODY_BYTES: usize = 32 << 20;

/// Body of `POST /v1/batches`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchCreate {
    /// The items: bodies of `POST /v1/jobs`, 1 to 10,000. Each runs on its own; one failing
    /// stops nothing.
    jobs: Vec<EnqueueRequest>,
    /// A job made when every item has ended (succeeded, dead or cancelled), without `run_at`,
    /// `delay_ms`, `idempotency_key` and `cache_key`. Its payload (an object) gets `batch`:
    /// `{"id", "total", "succeeded", "failed", "failures": [{"job_id", "state", "error"}],
    /// "failures_truncated"}`.
    on_complete: Option<EnqueueRequest>,
}

/// Progress of a batch: items ended over items.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchProgress {
    /// 0..100.
    percent: f64,
    /// Items that ended.
    current: u64,
    /// Items.
    total: u64,
}

/// A batch.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchView {
    id: String,
    /// `running`, `succeeded` (every item succeeded) or `failed` (every item ended, and at
    /// least one is dead or cancelled).
    #[schema(value_type = String)]
    state: BatchState,
    /// Items.
    total: u64,
    /// Items by state.
    #[schema(value_type = Object)]
    counts: StateCounts,
    progress: BatchProgress,
    /// The kind of the `on_complete` job, if there is one.
    on_complete: Option<String>,
    /// The `on_complete` job, once made.
    on_complete_job_id: Option<String>,
    created_at: String,
    /// When its last item ended.
    finished_at: Option<String>,
    /// The items' ids, in the order given (only in the answer to `POST /v1/batches`).
    #[serde(skip_serializing_if = "Option::is_none")]
    job_ids: Option<Vec<String>>,
}

impl From<Batch> for BatchView {
    fn from(b: Batch) -> Self {
        let finished = b.finished();
        let percent = if b.total == 0 { 100.0 } else { (finished as f64 * 100.0 / b.total as f64).min(100.0) };
        BatchView {
            id: b.id.to_string(),
            state: b.state(),
            total: b.total,
            counts: b.counts,
            progress: BatchProgress { percent, current: finished, total: b.total },
            on_complete: b.on_complete.map(|s| s.kind),
            on_complete_job_id: b.callback_id.map(|id| id.to_string()),
            created_at: tarea_core::format_ms(b.created_at),
            finished_at: b.finished_at.map(tarea_core::format_ms),
            job_ids: None,
        }
    }
}

fn batch_id(raw: &str) -> Result<BatchId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("batch"))
}

async fn view(state: &AppState, tenant: &str, id: BatchId) -> Result<BatchView, ApiError> {
    let batch = state.store.batch_get(tenant, id).await?.ok_or_else(|| ApiError::not_found("batch"))?;
    Ok(batch.into())
}

/// Creates a batch and its items, all or nothing.
#[utoipa::path(post, path = "/v1/batches", request_body = BatchCreate, tag = "batches",
    params(("traceparent" = Option<String>, Header, description = "W3C trace context of the calling request: with job traces on, its trace gets a span for each job created")),
    responses((status = 201, body = BatchView, description = "Created, with job_ids"),
              (status = 400, description = "invalid_request: details.field names the item (jobs[3].kind)"),
              (status = 413, description = "payload_too_large (32 MiB)")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    Json(req): Json<BatchCreate>,
) -> Result<(StatusCode, axum::Json<BatchView>), ApiError> {
    let n = req.jobs.len();
    if n == 0 || n > limits::BATCH_ITEMS_MAX {
        return Err(ApiError::field(
            "jobs",
            format!("a batch holds 1 to {} jobs; got {n} (split it into several batches)", limits::BATCH_ITEMS_MAX),
        ));
    }
    let now = now_ms();
    let mut items = Vec::with_capacity(n);
    for (i, r) in req.jobs.into_iter().enumerate() {
        let prefix = format!("jobs[{i}]");
        let mut spec = r.into_spec(&state, &prefix, now)?;
        crate::payload_check::check(&state, &auth.tenant, &spec, &prefix).await?;
        crate::cache_scope::bind(&state, &auth.tenant, &mut spec, &prefix).await?;
        items.push(spec);
    }
    let on_complete = req.on_complete.map(|r| r.into_follow_up(&state, "on_complete", now, 1)).transpose()?;
    if let Some(spec) = &on_complete {
        crate::payload_check::check(&state, &auth.tenant, spec, "on_complete").await?;
        crate::cache_scope::bind(&state, &auth.tenant, &mut spec.clone(), "on_complete").await?;
    }
    let (batch, made) = state.store.batch_create(&auth.tenant, BatchId::new(), items, on_complete, now).await?;
    for e in made.iter().filter(|e| e.created) {
        state.metrics.jobs_enqueued(&e.job.tenant, &e.job.queue, &e.job.kind, 1);
    }
    super::jobs::trace_enqueue(&state, &headers, &made, now);
    tracing::info!(tenant = %auth.tenant, batch = %batch.id, items = n, "batch created");
    let mut view = BatchView::from(batch);
    view.job_ids = Some(made.into_iter().map(|e| e.job.id.to_string()).collect());
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// A page of a listing that is not of jobs: `GET /v1/batches`, `GET /v1/artifacts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// Page size, 1..1000 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Admin keys only: another tenant's (like the header `X-Tarea-Tenant`).
    #[allow(dead_code)]
    tenant: Option<String>,
}

impl PageQuery {
    /// The page size and where the page starts.
    pub(crate) fn parse<C: std::str::FromStr>(self) -> Result<(u32, Option<C>), ApiError> {
        super::page_of(self.limit, self.cursor)
    }
}

/// A page of batches.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchList {
    /// Newest first.
    batches: Vec<BatchView>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// The tenant's batches, newest first, each with its items counted by state.
#[utoipa::path(get, path = "/v1/batches", tag = "batches", params(PageQuery),
    responses((status = 200, body = BatchList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> Result<axum::Json<BatchList>, ApiError> {
    let (limit, cursor) = q.parse()?;
    let batches = state.store.batch_list(&auth.tenant, cursor, limit).await?;
    let next_cursor = (batches.len() == limit as usize).then(|| batches.last().map(|b| b.id.to_string())).flatten();
    Ok(axum::Json(BatchList { batches: batches.into_iter().map(BatchView::from).collect(), next_cursor }))
}

/// A batch: state, counts of its items by state, progress. Its items, with their results and
/// errors: `GET /v1/jobs?batch={id}` (filter by `state=dead` for the failures).
#[utoipa::path(get, path = "/v1/batches/{id}", tag = "batches",
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 200, body = BatchView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<BatchView>, ApiError> {
    Ok(axum::Json(view(&state, &auth.tenant, batch_id(&id)?).await?))
}

/// Cancels every item that has not ended; the batch then ends (`failed`) and its
/// `on_complete` job is made.
#[utoipa::path(post, path = "/v1/batches/{id}/cancel", tag = "batches",
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 200, body = BatchView), (status = 404, description = "not_found")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<BatchView>, ApiError> {
    let id = batch_id(&id)?;
    match state.store.batch_cancel(&auth.tenant, id, now_ms()).await {
        Ok(n) => tracing::info!(tenant = %auth.tenant, batch = %id, items = n, "batch cancelled"),
        Err(tarea_core::StoreError::NotFound) => return Err(ApiError::not_found("batch")),
        Err(e) => return Err(e.into()),
    }
    Ok(axum::Json(view(&state, &auth.tenant, id).await?))
}

/// Puts every dead, cancelled or failed item back in its queue with its attempts reset; the
/// batch runs again and its `on_complete` job is made again when the items end.
#[utoipa::path(post, path = "/v1/batches/{id}/retry", tag = "batches",
    params(("id" = String, Path, description = "Batch id")),
    responses((status = 200, body = BatchView), (status = 404, description = "not_found"),
              (status = 409, description = "conflict: no item to retry")))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<BatchView>, ApiError> {
    let id = batch_id(&id)?;
    match state.store.batch_retry_failed(&auth.tenant, id, now_ms()).await {
        Ok(0) => {
            return Err(ApiError::new(ErrorCode::Conflict, "no item of this batch is dead, cancelled or failed"));
        }
        Ok(n) => tracing::info!(tenant = %auth.tenant, batch = %id, items = n, "batch items retried"),
        Err(tarea_core::StoreError::NotFound) => return Err(ApiError::not_found("batch")),
        Err(e) => return Err(e.into()),
    }
    Ok(axum::Json(view(&state, &auth.tenant, id).await?))
}
