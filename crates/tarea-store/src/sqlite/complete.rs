//! Fenced operations on a running job (complete, renew, progress) and the operator's cancel and
//! retry. Every fenced statement repeats `state = 2 AND attempt = ?` in its `WHERE` clause, so
//! a stale worker changes nothing even if the checks before it were skipped.
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use tarea_core::{
    CompleteParams, EventKind, Job, JobEvent, JobId, JobState, Outcome, Progress, ProgressUpdate, RetryPolicy,
    StoreError, StoreResult, Transition,
};

use super::map_err;
use super::rows::{EVENT_COLUMNS, JOB_COLUMNS, event_from_row, job_from_row, state_event};
use super::writer::Batch;

struct Current {
    state: JobState,
    attempt: u32,
    attempt_base: u32,
    max_attempts: u32,
    retry: RetryPolicy,
    progress: Option<String>,
}

fn current(conn: &Connection, tenant: Option<&str>, id: JobId) -> StoreResult<Current> {
    conn.prepare_cached(
        "SELECT state, attempt, max_attempts, retry_base_ms, retry_max_ms, progress, attempt_base FROM jobs \
         WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
    )
    .and_then(|mut s| {
        s.query_row(params![id.as_bytes(), tenant], |r| {
            Ok(Current {
                state: JobState::from_code(r.get(0)?).unwrap_or(JobState::Dead),
                attempt: r.get(1)?,
                max_attempts: r.get(2)?,
                retry: RetryPolicy { base_ms: r.get::<_, i64>(3)? as u64, max_ms: r.get::<_, i64>(4)? as u64 },
                progress: r.get(5)?,
                attempt_base: r.get(6)?,
            })
        })
        .optional()
    })
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)
}

fn fenced(conn: &Connection, tenant: Option<&str>, id: JobId, attempt: u32) -> StoreResult<Current> {
    let cur = current(conn, tenant, id)?;
    if cur.state != JobState::Running || cur.attempt != attempt {
        return Err(StoreError::StaleAttempt { attempt, current: cur.attempt, state: cur.state });
    }
    Ok(cur)
}

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Why a fenced update changed no row.
fn refusal(conn: &Connection, tenant: Option<&str>, id: JobId, attempt: u32) -> StoreError {
    match current(conn, tenant, id) {
        Ok(cur) => StoreError::StaleAttempt { attempt, current: cur.attempt, state: cur.state },
        Err(e) => e,
    }
}

/// Ends an attempt and returns `returning` columns mapped by `map`. A success or a release
/// is one fenced `UPDATE`; only a failure reads the job first (for its attempts and backoff).
fn finish<T>(
    b: &mut Batch<'_>,
    p: CompleteParams,
    returning: &str,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<T> {
    let tenant = p.tenant.as_deref();
    let mut args = vec![
        Value::Blob(p.id.as_bytes().to_vec()),
        Value::Integer(i64::from(p.attempt)),
        tenant.map_or(Value::Null, |t| Value::Text(t.to_owned())),
        Value::Integer(p.now),
    ];
    // Another attempt follows a release or a failure with one due: this one becomes history.
    let mut another_follows = true;
    // A result or an error is searchable from the transaction that sets it.
    let mut words_changed = true;
    let set = match p.outcome {
        Outcome::Succeeded { result } => {
            another_follows = false;
            words_changed = result.is_some();
            args.push(result.map_or(Value::Null, |r| Value::Text(r.get().to_owned())));
            "state = 3, result = ?5, error = NULL, finished_at = ?4, \
             progress = CASE WHEN progress IS NULL THEN NULL ELSE json_set(progress, '$.percent', 100.0) END"
        }
        Outcome::Failed { error, retryable } => {
            let cur = fenced(b.conn, tenant, p.id, p.attempt)?;
            args.push(Value::Text(json_text(&error)?));
            let used = cur.attempt.saturating_sub(cur.attempt_base);
            if retryable && used < cur.max_attempts {
                let run_at = p.now.saturating_add(cur.retry.delay_ms_random(used) as i64);
                args.push(Value::Integer(run_at));
                "state = 4, error = ?5, finished_at = ?4, run_at = ?6"
            } else {
                another_follows = false;
                "state = 5, error = ?5, finished_at = ?4"
            }
        }
        // The run does not count; its number is never reused (it fences).
        Outcome::Released => {
            words_changed = false;
            "state = 1, attempt_base = attempt_base + 1, run_at = ?4"
        }
    };
    let sql = format!(
        "UPDATE jobs SET locked_until = NULL, lost = 0, {set} \
         WHERE id = ?1 AND state = 2 AND attempt = ?2 AND (?3 IS NULL OR tenant = ?3) RETURNING {returning}"
    );
    let row = b
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params_from_iter(args), map).optional())
        .map_err(map_err)?;
    let row = row.ok_or_else(|| refusal(b.conn, tenant, p.id, p.attempt))?;
    if words_changed {
        super::listing::index_text(b.conn, p.id.as_bytes())?;
    }
    if another_follows {
        super::history::keep_ended(b.conn, p.id.as_bytes(), false)?;
    }
    Ok(row)
}

/// Ends an attempt and returns the job.
pub(crate) fn complete(b: &mut Batch<'_>, p: CompleteParams) -> StoreResult<Job> {
    let job = finish(b, p, JOB_COLUMNS, job_from_row)?;
    b.moved(&job.tenant, &job.queue, Some(JobState::Running), Some(job.state));
    b.events.push(state_event(&job));
    Ok(job)
}

/// Ends many attempts; each succeeds or is refused on its own. The successes (nearly all of a
/// busy worker's completions) are written by one `UPDATE … FROM json_each(?)`; failures and
/// releases go one by one.
pub(crate) fn complete_many(b: &mut Batch<'_>, ps: Vec<CompleteParams>) -> StoreResult<Vec<StoreResult<()>>> {
    let mut results: Vec<Option<StoreResult<()>>> = (0..ps.len()).map(|_| None).collect();
    let mut scopes: Vec<Option<&str>> = ps.iter().map(|p| p.tenant.as_deref()).collect();
    scopes.sort();
    scopes.dedup();
    for scope in scopes {
        let successes: Vec<(usize, &CompleteParams)> = ps
            .iter()
            .enumerate()
            .filter(|(_, p)| p.tenant.as_deref() == scope && matches!(p.outcome, Outcome::Succeeded { .. }))
            .collect();
        if !successes.is_empty() {
            complete_successes(b, scope, &successes, &mut results)?;
        }
    }
    for (i, p) in ps.into_iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        results[i] = Some(finish(b, p, EVENT_COLUMNS, event_from_row).map(|event| {
            if let EventKind::State(to) = event.change {
                b.moved(&event.tenant, &event.queue, Some(JobState::Running), Some(to));
            }
            b.events.push(event);
        }));
    }
    Ok(results.into_iter().map(|r| r.unwrap_or(Err(StoreError::Internal("completion not processed".into())))).collect())
}

/// Writes the successful completions of one tenant scope with one statement.
fn complete_successes(
    b: &mut Batch<'_>,
    tenant: Option<&str>,
    successes: &[(usize, &CompleteParams)],
    results: &mut [Option<StoreResult<()>>],
) -> StoreResult<()> {
    let now = successes[0].1.now;
    // Only the first completion of a job goes into the statement: with two rows for one job,
    // UPDATE … FROM would apply either of them.
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&(usize, &CompleteParams)> = successes.iter().filter(|(_, p)| seen.insert(p.id)).collect();
    let items: Vec<serde_json::Value> = firsts
        .iter()
        .map(|(_, p)| {
            let result = match &p.outcome {
                Outcome::Succeeded { result: Some(r) } => serde_json::Value::String(r.get().to_owned()),
                _ => serde_json::Value::Null,
            };
            serde_json::json!([hex(p.id.as_bytes()), p.attempt, result])
        })
        .collect();
    let done: Vec<JobEvent> = b
        .conn
        .prepare_cached(
            "UPDATE jobs SET locked_until = NULL, lost = 0, state = 3, result = c.result, \
             error = NULL, finished_at = ?1, \
             progress = CASE WHEN progress IS NULL THEN NULL ELSE json_set(progress, '$.percent', 100.0) END \
             FROM (SELECT unhex(value ->> 0) AS id, value ->> 1 AS attempt, value ->> 2 AS result \
                   FROM json_each(?2)) AS c \
             WHERE jobs.id = c.id AND jobs.attempt = c.attempt AND jobs.state = 2 \
             AND (?3 IS NULL OR jobs.tenant = ?3) \
             RETURNING jobs.id, jobs.tenant, jobs.queue, jobs.kind, jobs.builtin, jobs.state, jobs.attempt",
        )
        .and_then(|mut s| {
            s.query_map(params![now, serde_json::Value::Array(items).to_string(), tenant], event_from_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    for (_, p) in &firsts {
        if matches!(p.outcome, Outcome::Succeeded { result: Some(_) }) && done.iter().any(|e| e.id == p.id) {
            super::listing::index_text(b.conn, p.id.as_bytes())?;
        }
    }
    let mut finished: std::collections::HashSet<JobId> = done.iter().map(|e| e.id).collect();
    for e in &done {
        b.moved(&e.tenant, &e.queue, Some(JobState::Running), Some(JobState::Succeeded));
    }
    b.events.extend(done);
    for (i, p) in successes {
        // The first completion of a job wins; any other is refused like a late one.
        results[*i] = Some(if finished.remove(&p.id) { Ok(()) } else { Err(refusal(b.conn, tenant, p.id, p.attempt)) });
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Renews the leases still held under the given attempts.
pub(crate) fn renew(
    b: &mut Batch<'_>,
    tenant: Option<&str>,
    jobs: &[(JobId, u32)],
    lease_ms: u64,
    now: i64,
) -> StoreResult<Vec<bool>> {
    let mut stmt = b
        .conn
        .prepare_cached(
            "UPDATE jobs SET locked_until = ?3 WHERE id = ?1 AND state = 2 AND attempt = ?2 \
             AND (?4 IS NULL OR tenant = ?4)",
        )
        .map_err(map_err)?;
    let until = now.saturating_add(lease_ms as i64);
    jobs.iter()
        .map(|(id, attempt)| {
            stmt.execute(params![id.as_bytes(), attempt, until, tenant]).map(|n| n == 1).map_err(map_err)
        })
        .collect()
}

/// Merges a progress report into a running job.
pub(crate) fn progress(
    b: &mut Batch<'_>,
    tenant: Option<&str>,
    id: JobId,
    attempt: u32,
    update: &ProgressUpdate,
) -> StoreResult<Job> {
    let cur = fenced(b.conn, tenant, id, attempt)?;
    let mut progress: Progress = cur.progress.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default();
    progress.apply(update);
    let sql =
        format!("UPDATE jobs SET progress = ?3 WHERE id = ?1 AND state = 2 AND attempt = ?2 RETURNING {JOB_COLUMNS}");
    let text = json_text(&progress)?;
    let job = b
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id.as_bytes(), attempt, text], job_from_row))
        .map_err(map_err)?;
    b.events.push(JobEvent {
        id,
        tenant: job.tenant.clone(),
        queue: job.queue.clone(),
        kind: job.kind.clone(),
        builtin: job.builtin,
        attempt: job.attempt,
        change: EventKind::Progress,
    });
    Ok(job)
}

/// Cancels a job that is not finished. A running job's worker learns it from the event (the
/// in-process runtime fires the handler's token) or from its next fenced call (409).
pub(crate) fn cancel(b: &mut Batch<'_>, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
    let cur = current(b.conn, Some(tenant), id)?;
    Transition::Cancel.apply(cur.state)?;
    let sql = format!(
        "UPDATE jobs SET state = 6, locked_until = NULL, finished_at = ?2 \
         WHERE id = ?1 AND state = ?3 RETURNING {JOB_COLUMNS}"
    );
    let job = b
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id.as_bytes(), now, cur.state.code()], job_from_row))
        .map_err(map_err)?;
    super::listing::index_text(b.conn, id.as_bytes())?;
    b.moved(&job.tenant, &job.queue, Some(cur.state), Some(JobState::Cancelled));
    b.events.push(state_event(&job));
    Ok(job)
}

/// Puts a dead, cancelled or failed job back in its queue with a fresh budget of attempts.
/// Attempt numbers go on from where they were, so a worker still holding an old attempt stays
/// fenced out.
pub(crate) fn retry(b: &mut Batch<'_>, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
    let cur = current(b.conn, Some(tenant), id)?;
    Transition::Retry.apply(cur.state)?;
    super::history::keep_finished(b.conn, id.as_bytes())?;
    let sql = format!(
        "UPDATE jobs SET state = 1, attempt_base = attempt, lost = 0, run_at = ?2, error = NULL, result = NULL, \
         progress = NULL, started_at = NULL, finished_at = NULL, locked_by = NULL WHERE id = ?1 AND state = ?3 \
         RETURNING {JOB_COLUMNS}"
    );
    let job = b
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id.as_bytes(), now, cur.state.code()], job_from_row))
        .map_err(map_err)?;
    super::listing::index_text(b.conn, id.as_bytes())?;
    b.moved(&job.tenant, &job.queue, Some(cur.state), Some(JobState::Queued));
    b.events.push(state_event(&job));
    if let Some(batch) = job.batch_id {
        super::batches::reopen(b.conn, batch)?;
    }
    Ok(job)
}
