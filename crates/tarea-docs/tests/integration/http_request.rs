//! `http.request` against an app on 127.0.0.1: signed calls, outcomes by status, and the
//! allow-list and private-address refusals. Every destination here is loopback: a test aimed
//! at a private or public address would send traffic off the machine the day a refusal broke.
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tarea_testkit::{HttpSink, TestServer};

use crate::common::{Client, setup};

async fn allow(s: &TestServer, c: &Client, allow: &[String]) -> Value {
    let res =
        c.http.put(s.url("/v1/settings/http")).bearer_auth(&c.key).json(&json!({"allow": allow})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn ended(s: &TestServer, c: &Client, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = c.get(s, &format!("/v1/jobs/{id}")).await;
        if ["succeeded", "dead"].contains(&j["state"].as_str().unwrap_or("")) {
            return j;
        }
        assert!(Instant::now() < deadline, "the job did not end: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn enqueue(s: &TestServer, c: &Client, body: Value) -> (u16, Value) {
    let res = c.http.post(s.url("/v1/jobs")).bearer_auth(&c.key).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_called_with_a_signature_it_can_check() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    let setting = allow(&s, &c, &[app.url("/")]).await;
    let secret = setting["signing_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    // Stored again, the secret stays.
    assert_eq!(allow(&s, &c, &[app.url("/")]).await["signing_secret"], secret.as_str());

    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "tarea.noop", "then": {"kind": "http.request", "payload": {
            "url": app.url("/ok"), "method": "PUT", "headers": {"X-Lab": "rosario"},
            "json": {"protocolo": 123, "estado": "recibido"}}}}),
        )
        .await;
    let parent = ended(&s, &c, job["id"].as_str().unwrap()).await;
    let call_id = loop {
        let p = c.get(&s, &format!("/v1/jobs/{}", parent["id"].as_str().unwrap())).await;
        if let Some(n) = p["next_id"].as_str() {
            break n.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let call = ended(&s, &c, &call_id).await;
    assert_eq!(call["state"], "succeeded", "{call}");
    assert_eq!(call["result"]["status"], 200);
    assert_eq!(call["result"]["body"], json!({"recibido": true}));

    let got = app.wait_for(1).await;
    let r = &got[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PUT", "/ok"));
    assert_eq!(r.headers["x-lab"], "rosario");
    assert_eq!(r.headers["idempotency-key"], call_id);
    assert_eq!(r.headers["tarea-job-id"], call_id);
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["protocolo"], 123);
    assert_eq!(body["parent"]["id"], parent["id"], "a chained call tells the app what came before");
    let ts: i64 = r.headers["tarea-timestamp"].parse().unwrap();
    assert_eq!(r.headers["tarea-signature"], tarea_docs::sign(&secret, ts, &r.body));
    assert_ne!(r.headers["tarea-signature"], tarea_docs::sign(&secret, ts, b"{\"protocolo\":124}"), "tampering shows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_decide_between_success_retry_and_failure() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    allow(&s, &c, &[app.url("/")]).await;
    let retry = json!({"base_ms": 10, "max_ms": 20});
    let cases = [
        ("/error500", "http_500", 2, None),
        ("/rechazo", "http_404", 1, None),
        ("/redirige", "http_redirect", 1, None),
        ("/lento", "http_timeout", 2, Some(200)),
    ];
    for (path, code, attempts, timeout) in cases {
        let mut payload = json!({"url": app.url(path), "json": {}});
        if let Some(t) = timeout {
            payload["timeout_ms"] = json!(t);
        }
        let job = c
            .post(
                &s,
                "/v1/jobs",
                json!({"kind": "http.request", "max_attempts": 2, "retry": retry, "payload": payload}),
            )
            .await;
        let job = ended(&s, &c, job["id"].as_str().unwrap()).await;
        assert_eq!(job["state"], "dead", "{job}");
        assert_eq!(job["error"]["code"], code, "{job}");
        assert_eq!(job["attempt"], attempts, "{path}: {job}");
    }
    let job = c.post(&s, "/v1/jobs", json!({"kind": "http.request", "payload": {"url": app.url("/rechazo")}})).await;
    let job = ended(&s, &c, job["id"].as_str().unwrap()).await;
    assert!(job["error"]["message"].as_str().unwrap().contains("no existe el protocolo"), "the app's words: {job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_outside_the_allow_list_or_on_private_addresses_are_refused() {
    let (s, c) = setup().await;
    let app = HttpSink::start().await;
    let port = app.addr.port();
    let (status, v) = enqueue(&s, &c, json!({"kind": "http.request", "payload": {"url": app.url("/ok")}})).await;
    assert_eq!(status, 400, "no allow-list yet: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("PUT /v1/settings/http"), "{v}");

    allow(&s, &c, &[format!("http://127.0.0.1:{port}/api/")]).await;
    let (status, v) = enqueue(&s, &c, json!({"kind": "http.request", "payload": {"url": app.url("/ok")}})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["details"]["field"], "payload.url");

    // Any host, so long as it is public: loopback is refused, by address or by name.
    allow(&s, &c, &[format!("http://*:{port}/")]).await;
    for url in [format!("http://127.0.0.1:{port}/ok"), format!("http://[::1]:{port}/ok")] {
        let (status, v) = enqueue(&s, &c, json!({"kind": "http.request", "payload": {"url": url}})).await;
        assert_eq!(status, 400, "{url}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("loopback"), "{v}");
    }
    let job = c
        .post(
            &s,
            "/v1/jobs",
            json!({"kind": "http.request", "payload": {"url": format!("http://localhost:{port}/ok")}}),
        )
        .await;
    let job = ended(&s, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(job["error"]["code"], "destination_refused", "{job}");
    assert_eq!(job["attempt"], 1);
    assert!(app.requests().is_empty(), "nothing reached the app");

    // Bad payloads are refused at enqueue, naming the field.
    allow(&s, &c, &[app.url("/")]).await;
    for (payload, field) in [
        (json!({"url": app.url("/ok"), "method": "TRACE"}), "payload.method"),
        (json!({"url": app.url("/ok"), "headers": {"Tarea-Signature": "x"}}), "payload.headers.Tarea-Signature"),
        (json!({"url": app.url("/ok"), "json": {}, "body": "x"}), "payload.body"),
        (json!({"url": "no es una URL"}), "payload.url"),
        (json!({"url": app.url("/ok"), "timeout_ms": 0}), "payload.timeout_ms"),
    ] {
        let (status, v) = enqueue(&s, &c, json!({"kind": "http.request", "payload": payload})).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
}
