//! Cluster mode against the machine's PostgreSQL, with real `tarea` processes sharing one
//! schema: wake-ups across nodes, roles, the node registry, leadership moving when the leader
//! dies, a node killed mid-run losing nothing, and transactional enqueue from psql.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tarea_testkit::{PgSchema, TareaProcess, pg_url};

use super::*;

/// Starts a node on the schema with extra flags.
fn node(schema: &PgSchema, dir: &tempfile::TempDir, extra: &[&str]) -> TareaProcess {
    let url = pg_url();
    let mut args = vec!["--database", url.as_str(), "--schema", schema.name.as_str(), "--pool-size", "4"];
    args.extend_from_slice(extra);
    TareaProcess::start(dir.path(), &args)
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job_state(http: &reqwest::Client, base: &str, key: &str, id: &str) -> String {
    get_json(http, &format!("{base}/v1/jobs/{id}"), key).await["state"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_node_and_a_worker_node_split_the_work_and_wake_each_other_at_once() {
    let schema = PgSchema::new();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let api = node(&schema, &d1, &["--role", "api"]);
    let key = api.first_key.clone();
    assert!(key.starts_with("tarea_"), "the first node prints the admin key");
    let worker = node(&schema, &d2, &["--role", "worker", "--concurrency", "4"]);
    assert!(worker.first_key.is_empty(), "the key is printed once per cluster, not per node");
    let http = http();

    // A worker node serves the operations endpoints only.
    let res = http.get(worker.url("/v1/queues")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    assert_eq!(http.get(worker.url("/readyz")).send().await.unwrap().status().as_u16(), 200);

    // Jobs enqueued on the API node start on the worker node within milliseconds: the wake-up
    // is the NOTIFY, not the 1-2 s poll that backs it up.
    let mut waits = Vec::new();
    for i in 0..20 {
        let (status, job) =
            post_json(&http, &api.url("/v1/jobs"), &key, json!({"kind": "tarea.noop", "payload": {"i": i}})).await;
        assert_eq!(status, 201, "{job}");
        let id = job["id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        wait_for("the job to finish", Duration::from_secs(10), || {
            let (http, base, key, id) = (&http, api.url(""), &key, &id);
            async move { job_state(http, &base, key, id).await == "succeeded" }
        })
        .await;
        waits.push(start.elapsed());
    }
    waits.sort();
    let median = waits[waits.len() / 2];
    assert!(median < Duration::from_millis(400), "median enqueue-to-finished across nodes was {median:?}");

    // The registry lists both nodes with their roles, one of them leading.
    let list = get_json(&http, &api.url("/v1/workers"), &key).await;
    let nodes = list["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{list}");
    let roles: HashSet<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles, HashSet::from(["api", "worker"]));
    wait_for("a leader", Duration::from_secs(10), || {
        let (http, url, key) = (&http, api.url("/v1/workers"), &key);
        async move {
            let l = get_json(http, &url, key).await;
            l["nodes"].as_array().unwrap().iter().filter(|n| n["leader"] == true).count() == 1
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_nodes_loses_nothing_and_the_leadership_moves() {
    let schema = PgSchema::new();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let lease = ["--lease-ms", "2000", "--concurrency", "8"];
    let first = node(&schema, &dirs[0], &lease);
    let key = first.first_key.clone();
    let mut nodes = vec![Some(first), Some(node(&schema, &dirs[1], &lease)), Some(node(&schema, &dirs[2], &lease))];
    let http = http();
    let base = |nodes: &Vec<Option<TareaProcess>>| nodes.iter().flatten().next().unwrap().url("");

    // 480 jobs of 400 ms each, enqueued through every node: about 8 s of work for 24 slots.
    let mut ids = Vec::new();
    for batch in 0..8 {
        let jobs: Vec<Value> = (0..50)
            .map(|i| json!({"kind": "tarea.sleep", "payload": {"ms": 400}, "tags": [format!("n{}", batch * 50 + i)]}))
            .collect();
        let url = nodes[batch % 3].as_ref().unwrap().url("/v1/jobs/batch");
        let (status, body) = post_json(&http, &url, &key, json!({"jobs": jobs})).await;
        assert_eq!(status, 201, "{body}");
        ids.extend(body["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_owned()));
    }

    // Find the leader and kill it, with jobs running on it.
    let leader = current_leader(&http, &(base(&nodes) + "/v1/workers"), &key, None, Duration::from_secs(10)).await;
    let list = get_json(&http, &(base(&nodes) + "/v1/workers"), &key).await;
    let pids: Vec<String> = nodes.iter().map(|n| n.as_ref().unwrap().child.id().to_string()).collect();
    let victim = pids.iter().position(|pid| leader.contains(&format!("-{pid}-"))).expect("the leader is one of ours");
    // Kill it while the registry shows it running jobs (its heartbeat says so every 2 s).
    let running_on_leader = |list: &Value| {
        let nodes = list["nodes"].as_array().unwrap();
        nodes.iter().find(|n| n["id"] == leader.as_str()).map(|n| n["running"].as_u64().unwrap_or(0))
    };
    let start = Instant::now();
    while running_on_leader(&get_json(&http, &(base(&nodes) + "/v1/workers"), &key).await).unwrap_or(0) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the leader never showed running jobs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed_at = Instant::now();
    nodes[victim].take().unwrap().signal_and_wait("KILL");

    // Another node takes the duties over within seconds.
    current_leader(&http, &(base(&nodes) + "/v1/workers"), &key, Some(&leader), Duration::from_secs(15)).await;
    let takeover = killed_at.elapsed();
    assert!(takeover < Duration::from_secs(10), "leadership took {takeover:?} to move; {list}");

    // Every job ends succeeded: those the dead node held come back after their lease.
    let start = Instant::now();
    loop {
        let mut pending = Vec::new();
        let mut rerun = 0;
        for id in &ids {
            let job = get_json(&http, &format!("{}/v1/jobs/{id}", base(&nodes)), &key).await;
            if job["state"] != "succeeded" {
                pending.push(job);
            } else if job["attempt"].as_u64() > Some(1) {
                rerun += 1;
            }
        }
        if pending.is_empty() {
            // The jobs the killed node was running came back after their lease and ran again.
            assert!(rerun > 0, "no job ran twice: the killed node held none, so the test proved nothing");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{} jobs unfinished, e.g. {}", pending.len(), pending[0]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The dead node drops out of the registry once its lease ends.
    wait_for("the dead node to leave the registry", Duration::from_secs(20), || {
        let (http, url, key) = (&http, base(&nodes) + "/v1/workers", &key);
        async move { get_json(http, &url, key).await["nodes"].as_array().unwrap().len() == 2 }
    })
    .await;
}

/// The id of the leading node once there is one (other than `not`).
async fn current_leader(http: &reqwest::Client, url: &str, key: &str, not: Option<&str>, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let list = get_json(http, url, key).await;
        let leader = list["nodes"].as_array().unwrap().iter().find(|n| n["leader"] == true);
        if let Some(id) = leader.and_then(|n| n["id"].as_str()).filter(|id| Some(*id) != not) {
            return id.to_owned();
        }
        assert!(start.elapsed() < limit, "no new leader after {limit:?}: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `psql` runs `sql` against the test database with the schema on the search path.
fn psql(schema: &PgSchema, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .arg(pg_url())
        .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c"])
        .arg(format!("SET search_path TO {}; {sql}", schema.name))
        .output()
        .expect("psql is installed (scripts/test installs it)");
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_the_apps_transaction_exists_only_if_it_commits() {
    let schema = PgSchema::new();
    let dir = tempfile::tempdir().unwrap();
    let server = node(&schema, &dir, &[]);
    let key = server.first_key.clone();
    let http = http();

    // The app's own table and a rolled-back transaction that enqueued: no job.
    psql(&schema, "CREATE TABLE app_reports (id serial PRIMARY KEY, title text)");
    psql(
        &schema,
        "BEGIN; INSERT INTO app_reports (title) VALUES ('informe 1'); \
         SELECT enqueue('default', 'tarea.noop', '{\"informe\": 1}'); ROLLBACK;",
    );
    let list = get_json(&http, &server.url("/v1/jobs"), &key).await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0, "{list}");

    // A committed one: the job exists and a worker runs it at once.
    let id = psql(
        &schema,
        "BEGIN; INSERT INTO app_reports (title) VALUES ('informe 2'); \
         SELECT enqueue('default', 'tarea.noop', '{\"informe\": 2}', queue => 'informes', \
                        idempotency_key => 'informe-2'); COMMIT;",
    );
    let id = id.lines().find(|l| l.len() == 36).expect("enqueue returns the job id").to_owned();
    wait_for("the committed job to succeed", Duration::from_secs(10), || {
        let (http, base, key, id) = (&http, server.url(""), &key, &id);
        async move { job_state(http, &base, key, id).await == "succeeded" }
    })
    .await;
    let job = get_json(&http, &server.url(&format!("/v1/jobs/{id}")), &key).await;
    assert_eq!(job["queue"], "informes");
    assert_eq!(job["payload"]["informe"], 2);

    // The same idempotency key returns the same job; bad input is refused with a clear error.
    let again = psql(&schema, "SELECT enqueue('default', 'tarea.noop', idempotency_key => 'informe-2')");
    assert_eq!(again, id);
    let bad = std::process::Command::new("psql")
        .arg(pg_url())
        .args(["-qAt", "-c"])
        .arg(format!("SELECT {}.enqueue('nadie', 'tarea.noop')", schema.name))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown tenant"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_turns_readiness_red_then_green_and_loses_nothing() {
    let schema = PgSchema::new();
    let target: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = tarea_testkit::Proxy::start(target).await;
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port);
    let dir = tempfile::tempdir().unwrap();
    let server = TareaProcess::start(
        dir.path(),
        &["--database", &url, "--schema", &schema.name, "--pool-size", "4", "--concurrency", "4"],
    );
    let key = server.first_key.clone();
    let http = http();
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status().as_u16(), 200);

    // Producers enqueue one job at a time through the outage, retrying with their
    // idempotency key whatever the answer.
    let producer = |p: usize| {
        let (http, base, key) = (http.clone(), server.url(""), key.clone());
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            for i in 0..60 {
                let body = json!({"kind": "tarea.noop", "idempotency_key": format!("p{p}-{i}")});
                loop {
                    match http.post(format!("{base}/v1/jobs")).bearer_auth(&key).json(&body).send().await {
                        Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => {
                            let v: Value = r.json().await.unwrap();
                            accepted.push(v["id"].as_str().unwrap().to_owned());
                            break;
                        }
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let v: Value = r.json().await.unwrap();
                            assert_eq!(status, 503, "only `unavailable` is expected during an outage: {v}");
                            assert_eq!(v["error"]["code"], "unavailable");
                        }
                        Err(_) => {}
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            accepted
        })
    };
    let producers: Vec<_> = (0..3).map(producer).collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.cut();
    wait_for("/readyz to turn red", Duration::from_secs(10), || {
        let (http, url) = (&http, server.url("/readyz"));
        async move { http.get(url).send().await.map(|r| r.status().as_u16() == 503).unwrap_or(false) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    wait_for("/readyz to turn green", Duration::from_secs(15), || {
        let (http, url) = (&http, server.url("/readyz"));
        async move { http.get(url).send().await.map(|r| r.status().as_u16() == 200).unwrap_or(false) }
    })
    .await;
    let mut ids = Vec::new();
    for p in producers {
        ids.extend(p.await.unwrap());
    }
    assert_eq!(ids.len(), 180);
    wait_for("every accepted job to succeed", Duration::from_secs(30), || {
        let (http, base, key, ids) = (&http, server.url(""), &key, &ids);
        async move {
            for id in ids {
                if job_state(http, &base, key, id).await != "succeeded" {
                    return false;
                }
            }
            true
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_once_per_tick_across_nodes_and_a_chain_crosses_them() {
    let schema = PgSchema::new();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(&schema, &d1, &[]);
    let key = a.first_key.clone();
    let b = node(&schema, &d2, &[]);
    let http = http();
    let body = json!({"cron": "* * * * * *", "job": {"kind": "tarea.noop"}});
    let res = http.put(b.url("/v1/schedules/cada-segundo")).bearer_auth(&key).json(&body).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let list_url = a.url("/v1/jobs?tag=schedule:cada-segundo&limit=100");
    wait_for("four ticks", Duration::from_secs(15), || async {
        get_json(&http, &list_url, &key).await["jobs"].as_array().is_some_and(|j| j.len() >= 4)
    })
    .await;
    let res = http.post(a.url("/v1/schedules/cada-segundo/pause")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let jobs = get_json(&http, &list_url, &key).await["jobs"].as_array().unwrap().clone();
    let ticks: HashSet<&str> = jobs.iter().map(|j| j["run_at"].as_str().unwrap()).collect();
    assert_eq!(ticks.len(), jobs.len(), "two nodes made two jobs for one tick: {jobs:?}");

    // A chain enqueued on one node is followed up by whichever node leads.
    let (status, parent) = post_json(
        &http,
        &b.url("/v1/jobs"),
        &key,
        json!({"kind": "tarea.noop", "then": {"kind": "tarea.noop", "payload": {"paso": 2}}}),
    )
    .await;
    assert_eq!(status, 201, "{parent}");
    let url = a.url(&format!("/v1/jobs/{}", parent["id"].as_str().unwrap()));
    wait_for("the chained job", Duration::from_secs(10), || async {
        get_json(&http, &url, &key).await["next_id"].is_string()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queues_rate_limit_holds_across_nodes() {
    let schema = PgSchema::new();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(&schema, &d1, &[]);
    let key = a.first_key.clone();
    let b = node(&schema, &d2, &[]);
    let http = http();
    // 4 starts a second (a burst of 4), whichever node claims: 12 jobs take at least 2 s to start.
    let res =
        http.put(a.url("/v1/queues/correo")).bearer_auth(&key).json(&json!({"rate_limit": 4})).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let jobs: Vec<Value> =
        (0..12).map(|i| json!({"kind": "tarea.noop", "queue": "correo", "payload": {"i": i}})).collect();
    let (status, made) = post_json(&http, &b.url("/v1/jobs/batch"), &key, json!({"jobs": jobs})).await;
    assert_eq!(status, 201, "{made}");
    let list = a.url("/v1/jobs?queue=correo&state=succeeded&limit=100");
    wait_for("every job to run", Duration::from_secs(30), || async {
        get_json(&http, &list, &key).await["jobs"].as_array().is_some_and(|j| j.len() == 12)
    })
    .await;
    let done = get_json(&http, &list, &key).await;
    let mut starts: Vec<i64> = done["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| tarea_core::parse_rfc3339_ms(j["started_at"].as_str().unwrap()).unwrap())
        .collect();
    starts.sort();
    let span = starts[11] - starts[0];
    assert!(span >= 1_500, "12 starts at 4/s across two nodes took {span} ms: the limit did not hold");
}
