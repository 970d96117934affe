//! Payload checks at enqueue: a built-in kind's handler may refuse a payload that could never
//! run (an e-mail address that does not parse, an attachment of another tenant), so the
//! request gets `400` naming the field and nothing is written. Each job of a chain is checked.
use tarea_core::JobSpec;

use crate::{ApiError, AppState};

fn join(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty(), field.starts_with('[')) {
        (true, _, _) => field.to_owned(),
        (false, true, _) => prefix.to_owned(),
        (false, false, true) => format!("{prefix}{field}"),
        (false, false, false) => format!("{prefix}.{field}"),
    }
}

/// Runs the handler's check on `spec` and on each job of its chain; `prefix` places the spec
/// in the request (`jobs[3]`).
pub(crate) async fn check(state: &AppState, tenant: &str, spec: &JobSpec, prefix: &str) -> Result<(), ApiError> {
    let Some(handlers) = &state.handlers else { return Ok(()) };
    let mut next = Some((spec, prefix.to_owned()));
    while let Some((s, at)) = next {
        if let Some(handler) = handlers.get(&s.kind) {
            handler
                .check(tenant, &s.payload)
                .await
                .map_err(|e| ApiError::field(&join(&join(&at, "payload"), &e.field), e.message))?;
        }
        next = s.then.as_deref().map(|t| (t, join(&at, "then")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn fields_are_placed_in_the_request() {
        assert_eq!(join(&join("", "payload"), "to[1]"), "payload.to[1]");
        assert_eq!(
            join(&join("jobs[2].then", "payload"), "attachments[0].artifact"),
            "jobs[2].then.payload.attachments[0].artifact"
        );
        assert_eq!(join(&join("on_complete", "payload"), ""), "on_complete.payload");
        assert_eq!(join("payload", "[0]"), "payload[0]");
    }
}
