//! Bad input gets the §4 JSON error, writes nothing, and leaves the server healthy.
use super::*;

#[tokio::test]
async fn malformed_bodies_are_refused_and_write_nothing() {
    let api = Api::new().await;
    let deep = format!("{{\"kind\":\"x\",\"payload\":{}{}}}", "[".repeat(100), "]".repeat(100));
    let cases: Vec<(&str, u16, &str, Option<&str>)> = vec![
        ("{\"kind\":", 400, "invalid_json", None),
        ("{\"kind\": \"x\"} trailing", 400, "invalid_json", None),
        ("", 400, "invalid_json", None),
        ("   ", 400, "invalid_json", None),
        ("[1, 2]", 400, "invalid_request", None),
        ("\"x\"", 400, "invalid_request", None),
        ("{\"kind\": 5}", 400, "invalid_request", Some("kind")),
        ("{\"queue\": \"q\"}", 400, "invalid_request", None),
        ("{\"kind\": \"x\", \"colour\": 1}", 400, "invalid_request", Some("colour")),
        ("{\"kind\": \"Bad Kind\"}", 400, "invalid_request", Some("kind")),
        ("{\"kind\": \"\"}", 400, "invalid_request", Some("kind")),
        (
            &*Box::leak(format!("{{\"kind\": \"{}\"}}", "a".repeat(65)).into_boxed_str()),
            400,
            "invalid_request",
            Some("kind"),
        ),
        ("{\"kind\": \"x\", \"queue\": \"ñ\"}", 400, "invalid_request", Some("queue")),
        ("{\"kind\": \"x\", \"priority\": 101}", 400, "invalid_request", Some("priority")),
        ("{\"kind\": \"x\", \"priority\": -101}", 400, "invalid_request", Some("priority")),
        ("{\"kind\": \"x\", \"priority\": \"high\"}", 400, "invalid_request", Some("priority")),
        ("{\"kind\": \"x\", \"max_attempts\": 0}", 400, "invalid_request", Some("max_attempts")),
        ("{\"kind\": \"x\", \"max_attempts\": 1001}", 400, "invalid_request", Some("max_attempts")),
        ("{\"kind\": \"x\", \"max_attempts\": -1}", 400, "invalid_request", Some("max_attempts")),
        ("{\"kind\": \"x\", \"timeout_ms\": 0}", 400, "invalid_request", Some("timeout_ms")),
        ("{\"kind\": \"x\", \"delay_ms\": 99999999999999}", 400, "invalid_request", Some("delay_ms")),
        ("{\"kind\": \"x\", \"run_at\": \"mañana\"}", 400, "invalid_request", Some("run_at")),
        (
            "{\"kind\": \"x\", \"run_at\": \"2026-12-01T02:00:00Z\", \"delay_ms\": 5}",
            400,
            "invalid_request",
            Some("run_at"),
        ),
        ("{\"kind\": \"x\", \"tags\": [\"\"]}", 400, "invalid_request", Some("tags")),
        ("{\"kind\": \"x\", \"idempotency_key\": \"\"}", 400, "invalid_request", Some("idempotency_key")),
        ("{\"kind\": \"x\", \"retry\": {\"base_ms\": 10}}", 400, "invalid_request", Some("retry")),
        (
            "{\"kind\": \"x\", \"retry\": {\"base_ms\": 100, \"max_ms\": 10}}",
            400,
            "invalid_request",
            Some("retry.max_ms"),
        ),
        (&*Box::leak(deep.into_boxed_str()), 400, "invalid_request", None),
    ];
    for (body, status, code, field) in cases {
        let v = expect_error(api.call("POST", "/v1/jobs", Some(body)).await, status, code);
        if let Some(f) = field {
            assert!(v["error"]["details"]["field"].as_str().unwrap_or("").starts_with(f), "{body}: {v}");
        }
    }
    let tags: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
    let body = serde_json::json!({"kind": "x", "tags": tags}).to_string();
    expect_error(api.call("POST", "/v1/jobs", Some(&body)).await, 400, "invalid_request");
    assert_eq!(api.stored_jobs().await, 0);
    assert_eq!(api.call("GET", "/readyz", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn non_utf8_wrong_type_and_oversized_bodies() {
    let api = Api::new().await;
    let req = Request::post("/v1/jobs")
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", "application/json")
        .body(Body::from(vec![b'{', 0xff, 0xfe, b'}']))
        .unwrap();
    expect_error(send(&api.app, req).await, 400, "invalid_json");
    let req = Request::post("/v1/jobs")
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", "text/plain")
        .body(Body::from("{\"kind\":\"x\"}"))
        .unwrap();
    expect_error(send(&api.app, req).await, 415, "unsupported_media_type");
    let req = Request::post("/v1/jobs")
        .header("authorization", format!("Bearer {}", api.key))
        .body(Body::from("{\"kind\":\"x\"}"))
        .unwrap();
    expect_error(send(&api.app, req).await, 415, "unsupported_media_type");
    let big = format!("{{\"kind\":\"x\",\"payload\":\"{}\"}}", "a".repeat(2 << 20));
    expect_error(api.call("POST", "/v1/jobs", Some(&big)).await, 413, "payload_too_large");
    assert_eq!(api.stored_jobs().await, 0);
}

#[tokio::test]
async fn keys_routes_and_methods_answer_json() {
    let api = Api::new().await;
    expect_error(api.call_as("", "GET", "/v1/jobs", None).await, 401, "unauthorized");
    expect_error(api.call_as("tarea_nope", "GET", "/v1/jobs", None).await, 401, "unauthorized");
    let req = Request::get("/v1/jobs").header("authorization", "Basic abc").body(Body::empty()).unwrap();
    expect_error(send(&api.app, req).await, 401, "unauthorized");
    expect_error(api.call("GET", "/v2/nothing", None).await, 404, "not_found");
    expect_error(api.call("DELETE", "/v1/jobs", None).await, 405, "method_not_allowed");
    expect_error(api.call("GET", "/v1/jobs/not-a-uuid", None).await, 404, "not_found");
    expect_error(api.call("GET", "/v1/jobs/01a21e5b-b607-70f6-b06b-c092ef00059c", None).await, 404, "not_found");
    expect_error(api.call("GET", "/v1/jobs?state=done", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/jobs?limit=0", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/jobs?colour=red", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/jobs?cursor=zzz", None).await, 400, "invalid_request");
    expect_error(api.call("POST", "/v1/keys", Some("{\"tenant\":\"b\"}")).await, 403, "forbidden");
}

#[tokio::test]
async fn batches_are_validated_whole() {
    let api = Api::new().await;
    let v = expect_error(
        api.call("POST", "/v1/jobs/batch", Some("{\"jobs\":[{\"kind\":\"a\"},{\"kind\":\"B\"}]}")).await,
        400,
        "invalid_request",
    );
    assert_eq!(v["error"]["details"]["field"], "jobs[1].kind");
    expect_error(api.call("POST", "/v1/jobs/batch", Some("{\"jobs\":[]}")).await, 400, "invalid_request");
    let many: Vec<Value> = (0..1001).map(|_| serde_json::json!({"kind": "a"})).collect();
    let body = serde_json::json!({ "jobs": many }).to_string();
    expect_error(api.call("POST", "/v1/jobs/batch", Some(&body)).await, 400, "invalid_request");
    assert_eq!(api.stored_jobs().await, 0);
}

#[tokio::test]
async fn queue_full_answers_429_with_retry_after() {
    let api = Api::new().await;
    let (s, _) = api.call("PUT", "/v1/queues/pdf", Some("{\"max_depth\": 1}")).await;
    assert_eq!(s, StatusCode::OK);
    api.enqueue("{\"kind\":\"x\",\"queue\":\"pdf\"}").await;
    let req = Request::post("/v1/jobs")
        .header("authorization", format!("Bearer {}", api.key))
        .header("content-type", "application/json")
        .body(Body::from("{\"kind\":\"x\",\"queue\":\"pdf\"}"))
        .unwrap();
    let res = api.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(api.stored_jobs().await, 1);
    expect_error(api.call("PUT", "/v1/queues/pdf", Some("{\"concurrency\": 0}")).await, 400, "invalid_request");
    expect_error(api.call("PUT", "/v1/queues/pdf", Some("{\"rate_limit\": -1}")).await, 400, "invalid_request");
    expect_error(api.call("PUT", "/v1/queues/PDF", Some("{}")).await, 400, "invalid_request");
}
