//! Webhooks: a tenant's subscriptions to events (a job succeeded, failed, died or was
//! cancelled; a batch finished), delivered as signed POSTs.
//!
//! Events are written to an outbox in the transaction that makes them (a trigger on the job's
//! state, for jobs; the batch's finishing, for batches), so an event is never lost to a crash
//! between a commit and its delivery. The leader's follow-up service turns each outbox row
//! into one delivery job per matching subscription (`webhook.deliver`, queue `webhooks`): a
//! delivery is retried with backoff like any job, and the jobs tagged `webhook:{id}` are the
//! subscription's delivery log.
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::{Batch, Job, JobSpec, RetryPolicy, WebhookId, format_ms};

/// The kind of the delivery jobs.
pub const WEBHOOK_KIND: &str = "webhook.deliver";
/// The queue of the delivery jobs.
pub const WEBHOOK_QUEUE: &str = "webhooks";
/// Deliveries of one event to one subscription are tried this many times (over about a day
/// with the backoff below) before the delivery is dead.
pub const WEBHOOK_ATTEMPTS: u32 = 15;

/// What a subscription can hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `job.succeeded`.
    #[serde(rename = "job.succeeded")]
    JobSucceeded,
    /// `job.failed`: an attempt failed and another is due.
    #[serde(rename = "job.failed")]
    JobFailed,
    /// `job.dead`.
    #[serde(rename = "job.dead")]
    JobDead,
    /// `job.cancelled`.
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    /// `batch.done`: every item of a batch ended.
    #[serde(rename = "batch.done")]
    BatchDone,
}

impl WebhookEvent {
    /// Every event.
    pub const ALL: [WebhookEvent; 5] = [
        WebhookEvent::JobSucceeded,
        WebhookEvent::JobFailed,
        WebhookEvent::JobDead,
        WebhookEvent::JobCancelled,
        WebhookEvent::BatchDone,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::JobSucceeded => "job.succeeded",
            WebhookEvent::JobFailed => "job.failed",
            WebhookEvent::JobDead => "job.dead",
            WebhookEvent::JobCancelled => "job.cancelled",
            WebhookEvent::BatchDone => "batch.done",
        }
    }
}

impl FromStr for WebhookEvent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
            format!("unknown event {s:?}; the events are: {}", names.join(", "))
        })
    }
}

/// A subscription to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSpec {
    /// Where events are POSTed (checked against the tenant's `http` allow-list).
    pub url: String,
    /// What it hears of.
    pub events: Vec<WebhookEvent>,
    /// Only jobs of these kinds (empty: any).
    pub kinds: Vec<String>,
    /// Only jobs of these queues (empty: any).
    pub queues: Vec<String>,
}

/// A stored subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// Owner.
    pub tenant: String,
    /// What it is.
    pub spec: WebhookSpec,
    /// Created (ms).
    pub created_at: i64,
}

impl Webhook {
    /// Whether it hears of `event` about a job of `kind` in `queue` (a batch has neither).
    pub fn wants(&self, event: WebhookEvent, kind: Option<&str>, queue: Option<&str>) -> bool {
        let s = &self.spec;
        s.events.contains(&event)
            && (s.kinds.is_empty() || kind.is_some_and(|k| s.kinds.iter().any(|x| x == k)))
            && (s.queues.is_empty() || queue.is_some_and(|q| s.queues.iter().any(|x| x == q)))
    }
}

impl Webhook {
    /// The delivery job of one event to this subscription: built in, in queue `webhooks`,
    /// tried [`WEBHOOK_ATTEMPTS`] times with backoff from 5 s to an hour, tagged
    /// `webhook:{id}` (its delivery log) and `event:{type}`.
    pub fn delivery(&self, event: WebhookEvent, body: &Value) -> JobSpec {
        let payload = json!({"webhook": self.id, "url": self.spec.url, "event": event.as_str(), "body": body});
        let raw = serde_json::value::to_raw_value(&payload).expect("JSON serializes");
        let mut spec = JobSpec::new(WEBHOOK_KIND, WEBHOOK_QUEUE, raw);
        spec.builtin = true;
        spec.max_attempts = Some(WEBHOOK_ATTEMPTS);
        spec.retry = Some(RetryPolicy { base_ms: 5_000, max_ms: 3_600_000 });
        spec.tags = vec![format!("webhook:{}", self.id), format!("event:{}", event.as_str())];
        spec
    }
}

/// The event of a job's state code (succeeded 3, failed 4, dead 5, cancelled 6).
pub fn job_event_of_state(code: i64) -> Option<WebhookEvent> {
    match code {
        3 => Some(WebhookEvent::JobSucceeded),
        4 => Some(WebhookEvent::JobFailed),
        5 => Some(WebhookEvent::JobDead),
        6 => Some(WebhookEvent::JobCancelled),
        _ => None,
    }
}

/// The body POSTed for an event: `{"id", "type", "created_at", "data": {"job": …} | {"batch": …}}`.
pub fn event_body(seq: i64, event: WebhookEvent, at: i64, data: Value) -> Value {
    json!({"id": format!("evt_{seq}"), "type": event.as_str(), "created_at": format_ms(at), "data": data})
}

/// A job as an event tells of it.
pub fn job_event_data(job: &Job) -> Value {
    let raw = |r: &Option<Box<serde_json::value::RawValue>>| {
        r.as_ref().and_then(|v| serde_json::from_str::<Value>(v.get()).ok()).unwrap_or(Value::Null)
    };
    json!({"job": {
        "id": job.id, "kind": job.kind, "queue": job.queue, "state": job.state.as_str(), "attempt": job.attempt,
        "result": raw(&job.result), "error": job.error, "tags": job.tags, "batch_id": job.batch_id,
        "parent_id": job.parent_id, "finished_at": job.finished_at.map(format_ms),
    }})
}

/// A batch as an event tells of it.
pub fn batch_event_data(batch: &Batch) -> Value {
    json!({"batch": {
        "id": batch.id, "state": batch.state(), "total": batch.total, "counts": batch.counts,
        "finished_at": batch.finished_at.map(format_ms),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_subscriptions_filter() {
        for e in WebhookEvent::ALL {
            assert_eq!(e.as_str().parse::<WebhookEvent>().unwrap(), e);
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
        assert!("job.done".parse::<WebhookEvent>().unwrap_err().contains("batch.done"));
        let hook = Webhook {
            id: WebhookId::new(),
            tenant: "acme".into(),
            spec: WebhookSpec {
                url: "https://app.example/hooks".into(),
                events: vec![WebhookEvent::JobDead, WebhookEvent::BatchDone],
                kinds: vec!["pdf.render".into()],
                queues: vec![],
            },
            created_at: 0,
        };
        assert!(hook.wants(WebhookEvent::JobDead, Some("pdf.render"), Some("q")));
        assert!(!hook.wants(WebhookEvent::JobDead, Some("csv.export"), Some("q")));
        assert!(!hook.wants(WebhookEvent::JobSucceeded, Some("pdf.render"), Some("q")));
        assert!(!hook.wants(WebhookEvent::BatchDone, None, None), "a kind filter leaves batches out");
        assert_eq!(job_event_of_state(5), Some(WebhookEvent::JobDead));
        assert_eq!(job_event_of_state(2), None);
    }
}
