//! PostgreSQL for tests: the machine's server (`TAREA_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`), one schema per test, dropped afterwards.
//! Schemas left behind by a killed run carry their creation time in their name and are swept
//! by later runs after an hour.
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tarea_core::Store;
use tarea_runtime::{EventHub, Metrics};
use tarea_store::{PgOptions, PgStore};

/// The test database's URL.
pub fn pg_url() -> String {
    std::env::var("TAREA_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A schema of one test; dropped (with everything in it) when this value is.
#[derive(Debug)]
pub struct PgSchema {
    pub name: String,
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl PgSchema {
    /// A fresh, unique schema name (created by the store's migrations).
    pub fn new() -> PgSchema {
        let rand = uuid::Uuid::new_v4().simple().to_string();
        PgSchema { name: format!("t_{}_{}", now_s(), &rand[..12]) }
    }

    /// Options for a store in this schema.
    pub fn options(&self) -> PgOptions {
        PgOptions { schema: self.name.clone(), pool_size: 4, ..PgOptions::default() }
    }

    /// Opens a store in this schema, with its own hub.
    pub async fn open(&self) -> (Arc<dyn Store>, Arc<EventHub>, Arc<Metrics>) {
        sweep().await;
        let metrics = Arc::new(Metrics::default());
        let hub = EventHub::new(Arc::clone(&metrics));
        let store = PgStore::open(&pg_url(), self.options(), hub.clone()).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for this test and could not be used at {}: {e}. \
                 Start it (scripts/test does) or set TAREA_TEST_DATABASE_URL.",
                pg_url()
            )
        });
        (Arc::new(store), hub, metrics)
    }

    /// Runs SQL against the test database with this schema first on the search path.
    pub async fn execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        let client = connect().await?;
        client.batch_execute(&format!("SET search_path TO {}, public; {sql}", self.name)).await
    }
}

impl Default for PgSchema {
    fn default() -> Self {
        Self::new()
    }
}

async fn connect() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Drops test schemas more than an hour old (left by runs that were killed).
async fn sweep() {
    let Ok(client) = connect().await else { return };
    let cutoff = now_s().saturating_sub(3600);
    let Ok(rows) = client.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%\\_%'", &[]).await else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let created = name.split('_').nth(1).and_then(|t| t.parse::<u64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime we may block; a thread of its own does the work.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(client) = connect().await {
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await;
                }
            });
        })
        .join();
    }
}
