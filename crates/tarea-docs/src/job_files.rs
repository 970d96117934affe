//! The files a job works on in its own temporary folder: an upload copied in (streamed, so a
//! 100 MiB file never sits in memory), and files made there saved as the job's artifacts.
use std::path::Path;

use futures_util::StreamExt;
use tarea_core::{Artifact, ArtifactId, BytesError, HandlerError, JobContext, NewArtifact};
use tokio::io::AsyncWriteExt;

fn tempdir_error(e: std::io::Error) -> HandlerError {
    HandlerError::retryable("tempdir", e.to_string())
}

/// A folder for this attempt's files, removed when dropped.
pub(crate) fn work_dir() -> Result<tempfile::TempDir, HandlerError> {
    tempfile::tempdir().map_err(tempdir_error)
}

/// Copies upload `id` of the job's tenant to `path`; answers the upload and its first bytes
/// (up to 8, enough to tell a PDF from a PNG). Stops when the job is cancelled.
pub(crate) async fn copy_upload(
    ctx: &JobContext,
    id: ArtifactId,
    path: &Path,
) -> Result<(Artifact, Vec<u8>), HandlerError> {
    let (artifact, mut bytes) = ctx.artifacts.open(id).await?;
    let mut file = tokio::fs::File::create(path).await.map_err(tempdir_error)?;
    let mut head = Vec::with_capacity(8);
    while let Some(chunk) = bytes.next().await {
        if ctx.cancel.is_cancelled() {
            return Err(HandlerError::Cancelled);
        }
        let chunk = chunk.map_err(|e| HandlerError::retryable("artifact_store_unavailable", e.to_string()))?;
        let room = 8 - head.len();
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        file.write_all(&chunk).await.map_err(tempdir_error)?;
    }
    file.flush().await.map_err(tempdir_error)?;
    Ok((artifact, head))
}

/// Saves the file at `path` as an artifact of the job, streamed; answers its id.
pub(crate) async fn save_file(
    ctx: &JobContext,
    path: &Path,
    filename: String,
    content_type: &str,
) -> Result<String, HandlerError> {
    let file = tokio::fs::File::open(path).await.map_err(tempdir_error)?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
        .map(|c| c.map_err(|e| BytesError::Unavailable(e.to_string())));
    let saved = ctx
        .artifacts
        .save(NewArtifact { filename, content_type: content_type.into(), ..Default::default() }, Box::pin(stream))
        .await?;
    Ok(saved.id.to_string())
}

/// A file name without its extension, to name what a job makes from it (`inventario.xlsx` →
/// `inventario-errores.csv`); `fallback` when nothing is left.
pub(crate) fn stem_of(filename: &str, fallback: &str) -> String {
    let stem = match filename.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => filename,
    };
    if stem.is_empty() { fallback.into() } else { stem.into() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stems_drop_the_extension_only() {
        assert_eq!(super::stem_of("inventario.xlsx", "x"), "inventario");
        assert_eq!(super::stem_of("informe.v2.pdf", "x"), "informe.v2");
        assert_eq!(super::stem_of(".xlsx", "x"), ".xlsx");
        assert_eq!(super::stem_of("", "importacion"), "importacion");
    }
}
