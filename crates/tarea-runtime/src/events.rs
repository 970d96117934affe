//! The event hub: the store publishes committed events here; live streams subscribe; claim
//! loops watch sequence numbers that move whenever work becomes claimable.
use std::sync::Arc;

use tarea_core::{EventKind, EventSink, JobEvent, JobState};
use tokio::sync::{broadcast, watch};

use crate::Metrics;

/// Fans out committed events.
pub struct EventHub {
    events: broadcast::Sender<Arc<JobEvent>>,
    builtin_ready: watch::Sender<u64>,
    external_ready: watch::Sender<u64>,
    delayed: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl EventHub {
    /// A hub that also counts finished jobs into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(EventHub {
            events: broadcast::channel(16_384).0,
            builtin_ready: watch::channel(0).0,
            external_ready: watch::channel(0).0,
            delayed: watch::channel(0).0,
            metrics,
        })
    }

    /// Every event from now on. A receiver that falls behind by more than 16,384 events is told
    /// it lagged and must re-read what it follows.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<JobEvent>> {
        self.events.subscribe()
    }

    /// Moves whenever built-in work may have become claimable.
    pub fn builtin_ready(&self) -> watch::Receiver<u64> {
        self.builtin_ready.subscribe()
    }

    /// Moves whenever work for external workers may have become claimable.
    pub fn external_ready(&self) -> watch::Receiver<u64> {
        self.external_ready.subscribe()
    }

    /// Moves whenever a job got a future `run_at` (the promoter re-plans its sleep).
    pub fn delayed(&self) -> watch::Receiver<u64> {
        self.delayed.subscribe()
    }

    /// Signals that work may be claimable without a job event (e.g. a queue was resumed).
    pub fn poke(&self) {
        self.builtin_ready.send_modify(|n| *n += 1);
        self.external_ready.send_modify(|n| *n += 1);
    }
}

impl EventSink for EventHub {
    fn publish(&self, events: Vec<JobEvent>) {
        let (mut builtin, mut external, mut delayed) = (false, false, false);
        for e in &events {
            let EventKind::State(state) = e.change else { continue };
            // A queued job is claimable; a job leaving `running` frees a slot of a queue that
            // may be at its concurrency limit.
            if state != JobState::Running && state != JobState::Scheduled {
                if e.builtin {
                    builtin = true;
                } else {
                    external = true;
                }
            }
            if matches!(state, JobState::Scheduled | JobState::Failed) {
                delayed = true;
            }
            self.metrics.job_finished(&e.tenant, &e.queue, &e.kind, state);
        }
        if builtin {
            self.builtin_ready.send_modify(|n| *n += 1);
        }
        if external {
            self.external_ready.send_modify(|n| *n += 1);
        }
        if delayed {
            self.delayed.send_modify(|n| *n += 1);
        }
        if self.events.receiver_count() > 0 {
            for e in events {
                let _ = self.events.send(Arc::new(e));
            }
        }
    }
}
