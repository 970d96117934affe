//! `tarea keys create`: writes a key straight into the store and prints it alone on stdout.
use std::sync::Arc;

use anyhow::Context;
use tarea_core::{ApiKey, EventSink, JobEvent, validate_name};
use tarea_runtime::now_ms;
use tarea_server::{generate_key, hash_key};

use crate::cli::{KeysCommand, StoreArgs};
use crate::config::{ConfigError, ServeArgs};

struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _events: Vec<JobEvent>) {}
}

/// The store `serve` would open with the same flags, environment and file.
pub fn store_url(args: StoreArgs) -> anyhow::Result<String> {
    let serve =
        ServeArgs { config: args.config, data_dir: args.data_dir, database: args.database, ..Default::default() };
    Ok(serve.resolve()?.database)
}

pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Create { tenant, admin, store } = cmd;
    validate_name(&tenant).map_err(|e| ConfigError(format!("--tenant: {e}")))?;
    let url = store_url(store)?;
    let store = tarea_store::open_store(&url, Default::default(), Arc::new(NoEvents))
        .with_context(|| format!("opening the store at {url}"))?;
    let (key, id) = generate_key();
    store.api_key_create(ApiKey { id, tenant, admin, created_at: now_ms() }, hash_key(&key)).await?;
    println!("{key}");
    Ok(())
}
