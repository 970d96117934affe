//! Configuration of `tarea serve`: one struct that is both the command line (with `TAREA_*`
//! environment variables) and the `tarea.toml` file. Precedence: flags > environment > file >
//! defaults. Each field's doc ends with its default; the README's table repeats them.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;
use tarea_core::NodeRole;
use tarea_runtime::{MaintenanceConfig, RuntimeConfig};
use tarea_server::ServerLimits;
use tarea_store::{Durability, PgOptions, StoreOptions};

/// A configuration a person must fix (exit code 2).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Options of `tarea serve`.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    /// Configuration file (default: ./tarea.toml when it exists).
    #[arg(long, env = "TAREA_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default: 127.0.0.1:8080).
    #[arg(long, env = "TAREA_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder for the embedded store (default: ./tarea-data).
    #[arg(long, env = "TAREA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH, or postgres://USER@HOST/DB for a cluster of nodes
    /// (default: tarea.db in the data dir).
    #[arg(long, env = "TAREA_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// PostgreSQL schema of tarea's tables, created if needed (default: tarea).
    #[arg(long, env = "TAREA_DATABASE_SCHEMA")]
    pub schema: Option<String>,
    /// PostgreSQL connections this node opens for queries; one more listens (default: 16).
    #[arg(long, env = "TAREA_POOL_SIZE")]
    pub pool_size: Option<usize>,
    /// What this node does: `api` (HTTP API, no built-in jobs), `worker` (built-in jobs; only
    /// /healthz, /readyz and /metrics over HTTP) or `all` (default: all).
    #[arg(long, env = "TAREA_ROLE")]
    pub role: Option<String>,
    /// `full`: fsync every commit, a 201 survives power loss; `relaxed`: survives a crash of
    /// tarea but not of the machine (default: full).
    #[arg(long, env = "TAREA_DURABILITY")]
    pub durability: Option<String>,
    /// Built-in jobs run at once in this process; 0 runs none (default: 16).
    #[arg(long, env = "TAREA_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Queues this process works on, comma-separated (default: all).
    #[arg(long, env = "TAREA_QUEUES", value_delimiter = ',')]
    pub queues: Option<Vec<String>>,
    /// Lease of in-process jobs in ms; heartbeats renew it every third (default: 30000).
    #[arg(long, env = "TAREA_LEASE_MS")]
    pub lease_ms: Option<u64>,
    /// Seconds running jobs get to finish at shutdown before they are released (default: 10).
    #[arg(long, env = "TAREA_SHUTDOWN_GRACE_S")]
    pub shutdown_grace_s: Option<u64>,
    /// Largest request body in bytes (default: 1048576).
    #[arg(long, env = "TAREA_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most jobs in one batch request (default: 1000).
    #[arg(long, env = "TAREA_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Seconds succeeded jobs are kept (default: 604800, 7 days).
    #[arg(long, env = "TAREA_RETENTION_SUCCEEDED_S")]
    pub retention_succeeded_s: Option<u64>,
    /// Seconds dead and cancelled jobs are kept (default: 2592000, 30 days).
    #[arg(long, env = "TAREA_RETENTION_DEAD_S")]
    pub retention_dead_s: Option<u64>,
    /// Where artifact bytes go: a folder, or s3://bucket/prefix for a store the nodes of a
    /// cluster share, with the standard AWS_* variables (default: artifacts in the data dir).
    #[arg(long, env = "TAREA_ARTIFACTS")]
    pub artifacts: Option<String>,
    /// Seconds artifacts are kept unless they or their tenant say otherwise; 0 keeps them until
    /// deleted (default: 2592000, 30 days).
    #[arg(long, env = "TAREA_ARTIFACT_TTL_S")]
    pub artifact_ttl_s: Option<u64>,
    /// Largest artifact in bytes (default: 1073741824, 1 GiB).
    #[arg(long, env = "TAREA_MAX_ARTIFACT_BYTES")]
    pub max_artifact_bytes: Option<u64>,
    /// The address apps reach this server at, for signed artifact links, e.g.
    /// https://jobs.example.org (default: http:// and the request's Host).
    #[arg(long, env = "TAREA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Renderer processes for PDFs and labels, and so renders at once (default: one per core).
    #[arg(long, env = "TAREA_RENDER_PROCESSES")]
    pub render_processes: Option<usize>,
    /// Memory cap of each renderer process in MiB; a render that needs more fails (default: 1024).
    #[arg(long, env = "TAREA_RENDER_MEMORY_MIB")]
    pub render_memory_mib: Option<u64>,
    /// Seconds one render may take before its renderer is killed (default: 60).
    #[arg(long, env = "TAREA_RENDER_TIMEOUT_S")]
    pub render_timeout_s: Option<u64>,
    /// Bearer token required by /metrics (default: none, open).
    #[arg(long, env = "TAREA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Send job traces over OTLP/HTTP to this collector, e.g. http://127.0.0.1:4318 (default:
    /// none, no traces).
    #[arg(long, env = "TAREA_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The share of jobs traced, 0 to 1, chosen by job id so each trace is whole (default: 1).
    #[arg(long, env = "TAREA_OTLP_SAMPLE")]
    pub otlp_sample: Option<f64>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: String,
    pub store: StoreOptions,
    pub role: NodeRole,
    pub runtime: RuntimeConfig,
    pub limits: ServerLimits,
    pub metrics_token: Option<String>,
    /// `--otlp-endpoint` and `--otlp-sample`, when traces are on.
    pub otlp: Option<(String, f64)>,
    /// `--artifacts`, resolved.
    pub artifacts: String,
    /// Artifacts' default time to live in ms (None: kept until deleted).
    pub artifact_ttl_ms: Option<u64>,
    pub max_artifact_bytes: u64,
    pub public_url: Option<String>,
    pub render_processes: usize,
    pub render_memory_bytes: u64,
    pub render_timeout: Duration,
}

fn bad(msg: String) -> anyhow::Error {
    anyhow::Error::new(ConfigError(msg))
}

fn read_file(path: &Path) -> anyhow::Result<ServeArgs> {
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| bad(format!("{} is not a valid tarea.toml: {e}", path.display())))
}

/// The store URL for a data dir and an optional `--database`.
pub fn database_url(data_dir: &Path, database: Option<String>) -> String {
    database.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("tarea.db").display()))
}

impl ServeArgs {
    /// Merges flags/environment over the file over the defaults, and checks the result.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None if Path::new("tarea.toml").exists() => read_file(Path::new("tarea.toml"))?,
            None => ServeArgs::default(),
        };
        macro_rules! pick {
            ($f:ident) => {
                self.$f.or(file.$f)
            };
        }
        let data_dir = pick!(data_dir).unwrap_or_else(|| PathBuf::from("tarea-data"));
        let durability = match pick!(durability).as_deref().unwrap_or("full") {
            "full" => Durability::Full,
            "relaxed" => Durability::Relaxed,
            other => return Err(bad(format!("durability must be `full` or `relaxed`; got {other:?}"))),
        };
        let role = match pick!(role) {
            None => NodeRole::All,
            Some(r) => {
                NodeRole::parse(&r).ok_or_else(|| bad(format!("role must be `api`, `worker` or `all`; got {r:?}")))?
            }
        };
        let schema = pick!(schema).unwrap_or_else(|| "tarea".into());
        tarea_store::validate_schema(&schema).map_err(|e| bad(format!("schema: {e}")))?;
        let pool_size = pick!(pool_size).unwrap_or(16);
        if !(1..=1000).contains(&pool_size) {
            return Err(bad(format!("pool_size must be between 1 and 1000; got {pool_size}")));
        }
        let lease_ms = pick!(lease_ms).unwrap_or(30_000);
        if !(1_000..=3_600_000).contains(&lease_ms) {
            return Err(bad(format!("lease_ms must be between 1000 and 3600000; got {lease_ms}")));
        }
        let max_body_bytes = pick!(max_body_bytes).unwrap_or(1 << 20);
        if !(1024..=(256 << 20)).contains(&max_body_bytes) {
            return Err(bad(format!("max_body_bytes must be between 1024 and 268435456; got {max_body_bytes}")));
        }
        let max_batch = pick!(max_batch).unwrap_or(1000);
        if !(1..=100_000).contains(&max_batch) {
            return Err(bad(format!("max_batch must be between 1 and 100000; got {max_batch}")));
        }
        let queues = pick!(queues).unwrap_or_default();
        for q in &queues {
            tarea_core::validate_name(q).map_err(|e| bad(format!("queues: {e}")))?;
        }
        let mut maintenance = MaintenanceConfig::default();
        if let Some(s) = pick!(retention_succeeded_s) {
            maintenance.retention.succeeded_ms = s.saturating_mul(1000);
        }
        if let Some(s) = pick!(retention_dead_s) {
            maintenance.retention.dead_ms = s.saturating_mul(1000);
        }
        let runtime = RuntimeConfig {
            // An API node runs no built-in jobs.
            concurrency: if role.runs_jobs() { pick!(concurrency).unwrap_or(16) } else { 0 },
            queues,
            lease_ms,
            grace: Duration::from_secs(pick!(shutdown_grace_s).unwrap_or(10)),
            maintenance: Some(maintenance),
            ..RuntimeConfig::default()
        };
        let artifact_ttl_ms = match pick!(artifact_ttl_s).unwrap_or(30 * 86_400) {
            0 => None,
            s => Some(s.saturating_mul(1000)),
        };
        let max_artifact_bytes = pick!(max_artifact_bytes).unwrap_or(1 << 30);
        if !(1024..=(1 << 40)).contains(&max_artifact_bytes) {
            return Err(bad(format!(
                "max_artifact_bytes must be between 1024 and 1099511627776; got {max_artifact_bytes}"
            )));
        }
        let public_url = pick!(public_url);
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(bad(format!("public_url must start with http:// or https://; got {u:?}")));
        }
        let render_processes = match pick!(render_processes) {
            Some(n @ 1..=64) => n,
            Some(n) => return Err(bad(format!("render_processes must be between 1 and 64; got {n}"))),
            None => std::thread::available_parallelism().map_or(2, |n| n.get()).min(8),
        };
        let render_memory_mib = pick!(render_memory_mib).unwrap_or(1024);
        if !(128..=65_536).contains(&render_memory_mib) {
            return Err(bad(format!("render_memory_mib must be between 128 and 65536; got {render_memory_mib}")));
        }
        let render_timeout_s = pick!(render_timeout_s).unwrap_or(60);
        if !(1..=3600).contains(&render_timeout_s) {
            return Err(bad(format!("render_timeout_s must be between 1 and 3600; got {render_timeout_s}")));
        }
        let artifacts = pick!(artifacts).unwrap_or_else(|| data_dir.join("artifacts").display().to_string());
        let otlp_sample = pick!(otlp_sample).unwrap_or(1.0);
        if !(0.0..=1.0).contains(&otlp_sample) {
            return Err(bad(format!("otlp_sample must be between 0 and 1; got {otlp_sample}")));
        }
        let otlp = pick!(otlp_endpoint).map(|endpoint| (endpoint, otlp_sample));
        Ok(Config {
            otlp,
            render_processes,
            render_memory_bytes: render_memory_mib << 20,
            render_timeout: Duration::from_secs(render_timeout_s),
            artifacts,
            artifact_ttl_ms,
            max_artifact_bytes,
            public_url,
            listen: pick!(listen).unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address")),
            database: database_url(&data_dir, pick!(database)),
            store: StoreOptions { durability, pg: PgOptions { schema, pool_size, ..PgOptions::default() } },
            role,
            runtime,
            limits: ServerLimits { max_body_bytes, max_batch, ..ServerLimits::default() },
            metrics_token: pick!(metrics_token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("tarea-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tarea.toml");
        std::fs::write(&file, "concurrency = 3\nlisten = \"127.0.0.1:9999\"\ndurability = \"relaxed\"\n").unwrap();
        let args = ServeArgs { config: Some(file.clone()), concurrency: Some(7), ..Default::default() };
        let c = args.resolve().unwrap();
        assert_eq!(c.runtime.concurrency, 7);
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.store.durability, Durability::Relaxed);
        assert_eq!(c.limits.max_body_bytes, 1 << 20);
        std::fs::write(&file, "concurency = 3\n").unwrap();
        let err = ServeArgs { config: Some(file), ..Default::default() }.resolve().unwrap_err();
        assert!(format!("{err:#}").contains("concurency"), "{err:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_are_explained() {
        let err = ServeArgs { durability: Some("fast".into()), ..Default::default() }.resolve().unwrap_err();
        assert!(err.to_string().contains("full"));
        assert!(err.downcast_ref::<ConfigError>().is_some());
    }
}
