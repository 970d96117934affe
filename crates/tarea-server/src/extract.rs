//! Our own body and query extractors, so every rejection is an `ApiError` with a stable code:
//! syntax errors are `invalid_json`, wrong fields are `invalid_request` naming the field.
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::json;
use tarea_core::ErrorCode;

use crate::ApiError;

/// Deepest nesting of arrays and objects accepted in a body. Payloads are stored as bytes and
/// parsed later by handlers and clients in other languages, whose parsers have limits of their
/// own; refusing deep nesting at the door keeps a job from failing far from its cause.
pub(crate) const MAX_NESTING: usize = 64;

/// The deepest nesting of arrays and objects in JSON bytes (strings are skipped).
fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A JSON body.
pub struct Json<T>(pub T);

/// Parses JSON bytes into `T`, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::InvalidJson, "the request body is empty; send a JSON object"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the request body is not UTF-8: {e}")))?;
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "the request body must be a JSON object"));
    }
    if nesting(bytes) > MAX_NESTING {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("the request body is nested more than {MAX_NESTING} levels deep"),
        ));
    }
    // The fast path parses once; only a refused body is parsed again to name the field.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { String::new() } else { path };
                let prefix = if field.is_empty() { String::new() } else { format!("{field}: ") };
                ApiError::new(ErrorCode::InvalidRequest, format!("{prefix}{inner}"))
                    .with_details(json!({ "field": field }))
            }
            _ => ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    de.end().map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| {
            let mime = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
        if json_type != Some(true) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the request body is larger than this route accepts: --max-body-bytes (1 MiB by default), \
                     or 16 MiB for a template upload",
                )
            } else {
                ApiError::new(ErrorCode::InvalidRequest, format!("could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_like(q).map(Query)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "the query string is malformed"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("bad query parameter: {}", e.body_text())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_ignores_brackets_in_strings() {
        assert_eq!(nesting(br#"{"a": "[[[[", "b": [1, {"c": "\\\"]"}]}"#), 3);
        assert_eq!(nesting(b"[[[]]]"), 3);
        assert_eq!(nesting(b"{}"), 1);
    }
}
