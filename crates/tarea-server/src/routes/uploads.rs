//! Uploads: `POST /v1/uploads` stores a file a user gave the app (an inventory sheet, a
//! scanned report) as an artifact of the tenant, for its jobs to read (`import.sheet`,
//! `ocr.extract`, attachments). The body is a multipart form with a `file` field, or the file
//! itself with `?filename=`; either way it streams to the artifact store, measured (size,
//! SHA-256) on the way, never held whole in memory.
//!
//! The content type is read from the file's first bytes (magic numbers), not from its name
//! or the client's word: a PDF renamed `.xlsx` is `application/pdf`, so an import refuses it
//! for what it is. Text that is not a known binary format is `text/plain`.
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::{Stream, StreamExt, stream};
use serde::Deserialize;
use tarea_core::{BytesError, ErrorCode, NewArtifact};
use tarea_runtime::{Maker, SaveError};
use utoipa::IntoParams;

use super::artifacts::too_large;
use crate::auth::Auth;
use crate::extract::Query;
use crate::views::ArtifactView;
use crate::{ApiError, AppState};

/// Largest upload unless the tenant's `uploads` setting says: 100 MiB.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 100 << 20;
/// The artifact kind of uploads (retention per kind: `upload`).
const UPLOAD_KIND: &str = "upload";
/// Bytes read before the type is decided.
const SNIFF: usize = 8192;

/// Query of a raw upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    /// The file's name (sanitised); required for a raw body, taken from the form otherwise.
    filename: Option<String>,
}

/// The type of a file from its first bytes.
pub(crate) fn sniff(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_owned();
    }
    // Text in any of the encodings imports read (UTF-8, Windows-1252, Latin-1) has no control
    // bytes but tabs and line ends; UTF-16 is known by its byte-order mark.
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    let plain = head.iter().all(|b| *b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c));
    if utf16 || plain { "text/plain".into() } else { "application/octet-stream".into() }
}

/// The tenant's upload limit: its `uploads` setting's `max_bytes`, else 100 MiB, never more
/// than the artifact store takes.
async fn limit_of(state: &AppState, tenant: &str, store_max: u64) -> Result<u64, ApiError> {
    let setting = state.store.setting_get(tenant, "uploads").await?;
    let max = setting
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("max_bytes").and_then(serde_json::Value::as_u64))
        .unwrap_or(DEFAULT_MAX_BYTES);
    Ok(max.min(store_max))
}

type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, BytesError>> + Send>>;

/// Reads the first bytes of `chunks` to learn the type; answers it and the whole stream again.
async fn typed(mut chunks: Chunks) -> Result<(String, Chunks), ApiError> {
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF);
    let mut first: Vec<Bytes> = Vec::new();
    while head.len() < SNIFF {
        match chunks.next().await {
            Some(Ok(c)) => {
                head.extend_from_slice(&c[..c.len().min(SNIFF - head.len())]);
                first.push(c);
            }
            Some(Err(e)) => return Err(ApiError::new(ErrorCode::InvalidRequest, e.to_string())),
            None => break,
        }
    }
    if head.is_empty() {
        return Err(ApiError::field("file", "the file is empty"));
    }
    let again: Chunks = Box::pin(stream::iter(first.into_iter().map(Ok)).chain(chunks));
    Ok((sniff(&head), again))
}

/// Stores an upload: a multipart form with a `file` field, or the raw file with
/// `?filename=`. `201` with the artifact; its id is what jobs name (`"upload": id`).
#[utoipa::path(post, path = "/v1/uploads", tag = "artifacts", params(UploadQuery),
    request_body(content = Vec<u8>, description = "multipart/form-data with a `file` field, or the file itself"),
    responses((status = 201, body = ArtifactView),
              (status = 400, description = "invalid_request: no file, an empty file, no filename"),
              (status = 413, description = "payload_too_large: over the tenant's upload limit")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    request: Request,
) -> Result<(StatusCode, axum::Json<ArtifactView>), ApiError> {
    let store = state
        .artifacts
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "this server has no artifact store configured"))?;
    let limit = limit_of(&state, &auth.tenant, store.bytes.max_size()).await?;
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit.saturating_add(64 << 10)
    {
        return Err(too_large("an upload", limit));
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let saved = if is_form {
        let mut form = Multipart::from_request(request, &()).await.map_err(|e| {
            ApiError::new(ErrorCode::InvalidRequest, format!("the multipart form cannot be read: {}", e.body_text()))
        })?;
        let mut field = loop {
            let field = form.next_field().await.map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("the multipart form cannot be read: {}", e.body_text()),
                )
            })?;
            match field {
                Some(f) if f.name() == Some("file") => break f,
                Some(_) => continue,
                None => return Err(ApiError::field("file", "the form has no `file` field")),
            }
        };
        let name = q.filename.clone().or_else(|| field.file_name().map(str::to_owned)).unwrap_or_default();
        // The field borrows the form; its chunks reach the store through a channel.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let forward = async move {
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| BytesError::Unavailable(format!("reading the upload: {e}")));
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        };
        let chunks: Chunks = Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
        let ((), saved) = tokio::join!(forward, save(&state, &store, &auth.tenant, limit, name, chunks));
        saved?
    } else {
        let name = q.filename.clone().unwrap_or_default();
        let body: Body = request.into_body();
        let chunks =
            body.into_data_stream().map(|c| c.map_err(|e| BytesError::Unavailable(format!("reading the upload: {e}"))));
        save(&state, &store, &auth.tenant, limit, name, Box::pin(chunks)).await?
    };
    tracing::info!(tenant = %auth.tenant, artifact = %saved.id, bytes = saved.size, "upload stored");
    Ok((StatusCode::CREATED, axum::Json(saved.into())))
}

/// Types, bounds and stores one upload.
async fn save(
    state: &AppState,
    store: &tarea_runtime::Artifacts,
    tenant: &str,
    limit: u64,
    filename: String,
    chunks: Chunks,
) -> Result<tarea_core::Artifact, ApiError> {
    if filename.trim().is_empty() {
        return Err(ApiError::field(
            "filename",
            "name the file: ?filename=inventario.xlsx, or a form file with a name",
        ));
    }
    let (content_type, chunks) = typed(chunks).await?;
    // The tenant's limit, which may be below the store's: counted on the way.
    let mut seen = 0u64;
    let bounded = chunks.map(move |c| {
        let c = c?;
        seen += c.len() as u64;
        if seen > limit { Err(BytesError::TooLarge { limit }) } else { Ok(c) }
    });
    let maker = Maker { tenant: tenant.to_owned(), job: None, kind: UPLOAD_KIND.into(), cache_key: None };
    let meta = NewArtifact { filename, content_type, provenance: None, expires_at: None };
    store.save(state.store.as_ref(), &maker, meta, Box::pin(bounded)).await.map_err(|e| match e {
        SaveError::Bytes(BytesError::TooLarge { limit: l }) => too_large("an upload", l.min(limit)),
        SaveError::Bytes(e) => ApiError::new(ErrorCode::Unavailable, e.to_string()),
        SaveError::Store(e) => e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "application/pdf");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff("Protocolo;Especie\nHP 26/1;Canino\n".as_bytes()), "text/plain");
        assert_eq!(sniff(b"Protocolo;Especie\nHP 26/1;Caf\xe9\n"), "text/plain", "Windows-1252 text");
        assert_eq!(sniff(b"\xff\xfeP\0r\0o\0"), "text/plain", "UTF-16 text");
        assert_eq!(sniff(b"\0\x01\x02\x03\x04garbage\x05"), "application/octet-stream");
    }
}
