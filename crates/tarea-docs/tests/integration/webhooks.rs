//! Webhooks end to end: a job's ending reaches the app as a signed POST, with a delivery log;
//! a receiver that fails is retried; bad subscriptions are refused. Every receiver is on
//! 127.0.0.1.
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tarea_testkit::{HttpSink, TestServer};

use crate::common::{Client, setup};

async fn post(s: &TestServer, c: &Client, path: &str, body: Value) -> (u16, Value) {
    let res = c.http.post(s.url(path)).bearer_auth(&c.key).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn log_until(s: &TestServer, c: &Client, hook: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = c.get(s, &format!("/v1/webhooks/{hook}/deliveries")).await;
        let jobs = log["jobs"].as_array().cloned().unwrap_or_default();
        if pred(&jobs) {
            return jobs;
        }
        assert!(Instant::now() < deadline, "the delivery log never got there: {log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_ending_reaches_the_app_as_a_signed_event() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    let setting = c
        .http
        .put(s.url("/v1/settings/http"))
        .bearer_auth(&c.key)
        .json(&json!({"allow": [app.url("/")]}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let secret = setting["signing_secret"].as_str().unwrap().to_owned();
    let (status, hook) = post(
        &s,
        &c,
        "/v1/webhooks",
        json!({"url": app.url("/eventos"), "events": ["job.succeeded", "batch.done"],
        "queues": ["default"]}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let (_, broken) = post(&s, &c, "/v1/webhooks", json!({"url": app.url("/error500"), "events": ["job.dead"]})).await;

    let (_, job) = post(&s, &c, "/v1/jobs", json!({"kind": "tarea.noop", "payload": {"protocolo": 7}})).await;
    let log = log_until(&s, &c, &hook_id, |j| j.first().is_some_and(|d| d["state"] == "succeeded")).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["result"]["status"], 200);

    let got = app.wait_for(1).await;
    let r = got.iter().find(|r| r.path == "/eventos").unwrap();
    assert_eq!(r.headers["tarea-event"], "job.succeeded");
    assert_eq!(r.headers["tarea-webhook"], hook_id);
    let ts: i64 = r.headers["tarea-timestamp"].parse().unwrap();
    assert_eq!(r.headers["tarea-signature"], tarea_docs::sign(&secret, ts, &r.body));
    let event: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(event["type"], "job.succeeded");
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["data"]["job"]["id"], job["id"]);
    assert_eq!(event["data"]["job"]["state"], "succeeded");

    // A job that dies reaches the failing receiver, whose delivery is retried, not dropped.
    let (_, dead) = post(
        &s,
        &c,
        "/v1/jobs",
        json!({"kind": "tarea.sleep", "max_attempts": 1,
        "payload": {"ms": 1, "fail": "sin conexión"}}),
    )
    .await;
    let log =
        log_until(&s, &c, broken["id"].as_str().unwrap(), |j| j.first().is_some_and(|d| d["state"] == "failed")).await;
    assert_eq!(log[0]["error"]["code"], "http_500", "{:?}", log[0]);
    assert!(log[0]["attempts_left"].as_u64().unwrap() > 10, "{:?}", log[0]);
    let delivered: Value =
        serde_json::from_slice(&app.requests().iter().find(|r| r.path == "/error500").unwrap().body).unwrap();
    assert_eq!(delivered["data"]["job"]["id"], dead["id"]);
    assert_eq!(delivered["data"]["job"]["error"]["message"], "sin conexión");
    // The first subscription hears only of successes in `default`.
    assert_eq!(c.get(&s, &format!("/v1/webhooks/{hook_id}/deliveries")).await["jobs"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_refused_and_others_are_private() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    let (status, v) = post(&s, &c, "/v1/webhooks", json!({"url": app.url("/eventos"), "events": ["job.dead"]})).await;
    assert_eq!(status, 400, "no allow-list yet: {v}");
    assert_eq!(v["error"]["details"]["field"], "url");
    c.http
        .put(s.url("/v1/settings/http"))
        .bearer_auth(&c.key)
        .json(&json!({"allow": [app.url("/hooks/")]}))
        .send()
        .await
        .unwrap();
    for (body, field) in [
        (json!({"url": app.url("/eventos"), "events": ["job.dead"]}), "url"),
        (json!({"url": app.url("/hooks/x"), "events": ["job.terminado"]}), "events[0]"),
        (json!({"url": app.url("/hooks/x"), "events": []}), "events"),
        (json!({"url": app.url("/hooks/x"), "events": ["job.dead"], "kinds": ["No Es Un Kind"]}), "kinds[0]"),
    ] {
        let (status, v) = post(&s, &c, "/v1/webhooks", body).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    let (status, hook) =
        post(&s, &c, "/v1/webhooks", json!({"url": app.url("/hooks/x"), "events": ["job.dead"]})).await;
    assert_eq!(status, 201);
    let id = hook["id"].as_str().unwrap();
    let other = s.key("other", false).await;
    for (method, path) in [("GET", format!("/v1/webhooks/{id}")), ("DELETE", format!("/v1/webhooks/{id}"))] {
        let res = c.http.request(method.parse().unwrap(), s.url(&path)).bearer_auth(&other).send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
    }
    let theirs =
        c.http.get(s.url("/v1/webhooks")).bearer_auth(&other).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(theirs["webhooks"], json!([]));
    let res = c.http.delete(s.url(&format!("/v1/webhooks/{id}"))).bearer_auth(&c.key).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(c.get(&s, "/v1/webhooks").await["webhooks"], json!([]));
}
