//! Guarantees 1 and 2 end to end: 5,000 jobs are enqueued and worked by external workers over
//! HTTP while the server is killed with SIGKILL five times at random moments and restarted.
//! Every job answered 201 exists afterwards and succeeds exactly once; completions held from
//! before a crash answer 409 `stale_attempt`.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt;
use serde_json::{Value, json};
use tarea_testkit::TareaProcess;

use super::*;

const JOBS: usize = 5_000;
const BATCH: usize = 25;

#[derive(Default)]
struct Ledger {
    /// Job ids the server answered 201 (or 200 for a replayed idempotency key).
    accepted: HashSet<String>,
    /// (job, attempt) pairs a worker claimed.
    claimed: Vec<(String, u64)>,
    /// Completions the server confirmed with 200, per job.
    completed: HashMap<String, u32>,
    /// Claims deliberately never completed until the end.
    held: Vec<(String, u64)>,
}

async fn produce(base: String, key: String, ledger: Arc<Mutex<Ledger>>) {
    let http = http();
    for start in (0..JOBS).step_by(BATCH) {
        let jobs: Vec<Value> = (start..start + BATCH)
            .map(|i| json!({"kind": "crash.test", "queue": "crash", "idempotency_key": format!("job-{i}"), "payload": {"n": i}}))
            .collect();
        loop {
            let res =
                http.post(format!("{base}/v1/jobs/batch")).bearer_auth(&key).json(&json!({"jobs": jobs})).send().await;
            match res {
                Ok(r) if r.status().as_u16() == 201 => {
                    let v: Value = r.json().await.unwrap();
                    let mut l = ledger.lock().unwrap();
                    for j in v["jobs"].as_array().unwrap() {
                        l.accepted.insert(j["id"].as_str().unwrap().to_owned());
                    }
                    break;
                }
                Ok(r) => panic!("enqueue answered {}", r.status()),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

async fn work(base: String, key: String, ledger: Arc<Mutex<Ledger>>, stop: Arc<std::sync::atomic::AtomicBool>) {
    let http = http();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let claim = json!({"queues": ["crash"], "max": 50, "wait_ms": 200, "lease_ms": 1500, "worker": "crash-test"});
        let jobs = match http.post(format!("{base}/v1/worker/claim")).bearer_auth(&key).json(&claim).send().await {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(v) => v["jobs"].as_array().cloned().unwrap_or_default(),
                Err(_) => continue,
            },
            _ => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        for job in jobs {
            let id = job["id"].as_str().unwrap().to_owned();
            let attempt = job["attempt"].as_u64().unwrap();
            // Hold back some first attempts (a slow worker whose lease runs out); never hold a
            // job twice, so a job loses at most one lease to this and cannot become a poison pill.
            let hold = attempt == 1 && rand::rng().random_ratio(1, 50);
            {
                let mut l = ledger.lock().unwrap();
                l.claimed.push((id.clone(), attempt));
                if hold {
                    l.held.push((id.clone(), attempt));
                }
            }
            if hold {
                continue;
            }
            let body = json!({"attempt": attempt, "result": {"done_by": attempt}});
            // Like a real worker SDK, retry a completion the server did not answer (it may be
            // restarting) for a while.
            for _ in 0..60 {
                match http.post(format!("{base}/v1/jobs/{id}/complete")).bearer_auth(&key).json(&body).send().await {
                    Ok(r) => {
                        match r.status().as_u16() {
                            200 => *ledger.lock().unwrap().completed.entry(id.clone()).or_default() += 1,
                            409 => {}
                            other => panic!("complete answered {other}"),
                        }
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }
}

async fn succeeded_count(base: &str, key: &str) -> Option<u64> {
    let v: Value = http().get(format!("{base}/v1/queues")).bearer_auth(key).send().await.ok()?.json().await.ok()?;
    v["queues"]
        .as_array()?
        .iter()
        .find(|q| q["name"] == "crash")
        .map(|q| q["counts"]["succeeded"].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_five_times_loses_nothing_and_finishes_each_job_once() {
    crash_run(&["--concurrency", "0"]).await;
}

/// Relaxed durability (no fsync) promises to survive a crash of tarea, not of the machine:
/// SIGKILL is exactly that crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_durability_survives_sigkill_too() {
    crash_run(&["--concurrency", "0", "--durability", "relaxed"]).await;
}

async fn crash_run(flags: &'static [&'static str]) {
    let dir = tempfile::tempdir().unwrap();
    let first = tokio::task::spawn_blocking({
        let d = dir.path().to_owned();
        move || TareaProcess::start(&d, flags)
    })
    .await
    .unwrap();
    let key = first.first_key.clone();
    assert!(key.starts_with("tarea_"), "the first start prints the admin key");
    let port = first.port;
    let base = format!("http://127.0.0.1:{port}");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = tokio::spawn(produce(base.clone(), key.clone(), Arc::clone(&ledger)));
    let workers: Vec<_> =
        (0..2).map(|_| tokio::spawn(work(base.clone(), key.clone(), Arc::clone(&ledger), Arc::clone(&stop)))).collect();

    let mut process = first;
    for round in 0..5 {
        let pause = rand::rng().random_range(300..1500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let status = tokio::task::spawn_blocking(move || process.signal_and_wait("KILL")).await.unwrap();
        assert!(!status.success(), "round {round}: the process was killed");
        let d = dir.path().to_owned();
        process = tokio::task::spawn_blocking(move || TareaProcess::start_on(&d, port, flags)).await.unwrap();
        assert!(process.first_key.is_empty(), "a restart never prints a new admin key");
    }
    producer.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while succeeded_count(&base, &key).await != Some(JOBS as u64) {
        if Instant::now() > deadline {
            let queues = get_json(&http(), &format!("{base}/v1/queues"), &key).await;
            let dead = get_json(&http(), &format!("{base}/v1/jobs?state=dead&limit=5"), &key).await;
            panic!("jobs did not all succeed: {queues}\ndead: {dead}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert_eq!(ledger.accepted.len(), JOBS);
    let http = http();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/jobs?queue=crash&limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(&http, &url, &key).await;
        for j in page["jobs"].as_array().unwrap() {
            assert_eq!(j["state"], "succeeded", "{j}");
            assert_eq!(j["result"]["done_by"], j["attempt"], "the recorded result is the current attempt's");
            seen.insert(j["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ledger.accepted, "every accepted job exists, and no other");
    assert!(ledger.completed.values().all(|&n| n <= 1), "a job was confirmed complete twice");
    assert!(!ledger.held.is_empty());
    let mut stale = 0;
    let mut finals: HashMap<String, u64> = HashMap::new();
    for (id, attempt) in &ledger.claimed {
        let e = finals.entry(id.clone()).or_default();
        *e = (*e).max(*attempt);
    }
    for (id, attempt) in ledger.held.iter().chain(ledger.claimed.iter().filter(|(id, a)| finals[id] > *a)) {
        let (status, body) =
            post_json(&http, &format!("{base}/v1/jobs/{id}/complete"), &key, json!({"attempt": attempt})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("stale_attempt")),
            "{id} attempt {attempt}: {body}"
        );
        stale += 1;
    }
    assert!(stale >= ledger.held.len());
    drop(process);
}
