//! The event hub: the store publishes committed events here; live streams subscribe; claim
//! loops watch sequence numbers that move whenever work becomes claimable.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tarea_core::{EventKind, EventSink, JobEvent, JobId, JobState};
use tokio::sync::{broadcast, watch};

use crate::Metrics;

/// Fans out committed events.
pub struct EventHub {
    events: broadcast::Sender<Arc<JobEvent>>,
    /// Cancellations of built-in jobs, apart from `events`: the claim loop's cancel watcher
    /// would otherwise wake on every event, and each wake-up made the enqueue path rouse a
    /// second runtime thread (a futex wake and a context switch per request).
    cancels: broadcast::Sender<(JobId, u32)>,
    builtin_ready: watch::Sender<u64>,
    /// One channel per tenant, so a busy tenant does not wake every other tenant's long polls.
    external_ready: Mutex<HashMap<String, watch::Sender<u64>>>,
    delayed: watch::Sender<u64>,
    ended: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl EventHub {
    /// A hub that also counts finished jobs into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(EventHub {
            events: broadcast::channel(16_384).0,
            cancels: broadcast::channel(1024).0,
            builtin_ready: watch::channel(0).0,
            external_ready: Mutex::new(HashMap::new()),
            delayed: watch::channel(0).0,
            ended: watch::channel(0).0,
            metrics,
        })
    }

    /// Every event from now on. A receiver that falls behind by more than 16,384 events is told
    /// it lagged and must re-read what it follows.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<JobEvent>> {
        self.events.subscribe()
    }

    /// Every cancellation of a built-in job (id, attempt) from now on. A receiver that lags
    /// must look at what it runs again.
    pub fn cancels(&self) -> broadcast::Receiver<(JobId, u32)> {
        self.cancels.subscribe()
    }

    /// Moves whenever built-in work may have become claimable.
    pub fn builtin_ready(&self) -> watch::Receiver<u64> {
        self.builtin_ready.subscribe()
    }

    /// Moves whenever work of `tenant` for external workers may have become claimable.
    pub fn external_ready(&self, tenant: &str) -> watch::Receiver<u64> {
        let mut map = self.external_ready.lock().unwrap_or_else(|p| p.into_inner());
        // Channels nobody listens to any more are dropped as new ones are made.
        map.retain(|_, tx| tx.receiver_count() > 0);
        map.entry(tenant.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    fn wake_external(&self, tenant: &str) {
        let map = self.external_ready.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(tenant) {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Moves whenever a job got a future `run_at` (the promoter re-plans its sleep).
    pub fn delayed(&self) -> watch::Receiver<u64> {
        self.delayed.subscribe()
    }

    /// Moves whenever a job succeeded, died or was cancelled (its chain or batch may have a
    /// follow-up to make).
    pub fn ended(&self) -> watch::Receiver<u64> {
        self.ended.subscribe()
    }

    /// Signals that work of `tenant` may be claimable without a job event (a queue was resumed
    /// or its limits changed).
    pub fn poke(&self, tenant: &str) {
        self.builtin_ready.send_modify(|n| *n += 1);
        self.wake_external(tenant);
    }
}

impl EventSink for EventHub {
    fn publish(&self, events: Vec<JobEvent>) {
        self.fan_out(events, true);
    }

    fn publish_remote(&self, events: Vec<JobEvent>) {
        // Another node counted these in its own metrics; counting them here too would double
        // them when a dashboard sums the nodes.
        self.fan_out(events, false);
    }

    fn wake_all(&self) {
        self.builtin_ready.send_modify(|n| *n += 1);
        self.delayed.send_modify(|n| *n += 1);
        self.ended.send_modify(|n| *n += 1);
        let map = self.external_ready.lock().unwrap_or_else(|p| p.into_inner());
        for tx in map.values() {
            tx.send_modify(|n| *n += 1);
        }
    }
}

impl EventHub {
    fn fan_out(&self, events: Vec<JobEvent>, count: bool) {
        let (mut builtin, mut delayed, mut ended) = (false, false, false);
        let mut external: Vec<&str> = Vec::new();
        for e in &events {
            let EventKind::State(state) = e.change else { continue };
            // A queued job is claimable; a job leaving `running` frees a slot of a queue that
            // may be at its concurrency limit.
            if state != JobState::Running && state != JobState::Scheduled {
                if e.builtin {
                    builtin = true;
                } else if !external.contains(&e.tenant.as_str()) {
                    external.push(&e.tenant);
                }
            }
            if matches!(state, JobState::Scheduled | JobState::Failed) {
                delayed = true;
            }
            if matches!(state, JobState::Succeeded | JobState::Dead | JobState::Cancelled) {
                ended = true;
            }
            if e.builtin && state == JobState::Cancelled && self.cancels.receiver_count() > 0 {
                let _ = self.cancels.send((e.id, e.attempt));
            }
            if count {
                self.metrics.job_finished(&e.tenant, &e.queue, &e.kind, state);
            }
        }
        if builtin {
            self.builtin_ready.send_modify(|n| *n += 1);
        }
        for tenant in external {
            self.wake_external(tenant);
        }
        if delayed {
            self.delayed.send_modify(|n| *n += 1);
        }
        if ended {
            self.ended.send_modify(|n| *n += 1);
        }
        if self.events.receiver_count() > 0 {
            for e in events {
                let _ = self.events.send(Arc::new(e));
            }
        }
    }
}
