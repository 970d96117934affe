//! Enqueue, get and list, mirroring the SQLite store's `jobs.rs`.
use std::collections::HashMap;

use tarea_core::{Enqueued, Job, JobEvent, JobId, JobSpec, QueueSettings, StoreError, StoreResult, limits};
use tokio_postgres::types::ToSql;

use super::rows::{JOB_COLUMNS, job_from_row, state_event};
use super::{Tx, map_err, queues};

/// Creates the jobs of one request, all or nothing.
pub(crate) async fn enqueue(
    tx: &Tx<'_>,
    events: &mut Vec<JobEvent>,
    tenant: &str,
    specs: Vec<JobSpec>,
    now: i64,
) -> StoreResult<Vec<Enqueued>> {
    let mut defaults: HashMap<String, QueueSettings> = HashMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        if let Some(key) = &spec.idempotency_key
            && let Some(job) = find_by_idempotency_key(tx, tenant, key).await?
        {
            out.push(Enqueued { job, created: false });
            continue;
        }
        if let Some(key) = &spec.cache_key
            && let Some(job) = find_cached(tx, tenant, &spec.kind, key, now).await?
        {
            out.push(Enqueued { job, created: false });
            continue;
        }
        if !defaults.contains_key(&spec.queue) {
            let settings = queues::ensure_settings(tx, tenant, &spec.queue).await?;
            defaults.insert(spec.queue.clone(), settings);
        }
        let queue = &defaults[&spec.queue];
        let key = spec.idempotency_key.clone();
        match insert(tx, tenant, spec, queue, now).await? {
            Some(job) => {
                events.push(state_event(&job));
                out.push(Enqueued { job, created: true });
            }
            // Another node inserted the same key between our look-up and our insert; its job
            // committed (ON CONFLICT waited for it), so this statement's snapshot sees it.
            None => {
                let key = key.unwrap_or_default();
                let job = find_by_idempotency_key(tx, tenant, &key)
                    .await?
                    .ok_or_else(|| StoreError::Conflict(format!("idempotency key {key:?} is being used")))?;
                out.push(Enqueued { job, created: false });
            }
        }
    }
    for (name, settings) in &defaults {
        if settings.max_depth.is_some() {
            check_depth(tx, tenant, name).await?;
        }
    }
    Ok(out)
}

/// The one-statement enqueue: creates the queue if it is new and inserts the job with the
/// queue's defaults, unless the queue has a maximum depth (then no row comes back). Parameters:
/// id, tenant, kind, queue, state, builtin, priority, max_attempts?, payload, tags?,
/// cache_key?, timeout_ms?, retry base?, retry max?, now, run_at, default attempts.
pub(crate) const INSERT_ONE_SQL: &str = "WITH ensured AS (INSERT INTO queues (tenant, name) VALUES ($2, $4) ON CONFLICT DO NOTHING \
       RETURNING settings, max_depth), \
     q AS (SELECT settings, max_depth FROM ensured \
           UNION ALL SELECT settings, max_depth FROM queues WHERE tenant = $2 AND name = $4 LIMIT 1) \
     INSERT INTO jobs (id, tenant, kind, queue, state, builtin, priority, max_attempts, payload, tags, \
       cache_key, timeout_ms, retry_base_ms, retry_max_ms, created_at, run_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, COALESCE($8, (q.settings ->> 'max_attempts')::integer, $17), \
       $9::text::json, $10, $11, $12, COALESCE($13, (q.settings -> 'retry' ->> 'base_ms')::bigint, 1000), \
       COALESCE($14, (q.settings -> 'retry' ->> 'max_ms')::bigint, 600000), $15, $16 \
     FROM q WHERE q.max_depth IS NULL \
     RETURNING max_attempts, retry_base_ms, retry_max_ms";

/// The depth check, after the new jobs are in: the migration's `check_depth()` locks the queue
/// row (concurrent enqueues count one after the other) and raises TQ001 past the limit. The
/// same function guards `tarea.enqueue()`, so the rule is written once.
async fn check_depth(tx: &Tx<'_>, tenant: &str, queue: &str) -> StoreResult<()> {
    let stmt = tx.prepare_cached("SELECT check_depth($1, $2)").await.map_err(map_err)?;
    match tx.execute(&stmt, &[&tenant, &queue]).await {
        Ok(_) => Ok(()),
        Err(e) if e.code().is_some_and(|c| c.code() == "TQ001") => {
            let max_depth = e.as_db_error().and_then(|d| d.message().parse().ok()).unwrap_or(0);
            Err(StoreError::QueueFull { queue: queue.to_owned(), max_depth })
        }
        Err(e) => Err(map_err(e)),
    }
}

/// A job as the one-statement enqueue will write it, before it is written; the attempts and
/// backoff it gets from its queue are filled in from the insert's answer.
pub(crate) fn planned(tenant: &str, spec: JobSpec, now: i64) -> Job {
    let (max_attempts, retry) = (spec.max_attempts.unwrap_or(0), spec.retry.unwrap_or_default());
    Job::from_spec(JobId::new(), tenant, spec, now, max_attempts, retry)
}

/// Inserts a job; `None` when a job with its idempotency key exists already.
async fn insert(
    tx: &Tx<'_>,
    tenant: &str,
    mut spec: JobSpec,
    queue: &QueueSettings,
    now: i64,
) -> StoreResult<Option<Job>> {
    let then = spec.then.take().map(|t| serde_json::to_string(&t)).transpose();
    let then = then.map_err(|e| StoreError::Internal(e.to_string()))?;
    let retry = spec.retry.or(queue.retry).unwrap_or_default();
    let max_attempts = spec.max_attempts.or(queue.max_attempts).unwrap_or(limits::DEFAULT_MAX_ATTEMPTS);
    let job = Job::from_spec(JobId::new(), tenant, spec, now, max_attempts, retry);
    let tags: Option<&Vec<String>> = (!job.tags.is_empty()).then_some(&job.tags);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO jobs (id, tenant, kind, queue, state, builtin, priority, max_attempts, payload, \
             tags, idempotency_key, cache_key, timeout_ms, retry_base_ms, retry_max_ms, created_at, run_at, \
             batch_id, parent_id, then_spec) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::json, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20) \
             ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
        )
        .await
        .map_err(map_err)?;
    let (batch_id, parent_id) = (job.batch_id.map(|b| b.0), job.parent_id.map(|p| p.0));
    let args: [&(dyn ToSql + Sync); 20] = [
        &job.id.0,
        &tenant,
        &job.kind,
        &job.queue,
        &(job.state.code() as i16),
        &job.builtin,
        &job.priority,
        &(job.max_attempts as i32),
        &job.payload.get(),
        &tags,
        &job.idempotency_key,
        &job.cache_key,
        &job.timeout_ms.map(|t| t as i64),
        &(job.retry.base_ms as i64),
        &(job.retry.max_ms as i64),
        &now,
        &job.run_at,
        &batch_id,
        &parent_id,
        &then,
    ];
    if tx.execute(&stmt, &args).await.map_err(map_err)? == 0 {
        return Ok(None);
    }
    Ok(Some(job))
}

async fn find_by_idempotency_key(tx: &Tx<'_>, tenant: &str, key: &str) -> StoreResult<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = $1 AND idempotency_key = $2");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&tenant, &key]).await.map_err(map_err)?;
    row.as_ref().map(job_from_row).transpose()
}

/// The job that answers a cache key: the one that made the newest live artifact with that
/// key, else an equal job still waiting or running (in-flight dedupe). A transaction-scoped
/// advisory lock on the key makes two nodes' equal enqueues take turns, so both never miss.
async fn find_cached(tx: &Tx<'_>, tenant: &str, kind: &str, key: &str, now: i64) -> StoreResult<Option<Job>> {
    let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").await.map_err(map_err)?;
    let scope = format!("tarea-cache\u{1f}{tenant}\u{1f}{kind}\u{1f}{key}");
    tx.execute(&lock, &[&scope]).await.map_err(map_err)?;
    let made = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = (SELECT job_id FROM artifacts WHERE tenant = $1 AND kind = $2 \
         AND cache_key = $3 AND (expires_at IS NULL OR expires_at > $4) AND job_id IS NOT NULL \
         ORDER BY created_at DESC LIMIT 1) AND state = 3"
    );
    let stmt = tx.prepare_cached(&made).await.map_err(map_err)?;
    if let Some(row) = tx.query_opt(&stmt, &[&tenant, &kind, &key, &now]).await.map_err(map_err)? {
        return job_from_row(&row).map(Some);
    }
    let waiting = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = $1 AND kind = $2 AND cache_key = $3 AND state IN (0, 1, 2, 4) \
         ORDER BY created_at DESC LIMIT 1"
    );
    let stmt = tx.prepare_cached(&waiting).await.map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&tenant, &kind, &key]).await.map_err(map_err)?;
    row.as_ref().map(job_from_row).transpose()
}

/// One job, in a tenant or (runtime only) anywhere.
pub(crate) async fn get(tx: &Tx<'_>, tenant: Option<&str>, id: JobId) -> StoreResult<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&id.0, &tenant]).await.map_err(map_err)?;
    row.as_ref().map(job_from_row).transpose()
}
