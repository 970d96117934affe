//! Saving the files jobs make, and deleting them when they expire. Bytes are stored first and
//! recorded second: a crash in between leaves unreferenced bytes (harmless), never a row that
//! points at nothing. Deletion runs the other way round for the same reason: bytes first, then
//! the row, so a retry finds the row and deletes again.
use std::sync::Arc;

use async_trait::async_trait;
use tarea_core::{
    Artifact, ArtifactBytes, ArtifactId, ArtifactSink, ByteStream, BytesError, HandlerError, JobId, NewArtifact, Store,
    StoreError, sanitize_filename,
};

use crate::now_ms;

/// The artifact store and the server's default retention.
#[derive(Clone)]
pub struct Artifacts {
    /// Where the bytes go.
    pub bytes: Arc<dyn ArtifactBytes>,
    /// How long artifacts live when neither they nor their tenant say (ms); None: forever.
    pub default_ttl_ms: Option<u64>,
}

impl std::fmt::Debug for Artifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifacts")
            .field("bytes", &self.bytes.describe())
            .field("default_ttl_ms", &self.default_ttl_ms)
            .finish()
    }
}

/// Why a file could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Storing the bytes failed, or they were over the limit.
    #[error(transparent)]
    Bytes(#[from] BytesError),
    /// Recording them failed, or the attempt is stale (the bytes were deleted again).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is saving: a job's running attempt, or (no job) an upload of `kind`.
#[derive(Clone, Debug)]
pub struct Maker {
    /// The tenant.
    pub tenant: String,
    /// The job and its attempt, when a job makes the file.
    pub job: Option<(JobId, u32)>,
    /// The job's kind (the store takes it from the job when there is one).
    pub kind: String,
    /// The job's cache key.
    pub cache_key: Option<String>,
}

impl Artifacts {
    /// Stores `data` and records it for `maker`.
    pub async fn save(
        &self,
        store: &dyn Store,
        maker: &Maker,
        meta: NewArtifact,
        data: ByteStream,
    ) -> Result<Artifact, SaveError> {
        let id = ArtifactId::new();
        let stored = self.bytes.put_stream(id, data).await?;
        let content_type =
            if meta.content_type.trim().is_empty() { "application/octet-stream".to_owned() } else { meta.content_type };
        let artifact = Artifact {
            id,
            tenant: maker.tenant.clone(),
            job_id: maker.job.map(|(j, _)| j),
            kind: maker.kind.clone(),
            filename: sanitize_filename(&meta.filename, "artifact"),
            content_type,
            size: stored.size,
            sha256: stored.sha256,
            cache_key: maker.cache_key.clone(),
            provenance: meta.provenance,
            created_at: now_ms(),
            expires_at: meta.expires_at,
            download_count: 0,
        };
        let tenant = maker.tenant.clone();
        match store.artifact_insert(artifact, maker.job.map(|(_, a)| a), self.default_ttl_ms).await {
            Ok(a) => Ok(a),
            Err(e) => {
                // A refusal wrote nothing. A store that failed may have committed anyway (a
                // connection lost during COMMIT): the bytes go only once no row points at them.
                if matches!(e, StoreError::Unavailable(_) | StoreError::Internal(_)) {
                    match store.artifact_get(Some(&tenant), id).await {
                        // It was committed after all.
                        Ok(Some(a)) => return Ok(a),
                        Ok(None) => {}
                        Err(_) => {
                            tracing::warn!(artifact = %id, error = %e, "keeping the bytes of an artifact whose row may exist");
                            return Err(e.into());
                        }
                    }
                }
                if let Err(d) = self.bytes.delete(id).await {
                    tracing::warn!(artifact = %id, error = %d, "could not delete the bytes of a refused artifact");
                }
                Err(e.into())
            }
        }
    }

    /// Deletes up to `limit` artifacts expired at `now`, bytes first; answers how many rows went.
    pub async fn clean_expired(&self, store: &dyn Store, now: i64, limit: u32) -> Result<u64, SaveError> {
        let expired = store.artifact_expired(now, limit).await?;
        let mut gone = Vec::with_capacity(expired.len());
        let mut failed = 0;
        for a in &expired {
            match self.bytes.delete(a.id).await {
                Ok(()) => gone.push(a.id),
                Err(e) => {
                    // Keep the row: the next round tries again. One object that cannot be
                    // deleted (a legal hold, a permission) must not stop the others.
                    tracing::warn!(artifact = %a.id, error = %e, "could not delete an expired artifact's bytes");
                    failed += 1;
                    if failed >= 10 && gone.is_empty() {
                        break;
                    }
                }
            }
        }
        Ok(store.artifact_delete(&gone).await?)
    }
}

/// The `ArtifactSink` of one attempt of a built-in job.
pub(crate) struct JobArtifacts {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) artifacts: Option<Artifacts>,
    pub(crate) maker: Maker,
}

#[async_trait]
impl ArtifactSink for JobArtifacts {
    async fn save(&self, meta: NewArtifact, data: ByteStream) -> Result<Artifact, HandlerError> {
        let Some(artifacts) = &self.artifacts else {
            return Err(HandlerError::fatal("no_artifact_store", "this server has no artifact store configured"));
        };
        artifacts.save(self.store.as_ref(), &self.maker, meta, data).await.map_err(|e| match e {
            SaveError::Bytes(BytesError::TooLarge { limit }) => HandlerError::fatal(
                "artifact_too_large",
                format!("the file is larger than the artifact limit of {limit} bytes"),
            ),
            SaveError::Bytes(e) => HandlerError::retryable("artifact_store_unavailable", e.to_string()),
            SaveError::Store(e) => HandlerError::retryable("artifact_not_recorded", e.to_string()),
        })
    }

    async fn open(&self, id: ArtifactId) -> Result<(Artifact, ByteStream), HandlerError> {
        let Some(artifacts) = &self.artifacts else {
            return Err(HandlerError::fatal("no_artifact_store", "this server has no artifact store configured"));
        };
        let found = self
            .store
            .artifact_get(Some(&self.maker.tenant), id)
            .await
            .map_err(|e| HandlerError::retryable("store_unavailable", e.to_string()))?;
        let Some(a) = found.filter(|a| !a.expired(now_ms())) else {
            return Err(HandlerError::fatal("artifact_not_found", format!("no live artifact {id} in this tenant")));
        };
        let bytes = artifacts.bytes.get(id, None).await.map_err(|e| match e {
            BytesError::NotFound => HandlerError::fatal("artifact_not_found", format!("the content of {id} is gone")),
            e => HandlerError::retryable("artifact_store_unavailable", e.to_string()),
        })?;
        Ok((a, bytes))
    }
}
