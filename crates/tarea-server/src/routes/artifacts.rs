//! Artifacts: their view, their content (ETag, Range, Content-Disposition), signed links that
//! work without an API key, uploads by external workers (fenced by attempt) and a tenant's
//! retention.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tarea_core::{Artifact, ArtifactId, ArtifactRetention, BytesError, ErrorCode, NewArtifact, validate_name};
use tarea_runtime::{Artifacts, Maker, SaveError, now_ms};
use utoipa::{IntoParams, ToSchema};

use super::job_id;
use crate::auth::{Auth, authenticate};
use crate::extract::{Json, Query};
use crate::views::ArtifactView;
use crate::{ApiError, AppState, range, signing};

/// Longest a signed link may live: 30 days.
const LINK_MAX_S: u64 = 30 * 86_400;

fn store_of(state: &AppState) -> Result<&Artifacts, ApiError> {
    state.artifacts.as_ref().ok_or_else(|| {
        ApiError::new(ErrorCode::Unavailable, "this server has no artifact store configured (see --artifacts)")
    })
}

fn artifact_id(raw: &str) -> Result<ArtifactId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("artifact"))
}

async fn find(state: &AppState, tenant: Option<&str>, id: ArtifactId) -> Result<Artifact, ApiError> {
    state.store.artifact_get(tenant, id).await?.ok_or_else(|| ApiError::not_found("artifact"))
}

fn gone(a: &Artifact) -> ApiError {
    ApiError::new(
        ErrorCode::Gone,
        format!(
            "this artifact expired at {} and its content is deleted; run the job again to make it anew",
            a.expires_at.map(tarea_core::format_ms).unwrap_or_default()
        ),
    )
}

/// A page of artifacts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArtifactList {
    /// Newest first.
    artifacts: Vec<ArtifactView>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// The tenant's artifacts (files jobs made, and uploads), newest first, until they expire.
#[utoipa::path(get, path = "/v1/artifacts", tag = "artifacts", params(super::batches::PageQuery),
    responses((status = 200, body = ArtifactList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<super::batches::PageQuery>,
) -> Result<axum::Json<ArtifactList>, ApiError> {
    let (limit, cursor) = q.parse()?;
    let artifacts = state.store.artifact_list(&auth.tenant, cursor, limit).await?;
    let next_cursor = (artifacts.len() == limit as usize).then(|| artifacts.last().map(|a| a.id.to_string())).flatten();
    // Expired files are gone to downloads (410) before the cleaner deletes their rows: they are
    // not listed either. The cursor still goes on from the last row read, so a page may hold
    // fewer than `limit` and yet not be the last.
    let now = now_ms();
    let artifacts = artifacts.into_iter().filter(|a| !a.expired(now)).map(ArtifactView::from).collect();
    Ok(axum::Json(ArtifactList { artifacts, next_cursor }))
}

/// One artifact.
#[utoipa::path(get, path = "/v1/artifacts/{id}", tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id")),
    responses((status = 200, body = ArtifactView), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ArtifactView>, ApiError> {
    let a = find(&state, Some(&auth.tenant), artifact_id(&id)?).await?;
    Ok(axum::Json(a.into()))
}

/// Query of a content download. Unknown parameters are ignored: mail tools append their own
/// (`utm_source=…`) to the links they carry.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ContentQuery {
    /// `attachment` (default: the browser saves it) or `inline` (the browser shows it).
    disposition: Option<String>,
    /// Signed links: Unix seconds after which the link stops working.
    expires: Option<u64>,
    /// Signed links: the signature.
    signature: Option<String>,
}

/// The artifact's bytes. With an API key, or without one through a signed link
/// (`expires` and `signature`, from `POST /v1/artifacts/{id}/link`).
#[utoipa::path(get, path = "/v1/artifacts/{id}/content", tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id"), ContentQuery),
    responses((status = 200, description = "The content"), (status = 206, description = "A range of it"),
              (status = 304, description = "Not modified (If-None-Match)"),
              (status = 403, description = "forbidden: a tampered or expired link"),
              (status = 410, description = "gone: the artifact expired"),
              (status = 416, description = "range_not_satisfiable")))]
pub(crate) async fn content(
    State(state): State<AppState>,
    method: Method,
    Path(raw): Path<String>,
    Query(q): Query<ContentQuery>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = artifact_id(&raw)?;
    // A file is downloaded or shown, never run as this origin's script, style or worker (the
    // dashboard's policy allows scripts from this origin, and artifacts are other people's data).
    if headers
        .get("sec-fetch-dest")
        .is_some_and(|d| matches!(d.as_bytes(), b"script" | b"style" | b"worker" | b"sharedworker" | b"serviceworker"))
    {
        return Err(ApiError::new(ErrorCode::Forbidden, "artifacts are files to download, not scripts or styles"));
    }
    let a = match (&q.signature, q.expires) {
        (Some(sig), Some(expires)) => {
            signing::verify(&state.link_key, id, expires, sig, now_ms())?;
            // The signature names the artifact: the tenant is the artifact's.
            find(&state, None, id).await?
        }
        (None, None) => {
            let auth = authenticate(&axum::http::Method::GET, Some(&uri), &headers, &state).await?;
            find(&state, Some(&auth.tenant), id).await?
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "a signed link needs both `expires` and `signature`; ask for a new one with POST /v1/artifacts/{id}/link",
            ));
        }
    };
    if a.expired(now_ms()) {
        return Err(gone(&a));
    }
    let store = store_of(&state)?;
    let etag = format!("\"{}\"", a.sha256);
    let mut res_headers = HeaderMap::new();
    res_headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(|e| ApiError::internal(e.to_string()))?);
    res_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    // Content comes from workers and apps: a browser must never run it as part of this origin.
    res_headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res_headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    if q.signature.is_some() {
        // A signed link is its own credential (no cookie is involved): a page of the app, on
        // another origin, may fetch it, as `clients/js` does.
        res_headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && inm.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
    {
        return Ok((StatusCode::NOT_MODIFIED, res_headers).into_response());
    }
    let inline = match q.disposition.as_deref() {
        None | Some("attachment") => false,
        Some("inline") => true,
        Some(other) => {
            return Err(ApiError::field("disposition", format!("use `attachment` or `inline`, not {other:?}")));
        }
    };
    // Only types a browser shows without running anything may be shown inline.
    let inline = inline && range::safe_inline(&a.content_type);
    res_headers.insert(header::CONTENT_DISPOSITION, range::content_disposition(&a.filename, inline));
    res_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // A Range is honoured only while If-Range (if any) still names this content.
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == etag);
    let wanted = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if if_range_ok => range::parse(r, a.size).map_err(|()| {
            let mut e = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!("the Range {r:?} does not fit the artifact's {} bytes", a.size),
            );
            e.content_range = Some(format!("bytes */{}", a.size));
            e
        })?,
        _ => None,
    };
    let (status, len) = match &wanted {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, a.size),
    };
    if let Some(r) = &wanted {
        res_headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {}-{}/{}", r.start, r.end - 1, a.size))
                .map_err(|e| ApiError::internal(e.to_string()))?,
        );
    }
    res_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if method == Method::HEAD {
        // The headers only: nothing is read from the store, and it is not a download.
        return Ok((status, res_headers).into_response());
    }
    let stream = store.bytes.get(id, wanted.clone()).await.map_err(|e| match e {
        BytesError::NotFound => {
            tracing::error!(artifact = %id, store = %store.bytes.describe(), "an artifact's content is missing");
            ApiError::new(
                ErrorCode::Unavailable,
                "this artifact's content is missing from the artifact store; if tarea runs on several nodes, \
                 they must share one (--artifacts s3://… or a shared folder)",
            )
        }
        e => ApiError::new(ErrorCode::Unavailable, e.to_string()),
    })?;
    if wanted.as_ref().is_none_or(|r| r.start == 0) {
        // One download per fetch from the start (not per later range of the same fetch).
        if let Err(e) = state.store.artifact_downloaded(id).await {
            tracing::warn!(artifact = %id, error = %e, "could not count a download");
        }
    }
    let body = Body::from_stream(stream.map(|c| c.map_err(std::io::Error::other)));
    Ok((status, res_headers, body).into_response())
}

/// Body of `POST /v1/artifacts/{id}/link`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkRequest {
    /// Seconds the link works, 1 to 2,592,000 (30 days); never past the artifact's expiry.
    expires_in_s: u64,
}

/// A signed link.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LinkView {
    /// Absolute URL of the content; works without an API key until `expires_at`.
    url: String,
    /// RFC 3339.
    expires_at: String,
}

/// A link to the content that works without an API key until it expires (for an e-mail or a
/// browser). Changing any part of it makes it invalid.
#[utoipa::path(post, path = "/v1/artifacts/{id}/link", request_body = LinkRequest, tag = "artifacts",
    params(("id" = String, Path, description = "Artifact id")),
    responses((status = 200, body = LinkView), (status = 404, description = "not_found"),
              (status = 410, description = "gone")))]
pub(crate) async fn link(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Json(req): Json<LinkRequest>,
) -> Result<axum::Json<LinkView>, ApiError> {
    if req.expires_in_s == 0 || req.expires_in_s > LINK_MAX_S {
        return Err(ApiError::field("expires_in_s", format!("a link lives 1 to {LINK_MAX_S} seconds")));
    }
    store_of(&state)?;
    let a = find(&state, Some(&auth.tenant), artifact_id(&raw)?).await?;
    let now = now_ms();
    if a.expired(now) {
        return Err(gone(&a));
    }
    let mut expires = (now / 1000) as u64 + req.expires_in_s;
    if let Some(at) = a.expires_at {
        // Whole seconds, never past the artifact: one that ends within this second has no
        // link left to give.
        expires = expires.min((at / 1000).max(0) as u64);
        if (expires as i64) * 1000 <= now {
            return Err(gone(&a));
        }
    }
    let base = base_url(&state, &headers);
    let signature = signing::sign(&state.link_key, a.id, expires);
    Ok(axum::Json(LinkView {
        url: format!("{base}/v1/artifacts/{}/content?expires={expires}&signature={signature}", a.id),
        expires_at: tarea_core::format_ms(expires as i64 * 1000),
    }))
}

/// Where apps reach this server: `--public-url`, else the request's `Host`.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.public_url {
        Some(u) => u.to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// Query of an upload by an external worker.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    /// The attempt the worker holds (fences the upload like every worker call).
    attempt: u32,
    /// File name offered on download (sanitised).
    filename: String,
}

/// Saves a file an external worker made for a running job: the body is the file, its
/// `Content-Type` the artifact's. Refused with `stale_attempt` (and nothing kept) unless the
/// attempt is the job's running one.
#[utoipa::path(post, path = "/v1/jobs/{id}/artifacts", tag = "workers",
    params(("id" = String, Path, description = "Job id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = ArtifactView), (status = 409, description = "stale_attempt"),
              (status = 413, description = "payload_too_large")))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<ArtifactView>), ApiError> {
    let id = job_id(&raw)?;
    let store = store_of(&state)?;
    if q.filename.trim().is_empty() {
        return Err(ApiError::field("filename", "name the file, e.g. filename=informe.pdf"));
    }
    let limit = store.bytes.max_size();
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large("an artifact", limit));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let maker = Maker { tenant: auth.tenant.clone(), job: Some((id, q.attempt)), kind: String::new(), cache_key: None };
    let meta = NewArtifact { filename: q.filename, content_type, provenance: None, expires_at: None };
    let chunks =
        body.into_data_stream().map(|c| c.map_err(|e| BytesError::Unavailable(format!("reading the upload: {e}"))));
    let saved = store.save(state.store.as_ref(), &maker, meta, Box::pin(chunks)).await.map_err(|e| match e {
        SaveError::Bytes(BytesError::TooLarge { limit }) => too_large("an artifact", limit),
        SaveError::Bytes(e) => ApiError::new(ErrorCode::Unavailable, e.to_string()),
        SaveError::Store(e) => e.into(),
    })?;
    Ok((StatusCode::CREATED, axum::Json(saved.into())))
}

/// `413` for a file over `limit` bytes; `what` names it ("an artifact", "an upload").
pub(crate) fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} may hold at most {limit} bytes"))
        .with_details(serde_json::json!({ "limit": limit }))
}

/// A tenant's artifact retention, in seconds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RetentionView {
    /// How long the tenant's artifacts live unless their kind says; null: the server's default.
    default_s: Option<u64>,
    /// Per job kind (`pdf.render`, `csv.export`, `upload`, …).
    kinds: std::collections::BTreeMap<String, u64>,
    /// The server's default (`--artifact-ttl-s`), for reference.
    server_default_s: Option<u64>,
}

/// Body of `PUT /v1/artifacts/retention`; a view read with GET may be sent back as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionRequest {
    /// How long the tenant's artifacts live unless their kind says; null: the server's default.
    #[serde(default)]
    default_s: Option<u64>,
    /// Per job kind (`pdf.render`, `csv.export`, `upload`, …).
    #[serde(default)]
    kinds: std::collections::BTreeMap<String, u64>,
    /// Ignored (the server's default is set with `--artifact-ttl-s`).
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    #[allow(dead_code)]
    server_default_s: Option<serde::de::IgnoredAny>,
}

/// Longest retention that may be set: ten years.
const RETENTION_MAX_S: u64 = 10 * 366 * 86_400;

/// The tenant's artifact retention.
#[utoipa::path(get, path = "/v1/artifacts/retention", tag = "artifacts", responses((status = 200, body = RetentionView)))]
pub(crate) async fn retention_get(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<axum::Json<RetentionView>, ApiError> {
    let r = state.store.artifact_retention_get(&auth.tenant).await?;
    Ok(axum::Json(retention_view(&state, r)))
}

fn retention_view(state: &AppState, r: ArtifactRetention) -> RetentionView {
    RetentionView {
        default_s: r.default_ms.map(|ms| ms / 1000),
        kinds: r.kinds.into_iter().map(|(k, ms)| (k, ms / 1000)).collect(),
        server_default_s: state.artifacts.as_ref().and_then(|a| a.default_ttl_ms).map(|ms| ms / 1000),
    }
}

/// Replaces the tenant's artifact retention; it applies to artifacts made from now on.
#[utoipa::path(put, path = "/v1/artifacts/retention", request_body = RetentionRequest, tag = "artifacts",
    responses((status = 200, body = RetentionView), (status = 400, description = "invalid_request")))]
pub(crate) async fn retention_put(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<RetentionRequest>,
) -> Result<axum::Json<RetentionView>, ApiError> {
    let check = |field: String, s: u64| {
        if s == 0 || s > RETENTION_MAX_S {
            Err(ApiError::field(&field, format!("retention is 1 to {RETENTION_MAX_S} seconds")))
        } else {
            Ok(s * 1000)
        }
    };
    let default_ms = req.default_s.map(|s| check("default_s".into(), s)).transpose()?;
    let mut kinds = std::collections::BTreeMap::new();
    for (kind, s) in req.kinds {
        if validate_name(&kind).is_err() {
            return Err(ApiError::field(&format!("kinds.{kind}"), "kind names are 1 to 64 of [a-z0-9._-]"));
        }
        kinds.insert(kind.clone(), check(format!("kinds.{kind}"), s)?);
    }
    let r = ArtifactRetention { default_ms, kinds };
    state.store.artifact_retention_set(&auth.tenant, r.clone()).await?;
    Ok(axum::Json(retention_view(&state, r)))
}
