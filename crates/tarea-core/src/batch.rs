//! Batches and chains: jobs that make other jobs when they end.
//!
//! - A **batch** is many independent items (50 status updates): one failing stops nothing, its
//!   progress is finished/total, and when every item has ended its `on_complete` job is made
//!   with a summary (`total`, `succeeded`, `failed`, `failures`).
//! - A **chain** is a job with `then`: when it succeeds the `then` job is made, with the
//!   parent's id, result and artifacts in its payload (`pdf.render` then `email.send` with that
//!   PDF attached).
//!
//! The follow-up jobs are made by the leader's follow-up service in one store transaction each
//! (the parent is marked in the same transaction), not on the completion path: completions stay
//! batched and cheap, and a follow-up is made exactly once even if the node that ran the parent
//! dies. The payloads are built here, purely.
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::{ArtifactId, BatchId, Job, JobError, JobId, JobSpec, JobState, StateCounts};

/// A batch as stored, with live counts of its items by state.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Its id.
    pub id: BatchId,
    /// Owner.
    pub tenant: String,
    /// Items.
    pub total: u64,
    /// Items by state, counted when read (items deleted by retention are no longer counted).
    pub counts: StateCounts,
    /// The job made when every item has ended.
    pub on_complete: Option<JobSpec>,
    /// That job, once made.
    pub callback_id: Option<JobId>,
    /// Created (ms).
    pub created_at: i64,
    /// When its last item ended; `None` while any item may still run.
    pub finished_at: Option<i64>,
}

/// Where a batch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BatchState {
    /// Some items have not ended.
    Running,
    /// Every item succeeded.
    Succeeded,
    /// Every item ended, and at least one is dead or cancelled.
    Failed,
}

impl Batch {
    /// Its state.
    pub fn state(&self) -> BatchState {
        match self.finished_at {
            None => BatchState::Running,
            Some(_) if self.counts.dead + self.counts.cancelled > 0 => BatchState::Failed,
            Some(_) => BatchState::Succeeded,
        }
    }

    /// Items that have ended (succeeded, dead or cancelled).
    pub fn finished(&self) -> u64 {
        self.counts.succeeded + self.counts.dead + self.counts.cancelled
    }
}

/// An item that did not succeed, as the `on_complete` job sees it.
#[derive(Clone, Debug, Serialize)]
pub struct BatchFailure {
    /// The item.
    pub job_id: JobId,
    /// `dead` or `cancelled`.
    pub state: JobState,
    /// Its last error.
    pub error: Option<JobError>,
}

/// How a batch ended.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BatchSummary {
    /// Items.
    pub total: u64,
    /// Items that succeeded.
    pub succeeded: u64,
    /// Items dead or cancelled.
    pub failed: u64,
    /// The first [`crate::limits::BATCH_FAILURES_LISTED`] of them.
    pub failures: Vec<BatchFailure>,
    /// More failed than are listed.
    pub failures_truncated: bool,
}

fn object_of(payload: &RawValue) -> Map<String, Value> {
    match serde_json::from_str::<Value>(payload.get()) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Null) | Err(_) => Map::new(),
        Ok(other) => Map::from_iter([("value".to_owned(), other)]),
    }
}

fn raw(v: Map<String, Value>) -> Box<RawValue> {
    serde_json::value::to_raw_value(&v).expect("a JSON object serializes")
}

/// The payload of the job a chain makes after `parent` succeeded: the `then` payload with
/// `parent: {"id", "kind", "result", "artifacts": [ids]}` added (replacing any `parent` key).
fn chained_payload(then_payload: &RawValue, parent: &Job, artifacts: &[ArtifactId]) -> Box<RawValue> {
    let mut m = object_of(then_payload);
    let result =
        parent.result.as_ref().and_then(|r| serde_json::from_str::<Value>(r.get()).ok()).unwrap_or(Value::Null);
    let info = serde_json::json!({
        "id": parent.id,
        "kind": parent.kind,
        "result": result,
        "artifacts": artifacts,
    });
    m.insert("parent".into(), info);
    raw(m)
}

/// The payload of a batch's `on_complete` job: its own payload with `batch: {"id", "total",
/// "succeeded", "failed", "failures", "failures_truncated"}` added.
pub fn callback_payload(payload: &RawValue, batch: BatchId, summary: &BatchSummary) -> Box<RawValue> {
    let mut m = object_of(payload);
    let mut info = serde_json::to_value(summary).expect("a summary serializes");
    info["id"] = serde_json::json!(batch);
    m.insert("batch".into(), info);
    raw(m)
}

/// The job a chain makes: `then` with the parent's details in its payload, linked to it.
pub fn chained_spec(then: &JobSpec, parent: &Job, artifacts: &[ArtifactId]) -> JobSpec {
    let mut spec = then.clone();
    spec.payload = chained_payload(&then.payload, parent, artifacts);
    spec.parent_id = Some(parent.id);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicy;

    fn rawv(v: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    #[test]
    fn a_chained_job_sees_its_parent() {
        let spec = JobSpec::new("pdf.render", "default", rawv(serde_json::json!({})));
        let mut parent = Job::from_spec(JobId::new(), "acme", spec, 0, 3, RetryPolicy::default());
        parent.result = Some(rawv(serde_json::json!({"pages": 4})));
        let then = JobSpec::new("email.send", "mail", rawv(serde_json::json!({"to": ["a@b.c"], "parent": "mine"})));
        let art = ArtifactId::new();
        let child = chained_spec(&then, &parent, &[art]);
        let v: Value = serde_json::from_str(child.payload.get()).unwrap();
        assert_eq!(v["to"], serde_json::json!(["a@b.c"]));
        assert_eq!(v["parent"]["id"], serde_json::json!(parent.id));
        assert_eq!(v["parent"]["kind"], "pdf.render");
        assert_eq!(v["parent"]["result"]["pages"], 4);
        assert_eq!(v["parent"]["artifacts"], serde_json::json!([art]));
        assert_eq!(child.parent_id, Some(parent.id));
        assert_eq!(child.kind, "email.send");
    }

    #[test]
    fn a_callback_gets_the_summary() {
        let id = BatchId::new();
        let summary = BatchSummary {
            total: 50,
            succeeded: 49,
            failed: 1,
            failures: vec![BatchFailure {
                job_id: JobId::new(),
                state: JobState::Dead,
                error: Some(JobError::new("http_404", "protocol 17 not found")),
            }],
            failures_truncated: false,
        };
        let p = callback_payload(&rawv(serde_json::json!({"aviso": "lote"})), id, &summary);
        let v: Value = serde_json::from_str(p.get()).unwrap();
        assert_eq!(v["aviso"], "lote");
        assert_eq!(v["batch"]["id"], serde_json::json!(id));
        assert_eq!((v["batch"]["total"].as_u64(), v["batch"]["failed"].as_u64()), (Some(50), Some(1)));
        assert_eq!(v["batch"]["failures"][0]["state"], "dead");
        assert_eq!(v["batch"]["failures"][0]["error"]["code"], "http_404");
    }

    #[test]
    fn a_batch_is_running_until_its_last_item_ends() {
        let mut b = Batch {
            id: BatchId::new(),
            tenant: "acme".into(),
            total: 3,
            counts: StateCounts { succeeded: 2, running: 1, ..Default::default() },
            on_complete: None,
            callback_id: None,
            created_at: 0,
            finished_at: None,
        };
        assert_eq!((b.state(), b.finished()), (BatchState::Running, 2));
        b.counts = StateCounts { succeeded: 2, dead: 1, ..Default::default() };
        b.finished_at = Some(1);
        assert_eq!(b.state(), BatchState::Failed);
        b.counts = StateCounts { succeeded: 3, ..Default::default() };
        assert_eq!(b.state(), BatchState::Succeeded);
    }
}
