//! Events: every state or progress change emits one, after it is committed. They feed the
//! claim loops' wake-ups, live streams (SSE), and later webhooks and the dashboard.
use crate::{JobId, JobState};

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The job entered a new state.
    State(JobState),
    /// The job's progress changed.
    Progress,
}

/// One committed change to one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEvent {
    /// The job.
    pub id: JobId,
    /// Its tenant.
    pub tenant: String,
    /// Its queue.
    pub queue: String,
    /// Its kind.
    pub kind: String,
    /// Whether an in-process handler runs it (false: external workers do).
    pub builtin: bool,
    /// The job's attempt number when the change was made.
    pub attempt: u32,
    /// What changed.
    pub change: EventKind,
}
