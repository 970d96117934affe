//! The HTTP benchmark: starts the release `tarea serve` as a child process on loopback and
//! measures it the way an app sees it. Prints one `name: value unit` line per figure.
//!
//!   cargo build --release && cargo run --release -p tarea-bench
//!
//! Knobs (environment): BENCH_LATENCY_N (5000), BENCH_BATCHES (100), BENCH_WORK_JOBS (50000),
//! BENCH_E2S_N (1000), BENCH_BACKLOG (1000000; 0 skips the memory-at-backlog figure).
//! `BENCH_ONLY=renders` runs the PDF and label part (renders.rs), `BENCH_ONLY=documents` the
//! CSV/XLSX part, `BENCH_ONLY=flows` the app flows (flows.rs: http.request, e-mail, fairness),
//! `BENCH_ONLY=imports` the spreadsheet imports (imports.rs), `BENCH_ONLY=ocr` OCR (ocr.rs). `BENCH_ONLY=cluster` runs the PostgreSQL cluster part alone (see cluster.rs for its knobs)
//! and `BENCH_ONLY=listing` the jobs list at 1,000,000 stored jobs on SQLite and PostgreSQL
//! (listing.rs); neither is part of the default run, which needs no database server.
mod client;
mod cluster;
mod documents;
mod flows;
mod imports;
mod listing;
mod ocr;
mod renders;
mod server;
mod stats;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use client::{Conn, SyncConn};
use server::Server;
use stats::{Percentiles, rate};

/// The allocator of the `tarea` binary, so renders measured in this process (renders.rs) cost
/// what they cost in a renderer process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn say(name: &str, value: f64, unit: &str) {
    println!("{name}: {value:.3} {unit}");
}

async fn enqueue_latency(server: &Server, label: &str, n: usize) -> Result<()> {
    let mut conn = server.sync_conn()?;
    let label = label.to_owned();
    let mut p = tokio::task::spawn_blocking(move || {
        let mut p = Percentiles::default();
        for i in 0..n + n / 10 {
            let body = json!({"kind": "bench.ext", "queue": "latency", "payload": {"protocolo": i}}).to_string();
            let start = Instant::now();
            let (status, _) = conn.request("POST", "/v1/jobs", Some(body.as_bytes()))?;
            anyhow::ensure!(status == 201, "enqueue answered {status}");
            if i >= n / 10 {
                p.add(start.elapsed());
            }
        }
        anyhow::Ok(p)
    })
    .await??;
    say(&format!("enqueue_{label}_p50"), p.ms(50.0), "ms");
    say(&format!("enqueue_{label}_p99"), p.ms(99.0), "ms");
    Ok(())
}

async fn batch_throughput(server: &Server, label: &str, connections: usize, batches: usize) -> Result<()> {
    let jobs: Vec<Value> =
        (0..1000).map(|i| json!({"kind": "bench.ext", "queue": "batch", "payload": {"n": i}})).collect();
    let body = bytes::Bytes::from(json!({ "jobs": jobs }).to_string());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut conn = server.conn().await?;
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..batches / connections {
                let status = conn.post_raw("/v1/jobs/batch", body.clone()).await?;
                anyhow::ensure!(status == 201, "batch answered {status}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let total = (batches / connections * connections * 1000) as f64;
    say(&format!("batch_enqueue_{label}_{connections}conn"), rate(total, start.elapsed()), "jobs/s");
    Ok(())
}

async fn external_workers(server: &Server, jobs: usize, workers: usize) -> Result<()> {
    run_workers(server, jobs, workers, false).await
}

/// Workers that claim 100 and complete them with one `POST /v1/worker/complete`.
async fn external_workers_batched(server: &Server, jobs: usize, workers: usize) -> Result<()> {
    run_workers(server, jobs, workers, true).await
}

async fn run_workers(server: &Server, jobs: usize, workers: usize, batched: bool) -> Result<()> {
    let mut conn = server.conn().await?;
    for chunk in 0..jobs.div_ceil(1000) {
        let n = (jobs - chunk * 1000).min(1000);
        let batch: Vec<Value> =
            (0..n).map(|i| json!({"kind": "bench.work", "queue": "work", "payload": {"n": i}})).collect();
        conn.post("/v1/jobs/batch", &json!({ "jobs": batch })).await?;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let mut conn = server.conn().await?;
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let claim =
                    json!({"queues": ["work"], "kinds": ["bench.work"], "max": 100, "worker": format!("bench-{w}")});
                let (_, v) = conn.post("/v1/worker/claim", &claim).await?;
                let claimed = v["jobs"].as_array().cloned().unwrap_or_default();
                if claimed.is_empty() {
                    return anyhow::Ok(done);
                }
                if batched {
                    let items: Vec<Value> = claimed
                        .iter()
                        .map(|j| json!({"id": j["id"], "attempt": j["attempt"], "result": {"ok": true}}))
                        .collect();
                    let (status, v) = conn.post("/v1/worker/complete", &json!({ "jobs": items })).await?;
                    anyhow::ensure!(status == 200, "complete answered {status}");
                    done += v["results"].as_array().map(|r| r.iter().filter(|x| x["ok"] == true).count()).unwrap_or(0);
                    continue;
                }
                for job in claimed {
                    let id = job["id"].as_str().unwrap_or_default();
                    let body = format!(r#"{{"attempt":{},"result":{{"ok":true}}}}"#, job["attempt"]);
                    let status = conn.post_raw(&format!("/v1/jobs/{id}/complete"), body.into()).await?;
                    anyhow::ensure!(status == 200, "complete answered {status}");
                    done += 1;
                }
            }
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    anyhow::ensure!(done == jobs, "completed {done} of {jobs}");
    let name = if batched { "claim100_complete_batch" } else { "claim100_complete_each" };
    say(&format!("external_workers_{workers}x_{name}"), rate(jobs as f64, start.elapsed()), "jobs/s");
    Ok(())
}

/// Enqueue-to-claim: a long poll waits on `worker` while a producer enqueues one job at a time
/// on `producer` (the same server, or another node of a cluster). Returns the times from the
/// enqueue request and from its `201` to the claim's answer.
pub(crate) async fn enqueue_to_claim_between(
    producer: &Server,
    worker: &Server,
    n: usize,
) -> Result<(Percentiles, Percentiles)> {
    let mut producer = producer.conn().await?;
    let mut worker = worker.conn().await?;
    let (mut from_request, mut from_answer) = (Percentiles::default(), Percentiles::default());
    for i in 0..n {
        let claim = tokio::spawn(async move {
            let body = json!({"queues": ["e2s"], "max": 1, "wait_ms": 5000});
            let r = worker.post("/v1/worker/claim", &body).await;
            (worker, r, Instant::now())
        });
        // Let the long poll reach the server before the job exists.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = Instant::now();
        let (status, _) =
            producer.post("/v1/jobs", &json!({"kind": "bench.e2s", "queue": "e2s", "payload": {"n": i}})).await?;
        anyhow::ensure!(status == 201, "enqueue answered {status}");
        let answered = Instant::now();
        let (w, got, claimed_at) = claim.await?;
        worker = w;
        let (_, v) = got?;
        let job = &v["jobs"][0];
        anyhow::ensure!(job["id"].is_string(), "the long poll returned no job: {v}");
        from_request.add(claimed_at - sent);
        from_answer.add(claimed_at.saturating_duration_since(answered));
        let id = job["id"].as_str().unwrap_or_default();
        worker.post(&format!("/v1/jobs/{id}/complete"), &json!({"attempt": job["attempt"]})).await?;
    }
    Ok((from_request, from_answer))
}

async fn enqueue_to_claim(server: &Server, label: &str, n: usize) -> Result<()> {
    let (mut from_request, mut from_answer) = enqueue_to_claim_between(server, server, n).await?;
    say(&format!("enqueue_to_claim_{label}_from_request_p50"), from_request.ms(50.0), "ms");
    say(&format!("enqueue_to_claim_{label}_from_request_p99"), from_request.ms(99.0), "ms");
    say(&format!("enqueue_to_claim_{label}_after_201_p50"), from_answer.ms(50.0), "ms");
    say(&format!("enqueue_to_claim_{label}_after_201_p99"), from_answer.ms(99.0), "ms");
    Ok(())
}

async fn backlog_memory(server: &Server, backlog: usize) -> Result<()> {
    let mut tasks = Vec::new();
    let per = backlog / 2;
    for _ in 0..2 {
        let mut conn = server.conn().await?;
        tasks.push(tokio::spawn(async move {
            let jobs: Vec<Value> =
                (0..1000).map(|i| json!({"kind": "bench.ext", "queue": "backlog", "payload": {"n": i}})).collect();
            let body = bytes::Bytes::from(json!({ "jobs": jobs }).to_string());
            for _ in 0..per / 1000 {
                conn.post_raw("/v1/jobs/batch", body.clone()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let mut conn = server.conn().await?;
    let start = Instant::now();
    let (status, _) = conn.post("/v1/worker/claim", &json!({"queues": ["backlog"], "max": 100})).await?;
    anyhow::ensure!(status == 200);
    say("claim_100_at_backlog_ms", start.elapsed().as_secs_f64() * 1000.0, "ms");
    tokio::time::sleep(Duration::from_secs(2)).await;
    say(&format!("rss_with_{backlog}_queued"), server.rss_mib(), "MiB");
    Ok(())
}

/// The HTTP floor: `GET /healthz` with the blocking client the latency figures use, and with
/// the async client (hyper's connection task) for comparison.
async fn healthz_latency(server: &Server, n: usize) -> Result<()> {
    let mut sync = server.sync_conn()?;
    let mut p = tokio::task::spawn_blocking(move || {
        let mut p = Percentiles::default();
        for _ in 0..n {
            let start = Instant::now();
            let (status, _) = sync.request("GET", "/healthz", None)?;
            anyhow::ensure!(status == 200);
            p.add(start.elapsed());
        }
        anyhow::Ok(p)
    })
    .await??;
    say("http_floor_healthz_p50", p.ms(50.0), "ms");
    let mut conn = server.conn().await?;
    let mut p = Percentiles::default();
    for _ in 0..n {
        let start = Instant::now();
        let (status, _) = conn.get("/healthz").await?;
        anyhow::ensure!(status == 200);
        p.add(start.elapsed());
    }
    say("http_floor_healthz_async_client_p50", p.ms(50.0), "ms");
    Ok(())
}

fn wanted(name: &str) -> bool {
    std::env::var("BENCH_ONLY").map(|only| only.split(',').any(|o| o == name)).unwrap_or(true)
}

#[tokio::main]
async fn main() -> Result<()> {
    if let Some(done) = imports::child() {
        return done;
    }
    let (latency_n, batches, work_jobs) =
        (knob("BENCH_LATENCY_N", 5000), knob("BENCH_BATCHES", 100), knob("BENCH_WORK_JOBS", 50_000));
    let (e2s_n, backlog) = (knob("BENCH_E2S_N", 1000), knob("BENCH_BACKLOG", 1_000_000));
    println!(
        "machine: {} cores; tarea {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        server::binary().display()
    );

    if std::env::var("BENCH_ONLY").is_ok_and(|o| o.split(',').any(|x| x == "cluster")) {
        return cluster::run().await;
    }
    if std::env::var("BENCH_ONLY").is_ok_and(|o| o.split(',').any(|x| x == "listing")) {
        return listing::run().await;
    }
    if wanted("imports") {
        imports::run().await?;
    }
    if wanted("ocr") {
        ocr::run().await?;
    }
    if std::env::var("BENCH_ONLY").is_ok_and(|o| o.split(',').all(|x| x == "imports" || x == "ocr")) {
        return Ok(());
    }
    if wanted("renders") {
        renders::run().await?;
        if std::env::var("BENCH_ONLY").is_ok_and(|o| !o.split(',').any(|x| x == "documents")) {
            return Ok(());
        }
    }
    if wanted("documents") {
        documents::run().await?;
        if std::env::var("BENCH_ONLY").is_ok_and(|o| !o.split(',').any(|x| x == "flows")) {
            return Ok(());
        }
    }
    if wanted("flows") {
        flows::run().await?;
        if std::env::var("BENCH_ONLY").is_ok() {
            return Ok(());
        }
    }
    let full = Server::start(&["--durability", "full"]).await?;
    say("cold_start_to_readyz", full.cold_start.as_secs_f64() * 1000.0, "ms");
    tokio::time::sleep(Duration::from_secs(1)).await;
    say("rss_idle", full.rss_mib(), "MiB");
    if wanted("latency") {
        healthz_latency(&full, 2000).await?;
        enqueue_latency(&full, "fsync", latency_n).await?;
    }
    if wanted("e2s") {
        enqueue_to_claim(&full, "fsync", e2s_n).await?;
    }
    if wanted("batch") {
        batch_throughput(&full, "fsync", 1, batches).await?;
        batch_throughput(&full, "fsync", 2, batches).await?;
        batch_throughput(&full, "fsync", 4, batches).await?;
    }
    if wanted("workers") {
        external_workers(&full, work_jobs, 8).await?;
        external_workers(&full, work_jobs, 32).await?;
        external_workers_batched(&full, work_jobs, 8).await?;
    }
    if wanted("backlog") && backlog > 0 {
        backlog_memory(&full, backlog).await?;
    }
    drop(full);

    let relaxed = Server::start(&["--durability", "relaxed"]).await?;
    if wanted("latency") {
        healthz_latency(&relaxed, 2000).await?;
        enqueue_latency(&relaxed, "relaxed", latency_n).await?;
    }
    if wanted("e2s") {
        enqueue_to_claim(&relaxed, "relaxed", e2s_n).await?;
    }
    if wanted("batch") {
        batch_throughput(&relaxed, "relaxed", 2, batches).await?;
    }
    Ok(())
}
