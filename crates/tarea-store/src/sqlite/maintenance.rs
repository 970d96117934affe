//! Promotion of due jobs, the lease reaper and the retention cleaner. Each works in bounded
//! chunks so one call never holds the writer for long; callers loop while a chunk is full.
use rusqlite::{OptionalExtension, params};
use tarea_core::{EventKind, JobError, JobEvent, JobId, JobState, QueueSettings, Retention, StoreResult, limits};

use super::map_err;
use super::rows::{EVENT_COLUMNS, event_from_row};
use super::writer::Batch;

/// Most rows one maintenance call touches.
const CHUNK: i64 = 1000;

/// Moves due `scheduled`/`failed` jobs to `queued`; returns how many and the next due time.
pub(crate) fn promote_due(b: &mut Batch<'_>, now: i64) -> StoreResult<(u64, Option<i64>)> {
    let mut count = 0i64;
    for from in [JobState::Scheduled, JobState::Failed] {
        let sql = format!(
            "UPDATE jobs SET state = 1 WHERE id IN \
               (SELECT id FROM jobs WHERE state IN (0, 4) AND state = ?3 AND run_at <= ?1 ORDER BY run_at LIMIT ?2) \
             RETURNING {EVENT_COLUMNS}"
        );
        let moved: Vec<JobEvent> = b
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_map(params![now, CHUNK - count, from.code()], event_from_row)?.collect::<Result<Vec<_>, _>>()
            })
            .map_err(map_err)?;
        count += moved.len() as i64;
        for e in &moved {
            b.moved(&e.tenant, &e.queue, Some(from), Some(JobState::Queued));
        }
        b.events.extend(moved);
    }
    let next: Option<i64> = if count == CHUNK {
        Some(now)
    } else {
        b.conn
            .prepare_cached("SELECT MIN(run_at) FROM jobs WHERE state IN (0, 4)")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(map_err)?
    };
    Ok((count as u64, next))
}

/// Gives back jobs whose lease expired. The attempt counts (the next claim makes it attempt +
/// 1); a job whose lease expired `LOST_LEASES_MAX` times in a row is parked as `dead` with
/// `worker_lost`, so a poison pill cannot take down worker after worker.
pub(crate) fn reap_expired(b: &mut Batch<'_>, now: i64) -> StoreResult<u64> {
    let expired: Vec<(Vec<u8>, u32, u32, u32, u32)> = b
        .conn
        .prepare_cached(
            "SELECT id, attempt, max_attempts, lost, attempt_base FROM jobs WHERE state = 2 AND locked_until < ?1 \
             ORDER BY locked_until LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![now, CHUNK], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, u32>(4)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    let sql = format!(
        "UPDATE jobs SET state = ?2, lost = lost + 1, error = ?3, \
         locked_until = NULL, run_at = ?4, finished_at = CASE WHEN ?2 = 5 THEN ?4 END \
         WHERE id = ?1 AND state = 2 AND attempt = ?5 RETURNING {EVENT_COLUMNS}"
    );
    let mut stmt = b.conn.prepare_cached(&sql).map_err(map_err)?;
    let mut reaped = Vec::new();
    for (id, attempt, max_attempts, lost, base) in expired {
        let (state, error) = if lost + 1 >= limits::LOST_LEASES_MAX {
            (
                JobState::Dead,
                JobError::new(
                    "worker_lost",
                    format!(
                        "the job's lease expired {} times in a row: its worker stops answering while running it",
                        lost + 1
                    ),
                ),
            )
        } else if attempt.saturating_sub(base) >= max_attempts {
            (JobState::Dead, JobError::new("lease_expired", "the worker's lease expired on the last attempt"))
        } else {
            (JobState::Queued, JobError::new("lease_expired", "the worker's lease expired; the job runs again"))
        };
        let error = serde_json::to_string(&error).unwrap_or_default();
        let row = stmt
            .query_row(params![id, state.code(), error, now, attempt], event_from_row)
            .optional()
            .map_err(map_err)?;
        if row.is_some() {
            super::listing::index_text(b.conn, &id)?;
            if state == JobState::Queued {
                super::history::keep_ended(b.conn, &id, true)?;
            }
        }
        reaped.extend(row);
    }
    drop(stmt);
    for e in &reaped {
        if let EventKind::State(to) = e.change {
            b.moved(&e.tenant, &e.queue, Some(JobState::Running), Some(to));
        }
    }
    let count = reaped.len() as u64;
    b.events.extend(reaped);
    Ok(count)
}

/// Runs a `DELETE … RETURNING tenant, queue, state` and records the queue-count moves.
fn delete_counted(b: &mut Batch<'_>, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<usize> {
    let gone: Vec<(String, String, i64)> = b
        .conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_map(args, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>())
        .map_err(map_err)?;
    for (tenant, queue, state) in &gone {
        b.moved(tenant, queue, JobState::from_code(*state), None);
    }
    Ok(gone.len())
}

/// Deletes those of `ids` that have finished (an operator's delete), keeping the counts.
pub(crate) fn delete_finished(b: &mut Batch<'_>, tenant: &str, ids: &[JobId]) -> StoreResult<u64> {
    let sql = "DELETE FROM jobs WHERE tenant = ?1 AND id = ?2 AND state IN (3, 5, 6) RETURNING tenant, queue, state";
    let mut n = 0;
    for id in ids {
        n += delete_counted(b, sql, params![tenant, id.as_bytes()])? as u64;
    }
    Ok(n)
}

/// The two retention classes: succeeded jobs, and dead or cancelled ones.
const CLASSES: [(&str, &str); 2] = [("3", "retention_succeeded_s"), ("5, 6", "retention_dead_s")];

fn cutoff(now: i64, keep_ms: u64) -> i64 {
    now.saturating_sub(keep_ms.min(i64::MAX as u64) as i64)
}

/// Deletes finished jobs past their queue's retention (or the default), at most `limit`.
///
/// Queues without a retention of their own are cleaned by one query per class; each queue
/// with its own retention by a query of its own. So a queue that keeps jobs longer than the
/// default never blocks the cleaning of the others.
pub(crate) fn delete_expired(b: &mut Batch<'_>, now: i64, defaults: Retention, limit: u32) -> StoreResult<u64> {
    let mut left = i64::from(limit);
    let mut count = 0u64;
    for ((states, key), keep_ms) in CLASSES.iter().zip([defaults.succeeded_ms, defaults.dead_ms]) {
        let sql = format!(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN (3, 5, 6) AND state IN ({states}) \
             AND finished_at < ?1 AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.tenant = jobs.tenant \
             AND q.name = jobs.queue AND json_extract(q.settings, '$.{key}') IS NOT NULL) \
             ORDER BY finished_at LIMIT ?2) RETURNING tenant, queue, state"
        );
        let n = delete_counted(b, &sql, params![cutoff(now, keep_ms), left])?;
        count += n as u64;
        left -= n as i64;
    }
    let own: Vec<(String, String, QueueSettings)> = b
        .conn
        .prepare_cached(
            "SELECT tenant, name, settings FROM queues WHERE json_extract(settings, '$.retention_succeeded_s') \
             IS NOT NULL OR json_extract(settings, '$.retention_dead_s') IS NOT NULL",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                let settings: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&settings).unwrap_or_default()))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    for (tenant, queue, settings) in own {
        let keeps = [settings.retention_succeeded_s, settings.retention_dead_s];
        for ((states, _), keep_s) in CLASSES.iter().zip(keeps) {
            let Some(keep_s) = keep_s else { continue };
            if left <= 0 {
                return Ok(count);
            }
            let sql = format!(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN (3, 5, 6) AND state IN ({states}) \
                 AND finished_at < ?1 AND tenant = ?2 AND queue = ?3 ORDER BY finished_at LIMIT ?4) \
                 RETURNING tenant, queue, state"
            );
            let n = delete_counted(b, &sql, params![cutoff(now, keep_s.saturating_mul(1000)), tenant, queue, left])?;
            count += n as u64;
            left -= n as i64;
        }
    }
    delete_empty_batches(b, limit)?;
    Ok(count)
}

/// Deletes finished batches whose items retention has deleted: a batch lives as long as its
/// last item, so its view and counts never outlive them, and the table does not grow forever.
fn delete_empty_batches(b: &mut Batch<'_>, limit: u32) -> StoreResult<()> {
    b.conn
        .prepare_cached(
            "DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE finished_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id) ORDER BY finished_at LIMIT ?1)",
        )
        .and_then(|mut s| s.execute(params![limit]))
        .map_err(map_err)?;
    Ok(())
}
