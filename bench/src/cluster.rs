//! The foundation benchmark on PostgreSQL with 1, 2 and 3 nodes sharing one schema: enqueue
//! latency, enqueue-to-claim across nodes (enqueued on the first node, long-polled on the
//! last), the drain of built-in no-op jobs by every node together, and the CPU PostgreSQL and
//! the nodes spent on it. `BENCH_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/postgres)
//! names the server; each run uses a schema of its own and drops it afterwards. Knobs:
//! BENCH_PG_NODES (1,2,3), BENCH_PG_DRAIN_JOBS (100000), BENCH_PG_LATENCY_N (2000),
//! BENCH_PG_E2S_N (500), BENCH_PG_CONCURRENCY (128 built-in jobs at once per node).
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::server::Server;
use crate::stats::{Percentiles, rate};
use crate::{knob, say};

fn database_url() -> String {
    std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub(crate) fn psql(sql: &str) -> Result<()> {
    let status = Command::new("psql")
        .arg(database_url())
        .args(["-qAt", "-c", sql])
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .status()
        .context("running psql")?;
    anyhow::ensure!(status.success(), "psql failed on: {sql}");
    Ok(())
}

/// CPU seconds (user + system) used so far by the processes whose command name starts with
/// `comm`, or by the given pids.
fn cpu_seconds(filter: impl Fn(u32, &str) -> bool) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc") else { return f64::NAN };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = &stat[open + 1..close];
        if !filter(pid, comm) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let (utime, stime) = (fields.get(11), fields.get(12));
        if let (Some(u), Some(s)) = (utime, stime) {
            total += (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / ticks;
        }
    }
    total
}

fn postgres_cpu() -> f64 {
    cpu_seconds(|_, comm| comm.starts_with("postgres"))
}

async fn succeeded(server: &Server, queue: &str) -> Result<u64> {
    let mut conn = server.conn().await?;
    let (_, v) = conn.get_auth("/v1/queues").await?;
    Ok(v["queues"]
        .as_array()
        .map(|qs| {
            qs.iter().filter(|q| q["name"] == queue).map(|q| q["counts"]["succeeded"].as_u64().unwrap_or(0)).sum()
        })
        .unwrap_or(0))
}

async fn run_cluster(n: usize, drain_jobs: usize, latency_n: usize, e2s_n: usize) -> Result<()> {
    let schema = format!("bench_{}_{n}", std::process::id());
    let url = database_url();
    let concurrency = knob("BENCH_PG_CONCURRENCY", 128).to_string();
    let durability = std::env::var("BENCH_PG_DURABILITY").unwrap_or_else(|_| "full".into());
    let args = [
        "--database",
        url.as_str(),
        "--schema",
        schema.as_str(),
        "--concurrency",
        concurrency.as_str(),
        "--durability",
        durability.as_str(),
    ];
    let mut nodes = vec![Server::start_node(&args, true).await?];
    for _ in 1..n {
        let mut node = Server::start_node(&args, false).await?;
        node.key = nodes[0].key.clone();
        nodes.push(node);
    }
    let label = format!("pg_{n}node");

    // Enqueue latency: one keep-alive client, one job at a time, on the first node.
    let mut conn = nodes[0].conn().await?;
    let mut p = Percentiles::default();
    for i in 0..latency_n + latency_n / 10 {
        let start = Instant::now();
        let (status, _) =
            conn.post("/v1/jobs", &json!({"kind": "bench.ext", "queue": "latency", "payload": {"n": i}})).await?;
        anyhow::ensure!(status == 201, "enqueue answered {status}");
        if i >= latency_n / 10 {
            p.add(start.elapsed());
        }
    }
    say(&format!("{label}_enqueue_p50"), p.ms(50.0), "ms");
    say(&format!("{label}_enqueue_p99"), p.ms(99.0), "ms");

    // Enqueue-to-claim across nodes: the producer on the first node, a long poll on the last.
    let (_, mut e2s) = crate::enqueue_to_claim_between(&nodes[0], &nodes[n - 1], e2s_n).await?;
    say(&format!("{label}_enqueue_to_claim_across_nodes_p50"), e2s.ms(50.0), "ms");
    say(&format!("{label}_enqueue_to_claim_across_nodes_p99"), e2s.ms(99.0), "ms");

    // Drain: the queue is paused, filled, then resumed; every node's runtime works on it.
    let (status, _) = conn.post("/v1/queues/drain/pause", &json!({})).await?;
    anyhow::ensure!(status == 200, "pause answered {status}");
    let jobs: Vec<Value> =
        (0..1000).map(|i| json!({"kind": "tarea.noop", "queue": "drain", "payload": {"n": i}})).collect();
    let body = bytes::Bytes::from(json!({ "jobs": jobs }).to_string());
    for _ in 0..drain_jobs / 1000 {
        let status = conn.post_raw("/v1/jobs/batch", body.clone()).await?;
        anyhow::ensure!(status == 201, "batch answered {status}");
    }
    let pids: Vec<u32> = nodes.iter().map(Server::pid).collect();
    let (pg_before, nodes_before) = (postgres_cpu(), cpu_seconds(|pid, _| pids.contains(&pid)));
    let start = Instant::now();
    let (status, _) = conn.post("/v1/queues/drain/resume", &json!({})).await?;
    anyhow::ensure!(status == 200, "resume answered {status}");
    let target = (drain_jobs / 1000 * 1000) as u64;
    while succeeded(&nodes[0], "drain").await? < target {
        anyhow::ensure!(start.elapsed() < Duration::from_secs(600), "the drain did not finish in 10 minutes");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = start.elapsed();
    let (pg_cpu, nodes_cpu) = (postgres_cpu() - pg_before, cpu_seconds(|pid, _| pids.contains(&pid)) - nodes_before);
    say(&format!("{label}_drain"), rate(target as f64, elapsed), "jobs/s");
    say(&format!("{label}_drain_postgres_cpu"), pg_cpu / elapsed.as_secs_f64(), "cores");
    say(&format!("{label}_drain_tarea_cpu"), nodes_cpu / elapsed.as_secs_f64(), "cores");
    drop(nodes);
    tokio::time::sleep(Duration::from_millis(500)).await;
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
}

/// Runs the cluster benchmark with 1, 2 and 3 nodes.
pub async fn run() -> Result<()> {
    let drain_jobs = knob("BENCH_PG_DRAIN_JOBS", 100_000);
    let latency_n = knob("BENCH_PG_LATENCY_N", 2000);
    let e2s_n = knob("BENCH_PG_E2S_N", 500);
    let nodes: Vec<usize> = std::env::var("BENCH_PG_NODES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    for n in nodes {
        run_cluster(n, drain_jobs, latency_n, e2s_n).await?;
    }
    Ok(())
}
