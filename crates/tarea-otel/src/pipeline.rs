//! The background task: noted events → the store's record of each job → spans → the collector,
//! in batches of up to 512 spans or once a second, whichever comes first.
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tarea_core::{Job, JobAttempt, JobState, Store, StoreResult};
use tokio::sync::mpsc;

use crate::{Event, Note, TraceConfig, TraceError, Tracer, spans};

const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one export may take, retries included, before its spans are dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
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
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
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
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = tracer.stop.cancelled() => break,
            n = inbox.recv_many(&mut notes, 256) => {
                if n == 0 {
                    break;
                }
                for note in notes.drain(..) {
                    work.note(note, &mut losses).await;
                }
                if work.spans.len() >= BATCH {
                    export(&exporter, &mut work.spans, &mut losses).await;
                }
            }
            _ = tick.tick() => {
                export(&exporter, &mut work.spans, &mut losses).await;
                losses.notes += tracer.take_dropped();
                losses.log();
            }
        }
    }
    // Shutting down: what was noted before the stop is still exported.
    while let Ok(note) = inbox.try_recv() {
        work.note(note, &mut losses).await;
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
    /// Runs traced lately by this node, so a run is never sent twice from here.
    traced: HashSet<(tarea_core::JobId, u32)>,
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
    /// when the job first ends, the enqueue when it is created.
    async fn spans_of(&mut self, note: Event) -> StoreResult<()> {
        // Deleted meanwhile (retention, or an operator): nothing to say about it.
        let Some(job) = self.store.job_get(None, note.id).await? else { return Ok(()) };
        let scope = &self.scope;
        match note.state {
            JobState::Scheduled | JobState::Queued if note.attempt == 0 => {
                // A job made for later is created `scheduled`; its move to `queued` when due is
                // not its creation.
                if note.state == JobState::Queued && job.run_at > job.created_at {
                    return Ok(());
                }
                self.spans.push(spans::enqueue(&job, note.at, scope));
            }
            JobState::Queued => {
                // Back in the queue: a run released at shutdown or whose lease ran out ends
                // here. A failed run moved back when its retry came due, and a finished job
                // retried by hand, were traced when they ended.
                let history = self.store.job_attempts(None, job.id).await?;
                if let Some(run) = history.iter().find(|a| a.attempt == note.attempt && a.state == JobState::Queued) {
                    self.run_ended(&job, run);
                }
            }
            JobState::Failed | JobState::Succeeded | JobState::Dead | JobState::Cancelled => {
                self.ended(&job, note).await?;
            }
            JobState::Running | JobState::Scheduled => {}
        }
        Ok(())
    }

    async fn ended(&mut self, job: &Job, note: Event) -> StoreResult<()> {
        // The usual job ran once and ended as its row says: nothing more to read. Otherwise
        // the stored history tells which run this was and whether the job had ended before.
        let simple =
            job.attempt == note.attempt && job.state == note.state && job.attempt_base == 0 && job.attempt <= 1;
        let history = if simple { Vec::new() } else { self.store.job_attempts(None, job.id).await? };
        let kept = history.iter().find(|a| a.attempt == note.attempt);
        let run = if note.state == JobState::Cancelled {
            // Cancelled while running: that run ends now. Cancelled while waiting (never run,
            // or between runs, whose last one is in the history): a moment of its own.
            if note.attempt > 0 && kept.is_none() && job.attempt == note.attempt {
                Some(spans::latest_run(job))
            } else {
                self.spans.push(spans::cancel(job, job.finished_at.unwrap_or(note.at), &self.scope));
                None
            }
        } else if job.attempt == note.attempt && job.state == note.state {
            Some(spans::latest_run(job))
        } else {
            kept.cloned()
        };
        if let Some(run) = run {
            self.run_ended(job, &run);
        }
        if note.state.is_terminal() {
            let ended_before =
                history.iter().any(|a| a.state.is_terminal() && (a.attempt < note.attempt || a.state != note.state));
            if !ended_before {
                let end = if job.state == note.state { job.finished_at.unwrap_or(note.at) } else { note.at };
                self.spans.push(spans::job(job, note.state, end, &self.scope));
            }
        }
        Ok(())
    }

    fn run_ended(&mut self, job: &Job, run: &JobAttempt) {
        if self.traced.len() >= 100_000 {
            self.traced.clear();
        }
        if !self.traced.insert((job.id, run.attempt)) {
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
