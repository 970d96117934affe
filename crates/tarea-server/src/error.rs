//! `ApiError`: a stable code, a message a person can act on, details — and the one place that
//! maps codes to HTTP statuses. Internal errors are logged in full and answered generically.
use std::any::Any;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tarea_core::{ErrorCode, StoreError};

/// An error answered as `{"error": {"code", "message", "details"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
    /// Machine-readable specifics (e.g. the field at fault).
    pub details: Value,
    /// Seconds a client should wait before trying again (429, 503).
    pub retry_after: Option<u64>,
    /// `Content-Range` of a 416 (`bytes */<size>`).
    pub content_range: Option<String>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: json!({}), retry_after: None, content_range: None }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// `invalid_request` naming the field at fault.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message).with_details(json!({ "field": field }))
    }

    /// `internal`, for failures that are bugs; the message is logged, not shown.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "internal error");
        ApiError::new(ErrorCode::Internal, "an internal error occurred; details are in the server log")
    }

    /// `not_found` for a thing of some kind.
    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorCode::NotFound, format!("no {what} with that id in this tenant"))
    }
}

/// The HTTP status of each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidJson | ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::CsrfFailed => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::StaleAttempt | ErrorCode::IllegalTransition | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::QueueFull | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Gone => StatusCode::GONE,
        ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::TemplateError => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message, "details": self.details } });
        let mut res = (status_of(self.code), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(range) = self.content_range.and_then(|r| HeaderValue::from_str(&r).ok()) {
            res.headers_mut().insert(header::CONTENT_RANGE, range);
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("job"),
            StoreError::StaleAttempt { attempt, current, state } => ApiError::new(
                ErrorCode::StaleAttempt,
                format!(
                    "attempt {attempt} is no longer the job's running attempt (the job is {state}, attempt {current}); \
                     stop working on it — another attempt owns it"
                ),
            )
            .with_details(json!({ "attempt": attempt, "current_attempt": current, "state": state.as_str() })),
            StoreError::Illegal(t) => ApiError::new(ErrorCode::IllegalTransition, t.to_string())
                .with_details(json!({ "state": t.from.as_str() })),
            StoreError::Conflict(m) => {
                tracing::info!(error = %m, "store conflict");
                ApiError::new(ErrorCode::Conflict, "this conflicts with data that already exists")
            }
            StoreError::QueueFull { queue, max_depth } => {
                let mut e = ApiError::new(
                    ErrorCode::QueueFull,
                    format!("queue {queue:?} already has {max_depth} jobs waiting, its maximum; try again later"),
                )
                .with_details(json!({ "queue": queue, "max_depth": max_depth }));
                e.retry_after = Some(1);
                e
            }
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                let mut e = ApiError::new(
                    ErrorCode::Unavailable,
                    "the job store is not reachable right now; try again shortly",
                );
                e.retry_after = Some(1);
                e
            }
            StoreError::Internal(m) => {
                tracing::error!(error = %m, "store error");
                ApiError::new(ErrorCode::Internal, "an internal error occurred; it has been logged")
            }
        }
    }
}

/// Answer for unknown routes.
pub(crate) async fn not_found_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; see /openapi.json for the API")
}

/// Answer for a known route with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method; see /openapi.json")
}

/// Turns a handler panic into a JSON 500 (a second line of defence; handlers must not panic).
pub(crate) fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    ApiError::new(ErrorCode::Internal, "an internal error occurred; it has been logged").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_answered_as_a_json_500() {
        let res = panic_response(Box::new("boom".to_string()));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn every_code_has_a_client_or_server_error_status() {
        for code in ErrorCode::ALL {
            let s = status_of(code);
            assert!(s.is_client_error() || s.is_server_error(), "{code:?} -> {s}");
        }
    }
}
