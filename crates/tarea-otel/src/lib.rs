//! Job traces over OpenTelemetry: with `--otlp-endpoint`, every job becomes one trace, sent
//! over OTLP/HTTP to a collector (Jaeger, Tempo, the OpenTelemetry Collector, Honeycomb…).
//!
//! The decisions a reader may question:
//! - **The trace id is the job id**, and span ids are computed from it (`ids.rs`). A job's runs
//!   may happen on other nodes than its enqueue, hours later; deriving the ids means no node
//!   stores or passes trace context, and anyone holding a job id can open its trace.
//! - **Spans are made from committed events, not from the code paths**: a [`TracingSink`] sees
//!   each event this node commits and a background task turns it into spans with the times the
//!   store recorded. Every way a job is made (HTTP, batch, schedule, chain) and ended (worker,
//!   reaper, cancel) is covered once, and the hot path only pays a channel send.
//! - **Traces are telemetry, not records**: when the collector is down or slow, spans are
//!   dropped (counted and logged), never queued without bound, and jobs never wait for them.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tarea_core::{EventKind, EventSink, Job, JobEvent, JobId, JobState, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod callers;
mod ids;
mod pipeline;
mod spans;

/// Where and how much to trace.
#[derive(Clone, Debug)]
pub struct TraceConfig {
    /// The collector's OTLP/HTTP address: its base (`http://collector:4318`, to which
    /// `/v1/traces` is added) or the full traces URL.
    pub endpoint: String,
    /// The share of jobs traced, 0–1.
    pub sample: f64,
    /// This node's id (`service.instance.id`).
    pub node: String,
    /// tarea's version (`service.version`).
    pub version: String,
}

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The endpoint is not an http(s) URL.
    #[error("--otlp-endpoint must be an http:// or https:// URL; got {0:?}")]
    Endpoint(String),
    /// The sample ratio is out of range.
    #[error("--otlp-sample must be between 0 and 1; got {0}")]
    Sample(f64),
    /// The exporter could not be built.
    #[error("the OTLP exporter could not be built: {0}")]
    Exporter(String),
}

/// What the background task is handed.
enum Note {
    /// A committed change that may complete spans.
    Event(Event),
    /// A span made already (an enqueue in the caller's trace).
    Span(Box<opentelemetry_sdk::trace::SpanData>),
}

/// One committed change to a job's state.
#[derive(Clone, Copy, Debug)]
struct Event {
    id: JobId,
    state: JobState,
    attempt: u32,
    /// When this node published the commit (ms since the epoch).
    at: i64,
}

/// Notes waiting for the background task; beyond this, notes are dropped.
const QUEUE: usize = 65_536;

/// Turns this node's committed events into job traces.
pub struct Tracer {
    config: TraceConfig,
    notes: mpsc::Sender<Note>,
    inbox: std::sync::Mutex<Option<mpsc::Receiver<Note>>>,
    scope: opentelemetry::InstrumentationScope,
    dropped: AtomicU64,
    stop: CancellationToken,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Tracer {
    /// A tracer that notes events from now on; [`Tracer::run`] starts exporting them.
    pub fn new(mut config: TraceConfig) -> Result<Arc<Tracer>, TraceError> {
        if !(0.0..=1.0).contains(&config.sample) {
            return Err(TraceError::Sample(config.sample));
        }
        config.endpoint = traces_url(&config.endpoint)?;
        let (notes, inbox) = mpsc::channel(QUEUE);
        let scope = opentelemetry::InstrumentationScope::builder("tarea").with_version(config.version.clone()).build();
        Ok(Arc::new(Tracer {
            config,
            notes,
            inbox: std::sync::Mutex::new(Some(inbox)),
            scope,
            dropped: AtomicU64::new(0),
            stop: CancellationToken::new(),
            task: std::sync::Mutex::new(None),
        }))
    }

    /// `inner` with this tracer listening to the events this node commits.
    pub fn sink(self: &Arc<Self>, inner: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
        Arc::new(TracingSink { inner, tracer: Arc::clone(self) })
    }

    /// Starts the background task that reads `store` and exports spans. Call once.
    pub fn run(self: &Arc<Self>, store: Arc<dyn Store>) -> Result<(), TraceError> {
        let exporter = pipeline::exporter(&self.config)?;
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(inbox) = inbox else { return Ok(()) };
        let task = tokio::spawn(pipeline::run(Arc::clone(self), store, inbox, exporter));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        tracing::info!(endpoint = %self.config.endpoint, sample = self.config.sample, "exporting job traces over OTLP");
        Ok(())
    }

    /// Adds the enqueue of `jobs` to the trace of the app request that made them, from
    /// `started_at` (ms) to now: `traceparent` is that request's W3C header. A malformed header
    /// is ignored.
    pub fn enqueued_by<'a>(&self, jobs: impl IntoIterator<Item = &'a Job>, traceparent: &str, started_at: i64) {
        // A caller that does not record its trace gets no span in it (it would be an orphan).
        let Some(caller) = callers::parse(traceparent).filter(|c| c.is_sampled()) else { return };
        let end = now_ms();
        for job in jobs.into_iter().filter(|j| ids::sampled(j.id, self.config.sample)) {
            let span = callers::enqueue_span(&caller, job, (started_at, end), &self.scope);
            self.send(Note::Span(Box::new(span)));
        }
    }

    /// Exports what is noted and stops, waiting at most `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
            tracing::warn!("the last job traces were not exported within {grace:?}; they are dropped");
        }
    }

    fn note(&self, events: &[JobEvent]) {
        let at = now_ms();
        for e in events {
            let EventKind::State(state) = e.change else { continue };
            if state == JobState::Running || !ids::sampled(e.id, self.config.sample) {
                continue;
            }
            self.send(Note::Event(Event { id: e.id, state, attempt: e.attempt, at }));
        }
    }

    fn send(&self, note: Note) {
        if self.notes.try_send(note).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notes dropped since the last call (the task logs them).
    fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// An event sink that shows this node's committed events to a [`Tracer`] before passing them on.
/// Events other nodes committed are theirs to trace.
struct TracingSink {
    inner: Arc<dyn EventSink>,
    tracer: Arc<Tracer>,
}

impl EventSink for TracingSink {
    fn publish(&self, events: Vec<JobEvent>) {
        self.tracer.note(&events);
        self.inner.publish(events);
    }

    fn publish_remote(&self, events: Vec<JobEvent>) {
        self.inner.publish_remote(events);
    }

    fn wake_all(&self) {
        self.inner.wake_all();
    }
}

/// The full traces URL: `/v1/traces` is added to a bare collector address, as the
/// OpenTelemetry convention for `OTEL_EXPORTER_OTLP_ENDPOINT` does.
fn traces_url(endpoint: &str) -> Result<String, TraceError> {
    let url = reqwest::Url::parse(endpoint).map_err(|_| TraceError::Endpoint(endpoint.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(TraceError::Endpoint(endpoint.to_owned()));
    }
    let trimmed = endpoint.trim_end_matches('/');
    Ok(if url.path().trim_end_matches('/').ends_with("/v1/traces") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1/traces")
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_to_a_bare_address() {
        assert_eq!(traces_url("http://127.0.0.1:4318").unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://127.0.0.1:4318/").unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("https://otel.example/v1/traces").unwrap(), "https://otel.example/v1/traces");
        assert_eq!(traces_url("http://127.0.0.1/otel").unwrap(), "http://127.0.0.1/otel/v1/traces");
        for bad in ["127.0.0.1:4318", "ftp://127.0.0.1", "http://", ""] {
            assert!(traces_url(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn only_an_app_that_records_its_trace_gets_an_enqueue_span_in_it() {
        let tracer = Tracer::new(TraceConfig {
            endpoint: "http://127.0.0.1:4318".into(),
            sample: 1.0,
            node: "n".into(),
            version: "0".into(),
        })
        .unwrap();
        let mut inbox = tracer.inbox.lock().unwrap().take().unwrap();
        let job = tarea_core::Job::from_spec(
            JobId::new(),
            "t",
            tarea_testkit::spec("informe.ocr", "q"),
            1_000,
            3,
            tarea_core::RetryPolicy::default(),
        );
        tracer.enqueued_by([&job], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1_000);
        assert!(inbox.try_recv().is_err(), "the app does not record this trace");
        tracer.enqueued_by([&job], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1_000);
        assert!(matches!(inbox.try_recv(), Ok(Note::Span(_))));
    }

    #[test]
    fn a_sample_ratio_out_of_range_is_refused() {
        let config = |sample| TraceConfig {
            endpoint: "http://127.0.0.1:4318".into(),
            sample,
            node: "n".into(),
            version: "0".into(),
        };
        assert!(matches!(Tracer::new(config(1.5)), Err(TraceError::Sample(_))));
        assert!(matches!(Tracer::new(config(-0.1)), Err(TraceError::Sample(_))));
        assert!(Tracer::new(config(0.25)).is_ok());
    }
}
