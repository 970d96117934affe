//! Schedules and their firing (mirrors `postgres/schedules.rs`). The writer runs one
//! transaction at a time, so a due tick read here is still due when its job is written: a tick
//! makes one job.
use rusqlite::{Connection, OptionalExtension, Row, params};
use tarea_core::{
    CronSchedule, FirePlan, JobId, JobSpec, Schedule, ScheduleSpec, SchedulesFired, StoreError, StoreResult,
};

use super::map_err;
use super::writer::Batch;
use super::{jobs, queues};

const COLUMNS: &str = "tenant, name, cron, timezone, job, paused, missed, next_run_at, last_run_at, last_job_id, \
                       last_error, runs, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    let bad = |i, e: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into());
    let job: String = r.get(4)?;
    let missed: String = r.get(6)?;
    Ok(Schedule {
        tenant: r.get(0)?,
        name: r.get(1)?,
        cron: r.get(2)?,
        timezone: r.get(3)?,
        job: serde_json::from_str(&job).map_err(|e| bad(4, e.to_string()))?,
        paused: r.get(5)?,
        missed: missed.parse().map_err(|e| bad(6, e))?,
        next_run_at: r.get(7)?,
        last_run_at: r.get(8)?,
        last_job_id: r.get::<_, Option<[u8; 16]>>(9)?.map(JobId::from_bytes),
        last_error: r.get(10)?,
        runs: r.get::<_, i64>(11)? as u64,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

fn job_json(job: &JobSpec) -> StoreResult<String> {
    serde_json::to_string(job).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Creates or replaces a schedule. Its next tick is computed from `now`, except that a schedule
/// stored again with the same pattern and zone keeps a tick that has not fired yet.
pub(crate) fn put(conn: &Connection, tenant: &str, spec: &ScheduleSpec, now: i64) -> StoreResult<(Schedule, bool)> {
    let old = get(conn, tenant, &spec.name)?;
    let next = spec.next_run_at(old.as_ref(), now).map_err(|e| StoreError::Internal(e.to_string()))?;
    let sql = format!(
        "INSERT INTO schedules (tenant, name, cron, timezone, job, paused, missed, next_run_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
         ON CONFLICT (tenant, name) DO UPDATE SET cron = ?3, timezone = ?4, job = ?5, paused = ?6, missed = ?7, \
           next_run_at = ?8, last_error = NULL, updated_at = ?9 \
         RETURNING {COLUMNS}"
    );
    let job = job_json(&spec.job)?;
    let stored = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(
                params![tenant, spec.name, spec.cron, spec.timezone, job, spec.paused, spec.missed.as_str(), next, now],
                from_row,
            )
        })
        .map_err(map_err)?;
    Ok((stored, old.is_none()))
}

pub(crate) fn get(conn: &Connection, tenant: &str, name: &str) -> StoreResult<Option<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE tenant = ?1 AND name = ?2");
    conn.prepare_cached(&sql).and_then(|mut s| s.query_row(params![tenant, name], from_row).optional()).map_err(map_err)
}

pub(crate) fn list(conn: &Connection, tenant: &str) -> StoreResult<Vec<Schedule>> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE tenant = ?1 ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt.query_map(params![tenant], from_row).map_err(map_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
}

pub(crate) fn delete(conn: &Connection, tenant: &str, name: &str) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM schedules WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.execute(params![tenant, name]))
        .map(|n| n > 0)
        .map_err(map_err)
}

/// Pauses (no next tick) or resumes (the next tick after `now`: a resumed schedule does not
/// catch up on the ticks it was paused for).
pub(crate) fn set_paused(conn: &Connection, tenant: &str, name: &str, paused: bool, now: i64) -> StoreResult<Schedule> {
    let old = get(conn, tenant, name)?.ok_or(StoreError::NotFound)?;
    if old.paused == paused {
        return Ok(old);
    }
    let next = if paused {
        None
    } else {
        CronSchedule::parse(&old.cron, &old.timezone).map_err(|e| StoreError::Internal(e.to_string()))?.next_after(now)
    };
    let sql = format!(
        "UPDATE schedules SET paused = ?3, next_run_at = ?4, updated_at = ?5 WHERE tenant = ?1 AND name = ?2 \
         RETURNING {COLUMNS}"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant, name, paused, next, now], from_row))
        .map_err(map_err)
}

/// Fires up to `limit` due schedules: each makes at most one job (see
/// [`CronSchedule::plan_fire`]) and moves on to its next tick.
pub(crate) fn fire_due(b: &mut Batch<'_>, now: i64, limit: u32) -> StoreResult<SchedulesFired> {
    let sql = format!("SELECT {COLUMNS} FROM schedules WHERE next_run_at <= ?1 ORDER BY next_run_at LIMIT ?2");
    let due: Vec<Schedule> = b
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_map(params![now, limit], from_row)?.collect())
        .map_err(map_err)?;
    let mut fired = SchedulesFired::default();
    for s in &due {
        fire_one(b, s, now, &mut fired)?;
    }
    fired.next_due = if due.len() as u32 == limit {
        Some(now)
    } else {
        b.conn
            .prepare_cached("SELECT MIN(next_run_at) FROM schedules")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(map_err)?
    };
    Ok(fired)
}

fn fire_one(b: &mut Batch<'_>, s: &Schedule, now: i64, fired: &mut SchedulesFired) -> StoreResult<()> {
    let due = s.next_run_at.unwrap_or(now);
    let (plan, mut error) = match CronSchedule::parse(&s.cron, &s.timezone) {
        Ok(cron) => (cron.plan_fire(due, s.missed, now), None),
        // The pattern was valid when stored; a zone a newer time zone database dropped is not.
        Err(e) => (FirePlan { tick: None, next: None }, Some(e.to_string())),
    };
    let mut job_id = None;
    if let Some(tick) = plan.tick {
        let spec = ScheduleSpec::job_for_tick(&s.name, &s.job, tick);
        match queue_full(b.conn, &s.tenant, &spec.queue)? {
            Some(msg) => error = Some(msg),
            None => {
                let mut made = jobs::enqueue(b, &s.tenant, vec![spec], now)?;
                job_id = made.pop().map(|e| e.job.id);
            }
        }
    }
    match job_id {
        Some(_) => fired.jobs += 1,
        None => fired.skipped += 1,
    }
    let last_run_at = job_id.and(plan.tick);
    b.conn
        .prepare_cached(
            "UPDATE schedules SET next_run_at = ?3, last_run_at = COALESCE(?4, last_run_at), \
             last_job_id = COALESCE(?5, last_job_id), last_error = ?6, runs = runs + ?7 \
             WHERE tenant = ?1 AND name = ?2 AND next_run_at = ?8",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.tenant,
                s.name,
                plan.next,
                last_run_at,
                job_id.map(|id| id.as_bytes().to_vec()),
                error,
                i64::from(job_id.is_some()),
                due
            ])
        })
        .map_err(map_err)?;
    Ok(())
}

/// Why a tick's job cannot join its queue, if the queue is at its maximum depth. The writer is
/// the only one writing, so the count read here is the count the insert would see.
fn queue_full(conn: &Connection, tenant: &str, queue: &str) -> StoreResult<Option<String>> {
    let Some(max_depth) = queues::settings(conn, tenant, queue)?.max_depth else { return Ok(None) };
    let waiting = queues::waiting(conn, tenant, queue)?;
    Ok((waiting >= max_depth).then(|| {
        format!("queue {queue:?} was full ({max_depth} jobs waiting) when the schedule fell due; that tick made no job")
    }))
}
