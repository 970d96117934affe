//! The dashboard at `/ui`: a page shell and its scripts and styles, embedded in the binary (see
//! `build.rs`), that signs in with an API key (`session.rs`) and then uses the public `/v1` API
//! with its session cookie, like any other client. Nothing here needs Node.js to build or run.
//!
//! Every `/ui` response carries a strict Content-Security-Policy (no inline scripts or styles,
//! no framing), so a payload or an error message shown on a page cannot run as script.
pub(crate) mod audit;
pub(crate) mod session;

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

mod files {
    include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));
}

/// The policy of every dashboard response: scripts, styles and data from this origin only; no
/// inline code, no plugins, never inside a frame.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(shell))
        .route("/ui/", get(shell))
        .route("/ui/session", get(session::current).post(session::sign_in).delete(session::sign_out))
        .route("/ui/assets/{*path}", get(asset))
        .route("/ui/{*page}", get(shell))
        .layer(axum::middleware::map_response(secure))
}

/// Adds the security headers to a dashboard response.
async fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// A file of `ui/` with its media type and ETag.
struct File {
    bytes: &'static [u8],
    content_type: &'static str,
    etag: String,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn files() -> &'static HashMap<&'static str, File> {
    static FILES: OnceLock<HashMap<&'static str, File>> = OnceLock::new();
    FILES.get_or_init(|| {
        files::FILES
            .iter()
            .map(|(path, bytes)| {
                let etag = format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..16]);
                (*path, File { bytes, content_type: content_type(path), etag })
            })
            .collect()
    })
}

/// A file, or `304` when the browser's copy is current. Not cached blindly: names carry no
/// hash, so after an upgrade the browser must ask again (a cheap `304` when nothing changed).
fn serve(path: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    if let Some(dir) = std::env::var_os("TAREA_UI_DIR") {
        return serve_from(std::path::Path::new(&dir), path);
    }
    let file = files()
        .get(path)
        .ok_or_else(|| ApiError::new(tarea_core::ErrorCode::NotFound, "the dashboard has no such file"))?;
    let etag = HeaderValue::from_str(&file.etag).expect("hex in quotes");
    let cache = HeaderValue::from_static("no-cache");
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(file.content_type)),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        file.bytes,
    )
        .into_response())
}

/// A file of the dashboard read from `dir` at every request: with `TAREA_UI_DIR=crates/tarea-server/ui`
/// a change to the pages shows on reload, without rebuilding tarea (for working on them).
fn serve_from(dir: &std::path::Path, path: &str) -> Result<Response, ApiError> {
    let safe = path.split('/').all(|part| !part.is_empty() && part != ".." && part != "." && !part.contains('\\'));
    let bytes = if safe { std::fs::read(dir.join(path)).ok() } else { None };
    let bytes =
        bytes.ok_or_else(|| ApiError::new(tarea_core::ErrorCode::NotFound, "the dashboard has no such file"))?;
    Ok(([(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// The page shell, for `/ui` and every page under it (the script routes in the browser).
async fn shell(headers: HeaderMap) -> Result<Response, ApiError> {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    serve(&format!("assets/{path}"), &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_and_its_assets_are_embedded_with_their_types() {
        let files = files();
        let shell = files.get("index.html").expect("ui/index.html is embedded");
        assert_eq!(shell.content_type, "text/html; charset=utf-8");
        let html = std::str::from_utf8(shell.bytes).unwrap();
        // The policy allows no inline code: the shell must not need any.
        assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains("style="), "{html}");
        let handler = html.split(|c: char| c.is_whitespace()).any(|w| {
            w.strip_prefix("on")
                .and_then(|r| r.split_once('='))
                .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_alphabetic()))
        });
        assert!(!handler, "no inline event handlers: {html}");
        for (path, f) in files {
            if path.ends_with(".js") {
                assert_eq!(f.content_type, "text/javascript; charset=utf-8", "{path}");
            }
        }
    }
}
