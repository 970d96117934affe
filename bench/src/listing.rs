//! The dashboard's jobs list at 1,000,000 stored jobs, on SQLite and on PostgreSQL.
//!
//! Each backend: the release server starts once on an empty store (it makes the admin key) and
//! stops; the store is then filled in process through the `Store` API, triggers and all, with a
//! lab's month of work (reports, labels, e-mails, exports and a rare nightly job; 93 % succeeded,
//! 3 % dead, 1 % cancelled, the rest waiting or running; a tenant of 10 %), the server starts on
//! it again and every listing the dashboard makes is timed over HTTP, `BENCH_LIST_RUNS` times
//! each (p50 and p95 in ms). Knobs: BENCH_LIST_JOBS (1000000), BENCH_LIST_RUNS (20),
//! BENCH_LIST_BACKENDS (sqlite,postgres), BENCH_DATABASE_URL, BENCH_LIST_KEEP (set: the PostgreSQL schema
//! stays, to look at plans).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use serde_json::value::RawValue;
use tarea_core::{ClaimParams, CompleteParams, EventSink, JobError, JobEvent, JobId, JobSpec, Outcome, Store};

use crate::server::Server;
use crate::stats::Percentiles;
use crate::{knob, say};

struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _: Vec<JobEvent>) {}
}

const ANIMALS: [&str; 50] = [
    "Firulais",
    "Luna",
    "Rocky",
    "Toby",
    "Mora",
    "Simba",
    "Lola",
    "Max",
    "Nina",
    "Coco",
    "Bruno",
    "Kira",
    "Tango",
    "Pelusa",
    "Milo",
    "Chispa",
    "Negro",
    "Manchas",
    "Canela",
    "Oreo",
    "Zeus",
    "Maya",
    "Pancho",
    "Bimba",
    "Lupe",
    "Thor",
    "Frida",
    "Ramón",
    "Olivia",
    "Bolita",
    "Sasha",
    "Pipo",
    "Mía",
    "Tomás",
    "Greta",
    "Indio",
    "Duque",
    "Reina",
    "Tita",
    "Chocolate",
    "Nala",
    "Balto",
    "Ciro",
    "Loki",
    "Pirata",
    "Sol",
    "Uma",
    "Yako",
    "Dana",
    "Jazmín",
];

/// What becomes of job `i`.
#[derive(Clone, Copy, PartialEq)]
enum Fate {
    Succeed,
    Die,
    Cancel,
    Wait,
}

fn fate(i: usize) -> Fate {
    match i % 100 {
        0..=92 => Fate::Succeed,
        93..=95 => Fate::Die,
        96 => Fate::Cancel,
        _ => Fate::Wait,
    }
}

/// Job `i`: its tenant and spec.
fn job(i: usize) -> (&'static str, JobSpec) {
    let (kind, queue) = match i % 1000 {
        0 => ("stats.nightly", "nightly"),
        1..=400 => ("informe.pdf", "docs"),
        401..=700 => ("etiqueta.qr", "labels"),
        701..=900 => ("mail.send", "mail"),
        _ => ("export.csv", "docs"),
    };
    let payload = json!({
        "protocolo": format!("HP-2026-{i:07}"),
        "animal": ANIMALS[i % ANIMALS.len()],
        "especie": if i.is_multiple_of(3) { "felino" } else { "canino" },
        "veterinario": format!("Dra. Veterinaria {}", i % 40),
    });
    let mut spec = JobSpec::new(kind, queue, RawValue::from_string(payload.to_string()).unwrap_or_default());
    if i.is_multiple_of(2) {
        spec.tags.push("lab".into());
    }
    if i % 100 == 7 {
        spec.tags.push("urgente".into());
    }
    (if i % 10 == 9 { "otro" } else { "default" }, spec)
}

fn error_for(kind: &str) -> JobError {
    match kind {
        "mail.send" => JobError::new("smtp_refused", "el servidor SMTP rechazó el destinatario"),
        "etiqueta.qr" => JobError::new("qr_unreadable", "el código QR impreso no se pudo leer"),
        _ => JobError::new("template_error", "la plantilla no tiene logo"),
    }
}

/// Enqueues jobs `idx`, 1000 a call; answers each one's id, fate and error kind.
async fn enqueue(store: &Arc<dyn Store>, idx: &[usize], now: i64) -> Result<Vec<(JobId, &'static str, usize)>> {
    let mut made_all = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(1000) {
        let mut by_tenant: HashMap<&'static str, Vec<(usize, JobSpec)>> = HashMap::new();
        for &i in chunk {
            let (tenant, spec) = job(i);
            by_tenant.entry(tenant).or_default().push((i, spec));
        }
        for (tenant, jobs) in by_tenant {
            let (idx, specs): (Vec<usize>, Vec<JobSpec>) = jobs.into_iter().unzip();
            let made = store.job_enqueue(tenant, specs, now).await?;
            made_all.extend(idx.into_iter().zip(made).map(|(i, e)| (e.job.id, tenant, i)));
        }
    }
    Ok(made_all)
}

fn claim(now: i64, max: u32) -> ClaimParams {
    ClaimParams {
        tenant: None,
        queues: Vec::new(),
        kinds: None,
        builtin: false,
        max,
        lease_ms: 3_600_000,
        worker: "bench-seed".into(),
        now,
    }
}

/// Fills `store` with `n` jobs; answers how long it took. The jobs that end are made and
/// worked through first; those left waiting (3 %) come after, and 100 of them are running.
async fn seed(store: Arc<dyn Store>, n: usize) -> Result<Duration> {
    let start = Instant::now();
    let now = tarea_runtime_now();
    let ending: Vec<usize> = (0..n).filter(|i| fate(*i) != Fate::Wait).collect();
    let made = enqueue(&store, &ending, now).await?;
    let mut to_finish = 0;
    let mut index: HashMap<JobId, usize> = HashMap::with_capacity(made.len());
    for (id, tenant, i) in made {
        match fate(i) {
            Fate::Cancel => {
                store.job_cancel(tenant, id, now).await?;
            }
            _ => {
                to_finish += 1;
                index.insert(id, i);
            }
        }
    }
    let mut finished = 0;
    while finished < to_finish {
        let jobs = store.job_claim(claim(now, 1000)).await?;
        anyhow::ensure!(!jobs.is_empty(), "nothing left to claim after {finished} of {to_finish}");
        let mut done = Vec::with_capacity(jobs.len());
        for j in jobs {
            let i = index.get(&j.id).copied().context("a job the seeding did not make")?;
            let outcome = if fate(i) == Fate::Die {
                Outcome::Failed { error: error_for(&j.kind), retryable: false }
            } else {
                let result = format!(r#"{{"archivo":"{}-{i}.pdf","paginas":{}}}"#, j.kind, i % 9 + 1);
                Outcome::Succeeded { result: Some(RawValue::from_string(result)?) }
            };
            done.push(CompleteParams { id: j.id, tenant: None, attempt: j.attempt, outcome, now });
        }
        finished += done.len();
        for r in store.job_complete_many_if_attempt(done).await? {
            r?;
        }
    }
    let waiting: Vec<usize> = (0..n).filter(|i| fate(*i) == Fate::Wait).collect();
    enqueue(&store, &waiting, now).await?;
    store.job_claim(claim(now, 100)).await?;
    Ok(start.elapsed())
}

fn tarea_runtime_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The listings the dashboard makes, by name.
fn listings(midpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("newest", "/v1/jobs?limit=50".into()),
        ("state_succeeded", "/v1/jobs?limit=50&state=succeeded".into()),
        ("state_dead", "/v1/jobs?limit=50&state=dead".into()),
        ("state_queued", "/v1/jobs?limit=50&state=queued".into()),
        ("state_running", "/v1/jobs?limit=50&state=running".into()),
        ("queue_rare", "/v1/jobs?limit=50&queue=nightly".into()),
        ("kind_common", "/v1/jobs?limit=50&kind=informe.pdf".into()),
        ("kind_rare", "/v1/jobs?limit=50&kind=stats.nightly".into()),
        ("tag", "/v1/jobs?limit=50&tag=urgente".into()),
        ("dead_in_queue", "/v1/jobs?limit=50&state=dead&queue=mail".into()),
        ("dead_of_kind", "/v1/jobs?limit=50&state=dead&kind=export.csv".into()),
        ("empty_combination", "/v1/jobs?limit=50&state=dead&queue=nightly&kind=mail.send".into()),
        ("older_half", format!("/v1/jobs?limit=50&created_before={midpoint}")),
        ("dead_older_half", format!("/v1/jobs?limit=50&state=dead&created_before={midpoint}")),
        ("search_one_protocol", "/v1/jobs?limit=50&search=HP-2026-0123457".into()),
        ("search_animal", "/v1/jobs?limit=50&search=firulais".into()),
        ("search_every_job", "/v1/jobs?limit=50&search=veterinaria".into()),
        ("search_error_of_dead", "/v1/jobs?limit=50&state=dead&search=rechaz%C3%B3%20el%20destinatario".into()),
        ("search_in_queue", "/v1/jobs?limit=50&queue=mail&search=firulais".into()),
        ("search_nothing", "/v1/jobs?limit=50&search=inexistente".into()),
        ("all_tenants", "/v1/jobs?limit=50&all_tenants=true".into()),
        ("all_tenants_dead", "/v1/jobs?limit=50&all_tenants=true&state=dead".into()),
    ]
}

async fn measure(server: &Server, label: &str, midpoint: &str, runs: usize) -> Result<()> {
    let mut conn = server.conn().await?;
    for (name, path) in listings(midpoint) {
        let mut p = Percentiles::default();
        let mut rows = 0;
        for run in 0..runs + 2 {
            let start = Instant::now();
            let (status, v) = conn.get_auth(&path).await?;
            let took = start.elapsed();
            anyhow::ensure!(status == 200, "{path} answered {status}: {v}");
            rows = v["jobs"].as_array().map_or(0, Vec::len);
            if run >= 2 {
                p.add(took);
            }
        }
        say(&format!("list_{label}_{name}_p50"), p.ms(50.0), &format!("ms ({rows} rows)"));
        say(&format!("list_{label}_{name}_p95"), p.ms(95.0), "ms");
    }
    Ok(())
}

/// The midpoint of the seeding, as RFC 3339: half the jobs were made before it.
fn midpoint(start_ms: i64, end_ms: i64) -> String {
    tarea_core::format_ms((start_ms + end_ms) / 2)
}

pub async fn run() -> Result<()> {
    let n = knob("BENCH_LIST_JOBS", 1_000_000);
    let runs = knob("BENCH_LIST_RUNS", 20);
    let backends = std::env::var("BENCH_LIST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("bench: the jobs list at {n} stored jobs, {runs} runs per listing");
    if backends.split(',').any(|b| b == "sqlite") {
        let dir = tempfile::tempdir()?;
        let key = Server::start_at(dir.path(), &[], true).await?.key.clone();
        let url = format!("sqlite://{}", dir.path().join("tarea.db").display());
        let store =
            tarea_store::open_store(&url, Default::default(), Arc::new(NoEvents)).await.context("opening the store")?;
        let t0 = tarea_runtime_now();
        let took = seed(Arc::clone(&store), n).await?;
        say("list_sqlite_seed", n as f64 / took.as_secs_f64(), "jobs/s stored and worked through");
        // SQLite writes new jobs' search words after their commit, when its writer is idle; a
        // search first writes those pending. Searching until every job has its words keeps
        // that catch-up out of the figures, which measure reading.
        let started = Instant::now();
        for _ in 0..n / 200_000 + 2 {
            let search = tarea_core::JobFilter { search: Some("firulais".into()), limit: 1, ..Default::default() };
            store.job_list("default", search).await?;
        }
        say("list_sqlite_search_words", started.elapsed().as_secs_f64(), "s to write the words left pending");
        drop(store);
        let mid = midpoint(t0, tarea_runtime_now());
        let mut server = Server::start_at(dir.path(), &[], false).await?;
        server.key = key;
        let size = std::fs::metadata(dir.path().join("tarea.db")).map(|m| m.len()).unwrap_or(0);
        say("list_sqlite_db_size", size as f64 / 1_048_576.0, "MiB");
        measure(&server, "sqlite", &mid, runs).await?;
    }
    if backends.split(',').any(|b| b == "postgres") {
        let url = std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let schema = format!("bench_list_{}", std::process::id());
        let args = ["--database", url.as_str(), "--schema", schema.as_str()];
        let dir = tempfile::tempdir()?;
        let key = Server::start_at(dir.path(), &args, true).await?.key.clone();
        let options = tarea_store::StoreOptions {
            pg: tarea_store::PgOptions { schema: schema.clone(), ..Default::default() },
            ..Default::default()
        };
        let store = tarea_store::open_store(&url, options, Arc::new(NoEvents)).await.context("opening PostgreSQL")?;
        let t0 = tarea_runtime_now();
        let took = seed(Arc::clone(&store), n).await;
        drop(store);
        let result = async {
            say("list_postgres_seed", n as f64 / took?.as_secs_f64(), "jobs/s stored and worked through");
            let mid = midpoint(t0, tarea_runtime_now());
            // The seeding is one burst of a month's work: vacuumed, as autovacuum leaves a live
            // database (the GIN and list indexes otherwise still hold every row's old version).
            crate::cluster::psql(&format!("VACUUM (ANALYZE) {schema}.jobs"))?;
            crate::cluster::psql(&format!("VACUUM (ANALYZE) {schema}.job_text"))?;
            let mut server = Server::start_at(dir.path(), &args, false).await?;
            server.key = key;
            measure(&server, "postgres", &mid, runs).await
        }
        .await;
        if std::env::var("BENCH_LIST_KEEP").is_ok() {
            println!("kept the schema {schema} (BENCH_LIST_KEEP)");
        } else {
            crate::cluster::psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        }
        result?;
    }
    Ok(())
}
