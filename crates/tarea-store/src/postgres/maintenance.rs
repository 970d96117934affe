//! Promotion of due jobs, the lease reaper and the retention cleaner, mirroring the SQLite
//! store's `maintenance.rs`. Each works in bounded chunks with `SKIP LOCKED`, so two nodes that
//! both believe they lead (for a moment, around a leadership change) cannot block each other
//! and cannot apply a change twice.
use std::sync::LazyLock;

use tarea_core::{JobEvent, JobId, QueueSettings, Retention, StoreResult, limits};

use super::rows::{EVENT_COLUMNS, event_from_row};
use super::{Tx, map_err};

/// Most rows one maintenance call touches.
const CHUNK: i64 = 1000;

/// Due jobs to `queued`. Parameters: now, chunk.
pub(crate) static PROMOTE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET state = 1 WHERE id = ANY (ARRAY \
           (SELECT id FROM jobs WHERE state IN (0, 4) AND run_at <= $1 ORDER BY run_at LIMIT $2 \
            FOR UPDATE SKIP LOCKED)) \
         RETURNING {EVENT_COLUMNS}"
    )
});

/// Expired leases given back (or parked as dead). Parameters: now, chunk, lost leases max.
pub(crate) static REAP_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET \
           state = CASE WHEN lost + 1 >= $3 OR attempt - attempt_base >= max_attempts THEN 5 ELSE 1 END, \
           error = CASE \
             WHEN lost + 1 >= $3 THEN jsonb_build_object('code', 'worker_lost', 'message', \
               format('the job''s lease expired %s times in a row: its worker stops answering while running it', \
                      lost + 1), 'details', '{{}}'::jsonb) \
             WHEN attempt - attempt_base >= max_attempts THEN jsonb_build_object('code', 'lease_expired', \
               'message', 'the worker''s lease expired on the last attempt', 'details', '{{}}'::jsonb) \
             ELSE jsonb_build_object('code', 'lease_expired', \
               'message', 'the worker''s lease expired; the job runs again', 'details', '{{}}'::jsonb) END, \
           finished_at = CASE WHEN lost + 1 >= $3 OR attempt - attempt_base >= max_attempts THEN $1 END, \
           lost = lost + 1, locked_until = NULL, run_at = $1 \
         WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state = 2 AND locked_until < $1 \
                      ORDER BY locked_until LIMIT $2 FOR UPDATE SKIP LOCKED)) \
         RETURNING {EVENT_COLUMNS}"
    )
});

/// Moves due `scheduled`/`failed` jobs to `queued`; returns how many and the next due time.
pub(crate) async fn promote_due(tx: &Tx<'_>, events: &mut Vec<JobEvent>, now: i64) -> StoreResult<(u64, Option<i64>)> {
    let stmt = tx.prepare_cached(&PROMOTE_SQL).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &[&now, &CHUNK]).await.map_err(map_err)?;
    let count = rows.len() as i64;
    for row in &rows {
        events.push(event_from_row(row)?);
    }
    let next: Option<i64> = if count == CHUNK {
        Some(now)
    } else {
        let stmt = tx.prepare_cached("SELECT MIN(run_at) FROM jobs WHERE state IN (0, 4)").await.map_err(map_err)?;
        tx.query_one(&stmt, &[]).await.map_err(map_err)?.get(0)
    };
    Ok((count as u64, next))
}

/// Gives back jobs whose lease expired, with one statement. The attempt counts; a job whose
/// lease expired `LOST_LEASES_MAX` times in a row is parked as `dead` with `worker_lost`.
pub(crate) async fn reap_expired(tx: &Tx<'_>, events: &mut Vec<JobEvent>, now: i64) -> StoreResult<u64> {
    let stmt = tx.prepare_cached(&REAP_SQL).await.map_err(map_err)?;
    let lost_max = limits::LOST_LEASES_MAX as i32;
    let rows = tx.query(&stmt, &[&now, &CHUNK, &lost_max]).await.map_err(map_err)?;
    for row in &rows {
        events.push(event_from_row(row)?);
    }
    Ok(rows.len() as u64)
}

/// The two retention classes: succeeded jobs, and dead or cancelled ones.
const CLASSES: [(&str, &str); 2] = [("3", "retention_succeeded_s"), ("5, 6", "retention_dead_s")];

fn cutoff(now: i64, keep_ms: u64) -> i64 {
    now.saturating_sub(keep_ms.min(i64::MAX as u64) as i64)
}

/// Deletes those of `ids` that have finished (an operator's delete).
pub(crate) async fn delete_finished(tx: &Tx<'_>, tenant: &str, ids: &[JobId]) -> StoreResult<u64> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
    let stmt = tx
        .prepare_cached("DELETE FROM jobs WHERE tenant = $1 AND id = ANY($2) AND state IN (3, 5, 6)")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&tenant, &ids]).await.map_err(map_err)
}

/// Deletes finished jobs past their queue's retention (or the default), at most `limit`.
/// Queues without a retention of their own are cleaned by one query per class; each queue with
/// its own retention by a query of its own.
pub(crate) async fn delete_expired(tx: &Tx<'_>, now: i64, defaults: Retention, limit: u32) -> StoreResult<u64> {
    let mut left = i64::from(limit);
    let mut count = 0u64;
    for ((states, key), keep_ms) in CLASSES.iter().zip([defaults.succeeded_ms, defaults.dead_ms]) {
        let sql = format!(
            "DELETE FROM jobs WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state IN (3, 5, 6) \
             AND state IN ({states}) AND finished_at < $1 AND NOT EXISTS (SELECT 1 FROM queues q \
             WHERE q.tenant = jobs.tenant AND q.name = jobs.queue AND q.settings ->> '{key}' IS NOT NULL) \
             ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
        );
        let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
        let n = tx.execute(&stmt, &[&cutoff(now, keep_ms), &left]).await.map_err(map_err)?;
        count += n;
        left -= n as i64;
    }
    let stmt = tx
        .prepare_cached(
            "SELECT tenant, name, settings::text FROM queues WHERE settings ->> 'retention_succeeded_s' IS NOT NULL \
             OR settings ->> 'retention_dead_s' IS NOT NULL",
        )
        .await
        .map_err(map_err)?;
    let own: Vec<(String, String, QueueSettings)> = tx
        .query(&stmt, &[])
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1), serde_json::from_str(r.get::<_, &str>(2)).unwrap_or_default()))
        .collect();
    for (tenant, queue, settings) in own {
        let keeps = [settings.retention_succeeded_s, settings.retention_dead_s];
        for ((states, _), keep_s) in CLASSES.iter().zip(keeps) {
            let Some(keep_s) = keep_s else { continue };
            if left <= 0 {
                return Ok(count);
            }
            let sql = format!(
                "DELETE FROM jobs WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE state IN (3, 5, 6) \
                 AND state IN ({states}) AND finished_at < $1 AND tenant = $2 AND queue = $3 \
                 ORDER BY finished_at LIMIT $4 FOR UPDATE SKIP LOCKED))"
            );
            let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
            let keep = cutoff(now, keep_s.saturating_mul(1000));
            let n = tx.execute(&stmt, &[&keep, &tenant, &queue, &left]).await.map_err(map_err)?;
            count += n;
            left -= n as i64;
        }
    }
    delete_empty_batches(tx, limit).await?;
    Ok(count)
}

/// Deletes finished batches whose items retention has deleted (see `sqlite/maintenance.rs`).
async fn delete_empty_batches(tx: &Tx<'_>, limit: u32) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "DELETE FROM batches WHERE id = ANY (ARRAY(SELECT id FROM batches WHERE finished_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id) ORDER BY finished_at LIMIT $1 \
             FOR UPDATE SKIP LOCKED))",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&i64::from(limit)]).await.map_err(map_err)?;
    Ok(())
}
