//! Enqueue and get.
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{Enqueued, Job, JobId, JobSpec, QueueSettings, StoreError, StoreResult, limits};

use super::rows::{JOB_COLUMNS, job_from_row, state_event};
use super::writer::Batch;
use super::{map_err, queues};

/// Creates the jobs of one request, all or nothing.
pub(crate) fn enqueue(b: &mut Batch<'_>, tenant: &str, specs: Vec<JobSpec>, now: i64) -> StoreResult<Vec<Enqueued>> {
    b.words.set();
    let mut defaults: HashMap<String, QueueSettings> = HashMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        if let Some(key) = &spec.idempotency_key
            && let Some(job) = find_by_idempotency_key(b.conn, tenant, key)?
        {
            out.push(Enqueued { job, created: false });
            continue;
        }
        if let Some(key) = &spec.cache_key
            && let Some(job) = find_cached(b.conn, tenant, &spec.kind, key, now)?
        {
            out.push(Enqueued { job, created: false });
            continue;
        }
        if !defaults.contains_key(&spec.queue) {
            let settings = queues::settings(b.conn, tenant, &spec.queue)?;
            defaults.insert(spec.queue.clone(), settings);
        }
        let queue = &defaults[&spec.queue];
        let job = insert(b.conn, tenant, spec, queue, now)?;
        b.moved(tenant, &job.queue, None, Some(job.state));
        b.events.push(state_event(&job));
        out.push(Enqueued { job, created: true });
    }
    b.flush_moves()?;
    for (name, settings) in &defaults {
        if let Some(max_depth) = settings.max_depth {
            let waiting = queues::waiting(b.conn, tenant, name)?;
            if waiting > max_depth {
                return Err(StoreError::QueueFull { queue: name.clone(), max_depth });
            }
        }
    }
    Ok(out)
}

fn insert(conn: &Connection, tenant: &str, mut spec: JobSpec, queue: &QueueSettings, now: i64) -> StoreResult<Job> {
    let then = spec.then.take().map(|t| serde_json::to_string(&t)).transpose();
    let then = then.map_err(|e| StoreError::Internal(e.to_string()))?;
    let retry = spec.retry.or(queue.retry).unwrap_or_default();
    let max_attempts = spec.max_attempts.or(queue.max_attempts).unwrap_or(limits::DEFAULT_MAX_ATTEMPTS);
    let job = Job::from_spec(JobId::new(), tenant, spec, now, max_attempts, retry);
    let tags = (!job.tags.is_empty())
        .then(|| serde_json::to_string(&job.tags))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO jobs (id, tenant, kind, queue, state, builtin, priority, max_attempts, payload, \
         tags, idempotency_key, cache_key, timeout_ms, retry_base_ms, retry_max_ms, created_at, run_at, \
         batch_id, parent_id, then_spec) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.id.as_bytes(),
            tenant,
            job.kind,
            job.queue,
            job.state.code(),
            job.builtin,
            job.priority,
            job.max_attempts,
            job.payload.get(),
            tags,
            job.idempotency_key,
            job.cache_key,
            job.timeout_ms.map(|t| t as i64),
            job.retry.base_ms as i64,
            job.retry.max_ms as i64,
            now,
            job.run_at,
            job.batch_id.map(|b| b.as_bytes().to_vec()),
            job.parent_id.map(|p| p.as_bytes().to_vec()),
            then,
        ])
    })
    .map_err(map_err)?;
    // Its search words are written after the commit (deferred.rs).
    Ok(job)
}

fn find_by_idempotency_key(conn: &Connection, tenant: &str, key: &str) -> StoreResult<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant, key], job_from_row).optional())
        .map_err(map_err)
}

/// The job that answers a cache key: the one that made the newest live artifact with that
/// key, else an equal job still waiting or running (in-flight dedupe). The writer runs one
/// transaction at a time, so two equal enqueues never both miss.
fn find_cached(conn: &Connection, tenant: &str, kind: &str, key: &str, now: i64) -> StoreResult<Option<Job>> {
    let made = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = (SELECT job_id FROM artifacts WHERE tenant = ?1 AND kind = ?2 \
         AND cache_key = ?3 AND (expires_at IS NULL OR expires_at > ?4) AND job_id IS NOT NULL \
         ORDER BY created_at DESC LIMIT 1) AND state = 3"
    );
    if let Some(job) = conn
        .prepare_cached(&made)
        .and_then(|mut s| s.query_row(params![tenant, kind, key, now], job_from_row).optional())
        .map_err(map_err)?
    {
        return Ok(Some(job));
    }
    let waiting = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 AND kind = ?2 AND cache_key = ?3 AND state IN (0, 1, 2, 4) \
         ORDER BY created_at DESC LIMIT 1"
    );
    conn.prepare_cached(&waiting)
        .and_then(|mut s| s.query_row(params![tenant, kind, key], job_from_row).optional())
        .map_err(map_err)
}

/// One job, in a tenant or (runtime only) anywhere.
pub(crate) fn get(conn: &Connection, tenant: Option<&str>, id: JobId) -> StoreResult<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id.as_bytes(), tenant], job_from_row).optional())
        .map_err(map_err)
}
