//! Test helpers shared by the integration tests of every crate: temporary stores, the
//! `store_test!` conformance macro, an in-process server on 127.0.0.1:0, and the real `tarea`
//! binary as a child process.
#![allow(missing_docs)]

mod binary;
mod http_sink;
mod postgres;
mod proxy;
mod s3;
pub mod scan;
mod server;
mod smtp;

use std::sync::Arc;

use serde_json::value::RawValue;
use tarea_core::{JobSpec, Store};
use tarea_runtime::{EventHub, Metrics};
pub use tarea_store::Durability;
use tarea_store::{SqliteOptions, SqliteStore};
use tempfile::TempDir;

pub use binary::{TareaProcess, free_port, tarea_binary};
pub use http_sink::{AppRequest, HttpSink};
pub use postgres::{PgSchema, pg_url};
pub use proxy::Proxy;
pub use s3::S3Server;
pub use server::{TestServer, render_pool};
pub use smtp::{Received, SmtpSink};

/// Every file under `dir`, at any depth (none if `dir` does not exist): what an artifact
/// folder holds.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// A store in a temporary folder (SQLite) or a schema of its own (PostgreSQL), with its event
/// hub. The folder or schema lives as long as this value.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub hub: Arc<EventHub>,
    pub metrics: Arc<Metrics>,
    pub dir: TempDir,
    pub schema: Option<PgSchema>,
}

impl TestStore {
    /// A fresh SQLite store (fsync on every commit, writes always through the writer thread).
    pub fn sqlite() -> TestStore {
        Self::sqlite_with(Durability::Full)
    }

    /// A fresh SQLite store with the given durability (relaxed lets idle callers write inline).
    pub fn sqlite_with(durability: Durability) -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let metrics = Arc::new(Metrics::default());
        let hub = EventHub::new(Arc::clone(&metrics));
        let store = SqliteStore::open(dir.path().join("tarea.db"), SqliteOptions { durability }, hub.clone())
            .expect("open SQLite store");
        TestStore { store: Arc::new(store), hub, metrics, dir, schema: None }
    }

    /// A PostgreSQL store in a fresh schema of the test database (see [`pg_url`]), dropped
    /// when this value is. Panics when PostgreSQL cannot be reached: the suite never skips
    /// the PostgreSQL cases silently.
    pub async fn postgres() -> TestStore {
        let schema = PgSchema::new();
        let store = schema.open().await;
        let (hub, metrics) = (Arc::clone(&store.1), Arc::clone(&store.2));
        let dir = tempfile::tempdir().expect("temp dir");
        TestStore { store: store.0, hub, metrics, dir, schema: Some(schema) }
    }
}

/// A JSON value as raw bytes.
pub fn raw(json: serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(json.to_string()).expect("valid JSON")
}

/// A spec of an external job of `kind` in `queue` with an empty payload.
pub fn spec(kind: &str, queue: &str) -> JobSpec {
    JobSpec::new(kind, queue, raw(serde_json::json!({})))
}

/// Defines a store conformance test that runs on every backend: `name::sqlite`,
/// `name::sqlite_relaxed` (whose idle writes run on the caller's thread) and `name::postgres`
/// (a schema of its own in the test database). The body is a closure taking `Arc<dyn Store>` and
/// returning a future.
#[macro_export]
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::TestStore::sqlite();
                let f = $body;
                f(::std::sync::Arc::clone(&t.store)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_relaxed() {
                let t = $crate::TestStore::sqlite_with($crate::Durability::Relaxed);
                let f = $body;
                f(::std::sync::Arc::clone(&t.store)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = $crate::TestStore::postgres().await;
                let f = $body;
                f(::std::sync::Arc::clone(&t.store)).await;
            }
        }
    };
}
