//! Fenced operations on a running job (complete, renew, progress) and the operator's cancel and
//! retry, mirroring the SQLite store's `complete.rs`. Every fenced statement repeats
//! `state = 2 AND attempt = $n` in its `WHERE` clause, so a stale worker changes nothing.
use std::collections::HashSet;
use std::sync::LazyLock;

use tarea_core::{
    CompleteParams, EventKind, Job, JobEvent, JobId, JobState, Outcome, Progress, ProgressUpdate, RetryPolicy,
    StoreError, StoreResult, Transition,
};
use tokio_postgres::types::ToSql;

use super::rows::{EVENT_COLUMNS, JOB_COLUMNS, event_from_row, job_from_row, state_event, state_of};
use super::{Tx, map_err};

struct Current {
    state: JobState,
    attempt: u32,
    attempt_base: u32,
    max_attempts: u32,
    retry: RetryPolicy,
    progress: Option<String>,
}

/// The job's row; with `lock`, locked until the transaction ends.
async fn current(tx: &Tx<'_>, tenant: Option<&str>, id: JobId, lock: bool) -> StoreResult<Current> {
    let sql = if lock {
        "SELECT state, attempt, max_attempts, retry_base_ms, retry_max_ms, progress::text, attempt_base \
         FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) FOR UPDATE"
    } else {
        "SELECT state, attempt, max_attempts, retry_base_ms, retry_max_ms, progress::text, attempt_base \
         FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)"
    };
    let stmt = tx.prepare_cached(sql).await.map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&id.0, &tenant]).await.map_err(map_err)?.ok_or(StoreError::NotFound)?;
    Ok(Current {
        state: state_of(row.get(0))?,
        attempt: row.get::<_, i32>(1).max(0) as u32,
        max_attempts: row.get::<_, i32>(2).max(0) as u32,
        retry: RetryPolicy { base_ms: row.get::<_, i64>(3).max(0) as u64, max_ms: row.get::<_, i64>(4).max(0) as u64 },
        progress: row.get(5),
        attempt_base: row.get::<_, i32>(6).max(0) as u32,
    })
}

async fn fenced(tx: &Tx<'_>, tenant: Option<&str>, id: JobId, attempt: u32) -> StoreResult<Current> {
    let cur = current(tx, tenant, id, true).await?;
    if cur.state != JobState::Running || cur.attempt != attempt {
        return Err(StoreError::StaleAttempt { attempt, current: cur.attempt, state: cur.state });
    }
    Ok(cur)
}

/// JSON text for a `jsonb` column. `jsonb` refuses the NUL character (`\u0000`), which SQLite
/// and the `json` columns take; a worker's error message or progress step holding one would
/// otherwise fail the whole write. It becomes U+FFFD.
pub(crate) fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    let mut value = serde_json::to_value(v).map_err(|e| StoreError::Internal(e.to_string()))?;
    strip_nul(&mut value);
    serde_json::to_string(&value).map_err(|e| StoreError::Internal(e.to_string()))
}

fn strip_nul(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nul),
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
            for k in keys {
                if let Some(item) = map.remove(&k) {
                    map.insert(k.replace('\0', "\u{FFFD}"), item);
                }
            }
            map.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

/// Why a fenced update changed no row. A plain read: locking here could deadlock with another
/// batch that holds the row and waits for one of ours.
async fn refusal(tx: &Tx<'_>, tenant: Option<&str>, id: JobId, attempt: u32) -> StoreError {
    match current(tx, tenant, id, false).await {
        Ok(cur) => StoreError::StaleAttempt { attempt, current: cur.attempt, state: cur.state },
        Err(e) => e,
    }
}

/// Ends an attempt and returns the row with the `returning` columns. A success or a release
/// is one fenced `UPDATE`; only a failure reads (and locks) the job first.
async fn finish(tx: &Tx<'_>, p: &CompleteParams, returning: &str) -> StoreResult<tokio_postgres::Row> {
    let tenant = p.tenant.as_deref();
    let attempt = p.attempt.min(i32::MAX as u32) as i32;
    let (set, text, run_at): (&str, Option<String>, Option<i64>) = match &p.outcome {
        Outcome::Succeeded { result } => (
            "state = 3, result = $5::text::json, error = NULL, finished_at = $4, \
             progress = CASE WHEN progress IS NULL THEN NULL ELSE jsonb_set(progress, '{percent}', '100.0') END",
            result.as_ref().map(|r| r.get().to_owned()),
            None,
        ),
        Outcome::Failed { error, retryable } => {
            let cur = fenced(tx, tenant, p.id, p.attempt).await?;
            let used = cur.attempt.saturating_sub(cur.attempt_base);
            if *retryable && used < cur.max_attempts {
                let run_at = p.now.saturating_add(cur.retry.delay_ms_random(used) as i64);
                (
                    "state = 4, error = $5::text::jsonb, finished_at = $4, run_at = $6",
                    Some(json_text(error)?),
                    Some(run_at),
                )
            } else {
                ("state = 5, error = $5::text::jsonb, finished_at = $4", Some(json_text(error)?), None)
            }
        }
        // The run does not count; its number is never reused (it fences).
        Outcome::Released => ("state = 1, attempt_base = attempt_base + 1, run_at = $4", None, None),
    };
    let sql = format!(
        "UPDATE jobs SET locked_until = NULL, lost = 0, {set} \
         WHERE id = $1 AND state = 2 AND attempt = $2 AND ($3::text IS NULL OR tenant = $3) RETURNING {returning}"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&p.id.0, &attempt, &tenant, &p.now];
    if set.contains("$5") {
        args.push(&text);
    }
    if set.contains("$6") {
        args.push(&run_at);
    }
    match tx.query_opt(&stmt, &args).await.map_err(map_err)? {
        Some(row) => Ok(row),
        None => Err(refusal(tx, tenant, p.id, p.attempt).await),
    }
}

/// Ends an attempt and returns the job.
pub(crate) async fn complete(tx: &Tx<'_>, events: &mut Vec<JobEvent>, p: CompleteParams) -> StoreResult<Job> {
    let row = finish(tx, &p, JOB_COLUMNS).await?;
    let job = job_from_row(&row)?;
    events.push(state_event(&job));
    Ok(job)
}

/// Ends many attempts; each succeeds or is refused on its own. The successes are written by one
/// `UPDATE … FROM unnest(…)` per tenant scope; failures and releases go one by one.
pub(crate) async fn complete_many(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    ps: Vec<CompleteParams>,
) -> StoreResult<Vec<StoreResult<()>>> {
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
            complete_successes(tx, events, scope, &successes, &mut results).await?;
        }
    }
    for (i, p) in ps.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        let outcome = match finish(tx, p, EVENT_COLUMNS).await {
            Ok(row) => event_from_row(&row).map(|e| events.push(e)),
            Err(e) => Err(e),
        };
        // A database error aborts the transaction: nothing after it could be written.
        if let Err(e @ (StoreError::Unavailable(_) | StoreError::Internal(_))) = outcome {
            return Err(e);
        }
        results[i] = Some(outcome);
    }
    Ok(results.into_iter().map(|r| r.unwrap_or(Err(StoreError::Internal("completion not processed".into())))).collect())
}

/// Successful completions of one tenant scope. Parameters: now, ids, attempts, results, tenant.
pub(crate) static COMPLETE_SUCCESSES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET locked_until = NULL, lost = 0, state = 3, result = c.result::json, \
         error = NULL, finished_at = $1, \
         progress = CASE WHEN progress IS NULL THEN NULL ELSE jsonb_set(progress, '{{percent}}', '100.0') END \
         FROM unnest($2::uuid[], $3::int[], $4::text[]) AS c(id, attempt, result) \
         WHERE jobs.id = c.id AND jobs.attempt = c.attempt AND jobs.state = 2 \
         AND ($5::text IS NULL OR jobs.tenant = $5) RETURNING {EVENT_COLUMNS}"
    )
});

/// Lease renewals. Parameters: ids, attempts, lease end, tenant.
pub(crate) const RENEW_SQL: &str = "UPDATE jobs SET locked_until = $3 FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt) \
     WHERE jobs.id = c.id AND jobs.attempt = c.attempt AND jobs.state = 2 \
     AND ($4::text IS NULL OR jobs.tenant = $4) RETURNING jobs.id";

async fn complete_successes(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: Option<&str>,
    successes: &[(usize, &CompleteParams)],
    results: &mut [Option<StoreResult<()>>],
) -> StoreResult<()> {
    let now = successes[0].1.now;
    // Only the first completion of a job goes into the statement.
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut attempts = Vec::new();
    let mut outputs: Vec<Option<String>> = Vec::new();
    for (_, p) in successes.iter().filter(|(_, p)| seen.insert(p.id)) {
        ids.push(p.id.0);
        attempts.push(p.attempt.min(i32::MAX as u32) as i32);
        outputs.push(match &p.outcome {
            Outcome::Succeeded { result: Some(r) } => Some(r.get().to_owned()),
            _ => None,
        });
    }
    let stmt = tx.prepare_cached(&COMPLETE_SUCCESSES_SQL).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &[&now, &ids, &attempts, &outputs, &tenant]).await.map_err(map_err)?;
    let done: Vec<JobEvent> = rows.iter().map(event_from_row).collect::<StoreResult<_>>()?;
    let mut finished: HashSet<JobId> = done.iter().map(|e| e.id).collect();
    events.extend(done);
    for (i, p) in successes {
        results[*i] = Some(if finished.remove(&p.id) {
            Ok(())
        } else {
            match refusal(tx, tenant, p.id, p.attempt).await {
                // A database error aborts the transaction: nothing of it may be reported done.
                e @ (StoreError::Unavailable(_) | StoreError::Internal(_)) => return Err(e),
                refused => Err(refused),
            }
        });
    }
    Ok(())
}

/// Renews the leases still held under the given attempts, with one statement.
pub(crate) async fn renew(
    tx: &Tx<'_>,
    tenant: Option<&str>,
    jobs: &[(JobId, u32)],
    lease_ms: u64,
    now: i64,
) -> StoreResult<Vec<bool>> {
    let ids: Vec<uuid::Uuid> = jobs.iter().map(|(id, _)| id.0).collect();
    let attempts: Vec<i32> = jobs.iter().map(|(_, a)| (*a).min(i32::MAX as u32) as i32).collect();
    let until = now.saturating_add(lease_ms as i64);
    let stmt = tx.prepare_cached(RENEW_SQL).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &[&ids, &attempts, &until, &tenant]).await.map_err(map_err)?;
    let held: HashSet<uuid::Uuid> = rows.iter().map(|r| r.get(0)).collect();
    Ok(jobs.iter().map(|(id, _)| held.contains(&id.0)).collect())
}

/// Merges a progress report into a running job.
pub(crate) async fn progress(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: Option<&str>,
    id: JobId,
    attempt: u32,
    update: &ProgressUpdate,
) -> StoreResult<Job> {
    let cur = fenced(tx, tenant, id, attempt).await?;
    let mut progress: Progress = cur.progress.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default();
    progress.apply(update);
    let sql = format!(
        "UPDATE jobs SET progress = $3::text::jsonb WHERE id = $1 AND state = 2 AND attempt = $2 RETURNING {JOB_COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let text = json_text(&progress)?;
    let row = tx.query_one(&stmt, &[&id.0, &(attempt as i32), &text]).await.map_err(map_err)?;
    let job = job_from_row(&row)?;
    events.push(JobEvent {
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

/// Cancels a job that is not finished.
pub(crate) async fn cancel(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: JobId,
    now: i64,
) -> StoreResult<Job> {
    let set = "state = 6, locked_until = NULL, finished_at = $2";
    operator_transition(tx, events, tenant, id, now, Transition::Cancel, set).await
}

/// Puts a dead, cancelled or failed job back in its queue with a fresh budget of attempts.
pub(crate) async fn retry(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: JobId,
    now: i64,
) -> StoreResult<Job> {
    let set = "state = 1, attempt_base = attempt, lost = 0, run_at = $2, error = NULL, result = NULL, \
               progress = NULL, started_at = NULL, finished_at = NULL, locked_by = NULL";
    let job = operator_transition(tx, events, tenant, id, now, Transition::Retry, set).await?;
    if let Some(batch) = job.batch_id {
        super::batches::reopen(tx, batch).await?;
    }
    Ok(job)
}

/// An operator's transition: checked against the state machine on the locked row, then `set`
/// (`$2` is now) applied only if the state is still the one checked.
async fn operator_transition(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: JobId,
    now: i64,
    transition: Transition,
    set: &str,
) -> StoreResult<Job> {
    let cur = current(tx, Some(tenant), id, true).await?;
    transition.apply(cur.state)?;
    let sql = format!("UPDATE jobs SET {set} WHERE id = $1 AND state = $3 RETURNING {JOB_COLUMNS}");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let row = tx.query_one(&stmt, &[&id.0, &now, &(cur.state.code() as i16)]).await.map_err(map_err)?;
    let job = job_from_row(&row)?;
    events.push(state_event(&job));
    Ok(job)
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_characters_never_reach_jsonb() {
        let text = super::json_text(&serde_json::json!({"a\u{0}": ["x\u{0}y", {"m": "\u{0}"}], "n": 1})).unwrap();
        assert!(!text.contains("\\u0000"), "{text}");
        assert!(text.contains("x\u{FFFD}y"), "{text}");
    }
}
