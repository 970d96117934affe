//! The store conformance suite: every case runs on every backend through `store_test!`.
mod artifacts;
mod batches;
mod claim;
mod fencing;
mod history;
mod jobs;
mod listing;
mod maintenance;
mod queues;
mod schedules;
mod settings;
mod templates;
mod webhooks;

use std::sync::Arc;

pub use tarea_core::*;
pub use tarea_testkit::{raw, spec, store_test};

pub type S = Arc<dyn Store>;

pub const T: &str = "acme";
pub const NOW: i64 = 1_800_000_000_000;

pub fn claim_params(queues: &[&str], max: u32, now: i64) -> ClaimParams {
    ClaimParams {
        tenant: None,
        queues: queues.iter().map(|q| q.to_string()).collect(),
        kinds: None,
        builtin: false,
        max,
        lease_ms: 30_000,
        worker: "test".into(),
        now,
    }
}

pub async fn enqueue_one(s: &S, spec: JobSpec, now: i64) -> Job {
    s.job_enqueue(T, vec![spec], now).await.unwrap().pop().unwrap().job
}

pub async fn claim_one(s: &S, queue: &str, now: i64) -> Job {
    let mut jobs = s.job_claim(claim_params(&[queue], 1, now)).await.unwrap();
    assert_eq!(jobs.len(), 1, "expected one job to claim in {queue}");
    jobs.pop().unwrap()
}

pub fn done(id: JobId, attempt: u32, outcome: Outcome, now: i64) -> CompleteParams {
    CompleteParams { id, tenant: None, attempt, outcome, now }
}

pub fn succeeded() -> Outcome {
    Outcome::Succeeded { result: Some(raw(serde_json::json!({"ok": true}))) }
}

pub fn failed(retryable: bool) -> Outcome {
    Outcome::Failed { error: JobError::new("boom", "it broke"), retryable }
}

pub async fn state_of(s: &S, id: JobId) -> JobState {
    s.job_get(None, id).await.unwrap().unwrap().state
}
