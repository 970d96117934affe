//! What the store remembers of the past: the attempts of a job before its current one, and
//! per-minute counts of finished work for the dashboard's charts.
//!
//! A job's row always describes its latest attempt (running or ended: `attempt`, `started_at`,
//! `finished_at`, `error`, `locked_by`). Only an attempt that another one follows (a failure
//! with a retry due, a lease that expired, a release, a manual retry of a finished job) is
//! copied into the history, by the store itself in the transaction that ends it. The usual
//! job, which succeeds on its first attempt, writes no history row at all.
use crate::{Job, JobError, JobState};

/// One attempt of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobAttempt {
    /// Its number (1 for the first).
    pub attempt: u32,
    /// The state the attempt left the job in: `running` for the current attempt, `queued` when
    /// it was released or its lease expired (then `error` says so), `failed`, `succeeded`,
    /// `dead` or `cancelled`.
    pub state: JobState,
    /// The worker or node that held its lease.
    pub worker: Option<String>,
    /// When it started (ms since the epoch).
    pub started_at: Option<i64>,
    /// When it ended; `None` while it runs.
    pub ended_at: Option<i64>,
    /// Why it failed.
    pub error: Option<JobError>,
}

impl JobAttempt {
    /// How long it ran, when it has ended.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.ended_at? - self.started_at?).filter(|d| *d >= 0)
    }
}

/// Every attempt of `job`, oldest first: the stored history plus its latest attempt from the
/// job's own row, when the history does not hold it already.
pub fn attempts_of(job: &Job, mut history: Vec<JobAttempt>) -> Vec<JobAttempt> {
    history.sort_by_key(|a| a.attempt);
    let latest_kept = history.last().is_some_and(|a| a.attempt >= job.attempt);
    if job.attempt > 0 && !latest_kept {
        let running = job.state == JobState::Running;
        history.push(JobAttempt {
            attempt: job.attempt,
            state: job.state,
            worker: job.locked_by.clone(),
            started_at: job.started_at,
            ended_at: if running { None } else { job.finished_at },
            error: job.error.clone(),
        });
    }
    history
}

/// Finished work in one interval of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsBucket {
    /// Where the interval starts (ms since the epoch).
    pub at: i64,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Attempts that failed and were retried, and leases that expired.
    pub failed: u64,
    /// Jobs that ended `dead`.
    pub dead: u64,
    /// Jobs cancelled.
    pub cancelled: u64,
}

impl StatsBucket {
    /// Adds `n` jobs that ended an attempt in `state` (the state the attempt left the job in).
    pub fn add(&mut self, state: JobState, n: u64) {
        match state {
            JobState::Succeeded => self.succeeded += n,
            JobState::Dead => self.dead += n,
            JobState::Cancelled => self.cancelled += n,
            JobState::Failed | JobState::Queued => self.failed += n,
            JobState::Scheduled | JobState::Running => {}
        }
    }
}

/// The length of one stored bucket of statistics: a minute.
pub const STATS_MINUTE_MS: i64 = 60_000;

/// The start of the minute `ms` falls in.
pub fn floor_minute(ms: i64) -> i64 {
    ms.div_euclid(STATS_MINUTE_MS) * STATS_MINUTE_MS
}

/// How long a minute waits after it ends before it is counted, so that completions committed
/// a little late (or stamped by a node whose clock runs behind) still land in it.
pub const STATS_GRACE_MS: i64 = 15_000;

/// How long per-minute statistics are kept.
pub const STATS_KEEP_MS: i64 = 8 * 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JobId, JobSpec};

    fn job(state: JobState, attempt: u32) -> Job {
        let spec = JobSpec::new("x", "q", serde_json::value::RawValue::from_string("{}".into()).unwrap());
        let mut j = Job::from_spec(JobId::new(), "t", spec, 1_000, 3, Default::default());
        j.state = state;
        j.attempt = attempt;
        j.started_at = Some(2_000);
        j.finished_at = Some(2_500);
        j.locked_by = Some("node-a".into());
        j
    }

    fn kept(attempt: u32, state: JobState) -> JobAttempt {
        JobAttempt { attempt, state, worker: None, started_at: Some(1), ended_at: Some(2), error: None }
    }

    #[test]
    fn a_job_that_never_ran_has_no_attempts() {
        assert!(attempts_of(&job(JobState::Queued, 0), vec![]).is_empty());
    }

    #[test]
    fn the_latest_attempt_comes_from_the_job_row() {
        let all = attempts_of(&job(JobState::Succeeded, 2), vec![kept(1, JobState::Failed)]);
        assert_eq!(all.len(), 2);
        assert_eq!((all[1].attempt, all[1].state, all[1].duration_ms()), (2, JobState::Succeeded, Some(500)));
        assert_eq!(all[1].worker.as_deref(), Some("node-a"));
    }

    #[test]
    fn a_running_attempt_has_no_end() {
        let all = attempts_of(&job(JobState::Running, 1), vec![]);
        assert_eq!((all[0].state, all[0].ended_at, all[0].duration_ms()), (JobState::Running, None, None));
    }

    #[test]
    fn an_attempt_already_kept_is_not_repeated() {
        // Failed and waiting for attempt 2: the row and the history describe the same attempt.
        let all = attempts_of(&job(JobState::Failed, 1), vec![kept(1, JobState::Failed)]);
        assert_eq!(all.len(), 1);
        let all = attempts_of(&job(JobState::Queued, 2), vec![kept(2, JobState::Queued), kept(1, JobState::Failed)]);
        assert_eq!(all.iter().map(|a| a.attempt).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn buckets_count_by_the_state_an_attempt_left() {
        let mut b = StatsBucket::default();
        b.add(JobState::Succeeded, 3);
        b.add(JobState::Failed, 1);
        b.add(JobState::Queued, 1);
        b.add(JobState::Dead, 2);
        b.add(JobState::Cancelled, 1);
        assert_eq!((b.succeeded, b.failed, b.dead, b.cancelled), (3, 2, 2, 1));
    }
}
