//! The embedded store: one SQLite file in WAL mode, one writer thread doing group commit, and a
//! small pool of readers.
mod artifacts;
mod batches;
mod claim;
mod complete;
mod counts;
mod deferred;
mod history;
mod jobs;
mod listing;
mod maintenance;
mod migrations;
mod nodes;
mod queues;
mod readers;
mod rows;
mod schedules;
mod sessions;
mod templates;
mod tenants;
mod webhooks;
mod writer;

#[cfg(test)]
mod plan_tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;
use tarea_core::{
    ApiKey, Artifact, ArtifactId, ArtifactRetention, AuditEntry, Batch, BatchId, ClaimParams, CompleteParams, Enqueued,
    EventSink, ExternalWorker, FollowUps, Job, JobAttempt, JobFilter, JobId, JobPage, JobSpec, KeyHash, NodeInfo,
    ProgressUpdate, QueueInfo, QueueSettings, Retention, Schedule, ScheduleSpec, SchedulesFired, StatsBucket, Store,
    StoreError, StoreResult, TemplateSummary, TemplateVersion, Webhook, WebhookId, WebhookSpec,
};

use readers::Readers;
use writer::Writer;

/// How hard a commit tries to survive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// fsync on every commit: a `201` survives power loss (the default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a crash of tarea, not of the machine.
    Relaxed,
}

/// Options of the embedded store.
#[derive(Clone, Debug, Default)]
pub struct SqliteOptions {
    /// Commit durability.
    pub durability: Durability,
}

/// The SQLite store.
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<Readers>,
    stop: Arc<AtomicBool>,
    /// New jobs waiting for their search words (deferred.rs).
    words: Arc<deferred::Pending>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::ConstraintViolation => StoreError::Conflict(e.to_string()),
            C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::DiskFull | C::SystemIoFailure => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(e.to_string()),
        },
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        _ => StoreError::Internal(e.to_string()),
    }
}

fn open_writer(path: &Path, options: &SqliteOptions) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    let sync = match options.durability {
        Durability::Full => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA busy_timeout = 5000;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;"
    ))?;
    migrations::migrate(&mut conn)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Checkpoints the WAL off the writer thread, so commits never pay for a checkpoint.
fn start_checkpointer(path: PathBuf, stop: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new().name("tarea-sqlite-checkpoint".into()).spawn(move || {
        let Ok(conn) = Connection::open(&path) else { return };
        let _ = conn.execute_batch("PRAGMA busy_timeout = 100;");
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "WAL checkpoint skipped");
            }
        }
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    });
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions, sink: Arc<dyn EventSink>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = open_writer(&path, &options)
            .map_err(|e| StoreError::Unavailable(format!("cannot open the database {}: {e}", path.display())))?;
        let stop = Arc::new(AtomicBool::new(false));
        start_checkpointer(path.clone(), Arc::clone(&stop));
        // Relaxed commits do not wait for the disk: an idle writer lets every caller commit on
        // its own thread. With fsync, only enqueues do (see `Writer::write_eager`).
        let relaxed = options.durability == Durability::Relaxed;
        let words = Arc::new(deferred::Pending::new());
        let writer = Writer::start(conn, sink, relaxed, !relaxed, Arc::clone(&words));
        Ok(SqliteStore { writer, readers: Readers::new(path), stop, words })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn job_enqueue(&self, tenant: &str, specs: Vec<JobSpec>, now: i64) -> StoreResult<Vec<Enqueued>> {
        let tenant = tenant.to_owned();
        // A few jobs commit on the caller's thread when the writer is idle; a large batch
        // would hold an async worker for milliseconds, so it goes to the writer thread.
        if specs.len() <= 8 {
            self.writer.write_eager(move |b| jobs::enqueue(b, &tenant, specs, now)).await
        } else {
            self.writer.write(move |b| jobs::enqueue(b, &tenant, specs, now)).await
        }
    }

    async fn job_get(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Option<Job>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| jobs::get(c, tenant.as_deref(), id)).await
    }

    async fn job_list(&self, tenant: &str, filter: JobFilter) -> StoreResult<JobPage> {
        if filter.search.is_some() && self.words.is_set() {
            // New jobs get their search words after their commit: a search writes what is
            // pending first, so it sees every job.
            self.writer.write(|b| deferred::catch_up(b.conn, deferred::SEARCH_CATCH_UP)).await?;
        }
        let tenant = tenant.to_owned();
        self.readers.read(move |c| listing::list(c, &tenant, &filter)).await
    }

    async fn job_claim(&self, params: ClaimParams) -> StoreResult<Vec<Job>> {
        self.writer.write_unguarded(move |b| claim::claim(b, &params)).await
    }

    async fn job_complete_if_attempt(&self, params: CompleteParams) -> StoreResult<Job> {
        self.writer.write_unguarded(move |b| complete::complete(b, params)).await
    }

    async fn job_complete_many_if_attempt(&self, params: Vec<CompleteParams>) -> StoreResult<Vec<StoreResult<()>>> {
        self.writer.write_unguarded(move |b| complete::complete_many(b, params)).await
    }

    async fn lease_renew_if_attempt(
        &self,
        tenant: Option<&str>,
        jobs: &[(JobId, u32)],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<Vec<bool>> {
        let tenant = tenant.map(str::to_owned);
        let jobs = jobs.to_vec();
        self.writer.write_unguarded(move |b| complete::renew(b, tenant.as_deref(), &jobs, lease_ms, now)).await
    }

    async fn job_progress_if_attempt(
        &self,
        tenant: Option<&str>,
        id: JobId,
        attempt: u32,
        update: ProgressUpdate,
    ) -> StoreResult<Job> {
        let tenant = tenant.map(str::to_owned);
        self.writer.write_unguarded(move |b| complete::progress(b, tenant.as_deref(), id, attempt, &update)).await
    }

    async fn job_cancel(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
        let tenant = tenant.to_owned();
        self.writer.write_unguarded(move |b| complete::cancel(b, &tenant, id, now)).await
    }

    async fn job_retry(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
        let tenant = tenant.to_owned();
        self.writer.write_unguarded(move |b| complete::retry(b, &tenant, id, now)).await
    }

    async fn job_delete_finished(&self, tenant: &str, ids: &[JobId]) -> StoreResult<u64> {
        let (tenant, ids) = (tenant.to_owned(), ids.to_vec());
        self.writer.write(move |b| maintenance::delete_finished(b, &tenant, &ids)).await
    }

    async fn job_attempts(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Vec<JobAttempt>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| history::attempts(c, tenant.as_deref(), id)).await
    }

    async fn stats_rollup(&self, now: i64) -> StoreResult<u64> {
        self.writer.write_unguarded(move |b| history::rollup(b, now)).await
    }

    async fn stats_series(
        &self,
        tenant: Option<&str>,
        queue: Option<&str>,
        from: i64,
        step_ms: i64,
    ) -> StoreResult<Vec<StatsBucket>> {
        let (tenant, queue) = (tenant.map(str::to_owned), queue.map(str::to_owned));
        self.readers.read(move |c| history::series(c, tenant.as_deref(), queue.as_deref(), from, step_ms)).await
    }

    async fn job_promote_due(&self, now: i64) -> StoreResult<(u64, Option<i64>)> {
        self.writer.write_unguarded(move |b| maintenance::promote_due(b, now)).await
    }

    async fn lease_reap_expired(&self, now: i64) -> StoreResult<u64> {
        self.writer.write_unguarded(move |b| maintenance::reap_expired(b, now)).await
    }

    async fn job_delete_expired(&self, now: i64, defaults: Retention, limit: u32) -> StoreResult<u64> {
        self.writer.write_unguarded(move |b| maintenance::delete_expired(b, now, defaults, limit)).await
    }

    async fn queue_list(&self, tenant: Option<&str>) -> StoreResult<Vec<QueueInfo>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| queues::list(c, tenant.as_deref())).await
    }

    async fn queue_update(&self, tenant: &str, name: &str, settings: QueueSettings) -> StoreResult<QueueInfo> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| queues::update(b.conn, &tenant, &name, &settings)).await
    }

    async fn queue_set_paused(&self, tenant: &str, name: &str, paused: bool) -> StoreResult<QueueInfo> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| queues::set_paused(b, &tenant, &name, paused)).await
    }

    async fn tenant_count(&self) -> StoreResult<u64> {
        self.readers.read(tenants::count).await
    }

    async fn tenant_list(&self) -> StoreResult<Vec<String>> {
        self.readers.read(tenants::list).await
    }

    async fn tenant_ensure(&self, name: &str, now: i64) -> StoreResult<()> {
        let name = name.to_owned();
        self.writer.write(move |b| tenants::ensure(b.conn, &name, now)).await
    }

    async fn api_key_create(&self, key: ApiKey, hash: KeyHash) -> StoreResult<ApiKey> {
        self.writer.write(move |b| tenants::key_create(b.conn, key, hash)).await
    }

    async fn api_key_create_first(&self, key: ApiKey, hash: KeyHash) -> StoreResult<bool> {
        self.writer.write(move |b| tenants::key_create_first(b.conn, key, hash)).await
    }

    async fn api_key_find(&self, hash: KeyHash) -> StoreResult<Option<ApiKey>> {
        self.readers.read(move |c| tenants::key_find(c, hash)).await
    }

    async fn api_key_list(&self, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| tenants::key_list(c, tenant.as_deref())).await
    }

    async fn api_key_delete(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.writer.write(move |b| tenants::key_delete(b.conn, &id)).await
    }

    async fn session_create(&self, hash: KeyHash, key_id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
        let key_id = key_id.to_owned();
        self.writer.write(move |b| sessions::create(b.conn, hash, &key_id, now, expires_at)).await
    }

    async fn session_find(&self, hash: KeyHash, now: i64) -> StoreResult<Option<(ApiKey, i64)>> {
        self.readers.read(move |c| sessions::find(c, hash, now)).await
    }

    async fn session_delete(&self, hash: KeyHash) -> StoreResult<bool> {
        self.writer.write(move |b| sessions::delete(b.conn, hash)).await
    }

    async fn audit_append(&self, entry: AuditEntry) -> StoreResult<()> {
        self.writer.write(move |b| sessions::audit_append(b.conn, &entry)).await
    }

    async fn audit_list(&self, tenant: Option<&str>, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| sessions::audit_list(c, tenant.as_deref(), before, limit)).await
    }

    async fn node_heartbeat(&self, node: NodeInfo, lease_ms: u64) -> StoreResult<()> {
        self.writer.write(move |b| nodes::heartbeat(b.conn, &node, lease_ms)).await
    }

    async fn node_remove(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.writer.write(move |b| nodes::remove(b.conn, &id)).await
    }

    async fn node_list(&self, now: i64) -> StoreResult<Vec<NodeInfo>> {
        self.readers.read(move |c| nodes::list(c, now)).await
    }

    async fn worker_seen(
        &self,
        tenant: &str,
        name: &str,
        queues: &[String],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<()> {
        let (tenant, name, queues) = (tenant.to_owned(), name.to_owned(), queues.to_vec());
        self.writer.write(move |b| nodes::worker_seen(b.conn, &tenant, &name, &queues, lease_ms, now)).await
    }

    async fn worker_list(&self, tenant: Option<&str>, now: i64) -> StoreResult<Vec<ExternalWorker>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| nodes::worker_list(c, tenant.as_deref(), now)).await
    }

    async fn leader_try(&self, node: &str, lease_ms: u64, now: i64) -> StoreResult<bool> {
        let node = node.to_owned();
        self.writer.write(move |b| nodes::leader_try(b.conn, &node, lease_ms, now)).await
    }

    async fn leader_resign(&self, node: &str) -> StoreResult<()> {
        let node = node.to_owned();
        self.writer.write(move |b| nodes::leader_resign(b.conn, &node)).await
    }

    async fn builtin_kinds_register(&self, _kinds: &[String]) -> StoreResult<()> {
        // Nothing enqueues into SQLite but this process, which knows its kinds.
        Ok(())
    }

    async fn artifact_insert(
        &self,
        artifact: Artifact,
        attempt: Option<u32>,
        default_ttl_ms: Option<u64>,
    ) -> StoreResult<Artifact> {
        self.writer.write(move |b| artifacts::insert(b.conn, artifact, attempt, default_ttl_ms)).await
    }

    async fn artifact_get(&self, tenant: Option<&str>, id: ArtifactId) -> StoreResult<Option<Artifact>> {
        let tenant = tenant.map(str::to_owned);
        self.readers.read(move |c| artifacts::get(c, tenant.as_deref(), id)).await
    }

    async fn artifact_list(&self, tenant: &str, before: Option<ArtifactId>, limit: u32) -> StoreResult<Vec<Artifact>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| artifacts::list(c, &tenant, before, limit)).await
    }

    async fn artifact_list_for_jobs(&self, tenant: &str, jobs: &[JobId]) -> StoreResult<Vec<Artifact>> {
        // One job's files (a job view) are looked up on this thread; a page's on the pool.
        if jobs.len() <= artifacts::PROBES_NOW {
            return self.readers.read_now(|c| artifacts::list_for_jobs(c, tenant, jobs));
        }
        let (tenant, jobs) = (tenant.to_owned(), jobs.to_vec());
        self.readers.read(move |c| artifacts::list_for_jobs(c, &tenant, &jobs)).await
    }

    async fn artifact_downloaded(&self, id: ArtifactId) -> StoreResult<()> {
        self.writer.write_unguarded(move |b| artifacts::downloaded(b.conn, id)).await
    }

    async fn artifact_expired(&self, now: i64, limit: u32) -> StoreResult<Vec<Artifact>> {
        self.readers.read(move |c| artifacts::expired(c, now, limit)).await
    }

    async fn artifact_delete(&self, ids: &[ArtifactId]) -> StoreResult<u64> {
        let ids = ids.to_vec();
        self.writer.write(move |b| artifacts::delete(b.conn, &ids)).await
    }

    async fn artifact_retention_get(&self, tenant: &str) -> StoreResult<ArtifactRetention> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| artifacts::retention_get(c, &tenant)).await
    }

    async fn artifact_retention_set(&self, tenant: &str, retention: ArtifactRetention) -> StoreResult<()> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| artifacts::retention_set(b.conn, &tenant, &retention)).await
    }

    async fn secret_get_or_create(&self, name: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        let name = name.to_owned();
        self.writer.write(move |b| artifacts::secret_get_or_create(b.conn, &name, &candidate)).await
    }

    async fn template_put(
        &self,
        tenant: &str,
        name: &str,
        source: &str,
        assets: &[u8],
        now: i64,
    ) -> StoreResult<TemplateVersion> {
        let (tenant, name, source, assets) = (tenant.to_owned(), name.to_owned(), source.to_owned(), assets.to_vec());
        self.writer.write(move |b| templates::put(b.conn, &tenant, &name, &source, &assets, now)).await
    }

    async fn template_get(
        &self,
        tenant: &str,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<TemplateVersion>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.readers.read(move |c| templates::get(c, &tenant, &name, version)).await
    }

    async fn template_latest(&self, tenant: &str, name: &str) -> StoreResult<Option<u32>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.readers.read(move |c| templates::latest(c, &tenant, &name)).await
    }

    async fn template_stale_jobs(
        &self,
        tenant: &str,
        name: &str,
        below: u32,
        now: i64,
        after: Option<JobId>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.readers.read(move |c| templates::stale_jobs(c, &tenant, &name, below, now, after, limit)).await
    }

    async fn template_list(&self, tenant: &str) -> StoreResult<Vec<TemplateSummary>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| templates::list(c, &tenant)).await
    }

    async fn template_delete(&self, tenant: &str, name: &str, now: i64) -> StoreResult<u64> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| templates::delete(b.conn, &tenant, &name, now)).await
    }

    async fn schedule_put(&self, tenant: &str, spec: ScheduleSpec, now: i64) -> StoreResult<(Schedule, bool)> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| schedules::put(b.conn, &tenant, &spec, now)).await
    }

    async fn schedule_get(&self, tenant: &str, name: &str) -> StoreResult<Option<Schedule>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.readers.read(move |c| schedules::get(c, &tenant, &name)).await
    }

    async fn schedule_list(&self, tenant: &str) -> StoreResult<Vec<Schedule>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| schedules::list(c, &tenant)).await
    }

    async fn schedule_delete(&self, tenant: &str, name: &str) -> StoreResult<bool> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| schedules::delete(b.conn, &tenant, &name)).await
    }

    async fn schedule_set_paused(&self, tenant: &str, name: &str, paused: bool, now: i64) -> StoreResult<Schedule> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| schedules::set_paused(b.conn, &tenant, &name, paused, now)).await
    }

    async fn schedule_fire_due(&self, now: i64, limit: u32) -> StoreResult<SchedulesFired> {
        self.writer.write(move |b| schedules::fire_due(b, now, limit)).await
    }

    async fn batch_create(
        &self,
        tenant: &str,
        id: BatchId,
        items: Vec<JobSpec>,
        on_complete: Option<JobSpec>,
        now: i64,
    ) -> StoreResult<(Batch, Vec<Enqueued>)> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| batches::create(b, &tenant, id, items, on_complete, now)).await
    }

    async fn batch_get(&self, tenant: &str, id: BatchId) -> StoreResult<Option<Batch>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| batches::get(c, &tenant, id)).await
    }

    async fn batch_list(&self, tenant: &str, before: Option<BatchId>, limit: u32) -> StoreResult<Vec<Batch>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| batches::list(c, &tenant, before, limit)).await
    }

    async fn batch_cancel(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| batches::cancel(b, &tenant, id, now)).await
    }

    async fn batch_retry_failed(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| batches::retry_failed(b, &tenant, id, now)).await
    }

    async fn job_follow_up(&self, now: i64, limit: u32) -> StoreResult<FollowUps> {
        self.writer.write(move |b| batches::follow_up(b, now, limit)).await
    }

    async fn webhook_create(&self, tenant: &str, spec: WebhookSpec, now: i64) -> StoreResult<Webhook> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| webhooks::create(b.conn, &tenant, spec, now)).await
    }

    async fn webhook_list(&self, tenant: &str) -> StoreResult<Vec<Webhook>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| webhooks::list(c, &tenant)).await
    }

    async fn webhook_get(&self, tenant: &str, id: WebhookId) -> StoreResult<Option<Webhook>> {
        let tenant = tenant.to_owned();
        self.readers.read(move |c| webhooks::get(c, &tenant, id)).await
    }

    async fn webhook_delete(&self, tenant: &str, id: WebhookId) -> StoreResult<bool> {
        let tenant = tenant.to_owned();
        self.writer.write(move |b| webhooks::delete(b.conn, &tenant, id)).await
    }

    async fn setting_get(&self, tenant: &str, name: &str) -> StoreResult<Option<String>> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.readers.read(move |c| tenants::setting_get(c, &tenant, &name)).await
    }

    async fn setting_set(&self, tenant: &str, name: &str, value: Option<String>, now: i64) -> StoreResult<bool> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.writer.write(move |b| tenants::setting_set(b.conn, &tenant, &name, value.as_deref(), now)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.readers.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err)).await?;
        // The writer too: a store whose writer is stuck or gone is not ready.
        self.writer.write_unguarded(|_| Ok(())).await
    }
}
