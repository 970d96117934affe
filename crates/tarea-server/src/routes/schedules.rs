//! Schedules: a cron pattern in a time zone and the job each tick makes. Stored with
//! `PUT /v1/schedules/{name}` (create or replace), read, listed, paused, resumed, run at once,
//! deleted. The leader fires them (`tarea-runtime`'s scheduler).
//!
//! A schedule's job is validated like `POST /v1/jobs` when it is stored, but it keeps no
//! template version: each tick renders the tenant's newest template, as a job enqueued at that
//! moment would.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tarea_core::{
    CronSchedule, ErrorCode, JobSpec, MissedPolicy, RetryPolicy, Schedule, ScheduleError, ScheduleSpec, limits,
};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::extract::Json;
use crate::validate::EnqueueRequest;
use crate::views::JobView;
use crate::{ApiError, AppState};

/// Ticks listed in a view's `next_runs`.
const NEXT_RUNS: usize = 5;

/// Body of `PUT /v1/schedules/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchedulePut {
    /// Cron pattern: five fields (minute hour day-of-month month day-of-week), or six with
    /// seconds first; `@hourly`, `@daily`, `@weekly`, `@monthly`; names such as `MON` or `JAN`.
    #[schema(example = "0 2 * * *")]
    cron: String,
    /// IANA time zone the pattern is read in, with its daylight-saving rules. Default `UTC`.
    #[schema(example = "America/Argentina/Buenos_Aires")]
    timezone: Option<String>,
    /// The job each tick makes: the body of `POST /v1/jobs` without `run_at`, `delay_ms`,
    /// `idempotency_key` or `cache_key`.
    job: EnqueueRequest,
    /// Store it paused (or resumed). Absent: a new schedule runs; a stored one keeps its state.
    paused: Option<bool>,
    /// Ticks missed while tarea was down (over a minute late): `run_once` (default) makes one
    /// job on catch-up, for the latest; `skip` makes none.
    #[schema(value_type = Option<String>, example = "run_once")]
    missed: Option<String>,
}

/// The job a schedule makes, as `POST /v1/jobs` takes it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleJobView {
    kind: String,
    queue: String,
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    retry: Option<RetryPolicy>,
    tags: Vec<String>,
}

impl From<JobSpec> for ScheduleJobView {
    fn from(s: JobSpec) -> Self {
        ScheduleJobView {
            kind: s.kind,
            queue: s.queue,
            payload: s.payload,
            priority: s.priority,
            max_attempts: s.max_attempts,
            timeout_ms: s.timeout_ms,
            retry: s.retry,
            tags: s.tags,
        }
    }
}

/// A schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleView {
    name: String,
    cron: String,
    timezone: String,
    /// The pattern in words, e.g. "At 02:00".
    description: String,
    job: ScheduleJobView,
    paused: bool,
    /// `run_once` or `skip`.
    missed: &'static str,
    /// The next tick (RFC 3339, UTC); null while paused.
    next_run_at: Option<String>,
    /// The next few ticks in the schedule's own time zone, e.g. `2026-11-29T02:00:00-03:00`;
    /// empty while paused.
    next_runs: Vec<String>,
    /// The tick of the last job it made.
    last_run_at: Option<String>,
    /// The last job it made; its runs are also listed by `GET /v1/jobs?tag=schedule:{name}`.
    last_job_id: Option<String>,
    /// Why the last tick made no job (its queue was full), if it made none.
    last_error: Option<String>,
    /// Jobs it has made.
    runs: u64,
    created_at: String,
    updated_at: String,
}

impl ScheduleView {
    fn new(s: Schedule) -> Self {
        let cron = CronSchedule::parse(&s.cron, &s.timezone).ok();
        let next_runs = match (&cron, s.next_run_at) {
            (Some(c), Some(next)) => {
                std::iter::once(next).chain(c.next_runs(next, NEXT_RUNS - 1)).map(|t| c.format_local(t)).collect()
            }
            _ => Vec::new(),
        };
        ScheduleView {
            description: cron.as_ref().map(CronSchedule::describe).unwrap_or_default(),
            name: s.name,
            cron: s.cron,
            timezone: s.timezone,
            job: s.job.into(),
            paused: s.paused,
            missed: s.missed.as_str(),
            next_run_at: s.next_run_at.map(tarea_core::format_ms),
            next_runs,
            last_run_at: s.last_run_at.map(tarea_core::format_ms),
            last_job_id: s.last_job_id.map(|id| id.to_string()),
            last_error: s.last_error,
            runs: s.runs,
            created_at: tarea_core::format_ms(s.created_at),
            updated_at: tarea_core::format_ms(s.updated_at),
        }
    }
}

/// A tenant's schedules.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleList {
    schedules: Vec<ScheduleView>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no schedule {name:?} in this tenant"))
}

/// Validates the body into what the store keeps; refusals name the field.
async fn spec_of(state: &AppState, tenant: &str, name: &str, req: SchedulePut) -> Result<ScheduleSpec, ApiError> {
    let timezone = req.timezone.unwrap_or_else(|| "UTC".into());
    CronSchedule::parse(&req.cron, &timezone).map_err(|e| match e {
        ScheduleError::Cron(m) => ApiError::field("cron", m),
        ScheduleError::TimeZone(m) => ApiError::field("timezone", m),
    })?;
    let missed = match req.missed {
        Some(m) => m.parse::<MissedPolicy>().map_err(|e| ApiError::field("missed", e))?,
        None => MissedPolicy::default(),
    };
    req.job.refuse_start_and_keys(
        "job",
        "a schedule makes its job at each tick, keyed schedule:{name}:{tick}, and anew every time",
    )?;
    if req.job.tags.as_ref().is_some_and(|t| t.len() > limits::SCHEDULE_TAGS_MAX) {
        return Err(ApiError::field(
            "job.tags",
            "a schedule's job takes at most 31 tags (each tick adds schedule:{name})",
        ));
    }
    let job = req.job.into_spec(state, "job", now_ms())?;
    // The template must exist now; the stored job keeps no version, so each tick renders the
    // newest one.
    crate::payload_check::check(state, tenant, &job, "job").await?;
    crate::cache_scope::bind(state, tenant, &mut job.clone(), "job").await?;
    let paused = match req.paused {
        Some(p) => p,
        None => state.store.schedule_get(tenant, name).await?.is_some_and(|s| s.paused),
    };
    Ok(ScheduleSpec { name: name.to_owned(), cron: req.cron.trim().to_owned(), timezone, job, paused, missed })
}

/// Creates or replaces a schedule. Storing it again with the same pattern and zone keeps a
/// tick that is due and has not fired yet.
#[utoipa::path(put, path = "/v1/schedules/{name}", request_body = SchedulePut, tag = "schedules",
    params(("name" = String, Path, description = "Schedule name (lowercase letters, digits, '.', '_', '-')")),
    responses((status = 201, body = ScheduleView, description = "Created"),
              (status = 200, body = ScheduleView, description = "Replaced"),
              (status = 400, description = "invalid_request: details.field names cron, timezone, missed or job.*")))]
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Json(req): Json<SchedulePut>,
) -> Result<(StatusCode, axum::Json<ScheduleView>), ApiError> {
    super::path_name(&name)?;
    let spec = spec_of(&state, &auth.tenant, &name, req).await?;
    let (stored, created) = state.store.schedule_put(&auth.tenant, spec, now_ms()).await?;
    tracing::info!(tenant = %auth.tenant, schedule = %name, created, "schedule stored");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(ScheduleView::new(stored))))
}

/// One schedule, with its next ticks.
#[utoipa::path(get, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleView>, ApiError> {
    let s = state.store.schedule_get(&auth.tenant, &name).await?.ok_or_else(|| not_found(&name))?;
    Ok(axum::Json(ScheduleView::new(s)))
}

/// The tenant's schedules, by name.
#[utoipa::path(get, path = "/v1/schedules", tag = "schedules", responses((status = 200, body = ScheduleList)))]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<ScheduleList>, ApiError> {
    let schedules = state.store.schedule_list(&auth.tenant).await?.into_iter().map(ScheduleView::new).collect();
    Ok(axum::Json(ScheduleList { schedules }))
}

/// Deletes a schedule; the jobs it made stay.
#[utoipa::path(delete, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.schedule_delete(&auth.tenant, &name).await? {
        return Err(not_found(&name));
    }
    tracing::info!(tenant = %auth.tenant, schedule = %name, "schedule deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_paused(state: &AppState, tenant: &str, name: &str, paused: bool) -> Result<ScheduleView, ApiError> {
    match state.store.schedule_set_paused(tenant, name, paused, now_ms()).await {
        Ok(s) => Ok(ScheduleView::new(s)),
        Err(tarea_core::StoreError::NotFound) => Err(not_found(name)),
        Err(e) => Err(e.into()),
    }
}

/// Pauses a schedule: it makes no jobs until resumed.
#[utoipa::path(post, path = "/v1/schedules/{name}/pause", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "not_found")))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleView>, ApiError> {
    Ok(axum::Json(set_paused(&state, &auth.tenant, &name, true).await?))
}

/// Resumes a schedule from its next tick; the ticks it was paused for are not made up.
#[utoipa::path(post, path = "/v1/schedules/{name}/resume", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "not_found")))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleView>, ApiError> {
    Ok(axum::Json(set_paused(&state, &auth.tenant, &name, false).await?))
}

/// Makes the schedule's job now, outside its ticks (tagged `schedule:{name}` like the others);
/// the schedule's own ticks are unchanged.
#[utoipa::path(post, path = "/v1/schedules/{name}/run", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name"), ("traceparent" = Option<String>, Header, description = "W3C trace context of the calling request: with job traces on, its trace gets a span for each job created")),
    responses((status = 201, body = JobView), (status = 404, description = "not_found")))]
pub(crate) async fn run(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<(StatusCode, axum::Json<JobView>), ApiError> {
    let s = state.store.schedule_get(&auth.tenant, &name).await?.ok_or_else(|| not_found(&name))?;
    let now = now_ms();
    let mut job = ScheduleSpec::job_for_tick(&name, &s.job, now);
    job.idempotency_key = None;
    let mut done = state.store.job_enqueue(&auth.tenant, vec![job], now).await?;
    super::jobs::trace_enqueue(&state, &headers, &done, now);
    let made = done.pop().ok_or_else(|| ApiError::internal("an enqueue answered no job"))?;
    state.metrics.jobs_enqueued(&made.job.tenant, &made.job.queue, &made.job.kind, 1);
    Ok((StatusCode::CREATED, axum::Json(made.job.into())))
}
