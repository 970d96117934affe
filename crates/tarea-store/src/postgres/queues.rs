//! Queues: settings and pause flag. Counts are not kept in the row (it would be one hot row
//! per queue for every node): they come from index-only scans of `jobs_counts`.
use tarea_core::{QueueInfo, QueueSettings, StateCounts, StoreError, StoreResult};
use tokio_postgres::Row;

use super::{Tx, map_err};

fn settings_from(text: Option<String>) -> QueueSettings {
    text.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

/// A queue's settings, creating the queue on first use.
pub(crate) async fn ensure_settings(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<QueueSettings> {
    let stmt = tx
        .prepare_cached(
            "WITH ins AS (INSERT INTO queues (tenant, name) VALUES ($1, $2) ON CONFLICT DO NOTHING \
             RETURNING settings) \
             SELECT settings::text FROM ins \
             UNION ALL SELECT settings::text FROM queues WHERE tenant = $1 AND name = $2",
        )
        .await
        .map_err(map_err)?;
    let row = tx.query_one(&stmt, &[&tenant, &name]).await.map_err(map_err)?;
    Ok(settings_from(row.get(0)))
}

/// The due time of the oldest queued job, walking `jobs_claim` one priority group at a time
/// (as the SQLite store does): as many seeks as there are distinct priorities waiting.
async fn oldest_queued(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<Option<i64>> {
    let stmt = tx
        .prepare_cached(
            "SELECT priority, run_at FROM jobs WHERE tenant = $1 AND queue = $2 AND builtin = $3 \
             AND state = 1 AND priority < $4 ORDER BY priority DESC, run_at, id LIMIT 1",
        )
        .await
        .map_err(map_err)?;
    let mut oldest: Option<i64> = None;
    for builtin in [false, true] {
        let mut below = i32::MAX;
        while let Some(row) = tx.query_opt(&stmt, &[&tenant, &name, &builtin, &below]).await.map_err(map_err)? {
            let (priority, run_at): (i32, i64) = (row.get(0), row.get(1));
            oldest = Some(oldest.map_or(run_at, |o| o.min(run_at)));
            below = priority;
        }
    }
    Ok(oldest)
}

const QUEUE_SELECT: &str = "SELECT q.tenant, q.name, q.paused, q.settings::text, \
    COALESCE(c.states, '{}'), COALESCE(c.counts, '{}') FROM queues q LEFT JOIN LATERAL \
    (SELECT array_agg(s.state) AS states, array_agg(s.n) AS counts FROM \
       (SELECT state, count(*) AS n FROM jobs WHERE jobs.tenant = q.tenant AND jobs.queue = q.name \
        AND state <> 1 GROUP BY state \
        UNION ALL SELECT 1::smallint, count(*) FROM jobs WHERE jobs.tenant = q.tenant AND jobs.queue = q.name \
        AND state = 1) AS s) AS c ON true";

fn queue_from_row(r: &Row) -> QueueInfo {
    let mut counts = StateCounts::default();
    let states: Vec<i16> = r.get(4);
    let ns: Vec<i64> = r.get(5);
    for (state, n) in states.into_iter().zip(ns) {
        let n = n.max(0) as u64;
        match state {
            0 => counts.scheduled = n,
            1 => counts.queued = n,
            2 => counts.running = n,
            3 => counts.succeeded = n,
            4 => counts.failed = n,
            5 => counts.dead = n,
            6 => counts.cancelled = n,
            _ => {}
        }
    }
    QueueInfo {
        tenant: r.get(0),
        name: r.get(1),
        paused: r.get(2),
        settings: settings_from(r.get(3)),
        counts,
        oldest_queued_at: None,
    }
}

async fn get(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<QueueInfo> {
    let sql = format!("{QUEUE_SELECT} WHERE q.tenant = $1 AND q.name = $2");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let row = tx.query_one(&stmt, &[&tenant, &name]).await.map_err(map_err)?;
    let mut q = queue_from_row(&row);
    if q.counts.queued > 0 {
        q.oldest_queued_at = oldest_queued(tx, tenant, name).await?;
    }
    Ok(q)
}

/// Queues of one tenant, or every tenant's.
pub(crate) async fn list(tx: &Tx<'_>, tenant: Option<&str>) -> StoreResult<Vec<QueueInfo>> {
    let rows = match tenant {
        Some(t) => {
            let sql = format!("{QUEUE_SELECT} WHERE q.tenant = $1 ORDER BY q.tenant, q.name");
            let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
            tx.query(&stmt, &[&t]).await
        }
        None => {
            let sql = format!("{QUEUE_SELECT} ORDER BY q.tenant, q.name");
            let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
            tx.query(&stmt, &[]).await
        }
    }
    .map_err(map_err)?;
    let mut queues: Vec<QueueInfo> = rows.iter().map(queue_from_row).collect();
    for q in queues.iter_mut().filter(|q| q.counts.queued > 0) {
        q.oldest_queued_at = oldest_queued(tx, &q.tenant, &q.name).await?;
    }
    Ok(queues)
}

async fn ensure(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("INSERT INTO queues (tenant, name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&tenant, &name]).await.map_err(map_err)?;
    Ok(())
}

/// Replaces a queue's settings.
pub(crate) async fn update(tx: &Tx<'_>, tenant: &str, name: &str, settings: &QueueSettings) -> StoreResult<QueueInfo> {
    ensure(tx, tenant, name).await?;
    let json = serde_json::to_string(settings).map_err(|e| StoreError::Internal(e.to_string()))?;
    let stmt = tx
        .prepare_cached(
            "UPDATE queues SET settings = $3::text::jsonb, concurrency = $4, max_depth = $5, rate_limit = $6::float8, \
             rate_tokens = COALESCE($6::float8, 0) WHERE tenant = $1 AND name = $2",
        )
        .await
        .map_err(map_err)?;
    let concurrency = settings.concurrency.map(|c| c.min(i32::MAX as u32) as i32);
    let max_depth = settings.max_depth.map(|d| d.min(i64::MAX as u64) as i64);
    tx.execute(&stmt, &[&tenant, &name, &json, &concurrency, &max_depth, &settings.rate_limit])
        .await
        .map_err(map_err)?;
    get(tx, tenant, name).await
}

/// Pauses or resumes a queue.
pub(crate) async fn set_paused(tx: &Tx<'_>, tenant: &str, name: &str, paused: bool) -> StoreResult<QueueInfo> {
    ensure(tx, tenant, name).await?;
    let stmt =
        tx.prepare_cached("UPDATE queues SET paused = $3 WHERE tenant = $1 AND name = $2").await.map_err(map_err)?;
    tx.execute(&stmt, &[&tenant, &name, &paused]).await.map_err(map_err)?;
    get(tx, tenant, name).await
}
