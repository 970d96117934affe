//! What an in-process handler sees and returns.
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::{Artifact, ArtifactId, ByteStream, JobError, JobId, ProgressUpdate};

/// Where a handler reports progress. Reports are cheap and never block: the runtime keeps the
/// latest one and writes it to the store at most every ~100 ms per job.
pub trait ProgressSink: Send + Sync {
    /// Records a progress report.
    fn report(&self, update: ProgressUpdate);
}

/// What a handler says about a file it made; the rest (size, hash, expiry) is measured or
/// looked up when it is saved.
#[derive(Clone, Debug, Default)]
pub struct NewArtifact {
    /// The file name offered on download (sanitised when saved).
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Where it came from: template name and version, a hash of the input data.
    pub provenance: Option<serde_json::Value>,
    /// When it expires (Unix ms); None: the tenant's retention for the job's kind.
    pub expires_at: Option<i64>,
}

/// A running job's access to artifacts: it saves the files it makes (the bytes are stored,
/// then recorded against the job's attempt — fenced, so a stale attempt's files are refused
/// and their bytes deleted) and reads its tenant's artifacts (e.g. rows to export).
#[async_trait]
pub trait ArtifactSink: Send + Sync {
    /// Saves one file.
    async fn save(&self, meta: NewArtifact, data: ByteStream) -> Result<Artifact, HandlerError>;
    /// Opens an artifact of the job's tenant; an unknown or expired one is a non-retryable
    /// error naming it.
    async fn open(&self, id: ArtifactId) -> Result<(Artifact, ByteStream), HandlerError>;
}

/// Everything a handler gets for one attempt of one job.
pub struct JobContext {
    /// The job.
    pub id: JobId,
    /// Its tenant.
    pub tenant: String,
    /// Its kind.
    pub kind: String,
    /// The attempt number this run holds.
    pub attempt: u32,
    /// How the previous attempt failed, if one did (e.g. to give up on an input that crashed
    /// its renderer twice).
    pub last_error: Option<JobError>,
    /// Input, as JSON bytes.
    pub payload: Box<RawValue>,
    /// Fires when the job is cancelled or the worker must stop; a handler checks it between
    /// steps and returns [`HandlerError::Cancelled`].
    pub cancel: CancellationToken,
    /// Progress reports.
    pub progress: Arc<dyn ProgressSink>,
    /// When the runtime will stop waiting for this attempt.
    pub deadline: Option<Instant>,
    /// Saves the files this attempt makes.
    pub artifacts: Arc<dyn ArtifactSink>,
}

impl JobContext {
    /// Reports progress.
    pub fn report(&self, update: ProgressUpdate) {
        self.progress.report(update)
    }
}

/// How an attempt ended badly, and so what happens next.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerError {
    /// Try again after backoff, if attempts remain.
    Retryable(JobError),
    /// Do not try again: the job is `dead`.
    Fatal(JobError),
    /// The handler stopped because its cancellation token fired.
    Cancelled,
}

impl HandlerError {
    /// A retryable error.
    pub fn retryable(code: &str, message: impl Into<String>) -> Self {
        HandlerError::Retryable(JobError::new(code, message))
    }
    /// A non-retryable error.
    pub fn fatal(code: &str, message: impl Into<String>) -> Self {
        HandlerError::Fatal(JobError::new(code, message))
    }
}

/// A kind of work run inside the tarea process.
///
/// A handler must not block its thread: CPU-bound or blocking work goes to
/// `tokio::task::spawn_blocking` (or a child process) and checks `ctx.cancel` between steps.
/// The runtime can abandon an attempt (timeout, hard stop) by dropping its future, but it
/// cannot stop a thread that is blocked; such work would keep running after its slot is reused.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt. `Ok` carries the result as JSON.
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError>;

    /// Checks a payload of `tenant` when its job is enqueued, so that input which can never
    /// run is refused at once (`400`, nothing written) instead of failing later. The default
    /// accepts everything; the handler still checks what it runs.
    async fn check(&self, _tenant: &str, _payload: &RawValue) -> Result<(), PayloadError> {
        Ok(())
    }
}

/// A payload refused at enqueue: the field at fault, relative to the payload (`to[1]`), and
/// what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadError {
    /// The field, e.g. `attachments[0].artifact`; empty for the payload as a whole.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl PayloadError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        PayloadError { field: field.into(), message: message.into() }
    }
}

/// Checks and shows tenant settings (`PUT|GET /v1/settings/{name}`); implemented where the
/// setting is used (the e-mail kind knows what an SMTP server needs).
pub trait SettingCheck: Send + Sync {
    /// The settings it knows.
    fn names(&self) -> &'static [&'static str];
    /// Checks `value` for setting `name` (errors name the field) and answers what to store;
    /// `previous` is the value stored before, if any (a secret it generated is kept).
    fn check(
        &self,
        name: &str,
        value: &serde_json::Value,
        previous: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, PayloadError>;
    /// A stored value as `GET` shows it (secrets hidden).
    fn redact(&self, name: &str, stored: &serde_json::Value) -> serde_json::Value;
}
