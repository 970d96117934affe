//! The app-facing flows (issue 6), against the release server on loopback:
//!
//! - `http.request`: 10,000 calls (one batch) to a local endpoint — jobs/s, and the latency a
//!   call adds, measured one call at a time on an idle server (enqueue to the endpoint's
//!   receipt, p50/p99), and the run time of a call inside the job (claim to done);
//! - `email.send`: 1,000 messages with a PDF attached to a local SMTP server — messages/s;
//! - fairness: tenant `grande` has a backlog of 100,000 jobs when tenant `chico` enqueues one;
//!   how long `chico` waits, next to how long one job takes, and how many of `grande`'s jobs
//!   were still waiting when `chico`'s ended.
//!
//! Knobs: BENCH_HTTP_N (10000), BENCH_MAIL_N (1000), BENCH_FAIR_BACKLOG (100000).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::Server;
use crate::stats::{Percentiles, rate};
use crate::{knob, say};

/// A minimal HTTP/1.1 endpoint: answers `200 ok` to everything on keep-alive connections and
/// notes when each job's call arrived (by its `Tarea-Job-Id`).
struct Endpoint {
    port: u16,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Endpoint {
    async fn start() -> Result<Endpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let record = Arc::clone(&record);
                tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(4096);
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let header =
                            |name: &str| head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()));
                        let len: usize = header("content-length:").and_then(|v| v.parse().ok()).unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        if let Some(id) = header("tarea-job-id:") {
                            record.lock().expect("lock").insert(id, Instant::now());
                        }
                        buf.drain(..end + 4 + len);
                        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Endpoint { port, seen })
    }
}

fn put(server: &Server, path: &str, body: &Value) -> Result<Value> {
    let (status, bytes) = server.sync_conn()?.request("PUT", path, Some(body.to_string().as_bytes()))?;
    ensure!(status < 300, "PUT {path} answered {status}: {}", String::from_utf8_lossy(&bytes));
    Ok(serde_json::from_slice(&bytes)?)
}

/// Waits until the batch has ended; answers when.
async fn batch_done(server: &Server, id: &str, limit: Duration) -> Result<Value> {
    let mut conn = server.conn().await?;
    let deadline = Instant::now() + limit;
    loop {
        let (_, b) = conn.get_auth(&format!("/v1/batches/{id}")).await?;
        if b["state"] != "running" {
            return Ok(b);
        }
        ensure!(Instant::now() < deadline, "the batch did not end in {limit:?}: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ms_of(v: &Value, field: &str) -> f64 {
    v[field].as_str().and_then(tarea_core::parse_rfc3339_ms).unwrap_or(0) as f64
}

async fn http_requests(server: &Server, n: usize) -> Result<()> {
    let endpoint = Endpoint::start().await?;
    let url = format!("http://127.0.0.1:{}/", endpoint.port);
    put(server, "/v1/settings/http", &json!({"allow": [url]}))?;
    let mut conn = server.conn().await?;

    // The latency one call adds, one at a time on an idle server.
    let mut added = Percentiles::default();
    for i in 0..220 {
        let start = Instant::now();
        let (status, job) = conn
            .post(
                "/v1/jobs",
                &json!({"kind": "http.request", "payload": {"url": format!("{url}uno"), "json": {"i": i}}}),
            )
            .await?;
        ensure!(status == 201, "enqueue answered {status}: {job}");
        let id = job["id"].as_str().unwrap_or_default().to_owned();
        let arrived = loop {
            if let Some(t) = endpoint.seen.lock().expect("lock").get(&id) {
                break *t;
            }
            ensure!(start.elapsed() < Duration::from_secs(10), "call {i} never arrived");
            tokio::task::yield_now().await;
        };
        if i >= 20 {
            added.add(arrived - start);
        }
    }
    say("http_request_enqueue_to_call_p50", added.ms(50.0), "ms");
    say("http_request_enqueue_to_call_p99", added.ms(99.0), "ms");

    let items: Vec<Value> = (0..n)
        .map(|i| json!({"kind": "http.request", "queue": "llamadas", "payload": {"url": format!("{url}lote"), "json": {"i": i}}}))
        .collect();
    let start = Instant::now();
    let (status, batch) = conn.post("/v1/batches", &json!({"jobs": items})).await?;
    ensure!(status == 201, "batch answered {status}: {batch}");
    let done = batch_done(server, batch["id"].as_str().unwrap_or_default(), Duration::from_secs(600)).await?;
    let elapsed = start.elapsed();
    ensure!(done["counts"]["succeeded"] == n, "not every call succeeded: {done}");
    say("http_request_batch_jobs", n as f64, "jobs");
    say("http_request_jobs_per_s", rate(n as f64, elapsed), "jobs/s");
    let mut run = Percentiles::default();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?batch={}&limit=1000&cursor={c}", batch["id"].as_str().unwrap_or_default()),
            None => format!("/v1/jobs?batch={}&limit=1000", batch["id"].as_str().unwrap_or_default()),
        };
        let (_, page) = conn.get_auth(&path).await?;
        for j in page["jobs"].as_array().into_iter().flatten() {
            let ms = (ms_of(j, "finished_at") - ms_of(j, "started_at")).max(0.0);
            run.add(Duration::from_micros((ms * 1000.0) as u64));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    say("http_request_claim_to_done_p50", run.ms(50.0), "ms");
    say("http_request_claim_to_done_p99", run.ms(99.0), "ms");
    Ok(())
}

async fn emails(server: &Server, n: usize) -> Result<()> {
    let smtp = tarea_testkit::SmtpSink::start(None).await;
    put(
        server,
        "/v1/settings/email",
        &json!({"host": "127.0.0.1", "port": smtp.addr.port(), "tls": "none", "from": "Laboratorio <informes@lab.example>"}),
    )?;
    let mut conn = server.conn().await?;
    let data: Value =
        serde_json::from_str(tarea_render::builtin::builtin("lab-report").map(|t| t.sample).unwrap_or("{}"))?;
    let (_, pdf) = conn
        .post("/v1/jobs", &json!({"kind": "pdf.render", "payload": {"template": "lab-report", "data": data}}))
        .await?;
    let id = pdf["id"].as_str().unwrap_or_default().to_owned();
    let artifact = loop {
        let (_, j) = conn.get_auth(&format!("/v1/jobs/{id}")).await?;
        if let Some(a) = j["artifacts"][0]["id"].as_str() {
            say("email_attachment_bytes", j["artifacts"][0]["size"].as_f64().unwrap_or(0.0), "bytes");
            break a.to_owned();
        }
        ensure!(j["state"] != "dead", "the PDF did not render: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"kind": "email.send", "queue": "correo", "payload": {
                "to": [format!("veterinaria{i}@clinica.example")], "subject": "Informe {{ n }}",
                "text": "Adjuntamos el informe.", "data": {"n": i}, "attachments": [{"artifact": artifact}]}})
        })
        .collect();
    let start = Instant::now();
    let (status, batch) = conn.post("/v1/batches", &json!({"jobs": items})).await?;
    ensure!(status == 201, "batch answered {status}: {batch}");
    let done = batch_done(server, batch["id"].as_str().unwrap_or_default(), Duration::from_secs(600)).await?;
    let elapsed = start.elapsed();
    ensure!(done["counts"]["succeeded"] == n, "not every message was sent: {done}");
    ensure!(smtp.messages().len() == n, "the SMTP server has {} messages", smtp.messages().len());
    say("email_messages", n as f64, "messages");
    say("email_messages_per_s", rate(n as f64, elapsed), "messages/s");
    Ok(())
}

async fn fairness(server: &Server, backlog: usize) -> Result<()> {
    let mut admin = server.conn().await?;
    let (_, big) = admin.post("/v1/keys", &json!({"tenant": "grande"})).await?;
    let (_, small) = admin.post("/v1/keys", &json!({"tenant": "chico"})).await?;
    let mut big = crate::client::Conn::open(&server.addr, big["key"].as_str().unwrap_or_default()).await?;
    let mut small = crate::client::Conn::open(&server.addr, small["key"].as_str().unwrap_or_default()).await?;
    // The backlog: `tarea.sleep` of 2 ms, so the drain lasts long enough to wait behind.
    for chunk in 0..backlog.div_ceil(1000) {
        let jobs: Vec<Value> = (0..1000.min(backlog - chunk * 1000))
            .map(|i| json!({"kind": "tarea.sleep", "payload": {"ms": 2}, "tags": [format!("g{}", i % 2)]}))
            .collect();
        let (status, _) = big.post("/v1/jobs/batch", &json!({"jobs": jobs})).await?;
        ensure!(status == 201, "backlog enqueue answered {status}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let (_, job) = small.post("/v1/jobs", &json!({"kind": "tarea.sleep", "payload": {"ms": 2}})).await?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let done = loop {
        let (_, j) = small.get_auth(&format!("/v1/jobs/{id}")).await?;
        if j["state"] == "succeeded" {
            break j;
        }
        ensure!(start.elapsed() < Duration::from_secs(600), "the small tenant's job never ran");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let waited = start.elapsed();
    let (_, queues) = big.get_auth("/v1/queues").await?;
    let left: u64 =
        queues["queues"].as_array().into_iter().flatten().map(|q| q["counts"]["queued"].as_u64().unwrap_or(0)).sum();
    say("fairness_backlog_of_other_tenant", backlog as f64, "jobs");
    say("fairness_small_tenant_enqueue_to_done", waited.as_secs_f64() * 1000.0, "ms");
    say("fairness_small_tenant_run_time", ms_of(&done, "finished_at") - ms_of(&done, "started_at"), "ms");
    say("fairness_other_tenant_jobs_still_queued", left as f64, "jobs");
    Ok(())
}

/// Runs the three parts on one fresh server each.
pub async fn run() -> Result<()> {
    {
        let server = Server::start(&["--durability", "full"]).await?;
        http_requests(&server, knob("BENCH_HTTP_N", 10_000)).await?;
    }
    {
        let server = Server::start(&["--durability", "full"]).await?;
        emails(&server, knob("BENCH_MAIL_N", 1000)).await?;
    }
    let server = Server::start(&["--durability", "full"]).await?;
    fairness(&server, knob("BENCH_FAIR_BACKLOG", 100_000)).await
}
