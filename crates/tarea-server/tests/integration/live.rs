//! Against a real server on 127.0.0.1:0 with the runtime running: SSE, long polls, built-in
//! handlers, timeouts, cancellation, delays and shutdown.
use std::time::{Duration, Instant};

use serde_json::json;
use tarea_runtime::RuntimeConfig;
use tarea_testkit::TestServer;

use super::*;

struct Client {
    http: reqwest::Client,
    key: String,
}

impl Client {
    async fn new(server: &TestServer) -> Client {
        Client { http: reqwest::Client::new(), key: server.key("acme", false).await }
    }

    async fn post(&self, server: &TestServer, path: &str, body: Value) -> Value {
        let res = self.http.post(server.url(path)).bearer_auth(&self.key).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn get(&self, server: &TestServer, path: &str) -> Value {
        self.http.get(server.url(path)).bearer_auth(&self.key).send().await.unwrap().json().await.unwrap()
    }

    /// Polls a job until `pred` holds (fails after 10 s).
    async fn wait_job(&self, server: &TestServer, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let j = self.get(server, &format!("/v1/jobs/{id}")).await;
            if pred(&j) {
                return j;
            }
            assert!(Instant::now() < deadline, "job never reached the expected state: {j}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_state_and_progress_then_closes() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let job = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 300}})).await;
    let mut res =
        c.http.get(server.url(&format!("/v1/jobs/{}/events", id_of(&job)))).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the stream closes after the terminal state");
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter(|b| b.contains("data:"))
        .map(|b| {
            let name = b.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name, serde_json::from_str(data).unwrap())
        })
        .collect();
    assert_eq!(events.first().unwrap().0, "state");
    assert!(events.iter().any(|(n, v)| *n == "progress" && v["progress"]["step"].is_string()), "{text}");
    let (last_name, last) = events.last().unwrap();
    assert_eq!((*last_name, last["state"].as_str()), ("state", Some("succeeded")));
    assert_eq!(last["result"]["slept_ms"], 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_claim_returns_as_soon_as_work_arrives() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let http = c.http.clone();
    let (url, key) = (server.url("/v1/worker/claim"), c.key.clone());
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let res =
            http.post(url).bearer_auth(key).json(&json!({"queues": ["ext"], "wait_ms": 20000})).send().await.unwrap();
        res.json::<Value>().await.unwrap()
    });
    let job = c.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "ext"})).await;
    let got = waiting.await.unwrap();
    assert_eq!(got["jobs"][0]["id"], job["id"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let empty = c.post(&server, "/v1/worker/claim", json!({"queues": ["ext"], "wait_ms": 50})).await;
    assert!(empty["jobs"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_jobs_run_time_out_and_retry() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let ok = c.post(&server, "/v1/jobs", json!({"kind": "tarea.noop"})).await;
    let done = c.wait_job(&server, &id_of(&ok), |j| j["state"] == "succeeded").await;
    assert_eq!(done["attempt"], 1);
    let slow = c
        .post(
            &server,
            "/v1/jobs",
            json!({"kind": "tarea.sleep", "payload": {"ms": 5000}, "timeout_ms": 100, "max_attempts": 1}),
        )
        .await;
    let dead = c.wait_job(&server, &id_of(&slow), |j| j["state"] == "dead").await;
    assert_eq!(dead["error"]["code"], "timeout");
    let failing = c
        .post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 10, "fail": "sin papel"}, "max_attempts": 2, "retry": {"base_ms": 20, "max_ms": 20}}))
        .await;
    let dead = c.wait_job(&server, &id_of(&failing), |j| j["state"] == "dead").await;
    assert_eq!((dead["attempt"].as_u64(), dead["error"]["message"].as_str()), (Some(2), Some("sin papel")));
    let bad = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"seconds": 1}})).await;
    let dead = c.wait_job(&server, &id_of(&bad), |j| j["state"] == "dead").await;
    assert_eq!((dead["attempt"].as_u64(), dead["error"]["code"].as_str()), (Some(1), Some("invalid_payload")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_jobs_start_when_due() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let job = c.post(&server, "/v1/jobs", json!({"kind": "tarea.noop", "delay_ms": 300})).await;
    assert_eq!(job["state"], "scheduled");
    let done = c.wait_job(&server, &id_of(&job), |j| j["state"] == "succeeded").await;
    assert!(done["started_at"].as_str().unwrap() >= done["run_at"].as_str().unwrap(), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_job_stops_its_handler() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let job = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 30000}})).await;
    let id = id_of(&job);
    c.wait_job(&server, &id, |j| j["state"] == "running").await;
    let cancelled = c.post(&server, &format!("/v1/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(cancelled["state"], "cancelled");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.runtime.running() > 0 {
        assert!(Instant::now() < deadline, "the handler kept running after cancel");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = c.get(&server, &format!("/v1/jobs/{id}")).await;
    assert_eq!(after["state"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_running_jobs_without_burning_an_attempt() {
    let config = RuntimeConfig { grace: Duration::from_millis(200), ..RuntimeConfig::default() };
    let server = TestServer::start_with(config).await;
    let c = Client::new(&server).await;
    let quick = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 50}})).await;
    let slow = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 60000}})).await;
    c.wait_job(&server, &id_of(&slow), |j| j["state"] == "running").await;
    server.runtime.shutdown().await;
    server.runtime.shutdown().await;
    let released = c.get(&server, &format!("/v1/jobs/{}", id_of(&slow))).await;
    assert_eq!(
        (released["state"].as_str(), released["attempts_left"].as_u64()),
        (Some("queued"), Some(5)),
        "{released}"
    );
    let finished = c.get(&server, &format!("/v1/jobs/{}", id_of(&quick))).await;
    assert_eq!(finished["state"], "succeeded", "a job that fits in the grace period finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_and_retried_runs_again_as_a_new_attempt() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let job = c.post(&server, "/v1/jobs", json!({"kind": "tarea.sleep", "payload": {"ms": 400}})).await;
    let id = id_of(&job);
    c.wait_job(&server, &id, |j| j["state"] == "running").await;
    c.post(&server, &format!("/v1/jobs/{id}/cancel"), json!({})).await;
    let retried = c.post(&server, &format!("/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!(retried["state"], "queued");
    let done = c.wait_job(&server, &id, |j| j["state"] == "succeeded").await;
    assert_eq!((done["attempt"].as_u64(), done["result"]["slept_ms"].as_u64()), (Some(2), Some(400)), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_for_its_own_tenant_only() {
    let server = TestServer::start().await;
    let mine = Client::new(&server).await;
    let other = Client { http: reqwest::Client::new(), key: server.key("otro", false).await };
    let (url, key) = (server.url("/v1/worker/claim"), mine.key.clone());
    let http = mine.http.clone();
    let waiting = tokio::spawn(async move {
        let res =
            http.post(url).bearer_auth(key).json(&json!({"queues": ["ext"], "wait_ms": 20000})).send().await.unwrap();
        res.json::<Value>().await.unwrap()
    });
    // Another tenant's job in a queue of the same name is not this poll's work.
    other.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "ext"})).await;
    let job = mine.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "ext"})).await;
    let got = waiting.await.unwrap();
    assert_eq!(got["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(got["jobs"][0]["id"], job["id"]);
}

/// A handler that saves the file its payload describes.
struct SavesAFile;

#[async_trait::async_trait]
impl tarea_core::Handler for SavesAFile {
    async fn run(
        &self,
        ctx: tarea_core::JobContext,
    ) -> Result<Box<serde_json::value::RawValue>, tarea_core::HandlerError> {
        let text: Value = serde_json::from_str(ctx.payload.get()).unwrap_or_default();
        let body = bytes::Bytes::from(text["text"].as_str().unwrap_or_default().to_owned());
        let meta = tarea_core::NewArtifact {
            filename: "../etiqueta\u{7}.txt".into(),
            content_type: "text/plain; charset=utf-8".into(),
            provenance: Some(json!({"template": "prueba", "version": 1})),
            expires_at: None,
        };
        let a = ctx.artifacts.save(meta, Box::pin(futures_util::stream::once(async move { Ok(body) }))).await?;
        Ok(serde_json::value::to_raw_value(&json!({"artifact": a.id})).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_in_handler_saves_an_artifact_and_the_cleaner_removes_it_when_it_expires() {
    let mut config = RuntimeConfig::default();
    let m = config.maintenance.as_mut().unwrap();
    m.clean_every = Duration::from_millis(100);
    let server = TestServer::start_custom(config, |r, _| {
        r.register("test.file", SavesAFile);
    })
    .await;
    let c = Client::new(&server).await;
    c.http
        .put(server.url("/v1/artifacts/retention"))
        .bearer_auth(&c.key)
        .json(&json!({"kinds": {"test.file": 2}}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let job = c
        .post(&server, "/v1/jobs", json!({"kind": "test.file", "payload": {"text": "Protocolo HP-2026-000123 ñandú"}}))
        .await;
    let done = c.wait_job(&server, &id_of(&job), |j| j["state"] == "succeeded").await;
    let a = &done["artifacts"][0];
    assert_eq!(a["filename"], "_etiqueta.txt", "sanitised, separators made harmless: {done}");
    assert_eq!(a["kind"], "test.file");
    assert_eq!(a["provenance"]["template"], "prueba");
    assert_eq!(done["result"]["artifact"], a["id"]);
    let content = c
        .http
        .get(server.url(a["content_url"].as_str().unwrap()))
        .bearer_auth(&c.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(content, "Protocolo HP-2026-000123 ñandú");
    assert_eq!(tarea_testkit::files_under(server.artifacts.path()).len(), 1);
    // The tenant's retention for the kind is 2 s; the cleaner runs every 100 ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let path = format!("/v1/artifacts/{}", a["id"].as_str().unwrap());
    loop {
        let res = c.http.get(server.url(&path)).bearer_auth(&c.key).send().await.unwrap();
        if res.status() == 404 && tarea_testkit::files_under(server.artifacts.path()).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the expired artifact was not cleaned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = c.get(&server, &format!("/v1/jobs/{}", id_of(&job))).await;
    assert_eq!(after["artifacts"], json!([]), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_each_tick_once_and_its_jobs_run() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    // Every second (six fields: seconds first).
    let body = json!({"cron": "* * * * * *", "job": {"kind": "tarea.noop"}});
    let res =
        c.http.put(server.url("/v1/schedules/cada-segundo")).bearer_auth(&c.key).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(10);
    let jobs = loop {
        let list = c.get(&server, "/v1/jobs?tag=schedule:cada-segundo&state=succeeded").await;
        let jobs = list["jobs"].as_array().unwrap().clone();
        if jobs.len() >= 3 {
            break jobs;
        }
        assert!(Instant::now() < deadline, "the schedule made {} finished jobs in 10 s", jobs.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // One job per tick: their due times are distinct whole seconds.
    let mut ticks: Vec<i64> =
        jobs.iter().map(|j| tarea_core::parse_rfc3339_ms(j["run_at"].as_str().unwrap()).unwrap()).collect();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), jobs.len(), "two jobs for one tick: {jobs:?}");
    assert!(ticks.iter().all(|t| t % 1000 == 0), "{ticks:?}");
    c.post(&server, "/v1/schedules/cada-segundo/pause", json!({})).await;
    let view = c.get(&server, "/v1/schedules/cada-segundo").await;
    assert!(view["runs"].as_u64().unwrap() >= 3, "{view}");
    assert!(view["last_job_id"].is_string(), "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_runs_its_items_alone_and_calls_back_with_the_failures() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let mut jobs: Vec<Value> = (0..9).map(|i| json!({"kind": "tarea.noop", "payload": {"protocolo": i}})).collect();
    jobs.insert(
        4,
        json!({"kind": "tarea.sleep", "payload": {"ms": 1, "fail": "protocolo 4 no existe"}, "max_attempts": 1}),
    );
    let batch = c
        .post(
            &server,
            "/v1/batches",
            json!({"jobs": jobs, "on_complete": {"kind": "tarea.noop", "payload": {"aviso": "fin"}}}),
        )
        .await;
    let id = batch["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let b = c.get(&server, &format!("/v1/batches/{id}")).await;
        if b["on_complete_job_id"].is_string() {
            break b;
        }
        assert!(Instant::now() < deadline, "the batch never finished: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!((done["counts"]["succeeded"].as_u64(), done["counts"]["dead"].as_u64()), (Some(9), Some(1)));
    let cb = c.get(&server, &format!("/v1/jobs/{}", done["on_complete_job_id"].as_str().unwrap())).await;
    assert_eq!(cb["payload"]["aviso"], "fin");
    assert_eq!(
        (cb["payload"]["batch"]["succeeded"].as_u64(), cb["payload"]["batch"]["failed"].as_u64()),
        (Some(9), Some(1))
    );
    assert_eq!(cb["payload"]["batch"]["failures"][0]["error"]["message"], "protocolo 4 no existe");
    let dead = c.get(&server, &format!("/v1/jobs?batch={id}&state=dead")).await;
    assert_eq!(dead["jobs"][0]["payload"]["fail"], "protocolo 4 no existe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_runs_its_next_job_with_the_parent_result() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let parent = c
        .post(
            &server,
            "/v1/jobs",
            json!({"kind": "tarea.sleep", "payload": {"ms": 1},
            "then": {"kind": "tarea.noop", "queue": "avisos", "payload": {"para": "lab@example.com"}}}),
        )
        .await;
    let parent = c.wait_job(&server, &id_of(&parent), |j| j["next_id"].is_string()).await;
    let child = c.wait_job(&server, parent["next_id"].as_str().unwrap(), |j| j["state"] == "succeeded").await;
    assert_eq!(child["parent_id"], parent["id"]);
    assert_eq!(child["queue"], "avisos");
    assert_eq!(child["payload"]["para"], "lab@example.com");
    assert_eq!(child["payload"]["parent"]["id"], parent["id"]);
    assert_eq!(child["payload"]["parent"]["kind"], "tarea.sleep");
    assert_eq!(child["payload"]["parent"]["result"], parent["result"]);
}

/// Reads an SSE response until `done` holds for the (event, data) pairs read so far.
async fn read_events(res: &mut reqwest::Response, done: impl Fn(&[(String, Value)]) -> bool) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    let read = async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let name = block.lines().find_map(|l| l.strip_prefix("event: "));
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                if let (Some(name), Some(data)) = (name, data) {
                    events.push((name.to_owned(), serde_json::from_str(data).unwrap()));
                }
            }
            if done(&events) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the awaited events came");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_stream_tells_of_every_change_gathered_and_only_its_own() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let other = Client { http: c.http.clone(), key: server.key("otro", false).await };
    let mut res = c.http.get(server.url("/v1/events")).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let started = Instant::now();
    let theirs = other.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "ajenos"})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(&c.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "informes"})).await));
    }
    let total =
        |events: &[(String, Value)]| -> u64 { events.iter().map(|(_, v)| v["changed"].as_u64().unwrap()).sum() };
    let events = read_events(&mut res, |e| total(e) >= 3).await;
    assert!(started.elapsed() < Duration::from_secs(3), "told within about a second");
    assert!(events.iter().all(|(name, _)| name == "jobs"));
    let named: Vec<&str> =
        events.iter().flat_map(|(_, v)| v["ids"].as_array().unwrap()).map(|i| i.as_str().unwrap()).collect();
    for id in &ids {
        assert!(named.contains(&id.as_str()), "{id} in {events:?}");
    }
    assert!(!named.contains(&id_of(&theirs).as_str()), "another tenant's job");
    assert_eq!(events[0].1["queues"], json!(["informes"]));
    assert_eq!(events[0].1["states"], json!(["queued"]));
    assert!(events.len() <= 2, "gathered, not one message per job: {events:?}");

    c.post(&server, &format!("/v1/jobs/{}/cancel", ids[0]), json!({})).await;
    let events = read_events(&mut res, |e| !e.is_empty()).await;
    assert_eq!(events[0].1["states"], json!(["cancelled"]));

    let refused = c.http.get(server.url("/v1/events?all_tenants=true")).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let admin = server.key("acme", true).await;
    let mut all = c.http.get(server.url("/v1/events?all_tenants=true")).bearer_auth(&admin).send().await.unwrap();
    other.post(&server, "/v1/jobs", json!({"kind": "app.task", "queue": "ajenos"})).await;
    let events = read_events(&mut all, |e| !e.is_empty()).await;
    assert_eq!(events[0].1["queues"], json!(["ajenos"]), "an admin follows every tenant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_the_key_that_opened_it_is_deleted() {
    let server = TestServer::start().await;
    let c = Client::new(&server).await;
    let admin = server.key("acme", true).await;
    let mut res = c.http.get(server.url("/v1/events")).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let keys: Value =
        c.http.get(server.url("/v1/keys?tenant=acme")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let id = keys["keys"].as_array().unwrap().iter().find(|k| k["admin"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = c.http.delete(server.url(&format!("/v1/keys/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let ended = async { while res.chunk().await.unwrap().is_some() {} };
    tokio::time::timeout(Duration::from_secs(20), ended).await.expect("the stream ended within its check interval");
}
