//! Batches, and the follow-ups of batches and chains (mirrors `sqlite/batches.rs`). Parents and
//! batches are taken with `FOR UPDATE SKIP LOCKED` and marked in the transaction that makes
//! their follow-up, so two nodes never make one twice.
use tarea_core::{
    ArtifactId, Batch, BatchFailure, BatchId, BatchSummary, Enqueued, FollowUps, JobError, JobEvent, JobId, JobSpec,
    JobState, StateCounts, StoreError, StoreResult, callback_payload, chained_spec, limits,
};

use super::rows::{JOB_COLUMNS, job_from_row, state_of};
use super::{Tx, complete, jobs, map_err};

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn spec_of(text: Option<String>) -> StoreResult<Option<JobSpec>> {
    text.map(|t| serde_json::from_str(&t)).transpose().map_err(|e| StoreError::Internal(format!("stored spec: {e}")))
}

/// Creates the batch row and its items in one transaction.
pub(crate) async fn create(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: BatchId,
    mut items: Vec<JobSpec>,
    on_complete: Option<JobSpec>,
    now: i64,
) -> StoreResult<(Batch, Vec<Enqueued>)> {
    let on_complete_text = on_complete.as_ref().map(json_text).transpose()?;
    let stmt = tx
        .prepare_cached("INSERT INTO batches (id, tenant, total, on_complete, created_at) VALUES ($1, $2, $3, $4, $5)")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&id.0, &tenant, &(items.len() as i64), &on_complete_text, &now]).await.map_err(map_err)?;
    for item in &mut items {
        item.batch_id = Some(id);
    }
    let made = jobs::enqueue(tx, events, tenant, items, now).await?;
    let batch = get(tx, tenant, id).await?.ok_or(StoreError::NotFound)?;
    Ok((batch, made))
}

/// A batch with its items counted by state.
pub(crate) async fn get(tx: &Tx<'_>, tenant: &str, id: BatchId) -> StoreResult<Option<Batch>> {
    let stmt = tx
        .prepare_cached(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1 AND tenant = $2"))
        .await
        .map_err(map_err)?;
    let Some(row) = tx.query_opt(&stmt, &[&id.0, &tenant]).await.map_err(map_err)? else { return Ok(None) };
    let mut batch = batch_of(&row, tenant)?;
    batch.counts = counts(tx, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(Some(batch))
}

const BATCH_COLUMNS: &str = "id, total, on_complete, callback_id, created_at, finished_at";

/// A batch from a row of [`BATCH_COLUMNS`], its counts not read yet.
fn batch_of(row: &tokio_postgres::Row, tenant: &str) -> StoreResult<Batch> {
    Ok(Batch {
        id: BatchId(row.get(0)),
        tenant: tenant.to_owned(),
        total: row.get::<_, i64>(1).max(0) as u64,
        counts: StateCounts::default(),
        on_complete: spec_of(row.get(2))?,
        callback_id: row.get::<_, Option<uuid::Uuid>>(3).map(JobId),
        created_at: row.get(4),
        finished_at: row.get(5),
    })
}

/// A page of a tenant's batches, newest first (ids are UUIDv7), each with its items counted:
/// two queries whatever the page's size.
pub(crate) async fn list(tx: &Tx<'_>, tenant: &str, before: Option<BatchId>, limit: u32) -> StoreResult<Vec<Batch>> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {BATCH_COLUMNS} FROM batches WHERE tenant = $1 AND ($2::uuid IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        ))
        .await
        .map_err(map_err)?;
    let before = before.map(|b| b.0);
    let rows = tx.query(&stmt, &[&tenant, &before, &i64::from(limit)]).await.map_err(map_err)?;
    let mut batches = rows.iter().map(|r| batch_of(r, tenant)).collect::<StoreResult<Vec<_>>>()?;
    let ids: Vec<BatchId> = batches.iter().map(|b| b.id).collect();
    let mut counts = counts(tx, &ids).await?;
    for b in &mut batches {
        b.counts = counts.remove(&b.id).unwrap_or_default();
    }
    Ok(batches)
}

/// The items of each of `ids`, counted by state, in one query.
async fn counts(tx: &Tx<'_>, ids: &[BatchId]) -> StoreResult<std::collections::HashMap<BatchId, StateCounts>> {
    let stmt = tx
        .prepare_cached("SELECT batch_id, state, count(*) FROM jobs WHERE batch_id = ANY($1) GROUP BY batch_id, state")
        .await
        .map_err(map_err)?;
    let ids: Vec<uuid::Uuid> = ids.iter().map(|b| b.0).collect();
    let mut out = std::collections::HashMap::<BatchId, StateCounts>::new();
    for row in tx.query(&stmt, &[&ids]).await.map_err(map_err)? {
        let c = out.entry(BatchId(row.get(0))).or_default();
        let n = row.get::<_, i64>(2).max(0) as u64;
        match state_of(row.get(1))? {
            JobState::Scheduled => c.scheduled = n,
            JobState::Queued => c.queued = n,
            JobState::Running => c.running = n,
            JobState::Succeeded => c.succeeded = n,
            JobState::Failed => c.failed = n,
            JobState::Dead => c.dead = n,
            JobState::Cancelled => c.cancelled = n,
        }
    }
    Ok(out)
}

async fn items_in(tx: &Tx<'_>, id: BatchId, states: &[i16]) -> StoreResult<Vec<JobId>> {
    let stmt = tx
        .prepare_cached("SELECT id FROM jobs WHERE batch_id = $1 AND state = ANY($2) ORDER BY id")
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&id.0, &states]).await.map_err(map_err)?;
    Ok(rows.iter().map(|r| JobId(r.get(0))).collect())
}

/// Locks the batch row (so a cancel or retry and the follow-up service take turns).
async fn lock(tx: &Tx<'_>, tenant: &str, id: BatchId) -> StoreResult<()> {
    let stmt =
        tx.prepare_cached("SELECT 1 FROM batches WHERE id = $1 AND tenant = $2 FOR UPDATE").await.map_err(map_err)?;
    tx.query_opt(&stmt, &[&id.0, &tenant]).await.map_err(map_err)?.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Cancels the items that have not ended.
pub(crate) async fn cancel(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: BatchId,
    now: i64,
) -> StoreResult<u64> {
    lock(tx, tenant, id).await?;
    let open = items_in(tx, id, &[0, 1, 2, 4]).await?;
    for job in &open {
        complete::cancel(tx, events, tenant, *job, now).await?;
    }
    Ok(open.len() as u64)
}

/// Retries the items that did not succeed and opens the batch again.
pub(crate) async fn retry_failed(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    id: BatchId,
    now: i64,
) -> StoreResult<u64> {
    lock(tx, tenant, id).await?;
    let failed = items_in(tx, id, &[4, 5, 6]).await?;
    for job in &failed {
        complete::retry(tx, events, tenant, *job, now).await?;
    }
    Ok(failed.len() as u64)
}

/// Opens a finished batch again (an item of it was retried).
pub(crate) async fn reopen(tx: &Tx<'_>, id: BatchId) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("UPDATE batches SET finished_at = NULL, callback_id = NULL WHERE id = $1")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&id.0]).await.map_err(map_err)?;
    Ok(())
}

/// Makes the follow-ups that are due: chained jobs first, then finished batches.
pub(crate) async fn follow_up(tx: &Tx<'_>, events: &mut Vec<JobEvent>, now: i64, limit: u32) -> StoreResult<FollowUps> {
    let mut done = FollowUps::default();
    let sql = format!(
        "SELECT {JOB_COLUMNS}, jobs.then_spec FROM jobs WHERE then_spec IS NOT NULL AND next_id IS NULL AND state = 3 \
         ORDER BY finished_at LIMIT $1 FOR UPDATE SKIP LOCKED"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let parents = tx.query(&stmt, &[&i64::from(limit)]).await.map_err(map_err)?;
    for row in &parents {
        let parent = job_from_row(row)?;
        let then: JobSpec = serde_json::from_str(row.get::<_, &str>(29))
            .map_err(|e| StoreError::Internal(format!("stored then: {e}")))?;
        let artifacts = artifacts_of(tx, parent.id).await?;
        let child = chained_spec(&then, &parent, &artifacts);
        let made = jobs::enqueue(tx, events, &parent.tenant, vec![child], now).await?;
        let next = made.first().map(|e| e.job.id.0);
        let mark = tx.prepare_cached("UPDATE jobs SET next_id = $2 WHERE id = $1").await.map_err(map_err)?;
        tx.execute(&mark, &[&parent.id.0, &next]).await.map_err(map_err)?;
        done.chained += 1;
    }
    let room = limit.saturating_sub(parents.len() as u32);
    let stmt = tx
        .prepare_cached(
            "SELECT id, tenant FROM batches WHERE finished_at IS NULL AND NOT EXISTS \
             (SELECT 1 FROM jobs WHERE jobs.batch_id = batches.id AND jobs.state IN (0, 1, 2, 4)) \
             ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .await
        .map_err(map_err)?;
    let open = tx.query(&stmt, &[&i64::from(room)]).await.map_err(map_err)?;
    for row in &open {
        let tenant: String = row.get(1);
        finish(tx, events, &tenant, BatchId(row.get(0)), now).await?;
        done.batches += 1;
    }
    let room = room.saturating_sub(open.len() as u32);
    done.events = if room > 0 { super::webhooks::drain(tx, events, now, room).await? } else { 0 };
    done.more = parents.len() as u32 == limit || room == 0 || done.events == u64::from(room);
    Ok(done)
}

async fn artifacts_of(tx: &Tx<'_>, job: JobId) -> StoreResult<Vec<ArtifactId>> {
    let stmt = tx
        .prepare_cached("SELECT id FROM artifacts WHERE job_id = $1 ORDER BY created_at, id")
        .await
        .map_err(map_err)?;
    Ok(tx.query(&stmt, &[&job.0]).await.map_err(map_err)?.iter().map(|r| ArtifactId(r.get(0))).collect())
}

/// Marks a batch whose items have all ended as finished and makes its `on_complete` job.
async fn finish(tx: &Tx<'_>, events: &mut Vec<JobEvent>, tenant: &str, id: BatchId, now: i64) -> StoreResult<()> {
    let batch = get(tx, tenant, id).await?.ok_or(StoreError::NotFound)?;
    let mut callback = None;
    if let Some(on_complete) = &batch.on_complete {
        let summary = summary(tx, &batch).await?;
        let mut spec = on_complete.clone();
        spec.payload = callback_payload(&on_complete.payload, id, &summary);
        let made = jobs::enqueue(tx, events, tenant, vec![spec], now).await?;
        callback = made.first().map(|e| e.job.id.0);
    }
    let stmt = tx
        .prepare_cached("UPDATE batches SET finished_at = $2, callback_id = $3 WHERE id = $1")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&id.0, &now, &callback]).await.map_err(map_err)?;
    super::webhooks::batch_done(tx, tenant, id, now).await
}

async fn summary(tx: &Tx<'_>, batch: &Batch) -> StoreResult<BatchSummary> {
    let failed = batch.counts.dead + batch.counts.cancelled;
    let stmt = tx
        .prepare_cached(
            "SELECT id, state, error::text FROM jobs WHERE batch_id = $1 AND state IN (5, 6) ORDER BY id LIMIT $2",
        )
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&batch.id.0, &(limits::BATCH_FAILURES_LISTED as i64)]).await.map_err(map_err)?;
    let mut failures = Vec::with_capacity(rows.len());
    for r in &rows {
        failures.push(BatchFailure {
            job_id: JobId(r.get(0)),
            state: state_of(r.get(1))?,
            error: r.get::<_, Option<String>>(2).and_then(|e| serde_json::from_str::<JobError>(&e).ok()),
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
