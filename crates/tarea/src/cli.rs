//! The command line.
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::ServeArgs;

/// tarea: background jobs for web apps that produce documents.
#[derive(Debug, Parser)]
#[command(name = "tarea", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format: text or json.
    #[arg(long, global = true, env = "TAREA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `tarea=debug`; without it RUST_LOG is read (default: info).
    #[arg(long, global = true, env = "TAREA_LOG")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (HTTP API and workers).
    Serve(Box<ServeArgs>),
    /// Manage API keys in the store directly.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Work with jobs on a running server.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Manage schedules (cron jobs) on a running server.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Measure in-process throughput (drain of no-op jobs) at several backlog sizes.
    Bench(BenchArgs),
    /// A renderer process: `serve` starts these itself and speaks to them on stdin/stdout.
    #[command(hide = true)]
    RenderWorker,
}

/// Where the store is, for commands that open it directly.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Configuration file, read like `serve` reads it (default: ./tarea.toml when it exists).
    #[arg(long, env = "TAREA_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Folder for the embedded store (default: ./tarea-data).
    #[arg(long, env = "TAREA_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Database URL, e.g. sqlite:///var/lib/tarea/tarea.db or postgres://tarea@db/app (default: the
    /// file tarea.db in the data dir).
    #[arg(long, env = "TAREA_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// PostgreSQL schema of tarea's tables (default: tarea).
    #[arg(long, env = "TAREA_DATABASE_SCHEMA")]
    pub schema: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key (and its tenant, if new); prints the key alone on stdout.
    Create {
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// Make it an admin key (may manage tenants and keys, and see every tenant).
        #[arg(long)]
        admin: bool,
        /// Make it a read-only key: it sees what its tenant has (with --admin, every tenant's)
        /// and changes nothing, in the API and in the dashboard.
        #[arg(long)]
        read_only: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// How to reach a running server.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// The server's base URL.
    #[arg(long, env = "TAREA_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key.
    #[arg(long, env = "TAREA_KEY", hide_env_values = true)]
    pub key: String,
}

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Create or replace a schedule; prints its view (with its next runs) as JSON.
    Put {
        /// The schedule's name.
        name: String,
        /// Cron pattern, e.g. "0 2 * * *" (every day at 02:00).
        #[arg(long)]
        cron: String,
        /// IANA time zone the pattern is read in (default: UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// The kind of the job each tick makes.
        #[arg(long)]
        kind: String,
        /// Its queue.
        #[arg(long)]
        queue: Option<String>,
        /// Its payload, as JSON.
        #[arg(long)]
        payload: Option<String>,
        /// Its priority, -100..100.
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i32>,
        /// A tag of its jobs (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Missed ticks: run_once (default) or skip.
        #[arg(long)]
        missed: Option<String>,
        /// Store it paused.
        #[arg(long)]
        paused: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List schedules.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show a schedule and its next runs.
    Get {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Pause a schedule.
    Pause {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Resume a paused schedule from its next tick.
    Resume {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Make the schedule's job now; prints the job.
    Run {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Delete a schedule (its jobs stay).
    Delete {
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Create a job; prints its view as JSON.
    Enqueue {
        /// The job's kind, e.g. pdf.render.
        kind: String,
        /// Queue name.
        #[arg(long)]
        queue: Option<String>,
        /// Payload, as JSON.
        #[arg(long)]
        payload: Option<String>,
        /// Priority, -100..100.
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i32>,
        /// Start no sooner than this many milliseconds from now.
        #[arg(long)]
        delay_ms: Option<u64>,
        /// Attempts before the job is dead.
        #[arg(long)]
        max_attempts: Option<u32>,
        /// Idempotency key.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// A tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show a job.
    Get {
        /// Job id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// List jobs, newest first.
    List {
        /// Only this state.
        #[arg(long)]
        state: Option<String>,
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Only this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Continue from a next_cursor.
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Cancel a job.
    Cancel {
        /// Job id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Retry a dead, cancelled or failed job.
    Retry {
        /// Job id.
        id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchDurability {
    /// fsync on every commit.
    Full,
    /// synchronous=NORMAL.
    Relaxed,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Jobs drained per measurement.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: u64,
    /// Backlog sizes to measure at (queued jobs before the drain starts).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub backlogs: Vec<u64>,
    /// In-process concurrency.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Commit durability.
    #[arg(long, value_enum, default_value_t = BenchDurability::Full)]
    pub durability: BenchDurability,
    /// Jobs in the enqueue-to-start latency measurement (0 skips it).
    #[arg(long, default_value_t = 2000)]
    pub latency_jobs: usize,
    /// Folder for the benchmark's database (default: a temporary folder).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}
