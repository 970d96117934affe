//! What clients see: views distinct from stored rows, so the contract changes only on purpose.
use serde::Serialize;
use serde_json::value::RawValue;
use tarea_core::{Artifact, Job, JobAttempt, JobError, Progress, QueueInfo, StateCounts, format_ms};
use utoipa::ToSchema;

/// A job, as every endpoint shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// UUIDv7.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Kind.
    pub kind: String,
    /// Queue.
    pub queue: String,
    /// `scheduled`, `queued`, `running`, `succeeded`, `failed`, `dead` or `cancelled`.
    pub state: String,
    /// -100..100.
    pub priority: i32,
    /// Number of the current or last run, 0 before the first. Never reused (not even by a
    /// retry): external workers echo it to fence their calls.
    pub attempt: u32,
    /// Runs allowed since the last retry.
    pub max_attempts: u32,
    /// Runs still allowed before the job is dead (released runs do not count).
    pub attempts_left: u32,
    /// Input.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// Last progress.
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Progress>,
    /// Output.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Box<RawValue>>,
    /// Last error.
    #[schema(value_type = Option<Object>)]
    pub error: Option<JobError>,
    /// Files the job made, oldest first.
    pub artifacts: Vec<ArtifactView>,
    /// Labels.
    pub tags: Vec<String>,
    /// Deduplication key.
    pub idempotency_key: Option<String>,
    /// Reuse key.
    pub cache_key: Option<String>,
    /// Per-attempt limit (ms).
    pub timeout_ms: Option<u64>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: when it is (or was) due.
    pub run_at: String,
    /// RFC 3339: last start.
    pub started_at: Option<String>,
    /// RFC 3339: reached its current finished or failed state.
    pub finished_at: Option<String>,
    /// RFC 3339: when the current lease runs out (running jobs).
    pub lease_expires_at: Option<String>,
    /// Who runs its attempt (running jobs) or ran its last one: a node's id for built-in kinds,
    /// the worker's name (as it claimed) for external workers.
    pub worker: Option<String>,
    /// The batch it is an item of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// The job whose `then` made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The job its `then` made, once it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_id: Option<String>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        let attempts_left = j.attempts_left();
        JobView {
            id: j.id.to_string(),
            tenant: j.tenant,
            kind: j.kind,
            queue: j.queue,
            state: j.state.as_str().to_owned(),
            priority: j.priority,
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            attempts_left,
            payload: j.payload,
            progress: j.progress,
            result: j.result,
            error: j.error,
            artifacts: Vec::new(),
            tags: j.tags,
            idempotency_key: j.idempotency_key,
            cache_key: j.cache_key,
            timeout_ms: j.timeout_ms,
            created_at: format_ms(j.created_at),
            run_at: format_ms(j.run_at),
            started_at: j.started_at.map(format_ms),
            finished_at: j.finished_at.map(format_ms),
            lease_expires_at: j.locked_until.map(format_ms),
            worker: j.locked_by,
            batch_id: j.batch_id.map(|b| b.to_string()),
            parent_id: j.parent_id.map(|p| p.to_string()),
            next_id: j.next_id.map(|n| n.to_string()),
        }
    }
}

/// An artifact, as every endpoint shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactView {
    /// UUIDv7.
    pub id: String,
    /// The job that made it; null for an upload.
    pub job_id: Option<String>,
    /// That job's kind (`upload` for an upload).
    pub kind: String,
    /// File name offered on download.
    pub filename: String,
    /// Media type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the content, hex; also its ETag.
    pub sha256: String,
    /// Where it came from (template name and version, input hash), as its maker says.
    #[schema(value_type = Option<Object>)]
    pub provenance: Option<serde_json::Value>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: when it is deleted; null: kept until deleted.
    pub expires_at: Option<String>,
    /// Downloads of the content so far.
    pub download_count: u64,
    /// Where to download it with an API key (`/v1/artifacts/{id}/content`).
    pub content_url: String,
}

impl From<Artifact> for ArtifactView {
    fn from(a: Artifact) -> Self {
        ArtifactView {
            content_url: format!("/v1/artifacts/{}/content", a.id),
            id: a.id.to_string(),
            job_id: a.job_id.map(|j| j.to_string()),
            kind: a.kind,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256,
            provenance: a.provenance,
            created_at: format_ms(a.created_at),
            expires_at: a.expires_at.map(format_ms),
            download_count: a.download_count,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Jobs of a batch or a claim.
#[derive(Debug, Serialize, ToSchema)]
pub struct Jobs {
    /// The jobs.
    pub jobs: Vec<JobView>,
}

/// Queue counts as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    /// Waiting to run.
    pub queued: u64,
    /// Running.
    pub running: u64,
    /// Waiting for their run_at.
    pub scheduled: u64,
    /// Waiting for another attempt.
    pub failed: u64,
    /// Dead.
    pub dead: u64,
    /// Succeeded (until deleted by retention).
    pub succeeded: u64,
    /// Cancelled (until deleted by retention).
    pub cancelled: u64,
}

impl From<StateCounts> for CountsView {
    fn from(c: StateCounts) -> Self {
        CountsView {
            queued: c.queued,
            running: c.running,
            scheduled: c.scheduled,
            failed: c.failed,
            dead: c.dead,
            succeeded: c.succeeded,
            cancelled: c.cancelled,
        }
    }
}

/// A queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// Name.
    pub name: String,
    /// Paused queues are not claimed from.
    pub paused: bool,
    /// Most jobs running at once; null: no limit.
    pub concurrency: Option<u32>,
    /// Most starts per second; null: no limit.
    pub rate_limit: Option<f64>,
    /// Most jobs waiting; null: no limit.
    pub max_depth: Option<u64>,
    /// Default attempts of its jobs.
    pub max_attempts: Option<u32>,
    /// Default backoff of its jobs; null: the server's.
    #[schema(value_type = Option<Object>)]
    pub retry: Option<tarea_core::RetryPolicy>,
    /// Retention of succeeded jobs (s); null: server default.
    pub retention_succeeded_s: Option<u64>,
    /// Retention of dead and cancelled jobs (s); null: server default.
    pub retention_dead_s: Option<u64>,
    /// Jobs by state.
    pub counts: CountsView,
    /// RFC 3339 due time of the oldest queued job.
    pub oldest_queued_at: Option<String>,
}

impl From<QueueInfo> for QueueView {
    fn from(q: QueueInfo) -> Self {
        QueueView {
            name: q.name,
            paused: q.paused,
            concurrency: q.settings.concurrency,
            rate_limit: q.settings.rate_limit,
            max_depth: q.settings.max_depth,
            max_attempts: q.settings.max_attempts,
            retry: q.settings.retry,
            retention_succeeded_s: q.settings.retention_succeeded_s,
            retention_dead_s: q.settings.retention_dead_s,
            counts: q.counts.into(),
            oldest_queued_at: q.oldest_queued_at.map(format_ms),
        }
    }
}

/// Queues of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    /// By name.
    pub queues: Vec<QueueView>,
}

/// One attempt of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// Its number, 1 for the first.
    pub attempt: u32,
    /// The state it left the job in: `running` (the current attempt), `succeeded`, `failed`
    /// (another attempt was due), `dead`, `cancelled`, or `queued` (released, or its lease
    /// expired: then `error` says so).
    pub state: String,
    /// The worker or node that ran it.
    pub worker: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339; null while it runs.
    pub ended_at: Option<String>,
    /// How long it ran.
    pub duration_ms: Option<i64>,
    /// Why it failed.
    #[schema(value_type = Option<Object>)]
    pub error: Option<JobError>,
}

impl From<JobAttempt> for AttemptView {
    fn from(a: JobAttempt) -> Self {
        AttemptView {
            duration_ms: a.duration_ms(),
            attempt: a.attempt,
            state: a.state.as_str().to_owned(),
            worker: a.worker,
            started_at: a.started_at.map(format_ms),
            ended_at: a.ended_at.map(format_ms),
            error: a.error,
        }
    }
}

/// Every attempt of a job, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempts {
    /// The attempts.
    pub attempts: Vec<AttemptView>,
}
