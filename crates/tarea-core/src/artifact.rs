//! Artifacts: files that jobs make (a PDF, a workbook, an export) or that apps upload. The
//! bytes live in an [`ArtifactBytes`] store (a folder or S3); the metadata below lives in the
//! job store, scoped to a tenant like everything else.
use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::{ArtifactId, JobId};

/// What the job store keeps about an artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its id.
    pub id: ArtifactId,
    /// Its tenant.
    pub tenant: String,
    /// The job that made it (None for an upload).
    pub job_id: Option<JobId>,
    /// The kind of that job (`upload` for an upload): per-kind retention and cache lookups.
    pub kind: String,
    /// The file name offered on download, already sanitised (see [`sanitize_filename`]).
    pub filename: String,
    /// Its media type, e.g. `application/pdf`.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex: the download's ETag.
    pub sha256: String,
    /// The job's cache key, if it had one.
    pub cache_key: Option<String>,
    /// Where it came from (template name and version, a hash of the input data), as the
    /// handler that made it says.
    pub provenance: Option<serde_json::Value>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the retention cleaner deletes it (Unix ms); None keeps it until deleted.
    pub expires_at: Option<i64>,
    /// Downloads of its content so far.
    pub download_count: u64,
}

impl Artifact {
    /// Whether it has expired at `now` (it may not be cleaned yet, but is no longer served).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// How long a tenant's artifacts are kept, unless an artifact says otherwise: per kind of job,
/// then the tenant's default, then the server's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRetention {
    /// The tenant's default, in milliseconds; None falls back to the server's.
    pub default_ms: Option<u64>,
    /// Per job kind, in milliseconds.
    pub kinds: BTreeMap<String, u64>,
}

impl ArtifactRetention {
    /// The time to keep an artifact of `kind`, or None for the server's default.
    pub fn ttl_ms(&self, kind: &str) -> Option<u64> {
        self.kinds.get(kind).copied().or(self.default_ms)
    }
}

/// What storing bytes measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBytes {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

/// Errors of the bytes store.
#[derive(Debug, thiserror::Error)]
pub enum BytesError {
    /// No bytes under that id.
    #[error("the artifact's content is missing from the artifact store")]
    NotFound,
    /// Over the size limit; nothing was kept.
    #[error("the artifact is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The requested range does not fit the content.
    #[error("the requested range is not within the artifact's {size} bytes")]
    BadRange {
        /// The content's size.
        size: u64,
    },
    /// The store failed (disk, network); worth retrying.
    #[error("artifact store: {0}")]
    Unavailable(String),
}

/// A stream of content chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BytesError>> + Send>>;

/// Where artifact bytes live. Implemented by `tarea-artifacts` (a folder or S3); the core
/// only knows this shape.
#[async_trait]
pub trait ArtifactBytes: Send + Sync + 'static {
    /// Stores `data` under `id`.
    async fn put(&self, id: ArtifactId, data: Bytes) -> Result<StoredBytes, BytesError>;
    /// Stores what `chunks` yields under `id`, without holding it all in memory; refuses (and
    /// keeps nothing) past the size limit.
    async fn put_stream(&self, id: ArtifactId, chunks: ByteStream) -> Result<StoredBytes, BytesError>;
    /// The bytes of `id`, or the half-open `range` of them.
    async fn get(&self, id: ArtifactId, range: Option<std::ops::Range<u64>>) -> Result<ByteStream, BytesError>;
    /// Deletes the bytes of `id`; deleting what is not there is not an error.
    async fn delete(&self, id: ArtifactId) -> Result<(), BytesError>;
    /// The largest artifact accepted, in bytes.
    fn max_size(&self) -> u64;
    /// A short description for logs and `/readyz` (`folder /var/lib/tarea/artifacts`).
    fn describe(&self) -> String;
}

/// Longest file name kept, in bytes.
pub const FILENAME_MAX: usize = 200;

/// A file name that is safe in a `Content-Disposition` header and on any file system: path
/// separators become `_` (a protocol number such as `HP 26/01234` is part of many names, so the
/// name is kept whole rather than cut to its last component), control and invisible formatting
/// characters and `"*:<>?|` dropped, trimmed of dots and spaces, at most [`FILENAME_MAX`] bytes (cut on a character boundary, extension kept).
/// Returns `fallback` when nothing usable is left.
pub fn sanitize_filename(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .filter(|c| !c.is_control() && !is_format_char(*c) && !matches!(c, '"' | ':' | '*' | '?' | '<' | '>' | '|'))
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        return fallback.to_owned();
    }
    if trimmed.len() <= FILENAME_MAX {
        return trimmed.to_owned();
    }
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.len() <= 16 => (s, Some(e)),
        _ => (trimmed, None),
    };
    let room = FILENAME_MAX - ext.map_or(0, |e| e.len() + 1);
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    match ext {
        Some(e) => format!("{}.{e}", &stem[..cut]),
        None => stem[..cut].to_owned(),
    }
}

/// Invisible formatting characters (Unicode category Cf) that can disguise a name, such as
/// the right-to-left override in `factura\u{202E}fdp.exe`.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_paths_controls_and_quotes() {
        assert_eq!(sanitize_filename("informe-2026.pdf", "x"), "informe-2026.pdf");
        assert_eq!(sanitize_filename("../../etc/passwd", "x"), "_.._etc_passwd");
        assert_eq!(sanitize_filename("C:\\temp\\orden.pdf", "x"), "C_temp_orden.pdf");
        assert_eq!(sanitize_filename("etiquetas HP 26/01234.pdf", "x"), "etiquetas HP 26_01234.pdf");
        assert_eq!(sanitize_filename("a\"b\r\nc.pdf", "x"), "abc.pdf");
        assert_eq!(sanitize_filename("Informe Histopatológico Nº 12.pdf", "x"), "Informe Histopatológico Nº 12.pdf");
        assert_eq!(sanitize_filename("..", "salida.pdf"), "salida.pdf");
        assert_eq!(sanitize_filename("dir/", "salida.pdf"), "dir_");
        assert_eq!(sanitize_filename("\u{0}\u{7}", "salida.pdf"), "salida.pdf");
        assert_eq!(sanitize_filename("factura\u{202E}fdp.exe", "x"), "facturafdp.exe");
        assert_eq!(sanitize_filename("a\u{200B}b\u{FEFF}.pdf", "x"), "ab.pdf");
    }

    #[test]
    fn long_filenames_keep_their_extension_and_whole_characters() {
        let long = format!("{}.xlsx", "ñ".repeat(300));
        let s = sanitize_filename(&long, "x");
        assert!(s.len() <= FILENAME_MAX, "{}", s.len());
        assert!(s.ends_with(".xlsx"));
        assert!(s.trim_end_matches(".xlsx").chars().all(|c| c == 'ñ'));
    }

    #[test]
    fn retention_prefers_the_kind_then_the_tenant_default() {
        let r = ArtifactRetention { default_ms: Some(10), kinds: [("csv.export".to_owned(), 5)].into() };
        assert_eq!(r.ttl_ms("csv.export"), Some(5));
        assert_eq!(r.ttl_ms("pdf.render"), Some(10));
        assert_eq!(ArtifactRetention::default().ttl_ms("pdf.render"), None);
    }
}
