//! PDFs and labels (issue 5), beside the users' ReportLab code measured in the same minutes:
//!
//! - in this process, warm (what a renderer process spends): the 4-page lab report (simple and
//!   justified typography), one label, 1,000 labels in one PDF;
//! - the same report through the renderer processes (what isolation costs per render);
//! - ReportLab (`render_report_pdf`, `render_label_pdf` of ../shared/bench/baseline/tasks.py,
//!   with its .venv), alternated with ours round by round, so the ratio is of one moment;
//! - 500 report jobs through the server: jobs/s and enqueue-to-done p50;
//! - memory over many renders in one renderer process, one in ten a label (RSS after 1,000,
//!   half of them and all).
//!
//! `BENCH_ONLY=renders ./target/release/tarea-bench`; knobs BENCH_RENDER_N (40 renders per
//! figure and round), BENCH_RENDER_ROUNDS (3), BENCH_REPORT_JOBS (500), BENCH_RENDER_MEMORY_N
//! (10000), BENCH_BASELINE (the baseline folder; default ../shared/bench/baseline).
//! `BENCH_PROFILE=label` (or `report`) only renders that document again and again for 20 s,
//! with different data each time, for a profiler attached to this process.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tarea_render::{LabelCheck, Options, Renderer, Request, builtin};
use tokio_util::sync::CancellationToken;

use crate::server::Server;
use crate::{knob, say};

fn sample(name: &str) -> Value {
    serde_json::from_str(builtin::builtin(name).expect("built-in").sample).expect("sample JSON")
}

fn request(name: &str) -> Request {
    Request {
        template: format!("{name}@0"),
        labels: builtin::builtin(name).and_then(|b| b.label_size_mm).map(|s| LabelCheck { size_mm: Some(s) }),
        options: Options::default(),
        ident: "bench".into(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// `data` with every text of more than 8 characters made unique to render `i`, as real
/// reports differ: Typst memoizes layout by input, and the same data again would be laid out
/// from its cache (a report then takes about 2 ms instead of 10+).
fn vary(data: &Value, i: usize) -> Value {
    match data {
        Value::String(s) if s.chars().count() > 8 && !s.starts_with("http") => Value::String(format!("{s} {i}")),
        Value::String(s) if s.starts_with("http") => Value::String(format!("{s}{i}")),
        Value::Array(a) => Value::Array(a.iter().map(|v| vary(v, i)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), vary(v, i))).collect()),
        other => other.clone(),
    }
}

/// Median ms of `n` renders of different data, after one warm-up. The time is what a renderer
/// process spends before it answers: it tidies Typst's caches after (`Renderer::tidy`).
fn time_renders(r: &mut Renderer, name: &str, data: &Value, n: usize) -> Result<f64> {
    let req = request(name);
    r.render(&req, serde_json::to_vec(&vary(data, usize::MAX))?).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    r.tidy();
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let bytes = serde_json::to_vec(&vary(data, i + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))?;
        let t = Instant::now();
        r.render(&req, bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        // As a renderer process does once its answer is written.
        r.tidy();
    }
    Ok(median(times))
}

/// Makes every timed render's data new across figures and rounds.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1_000_000);

fn labels(n: usize) -> Value {
    let one = sample("reception-label")["labels"][0].clone();
    let list: Vec<Value> = (0..n)
        .map(|i| {
            let mut l = one.clone();
            l["protocol_number"] = format!("HP 26/{i:05}").into();
            l["url"] = format!("https://lab.example.org/protocols/public/{i:08}/").into();
            l
        })
        .collect();
    json!({ "labels": list })
}

pub(crate) fn baseline_dir() -> PathBuf {
    std::env::var("BENCH_BASELINE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/baseline"))
}

/// ReportLab's report and label medians (ms) over `n` runs, or None without the baseline venv.
fn reportlab(n: usize) -> Result<Option<(f64, f64)>> {
    let dir = baseline_dir();
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        return Ok(None);
    }
    let code = format!(
        r#"
import json, os, statistics, sys, time
sys.path.insert(0, {dir:?})
import tasks
fx = os.path.join({dir:?}, "..", "fixtures")
report = json.load(open(os.path.join(fx, "report.json"), encoding="utf-8"))
label = json.load(open(os.path.join(fx, "label.json"), encoding="utf-8"))
def med(fn, n):
    fn()
    t = []
    for _ in range(n):
        s = time.perf_counter(); fn(); t.append((time.perf_counter() - s) * 1000)
    return statistics.median(t)
print(json.dumps([med(lambda: tasks.render_report_pdf(report), {n}), med(lambda: tasks.render_label_pdf(label), {n})]))
"#,
        dir = dir.display().to_string()
    );
    let out = std::process::Command::new(&python).arg("-c").arg(code).current_dir(&dir).output()?;
    anyhow::ensure!(out.status.success(), "the baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<f64> = serde_json::from_slice(&out.stdout).context("the baseline's figures")?;
    Ok(Some((v[0], v[1])))
}

pub async fn run() -> Result<()> {
    let n = knob("BENCH_RENDER_N", 40);
    let rounds = knob("BENCH_RENDER_ROUNDS", 3);
    let report = sample("lab-report");
    let mut justified = report.clone();
    justified["justify"] = true.into();
    let label = sample("reception-label");
    let thousand = labels(1000);

    let mut r = Renderer::new();
    if let Ok(which) = std::env::var("BENCH_PROFILE") {
        let (name, data) = if which == "report" { ("lab-report", &report) } else { ("reception-label", &label) };
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < Duration::from_secs(20) {
            let bytes = serde_json::to_vec(&vary(data, 800_000 + i))?;
            r.render(&request(name), bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
            r.tidy();
            i += 1;
        }
        say(&format!("profile_{which}_renders"), i as f64, "renders");
        return Ok(());
    }

    // Ours and ReportLab's, alternated round by round.
    let (mut ours_report, mut ours_label, mut theirs_report, mut theirs_label) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        ours_report.push(time_renders(&mut r, "lab-report", &report, n)?);
        ours_label.push(time_renders(&mut r, "reception-label", &label, n)?);
        match reportlab(n.min(20))? {
            Some((rep, lab)) => {
                theirs_report.push(rep);
                theirs_label.push(lab);
            }
            None if round == 0 => {
                println!("baseline: {} has no .venv; run its setup.sh to compare", baseline_dir().display())
            }
            None => {}
        }
    }
    let (rep, lab) = (median(ours_report), median(ours_label));
    say("render_report_4_pages_p50", rep, "ms");
    say("render_label_p50", lab, "ms");
    if !theirs_report.is_empty() {
        let (trep, tlab) = (median(theirs_report), median(theirs_label));
        say("reportlab_report_p50", trep, "ms");
        say("reportlab_label_p50", tlab, "ms");
        say("report_speedup_vs_reportlab", trep / rep, "x");
        say("label_speedup_vs_reportlab", tlab / lab, "x");
    }
    // Where a report's time goes.
    let (mut layout, mut pdf) = (vec![], vec![]);
    for i in 0..n {
        let bytes = serde_json::to_vec(&vary(&report, 950_000 + i))?;
        let (out, _) = r.render(&request("lab-report"), bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        r.tidy();
        layout.push(out.compile_ms);
        pdf.push(out.pdf_ms);
    }
    say("render_report_layout_p50", median(layout), "ms");
    say("render_report_pdf_write_p50", median(pdf), "ms");
    // Where a label's time goes.
    let (mut layout, mut check, mut pdf) = (vec![], vec![], vec![]);
    for i in 0..n {
        let bytes = serde_json::to_vec(&vary(&label, 900_000 + i))?;
        let (out, _) = r.render(&request("reception-label"), bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        r.tidy();
        layout.push(out.compile_ms);
        check.push(out.check_ms);
        pdf.push(out.pdf_ms);
    }
    say("render_label_layout_p50", median(layout), "ms");
    say("render_label_qr_check_p50", median(check), "ms");
    say("render_label_pdf_write_p50", median(pdf), "ms");
    say("render_report_justified_p50", time_renders(&mut r, "lab-report", &justified, n)?, "ms");
    let mut times = vec![];
    let mut split = None;
    for run in 0..3 {
        let bytes = serde_json::to_vec(&vary(&thousand, run))?;
        let t = Instant::now();
        let (out, pdf) = r.render(&request("reception-label"), bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        r.tidy();
        split = Some((out, pdf.len()));
    }
    say("render_1000_labels_one_pdf", median(times), "ms");
    if let Some((out, size)) = split {
        say("render_1000_labels_layout", out.compile_ms, "ms");
        say("render_1000_labels_qr_check", out.check_ms, "ms");
        say("render_1000_labels_pdf_write", out.pdf_ms, "ms");
        say("render_1000_labels_pdf_size", size as f64 / 1_048_576.0, "MiB");
    }

    let pool = renderer_pool().await?;
    isolation_cost(&pool, &report, n, rep).await?;
    report_jobs(&report).await?;
    renderer_memory(&pool, &report, &label).await
}

/// One renderer process, as the server runs them (`tarea render-worker`).
async fn renderer_pool() -> Result<std::sync::Arc<tarea_docs::RenderPool>> {
    let mut config = tarea_docs::RenderConfig::new(crate::server::binary(), vec!["render-worker".into()]);
    config.processes = 1;
    let pool = tarea_docs::RenderPool::new(config);
    pool.warm().await.map_err(|e| anyhow::anyhow!(e))?;
    Ok(pool)
}

/// Memory over many renders in one renderer process: flat means Typst's caches are bounded
/// and nothing piles up. Every tenth render is a label (its check runs on a thread of its
/// own), the rest reports, each with different data; the process's RSS is read after 1,000
/// renders, half of them and all.
async fn renderer_memory(pool: &tarea_docs::RenderPool, report: &Value, label: &Value) -> Result<()> {
    let total = knob("BENCH_RENDER_MEMORY_N", 10_000);
    let (report_template, label_template) = (
        builtin::builtin("lab-report").expect("built-in").template(),
        builtin::builtin("reception-label").expect("built-in").template(),
    );
    let cancel = CancellationToken::new();
    let mut checkpoints = vec![];
    let t = Instant::now();
    for i in 1..=total {
        let (template, name, data) = if i % 10 == 0 {
            (&label_template, "reception-label", label)
        } else {
            (&report_template, "lab-report", report)
        };
        let bytes = serde_json::to_vec(&vary(data, 2_000_000 + i))?;
        pool.render(template, request(name), bytes, None, &cancel).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if i == 1000 || i == total / 2 || i == total {
            checkpoints.push((i, renderer_rss_mib()));
        }
    }
    for (i, rss) in checkpoints {
        say(&format!("renderer_rss_after_{i}_renders"), rss, "MiB");
    }
    say("renderer_renders_per_s", total as f64 / t.elapsed().as_secs_f64(), "/s");
    Ok(())
}

/// The resident memory of this process's renderer processes.
fn renderer_rss_mib() -> f64 {
    const ARG: &[u8] = b"render-worker";
    rss_sum_mib(children_of(std::process::id()).into_iter().filter(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(ARG.len()).any(|w| w == ARG))
    }))
}

/// The report through a renderer process (IPC, the data in and the PDF out) against the same
/// render in this process.
async fn isolation_cost(pool: &tarea_docs::RenderPool, report: &Value, n: usize, in_process: f64) -> Result<()> {
    let template = builtin::builtin("lab-report").expect("built-in").template();
    let cancel = CancellationToken::new();
    let mut times = vec![];
    for i in 0..n {
        let data = serde_json::to_vec(&vary(report, 500_000 + i))?;
        let t = Instant::now();
        pool.render(&template, request("lab-report"), data, None, &cancel)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let through = median(times);
    say("render_report_via_renderer_process_p50", through, "ms");
    say("render_isolation_cost_per_render", through - in_process, "ms");
    Ok(())
}

/// 500 report jobs through the server, enqueued in one batch: throughput from the first
/// enqueue to the last `succeeded`, and each job's enqueue-to-done.
async fn report_jobs(report: &Value) -> Result<()> {
    let jobs = knob("BENCH_REPORT_JOBS", 500);
    let server = Server::start(&["--durability", "full"]).await?;
    let mut conn = server.conn().await?;
    // Let the renderer processes start (they warm up in the background).
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A cache hit: a job whose key names a finished render is answered with it.
    let keyed = json!({"kind": "pdf.render", "cache_key": "bench-cache", "payload": {"template": "lab-report", "data": report}});
    let (_, first) = conn.post("/v1/jobs", &keyed).await?;
    let id = first["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, j) = conn.get_auth(&format!("/v1/jobs/{id}")).await?;
        if j["state"] == "succeeded" {
            break;
        }
        anyhow::ensure!(j["state"] != "dead", "the cached job died: {j}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut sync = server.sync_conn()?;
    let body = serde_json::to_vec(&keyed)?;
    let mut hits = vec![];
    for _ in 0..200 {
        let t = Instant::now();
        let (status, _) = sync.request("POST", "/v1/jobs", Some(&body))?;
        hits.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(status == 200, "a cache hit answered {status}");
    }
    say("cache_hit_answer_p50", median(hits), "ms");

    let started = Instant::now();
    // Batches of 50 (a report's data is 13 KB; a request body is at most 1 MiB).
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(50) {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"kind": "pdf.render", "tags": ["bench-reports"], "payload": {"template": "lab-report", "data": vary(report, 700_000 + i)}}))
            .collect();
        let (status, body) = conn.post("/v1/jobs/batch", &json!({"jobs": batch})).await?;
        anyhow::ensure!(status == 201, "batch answered {status}: {body}");
    }
    let mut peak_children = 0.0f64;
    loop {
        let (_, q) = conn.get_auth("/v1/queues").await?;
        let default = q["queues"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "default"))
            .cloned()
            .unwrap_or(Value::Null);
        let done = default["counts"]["succeeded"].as_u64().unwrap_or(0);
        let dead = default["counts"]["dead"].as_u64().unwrap_or(0);
        anyhow::ensure!(dead == 0, "report jobs died: {q}");
        peak_children = peak_children.max(children_rss_mib(server.pid()));
        // The cached job above is one of the succeeded.
        if done as usize > jobs {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the report jobs did not finish: {q}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    say("report_jobs_through_server_per_s", jobs as f64 / elapsed.as_secs_f64(), "jobs/s");
    let mut waits = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs?tag=bench-reports&limit=1000&cursor={c}"),
            None => "/v1/jobs?tag=bench-reports&limit=1000".to_string(),
        };
        let (_, page) = conn.get_auth(&path).await?;
        for j in page["jobs"].as_array().into_iter().flatten() {
            let ms = |f: &str| tarea_core::parse_rfc3339_ms(j[f].as_str().unwrap_or("")).unwrap_or(0);
            waits.push((ms("finished_at") - ms("created_at")) as f64);
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    say("report_jobs_enqueue_to_done_p50", median(waits), "ms");
    say("report_jobs_server_peak_rss", server.peak_rss_mib(), "MiB");
    say("report_jobs_renderers_rss_peak_sum", peak_children, "MiB");
    Ok(())
}

/// The resident memory of a process's children (the renderer processes), summed.
fn children_rss_mib(pid: u32) -> f64 {
    rss_sum_mib(children_of(pid))
}

/// The resident memory of `pids`, summed; a process that has gone counts nothing.
fn rss_sum_mib(pids: impl IntoIterator<Item = u32>) -> f64 {
    pids.into_iter().map(|pid| crate::server::status_mib(pid, "VmRSS:")).filter(|m| m.is_finite()).sum()
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/status")).ok().is_some_and(|s| {
                s.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|p| p.trim().parse::<u32>().ok()) == Some(pid)
            })
        })
        .collect()
}
