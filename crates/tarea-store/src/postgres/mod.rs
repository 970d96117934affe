//! The cluster store: PostgreSQL, shared by any number of tarea nodes. Mirrors the SQLite
//! store file for file; where they differ, the file says why. Writes run in a transaction on a
//! pooled connection; what they changed is then announced to the other nodes with `NOTIFY`
//! (see `listener.rs`).
mod artifacts;
mod batches;
mod claim;
mod complete;
mod db;
mod history;
mod jobs;
mod listener;
mod listing;
mod maintenance;
mod migrations;
mod nodes;
#[cfg(test)]
mod plan_tests;
mod queues;
mod rows;
mod schedules;
mod sessions;
mod templates;
mod tenants;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tarea_core::{
    ApiKey, Artifact, ArtifactId, ArtifactRetention, AuditEntry, Batch, BatchId, ClaimParams, CompleteParams, Enqueued,
    EventSink, ExternalWorker, FollowUps, Job, JobAttempt, JobEvent, JobFilter, JobId, JobPage, JobSpec, KeyHash,
    NodeInfo, ProgressUpdate, QueueInfo, QueueSettings, Retention, Schedule, ScheduleSpec, SchedulesFired, StatsBucket,
    Store, StoreError, StoreResult, TemplateSummary, TemplateVersion, Webhook, WebhookId, WebhookSpec,
};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::Durability;
pub(crate) use db::Tx;

/// Options of the PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The schema tarea's tables live in (created if needed).
    pub schema: String,
    /// Most connections this node opens for queries (one more listens).
    pub pool_size: usize,
    /// `Full`: commits wait for PostgreSQL's WAL flush. `Relaxed`: `synchronous_commit = off`,
    /// which survives a crash of tarea but may lose the last moments of commits if PostgreSQL
    /// itself crashes.
    pub durability: Durability,
    /// This node's id, so it can skip its own notifications.
    pub node_id: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            schema: "tarea".into(),
            pool_size: 16,
            durability: Durability::Full,
            node_id: format!("node-{}", uuid::Uuid::now_v7().simple()),
        }
    }
}

/// How long a write or read keeps retrying while the database cannot be reached (a restart,
/// a failover, a dropped connection) before it answers `unavailable`.
const RETRY_FOR: Duration = Duration::from_secs(5);

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    sink: Arc<dyn EventSink>,
    listener: tokio::task::JoinHandle<()>,
    notifier: tokio::sync::mpsc::UnboundedSender<Vec<JobEvent>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Checks a schema name: lower-case letters, digits and `_`, starting with a letter.
pub fn validate_schema(schema: &str) -> Result<(), String> {
    let ok = (1..=48).contains(&schema.len())
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("schema {schema:?} must be 1 to 48 characters of a-z, 0-9 and _, starting with a letter"))
    }
}

pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection broke, timed out or could not be made.
        return StoreError::Unavailable(format!("PostgreSQL: {e}"));
    };
    let text = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_owned());
    if *code == SqlState::UNIQUE_VIOLATION {
        StoreError::Conflict(text)
    } else if code.code().starts_with("08")
        || code.code().starts_with("57P")
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
    {
        // Connection lost, server shutting down or starting, or a transaction PostgreSQL rolled
        // back to break a deadlock: nothing was written and the call may be made again.
        StoreError::Unavailable(format!("PostgreSQL: {text}"))
    } else {
        StoreError::Internal(format!("PostgreSQL ({}): {text}", code.code()))
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => map_err(e),
        other => StoreError::Unavailable(format!("no PostgreSQL connection: {other}")),
    }
}

/// A pooled connection inside a transaction of ours. If the write is abandoned half-way (the
/// HTTP client went away and the future was dropped) or ends in doubt, the connection is
/// closed instead of going back to the pool with a transaction open; PostgreSQL then rolls
/// the transaction back.
struct OpenTx(Option<deadpool_postgres::Object>);

impl OpenTx {
    async fn rollback(&mut self) {
        if let Some(client) = &self.0
            && client.batch_execute("ROLLBACK").await.is_ok()
        {
            self.done();
        }
    }

    /// Ends cleanly: the connection goes back to the pool.
    fn done(&mut self) {
        self.0 = None;
    }

    /// Closes the connection (dropped, not pooled).
    fn close(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Drop for OpenTx {
    fn drop(&mut self) {
        self.close();
    }
}

/// Why one try failed, and whether another may be made.
enum Failure {
    /// Nothing was committed: safe to try again if the error is transient.
    BeforeCommit(StoreError),
    /// COMMIT was sent and its answer lost: it may or may not have happened.
    AtCommit(StoreError),
}

/// Ties an operation's borrows to the call that made it: the implied bound `'f: 'a` of
/// `&'a &'f ()` lets the closure lend its captured arguments to the future it returns.
type Scope<'a, 'f> = std::marker::PhantomData<&'a &'f ()>;

/// One store operation, as a closure that can be run again after a transient failure.
type Op<'f, T> = dyn for<'a> Fn(&'a Tx<'a>, &'a mut Vec<JobEvent>, Scope<'a, 'f>) -> BoxFuture<'a, StoreResult<T>>
    + Send
    + Sync
    + 'f;

impl PgStore {
    /// Connects, applies migrations (one node at a time) and starts the listener.
    pub async fn open(url: &str, options: PgOptions, sink: Arc<dyn EventSink>) -> StoreResult<PgStore> {
        validate_schema(&options.schema).map_err(StoreError::Unavailable)?;
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?;
        // Appended to any `options` the URL carries (a statement_timeout, say), not replacing them.
        let mut session = config.get_options().map(|o| format!("{o} ")).unwrap_or_default();
        session.push_str(&format!("-c search_path={},public", options.schema));
        if options.durability == Durability::Relaxed {
            session.push_str(" -c synchronous_commit=off");
        }
        config.options(&session);
        config.application_name("tarea");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives_idle(Duration::from_secs(30));
        let (mut client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let driver = tokio::spawn(connection);
        let migrated = migrations::migrate(&mut client, &options.schema).await.map_err(map_err);
        drop(client);
        let _ = driver.await;
        migrated?;
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Internal(format!("PostgreSQL pool: {e}")))?;
        let channel = migrations::channel(&options.schema);
        let listener = tokio::spawn(listener::run(config, channel.clone(), options.node_id.clone(), Arc::clone(&sink)));
        let (notifier, events) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(listener::notify(pool.clone(), channel, options.node_id, events));
        Ok(PgStore { pool, sink, listener, notifier })
    }

    /// Runs `op` in a transaction, sends its events to the other nodes and, once committed, to
    /// this node's hub. Transient failures before COMMIT are retried for up to `RETRY_FOR`.
    async fn write<T: Send>(&self, op: &Op<'_, T>) -> StoreResult<T> {
        self.retrying(|| self.write_once(op)).await
    }

    /// Makes tries until one succeeds, fails for good, or `RETRY_FOR` has passed.
    async fn retrying<T, F, Fut>(&self, mut attempt: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let deadline = Instant::now() + RETRY_FOR;
        let mut delay = Duration::from_millis(25);
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::BeforeCommit(StoreError::Unavailable(msg))) if Instant::now() < deadline => {
                    tracing::debug!(error = %msg, retry_in = ?delay, "PostgreSQL write will be retried");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                Err(Failure::BeforeCommit(e)) => return Err(e),
                Err(Failure::AtCommit(e)) => {
                    return Err(match e {
                        StoreError::Unavailable(msg) => StoreError::Unavailable(format!(
                            "{msg} (the connection was lost while committing: the change may or may not \
                             have been made; read it back, or repeat it with an idempotency key)"
                        )),
                        other => other,
                    });
                }
            }
        }
    }

    /// One try. The transaction is driven by hand rather than by a `Transaction` value so that
    /// `BEGIN` travels with the operation's first statement (tokio-postgres pipelines requests
    /// issued together): one round trip fewer per write.
    async fn write_once<T: Send>(&self, op: &Op<'_, T>) -> Result<T, Failure> {
        let client = self.pool.get().await.map_err(|e| Failure::BeforeCommit(pool_err(e)))?;
        let mut guard = OpenTx(Some(client));
        let client = guard.0.as_ref().expect("set above");
        let mut events = Vec::new();
        let handle = Tx::new(client);
        let (begun, out) =
            tokio::join!(client.batch_execute("BEGIN"), op(&handle, &mut events, std::marker::PhantomData));
        let out = match (begun.map_err(map_err), out) {
            (Ok(()), Ok(out)) => out,
            (Err(e), _) | (Ok(()), Err(e)) => {
                guard.rollback().await;
                return Err(Failure::BeforeCommit(e));
            }
        };
        // A statement the database refused aborted the transaction, and COMMIT would roll back
        // without an error of its own: the handle knows, and nothing is reported done.
        if handle.refused() {
            guard.rollback().await;
            return Err(Failure::BeforeCommit(StoreError::Internal(
                "a statement of this transaction was refused; it was rolled back".into(),
            )));
        }
        if let Err(e) = client.batch_execute("COMMIT").await {
            let refused = e.code().is_some();
            guard.close();
            return Err(if refused { Failure::BeforeCommit(map_err(e)) } else { Failure::AtCommit(map_err(e)) });
        }
        guard.done();
        self.publish(events);
        Ok(out)
    }

    /// Hands committed events to this node's hub at once, and to the other nodes through the
    /// notifier (see `listener::notify`).
    fn publish(&self, events: Vec<JobEvent>) {
        if !events.is_empty() {
            let _ = self.notifier.send(events.clone());
            self.sink.publish(events);
        }
    }

    /// One job without an idempotency key (the common case) as one statement in autocommit:
    /// the queue's creation if it is new, the queue's defaults and the insert, in one round trip
    /// and one transaction. `None` when the queue has a maximum depth (or was being created by
    /// someone else at that instant): the caller then takes the general path, which checks the
    /// depth under the queue's lock. Less work for the database than a transaction of five
    /// statements; on this machine the HTTP enqueue p50 came out the same (about 1 ms).
    async fn enqueue_one(&self, tenant: &str, spec: JobSpec, now: i64) -> Result<Option<Job>, Failure> {
        let client = self.pool.get().await.map_err(|e| Failure::BeforeCommit(pool_err(e)))?;
        let insert =
            client.prepare_cached(jobs::INSERT_ONE_SQL).await.map_err(|e| Failure::BeforeCommit(map_err(e)))?;
        let max_attempts = spec.max_attempts.map(|a| a as i32);
        let (base, max) = (spec.retry.map(|r| r.base_ms as i64), spec.retry.map(|r| r.max_ms as i64));
        let default_attempts = tarea_core::limits::DEFAULT_MAX_ATTEMPTS as i32;
        let mut job = jobs::planned(tenant, spec, now);
        let tags: Option<&Vec<String>> = (!job.tags.is_empty()).then_some(&job.tags);
        let state = job.state.code() as i16;
        let timeout = job.timeout_ms.map(|t| t as i64);
        let payload_text = job.payload.get();
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
            &job.id.0,
            &tenant,
            &job.kind,
            &job.queue,
            &state,
            &job.builtin,
            &job.priority,
            &max_attempts,
            &payload_text,
            &tags,
            &job.cache_key,
            &timeout,
            &base,
            &max,
            &now,
            &job.run_at,
            &default_attempts,
        ];
        let row = match client.query_opt(&insert, &args).await {
            Ok(row) => row,
            // An error with an SQLSTATE is the database refusing the statement: nothing was
            // written. Without one the connection broke, perhaps after the commit.
            Err(e) if e.code().is_some() => return Err(Failure::BeforeCommit(map_err(e))),
            Err(e) => {
                drop(deadpool_postgres::Object::take(client));
                return Err(Failure::AtCommit(map_err(e)));
            }
        };
        let Some(row) = row else { return Ok(None) };
        job.max_attempts = row.get::<_, i32>(0).max(0) as u32;
        job.retry = tarea_core::RetryPolicy {
            base_ms: row.get::<_, i64>(1).max(0) as u64,
            max_ms: row.get::<_, i64>(2).max(0) as u64,
        };
        self.publish(vec![rows::state_event(&job)]);
        Ok(Some(job))
    }

    /// Runs a read on a pooled connection, retried like writes.
    async fn read<T: Send>(&self, op: &Op<'_, T>) -> StoreResult<T> {
        self.retrying(|| async {
            let client = self.pool.get().await.map_err(|e| Failure::BeforeCommit(pool_err(e)))?;
            let mut unused = Vec::new();
            op(&Tx::new(&client), &mut unused, std::marker::PhantomData).await.map_err(Failure::BeforeCommit)
        })
        .await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn job_enqueue(&self, tenant: &str, specs: Vec<JobSpec>, now: i64) -> StoreResult<Vec<Enqueued>> {
        if let [spec] = &specs[..]
            && spec.idempotency_key.is_none()
            && spec.cache_key.is_none()
            && spec.then.is_none()
            && spec.batch_id.is_none()
            && spec.parent_id.is_none()
            && let Some(job) = self.retrying(|| self.enqueue_one(tenant, spec.clone(), now)).await?
        {
            return Ok(vec![Enqueued { job, created: true }]);
        }
        self.write(&|tx, ev, _| Box::pin(jobs::enqueue(tx, ev, tenant, specs.clone(), now))).await
    }

    async fn job_get(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Option<Job>> {
        self.read(&|tx, _, _| Box::pin(jobs::get(tx, tenant, id))).await
    }

    async fn job_list(&self, tenant: &str, filter: JobFilter) -> StoreResult<JobPage> {
        self.read(&|tx, _, _| Box::pin(listing::list(tx, tenant, &filter))).await
    }

    async fn job_claim(&self, params: ClaimParams) -> StoreResult<Vec<Job>> {
        self.write(&|tx, ev, _| Box::pin(claim::claim(tx, ev, &params))).await
    }

    async fn job_complete_if_attempt(&self, params: CompleteParams) -> StoreResult<Job> {
        self.write(&|tx, ev, _| Box::pin(complete::complete(tx, ev, params.clone()))).await
    }

    async fn job_complete_many_if_attempt(&self, params: Vec<CompleteParams>) -> StoreResult<Vec<StoreResult<()>>> {
        self.write(&|tx, ev, _| Box::pin(complete::complete_many(tx, ev, params.clone()))).await
    }

    async fn lease_renew_if_attempt(
        &self,
        tenant: Option<&str>,
        jobs: &[(JobId, u32)],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<Vec<bool>> {
        self.write(&|tx, _, _| Box::pin(complete::renew(tx, tenant, jobs, lease_ms, now))).await
    }

    async fn job_progress_if_attempt(
        &self,
        tenant: Option<&str>,
        id: JobId,
        attempt: u32,
        update: ProgressUpdate,
    ) -> StoreResult<Job> {
        self.write(&|tx, ev, _| Box::pin(complete::progress(tx, ev, tenant, id, attempt, &update))).await
    }

    async fn job_cancel(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
        self.write(&|tx, ev, _| Box::pin(complete::cancel(tx, ev, tenant, id, now))).await
    }

    async fn job_retry(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job> {
        self.write(&|tx, ev, _| Box::pin(complete::retry(tx, ev, tenant, id, now))).await
    }

    async fn job_delete_finished(&self, tenant: &str, ids: &[JobId]) -> StoreResult<u64> {
        self.write(&|tx, _, _| Box::pin(maintenance::delete_finished(tx, tenant, ids))).await
    }

    async fn job_attempts(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Vec<JobAttempt>> {
        self.read(&|tx, _, _| Box::pin(history::attempts(tx, tenant, id))).await
    }

    async fn stats_rollup(&self, now: i64) -> StoreResult<u64> {
        self.write(&|tx, _, _| Box::pin(history::rollup(tx, now))).await
    }

    async fn stats_series(
        &self,
        tenant: Option<&str>,
        queue: Option<&str>,
        from: i64,
        step_ms: i64,
    ) -> StoreResult<Vec<StatsBucket>> {
        self.read(&|tx, _, _| Box::pin(history::series(tx, tenant, queue, from, step_ms))).await
    }

    async fn job_promote_due(&self, now: i64) -> StoreResult<(u64, Option<i64>)> {
        self.write(&|tx, ev, _| Box::pin(maintenance::promote_due(tx, ev, now))).await
    }

    async fn lease_reap_expired(&self, now: i64) -> StoreResult<u64> {
        self.write(&|tx, ev, _| Box::pin(maintenance::reap_expired(tx, ev, now))).await
    }

    async fn job_delete_expired(&self, now: i64, defaults: Retention, limit: u32) -> StoreResult<u64> {
        self.write(&|tx, _, _| Box::pin(maintenance::delete_expired(tx, now, defaults, limit))).await
    }

    async fn queue_list(&self, tenant: Option<&str>) -> StoreResult<Vec<QueueInfo>> {
        self.read(&|tx, _, _| Box::pin(queues::list(tx, tenant))).await
    }

    async fn queue_update(&self, tenant: &str, name: &str, settings: QueueSettings) -> StoreResult<QueueInfo> {
        self.write(&|tx, _, _| Box::pin(queues::update(tx, tenant, name, &settings))).await
    }

    async fn queue_set_paused(&self, tenant: &str, name: &str, paused: bool) -> StoreResult<QueueInfo> {
        self.write(&|tx, _, _| Box::pin(queues::set_paused(tx, tenant, name, paused))).await
    }

    async fn tenant_count(&self) -> StoreResult<u64> {
        self.read(&|tx, _, _| Box::pin(tenants::count(tx))).await
    }

    async fn tenant_list(&self) -> StoreResult<Vec<String>> {
        self.read(&|tx, _, _| Box::pin(tenants::list(tx))).await
    }

    async fn tenant_ensure(&self, name: &str, now: i64) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(tenants::ensure(tx, name, now))).await
    }

    async fn api_key_create(&self, key: ApiKey, hash: KeyHash) -> StoreResult<ApiKey> {
        self.write(&|tx, _, _| Box::pin(tenants::key_create(tx, key.clone(), hash))).await
    }

    async fn api_key_create_first(&self, key: ApiKey, hash: KeyHash) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(tenants::key_create_first(tx, key.clone(), hash))).await
    }

    async fn api_key_find(&self, hash: KeyHash) -> StoreResult<Option<ApiKey>> {
        self.read(&|tx, _, _| Box::pin(tenants::key_find(tx, hash))).await
    }

    async fn api_key_list(&self, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        self.read(&|tx, _, _| Box::pin(tenants::key_list(tx, tenant))).await
    }

    async fn api_key_delete(&self, id: &str) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(tenants::key_delete(tx, id))).await
    }

    async fn session_create(&self, hash: KeyHash, key_id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(sessions::create(tx, hash, key_id, now, expires_at))).await
    }

    async fn session_find(&self, hash: KeyHash, now: i64) -> StoreResult<Option<(ApiKey, i64)>> {
        self.read(&|tx, _, _| Box::pin(sessions::find(tx, hash, now))).await
    }

    async fn session_delete(&self, hash: KeyHash) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(sessions::delete(tx, hash))).await
    }

    async fn audit_append(&self, entry: AuditEntry) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(sessions::audit_append(tx, &entry))).await
    }

    async fn audit_list(&self, tenant: Option<&str>, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.read(&|tx, _, _| Box::pin(sessions::audit_list(tx, tenant, before, limit))).await
    }

    async fn node_heartbeat(&self, node: NodeInfo, lease_ms: u64) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(nodes::heartbeat(tx, &node, lease_ms))).await
    }

    async fn node_remove(&self, id: &str) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(nodes::remove(tx, id))).await
    }

    async fn node_list(&self, now: i64) -> StoreResult<Vec<NodeInfo>> {
        self.read(&|tx, _, _| Box::pin(nodes::list(tx, now))).await
    }

    async fn worker_seen(
        &self,
        tenant: &str,
        name: &str,
        queues: &[String],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(nodes::worker_seen(tx, tenant, name, queues, lease_ms, now))).await
    }

    async fn worker_list(&self, tenant: Option<&str>, now: i64) -> StoreResult<Vec<ExternalWorker>> {
        self.read(&|tx, _, _| Box::pin(nodes::worker_list(tx, tenant, now))).await
    }

    async fn leader_try(&self, node: &str, lease_ms: u64, now: i64) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(nodes::leader_try(tx, node, lease_ms, now))).await
    }

    async fn leader_resign(&self, node: &str) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(nodes::leader_resign(tx, node))).await
    }

    async fn builtin_kinds_register(&self, kinds: &[String]) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(nodes::builtin_kinds_register(tx, kinds))).await
    }

    async fn artifact_insert(
        &self,
        artifact: Artifact,
        attempt: Option<u32>,
        default_ttl_ms: Option<u64>,
    ) -> StoreResult<Artifact> {
        self.write(&|tx, _, _| Box::pin(artifacts::insert(tx, &artifact, attempt, default_ttl_ms))).await
    }

    async fn artifact_get(&self, tenant: Option<&str>, id: ArtifactId) -> StoreResult<Option<Artifact>> {
        self.read(&|tx, _, _| Box::pin(artifacts::get(tx, tenant, id))).await
    }

    async fn artifact_list(&self, tenant: &str, before: Option<ArtifactId>, limit: u32) -> StoreResult<Vec<Artifact>> {
        self.read(&|tx, _, _| Box::pin(artifacts::list(tx, tenant, before, limit))).await
    }

    async fn artifact_list_for_jobs(&self, tenant: &str, jobs: &[JobId]) -> StoreResult<Vec<Artifact>> {
        self.read(&|tx, _, _| Box::pin(artifacts::list_for_jobs(tx, tenant, jobs))).await
    }

    async fn artifact_downloaded(&self, id: ArtifactId) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(artifacts::downloaded(tx, id))).await
    }

    async fn artifact_expired(&self, now: i64, limit: u32) -> StoreResult<Vec<Artifact>> {
        self.read(&|tx, _, _| Box::pin(artifacts::expired(tx, now, limit))).await
    }

    async fn artifact_delete(&self, ids: &[ArtifactId]) -> StoreResult<u64> {
        self.write(&|tx, _, _| Box::pin(artifacts::delete(tx, ids))).await
    }

    async fn artifact_retention_get(&self, tenant: &str) -> StoreResult<ArtifactRetention> {
        self.read(&|tx, _, _| Box::pin(artifacts::retention_get(tx, tenant))).await
    }

    async fn artifact_retention_set(&self, tenant: &str, retention: ArtifactRetention) -> StoreResult<()> {
        self.write(&|tx, _, _| Box::pin(artifacts::retention_set(tx, tenant, &retention))).await
    }

    async fn secret_get_or_create(&self, name: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.write(&|tx, _, _| Box::pin(artifacts::secret_get_or_create(tx, name, &candidate))).await
    }

    async fn template_put(
        &self,
        tenant: &str,
        name: &str,
        source: &str,
        assets: &[u8],
        now: i64,
    ) -> StoreResult<TemplateVersion> {
        self.write(&|tx, _, _| Box::pin(templates::put(tx, tenant, name, source, assets, now))).await
    }

    async fn template_get(
        &self,
        tenant: &str,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<TemplateVersion>> {
        self.read(&|tx, _, _| Box::pin(templates::get(tx, tenant, name, version))).await
    }

    async fn template_latest(&self, tenant: &str, name: &str) -> StoreResult<Option<u32>> {
        self.read(&|tx, _, _| Box::pin(templates::latest(tx, tenant, name))).await
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
        self.read(&|tx, _, _| Box::pin(templates::stale_jobs(tx, tenant, name, below, now, after, limit))).await
    }

    async fn template_list(&self, tenant: &str) -> StoreResult<Vec<TemplateSummary>> {
        self.read(&|tx, _, _| Box::pin(templates::list(tx, tenant))).await
    }

    async fn template_delete(&self, tenant: &str, name: &str, now: i64) -> StoreResult<u64> {
        self.write(&|tx, _, _| Box::pin(templates::delete(tx, tenant, name, now))).await
    }

    async fn schedule_put(&self, tenant: &str, spec: ScheduleSpec, now: i64) -> StoreResult<(Schedule, bool)> {
        self.write(&|tx, _, _| Box::pin(schedules::put(tx, tenant, &spec, now))).await
    }

    async fn schedule_get(&self, tenant: &str, name: &str) -> StoreResult<Option<Schedule>> {
        self.read(&|tx, _, _| Box::pin(schedules::get(tx, tenant, name))).await
    }

    async fn schedule_list(&self, tenant: &str) -> StoreResult<Vec<Schedule>> {
        self.read(&|tx, _, _| Box::pin(schedules::list(tx, tenant))).await
    }

    async fn schedule_delete(&self, tenant: &str, name: &str) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(schedules::delete(tx, tenant, name))).await
    }

    async fn schedule_set_paused(&self, tenant: &str, name: &str, paused: bool, now: i64) -> StoreResult<Schedule> {
        self.write(&|tx, _, _| Box::pin(schedules::set_paused(tx, tenant, name, paused, now))).await
    }

    async fn schedule_fire_due(&self, now: i64, limit: u32) -> StoreResult<SchedulesFired> {
        self.write(&|tx, ev, _| Box::pin(schedules::fire_due(tx, ev, now, limit))).await
    }

    async fn batch_create(
        &self,
        tenant: &str,
        id: BatchId,
        items: Vec<JobSpec>,
        on_complete: Option<JobSpec>,
        now: i64,
    ) -> StoreResult<(Batch, Vec<Enqueued>)> {
        self.write(&|tx, ev, _| Box::pin(batches::create(tx, ev, tenant, id, items.clone(), on_complete.clone(), now)))
            .await
    }

    async fn batch_get(&self, tenant: &str, id: BatchId) -> StoreResult<Option<Batch>> {
        self.read(&|tx, _, _| Box::pin(batches::get(tx, tenant, id))).await
    }

    async fn batch_list(&self, tenant: &str, before: Option<BatchId>, limit: u32) -> StoreResult<Vec<Batch>> {
        self.read(&|tx, _, _| Box::pin(batches::list(tx, tenant, before, limit))).await
    }

    async fn batch_cancel(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
        self.write(&|tx, ev, _| Box::pin(batches::cancel(tx, ev, tenant, id, now))).await
    }

    async fn batch_retry_failed(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64> {
        self.write(&|tx, ev, _| Box::pin(batches::retry_failed(tx, ev, tenant, id, now))).await
    }

    async fn job_follow_up(&self, now: i64, limit: u32) -> StoreResult<FollowUps> {
        self.write(&|tx, ev, _| Box::pin(batches::follow_up(tx, ev, now, limit))).await
    }

    async fn webhook_create(&self, tenant: &str, spec: WebhookSpec, now: i64) -> StoreResult<Webhook> {
        self.write(&|tx, _, _| Box::pin(webhooks::create(tx, tenant, spec.clone(), now))).await
    }

    async fn webhook_list(&self, tenant: &str) -> StoreResult<Vec<Webhook>> {
        self.read(&|tx, _, _| Box::pin(webhooks::list(tx, tenant))).await
    }

    async fn webhook_get(&self, tenant: &str, id: WebhookId) -> StoreResult<Option<Webhook>> {
        self.read(&|tx, _, _| Box::pin(webhooks::get(tx, tenant, id))).await
    }

    async fn webhook_delete(&self, tenant: &str, id: WebhookId) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(webhooks::delete(tx, tenant, id))).await
    }

    async fn setting_get(&self, tenant: &str, name: &str) -> StoreResult<Option<String>> {
        self.read(&|tx, _, _| Box::pin(tenants::setting_get(tx, tenant, name))).await
    }

    async fn setting_set(&self, tenant: &str, name: &str, value: Option<String>, now: i64) -> StoreResult<bool> {
        self.write(&|tx, _, _| Box::pin(tenants::setting_set(tx, tenant, name, value.as_deref(), now))).await
    }

    async fn ping(&self) -> StoreResult<()> {
        // No retries: readiness must show an outage while it lasts.
        let client = self.pool.get().await.map_err(pool_err)?;
        client.simple_query("SELECT 1").await.map_err(map_err)?;
        Ok(())
    }
}
