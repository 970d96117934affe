//! The job stores of tarea. `open_store` picks the backend from the URL's scheme; each backend
//! is one module tree, mirrored file for file, so the two can be read side by side.
#![deny(missing_docs)]

mod sqlite;

use std::sync::Arc;

use tarea_core::{EventSink, Store, StoreError};

pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// Opens the store a URL names: `sqlite:///path/to/tarea.db` (or a plain path).
pub fn open_store(url: &str, options: SqliteOptions, sink: Arc<dyn EventSink>) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(SqliteStore::open(path, options, sink)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Err(StoreError::Unavailable(
            "PostgreSQL support is not in this build yet; run with the embedded store (no --database)".into(),
        ))
    } else if !url.contains("://") {
        Ok(Arc::new(SqliteStore::open(url, options, sink)?))
    } else {
        Err(StoreError::Unavailable(format!("unknown database URL scheme in {url:?}; use sqlite://PATH")))
    }
}
