//! The attempts a job had before its latest one and the per-minute statistics, mirroring the
//! SQLite store's `history.rs`.
use tarea_core::{
    JobAttempt, JobId, STATS_GRACE_MS, STATS_KEEP_MS, STATS_MINUTE_MS, StatsBucket, StoreError, StoreResult,
    floor_minute,
};

use super::rows::{json, state_of};
use super::{Tx, map_err};

pub(crate) async fn attempts(tx: &Tx<'_>, tenant: Option<&str>, id: JobId) -> StoreResult<Vec<JobAttempt>> {
    let stmt = tx
        .prepare_cached(
            "SELECT attempt, state, worker, started_at, ended_at, error::text FROM job_attempts \
             WHERE job_id = $1 AND ($2::text IS NULL OR tenant = $2) ORDER BY attempt",
        )
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&id.0, &tenant]).await.map_err(map_err)?;
    rows.iter()
        .map(|r| {
            Ok(JobAttempt {
                attempt: r.get::<_, i32>(0).max(0) as u32,
                state: state_of(r.get(1))?,
                worker: r.get(2),
                started_at: r.get(3),
                ended_at: Some(r.get(4)),
                error: json(r.get(5))?,
            })
        })
        .collect()
}

const MINUTES_PER_CALL: i64 = 60;

pub(crate) async fn rollup(tx: &Tx<'_>, now: i64) -> StoreResult<u64> {
    // Only the leader rolls up, but a leader that lost its lease mid-call must not count a
    // minute twice: the row lock orders them and the second finds the minute done.
    let ready = floor_minute(now - STATS_GRACE_MS);
    let stmt = tx.prepare_cached("SELECT until FROM stats_rolled WHERE one = 1 FOR UPDATE").await.map_err(map_err)?;
    let rolled: Option<i64> = tx.query_opt(&stmt, &[]).await.map_err(map_err)?.map(|r| r.get(0));
    let from = rolled.unwrap_or_else(|| floor_minute(now - STATS_KEEP_MS));
    let until = ready.min(from + MINUTES_PER_CALL * STATS_MINUTE_MS);
    if until <= from {
        return Ok(0);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO job_stats (tenant, minute, queue, succeeded, failed, dead, cancelled) \
             SELECT tenant, minute, queue, count(*) FILTER (WHERE state = 3), \
                    count(*) FILTER (WHERE state = 4 OR (state = 1 AND failed)), count(*) FILTER (WHERE state = 5), \
                    count(*) FILTER (WHERE state = 6) \
             FROM (SELECT tenant, queue, state, false AS failed, finished_at / 60000 * 60000 AS minute FROM jobs \
                   WHERE state IN (3, 5, 6) AND finished_at >= $1 AND finished_at < $2 \
                   UNION ALL \
                   SELECT tenant, queue, state, error IS NOT NULL, ended_at / 60000 * 60000 FROM job_attempts \
                   WHERE ended_at >= $1 AND ended_at < $2) done \
             GROUP BY tenant, minute, queue \
             ON CONFLICT (tenant, minute, queue) DO NOTHING",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&from, &until]).await.map_err(map_err)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO stats_rolled (one, until) VALUES (1, $1) ON CONFLICT (one) DO UPDATE SET until = $1",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&until]).await.map_err(map_err)?;
    let stmt = tx.prepare_cached("DELETE FROM job_stats WHERE minute < $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&(now - STATS_KEEP_MS)]).await.map_err(map_err)?;
    Ok(((until - from) / STATS_MINUTE_MS) as u64)
}

pub(crate) async fn series(
    tx: &Tx<'_>,
    tenant: Option<&str>,
    queue: Option<&str>,
    from: i64,
    step_ms: i64,
) -> StoreResult<Vec<StatsBucket>> {
    let step = step_ms.max(STATS_MINUTE_MS);
    let filter = if tenant.is_some() { "tenant = $1" } else { "$1::text IS NULL" };
    let sql = format!(
        "SELECT minute / $3 * $3 AS at, sum(succeeded)::bigint, sum(failed)::bigint, sum(dead)::bigint, \
         sum(cancelled)::bigint FROM job_stats WHERE {filter} AND minute >= $2 AND ($4::text IS NULL OR queue = $4) \
         GROUP BY at ORDER BY at"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &[&tenant, &from, &step, &queue]).await.map_err(map_err)?;
    let count = |v: i64| u64::try_from(v).map_err(|_| StoreError::Internal(format!("negative count {v}")));
    rows.iter()
        .map(|r| {
            Ok(StatsBucket {
                at: r.get(0),
                succeeded: count(r.get(1))?,
                failed: count(r.get(2))?,
                dead: count(r.get(3))?,
                cancelled: count(r.get(4))?,
            })
        })
        .collect()
}
