//! The spans of a job's trace, made from what the store holds (its row and its attempts), with
//! their real start and end times:
//!
//! ```text
//! pdf.render                 the job: created → succeeded, dead or cancelled (the root)
//! ├─ enqueue                 created → committed
//! ├─ attempt  (tarea.attempt=1, error)
//! └─ attempt  (tarea.attempt=2)
//! ```
//!
//! The gaps between them are the time the job waited: in its queue, or for its retry.
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Link, SpanContext, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tarea_core::{Job, JobAttempt, JobError, JobId, JobState};

use crate::ids::{Part, span_id, trace_id};

/// The root span: the job from its creation to its end, `ended` (a terminal state) at `end`.
pub(crate) fn job(
    job: &Job,
    ended: JobState,
    end: i64,
    error: Option<&JobError>,
    scope: &InstrumentationScope,
) -> SpanData {
    let mut attributes = job_attributes(job);
    attributes.push(KeyValue::new("tarea.state", ended.as_str()));
    attributes.push(KeyValue::new("tarea.attempts", i64::from(job.attempt)));
    let status = match ended {
        JobState::Succeeded => Status::Ok,
        JobState::Dead => error_status(error),
        _ => Status::Unset,
    };
    let mut root = span(
        job.id,
        Part::Job,
        Cow::Owned(job.kind.clone()),
        SpanKind::Internal,
        (job.created_at, end),
        attributes,
        scope,
    );
    root.status = status;
    if let Some(parent) = job.parent_id {
        // A chain: the job whose `then` made this one, in its own trace.
        let link = Link::new(context(parent, Part::Job), vec![KeyValue::new("tarea.link", "chain_parent")], 0);
        root.links = links_of(vec![link]);
    }
    root
}

/// The job's creation, from its `created_at` to the moment its commit was published.
pub(crate) fn enqueue(job: &Job, committed_at: i64, scope: &InstrumentationScope) -> SpanData {
    let mut attributes = job_attributes(job);
    if job.run_at > job.created_at {
        attributes.push(KeyValue::new("tarea.run_at", job.run_at));
    }
    span(
        job.id,
        Part::Enqueue,
        Cow::Borrowed("enqueue"),
        SpanKind::Producer,
        (job.created_at, committed_at),
        attributes,
        scope,
    )
}

/// One run of the job, once it ended. `None` for a run that has not (or never started).
pub(crate) fn attempt(job: &Job, run: &JobAttempt, scope: &InstrumentationScope) -> Option<SpanData> {
    let (start, end) = (run.started_at?, run.ended_at?);
    let mut attributes = job_attributes(job);
    attributes.push(KeyValue::new("tarea.attempt", i64::from(run.attempt)));
    // What the run left the job in: `queued` means it was released or its lease ran out.
    attributes.push(KeyValue::new("tarea.outcome", run.state.as_str()));
    if let Some(worker) = &run.worker {
        attributes.push(KeyValue::new("tarea.worker", worker.clone()));
    }
    // A run that succeeded or was cancelled has no error of its own (the row may still hold
    // an earlier run's).
    let error = run.error.as_ref().filter(|_| !matches!(run.state, JobState::Succeeded | JobState::Cancelled));
    if let Some(e) = error {
        attributes.push(KeyValue::new("error.type", e.code.clone()));
    }
    let mut span = span(
        job.id,
        Part::Attempt(run.attempt),
        Cow::Borrowed("attempt"),
        SpanKind::Consumer,
        (start, end),
        attributes,
        scope,
    );
    span.status = match run.state {
        JobState::Succeeded => Status::Ok,
        _ if error.is_some() => error_status(error),
        _ => Status::Unset,
    };
    Some(span)
}

/// A cancellation of a job that was waiting (no run ended with it): a moment in the trace.
pub(crate) fn cancel(job: &Job, at: i64, scope: &InstrumentationScope) -> SpanData {
    span(job.id, Part::Cancel, Cow::Borrowed("cancel"), SpanKind::Internal, (at, at), job_attributes(job), scope)
}

/// The job's latest run, as its row describes it.
pub(crate) fn latest_run(job: &Job) -> JobAttempt {
    JobAttempt {
        attempt: job.attempt,
        state: job.state,
        worker: job.locked_by.clone(),
        started_at: job.started_at,
        ended_at: if job.state == JobState::Running { None } else { job.finished_at },
        error: job.error.clone(),
    }
}

fn job_attributes(job: &Job) -> Vec<KeyValue> {
    let mut a = vec![
        KeyValue::new("tarea.job.id", job.id.to_string()),
        KeyValue::new("tarea.tenant", job.tenant.clone()),
        KeyValue::new("tarea.queue", job.queue.clone()),
        KeyValue::new("tarea.kind", job.kind.clone()),
    ];
    if let Some(batch) = job.batch_id {
        a.push(KeyValue::new("tarea.batch.id", batch.to_string()));
    }
    a
}

fn error_status(error: Option<&JobError>) -> Status {
    match error {
        Some(e) => Status::error(format!("{}: {}", e.code, e.message)),
        None => Status::error("failed"),
    }
}

/// The context of `part` of `job`'s trace, as a link names it.
pub(crate) fn context(job: JobId, part: Part) -> SpanContext {
    SpanContext::new(trace_id(job), span_id(job, part), TraceFlags::SAMPLED, false, TraceState::NONE)
}

/// `part` of `job`'s trace: a child of the job's root (the root itself has no parent), with no
/// links and no status yet.
fn span(
    job: JobId,
    part: Part,
    name: Cow<'static, str>,
    kind: SpanKind,
    (start, end): (i64, i64),
    attributes: Vec<KeyValue>,
    scope: &InstrumentationScope,
) -> SpanData {
    let parent = if part == Part::Job { opentelemetry::trace::SpanId::INVALID } else { span_id(job, Part::Job) };
    SpanData {
        span_context: context(job, part),
        parent_span_id: parent,
        parent_span_is_remote: false,
        span_kind: kind,
        name,
        start_time: time(start),
        end_time: time(end.max(start)),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

/// Span links (the SDK's type cannot be built with its fields).
pub(crate) fn links_of(links: Vec<Link>) -> SpanLinks {
    let mut out = SpanLinks::default();
    out.links = links;
    out
}

pub(crate) fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use tarea_core::RetryPolicy;

    use super::*;

    fn sample_job() -> Job {
        let spec = tarea_testkit::spec("pdf.render", "informes");
        let mut job = Job::from_spec(JobId::new(), "vet", spec, 1_000, 3, RetryPolicy::default());
        job.attempt = 2;
        job.state = JobState::Dead;
        job.started_at = Some(5_000);
        job.finished_at = Some(6_500);
        job.locked_by = Some("node-a".into());
        job.error = Some(JobError::new("render_failed", "the template is missing a field"));
        job
    }

    #[test]
    fn the_root_spans_the_job_and_carries_its_end() {
        let scope = InstrumentationScope::builder("tarea").build();
        let job = sample_job();
        let root = super::job(&job, JobState::Dead, 6_500, job.error.as_ref(), &scope);
        assert_eq!(root.span_context.trace_id(), trace_id(job.id));
        assert_eq!(root.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        assert_eq!((root.start_time, root.end_time), (time(1_000), time(6_500)));
        assert_eq!(root.status, Status::error("render_failed: the template is missing a field"));
    }

    #[test]
    fn an_attempt_is_a_child_of_the_root_with_its_own_times() {
        let scope = InstrumentationScope::builder("tarea").build();
        let job = sample_job();
        let span = attempt(&job, &latest_run(&job), &scope).expect("an ended run");
        assert_eq!(span.parent_span_id, span_id(job.id, Part::Job));
        assert_eq!(span.span_context.span_id(), span_id(job.id, Part::Attempt(2)));
        assert_eq!((span.start_time, span.end_time), (time(5_000), time(6_500)));
        assert!(span.attributes.contains(&KeyValue::new("tarea.worker", "node-a")));
        assert!(span.attributes.contains(&KeyValue::new("error.type", "render_failed")));
        let mut running = job.clone();
        running.state = JobState::Running;
        assert!(attempt(&running, &latest_run(&running), &scope).is_none(), "a running attempt has no end yet");
    }
}
