//! `tarea bench`: in-process drain of no-op jobs. For each backlog size B it queues B + N jobs,
//! starts the runtime and times how long the first N take to succeed — so every measured claim
//! runs against a backlog of at least B, which is what "claim cost does not grow with the
//! backlog" means. Prints one `name: value unit` line per figure.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::value::RawValue;
use tarea_core::{JobSpec, Store};
use tarea_runtime::{EventHub, Metrics, Registry, Runtime, RuntimeConfig, now_ms, register_builtins};
use tarea_store::{Durability, StoreOptions};

use crate::cli::{BenchArgs, BenchDurability};

const CHUNK: u64 = 5_000;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

async fn fill(store: &dyn Store, n: u64) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let take = left.min(CHUNK);
        let specs = (0..take)
            .map(|_| {
                let mut s = JobSpec::new("tarea.noop", "bench", RawValue::from_string("{}".into()).expect("JSON"));
                s.builtin = true;
                s
            })
            .collect();
        store.job_enqueue("bench", specs, now_ms()).await?;
        left -= take;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

async fn succeeded(store: &dyn Store) -> anyhow::Result<u64> {
    Ok(store.queue_list(Some("bench")).await?.iter().map(|q| q.counts.succeeded).sum())
}

/// A handler that reports when it starts.
struct Mark(tokio::sync::mpsc::UnboundedSender<Instant>);

#[async_trait::async_trait]
impl tarea_core::Handler for Mark {
    async fn run(&self, _ctx: tarea_core::JobContext) -> Result<Box<RawValue>, tarea_core::HandlerError> {
        let _ = self.0.send(Instant::now());
        Ok(RawValue::from_string("{}".into()).expect("JSON"))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize - 1;
    sorted.get(rank.min(sorted.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

/// A store with the hub its events go to and the metrics that hub counts into.
type BenchStore = (Arc<dyn Store>, Arc<EventHub>, Arc<Metrics>);

/// A fresh store in `dir`.
async fn open_bench_store(dir: &std::path::Path, durability: Durability) -> anyhow::Result<BenchStore> {
    let _ = std::fs::remove_dir_all(dir);
    let metrics = Arc::new(Metrics::default());
    let hub = EventHub::new(Arc::clone(&metrics));
    let url = format!("sqlite://{}", dir.join("tarea.db").display());
    let options = StoreOptions { durability, ..StoreOptions::default() };
    let store = tarea_store::open_store(&url, options, hub.clone()).await.context("opening the benchmark store")?;
    Ok((store, hub, metrics))
}

/// Enqueue-to-start of a built-in handler while a producer enqueues one job at a time: from
/// the moment the enqueue is durable (the 201 point) to the handler starting.
async fn start_latency(base: &std::path::Path, durability: Durability, label: &str, n: usize) -> anyhow::Result<()> {
    let dir = base.join(format!("latency-{label}"));
    let (store, hub, metrics) = open_bench_store(&dir, durability).await?;
    let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register("bench.mark", Mark(tx));
    let config = RuntimeConfig { maintenance: None, ..RuntimeConfig::default() };
    let runtime = Runtime::start(Arc::clone(&store), registry, hub, metrics, config);
    let mut waits = Vec::with_capacity(n);
    let mut enqueues = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let mut spec = JobSpec::new("bench.mark", "latency", RawValue::from_string("{}".into()).expect("JSON"));
        spec.builtin = true;
        let asked = Instant::now();
        store.job_enqueue("bench", vec![spec], now_ms()).await?;
        let durable = Instant::now();
        let at = started.recv().await.context("the runtime stopped")?;
        if i >= n / 10 {
            waits.push(at.saturating_duration_since(durable).as_secs_f64() * 1000.0);
            enqueues.push((durable - asked).as_secs_f64() * 1000.0);
        }
    }
    enqueues.sort_by(f64::total_cmp);
    println!(
        "store_enqueue_{label}: p50 {:.3} ms, p99 {:.3} ms (one job per call, in process, no HTTP)",
        percentile(&enqueues, 50.0),
        percentile(&enqueues, 99.0)
    );
    runtime.shutdown().await;
    waits.sort_by(f64::total_cmp);
    println!(
        "enqueue_to_start_{label}: p50 {:.3} ms, p99 {:.3} ms (built-in handler, one job at a time, {n} jobs)",
        percentile(&waits, 50.0),
        percentile(&waits, 99.0)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let durability = match args.durability {
        BenchDurability::Relaxed => Durability::Relaxed,
        BenchDurability::Full => Durability::Full,
    };
    let base = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("tarea-bench-{}", std::process::id())),
    };
    println!(
        "bench: in-process drain of tarea.noop, {} jobs per figure, concurrency {}, durability {:?}",
        args.jobs, args.concurrency, args.durability
    );
    if args.latency_jobs > 0 {
        start_latency(&base, Durability::Full, "fsync", args.latency_jobs).await?;
        start_latency(&base, Durability::Relaxed, "relaxed", args.latency_jobs).await?;
    }
    let mut first_rate = None;
    for backlog in &args.backlogs {
        let dir = base.join(format!("backlog-{backlog}"));
        let (store, hub, metrics) = open_bench_store(&dir, durability).await?;
        let enqueue_rate = fill(store.as_ref(), backlog + args.jobs).await?;
        let rss_full = rss_mib();
        let mut registry = Registry::new();
        register_builtins(&mut registry);
        let config = RuntimeConfig {
            concurrency: args.concurrency,
            claim_batch: 128,
            maintenance: None,
            grace: Duration::from_secs(5),
            ..RuntimeConfig::default()
        };
        let start = Instant::now();
        let runtime = Runtime::start(Arc::clone(&store), registry, hub, metrics, config);
        while succeeded(store.as_ref()).await? < args.jobs {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        runtime.shutdown().await;
        let rate = args.jobs as f64 / elapsed;
        let first = *first_rate.get_or_insert(rate);
        println!(
            "backlog {backlog}: store enqueue {enqueue_rate:.0} jobs/s; drain {rate:.0} jobs/s ({:.0} % of the first backlog's rate); RSS with backlog {rss_full:.0} MiB",
            rate / first * 100.0
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}
