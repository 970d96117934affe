//! Dashboard sessions: an API key is exchanged once for a random session token in a cookie
//! (HttpOnly, SameSite=Strict, Secure behind TLS), so the key itself never sits in the browser.
//! The store keeps only the token's SHA-256 and the key it belongs to: sign-out ends a session
//! on every node at once, and deleting the key ends all of its sessions.
//!
//! Every change made with a session cookie must also carry the session's CSRF token (an HMAC of
//! the session under the server's signing key, handed to the page by `GET /ui/session`) in
//! `X-CSRF-Token`, and must not come from another site (`Sec-Fetch-Site`, `Origin`). SameSite
//! alone is not enough: a page on another port of the same host is the same *site*, and its
//! forms carry the cookie.
use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tarea_core::{ApiKey, ErrorCode, KeyHash};
use tarea_runtime::now_ms;

use crate::auth::{Auth, authenticate_key};
use crate::extract::Json;
use crate::{ApiError, AppState, hash_key, signing};

/// The cookie's name over plain HTTP.
pub(crate) const COOKIE: &str = "tarea_session";
/// Its name over TLS: the `__Host-` prefix makes the browser refuse one set by another host,
/// by a subdomain or with a narrower path, and keeps it from plain-HTTP pages.
pub(crate) const COOKIE_TLS: &str = "__Host-tarea_session";
/// The header that carries the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts: a working day; then the person signs in again.
const TTL_MS: i64 = 12 * 3600 * 1000;

/// The session token in the request's cookies, if there is exactly one. Two mean that
/// something else set one too (cookies do not keep ports apart: another service on this host
/// can set a cookie of this name, with a narrower path so it comes first); neither is trusted.
/// (Parsed here: one name=value pair of a `Cookie` header is not worth a crate.)
pub(crate) fn token(headers: &HeaderMap) -> Option<&str> {
    let mut found =
        headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).filter_map(
            |pair| {
                let (name, value) = pair.trim().split_once('=')?;
                ((name == COOKIE || name == COOKIE_TLS) && !value.is_empty()).then_some(value)
            },
        );
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The key of the session whose token is `token`, with the session's hash.
pub(crate) async fn find(state: &AppState, token: &str) -> Result<(ApiKey, KeyHash, i64), ApiError> {
    let hash = hash_key(token);
    let (key, expires_at) = state.store.session_find(hash, now_ms()).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::Unauthorized, "this session has ended; sign in again with an API key")
    })?;
    Ok((key, hash, expires_at))
}

fn csrf_subject(session: &KeyHash) -> String {
    format!("csrf/{}", hex::encode(session.0))
}

/// The CSRF token of a session.
fn csrf_token(state: &AppState, session: &KeyHash) -> String {
    signing::sign_subject(&state.link_key, &csrf_subject(session), 0)
}

/// Refuses a change made with a session cookie unless it carries the session's CSRF token and
/// comes from this site.
pub(crate) fn check_csrf(state: &AppState, headers: &HeaderMap, session: &KeyHash) -> Result<(), ApiError> {
    let refuse = |message: &str| Err(ApiError::new(ErrorCode::CsrfFailed, message));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|s| s == "cross-site") {
        return refuse("a change from another site is refused; use the dashboard itself");
    }
    if let Some(origin) = header("origin") {
        // This host as the browser knows it: the request's, a proxy's, or `--public-url`'s.
        let host_of = |url: &str| url.split_once("://").map_or(url, |(_, h)| h).trim_end_matches('/').to_owned();
        let origin_host = host_of(origin);
        let ours = [
            header("host").map(str::to_owned),
            header("x-forwarded-host").map(str::to_owned),
            state.public_url.as_deref().map(host_of),
        ];
        if !ours.iter().flatten().any(|h| h.eq_ignore_ascii_case(&origin_host)) {
            return refuse("a change from another origin is refused; use the dashboard itself");
        }
    }
    match header(CSRF_HEADER) {
        Some(t) if signing::tag_matches(&state.link_key, &csrf_subject(session), t) => Ok(()),
        Some(_) => refuse("the X-CSRF-Token header does not belong to this session; reload the page"),
        None => refuse("a change made with a session needs the X-CSRF-Token header (the dashboard sends it)"),
    }
}

/// What the page knows of its session.
#[derive(Debug, Serialize)]
pub(crate) struct SessionView {
    key_id: String,
    tenant: String,
    admin: bool,
    read_only: bool,
    /// Send it as `X-CSRF-Token` with every change.
    csrf: String,
    /// RFC 3339.
    expires_at: String,
}

fn view(state: &AppState, key: ApiKey, session: &KeyHash, expires_at: i64) -> SessionView {
    SessionView {
        key_id: key.id,
        tenant: key.tenant,
        admin: key.admin,
        read_only: key.read_only,
        csrf: csrf_token(state, session),
        expires_at: tarea_core::format_ms(expires_at),
    }
}

/// A sign-in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    key: String,
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so), so the
/// cookie can be marked Secure.
fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
        || state.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
}

fn cookie(value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let (name, secure) = if secure { (COOKIE_TLS, "; Secure") } else { (COOKIE, "") };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"))
        .expect("a cookie of hex and fixed words is a valid header")
}

/// `POST /ui/session {"key"}`: checks the key and opens a session.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<SignIn>,
) -> Result<Response, ApiError> {
    let key = authenticate_key(req.key.trim(), &state).await?;
    // A session this browser had ends: one browser, one session.
    if let Some(old) = token(&headers) {
        state.store.session_delete(hash_key(old)).await?;
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let (hash, now) = (hash_key(&token), now_ms());
    state.store.session_create(hash, &key.id, now, now + TTL_MS).await?;
    tracing::info!(key = %key.id, tenant = %key.tenant, "dashboard sign-in");
    let entry = tarea_core::AuditEntry {
        id: 0,
        at: now,
        tenant: key.tenant.clone(),
        key_id: key.id.clone(),
        action: "sign in".into(),
        target: "/ui/session".into(),
        count: 1,
    };
    super::audit::append(&state, entry).await;
    let secure = over_tls(&state, &headers);
    let mut res = axum::Json(view(&state, key, &hash, now + TTL_MS)).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie(&token, TTL_MS / 1000, secure));
    Ok(res)
}

/// `GET /ui/session`: the current session, or 401.
pub(crate) async fn current(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = token(&headers).ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "not signed in"))?;
    let (key, hash, expires_at) = find(&state, token).await?;
    Ok(axum::Json(view(&state, key, &hash, expires_at)).into_response())
}

/// `DELETE /ui/session`: signs out (with the CSRF token, like every change).
pub(crate) async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = token(&headers) {
        let hash = hash_key(token);
        check_csrf(&state, &headers, &hash)?;
        state.store.session_delete(hash).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie("", 0, over_tls(&state, &headers)));
    Ok(res)
}

/// The caller of a request made with a session cookie; changes are checked for CSRF.
pub(crate) async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    token: &str,
) -> Result<Auth, ApiError> {
    let (key, hash, _) = find(state, token).await?;
    if !method.is_safe() {
        check_csrf(state, headers, &hash)?;
    }
    Ok(Auth::of(&key))
}
