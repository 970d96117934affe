//! Where artifact bytes live: a local folder (the default, under the data dir) or any
//! S3-compatible store, both through `object_store`, so cluster nodes that share a bucket
//! share artifacts. Metadata lives in the job store; this crate only moves bytes, measuring
//! their size and SHA-256 on the way in and refusing what is over the size limit.
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tarea_core::{ArtifactBytes, ArtifactId, ByteStream, BytesError, StoredBytes};

/// Content up to this size is sent in one request; larger content is uploaded in parts
/// (S3's smallest part is 5 MiB).
const SINGLE_PUT_MAX: usize = 8 * 1024 * 1024;

/// The default largest artifact: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Artifact bytes in an object store.
pub struct ObjectArtifacts {
    store: Arc<dyn ObjectStore>,
    max_size: u64,
    describe: String,
}

impl std::fmt::Debug for ObjectArtifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

/// Why an artifact store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(String);

impl ObjectArtifacts {
    /// Opens the store that `location` names: `s3://bucket/prefix` (credentials, region and
    /// endpoint from the standard `AWS_*` variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers,
    /// `AWS_ALLOW_HTTP=true` for one without TLS), or a folder path (created if missing).
    pub fn open(location: &str, max_size: u64) -> Result<ObjectArtifacts, OpenError> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(OpenError(format!("{location:?} names no bucket; write s3://bucket/prefix")));
            }
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            // `from_env` reads AWS_ENDPOINT; the AWS tools' own name is AWS_ENDPOINT_URL.
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                builder = builder.with_endpoint(endpoint);
            }
            let s3 = builder.build().map_err(|e| OpenError(format!("cannot use {location}: {e}")))?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> =
                if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
            return Ok(ObjectArtifacts { store, max_size, describe: format!("s3://{bucket}/{prefix}") });
        }
        if location.contains("://") {
            return Err(OpenError(format!(
                "{location:?} is not an artifact store tarea knows; use a folder path or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(location).map_err(|e| OpenError(format!("cannot create {location}: {e}")))?;
        let fs = LocalFileSystem::new_with_prefix(location)
            .map_err(|e| OpenError(format!("cannot use {location} for artifacts: {e}")))?;
        Ok(ObjectArtifacts { store: Arc::new(fs), max_size, describe: format!("folder {location}") })
    }

    /// Where the bytes of `id` live: sharded by the id's last byte (random in a UUIDv7), so no
    /// folder grows past a few thousand files per million artifacts.
    fn path(id: ArtifactId) -> Path {
        let hex = id.0.simple().to_string();
        Path::from(format!("artifacts/{}/{hex}", &hex[30..]))
    }
}

fn unavailable(e: object_store::Error) -> BytesError {
    match e {
        object_store::Error::NotFound { .. } => BytesError::NotFound,
        e => BytesError::Unavailable(e.to_string()),
    }
}

#[async_trait]
impl ArtifactBytes for ObjectArtifacts {
    async fn put(&self, id: ArtifactId, data: Bytes) -> Result<StoredBytes, BytesError> {
        if data.len() as u64 > self.max_size {
            return Err(BytesError::TooLarge { limit: self.max_size });
        }
        if data.len() > SINGLE_PUT_MAX {
            let chunks = futures_util::stream::once(async move { Ok(data) });
            return self.put_stream(id, Box::pin(chunks)).await;
        }
        let stored = StoredBytes { size: data.len() as u64, sha256: hex::encode(Sha256::digest(&data)) };
        self.store.put(&Self::path(id), PutPayload::from_bytes(data)).await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn put_stream(&self, id: ArtifactId, mut chunks: ByteStream) -> Result<StoredBytes, BytesError> {
        let path = Self::path(id);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head: Vec<Bytes> = Vec::new();
        let mut upload = AbortOnDrop(None);
        let result = async {
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                if size > self.max_size {
                    return Err(BytesError::TooLarge { limit: self.max_size });
                }
                hasher.update(&chunk);
                match upload.0.as_mut() {
                    Some(w) => {
                        w.wait_for_capacity(4).await.map_err(unavailable)?;
                        w.put(chunk);
                    }
                    None => {
                        head.push(chunk);
                        if size as usize > SINGLE_PUT_MAX {
                            let mut w =
                                WriteMultipart::new(self.store.put_multipart(&path).await.map_err(unavailable)?);
                            for c in head.drain(..) {
                                w.put(c);
                            }
                            upload.0 = Some(w);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        match (result, upload.0.take()) {
            (Err(e), Some(w)) => {
                if let Err(abort) = w.abort().await {
                    tracing::warn!(error = %abort, "could not abort a partial artifact upload");
                }
                Err(e)
            }
            (Err(e), None) => Err(e),
            (Ok(()), Some(w)) => {
                w.finish().await.map_err(unavailable)?;
                Ok(StoredBytes { size, sha256: hex::encode(hasher.finalize()) })
            }
            (Ok(()), None) => {
                let payload: PutPayload = head.into_iter().collect();
                self.store.put(&path, payload).await.map_err(unavailable)?;
                Ok(StoredBytes { size, sha256: hex::encode(hasher.finalize()) })
            }
        }
    }

    async fn get(&self, id: ArtifactId, range: Option<Range<u64>>) -> Result<ByteStream, BytesError> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
        let result = self.store.get_opts(&Self::path(id), options).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => BytesError::NotFound,
            e if e.to_string().contains("range") || e.to_string().contains("Range") => BytesError::BadRange { size: 0 },
            e => BytesError::Unavailable(e.to_string()),
        })?;
        let range = result.range.clone();
        match result.payload {
            // object_store reads local files 8 KiB at a time, each read a hop to the blocking
            // pool: a 15 MB file took ~200 ms here. Reading 512 KiB at a time takes ~5.
            GetResultPayload::File(file, _) => Ok(Box::pin(file_chunks(file, range))),
            GetResultPayload::Stream(s) => Ok(Box::pin(s.map(|c| c.map_err(unavailable)))),
        }
    }

    async fn delete(&self, id: ArtifactId) -> Result<(), BytesError> {
        match self.store.delete(&Self::path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn max_size(&self) -> u64 {
        self.max_size
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// A multipart upload that is aborted if its saver is dropped half-way (a job that timed out,
/// an HTTP upload whose client went away): object_store's S3 uploads do not abort themselves,
/// and an unfinished one keeps its parts, billed, until a bucket lifecycle rule removes them.
struct AbortOnDrop(Option<WriteMultipart>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(w) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(e) = w.abort().await {
                    tracing::warn!(error = %e, "could not abort an abandoned artifact upload");
                }
            });
        }
    }
}

/// Bytes read from a local file for one download.
const FILE_CHUNK: u64 = 512 * 1024;

/// The `range` of `file`, read in `FILE_CHUNK`s on the blocking pool.
fn file_chunks(
    file: std::fs::File,
    range: Range<u64>,
) -> impl futures_util::Stream<Item = Result<Bytes, BytesError>> + Send {
    futures_util::stream::try_unfold((Some(file), range.start, range.end), |(file, at, end)| async move {
        let Some(mut file) = file else { return Ok(None) };
        if at >= end {
            return Ok(None);
        }
        let want = (end - at).min(FILE_CHUNK);
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(at))?;
            let mut buf = vec![0u8; want as usize];
            file.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>((file, Bytes::from(buf)))
        })
        .await
        .map_err(|e| BytesError::Unavailable(format!("reading an artifact: {e}")))?
        .map_err(|e| BytesError::Unavailable(format!("reading an artifact: {e}")))?;
        Ok(Some((chunk, (Some(file), at + want, end))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(mut s: ByteStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_folder_keeps_measures_serves_ranges_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectArtifacts::open(dir.path().join("a").to_str().unwrap(), 1 << 20).unwrap();
        let id = ArtifactId::new();
        let stored = store.put(id, Bytes::from_static(b"Informe histopatologico")).await.unwrap();
        assert_eq!(stored.size, 23);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"Informe histopatologico")));
        assert_eq!(collect(store.get(id, None).await.unwrap()).await, b"Informe histopatologico");
        assert_eq!(collect(store.get(id, Some(8..14)).await.unwrap()).await, b"histop");
        store.delete(id).await.unwrap();
        assert!(matches!(store.get(id, None).await, Err(BytesError::NotFound)));
        store.delete(id).await.expect("deleting what is gone is fine");
    }

    #[tokio::test]
    async fn large_files_come_back_whole_and_in_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectArtifacts::open(dir.path().to_str().unwrap(), 1 << 30).unwrap();
        let id = ArtifactId::new();
        let data: Vec<u8> = (0..(3 * FILE_CHUNK as usize + 17)).map(|i| (i % 251) as u8).collect();
        store.put(id, Bytes::from(data.clone())).await.unwrap();
        assert_eq!(collect(store.get(id, None).await.unwrap()).await, data);
        let r = FILE_CHUNK - 5..2 * FILE_CHUNK + 9;
        assert_eq!(
            collect(store.get(id, Some(r.clone())).await.unwrap()).await,
            &data[r.start as usize..r.end as usize]
        );
    }

    #[tokio::test]
    async fn streams_over_the_limit_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectArtifacts::open(dir.path().to_str().unwrap(), 10).unwrap();
        let id = ArtifactId::new();
        let chunks =
            futures_util::stream::iter(vec![Ok(Bytes::from_static(b"123456")), Ok(Bytes::from_static(b"789012"))]);
        assert!(matches!(store.put_stream(id, Box::pin(chunks)).await, Err(BytesError::TooLarge { limit: 10 })));
        assert!(matches!(store.get(id, None).await, Err(BytesError::NotFound)));
        assert!(matches!(store.put(id, Bytes::from(vec![0u8; 11])).await, Err(BytesError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn large_streams_go_up_in_parts() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectArtifacts::open(dir.path().to_str().unwrap(), 1 << 30).unwrap();
        let id = ArtifactId::new();
        let chunk = Bytes::from(vec![7u8; 1 << 20]);
        let chunks = futures_util::stream::iter((0..20).map(move |_| Ok(chunk.clone())));
        let stored = store.put_stream(id, Box::pin(chunks)).await.unwrap();
        assert_eq!(stored.size, 20 << 20);
        let back = collect(store.get(id, None).await.unwrap()).await;
        assert_eq!(back.len(), 20 << 20);
        assert_eq!(hex::encode(Sha256::digest(&back)), stored.sha256);
    }

    #[test]
    fn unknown_schemes_are_refused_with_a_reason() {
        let e = ObjectArtifacts::open("gs://bucket/x", 1).unwrap_err();
        assert!(e.to_string().contains("s3://bucket/prefix"), "{e}");
        assert!(ObjectArtifacts::open("s3:///x", 1).is_err());
    }
}
