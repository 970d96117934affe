//! The `Store` trait: every operation is one atomic transaction, named entity first, then verb,
//! with any condition in the name. Fencing lives inside the query of each `_if_attempt`
//! operation: zero rows changed means refused, and nothing else changed either.
use async_trait::async_trait;
use serde_json::value::RawValue;

use crate::{
    ApiKey, Artifact, ArtifactId, ArtifactRetention, AuditEntry, Batch, BatchId, ExternalWorker, IllegalTransition,
    Job, JobAttempt, JobError, JobEvent, JobId, JobSpec, JobState, KeyHash, NodeInfo, ProgressUpdate, QueueInfo,
    QueueSettings, Schedule, ScheduleSpec, SchedulesFired, StatsBucket, TemplateSummary, TemplateVersion, Webhook,
    WebhookId, WebhookSpec,
};

/// Portable store errors. Backends map their driver codes onto these; nothing above the store
/// matches driver codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in this scope.
    #[error("not found")]
    NotFound,
    /// A fenced call whose attempt is not the job's current running attempt.
    #[error("attempt {attempt} is not the current attempt of this job (it is {state}, attempt {current})")]
    StaleAttempt {
        /// The attempt the caller holds.
        attempt: u32,
        /// The job's attempt now.
        current: u32,
        /// The job's state now.
        state: JobState,
    },
    /// The state machine does not allow it.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// A uniqueness conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The queue is at its maximum depth.
    #[error("queue {queue:?} is full ({max_depth} jobs waiting)")]
    QueueFull {
        /// The queue.
        queue: String,
        /// Its limit.
        max_depth: u64,
    },
    /// The database cannot be reached or is shutting down.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug or a corrupt database).
    #[error("store error: {0}")]
    Internal(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One job of an enqueue, and whether this call created it (false: an idempotency key matched).
#[derive(Clone, Debug)]
pub struct Enqueued {
    /// The job.
    pub job: Job,
    /// True when this call created it.
    pub created: bool,
}

/// What to claim.
#[derive(Clone, Debug)]
pub struct ClaimParams {
    /// Only this tenant's jobs (external workers); `None`: every tenant (the in-process runtime).
    pub tenant: Option<String>,
    /// Queues to claim from; empty means every queue.
    pub queues: Vec<String>,
    /// Only these kinds; `None`: any.
    pub kinds: Option<Vec<String>>,
    /// Claim built-in kinds (the in-process runtime) or external ones.
    pub builtin: bool,
    /// Most jobs to claim.
    pub max: u32,
    /// Lease length.
    pub lease_ms: u64,
    /// Who claims.
    pub worker: String,
    /// The time now (ms since the epoch).
    pub now: i64,
}

/// How an attempt ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Success with an optional result.
    Succeeded {
        /// Output.
        result: Option<Box<RawValue>>,
    },
    /// Failure; retried with backoff if `retryable` and attempts remain, else `dead`.
    Failed {
        /// What went wrong.
        error: JobError,
        /// Whether another attempt may help.
        retryable: bool,
    },
    /// The worker stops without finishing; the attempt does not count.
    Released,
}

/// A fenced completion.
#[derive(Clone, Debug)]
pub struct CompleteParams {
    /// The job.
    pub id: JobId,
    /// The caller's tenant (external workers); `None` for the in-process runtime.
    pub tenant: Option<String>,
    /// The attempt the caller ran under.
    pub attempt: u32,
    /// How it ended.
    pub outcome: Outcome,
    /// The time now (ms since the epoch).
    pub now: i64,
}

/// Filters of a job listing; newest first.
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only jobs with this tag.
    pub tag: Option<String>,
    /// Only the items of this batch.
    pub batch: Option<BatchId>,
    /// Only jobs created at or after this time (ms since the epoch).
    pub created_after: Option<i64>,
    /// Only jobs created before this time (ms since the epoch).
    pub created_before: Option<i64>,
    /// Only jobs whose payload, result or error holds these words in this order (letter case
    /// and accents aside); the last word may be the start of a longer one.
    pub search: Option<String>,
    /// Every tenant's jobs (admin listings); the tenant argument is then ignored.
    pub all_tenants: bool,
    /// Page size.
    pub limit: u32,
    /// Continue after this job (exclusive).
    pub cursor: Option<JobId>,
}

/// One page of a listing.
#[derive(Clone, Debug)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<JobId>,
}

impl JobPage {
    /// A page of `limit` from `fetched`, which a store read with `LIMIT limit + 1`: the extra
    /// row only says that another page follows.
    pub fn of_fetched(mut jobs: Vec<Job>, limit: u32) -> JobPage {
        let next_cursor = (jobs.len() > limit as usize).then(|| {
            jobs.truncate(limit as usize);
            jobs.last().map(|j| j.id)
        });
        JobPage { jobs, next_cursor: next_cursor.flatten() }
    }
}

/// What one call of [`Store::job_follow_up`] made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowUps {
    /// Jobs made by the `then` of a succeeded job.
    pub chained: u64,
    /// Batches found finished (their `on_complete` job made, if they have one).
    pub batches: u64,
    /// Webhook events turned into deliveries.
    pub events: u64,
    /// More were waiting than one call handles.
    pub more: bool,
}

/// Receives events after their transaction commits.
pub trait EventSink: Send + Sync {
    /// Publishes events this process committed.
    fn publish(&self, events: Vec<JobEvent>);

    /// Publishes events another node committed (PostgreSQL); they wake and stream like local
    /// ones but are not counted in this node's metrics.
    fn publish_remote(&self, events: Vec<JobEvent>) {
        self.publish(events);
    }

    /// Wakes everything that waits for work, without an event: after a missed notification
    /// may have hidden some.
    fn wake_all(&self) {}
}

/// Default retention, used where a queue does not set its own.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Keep succeeded jobs this long (ms).
    pub succeeded_ms: u64,
    /// Keep dead and cancelled jobs this long (ms).
    pub dead_ms: u64,
}

/// The job store: SQLite for one machine, PostgreSQL for a cluster.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates jobs, all or nothing. A spec whose idempotency key already exists in the tenant
    /// returns the existing job with `created: false` and writes nothing for it.
    async fn job_enqueue(&self, tenant: &str, specs: Vec<JobSpec>, now: i64) -> StoreResult<Vec<Enqueued>>;
    /// One job; `tenant: None` looks across tenants (runtime only).
    async fn job_get(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Option<Job>>;
    /// A page of a tenant's jobs, newest first.
    async fn job_list(&self, tenant: &str, filter: JobFilter) -> StoreResult<JobPage>;
    /// Claims up to `max` runnable jobs, highest priority then oldest first, honouring paused
    /// queues and per-queue concurrency. Each claimed job's attempt goes up by one.
    async fn job_claim(&self, params: ClaimParams) -> StoreResult<Vec<Job>>;
    /// Ends an attempt if `attempt` is still the job's running attempt.
    async fn job_complete_if_attempt(&self, params: CompleteParams) -> StoreResult<Job>;
    /// Ends many attempts in one transaction (the runtime's batch completer); each one is
    /// applied or refused on its own, exactly as [`Store::job_complete_if_attempt`] would.
    async fn job_complete_many_if_attempt(&self, params: Vec<CompleteParams>) -> StoreResult<Vec<StoreResult<()>>>;
    /// Renews leases of jobs still running under the given attempts; returns, per job, whether
    /// the lease is still held.
    async fn lease_renew_if_attempt(
        &self,
        tenant: Option<&str>,
        jobs: &[(JobId, u32)],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<Vec<bool>>;
    /// Records progress if `attempt` is still the job's running attempt.
    async fn job_progress_if_attempt(
        &self,
        tenant: Option<&str>,
        id: JobId,
        attempt: u32,
        update: ProgressUpdate,
    ) -> StoreResult<Job>;
    /// Cancels a job that is not finished.
    async fn job_cancel(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job>;
    /// Puts a dead, cancelled or failed job back in its queue with attempts reset.
    async fn job_retry(&self, tenant: &str, id: JobId, now: i64) -> StoreResult<Job>;
    /// Deletes those of `ids` (of `tenant`) that have finished (succeeded, dead, cancelled);
    /// answers how many. Their artifacts stay until they expire.
    async fn job_delete_finished(&self, tenant: &str, ids: &[JobId]) -> StoreResult<u64>;
    /// The attempts of a job kept in its history (those another attempt followed), oldest
    /// first; `attempts_of` adds the job's latest attempt from its row.
    async fn job_attempts(&self, tenant: Option<&str>, id: JobId) -> StoreResult<Vec<JobAttempt>>;
    /// Counts the finished work of every whole minute not counted yet that ended at least
    /// `STATS_GRACE_MS` before `now`, and forgets minutes older than `STATS_KEEP_MS` (leader
    /// duty). Answers how many minutes it counted.
    async fn stats_rollup(&self, now: i64) -> StoreResult<u64>;
    /// Finished work from `from` on, in buckets of `step_ms` (a multiple of a minute), of one
    /// tenant or (`None`) all, of one queue or all. Buckets with nothing in them are left out.
    async fn stats_series(
        &self,
        tenant: Option<&str>,
        queue: Option<&str>,
        from: i64,
        step_ms: i64,
    ) -> StoreResult<Vec<StatsBucket>>;
    /// Moves due `scheduled` and `failed` jobs to `queued`; returns how many moved and when the
    /// next one falls due.
    async fn job_promote_due(&self, now: i64) -> StoreResult<(u64, Option<i64>)>;
    /// Gives back jobs whose lease expired (attempt counts); parks poison pills as `dead`.
    async fn lease_reap_expired(&self, now: i64) -> StoreResult<u64>;
    /// Deletes finished jobs past their retention, at most `limit` of them.
    async fn job_delete_expired(&self, now: i64, defaults: Retention, limit: u32) -> StoreResult<u64>;
    /// Queues of one tenant, or of all tenants.
    async fn queue_list(&self, tenant: Option<&str>) -> StoreResult<Vec<QueueInfo>>;
    /// Changes a queue's settings (creating the queue if needed).
    async fn queue_update(&self, tenant: &str, name: &str, settings: QueueSettings) -> StoreResult<QueueInfo>;
    /// Pauses or resumes a queue (creating it if needed).
    async fn queue_set_paused(&self, tenant: &str, name: &str, paused: bool) -> StoreResult<QueueInfo>;
    /// Number of tenants.
    async fn tenant_count(&self) -> StoreResult<u64>;
    /// Every tenant's name, in order.
    async fn tenant_list(&self) -> StoreResult<Vec<String>>;
    /// Creates a tenant if it does not exist.
    async fn tenant_ensure(&self, name: &str, now: i64) -> StoreResult<()>;
    /// Stores a new API key (its tenant is created if needed).
    async fn api_key_create(&self, key: ApiKey, hash: KeyHash) -> StoreResult<ApiKey>;
    /// Stores the first key of an empty store; false (and nothing written) when a tenant
    /// exists already. Nodes that start together on one empty database create one key, not
    /// one each.
    async fn api_key_create_first(&self, key: ApiKey, hash: KeyHash) -> StoreResult<bool>;
    /// The key with this hash.
    async fn api_key_find(&self, hash: KeyHash) -> StoreResult<Option<ApiKey>>;
    /// Every key (of `tenant` when given), oldest first; never their hashes.
    async fn api_key_list(&self, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>>;
    /// Deletes key `id` and ends its dashboard sessions; answers whether it existed.
    async fn api_key_delete(&self, id: &str) -> StoreResult<bool>;
    /// Opens a dashboard session (the hash of its random token) for key `key_id`, ending at
    /// `expires_at`; ended sessions are removed on the way.
    async fn session_create(&self, hash: KeyHash, key_id: &str, now: i64, expires_at: i64) -> StoreResult<()>;
    /// The key of a session that has not ended at `now` (and whose key still exists), and when
    /// it ends.
    async fn session_find(&self, hash: KeyHash, now: i64) -> StoreResult<Option<(ApiKey, i64)>>;
    /// Ends a session (sign-out); answers whether it was open.
    async fn session_delete(&self, hash: KeyHash) -> StoreResult<bool>;
    /// Writes a dashboard action to the audit log.
    async fn audit_append(&self, entry: AuditEntry) -> StoreResult<()>;
    /// The audit log, newest first: of one tenant or all, before entry `before`, at most `limit`.
    async fn audit_list(&self, tenant: Option<&str>, before: Option<i64>, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Records a node's heartbeat; it stays listed until `now + lease_ms`.
    async fn node_heartbeat(&self, node: NodeInfo, lease_ms: u64) -> StoreResult<()>;
    /// Forgets a node at once (on a clean shutdown).
    async fn node_remove(&self, id: &str) -> StoreResult<()>;
    /// Live nodes at `now`.
    async fn node_list(&self, now: i64) -> StoreResult<Vec<NodeInfo>>;
    /// Records that an external worker claimed; it stays listed until `now + lease_ms`.
    async fn worker_seen(
        &self,
        tenant: &str,
        name: &str,
        queues: &[String],
        lease_ms: u64,
        now: i64,
    ) -> StoreResult<()>;
    /// External workers seen within their lease or holding a live job lease (one that only
    /// heartbeats a long job claims nothing meanwhile), of one tenant or of all.
    async fn worker_list(&self, tenant: Option<&str>, now: i64) -> StoreResult<Vec<ExternalWorker>>;
    /// Takes or keeps the leadership of the cluster duties for `lease_ms`; true when `node`
    /// holds it now. A leader that stops renewing loses it when the lease ends.
    async fn leader_try(&self, node: &str, lease_ms: u64, now: i64) -> StoreResult<bool>;
    /// Gives the leadership up at once, if `node` holds it.
    async fn leader_resign(&self, node: &str) -> StoreResult<()>;
    /// Records the kinds this build runs in process, so that jobs enqueued from outside the
    /// server (PostgreSQL's `tarea.enqueue`) go to the right runners.
    async fn builtin_kinds_register(&self, kinds: &[String]) -> StoreResult<()>;
    /// Records an artifact whose bytes are stored. With a `job_id`, `attempt` fences it: it is
    /// refused with `StaleAttempt` unless that attempt of the job (in the artifact's tenant) is
    /// running, and its `kind` and `cache_key` become the job's. Without `expires_at`, it expires after the
    /// tenant's retention for its kind, else after `default_ttl_ms` (None: never).
    async fn artifact_insert(
        &self,
        artifact: Artifact,
        attempt: Option<u32>,
        default_ttl_ms: Option<u64>,
    ) -> StoreResult<Artifact>;
    /// One artifact, in a tenant or (server-internal: signed links) anywhere.
    async fn artifact_get(&self, tenant: Option<&str>, id: ArtifactId) -> StoreResult<Option<Artifact>>;
    /// The artifacts the given jobs made, oldest first.
    async fn artifact_list_for_jobs(&self, tenant: &str, jobs: &[JobId]) -> StoreResult<Vec<Artifact>>;
    /// A page of a tenant's artifacts, newest first: up to `limit`, each older than `before`.
    async fn artifact_list(&self, tenant: &str, before: Option<ArtifactId>, limit: u32) -> StoreResult<Vec<Artifact>>;
    /// Counts one download.
    async fn artifact_downloaded(&self, id: ArtifactId) -> StoreResult<()>;
    /// Up to `limit` artifacts expired at `now`, oldest expiry first (the cleaner deletes their
    /// bytes, then [`Store::artifact_delete`]s them).
    async fn artifact_expired(&self, now: i64, limit: u32) -> StoreResult<Vec<Artifact>>;
    /// Deletes artifact rows; answers how many existed.
    async fn artifact_delete(&self, ids: &[ArtifactId]) -> StoreResult<u64>;
    /// A tenant's artifact retention.
    async fn artifact_retention_get(&self, tenant: &str) -> StoreResult<ArtifactRetention>;
    /// Replaces a tenant's artifact retention.
    async fn artifact_retention_set(&self, tenant: &str, retention: ArtifactRetention) -> StoreResult<()>;
    /// The secret stored under `name`, storing `candidate` first if there is none: every node
    /// of a cluster ends up with the same one (the signing key of artifact links).
    async fn secret_get_or_create(&self, name: &str, candidate: Vec<u8>) -> StoreResult<Vec<u8>>;

    /// Stores a new version of a tenant's template: one more than any version it ever had
    /// (deleted ones included), so a number is never reused.
    async fn template_put(
        &self,
        tenant: &str,
        name: &str,
        source: &str,
        assets: &[u8],
        now: i64,
    ) -> StoreResult<TemplateVersion>;
    /// A version of a tenant's template, or its newest with `version: None`; deleted ones are gone.
    async fn template_get(
        &self,
        tenant: &str,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<Option<TemplateVersion>>;
    /// The newest version of a tenant's template, if it has one (deleted ones are gone).
    async fn template_latest(&self, tenant: &str, name: &str) -> StoreResult<Option<u32>>;
    /// The tenant's jobs with a live artifact (unexpired at `now`) rendered from template
    /// `name` at a version below `below`, in id order after `after`, at most `limit`: what a
    /// re-render after a template change makes again.
    async fn template_stale_jobs(
        &self,
        tenant: &str,
        name: &str,
        below: u32,
        now: i64,
        after: Option<JobId>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// A tenant's templates, by name.
    async fn template_list(&self, tenant: &str) -> StoreResult<Vec<TemplateSummary>>;
    /// Deletes every version of a tenant's template; answers how many there were.
    async fn template_delete(&self, tenant: &str, name: &str, now: i64) -> StoreResult<u64>;
    /// Creates or replaces a tenant's schedule; answers it and whether it is new. Its next tick
    /// follows `now`, except that storing it again with the same pattern and zone keeps a tick
    /// that has not fired yet.
    async fn schedule_put(&self, tenant: &str, spec: ScheduleSpec, now: i64) -> StoreResult<(Schedule, bool)>;
    /// One schedule.
    async fn schedule_get(&self, tenant: &str, name: &str) -> StoreResult<Option<Schedule>>;
    /// A tenant's schedules, by name.
    async fn schedule_list(&self, tenant: &str) -> StoreResult<Vec<Schedule>>;
    /// Deletes a schedule (the jobs it made stay); false when there was none.
    async fn schedule_delete(&self, tenant: &str, name: &str) -> StoreResult<bool>;
    /// Pauses or resumes a schedule; a resumed one waits for its next tick after `now`.
    /// `NotFound` when there is none.
    async fn schedule_set_paused(&self, tenant: &str, name: &str, paused: bool, now: i64) -> StoreResult<Schedule>;
    /// Fires up to `limit` schedules due at `now`, each making at most one job, in one
    /// transaction: a tick makes one job however many nodes call this at once.
    async fn schedule_fire_due(&self, now: i64, limit: u32) -> StoreResult<SchedulesFired>;
    /// Creates a batch and its items, all or nothing; each item gets `batch_id`. The items are
    /// answered as a job enqueue answers them.
    async fn batch_create(
        &self,
        tenant: &str,
        id: BatchId,
        items: Vec<JobSpec>,
        on_complete: Option<JobSpec>,
        now: i64,
    ) -> StoreResult<(Batch, Vec<Enqueued>)>;
    /// A batch with its items counted by state.
    async fn batch_get(&self, tenant: &str, id: BatchId) -> StoreResult<Option<Batch>>;
    /// A page of a tenant's batches, newest first, their items counted: up to `limit`, each
    /// older than `before`.
    async fn batch_list(&self, tenant: &str, before: Option<BatchId>, limit: u32) -> StoreResult<Vec<Batch>>;
    /// Cancels every item that has not ended; answers how many.
    async fn batch_cancel(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64>;
    /// Puts every dead, cancelled or failed item back in its queue (attempts reset) and opens
    /// the batch again: its `on_complete` job is made again when they end. Answers how many.
    async fn batch_retry_failed(&self, tenant: &str, id: BatchId, now: i64) -> StoreResult<u64>;
    /// Makes up to `limit` follow-up jobs, each in the same transaction that marks its cause:
    /// the `then` job of each succeeded job that has one, the `on_complete` job of each batch
    /// whose items have all ended (which is marked finished), and a delivery job per matching
    /// webhook for each event in the outbox (which is emptied).
    async fn job_follow_up(&self, now: i64, limit: u32) -> StoreResult<FollowUps>;
    /// Stores a webhook subscription.
    async fn webhook_create(&self, tenant: &str, spec: WebhookSpec, now: i64) -> StoreResult<Webhook>;
    /// A tenant's subscriptions, oldest first.
    async fn webhook_list(&self, tenant: &str) -> StoreResult<Vec<Webhook>>;
    /// One subscription.
    async fn webhook_get(&self, tenant: &str, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Deletes a subscription (its deliveries stay); false when there was none.
    async fn webhook_delete(&self, tenant: &str, id: WebhookId) -> StoreResult<bool>;
    /// A tenant's setting (JSON text), e.g. `email`.
    async fn setting_get(&self, tenant: &str, name: &str) -> StoreResult<Option<String>>;
    /// Stores (`Some`) or removes (`None`) a tenant's setting; answers whether one existed.
    async fn setting_set(&self, tenant: &str, name: &str, value: Option<String>, now: i64) -> StoreResult<bool>;
    /// Succeeds when the store answers.
    async fn ping(&self) -> StoreResult<()>;
}
