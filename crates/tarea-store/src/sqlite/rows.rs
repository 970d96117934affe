//! Mapping between `jobs` rows and [`Job`]. One column list, used by every query that returns
//! jobs, so the order is written once.
use rusqlite::Row;
use serde_json::value::RawValue;
use tarea_core::{BatchId, EventKind, Job, JobEvent, JobId, JobState, RetryPolicy};

/// Every column of a job, in the order [`job_from_row`] reads them.
pub(crate) const JOB_COLUMNS: &str = "id, tenant, kind, queue, state, builtin, priority, attempt, \
    max_attempts, payload, progress, result, error, tags, idempotency_key, cache_key, timeout_ms, \
    retry_base_ms, retry_max_ms, locked_by, locked_until, created_at, run_at, started_at, finished_at, attempt_base, batch_id, parent_id, next_id";

fn raw(s: String) -> rusqlite::Result<Box<RawValue>> {
    RawValue::from_string(s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: Option<String>) -> rusqlite::Result<Option<T>> {
    s.map(|s| serde_json::from_str(&s)).transpose().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Reads a job from a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(r: &Row<'_>) -> rusqlite::Result<Job> {
    let id: [u8; 16] = r.get(0)?;
    let state: i64 = r.get(4)?;
    Ok(Job {
        id: JobId::from_bytes(id),
        tenant: r.get(1)?,
        kind: r.get(2)?,
        queue: r.get(3)?,
        state: JobState::from_code(state).ok_or(rusqlite::Error::IntegralValueOutOfRange(4, state))?,
        builtin: r.get(5)?,
        priority: r.get(6)?,
        attempt: r.get(7)?,
        max_attempts: r.get(8)?,
        payload: raw(r.get(9)?)?,
        progress: json(r.get(10)?)?,
        result: r.get::<_, Option<String>>(11)?.map(raw).transpose()?,
        error: json(r.get(12)?)?,
        tags: json(r.get(13)?)?.unwrap_or_default(),
        idempotency_key: r.get(14)?,
        cache_key: r.get(15)?,
        timeout_ms: r.get::<_, Option<i64>>(16)?.map(|v| v as u64),
        retry: RetryPolicy { base_ms: r.get::<_, i64>(17)? as u64, max_ms: r.get::<_, i64>(18)? as u64 },
        locked_by: r.get(19)?,
        locked_until: r.get(20)?,
        created_at: r.get(21)?,
        run_at: r.get(22)?,
        started_at: r.get(23)?,
        finished_at: r.get(24)?,
        attempt_base: r.get(25)?,
        batch_id: r.get::<_, Option<[u8; 16]>>(26)?.map(BatchId::from_bytes),
        parent_id: r.get::<_, Option<[u8; 16]>>(27)?.map(JobId::from_bytes),
        next_id: r.get::<_, Option<[u8; 16]>>(28)?.map(JobId::from_bytes),
    })
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
pub(crate) const EVENT_COLUMNS: &str = "id, tenant, queue, kind, builtin, state, attempt";

/// The state event of a row selected (or returned) with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<JobEvent> {
    let state: i64 = r.get(5)?;
    Ok(JobEvent {
        id: JobId::from_bytes(r.get(0)?),
        tenant: r.get(1)?,
        queue: r.get(2)?,
        kind: r.get(3)?,
        builtin: r.get(4)?,
        attempt: r.get(6)?,
        change: EventKind::State(JobState::from_code(state).unwrap_or(JobState::Dead)),
    })
}
