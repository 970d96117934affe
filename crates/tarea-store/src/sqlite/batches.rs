//! Batches, and the follow-ups of batches and chains (mirrors `postgres/batches.rs`). The
//! writer runs one transaction at a time, so a follow-up found here is made once.
use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{
    ArtifactId, Batch as BatchRow, BatchFailure, BatchId, BatchSummary, Enqueued, FollowUps, JobError, JobId, JobSpec,
    JobState, StateCounts, StoreError, StoreResult, callback_payload, chained_spec, limits,
};

use super::complete;
use super::jobs;
use super::map_err;
use super::rows::{JOB_COLUMNS, job_from_row};
use super::writer::Batch;

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn spec_of(text: Option<String>) -> StoreResult<Option<JobSpec>> {
    text.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| StoreError::Internal(format!("stored spec: {e}")))
}

/// Creates the batch row and its items in one transaction.
pub(crate) fn create(
    b: &mut Batch<'_>,
    tenant: &str,
    id: BatchId,
    mut items: Vec<JobSpec>,
    on_complete: Option<JobSpec>,
    now: i64,
) -> StoreResult<(BatchRow, Vec<Enqueued>)> {
    let on_complete_text = on_complete.as_ref().map(json_text).transpose()?;
    b.conn
        .prepare_cached("INSERT INTO batches (id, tenant, total, on_complete, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![id.as_bytes(), tenant, items.len() as i64, on_complete_text, now]))
        .map_err(map_err)?;
    for item in &mut items {
        item.batch_id = Some(id);
    }
    let made = jobs::enqueue(b, tenant, items, now)?;
    let batch = get(b.conn, tenant, id)?.ok_or(StoreError::NotFound)?;
    Ok((batch, made))
}

/// A batch with its items counted by state.
pub(crate) fn get(conn: &Connection, tenant: &str, id: BatchId) -> StoreResult<Option<BatchRow>> {
    let row = conn
        .prepare_cached(
            "SELECT total, on_complete, callback_id, created_at, finished_at FROM batches WHERE id = ?1 AND tenant = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![id.as_bytes(), tenant], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<[u8; 16]>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .optional()
        })
        .map_err(map_err)?;
    let Some((total, on_complete, callback, created_at, finished_at)) = row else { return Ok(None) };
    Ok(Some(BatchRow {
        id,
        tenant: tenant.to_owned(),
        total: total.max(0) as u64,
        counts: counts(conn, id)?,
        on_complete: spec_of(on_complete)?,
        callback_id: callback.map(JobId::from_bytes),
        created_at,
        finished_at,
    }))
}

/// A page of a tenant's batches, newest first (ids are UUIDv7), each with its items counted.
pub(crate) fn list(conn: &Connection, tenant: &str, before: Option<BatchId>, limit: u32) -> StoreResult<Vec<BatchRow>> {
    let before = before.map(|b| b.as_bytes().to_vec());
    let ids: Vec<[u8; 16]> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM batches WHERE tenant = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
            )
            .map_err(map_err)?;
        let rows = stmt.query_map(params![tenant, before, limit], |r| r.get(0)).map_err(map_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        // A batch deleted between the two reads is left out.
        out.extend(get(conn, tenant, BatchId::from_bytes(id))?);
    }
    Ok(out)
}

fn counts(conn: &Connection, id: BatchId) -> StoreResult<StateCounts> {
    let mut stmt =
        conn.prepare_cached("SELECT state, COUNT(*) FROM jobs WHERE batch_id = ?1 GROUP BY state").map_err(map_err)?;
    let rows = stmt.query_map(params![id.as_bytes()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)));
    let mut c = StateCounts::default();
    for row in rows.map_err(map_err)? {
        let (state, n) = row.map_err(map_err)?;
        let n = n.max(0) as u64;
        match JobState::from_code(state) {
            Some(JobState::Scheduled) => c.scheduled = n,
            Some(JobState::Queued) => c.queued = n,
            Some(JobState::Running) => c.running = n,
            Some(JobState::Succeeded) => c.succeeded = n,
            Some(JobState::Failed) => c.failed = n,
            Some(JobState::Dead) => c.dead = n,
            Some(JobState::Cancelled) => c.cancelled = n,
            _ => {}
        }
    }
    Ok(c)
}

fn items_in(conn: &Connection, id: BatchId, states: &str) -> StoreResult<Vec<JobId>> {
    let sql = format!("SELECT id FROM jobs WHERE batch_id = ?1 AND state IN ({states}) ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt.query_map(params![id.as_bytes()], |r| r.get::<_, [u8; 16]>(0)).map_err(map_err)?;
    rows.map(|r| r.map(JobId::from_bytes).map_err(map_err)).collect()
}

fn exists(conn: &Connection, tenant: &str, id: BatchId) -> StoreResult<()> {
    conn.prepare_cached("SELECT 1 FROM batches WHERE id = ?1 AND tenant = ?2")
        .and_then(|mut s| s.query_row(params![id.as_bytes(), tenant], |_| Ok(())).optional())
        .map_err(map_err)?
        .ok_or(StoreError::NotFound)
}

/// Cancels the items that have not ended.
pub(crate) fn cancel(b: &mut Batch<'_>, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
    exists(b.conn, tenant, id)?;
    let open = items_in(b.conn, id, "0, 1, 2, 4")?;
    for job in &open {
        complete::cancel(b, tenant, *job, now)?;
    }
    Ok(open.len() as u64)
}

/// Retries the items that did not succeed and opens the batch again.
pub(crate) fn retry_failed(b: &mut Batch<'_>, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
    exists(b.conn, tenant, id)?;
    let failed = items_in(b.conn, id, "4, 5, 6")?;
    for job in &failed {
        complete::retry(b, tenant, *job, now)?;
    }
    Ok(failed.len() as u64)
}

/// Opens a finished batch again (an item of it was retried): its `on_complete` job will be
/// made again when the items end.
pub(crate) fn reopen(conn: &Connection, id: BatchId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE batches SET finished_at = NULL, callback_id = NULL WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_bytes()]))
        .map_err(map_err)?;
    Ok(())
}

/// Makes the follow-ups that are due: chained jobs first, then finished batches.
pub(crate) fn follow_up(b: &mut Batch<'_>, now: i64, limit: u32) -> StoreResult<FollowUps> {
    let mut done = FollowUps::default();
    let parents = {
        let sql = format!(
            "SELECT {JOB_COLUMNS}, then_spec FROM jobs WHERE then_spec IS NOT NULL AND next_id IS NULL AND state = 3 \
             ORDER BY finished_at LIMIT ?1"
        );
        let mut stmt = b.conn.prepare_cached(&sql).map_err(map_err)?;
        let rows =
            stmt.query_map(params![limit], |r| Ok((job_from_row(r)?, r.get::<_, String>(29)?))).map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)?
    };
    for (parent, then) in &parents {
        let then: JobSpec =
            serde_json::from_str(then).map_err(|e| StoreError::Internal(format!("stored then: {e}")))?;
        let artifacts = artifacts_of(b.conn, parent.id)?;
        let child = chained_spec(&then, parent, &artifacts);
        let made = jobs::enqueue(b, &parent.tenant, vec![child], now)?;
        let next = made.first().map(|e| e.job.id.as_bytes().to_vec());
        b.conn
            .prepare_cached("UPDATE jobs SET next_id = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![parent.id.as_bytes(), next]))
            .map_err(map_err)?;
        done.chained += 1;
    }
    let room = limit.saturating_sub(parents.len() as u32);
    let open: Vec<([u8; 16], String)> = {
        let mut stmt = b
            .conn
            .prepare_cached(
                "SELECT id, tenant FROM batches WHERE finished_at IS NULL AND NOT EXISTS \
                 (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id AND jobs.state IN (0, 1, 2, 4)) \
                 ORDER BY created_at LIMIT ?1",
            )
            .map_err(map_err)?;
        let rows = stmt.query_map(params![room], |r| Ok((r.get(0)?, r.get(1)?))).map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)?
    };
    for (id, tenant) in &open {
        finish(b, tenant, BatchId::from_bytes(*id), now)?;
        done.batches += 1;
    }
    let room = room.saturating_sub(open.len() as u32);
    done.events = if room > 0 { super::webhooks::drain(b, now, room)? } else { 0 };
    done.more = parents.len() as u32 == limit || room == 0 || done.events == u64::from(room);
    Ok(done)
}

fn artifacts_of(conn: &Connection, job: JobId) -> StoreResult<Vec<ArtifactId>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM artifacts WHERE job_id = ?1 ORDER BY created_at, id").map_err(map_err)?;
    let rows = stmt.query_map(params![job.as_bytes()], |r| r.get::<_, [u8; 16]>(0)).map_err(map_err)?;
    rows.map(|r| r.map(ArtifactId::from_bytes).map_err(map_err)).collect()
}

/// Marks a batch whose items have all ended as finished and makes its `on_complete` job.
fn finish(b: &mut Batch<'_>, tenant: &str, id: BatchId, now: i64) -> StoreResult<()> {
    let batch = get(b.conn, tenant, id)?.ok_or(StoreError::NotFound)?;
    let mut callback = None;
    if let Some(on_complete) = &batch.on_complete {
        let summary = summary(b.conn, &batch)?;
        let mut spec = on_complete.clone();
        spec.payload = callback_payload(&on_complete.payload, id, &summary);
        let made = jobs::enqueue(b, tenant, vec![spec], now)?;
        callback = made.first().map(|e| e.job.id.as_bytes().to_vec());
    }
    b.conn
        .prepare_cached("UPDATE batches SET finished_at = ?2, callback_id = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_bytes(), now, callback]))
        .map_err(map_err)?;
    super::webhooks::batch_done(b.conn, tenant, id, now)
}

fn summary(conn: &Connection, batch: &BatchRow) -> StoreResult<BatchSummary> {
    let failed = batch.counts.dead + batch.counts.cancelled;
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, state, error FROM jobs WHERE batch_id = ?1 AND state IN (5, 6) ORDER BY id LIMIT ?2",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params![batch.id.as_bytes(), limits::BATCH_FAILURES_LISTED as i64], |r| {
            Ok((r.get::<_, [u8; 16]>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<String>>(2)?))
        })
        .map_err(map_err)?;
    let mut failures = Vec::new();
    for row in rows {
        let (id, state, error) = row.map_err(map_err)?;
        failures.push(BatchFailure {
            job_id: JobId::from_bytes(id),
            state: JobState::from_code(state).unwrap_or(JobState::Dead),
            error: error.and_then(|e| serde_json::from_str::<JobError>(&e).ok()),
        });
    }
    Ok(BatchSummary {
        total: batch.total,
        succeeded: batch.counts.succeeded,
        failed,
        failures_truncated: failed > failures.len() as u64,
        failures,
    })
}
