//! Prometheus metrics. Counters and histograms are recorded where things happen; queue depths
//! are read from the store when `/metrics` is scraped (see `tarea-server`).
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tarea_core::JobState;

/// Labels of per-job metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// Tenant.
    pub tenant: String,
    /// Queue.
    pub queue: String,
    /// Kind.
    pub kind: String,
}

fn histogram() -> Histogram {
    // 0.5 ms … ~4.6 h
    Histogram::new(exponential_buckets(0.0005, 4.0, 13))
}

/// Every metric tarea records.
pub struct Metrics {
    registry: Mutex<Registry>,
    enqueued: Family<JobLabels, Counter>,
    succeeded: Family<JobLabels, Counter>,
    failed: Family<JobLabels, Counter>,
    dead: Family<JobLabels, Counter>,
    cancelled: Family<JobLabels, Counter>,
    duration: Family<JobLabels, Histogram>,
    wait: Family<JobLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tarea");
        let m = Metrics {
            enqueued: Family::default(),
            succeeded: Family::default(),
            failed: Family::default(),
            dead: Family::default(),
            cancelled: Family::default(),
            duration: Family::new_with_constructor(histogram),
            wait: Family::new_with_constructor(histogram),
            registry: Mutex::new(Registry::default()),
        };
        registry.register("jobs_enqueued", "Jobs created", m.enqueued.clone());
        registry.register("jobs_succeeded", "Jobs that succeeded", m.succeeded.clone());
        registry.register("jobs_failed", "Attempts that failed and will be retried", m.failed.clone());
        registry.register("jobs_dead", "Jobs that ended dead", m.dead.clone());
        registry.register("jobs_cancelled", "Jobs cancelled", m.cancelled.clone());
        registry.register("job_duration_seconds", "Run time of finished attempts", m.duration.clone());
        registry.register(
            "job_wait_seconds",
            "Time from a job being due to a worker starting it (enqueue-to-start)",
            m.wait.clone(),
        );
        *m.registry.lock().expect("fresh mutex") = registry;
        m
    }
}

fn labels(tenant: &str, queue: &str, kind: &str) -> JobLabels {
    JobLabels { tenant: tenant.to_owned(), queue: queue.to_owned(), kind: kind.to_owned() }
}

impl Metrics {
    /// Counts created jobs.
    pub fn jobs_enqueued(&self, tenant: &str, queue: &str, kind: &str, n: u64) {
        self.enqueued.get_or_create(&labels(tenant, queue, kind)).inc_by(n);
    }

    /// Counts a job reaching `state` (only finished states and `failed` count).
    pub fn job_finished(&self, tenant: &str, queue: &str, kind: &str, state: JobState) {
        let family = match state {
            JobState::Succeeded => &self.succeeded,
            JobState::Failed => &self.failed,
            JobState::Dead => &self.dead,
            JobState::Cancelled => &self.cancelled,
            _ => return,
        };
        family.get_or_create(&labels(tenant, queue, kind)).inc();
    }

    /// Records how long an attempt ran.
    pub fn job_ran(&self, tenant: &str, queue: &str, kind: &str, seconds: f64) {
        self.duration.get_or_create(&labels(tenant, queue, kind)).observe(seconds);
    }

    /// Records how long a job waited from due to started.
    pub fn job_started(&self, tenant: &str, queue: &str, kind: &str, waited_seconds: f64) {
        self.wait.get_or_create(&labels(tenant, queue, kind)).observe(waited_seconds.max(0.0));
    }

    /// Encodes every metric in the Prometheus text format, then `extra` (gauges read at scrape).
    pub fn encode(&self, extra: &Registry) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode_registry(&mut out, &registry);
        }
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, extra);
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}
