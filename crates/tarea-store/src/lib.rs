//! The job stores of tarea. `open_store` picks the backend from the URL's scheme; each backend
//! is one module tree, mirrored file for file, so the two can be read side by side.
#![deny(missing_docs)]

mod postgres;
mod sqlite;

use std::sync::Arc;

use tarea_core::{EventSink, Store, StoreError};

pub use postgres::{PgOptions, PgStore, validate_schema};
pub use sqlite::{Durability, SqliteOptions, SqliteStore};

/// Options of both stores; each takes what concerns it.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// Commit durability (SQLite: `synchronous`; PostgreSQL: `synchronous_commit`).
    pub durability: Durability,
    /// PostgreSQL only: schema, pool size, node id. Its durability is taken from above.
    pub pg: PgOptions,
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a URL names: `sqlite:///path/to/tarea.db` (or a plain path), or
/// `postgres://user@host/db`.
pub async fn open_store(
    url: &str,
    options: StoreOptions,
    sink: Arc<dyn EventSink>,
) -> Result<Arc<dyn Store>, StoreError> {
    let sqlite = SqliteOptions { durability: options.durability };
    if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(Arc::new(SqliteStore::open(path, sqlite, sink)?))
    } else if is_postgres_url(url) {
        let pg = PgOptions { durability: options.durability, ..options.pg };
        Ok(Arc::new(PgStore::open(url, pg, sink).await?))
    } else if !url.contains("://") {
        Ok(Arc::new(SqliteStore::open(url, sqlite, sink)?))
    } else {
        Err(StoreError::Unavailable(format!(
            "unknown database URL scheme in {url:?}; use sqlite://PATH or postgres://USER@HOST/DB"
        )))
    }
}
