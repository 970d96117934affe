//! Queues: created on first use, one per (tenant, name), with settings and live counts.
use serde::{Deserialize, Serialize};

use crate::RetryPolicy;

/// Counts of a queue's jobs by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Queued.
    pub queued: u64,
    /// Running.
    pub running: u64,
    /// Scheduled.
    pub scheduled: u64,
    /// Failed, waiting for another attempt.
    pub failed: u64,
    /// Dead.
    pub dead: u64,
    /// Succeeded and not yet deleted by retention.
    pub succeeded: u64,
    /// Cancelled and not yet deleted by retention.
    pub cancelled: u64,
}

/// A queue's settings. `None` means "no limit" or "the server default".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Most jobs of this queue running at once, across all workers.
    pub concurrency: Option<u32>,
    /// Most jobs started per second (enforced by claims).
    pub rate_limit: Option<f64>,
    /// Most jobs waiting (queued + scheduled + failed); past it enqueue answers `queue_full`.
    pub max_depth: Option<u64>,
    /// Default attempts for jobs that do not say.
    pub max_attempts: Option<u32>,
    /// Default backoff for jobs that do not say.
    pub retry: Option<RetryPolicy>,
    /// How long succeeded jobs are kept, in seconds.
    pub retention_succeeded_s: Option<u64>,
    /// How long dead and cancelled jobs are kept, in seconds.
    pub retention_dead_s: Option<u64>,
}

/// A queue as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueInfo {
    /// Its tenant.
    pub tenant: String,
    /// Its name.
    pub name: String,
    /// Paused queues are not claimed from.
    pub paused: bool,
    /// Settings.
    pub settings: QueueSettings,
    /// Jobs by state.
    pub counts: StateCounts,
    /// `run_at` of the oldest queued job (ms since the epoch).
    pub oldest_queued_at: Option<i64>,
}
