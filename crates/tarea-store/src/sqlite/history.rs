//! The attempts a job had before its latest one (kept where an attempt ends), and
//! the per-minute statistics the leader counts from them and from finished jobs.
use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{
    JobAttempt, JobId, JobState, STATS_GRACE_MS, STATS_KEEP_MS, STATS_MINUTE_MS, StatsBucket, StoreResult, floor_minute,
};

use super::map_err;
use super::rows::json;
use super::writer::Batch;

/// The kept attempts of a job, oldest first.
pub(crate) fn attempts(conn: &Connection, tenant: Option<&str>, id: JobId) -> StoreResult<Vec<JobAttempt>> {
    conn.prepare_cached(
        "SELECT attempt, state, worker, started_at, ended_at, error FROM job_attempts \
         WHERE job_id = ?1 AND (?2 IS NULL OR tenant = ?2) ORDER BY attempt",
    )
    .and_then(|mut s| {
        s.query_map(params![id.as_bytes(), tenant], |r| {
            let state: i64 = r.get(1)?;
            Ok(JobAttempt {
                attempt: r.get(0)?,
                state: JobState::from_code(state).ok_or(rusqlite::Error::IntegralValueOutOfRange(1, state))?,
                worker: r.get(2)?,
                started_at: r.get(3)?,
                ended_at: Some(r.get(4)?),
                error: json(r.get(5)?)?,
            })
        })?
        .collect()
    })
    .map_err(map_err)
}

/// Keeps the attempt that job `id` just ended (its row says how: `queued` after a release or
/// a lost lease, `failed` with a retry due); `lost` keeps the row's error (a lost lease), else
/// only a failure's error is kept. Called in the transaction that ended it.
pub(crate) fn keep_ended(conn: &Connection, id: &[u8], lost: bool) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_attempts (job_id, attempt, tenant, queue, state, worker, started_at, ended_at, error) \
         SELECT id, attempt, tenant, queue, state, locked_by, started_at, \
                CASE state WHEN 4 THEN finished_at ELSE run_at END, CASE WHEN state = 4 OR ?2 THEN error END \
         FROM jobs WHERE id = ?1 AND state IN (1, 4)",
    )
    .and_then(|mut s| s.execute(params![id, lost]))
    .map_err(map_err)?;
    Ok(())
}

/// Keeps the last attempt of a finished job that is about to be sent back to its queue.
pub(crate) fn keep_finished(conn: &Connection, id: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO job_attempts (job_id, attempt, tenant, queue, state, worker, started_at, ended_at, error) \
         SELECT id, attempt, tenant, queue, state, locked_by, started_at, COALESCE(finished_at, run_at), error \
         FROM jobs WHERE id = ?1 AND state IN (3, 5, 6) AND attempt > 0",
    )
    .and_then(|mut s| s.execute(params![id]))
    .map_err(map_err)?;
    Ok(())
}

/// Minutes counted per call at most, so that one call stays a short write.
const MINUTES_PER_CALL: i64 = 60;

/// Counts the next whole minutes (see `Store::stats_rollup`).
pub(crate) fn rollup(b: &mut Batch<'_>, now: i64) -> StoreResult<u64> {
    let conn = b.conn;
    let ready = floor_minute(now - STATS_GRACE_MS);
    let rolled: Option<i64> =
        conn.query_row("SELECT until FROM stats_rolled WHERE one = 1", [], |r| r.get(0)).optional().map_err(map_err)?;
    // A new store starts its history as far back as it keeps it: jobs kept from before count.
    let from = rolled.unwrap_or_else(|| floor_minute(now - STATS_KEEP_MS));
    let until = ready.min(from + MINUTES_PER_CALL * STATS_MINUTE_MS);
    if until <= from {
        return Ok(0);
    }
    conn.prepare_cached(
        "INSERT INTO job_stats (tenant, minute, queue, succeeded, failed, dead, cancelled) \
         SELECT tenant, minute, queue, sum(state = 3), sum(state = 4 OR (state = 1 AND failed)), sum(state = 5), \
                sum(state = 6) \
         FROM (SELECT tenant, queue, state, 0 AS failed, finished_at / 60000 * 60000 AS minute FROM jobs \
               WHERE state IN (3, 5, 6) AND finished_at >= ?1 AND finished_at < ?2 \
               UNION ALL \
               SELECT tenant, queue, state, error IS NOT NULL, ended_at / 60000 * 60000 FROM job_attempts \
               WHERE ended_at >= ?1 AND ended_at < ?2) \
         GROUP BY tenant, minute, queue",
    )
    .and_then(|mut s| s.execute(params![from, until]))
    .map_err(map_err)?;
    conn.prepare_cached("INSERT OR REPLACE INTO stats_rolled (one, until) VALUES (1, ?1)")
        .and_then(|mut s| s.execute(params![until]))
        .map_err(map_err)?;
    conn.prepare_cached("DELETE FROM job_stats WHERE minute < ?1")
        .and_then(|mut s| s.execute(params![now - STATS_KEEP_MS]))
        .map_err(map_err)?;
    Ok(((until - from) / STATS_MINUTE_MS) as u64)
}

/// Counted work from `from` on in buckets of `step_ms`.
pub(crate) fn series(
    conn: &Connection,
    tenant: Option<&str>,
    queue: Option<&str>,
    from: i64,
    step_ms: i64,
) -> StoreResult<Vec<StatsBucket>> {
    let step = step_ms.max(STATS_MINUTE_MS);
    // Two statements, each planned for its own index.
    let sql = if tenant.is_some() {
        "SELECT minute / ?3 * ?3 AS at, sum(succeeded), sum(failed), sum(dead), sum(cancelled) FROM job_stats \
         WHERE tenant = ?1 AND minute >= ?2 AND (?4 IS NULL OR queue = ?4) GROUP BY at ORDER BY at"
    } else {
        "SELECT minute / ?3 * ?3 AS at, sum(succeeded), sum(failed), sum(dead), sum(cancelled) FROM job_stats \
         WHERE ?1 IS NULL AND minute >= ?2 AND (?4 IS NULL OR queue = ?4) GROUP BY at ORDER BY at"
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params![tenant, from, step, queue], |r| {
                Ok(StatsBucket {
                    at: r.get(0)?,
                    succeeded: r.get::<_, i64>(1)? as u64,
                    failed: r.get::<_, i64>(2)? as u64,
                    dead: r.get::<_, i64>(3)? as u64,
                    cancelled: r.get::<_, i64>(4)? as u64,
                })
            })?
            .collect()
        })
        .map_err(map_err)
}
