//! Job states and the transition table, as pure data.
//!
//! Every store applies a transition in one atomic operation whose `WHERE` clause names the
//! states this table allows as sources, so the table here and the SQL cannot drift apart
//! without a conformance test failing.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at`. In: enqueue with a future `run_at`. Out: the promoter moves
    /// it to `queued` when due; cancel. Never deleted while scheduled.
    Scheduled,
    /// Ready to run. In: enqueue, promotion, retry, lease expiry, release on shutdown. Out: a
    /// claim moves it to `running`; cancel. Never deleted while queued.
    Queued,
    /// Claimed by a worker holding a lease. In: claim. Out: the worker's fenced completion, the
    /// reaper when the lease expires, release on shutdown, cancel. Never deleted while running.
    Running,
    /// Finished well. In: completion. Terminal; deleted by the retention cleaner.
    Succeeded,
    /// This attempt failed and another is due at `run_at`. In: a retryable failure. Out: the
    /// promoter moves it to `queued` when due; cancel; retry. Never deleted while failed.
    Failed,
    /// Attempts exhausted, a non-retryable error, or a poison pill. In: failure, reaper.
    /// Out: retry. Deleted by the retention cleaner.
    Dead,
    /// Stopped on request. In: cancel. Out: retry. Deleted by the retention cleaner.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Cancelled,
    ];

    /// The state's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state's stored code (stable; used as an integer column).
    pub fn code(self) -> i64 {
        match self {
            JobState::Scheduled => 0,
            JobState::Queued => 1,
            JobState::Running => 2,
            JobState::Succeeded => 3,
            JobState::Failed => 4,
            JobState::Dead => 5,
            JobState::Cancelled => 6,
        }
    }

    /// The state for a stored code.
    pub fn from_code(code: i64) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// True when nothing will run this job again unless someone retries it.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::Dead | JobState::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is not one of [`JobState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        write!(f, "unknown state {:?}; valid states: {}", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for JobState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Something that moves a job from one state to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    /// `scheduled`/`failed` → `queued` when `run_at` is due (the promoter).
    Promote,
    /// `queued` → `running` (a worker's claim; the attempt number goes up by one).
    Claim,
    /// `running` → `succeeded` (fenced completion).
    Succeed,
    /// `running` → `failed` (a retryable failure with attempts left).
    FailRetry,
    /// `running` → `dead` (non-retryable failure, attempts exhausted, or poison pill).
    FailFinal,
    /// `running` → `queued` (the reaper, after the lease expired; the attempt counts).
    LeaseExpire,
    /// `running` → `queued` (a worker shutting down; the attempt does not count).
    Release,
    /// Any unfinished state → `cancelled`.
    Cancel,
    /// `dead`/`cancelled`/`failed` → `queued`, attempts reset (an operator's retry).
    Retry,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 9] = [
        Transition::Promote,
        Transition::Claim,
        Transition::Succeed,
        Transition::FailRetry,
        Transition::FailFinal,
        Transition::LeaseExpire,
        Transition::Release,
        Transition::Cancel,
        Transition::Retry,
    ];

    /// The states this transition may start from.
    pub fn sources(self) -> &'static [JobState] {
        use JobState::*;
        match self {
            Transition::Promote => &[Scheduled, Failed],
            Transition::Claim => &[Queued],
            Transition::Succeed
            | Transition::FailRetry
            | Transition::FailFinal
            | Transition::LeaseExpire
            | Transition::Release => &[Running],
            Transition::Cancel => &[Scheduled, Queued, Running, Failed],
            Transition::Retry => &[Dead, Cancelled, Failed],
        }
    }

    /// The state this transition ends in.
    pub fn target(self) -> JobState {
        match self {
            Transition::Promote | Transition::LeaseExpire | Transition::Release | Transition::Retry => JobState::Queued,
            Transition::Claim => JobState::Running,
            Transition::Succeed => JobState::Succeeded,
            Transition::FailRetry => JobState::Failed,
            Transition::FailFinal => JobState::Dead,
            Transition::Cancel => JobState::Cancelled,
        }
    }

    /// The state after applying this transition to `from`, or why it is refused.
    pub fn apply(self, from: JobState) -> Result<JobState, IllegalTransition> {
        if self.sources().contains(&from) {
            Ok(self.target())
        } else {
            Err(IllegalTransition { from, transition: self })
        }
    }

    /// A verb for messages ("cancel", "retry", …).
    pub fn verb(self) -> &'static str {
        match self {
            Transition::Promote => "promote",
            Transition::Claim => "claim",
            Transition::Succeed => "complete",
            Transition::FailRetry | Transition::FailFinal => "fail",
            Transition::LeaseExpire => "expire the lease of",
            Transition::Release => "release",
            Transition::Cancel => "cancel",
            Transition::Retry => "retry",
        }
    }
}

/// A transition that the table does not allow from the job's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    /// The job's state.
    pub from: JobState,
    /// What was attempted.
    pub transition: Transition,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed: Vec<&str> = self.transition.sources().iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "cannot {} a job that is {}; only a job that is {} can be",
            self.transition.verb(),
            self.from,
            allowed.join(" or ")
        )
    }
}

impl std::error::Error for IllegalTransition {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = JobState> {
        proptest::sample::select(JobState::ALL.to_vec())
    }
    fn any_transition() -> impl Strategy<Value = Transition> {
        proptest::sample::select(Transition::ALL.to_vec())
    }

    #[test]
    fn names_round_trip_and_unknown_lists_valid_ones() {
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), s);
            assert_eq!(JobState::from_code(s.code()), Some(s));
        }
        let err = "done".parse::<JobState>().unwrap_err().to_string();
        assert!(err.contains("succeeded") && err.contains("cancelled"), "{err}");
    }

    #[test]
    fn terminal_states_only_leave_by_retry() {
        for s in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for t in Transition::ALL {
                if t.apply(s).is_ok() {
                    assert!(t == Transition::Retry, "{s} left by {t:?}");
                }
            }
        }
        assert!(Transition::Retry.apply(JobState::Succeeded).is_err());
    }

    #[test]
    fn only_a_claim_starts_a_run() {
        for t in Transition::ALL {
            assert_eq!(t.target() == JobState::Running, t == Transition::Claim);
        }
    }

    proptest! {
        #[test]
        fn apply_agrees_with_sources(s in any_state(), t in any_transition()) {
            let r = t.apply(s);
            prop_assert_eq!(r.is_ok(), t.sources().contains(&s));
            if let Ok(to) = r { prop_assert_eq!(to, t.target()); }
            else { prop_assert!(r.unwrap_err().to_string().contains(s.as_str())); }
        }

        #[test]
        fn every_walk_is_made_of_legal_steps(steps in proptest::collection::vec(any_transition(), 0..40)) {
            let mut s = JobState::Queued;
            for t in steps {
                if let Ok(next) = t.apply(s) {
                    prop_assert!(t.sources().contains(&s));
                    s = next;
                }
            }
            prop_assert!(JobState::ALL.contains(&s));
        }
    }

    #[test]
    fn every_state_is_reachable_from_queued() {
        let mut seen = vec![JobState::Queued];
        let mut i = 0;
        while i < seen.len() {
            for t in Transition::ALL {
                if let Ok(n) = t.apply(seen[i])
                    && !seen.contains(&n)
                {
                    seen.push(n);
                }
            }
            i += 1;
        }
        // `scheduled` is only entered at enqueue.
        assert_eq!(seen.len(), JobState::ALL.len() - 1);
    }
}
