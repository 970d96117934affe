//! The one table of stable error codes. Only `tarea-server` maps codes to HTTP statuses.
use serde::{Deserialize, Serialize};

/// A stable, snake_case error code: part of the API contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The body is not valid JSON (or not UTF-8).
    InvalidJson,
    /// The JSON is well formed but a field is wrong; `details.field` names it.
    InvalidRequest,
    /// Missing or wrong API key.
    Unauthorized,
    /// The key is valid but may not do this (e.g. a tenant key on an admin route).
    Forbidden,
    /// A dashboard session's change without its CSRF token, or from another site.
    CsrfFailed,
    /// No such thing in this tenant.
    NotFound,
    /// No such route or method.
    MethodNotAllowed,
    /// A fenced call whose attempt is not the job's current running attempt.
    StaleAttempt,
    /// The job's state does not allow this transition.
    IllegalTransition,
    /// The request conflicts with existing data.
    Conflict,
    /// The body is over the size limit.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The queue is at its maximum depth.
    QueueFull,
    /// Too many requests.
    RateLimited,
    /// The thing existed but has expired (an artifact past its retention).
    Gone,
    /// A `Range` header that does not fit the content.
    RangeNotSatisfiable,
    /// An uploaded template does not compile (or does not render its sample); `details.diagnostics`
    /// places each problem in the template.
    TemplateError,
    /// The store is not reachable or the server is shutting down.
    Unavailable,
    /// A bug or an unexpected failure; details are in the server log.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::CsrfFailed,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::StaleAttempt,
        ErrorCode::IllegalTransition,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::QueueFull,
        ErrorCode::RateLimited,
        ErrorCode::Gone,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::TemplateError,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as it appears in `{"error": {"code": …}}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::StaleAttempt => "stale_attempt",
            ErrorCode::IllegalTransition => "illegal_transition",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Gone => "gone",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::TemplateError => "template_error",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A job's recorded error: what a handler or external worker reported, or what the runtime
/// decided (`timeout`, `worker_lost`, `lease_expired`, `handler_panicked`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobError {
    /// A short snake_case code chosen by the handler.
    pub code: String,
    /// A message a person can act on.
    pub message: String,
    /// Anything else, as JSON (an empty object when there is nothing more).
    #[serde(default = "empty_details")]
    pub details: serde_json::Value,
}

fn empty_details() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

impl JobError {
    /// An error with no details.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError { code: code.into(), message: message.into(), details: empty_details() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s}");
            assert!(seen.insert(s), "duplicate {s}");
        }
    }
}
