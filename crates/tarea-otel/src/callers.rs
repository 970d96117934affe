//! The app's side of an enqueue: when the request that enqueued a job carried a W3C
//! `traceparent` (OpenTelemetry's Django, FastAPI, httpx and requests instrumentations send
//! one), the enqueue also appears in the app's own trace, as a child of the request's span
//! that links to the job's trace.
use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, SpanContext, SpanKind, Status, TraceContextExt};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SpanData, SpanEvents};
use tarea_core::Job;

use crate::ids::{Part, span_id};

/// The caller's span from a `traceparent` value, through OpenTelemetry's own W3C propagator.
/// A malformed value gives `None` (and is ignored, as the W3C recommendation says).
pub(crate) fn parse(traceparent: &str) -> Option<SpanContext> {
    // The propagator takes ids shorter than the header's fixed widths (`00-4bf9-00f0-01`); the
    // W3C format does not.
    let widths: Vec<usize> = traceparent.trim().split('-').map(str::len).collect();
    if widths.get(..4) != Some(&[2, 32, 16, 2]) {
        return None;
    }
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// The span, in the caller's trace, of its request enqueueing `job` from `start` to `end` (ms).
pub(crate) fn enqueue_span(
    caller: &SpanContext,
    job: &Job,
    (start, end): (i64, i64),
    scope: &InstrumentationScope,
) -> SpanData {
    let job_root = crate::spans::context(job.id, Part::Job);
    // Its own id, unique in the caller's trace: the job's enqueue id, derived like the others.
    let own = SpanContext::new(
        caller.trace_id(),
        span_id(job.id, Part::Enqueue),
        caller.trace_flags(),
        false,
        caller.trace_state().clone(),
    );
    SpanData {
        span_context: own,
        parent_span_id: caller.span_id(),
        parent_span_is_remote: true,
        span_kind: SpanKind::Producer,
        name: Cow::Owned(format!("enqueue {}", job.kind)),
        start_time: crate::spans::time(start),
        end_time: crate::spans::time(end.max(start)),
        attributes: vec![
            KeyValue::new("tarea.job.id", job.id.to_string()),
            KeyValue::new("tarea.tenant", job.tenant.clone()),
            KeyValue::new("tarea.queue", job.queue.clone()),
            KeyValue::new("tarea.kind", job.kind.clone()),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: crate::spans::links_of(vec![Link::new(job_root, vec![KeyValue::new("tarea.link", "job")], 0)]),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_names_the_callers_span() {
        let caller = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("valid");
        assert_eq!(caller.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(caller.span_id().to_string(), "00f067aa0ba902b7");
        assert!(caller.is_remote());
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for bad in ["", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf9-00f0-01"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
