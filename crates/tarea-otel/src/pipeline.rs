//! The background task: noted events → the store's record of each job → spans → the collector,
//! in batches of up to 512 spans or once a second, whichever comes first.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tarea_core::{Job, JobAttempt, JobId, JobState, Store, StoreResult};
use tokio::sync::mpsc;

use crate::{Event, Note, TraceConfig, TraceError, Tracer, spans};

const BATCH: usize = 512;
/// The attempt numbers that stand for a job's root and its enqueue in `Work::traced`.
const ROOT: u32 = u32::MAX;
const ENQUEUE: u32 = u32::MAX - 1;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one export may take, retries included, before its spans are dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a shutdown may spend turning what was noted into spans.
const DRAIN_FOR: Duration = Duration::from_secs(3);
/// Losses are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The OTLP/HTTP (protobuf) exporter, over a reqwest client of tarea's own TLS stack.
/// `OTEL_EXPORTER_OTLP_HEADERS` adds headers (a collector's API key); `OTEL_SERVICE_NAME` and
/// `OTEL_RESOURCE_ATTRIBUTES` describe the service, as everywhere in OpenTelemetry.
pub(crate) fn exporter(config: &TraceConfig) -> Result<opentelemetry_otlp::SpanExporter, TraceError> {
    let client =
        reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build().map_err(|e| TraceError::Exporter(e.to_string()))?;
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(config.endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TraceError::Exporter(e.to_string()))?;
    let mut resource = Resource::builder()
        .with_attribute(opentelemetry::KeyValue::new("service.instance.id", config.node.clone()))
        .with_attribute(opentelemetry::KeyValue::new("service.version", config.version.clone()));
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|a| a.split(',').any(|kv| kv.trim().starts_with("service.name=")));
    if !named {
        resource = resource.with_service_name("tarea");
    }
    exporter.set_resource(&resource.build());
    Ok(exporter)
}

pub(crate) async fn run(
    tracer: Arc<Tracer>,
    store: Arc<dyn Store>,
    mut inbox: mpsc::Receiver<Note>,
    exporter: opentelemetry_otlp::SpanExporter,
) {
    let scope = tracer.scope.clone();
    let mut work = Work { store, scope, spans: Vec::new(), traced: HashSet::new() };
    let mut losses = Losses::default();
    let mut notes = Vec::with_capacity(256);
    let mut tick = tokio::time::interval(FLUSH_EVERY / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut flushed = Instant::now();
    loop {
        tokio::select! {
            _ = tracer.stop.cancelled() => break,
            n = inbox.recv_many(&mut notes, 64) => {
                if n == 0 {
                    break;
                }
                for note in notes.drain(..) {
                    work.note(note, &mut losses).await;
                    if work.spans.len() >= BATCH {
                        export(&exporter, &mut work.spans, &mut losses).await;
                    }
                }
            }
            _ = tick.tick() => {}
        }
        // Once a second however busy: a backlog of notes must not hold spans back, nor hide
        // the log line that says what was lost.
        if flushed.elapsed() >= FLUSH_EVERY {
            export(&exporter, &mut work.spans, &mut losses).await;
            losses.notes += tracer.take_dropped();
            losses.log();
            flushed = Instant::now();
        }
    }
    // Shutting down: what was noted before the stop is still exported, for as long as the
    // drain may take.
    let deadline = Instant::now() + DRAIN_FOR;
    while let Ok(note) = inbox.try_recv() {
        if Instant::now() >= deadline {
            losses.notes += 1 + std::iter::from_fn(|| inbox.try_recv().ok()).count() as u64;
            break;
        }
        work.note(note, &mut losses).await;
        if work.spans.len() >= BATCH {
            export(&exporter, &mut work.spans, &mut losses).await;
        }
    }
    export(&exporter, &mut work.spans, &mut losses).await;
    losses.notes += tracer.take_dropped();
    losses.last = None;
    losses.log();
}

struct Work {
    store: Arc<dyn Store>,
    scope: InstrumentationScope,
    spans: Vec<SpanData>,
    /// Runs (and roots and enqueues, as [`ROOT`] and [`ENQUEUE`]) traced lately by this node,
    /// so none is sent twice from here.
    traced: HashSet<(JobId, u32)>,
}

impl Work {
    async fn note(&mut self, note: Note, losses: &mut Losses) {
        let event = match note {
            Note::Event(event) => event,
            Note::Span(span) => return self.spans.push(*span),
        };
        if let Err(e) = self.spans_of(event).await {
            losses.reads += 1;
            losses.last_read_error = Some(e.to_string());
        }
    }

    /// The spans one committed change completes. Each run is traced when it ends, the root
    /// when the job first ends, the enqueue when it is created. A job deleted meanwhile
    /// (retention, or an operator) has nothing more to say.
    async fn spans_of(&mut self, note: Event) -> StoreResult<()> {
        match note.state {
            JobState::Scheduled | JobState::Queued if note.attempt == 0 => {
                let Some(job) = self.store.job_get(None, note.id).await? else { return Ok(()) };
                if note.state == JobState::Queued && self.promoted(&job, note) {
                    return Ok(());
                }
                self.remember(job.id, ENQUEUE);
                self.spans.push(spans::enqueue(&job, note.at, &self.scope));
            }
            JobState::Queued => {
                // Back in the queue: a run released at shutdown or whose lease ran out ends
                // here. A failed run moved back when its retry came due, and a finished job
                // retried by hand, were traced when they ended.
                let history = self.store.job_attempts(None, note.id).await?;
                let Some(run) = history.iter().find(|a| a.attempt == note.attempt && a.state == JobState::Queued)
                else {
                    return Ok(());
                };
                let Some(job) = self.store.job_get(None, note.id).await? else { return Ok(()) };
                self.run_ended(&job, run);
            }
            JobState::Failed | JobState::Succeeded | JobState::Dead | JobState::Cancelled => {
                let Some(job) = self.store.job_get(None, note.id).await? else { return Ok(()) };
                self.ended(&job, note).await?;
            }
            JobState::Running | JobState::Scheduled => {}
        }
        Ok(())
    }

    async fn ended(&mut self, job: &Job, note: Event) -> StoreResult<()> {
        // The usual job ran once and ended as its row says: nothing more to read. Otherwise
        // the stored history tells which run this was and whether the job had ended before.
        // A cancel always reads it: the row cannot tell a run cancelled from a job cancelled
        // while it waited for its retry.
        let simple = job.attempt == note.attempt
            && job.state == note.state
            && job.attempt_base == 0
            && job.attempt <= 1
            && note.state != JobState::Cancelled;
        let history = if simple { Vec::new() } else { self.store.job_attempts(None, job.id).await? };
        let kept = history.iter().find(|a| a.attempt == note.attempt);
        let run = if note.state == JobState::Cancelled {
            match kept {
                _ if note.attempt == 0 => None,
                // A running job cancelled, then retried by hand before this was read: the
                // retry kept the cancelled run.
                Some(k) if k.state == JobState::Cancelled => Some(k.clone()),
                // Cancelled while it waited between runs: the last run ended before.
                Some(_) => None,
                // Cancelled while it ran: that run ends now.
                None => (job.attempt == note.attempt).then(|| spans::latest_run(job)),
            }
        } else if job.attempt == note.attempt && job.state == note.state {
            Some(spans::latest_run(job))
        } else {
            kept.cloned()
        };
        match &run {
            Some(run) => self.run_ended(job, run),
            None if note.state == JobState::Cancelled => {
                self.spans.push(spans::cancel(job, job.finished_at.unwrap_or(note.at), &self.scope));
            }
            None => {}
        }
        if note.state.is_terminal() && self.first_end(job.id, &history, note) {
            let current = job.state == note.state;
            let end = if current { job.finished_at.unwrap_or(note.at) } else { note.at };
            // The run that ended the job says why; after a retry the row no longer does.
            let error = run.as_ref().and_then(|r| r.error.as_ref()).or(if current { job.error.as_ref() } else { None });
            self.spans.push(spans::job(job, note.state, end, error, &self.scope));
        }
        Ok(())
    }

    /// Whether a move to `queued` before any run is not the job's creation: a job made for
    /// later is created `scheduled` and moves to `queued` when due (as does a job retried by
    /// hand before it ever ran). Before its first run the row's `run_at` tells; once it ran,
    /// the row has moved on, and a creation is the move published within a second of it.
    fn promoted(&self, job: &Job, note: Event) -> bool {
        let later = if job.attempt == 0 { job.run_at > job.created_at } else { note.at - job.created_at >= 1_000 };
        later || self.traced.contains(&(job.id, ENQUEUE))
    }

    fn remember(&mut self, job: JobId, part: u32) -> bool {
        if self.traced.len() >= 100_000 {
            self.traced.clear();
        }
        self.traced.insert((job, part))
    }

    /// Whether this end is the job's first: the root is sent once, and a job retried by hand
    /// after it ended goes on under the same root. The history keeps every end that a retry
    /// followed, except a cancel before any run or between runs; those this node remembers.
    /// (Such a job, cancelled on one node and ending again on another after a retry, gets a
    /// second root.)
    fn first_end(&mut self, job: JobId, history: &[JobAttempt], note: Event) -> bool {
        let ended_before =
            history.iter().any(|a| a.state.is_terminal() && (a.attempt < note.attempt || a.state != note.state));
        let remembered = !self.remember(job, ROOT);
        !ended_before && !remembered
    }

    fn run_ended(&mut self, job: &Job, run: &JobAttempt) {
        if !self.remember(job.id, run.attempt) {
            return;
        }
        if let Some(span) = spans::attempt(job, run, &self.scope) {
            self.spans.push(span);
        }
    }
}

async fn export(exporter: &opentelemetry_otlp::SpanExporter, spans: &mut Vec<SpanData>, losses: &mut Losses) {
    if spans.is_empty() {
        return;
    }
    let batch = std::mem::take(spans);
    let n = batch.len() as u64;
    match tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(batch)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            losses.spans += n;
            losses.last_export_error = Some(e.to_string());
        }
        Err(_) => {
            losses.spans += n;
            losses.last_export_error = Some(format!("no answer within {EXPORT_TIMEOUT:?}"));
        }
    }
}

/// What was lost since the last log line: said at most once a minute, so a collector that is
/// down does not flood the log.
#[derive(Default)]
struct Losses {
    notes: u64,
    spans: u64,
    reads: u64,
    last_export_error: Option<String>,
    last_read_error: Option<String>,
    last: Option<Instant>,
}

impl Losses {
    fn log(&mut self) {
        if self.notes + self.spans + self.reads == 0 || self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        if self.spans > 0 {
            let why = self.last_export_error.take().unwrap_or_default();
            tracing::warn!(spans = self.spans, "job trace spans were dropped: the collector refused them ({why})");
        }
        if self.notes > 0 {
            tracing::warn!(
                events = self.notes,
                "job trace events were dropped: the exporter fell behind (lower --otlp-sample?)"
            );
        }
        if self.reads > 0 {
            let why = self.last_read_error.take().unwrap_or_default();
            tracing::warn!(jobs = self.reads, "job trace spans were not made: reading the jobs failed ({why})");
        }
        (self.notes, self.spans, self.reads) = (0, 0, 0);
        self.last = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    //! The spans each life of a job makes, driven through a real SQLite store: its committed
    //! events are fed to the tracer's work as the sink would, in order.
    use std::sync::Arc;

    use opentelemetry::{InstrumentationScope, Value};
    use tarea_core::{ClaimParams, CompleteParams, EventKind, JobError, Outcome};
    use tarea_testkit::{TestStore, spec};

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    struct Harness {
        ts: TestStore,
        events: tokio::sync::broadcast::Receiver<Arc<tarea_core::JobEvent>>,
        work: Work,
    }

    impl Harness {
        fn new() -> Harness {
            let ts = TestStore::sqlite();
            let events = ts.hub.subscribe();
            let work = Work {
                store: Arc::clone(&ts.store),
                scope: InstrumentationScope::builder("tarea").build(),
                spans: Vec::new(),
                traced: HashSet::new(),
            };
            Harness { ts, events, work }
        }

        /// Hands the tracer every event committed so far.
        async fn settle(&mut self) {
            while let Ok(e) = self.events.try_recv() {
                let EventKind::State(state) = e.change else { continue };
                if state != JobState::Running {
                    let note = Note::Event(Event { id: e.id, state, attempt: e.attempt, at: NOW });
                    self.work.note(note, &mut Losses::default()).await;
                }
            }
        }

        async fn enqueue(&self) -> JobId {
            let mut s = spec("informe.ocr", "q");
            s.max_attempts = Some(3);
            self.ts.store.job_enqueue("t", vec![s], NOW).await.unwrap().pop().unwrap().job.id
        }

        async fn claim(&self, at: i64) -> Job {
            let params = ClaimParams {
                tenant: None,
                queues: vec!["q".into()],
                kinds: None,
                builtin: false,
                max: 1,
                lease_ms: 30_000,
                worker: "escaner-1".into(),
                now: at,
            };
            self.ts.store.job_claim(params).await.unwrap().pop().expect("a job to claim")
        }

        async fn end(&self, job: &Job, outcome: Outcome, at: i64) {
            let params = CompleteParams { id: job.id, tenant: None, attempt: job.attempt, outcome, now: at };
            self.ts.store.job_complete_if_attempt(params).await.unwrap();
        }

        /// The spans sent so far, as (name, attempt, outcome or state) in the order made.
        fn spans(&self) -> Vec<(String, Option<i64>, Option<String>)> {
            let attr = |s: &SpanData, key: &str| {
                s.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
            };
            self.work
                .spans
                .iter()
                .map(|s| {
                    let attempt = match attr(s, "tarea.attempt") {
                        Some(Value::I64(n)) => Some(n),
                        _ => None,
                    };
                    let how = attr(s, "tarea.outcome").or_else(|| attr(s, "tarea.state")).map(|v| v.to_string());
                    (s.name.to_string(), attempt, how)
                })
                .collect()
        }
    }

    fn failed() -> Outcome {
        Outcome::Failed { error: JobError::new("scan_blurry", "la imagen está borrosa"), retryable: true }
    }

    fn span(name: &str, attempt: Option<i64>, how: Option<&str>) -> (String, Option<i64>, Option<String>) {
        (name.to_owned(), attempt, how.map(str::to_owned))
    }

    #[tokio::test]
    async fn a_job_cancelled_while_it_waits_for_its_retry_ends_with_a_cancel() {
        let mut h = Harness::new();
        let id = h.enqueue().await;
        let job = h.claim(NOW + 10).await;
        h.end(&job, failed(), NOW + 20).await;
        h.ts.store.job_cancel("t", id, NOW + 30).await.unwrap();
        h.settle().await;
        assert_eq!(
            h.spans(),
            [
                span("enqueue", None, None),
                span("attempt", Some(1), Some("failed")),
                span("cancel", None, None),
                span("informe.ocr", None, Some("cancelled")),
            ]
        );
    }

    #[tokio::test]
    async fn a_job_retried_by_hand_after_it_ended_keeps_one_root() {
        let mut h = Harness::new();
        let id = h.enqueue().await;
        h.ts.store.job_cancel("t", id, NOW + 10).await.unwrap();
        h.settle().await;
        h.ts.store.job_retry("t", id, NOW + 20).await.unwrap();
        let job = h.claim(NOW + 30).await;
        h.end(&job, Outcome::Succeeded { result: None }, NOW + 40).await;
        h.settle().await;
        assert_eq!(
            h.spans(),
            [
                span("enqueue", None, None),
                span("cancel", None, None),
                span("informe.ocr", None, Some("cancelled")),
                span("attempt", Some(1), Some("succeeded")),
            ]
        );
    }

    #[tokio::test]
    async fn a_run_cancelled_then_retried_before_it_is_read_is_still_one_attempt() {
        let mut h = Harness::new();
        let id = h.enqueue().await;
        h.claim(NOW + 10).await;
        h.ts.store.job_cancel("t", id, NOW + 20).await.unwrap();
        h.ts.store.job_retry("t", id, NOW + 30).await.unwrap();
        let job = h.claim(NOW + 40).await;
        h.end(&job, Outcome::Succeeded { result: None }, NOW + 50).await;
        h.settle().await;
        assert_eq!(
            h.spans(),
            [
                span("enqueue", None, None),
                span("attempt", Some(1), Some("cancelled")),
                span("informe.ocr", None, Some("cancelled")),
                span("attempt", Some(2), Some("succeeded")),
            ]
        );
    }

    #[tokio::test]
    async fn a_lost_lease_and_a_death_are_attempts_and_the_root_says_why() {
        let mut h = Harness::new();
        h.enqueue().await;
        let first = h.claim(NOW + 10).await;
        h.ts.store.lease_reap_expired(first.locked_until.unwrap() + 1).await.unwrap();
        let second = h.claim(NOW + 40_000).await;
        let fatal = Outcome::Failed { error: JobError::new("bad_scan", "no es un PDF"), retryable: false };
        h.end(&second, fatal, NOW + 40_010).await;
        h.settle().await;
        assert_eq!(
            h.spans(),
            [
                span("enqueue", None, None),
                span("attempt", Some(1), Some("queued")),
                span("attempt", Some(2), Some("dead")),
                span("informe.ocr", None, Some("dead")),
            ]
        );
        let root = h.work.spans.last().unwrap();
        assert_eq!(root.status, opentelemetry::trace::Status::error("bad_scan: no es un PDF"));
    }
}
