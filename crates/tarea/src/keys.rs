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
pub fn store_config(args: StoreArgs) -> anyhow::Result<(String, tarea_store::StoreOptions)> {
    let serve = ServeArgs {
        config: args.config,
        data_dir: args.data_dir,
        database: args.database,
        schema: args.schema,
        ..Default::default()
    };
    let config = serve.resolve()?;
    let mut options = config.store;
    options.pg.pool_size = 1;
    Ok((config.database, options))
}

pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Create { tenant, admin, read_only, store } = cmd;
    validate_name(&tenant).map_err(|e| ConfigError(format!("--tenant: {e}")))?;
    let (url, options) = store_config(store)?;
    let store = tarea_store::open_store(&url, options, Arc::new(NoEvents))
        .await
        .with_context(|| format!("opening the store at {}", redact(&url)))?;
    let (key, id) = generate_key();
    store.api_key_create(ApiKey { id, tenant, admin, read_only, created_at: now_ms() }, hash_key(&key)).await?;
    println!("{key}");
    Ok(())
}

/// A database URL fit for logs and errors: the password, if any, is replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((auth, host)) = rest.split_once('@') else { return url.to_owned() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_do_not_reach_logs() {
        assert_eq!(super::redact("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(super::redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(super::redact("sqlite:///tmp/t.db"), "sqlite:///tmp/t.db");
    }
}
