//! A job as stored, and the validated request to create one.
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{BatchId, JobError, JobId, JobState, RetryPolicy};

/// A job as the store holds it. The payload and result stay raw JSON bytes: nothing on the hot
/// path parses them.
#[derive(Clone, Debug)]
pub struct Job {
    /// Time-ordered id.
    pub id: JobId,
    /// The tenant it belongs to.
    pub tenant: String,
    /// What handler runs it.
    pub kind: String,
    /// Its queue.
    pub queue: String,
    /// Current state.
    pub state: JobState,
    /// -100..100, higher runs first.
    pub priority: i32,
    /// The number of the current (or last) run, 0 before the first claim. It only ever goes up
    /// — a retry or a release never reuses a number — because it fences completions.
    pub attempt: u32,
    /// Runs that do not count against `max_attempts`: those before the last operator retry and
    /// those released at shutdown. Attempts used = `attempt - attempt_base`.
    pub attempt_base: u32,
    /// Runs allowed before the job is `dead`.
    pub max_attempts: u32,
    /// Input, as JSON.
    pub payload: Box<RawValue>,
    /// Last reported progress.
    pub progress: Option<Progress>,
    /// Output, as JSON.
    pub result: Option<Box<RawValue>>,
    /// Last error.
    pub error: Option<JobError>,
    /// Free labels for filtering.
    pub tags: Vec<String>,
    /// Deduplicates enqueues within a tenant.
    pub idempotency_key: Option<String>,
    /// Reuses a finished result (documents issue).
    pub cache_key: Option<String>,
    /// Per-attempt time limit for built-in handlers.
    pub timeout_ms: Option<u64>,
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// Whether an in-process handler runs it (false: external workers).
    pub builtin: bool,
    /// Who holds the lease.
    pub locked_by: Option<String>,
    /// When the lease runs out (ms since the epoch).
    pub locked_until: Option<i64>,
    /// Created (ms since the epoch).
    pub created_at: i64,
    /// Due (ms since the epoch).
    pub run_at: i64,
    /// Last claim (ms since the epoch).
    pub started_at: Option<i64>,
    /// Reached its current terminal or failed state (ms since the epoch).
    pub finished_at: Option<i64>,
    /// The batch it is an item of.
    pub batch_id: Option<BatchId>,
    /// The job whose `then` made it (a chain).
    pub parent_id: Option<JobId>,
    /// The job its own `then` made, once it succeeded.
    pub next_id: Option<JobId>,
}

impl Job {
    /// The job `spec` becomes when it is created at `now`, with its defaults resolved: due now
    /// (`queued`) or later (`scheduled`), no attempt yet. Both stores build new jobs with it.
    pub fn from_spec(id: JobId, tenant: &str, spec: JobSpec, now: i64, max_attempts: u32, retry: RetryPolicy) -> Job {
        let run_at = spec.run_at.unwrap_or(now).max(0);
        let state = if run_at > now { JobState::Scheduled } else { JobState::Queued };
        Job {
            id,
            tenant: tenant.to_owned(),
            kind: spec.kind,
            queue: spec.queue,
            state,
            priority: spec.priority,
            attempt: 0,
            attempt_base: 0,
            max_attempts,
            payload: spec.payload,
            progress: None,
            result: None,
            error: None,
            tags: spec.tags,
            idempotency_key: spec.idempotency_key,
            cache_key: spec.cache_key,
            timeout_ms: spec.timeout_ms,
            retry,
            builtin: spec.builtin,
            locked_by: None,
            locked_until: None,
            created_at: now,
            run_at,
            started_at: None,
            finished_at: None,
            batch_id: spec.batch_id,
            parent_id: spec.parent_id,
            next_id: None,
        }
    }

    /// Runs this job may still start before it is `dead`.
    pub fn attempts_left(&self) -> u32 {
        self.max_attempts.saturating_sub(self.attempt.saturating_sub(self.attempt_base))
    }
}

/// A validated request to create a job; the store adds id, state and timestamps. Schedules
/// keep one, as JSON, to make a job of at each tick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobSpec {
    /// What handler runs it.
    pub kind: String,
    /// Its queue.
    pub queue: String,
    /// Input.
    pub payload: Box<RawValue>,
    /// -100..100.
    pub priority: i32,
    /// Due time in ms; `None` means now.
    pub run_at: Option<i64>,
    /// Runs allowed; `None` takes the queue's default.
    pub max_attempts: Option<u32>,
    /// Per-attempt time limit.
    pub timeout_ms: Option<u64>,
    /// Backoff; `None` takes the queue's default.
    pub retry: Option<RetryPolicy>,
    /// Deduplicates enqueues within a tenant.
    pub idempotency_key: Option<String>,
    /// Reuses a finished result.
    pub cache_key: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// Whether an in-process handler runs it.
    pub builtin: bool,
    /// The job to make when this one succeeds (a chain); it gets `parent` in its payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Box<JobSpec>>,
    /// The batch it is an item of (set by the store's batch creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<BatchId>,
    /// The job whose `then` made it (set when the chain makes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<JobId>,
}

impl JobSpec {
    /// A spec with defaults for everything but kind, queue and payload.
    pub fn new(kind: &str, queue: &str, payload: Box<RawValue>) -> Self {
        JobSpec {
            kind: kind.to_owned(),
            queue: queue.to_owned(),
            payload,
            priority: 0,
            run_at: None,
            max_attempts: None,
            timeout_ms: None,
            retry: None,
            idempotency_key: None,
            cache_key: None,
            tags: Vec::new(),
            builtin: false,
            then: None,
            batch_id: None,
            parent_id: None,
        }
    }
}

/// Progress as handlers report it and clients read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// 0..100.
    pub percent: f64,
    /// What the job is doing now, in words.
    pub step: Option<String>,
    /// Items done.
    pub current: Option<u64>,
    /// Items in all.
    pub total: Option<u64>,
}

/// A progress report: every field optional, merged into the stored progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressUpdate {
    /// 0..100.
    pub percent: Option<f64>,
    /// What the job is doing now.
    pub step: Option<String>,
    /// Items done.
    pub current: Option<u64>,
    /// Items in all.
    pub total: Option<u64>,
}

impl Progress {
    /// Applies an update. When `percent` is absent but `current` and `total` are known, the
    /// percentage follows from them.
    pub fn apply(&mut self, u: &ProgressUpdate) {
        if let Some(s) = &u.step {
            self.step = Some(s.clone());
        }
        if u.current.is_some() {
            self.current = u.current;
        }
        if u.total.is_some() {
            self.total = u.total;
        }
        self.percent = match (u.percent.filter(|p| p.is_finite()), self.current, self.total) {
            (Some(p), _, _) => p,
            (None, Some(c), Some(t)) if t > 0 && (u.current.is_some() || u.total.is_some()) => {
                (c as f64 * 100.0 / t as f64).min(100.0)
            }
            _ => self.percent,
        }
        .clamp(0.0, 100.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_derives_percent_from_counts() {
        let mut p = Progress::default();
        p.apply(&ProgressUpdate { current: Some(5), total: Some(50), ..Default::default() });
        assert_eq!(p.percent, 10.0);
        p.apply(&ProgressUpdate { step: Some("Generando PDF".into()), ..Default::default() });
        assert_eq!(p.percent, 10.0);
        assert_eq!(p.step.as_deref(), Some("Generando PDF"));
        p.apply(&ProgressUpdate { percent: Some(250.0), ..Default::default() });
        assert_eq!(p.percent, 100.0);
        p.apply(&ProgressUpdate { percent: Some(f64::NAN), ..Default::default() });
        assert_eq!(p.percent, 100.0, "a non-finite percent is ignored");
    }
}
