//! The pull API for external workers. Every call after the claim carries the attempt it runs
//! under; the store refuses (409 `stale_attempt`) a call whose attempt is not current.
use std::time::Duration;

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tarea_core::{
    ClaimParams, CompleteParams, JobError, JobId, Outcome, ProgressUpdate, StoreError, format_ms, validate_name,
};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use super::job_id;
use crate::auth::Auth;
use crate::extract::Json;
use crate::views::{JobView, Jobs};
use crate::{ApiError, AppState};

/// Longest a long poll waits without looking again (rate-limited queues refill over time).
const RECHECK: Duration = Duration::from_millis(250);

/// What to claim.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimRequest {
    /// Queues to take work from (at least one).
    queues: Vec<String>,
    /// Only these kinds.
    kinds: Option<Vec<String>>,
    /// Most jobs to take (default 1).
    max: Option<u32>,
    /// Wait up to this long for work (long poll; default 0).
    wait_ms: Option<u64>,
    /// Lease length (default 30,000; 1,000..3,600,000).
    lease_ms: Option<u64>,
    /// The worker's name, shown in leases.
    worker: Option<String>,
}

fn check_names(field: &str, names: &[String]) -> Result<(), ApiError> {
    for (i, n) in names.iter().enumerate() {
        validate_name(n).map_err(|e| ApiError::field(&format!("{field}[{i}]"), e.to_string()))?;
    }
    Ok(())
}

/// Claims jobs of kinds that are not built in.
#[utoipa::path(post, path = "/v1/worker/claim", request_body = ClaimRequest, tag = "workers",
    responses((status = 200, body = Jobs, description = "Claimed jobs (possibly none); each holds a lease")))]
pub(crate) async fn claim(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<ClaimRequest>,
) -> Result<axum::Json<Jobs>, ApiError> {
    if req.queues.is_empty() || req.queues.len() > 64 {
        return Err(ApiError::field("queues", "name 1 to 64 queues to claim from"));
    }
    check_names("queues", &req.queues)?;
    if let Some(kinds) = &req.kinds {
        if kinds.is_empty() || kinds.len() > 64 {
            return Err(ApiError::field("kinds", "name 1 to 64 kinds, or leave kinds out for any"));
        }
        check_names("kinds", kinds)?;
    }
    let mut queues = req.queues.clone();
    queues.sort();
    queues.dedup();
    let kinds = req.kinds.clone().map(|mut k| {
        k.sort();
        k.dedup();
        k
    });
    let max = req.max.unwrap_or(1);
    if !(1..=state.limits.max_claim).contains(&max) {
        return Err(ApiError::field("max", format!("max must be between 1 and {}", state.limits.max_claim)));
    }
    let wait_ms = req.wait_ms.unwrap_or(0);
    if wait_ms > state.limits.max_wait_ms {
        return Err(ApiError::field("wait_ms", format!("wait_ms must be at most {}", state.limits.max_wait_ms)));
    }
    let lease_ms = req.lease_ms.unwrap_or(state.limits.default_lease_ms);
    if !(1_000..=3_600_000).contains(&lease_ms) {
        return Err(ApiError::field("lease_ms", "lease_ms must be between 1000 and 3600000"));
    }
    let worker = req.worker.unwrap_or_else(|| "external".into());
    if worker.is_empty() || worker.len() > 255 || worker.chars().any(char::is_control) {
        return Err(ApiError::field("worker", "worker must be 1 to 255 characters without control characters"));
    }
    if state.is_draining() {
        return Ok(axum::Json(Jobs { jobs: Vec::new() }));
    }
    super::workers::seen(&state, &auth.tenant, &worker, &queues, wait_ms);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let mut ready = state.hub.external_ready(&auth.tenant);
    loop {
        ready.borrow_and_update();
        let now = now_ms();
        let params = ClaimParams {
            tenant: Some(auth.tenant.clone()),
            queues: queues.clone(),
            kinds: kinds.clone(),
            builtin: false,
            max,
            lease_ms,
            worker: worker.clone(),
            now,
        };
        let jobs = claim_or_release(&state, params).await?;
        if !jobs.is_empty() || tokio::time::Instant::now() >= deadline {
            for j in &jobs {
                state.metrics.job_started(&j.tenant, &j.queue, &j.kind, (now - j.run_at) as f64 / 1000.0);
            }
            return Ok(axum::Json(Jobs { jobs: jobs.into_iter().map(Into::into).collect() }));
        }
        // Rate limits refill with time, not events: look again at least every RECHECK.
        let next = deadline.min(tokio::time::Instant::now() + RECHECK);
        tokio::select! {
            _ = ready.changed() => {}
            _ = tokio::time::sleep_until(next) => {}
            _ = state.shutdown.cancelled() => return Ok(axum::Json(Jobs { jobs: Vec::new() })),
        }
    }
}

/// Claims in a task of its own: if the caller goes away (the client disconnected and axum
/// dropped the handler) while the claim is in flight, the claimed jobs are released at once
/// instead of waiting out their lease and counting a lost lease.
async fn claim_or_release(state: &AppState, params: ClaimParams) -> Result<Vec<tarea_core::Job>, ApiError> {
    let store = std::sync::Arc::clone(&state.store);
    let tenant = params.tenant.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let claimed = store.job_claim(params).await;
        if let Err(Ok(jobs)) = tx.send(claimed) {
            for job in jobs {
                let release = CompleteParams {
                    id: job.id,
                    tenant: tenant.clone(),
                    attempt: job.attempt,
                    outcome: Outcome::Released,
                    now: now_ms(),
                };
                if let Err(e) = store.job_complete_if_attempt(release).await {
                    tracing::warn!(job = %job.id, error = %e, "could not release a job claimed for a client that left");
                }
            }
        }
    });
    match rx.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(ApiError::new(tarea_core::ErrorCode::Internal, "the claim task stopped; it has been logged")),
    }
}

/// A lease renewal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeartbeatRequest {
    /// The attempt the worker holds.
    attempt: u32,
    /// New lease length from now (default: 30,000).
    lease_ms: Option<u64>,
}

/// The renewed lease.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LeaseView {
    /// Job id.
    id: String,
    /// The attempt.
    attempt: u32,
    /// RFC 3339.
    lease_expires_at: String,
}

async fn refusal(state: &AppState, tenant: &str, id: JobId, attempt: u32) -> ApiError {
    match state.store.job_get(Some(tenant), id).await {
        Ok(Some(job)) => StoreError::StaleAttempt { attempt, current: job.attempt, state: job.state }.into(),
        Ok(None) => ApiError::not_found("job"),
        Err(e) => e.into(),
    }
}

/// Renews a lease.
#[utoipa::path(post, path = "/v1/jobs/{id}/heartbeat", request_body = HeartbeatRequest, tag = "workers",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = LeaseView), (status = 409, description = "stale_attempt")))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<HeartbeatRequest>,
) -> Result<axum::Json<LeaseView>, ApiError> {
    let id = job_id(&id)?;
    let lease_ms = req.lease_ms.unwrap_or(state.limits.default_lease_ms);
    if !(1_000..=3_600_000).contains(&lease_ms) {
        return Err(ApiError::field("lease_ms", "lease_ms must be between 1000 and 3600000"));
    }
    let now = now_ms();
    let kept = state.store.lease_renew_if_attempt(Some(&auth.tenant), &[(id, req.attempt)], lease_ms, now).await?;
    if kept.first() != Some(&true) {
        return Err(refusal(&state, &auth.tenant, id, req.attempt).await);
    }
    Ok(axum::Json(LeaseView {
        id: id.to_string(),
        attempt: req.attempt,
        lease_expires_at: format_ms(now + lease_ms as i64),
    }))
}

/// A progress report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProgressRequest {
    /// The attempt the worker holds.
    attempt: u32,
    /// 0..100.
    percent: Option<f64>,
    /// What the job is doing.
    step: Option<String>,
    /// Items done.
    current: Option<u64>,
    /// Items in all.
    total: Option<u64>,
}

/// Records progress.
#[utoipa::path(post, path = "/v1/jobs/{id}/progress", request_body = ProgressRequest, tag = "workers",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 409, description = "stale_attempt")))]
pub(crate) async fn progress(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<ProgressRequest>,
) -> Result<axum::Json<JobView>, ApiError> {
    if let Some(p) = req.percent
        && !(0.0..=100.0).contains(&p)
    {
        return Err(ApiError::field("percent", "percent must be between 0 and 100"));
    }
    if req.step.as_ref().is_some_and(|s| s.len() > 1000) {
        return Err(ApiError::field("step", "step must be at most 1000 bytes"));
    }
    let update = ProgressUpdate { percent: req.percent, step: req.step, current: req.current, total: req.total };
    let job = state.store.job_progress_if_attempt(Some(&auth.tenant), job_id(&id)?, req.attempt, update).await?;
    Ok(axum::Json(job.into()))
}

/// A successful end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteRequest {
    /// The attempt the worker holds.
    attempt: u32,
    /// Output, any JSON.
    #[schema(value_type = Option<Object>)]
    result: Option<Box<RawValue>>,
}

async fn finish(
    state: &AppState,
    auth: &Auth,
    id: &str,
    attempt: u32,
    outcome: Outcome,
) -> Result<axum::Json<JobView>, ApiError> {
    let params = CompleteParams { id: job_id(id)?, tenant: Some(auth.tenant.clone()), attempt, outcome, now: now_ms() };
    let job = state.store.job_complete_if_attempt(params).await?;
    if let (Some(start), Some(end)) = (job.started_at, job.finished_at) {
        state.metrics.job_ran(&job.tenant, &job.queue, &job.kind, (end - start).max(0) as f64 / 1000.0);
    }
    super::jobs::one_view(state, job).await
}

/// Completes a job.
#[utoipa::path(post, path = "/v1/jobs/{id}/complete", request_body = CompleteRequest, tag = "workers",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 409, description = "stale_attempt")))]
pub(crate) async fn complete(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<CompleteRequest>,
) -> Result<axum::Json<JobView>, ApiError> {
    finish(&state, &auth, &id, req.attempt, Outcome::Succeeded { result: req.result }).await
}

/// A failed attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FailRequest {
    /// The attempt the worker holds.
    attempt: u32,
    /// What went wrong.
    #[schema(value_type = Object)]
    error: JobError,
    /// Whether another attempt may help (default true).
    retryable: Option<bool>,
}

/// Fails an attempt: retried with backoff while attempts remain, else dead.
#[utoipa::path(post, path = "/v1/jobs/{id}/fail", request_body = FailRequest, tag = "workers",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 409, description = "stale_attempt")))]
pub(crate) async fn fail(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<FailRequest>,
) -> Result<axum::Json<JobView>, ApiError> {
    if req.error.code.is_empty() || req.error.code.len() > 64 {
        return Err(ApiError::field("error.code", "error.code must be 1 to 64 characters"));
    }
    if req.error.message.len() > 10_000 {
        return Err(ApiError::field("error.message", "error.message must be at most 10,000 bytes"));
    }
    let outcome = Outcome::Failed { error: req.error, retryable: req.retryable.unwrap_or(true) };
    finish(&state, &auth, &id, req.attempt, outcome).await
}

/// One completion of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteItem {
    /// Job id.
    id: String,
    /// The attempt the worker holds.
    attempt: u32,
    /// Output, any JSON.
    #[schema(value_type = Option<Object>)]
    result: Option<Box<RawValue>>,
}

/// Many completions in one request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteManyRequest {
    /// 1 to 1,000 completions.
    jobs: Vec<CompleteItem>,
}

/// What happened to one completion of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CompleteOutcome {
    /// Job id, as sent.
    id: String,
    /// True when the job is now `succeeded` by this call.
    ok: bool,
    /// Why not (`stale_attempt`, `not_found`), as in the single-job call.
    #[schema(value_type = Option<Object>)]
    error: Option<serde_json::Value>,
}

/// The outcomes, in the order sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CompleteManyView {
    /// One per completion sent.
    results: Vec<CompleteOutcome>,
}

/// Completes many jobs at once (each fenced by its attempt, applied or refused on its own).
#[utoipa::path(post, path = "/v1/worker/complete", request_body = CompleteManyRequest, tag = "workers",
    responses((status = 200, body = CompleteManyView, description = "Per-job outcomes; refusals are not an error of the request")))]
pub(crate) async fn complete_many(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CompleteManyRequest>,
) -> Result<axum::Json<CompleteManyView>, ApiError> {
    let max = state.limits.max_batch;
    if req.jobs.is_empty() || req.jobs.len() > max {
        return Err(ApiError::field("jobs", format!("send 1 to {max} completions; got {}", req.jobs.len())));
    }
    let now = now_ms();
    let mut ids = Vec::with_capacity(req.jobs.len());
    let mut params = Vec::new();
    for item in req.jobs {
        // A malformed id is answered like an unknown one, in its place in the results.
        if let Ok(id) = item.id.parse::<JobId>() {
            let outcome = Outcome::Succeeded { result: item.result };
            params.push(CompleteParams { id, tenant: Some(auth.tenant.clone()), attempt: item.attempt, outcome, now });
            ids.push((item.id, true));
        } else {
            ids.push((item.id, false));
        }
    }
    let mut outcomes = state.store.job_complete_many_if_attempt(params).await?.into_iter();
    let results = ids
        .into_iter()
        .map(|(id, sent)| {
            let not_found = || Err(tarea_core::StoreError::NotFound);
            match if sent { outcomes.next().unwrap_or_else(not_found) } else { not_found() } {
                Ok(()) => CompleteOutcome { id, ok: true, error: None },
                Err(e) => {
                    let e = ApiError::from(e);
                    let error =
                        serde_json::json!({"code": e.code.as_str(), "message": e.message, "details": e.details});
                    CompleteOutcome { id, ok: false, error: Some(error) }
                }
            }
        })
        .collect();
    Ok(axum::Json(CompleteManyView { results }))
}
