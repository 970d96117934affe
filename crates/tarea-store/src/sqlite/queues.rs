//! Queues: settings, pause flag and the counts the triggers keep.
use rusqlite::{Connection, OptionalExtension, Row, params};
use tarea_core::{QueueInfo, QueueSettings, StateCounts, StoreError, StoreResult};

use super::map_err;
use super::writer::Batch;

const QUEUE_COLUMNS: &str = "tenant, name, paused, settings, n_queued, n_running, n_scheduled, \
    n_failed, n_dead, n_succeeded, n_cancelled";

fn queue_from_row(r: &Row<'_>) -> rusqlite::Result<QueueInfo> {
    let settings: String = r.get(3)?;
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(QueueInfo {
        tenant: r.get(0)?,
        name: r.get(1)?,
        paused: r.get(2)?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        counts: StateCounts {
            queued: n(4)?,
            running: n(5)?,
            scheduled: n(6)?,
            failed: n(7)?,
            dead: n(8)?,
            succeeded: n(9)?,
            cancelled: n(10)?,
        },
        oldest_queued_at: None,
    })
}

/// A queue's settings, or the defaults when it does not exist yet.
pub(crate) fn settings(conn: &Connection, tenant: &str, name: &str) -> StoreResult<QueueSettings> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT settings FROM queues WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get(0)).optional())
        .map_err(map_err)?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default())
}

/// Jobs waiting to run: queued, scheduled and failed (awaiting a retry).
pub(crate) fn waiting(conn: &Connection, tenant: &str, name: &str) -> StoreResult<u64> {
    conn.prepare_cached("SELECT n_queued + n_scheduled + n_failed FROM queues WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get::<_, i64>(0)).optional())
        .map(|n| n.unwrap_or(0).max(0) as u64)
        .map_err(map_err)
}

/// The due time of the oldest queued job. The claim index is ordered by priority first, so
/// this walks it one priority group at a time (the first row of a group is its oldest): as
/// many index seeks as there are distinct priorities waiting, whatever the backlog.
fn oldest_queued(conn: &Connection, tenant: &str, name: &str) -> StoreResult<Option<i64>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT priority, run_at FROM jobs WHERE tenant = ?1 AND queue = ?2 AND builtin = ?3 \
             AND state = 1 AND priority < ?4 ORDER BY priority DESC, run_at, id LIMIT 1",
        )
        .map_err(map_err)?;
    let mut oldest: Option<i64> = None;
    for builtin in [false, true] {
        let mut below = i64::MAX;
        while let Some((priority, run_at)) = stmt
            .query_row(params![tenant, name, builtin, below], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .optional()
            .map_err(map_err)?
        {
            oldest = Some(oldest.map_or(run_at, |o| o.min(run_at)));
            below = priority;
        }
    }
    Ok(oldest)
}

fn get(conn: &Connection, tenant: &str, name: &str) -> StoreResult<QueueInfo> {
    let sql = format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant = ?1 AND name = ?2");
    let mut q = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant, name], queue_from_row))
        .map_err(map_err)?;
    if q.counts.queued > 0 {
        q.oldest_queued_at = oldest_queued(conn, tenant, name)?;
    }
    Ok(q)
}

/// Queues of one tenant, or every tenant's.
pub(crate) fn list(conn: &Connection, tenant: Option<&str>) -> StoreResult<Vec<QueueInfo>> {
    let sql = format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE (?1 IS NULL OR tenant = ?1) ORDER BY tenant, name");
    let mut queues = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params![tenant], queue_from_row)?.collect::<Result<Vec<_>, _>>())
        .map_err(map_err)?;
    for q in queues.iter_mut().filter(|q| q.counts.queued > 0) {
        q.oldest_queued_at = oldest_queued(conn, &q.tenant, &q.name)?;
    }
    Ok(queues)
}

fn ensure(conn: &Connection, tenant: &str, name: &str) -> StoreResult<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO queues (tenant, name) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![tenant, name]))
        .map_err(map_err)?;
    Ok(())
}

/// Replaces a queue's settings.
pub(crate) fn update(conn: &Connection, tenant: &str, name: &str, settings: &QueueSettings) -> StoreResult<QueueInfo> {
    ensure(conn, tenant, name)?;
    let json = serde_json::to_string(settings).map_err(|e| StoreError::Internal(e.to_string()))?;
    conn.prepare_cached(
        "UPDATE queues SET settings = ?3, concurrency = ?4, max_depth = ?5, rate_limit = ?6, \
         rate_tokens = COALESCE(?6, 0) WHERE tenant = ?1 AND name = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant,
            name,
            json,
            settings.concurrency,
            settings.max_depth.map(|d| d as i64),
            settings.rate_limit
        ])
    })
    .map_err(map_err)?;
    get(conn, tenant, name)
}

/// Pauses or resumes a queue.
pub(crate) fn set_paused(b: &mut Batch<'_>, tenant: &str, name: &str, paused: bool) -> StoreResult<QueueInfo> {
    ensure(b.conn, tenant, name)?;
    b.conn
        .prepare_cached("UPDATE queues SET paused = ?3 WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.execute(params![tenant, name, paused]))
        .map_err(map_err)?;
    get(b.conn, tenant, name)
}
