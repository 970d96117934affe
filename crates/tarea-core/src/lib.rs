//! The job model of tarea: jobs, their states and the pure transition table, retry policy,
//! lease and fencing rules, error codes, and the `Store` and `Handler` traits.
//!
//! This crate does no I/O: it knows no database, no HTTP and no renderer. Every function that
//! needs the time takes it as an argument, so the whole crate is testable without a clock.
#![deny(missing_docs)]

mod artifact;
mod batch;
mod error;
mod event;
mod handler;
mod history;
mod ids;
mod job;
mod names;
mod node;
mod queue;
mod retry;
mod schedule;
mod state;
mod store;
mod template;
mod tenant;
mod time_fmt;
mod webhook;

pub use artifact::{
    Artifact, ArtifactBytes, ArtifactRetention, ByteStream, BytesError, FILENAME_MAX, StoredBytes, sanitize_filename,
};
pub use batch::{Batch, BatchFailure, BatchState, BatchSummary, callback_payload, chained_spec};
pub use error::{ErrorCode, JobError};
pub use event::{EventKind, JobEvent};
pub use handler::{
    ArtifactSink, Handler, HandlerError, JobContext, NewArtifact, PayloadError, ProgressSink, SettingCheck,
};
pub use history::{JobAttempt, STATS_GRACE_MS, STATS_KEEP_MS, STATS_MINUTE_MS, StatsBucket, attempts_of, floor_minute};
pub use ids::{ArtifactId, BatchId, JobId, WebhookId};
pub use job::{Job, JobSpec, Progress, ProgressUpdate};
pub use names::{NameError, validate_name};
pub use node::{ExternalWorker, NodeInfo, NodeRole};
pub use queue::{QueueInfo, QueueSettings, StateCounts};
pub use retry::RetryPolicy;
pub use schedule::{
    CronSchedule, FirePlan, MISSED_AFTER_MS, MissedPolicy, Schedule, ScheduleError, ScheduleSpec, SchedulesFired,
    schedule_job_key,
};
pub use state::{IllegalTransition, JobState, Transition};
pub use store::{
    ClaimParams, CompleteParams, Enqueued, EventSink, FollowUps, JobFilter, JobPage, Outcome, Retention, Store,
    StoreError, StoreResult,
};
pub use template::{
    TemplateAsset, TemplateCheckError, TemplateChecked, TemplateChecker, TemplateSummary, TemplateUpload,
    TemplateVersion, decode_assets, encode_assets,
};
pub use tenant::{ApiKey, AuditEntry, KeyHash};
pub use time_fmt::{format_ms, parse_rfc3339_ms};
pub use webhook::{
    WEBHOOK_ATTEMPTS, WEBHOOK_KIND, WEBHOOK_QUEUE, Webhook, WebhookEvent, WebhookSpec, batch_event_data, event_body,
    job_event_data, job_event_of_state,
};

/// Limits shared by every layer, so validation and storage agree.
pub mod limits {
    /// Attempts a job gets when neither it nor its queue says.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
    /// Lowest job priority.
    pub const PRIORITY_MIN: i32 = -100;
    /// Highest job priority.
    pub const PRIORITY_MAX: i32 = 100;
    /// Most attempts a job may be given.
    pub const MAX_ATTEMPTS_MAX: u32 = 1000;
    /// Longest per-job timeout: 24 hours.
    pub const TIMEOUT_MS_MAX: u64 = 24 * 3600 * 1000;
    /// Longest delay before a job's first run: one year.
    pub const DELAY_MS_MAX: u64 = 366 * 24 * 3600 * 1000;
    /// Most tags on a job.
    pub const TAGS_MAX: usize = 32;
    /// Most tags on a schedule's job: it gets one more, `schedule:{name}`, at each tick.
    pub const SCHEDULE_TAGS_MAX: usize = TAGS_MAX - 1;
    /// Most items in one batch.
    pub const BATCH_ITEMS_MAX: usize = 10_000;
    /// Failed items listed in a batch's summary.
    pub const BATCH_FAILURES_LISTED: usize = 1_000;
    /// Most jobs in a chain (`then` inside `then`).
    pub const CHAIN_DEPTH_MAX: usize = 8;
    /// Follow-ups (chained jobs, finished batches) made in one store call.
    pub const FOLLOW_UPS_MAX: u32 = 100;
    /// Schedules fired in one store call; more due ones wait for the next call, at once.
    pub const SCHEDULES_FIRED_MAX: u32 = 100;
    /// Longest tag or idempotency key.
    pub const KEY_LEN_MAX: usize = 255;
    /// Consecutive lease expiries after which a job is parked as `dead` with `worker_lost`.
    pub const LOST_LEASES_MAX: u32 = 3;
}
