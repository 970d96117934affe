//! Diagnostic kinds built into every tarea: `tarea.noop` (does nothing; for smoke tests and
//! benchmarks) and `tarea.sleep` (`{"ms": N}`; waits, reporting progress, and honours
//! cancellation — handy to see progress streams, timeouts and shutdown at work).
use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use tarea_core::{Handler, HandlerError, JobContext, ProgressUpdate};

use crate::Registry;

struct Noop;

#[async_trait]
impl Handler for Noop {
    async fn run(&self, _ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        Ok(RawValue::from_string("{}".into()).expect("valid JSON"))
    }
}

struct Sleep;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SleepPayload {
    ms: u64,
    #[serde(default)]
    fail: Option<String>,
}

#[async_trait]
impl Handler for Sleep {
    async fn run(&self, ctx: JobContext) -> Result<Box<RawValue>, HandlerError> {
        let p: SleepPayload = serde_json::from_str(ctx.payload.get())
            .map_err(|e| HandlerError::fatal("invalid_payload", format!("tarea.sleep wants {{\"ms\": N}}: {e}")))?;
        let steps = 10u64;
        for i in 0..steps {
            ctx.report(ProgressUpdate {
                step: Some(format!("durmiendo {}/{}", i + 1, steps)),
                current: Some(i),
                total: Some(steps),
                ..Default::default()
            });
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(p.ms / steps)) => {}
            }
        }
        if let Some(message) = p.fail {
            return Err(HandlerError::retryable("requested_failure", message));
        }
        let out = serde_json::json!({ "slept_ms": p.ms }).to_string();
        Ok(RawValue::from_string(out).expect("valid JSON"))
    }
}

/// Adds the diagnostic kinds to a registry.
pub fn register_builtins(registry: &mut Registry) {
    registry.register("tarea.noop", Noop).register("tarea.sleep", Sleep);
}
