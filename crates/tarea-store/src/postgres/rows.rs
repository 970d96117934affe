//! Mapping between `jobs` rows and [`Job`], mirroring the SQLite store's `rows.rs`. JSON columns
//! are read as text so payloads stay the bytes the client sent.
use serde_json::value::RawValue;
use tarea_core::{BatchId, EventKind, Job, JobEvent, JobId, JobState, RetryPolicy, StoreError, StoreResult};
use tokio_postgres::Row;

/// Every column of a job, in the order [`job_from_row`] reads them.
pub(crate) const JOB_COLUMNS: &str = "jobs.id, jobs.tenant, jobs.kind, jobs.queue, jobs.state, jobs.builtin, \
    jobs.priority, jobs.attempt, jobs.max_attempts, jobs.payload::text, jobs.progress::text, jobs.result::text, \
    jobs.error::text, jobs.tags, jobs.idempotency_key, jobs.cache_key, jobs.timeout_ms, jobs.retry_base_ms, \
    jobs.retry_max_ms, jobs.locked_by, jobs.locked_until, jobs.created_at, jobs.run_at, jobs.started_at, \
    jobs.finished_at, jobs.attempt_base, jobs.batch_id, jobs.parent_id, jobs.next_id";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("unreadable job row: {what}"))
}

fn raw(s: String) -> StoreResult<Box<RawValue>> {
    RawValue::from_string(s).map_err(corrupt)
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: Option<String>) -> StoreResult<Option<T>> {
    s.map(|s| serde_json::from_str(&s)).transpose().map_err(corrupt)
}

pub(crate) fn state_of(code: i16) -> StoreResult<JobState> {
    JobState::from_code(i64::from(code)).ok_or_else(|| corrupt(format!("state {code}")))
}

/// Reads a job from a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(r: &Row) -> StoreResult<Job> {
    let id: uuid::Uuid = r.try_get(0).map_err(corrupt)?;
    let get_u32 = |i: usize| r.try_get::<_, i32>(i).map(|v| v.max(0) as u32).map_err(corrupt);
    Ok(Job {
        id: JobId(id),
        tenant: r.try_get(1).map_err(corrupt)?,
        kind: r.try_get(2).map_err(corrupt)?,
        queue: r.try_get(3).map_err(corrupt)?,
        state: state_of(r.try_get(4).map_err(corrupt)?)?,
        builtin: r.try_get(5).map_err(corrupt)?,
        priority: r.try_get(6).map_err(corrupt)?,
        attempt: get_u32(7)?,
        max_attempts: get_u32(8)?,
        payload: raw(r.try_get(9).map_err(corrupt)?)?,
        progress: json(r.try_get(10).map_err(corrupt)?)?,
        result: r.try_get::<_, Option<String>>(11).map_err(corrupt)?.map(raw).transpose()?,
        error: json(r.try_get(12).map_err(corrupt)?)?,
        tags: r.try_get::<_, Option<Vec<String>>>(13).map_err(corrupt)?.unwrap_or_default(),
        idempotency_key: r.try_get(14).map_err(corrupt)?,
        cache_key: r.try_get(15).map_err(corrupt)?,
        timeout_ms: r.try_get::<_, Option<i64>>(16).map_err(corrupt)?.map(|v| v.max(0) as u64),
        retry: RetryPolicy {
            base_ms: r.try_get::<_, i64>(17).map_err(corrupt)?.max(0) as u64,
            max_ms: r.try_get::<_, i64>(18).map_err(corrupt)?.max(0) as u64,
        },
        locked_by: r.try_get(19).map_err(corrupt)?,
        locked_until: r.try_get(20).map_err(corrupt)?,
        created_at: r.try_get(21).map_err(corrupt)?,
        run_at: r.try_get(22).map_err(corrupt)?,
        started_at: r.try_get(23).map_err(corrupt)?,
        finished_at: r.try_get(24).map_err(corrupt)?,
        attempt_base: get_u32(25)?,
        batch_id: r.try_get::<_, Option<uuid::Uuid>>(26).map_err(corrupt)?.map(BatchId),
        parent_id: r.try_get::<_, Option<uuid::Uuid>>(27).map_err(corrupt)?.map(JobId),
        next_id: r.try_get::<_, Option<uuid::Uuid>>(28).map_err(corrupt)?.map(JobId),
    })
}

/// Maps every row with [`job_from_row`].
pub(crate) fn jobs_from_rows(rows: &[Row]) -> StoreResult<Vec<Job>> {
    rows.iter().map(job_from_row).collect()
}

/// The event a job's new state emits.
pub(crate) fn state_event(job: &Job) -> JobEvent {
    JobEvent {
        id: job.id,
        tenant: job.tenant.clone(),
        queue: job.queue.clone(),
        kind: job.kind.clone(),
        builtin: job.builtin,
        attempt: job.attempt,
        change: EventKind::State(job.state),
    }
}

/// Columns that are just enough for an event, in the order [`event_from_row`] reads them.
pub(crate) const EVENT_COLUMNS: &str =
    "jobs.id, jobs.tenant, jobs.queue, jobs.kind, jobs.builtin, jobs.state, jobs.attempt";

/// The state event of a row selected (or returned) with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(r: &Row) -> StoreResult<JobEvent> {
    Ok(JobEvent {
        id: JobId(r.try_get(0).map_err(corrupt)?),
        tenant: r.try_get(1).map_err(corrupt)?,
        queue: r.try_get(2).map_err(corrupt)?,
        kind: r.try_get(3).map_err(corrupt)?,
        builtin: r.try_get(4).map_err(corrupt)?,
        attempt: r.try_get::<_, i32>(6).map_err(corrupt)?.max(0) as u32,
        change: EventKind::State(state_of(r.try_get(5).map_err(corrupt)?)?),
    })
}
