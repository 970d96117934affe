//! Creating, reading, listing, cancelling and retrying jobs.
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use tarea_core::{Enqueued, ErrorCode, JobFilter};
use tarea_runtime::now_ms;
use utoipa::IntoParams;

use super::job_filter::FilterFields;
use super::job_id;
use crate::auth::Auth;
use crate::extract::{Json, Query};
use crate::validate::{BatchRequest, EnqueueRequest};
use crate::views::{Attempts, JobList, JobView, Jobs};
use crate::{ApiError, AppState};

fn count_created(state: &AppState, done: &[Enqueued]) {
    for e in done.iter().filter(|e| e.created) {
        state.metrics.jobs_enqueued(&e.job.tenant, &e.job.queue, &e.job.kind, 1);
    }
}

/// With job traces on, a request that carries a W3C `traceparent` (the app's own tracing) gets
/// a span for each job it created, from `started_at` (ms) to now, linked to the job's trace.
pub(crate) fn trace_enqueue(state: &AppState, headers: &HeaderMap, done: &[Enqueued], started_at: i64) {
    let (Some(tracer), Some(parent)) = (&state.tracer, headers.get("traceparent")) else { return };
    if let Ok(parent) = parent.to_str() {
        tracer.enqueued_by(done.iter().filter(|e| e.created).map(|e| &e.job), parent, started_at);
    }
}

/// Creates a job.
#[utoipa::path(post, path = "/v1/jobs", request_body = EnqueueRequest, tag = "jobs",
    params(("traceparent" = Option<String>, Header, description = "W3C trace context of the calling request: with job traces on, its trace gets a span for each job created")),
    responses((status = 201, body = JobView, description = "Created"),
              (status = 200, body = JobView, description = "An existing job with the same idempotency key"),
              (status = 400, description = "invalid_json / invalid_request"),
              (status = 429, description = "queue_full")))]
pub(crate) async fn enqueue(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Json(req): Json<EnqueueRequest>,
) -> Result<(StatusCode, axum::Json<JobView>), ApiError> {
    let now = now_ms();
    let mut spec = req.into_spec(&state, "", now)?;
    crate::payload_check::check(&state, &auth.tenant, &spec, "").await?;
    crate::cache_scope::bind(&state, &auth.tenant, &mut spec, "").await?;
    let mut done = state.store.job_enqueue(&auth.tenant, vec![spec], now).await?;
    count_created(&state, &done);
    trace_enqueue(&state, &headers, &done, now);
    let e = done.pop().ok_or_else(|| ApiError::not_found("job"))?;
    if e.created {
        // A new job has made nothing yet.
        return Ok((StatusCode::CREATED, axum::Json(e.job.into())));
    }
    Ok((StatusCode::OK, one_view(&state, e.job).await?))
}

/// The view of one job with its artifacts.
pub(crate) async fn one_view(state: &AppState, job: tarea_core::Job) -> Result<axum::Json<JobView>, ApiError> {
    let view = super::job_views(state, vec![job]).await?.pop().ok_or_else(|| ApiError::not_found("job"))?;
    Ok(axum::Json(view))
}

/// Creates many jobs, all or nothing.
#[utoipa::path(post, path = "/v1/jobs/batch", request_body = BatchRequest, tag = "jobs",
    params(("traceparent" = Option<String>, Header, description = "W3C trace context of the calling request: with job traces on, its trace gets a span for each job created")),
    responses((status = 201, body = Jobs), (status = 400, description = "invalid_request (field names the job)")))]
pub(crate) async fn enqueue_batch(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Json(req): Json<BatchRequest>,
) -> Result<(StatusCode, axum::Json<Jobs>), ApiError> {
    let max = state.limits.max_batch;
    if req.jobs.is_empty() || req.jobs.len() > max {
        return Err(ApiError::field("jobs", format!("a batch holds 1 to {max} jobs; got {}", req.jobs.len())));
    }
    let now = now_ms();
    let mut specs = req
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.into_spec(&state, &format!("jobs[{i}]"), now))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, spec) in specs.iter_mut().enumerate() {
        let prefix = format!("jobs[{i}]");
        crate::payload_check::check(&state, &auth.tenant, spec, &prefix).await?;
        crate::cache_scope::bind(&state, &auth.tenant, spec, &prefix).await?;
    }
    let done = state.store.job_enqueue(&auth.tenant, specs, now).await?;
    count_created(&state, &done);
    trace_enqueue(&state, &headers, &done, now);
    let jobs = done.into_iter().map(|e| e.job.into()).collect();
    Ok((StatusCode::CREATED, axum::Json(Jobs { jobs })))
}

/// One job.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<JobView>, ApiError> {
    let id = job_id(&id)?;
    let job = state.store.job_get(Some(&auth.tenant), id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let view = super::job_views(&state, vec![job]).await?.pop().ok_or_else(|| ApiError::not_found("job"))?;
    Ok(axum::Json(view))
}

/// Every attempt of a job: when, where, how long, how it ended.
#[utoipa::path(get, path = "/v1/jobs/{id}/attempts", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = Attempts), (status = 404, description = "not_found")))]
pub(crate) async fn attempts(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<Attempts>, ApiError> {
    let id = job_id(&id)?;
    let job = state.store.job_get(Some(&auth.tenant), id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let kept = state.store.job_attempts(Some(&auth.tenant), id).await?;
    let attempts = tarea_core::attempts_of(&job, kept).into_iter().map(Into::into).collect();
    Ok(axum::Json(Attempts { attempts }))
}

/// Filters of `GET /v1/jobs`: those of [`FilterFields`], flat in the query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this state.
    state: Option<String>,
    /// Only this queue.
    queue: Option<String>,
    /// Only this kind.
    kind: Option<String>,
    /// Only jobs with this tag.
    tag: Option<String>,
    /// Only the items of this batch.
    batch: Option<String>,
    /// Only jobs created at or after this time (RFC 3339).
    created_after: Option<String>,
    /// Only jobs created before this time (RFC 3339).
    created_before: Option<String>,
    /// Only jobs whose payload, result or error holds these words, in this order (letter case
    /// and accents aside; the last word may be the start of a longer one).
    search: Option<String>,
    /// Admin keys only: every tenant's jobs, newest first (each job view names its tenant).
    all_tenants: Option<bool>,
    /// Page size, 1..1000 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Admin keys only: another tenant's jobs (like the header `X-Tarea-Tenant`).
    #[allow(dead_code)]
    tenant: Option<String>,
}

/// The tenant's jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobList), (status = 403, description = "all_tenants with a tenant key")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<JobList>, ApiError> {
    let all_tenants = q.all_tenants.unwrap_or(false);
    if all_tenants && !auth.admin {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an admin key may list every tenant's jobs"));
    }
    let (limit, cursor) = super::page_of(q.limit, q.cursor)?;
    let fields = FilterFields {
        state: q.state,
        queue: q.queue,
        kind: q.kind,
        tag: q.tag,
        batch: q.batch,
        created_after: q.created_after,
        created_before: q.created_before,
        search: q.search,
    };
    let filter = JobFilter { cursor, all_tenants, ..fields.parse("", limit)? };
    Ok(axum::Json(super::job_page(&state, &auth.tenant, filter).await?))
}

/// Cancels a job that has not finished.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 409, description = "illegal_transition")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<JobView>, ApiError> {
    let job = state.store.job_cancel(&auth.tenant, job_id(&id)?, now_ms()).await?;
    one_view(&state, job).await
}

/// Puts a dead, cancelled or failed job back in its queue with attempts reset.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 409, description = "illegal_transition")))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<JobView>, ApiError> {
    let job = state.store.job_retry(&auth.tenant, job_id(&id)?, now_ms()).await?;
    one_view(&state, job).await
}
