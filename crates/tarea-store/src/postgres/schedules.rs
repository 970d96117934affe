//! Schedules and their firing (mirrors `sqlite/schedules.rs`). Due schedules are locked with
//! `FOR UPDATE SKIP LOCKED`, and each one's `next_run_at` moves only if it still holds the tick
//! that was read: a tick makes one job however many nodes fire at once.
use tarea_core::{
    CronSchedule, FirePlan, JobEvent, JobId, JobSpec, Schedule, ScheduleSpec, SchedulesFired, StoreError, StoreResult,
};
use tokio_postgres::Row;

use super::{Tx, jobs, map_err, queues};

const COLUMNS: &str = "tenant, name, cron, timezone, job, paused, missed, next_run_at, last_run_at, last_job_id, \
                       last_error, runs, created_at, updated_at";

fn from_row(r: &Row) -> StoreResult<Schedule> {
    let corrupt = |what: &str, e: String| StoreError::Internal(format!("schedule row: {what}: {e}"));
    let job: String = r.get(4);
    let missed: String = r.get(6);
    Ok(Schedule {
        tenant: r.get(0),
        name: r.get(1),
        cron: r.get(2),
        timezone: r.get(3),
        job: serde_json::from_str(&job).map_err(|e| corrupt("job", e.to_string()))?,
        paused: r.get(5),
        missed: missed.parse().map_err(|e| corrupt("missed", e))?,
        next_run_at: r.get(7),
        last_run_at: r.get(8),
        last_job_id: r.get::<_, Option<uuid::Uuid>>(9).map(JobId),
        last_error: r.get(10),
        runs: r.get::<_, i64>(11) as u64,
        created_at: r.get(12),
        updated_at: r.get(13),
    })
}

fn job_json(job: &JobSpec) -> StoreResult<String> {
    serde_json::to_string(job).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Creates or replaces a schedule (see `sqlite/schedules.rs` for the next tick it keeps).
pub(crate) async fn put(tx: &Tx<'_>, tenant: &str, spec: &ScheduleSpec, now: i64) -> StoreResult<(Schedule, bool)> {
    let old = get_locked(tx, tenant, &spec.name).await?;
    let next = spec.next_run_at(old.as_ref(), now).map_err(|e| StoreError::Internal(e.to_string()))?;
    let sql = format!(
        "INSERT INTO schedules (tenant, name, cron, timezone, job, paused, missed, next_run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (tenant, name) DO UPDATE SET cron = $3, timezone = $4, job = $5, paused = $6, missed = $7, \
           next_run_at = $8, last_error = NULL, updated_at = $9 \
         RETURNING {COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let job = job_json(&spec.job)?;
    let row = tx
        .query_one(
            &stmt,
            &[&tenant, &spec.name, &spec.cron, &spec.timezone, &job, &spec.paused, &spec.missed.as_str(), &next, &now],
        )
        .await
        .map_err(map_err)?;
    Ok((from_row(&row)?, old.is_none()))
}

async fn get_locked(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<Option<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE tenant = $1 AND name = $2 FOR UPDATE");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    tx.query_opt(&stmt, &[&tenant, &name]).await.map_err(map_err)?.as_ref().map(from_row).transpose()
}

pub(crate) async fn get(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<Option<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE tenant = $1 AND name = $2");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    tx.query_opt(&stmt, &[&tenant, &name]).await.map_err(map_err)?.as_ref().map(from_row).transpose()
}

pub(crate) async fn list(tx: &Tx<'_>, tenant: &str) -> StoreResult<Vec<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE tenant = $1 ORDER BY name");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    tx.query(&stmt, &[&tenant]).await.map_err(map_err)?.iter().map(from_row).collect()
}

pub(crate) async fn delete(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<bool> {
    let stmt = tx.prepare_cached("DELETE FROM schedules WHERE tenant = $1 AND name = $2").await.map_err(map_err)?;
    Ok(tx.execute(&stmt, &[&tenant, &name]).await.map_err(map_err)? > 0)
}

/// Pauses or resumes (see `sqlite/schedules.rs`).
pub(crate) async fn set_paused(tx: &Tx<'_>, tenant: &str, name: &str, paused: bool, now: i64) -> StoreResult<Schedule> {
    let old = get_locked(tx, tenant, name).await?.ok_or(StoreError::NotFound)?;
    if old.paused == paused {
        return Ok(old);
    }
    let next = if paused {
        None
    } else {
        CronSchedule::parse(&old.cron, &old.timezone).map_err(|e| StoreError::Internal(e.to_string()))?.next_after(now)
    };
    let sql = format!(
        "UPDATE schedules SET paused = $3, next_run_at = $4, updated_at = $5 WHERE tenant = $1 AND name = $2 \
         RETURNING {COLUMNS}"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    from_row(&tx.query_one(&stmt, &[&tenant, &name, &paused, &next, &now]).await.map_err(map_err)?)
}

/// Fires up to `limit` due schedules (see `sqlite/schedules.rs`).
pub(crate) async fn fire_due(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    now: i64,
    limit: u32,
) -> StoreResult<SchedulesFired> {
    let sql = format!(
        "SELECT {COLUMNS} FROM schedules WHERE next_run_at <= $1 ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let due: Vec<Schedule> = tx
        .query(&stmt, &[&now, &i64::from(limit)])
        .await
        .map_err(map_err)?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
    let mut fired = SchedulesFired::default();
    for s in &due {
        fire_one(tx, events, s, now, &mut fired).await?;
    }
    fired.next_due = if due.len() as u32 == limit {
        Some(now)
    } else {
        let stmt = tx.prepare_cached("SELECT MIN(next_run_at) FROM schedules").await.map_err(map_err)?;
        tx.query_one(&stmt, &[]).await.map_err(map_err)?.get(0)
    };
    Ok(fired)
}

async fn fire_one(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    s: &Schedule,
    now: i64,
    fired: &mut SchedulesFired,
) -> StoreResult<()> {
    let due = s.next_run_at.unwrap_or(now);
    let (plan, mut error) = match CronSchedule::parse(&s.cron, &s.timezone) {
        Ok(cron) => (cron.plan_fire(due, s.missed, now), None),
        Err(e) => (FirePlan { tick: None, next: None }, Some(e.to_string())),
    };
    let mut job_id = None;
    if let Some(tick) = plan.tick {
        let spec = ScheduleSpec::job_for_tick(&s.name, &s.job, tick);
        match queue_full(tx, &s.tenant, &spec.queue).await? {
            Some(msg) => error = Some(msg),
            None => {
                let mut made = jobs::enqueue(tx, events, &s.tenant, vec![spec], now).await?;
                job_id = made.pop().map(|e| e.job.id);
            }
        }
    }
    match job_id {
        Some(_) => fired.jobs += 1,
        None => fired.skipped += 1,
    }
    let last_run_at = job_id.and(plan.tick);
    let stmt = tx
        .prepare_cached(
            "UPDATE schedules SET next_run_at = $3, last_run_at = COALESCE($4, last_run_at), \
             last_job_id = COALESCE($5, last_job_id), last_error = $6, runs = runs + $7 \
             WHERE tenant = $1 AND name = $2 AND next_run_at = $8",
        )
        .await
        .map_err(map_err)?;
    let job_uuid = job_id.map(|id| id.0);
    tx.execute(
        &stmt,
        &[&s.tenant, &s.name, &plan.next, &last_run_at, &job_uuid, &error, &i64::from(job_id.is_some()), &due],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Why a tick's job cannot join its queue, if the queue is at its maximum depth. Another node
/// may fill it between this count and the insert; the insert's own check then refuses, the
/// transaction rolls back, and the next try lands here.
async fn queue_full(tx: &Tx<'_>, tenant: &str, queue: &str) -> StoreResult<Option<String>> {
    let Some(max_depth) = queues::ensure_settings(tx, tenant, queue).await?.max_depth else { return Ok(None) };
    let stmt = tx
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE tenant = $1 AND queue = $2 AND state IN (0, 1, 4) \
             LIMIT $3) AS w",
        )
        .await
        .map_err(map_err)?;
    let waiting: i64 = tx.query_one(&stmt, &[&tenant, &queue, &(max_depth as i64)]).await.map_err(map_err)?.get(0);
    Ok((waiting as u64 >= max_depth).then(|| {
        format!("queue {queue:?} was full ({max_depth} jobs waiting) when the schedule fell due; that tick made no job")
    }))
}
