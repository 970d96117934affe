//! Guarantee 3, graceful half: SIGTERM stops claiming, lets short jobs finish within the grace
//! period, releases the rest without burning an attempt, and exits 0.
use std::time::{Duration, Instant};

use serde_json::json;
use tarea_testkit::TareaProcess;

use super::*;

async fn wait_state(base: &str, key: &str, id: &str, state: &str) -> serde_json::Value {
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let j = get_json(&http, &format!("{base}/v1/jobs/{id}"), key).await;
        if j["state"] == state {
            return j;
        }
        assert!(Instant::now() < deadline, "never {state}: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_running_jobs_without_burning_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let p = tokio::task::spawn_blocking(move || TareaProcess::start(&d, &["--shutdown-grace-s", "1"])).await.unwrap();
    let (key, port) = (p.first_key.clone(), p.port);
    let base = format!("http://127.0.0.1:{port}");
    let http = http();
    let (_, long) =
        post_json(&http, &format!("{base}/v1/jobs"), &key, json!({"kind": "tarea.sleep", "payload": {"ms": 60000}}))
            .await;
    let long_id = long["id"].as_str().unwrap().to_owned();
    wait_state(&base, &key, &long_id, "running").await;
    let (_, short) =
        post_json(&http, &format!("{base}/v1/jobs"), &key, json!({"kind": "tarea.sleep", "payload": {"ms": 400}}))
            .await;
    let short_id = short["id"].as_str().unwrap().to_owned();
    wait_state(&base, &key, &short_id, "running").await;
    let started = Instant::now();
    let (status, log) = tokio::task::spawn_blocking(move || p.signal_and_wait_with_log("TERM")).await.unwrap();
    assert!(status.success(), "SIGTERM exits 0: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "shutdown took {:?}", started.elapsed());
    let log = log.join("\n");
    assert!(log.contains("shutting down") && log.contains("releasing"), "{log}");

    let d = dir.path().to_owned();
    let p =
        tokio::task::spawn_blocking(move || TareaProcess::start_on(&d, port, &["--concurrency", "0"])).await.unwrap();
    let short = get_json(&http, &format!("{base}/v1/jobs/{short_id}"), &key).await;
    assert_eq!(short["state"], "succeeded", "a job that fits the grace period finishes: {short}");
    let long = get_json(&http, &format!("{base}/v1/jobs/{long_id}"), &key).await;
    assert_eq!(
        (long["state"].as_str(), long["attempt"].as_u64(), long["attempts_left"].as_u64()),
        (Some("queued"), Some(1), Some(5)),
        "released without burning an attempt: {long}"
    );
    drop(p);
}
