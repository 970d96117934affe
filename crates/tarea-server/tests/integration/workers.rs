//! The external worker API through oneshot calls: claim, progress, heartbeat, complete, fail,
//! and fencing of stale attempts.
use super::*;

async fn claim(api: &Api, body: &str) -> Vec<Value> {
    let (s, v) = api.call("POST", "/v1/worker/claim", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["jobs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_worker_claims_reports_and_completes() {
    let api = Api::new().await;
    api.enqueue(r#"{"kind":"protocols.set_status","payload":{"ids":[1,2,3]}}"#).await;
    api.enqueue(r#"{"kind":"tarea.noop"}"#).await;
    let jobs = claim(&api, r#"{"queues":["default"],"max":10,"worker":"django-1"}"#).await;
    assert_eq!(jobs.len(), 1, "built-in kinds are never handed to external workers");
    let job = &jobs[0];
    assert_eq!((job["kind"].as_str(), job["attempt"].as_u64()), (Some("protocols.set_status"), Some(1)));
    assert!(job["lease_expires_at"].is_string());
    let id = job["id"].as_str().unwrap();
    let (s, p) = api
        .call(
            "POST",
            &format!("/v1/jobs/{id}/progress"),
            Some(r#"{"attempt":1,"current":2,"total":3,"step":"Actualizando protocolos"}"#),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["progress"]["current"], 2);
    let (s, h) = api.call("POST", &format!("/v1/jobs/{id}/heartbeat"), Some(r#"{"attempt":1,"lease_ms":60000}"#)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["lease_expires_at"].is_string());
    let (s, done) =
        api.call("POST", &format!("/v1/jobs/{id}/complete"), Some(r#"{"attempt":1,"result":{"updated":3}}"#)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((done["state"].as_str(), done["result"]["updated"].as_u64()), (Some("succeeded"), Some(3)));
    let e = expect_error(
        api.call("POST", &format!("/v1/jobs/{id}/complete"), Some(r#"{"attempt":1}"#)).await,
        409,
        "stale_attempt",
    );
    assert_eq!(e["error"]["details"]["state"], "succeeded");
}

#[tokio::test]
async fn stale_attempts_change_nothing() {
    let api = Api::new().await;
    let v = api.enqueue(r#"{"kind":"ext"}"#).await;
    let id = v["id"].as_str().unwrap();
    claim(&api, r#"{"queues":["default"]}"#).await;
    for (path, body) in [
        ("complete", r#"{"attempt":2}"#),
        ("fail", r#"{"attempt":0,"error":{"code":"x","message":"y"}}"#),
        ("progress", r#"{"attempt":7,"percent":10}"#),
        ("heartbeat", r#"{"attempt":3}"#),
    ] {
        let e =
            expect_error(api.call("POST", &format!("/v1/jobs/{id}/{path}"), Some(body)).await, 409, "stale_attempt");
        assert_eq!(e["error"]["details"]["current_attempt"], 1);
    }
    let (_, j) = api.call("GET", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!((j["state"].as_str(), j["progress"].is_null()), (Some("running"), true));
}

#[tokio::test]
async fn failures_retry_then_die() {
    let api = Api::new().await;
    let v = api.enqueue(r#"{"kind":"ext","max_attempts":2,"retry":{"base_ms":1,"max_ms":1}}"#).await;
    let id = v["id"].as_str().unwrap();
    claim(&api, r#"{"queues":["default"]}"#).await;
    let (_, f) = api.call("POST", &format!("/v1/jobs/{id}/fail"), Some(r#"{"attempt":1,"error":{"code":"smtp_down","message":"el servidor no responde","details":{"host":"mail"}}}"#)).await;
    assert_eq!(f["state"], "failed");
    assert_eq!(f["error"]["details"]["host"], "mail");
    let (_, nf) = api
        .call("POST", &format!("/v1/jobs/{id}/fail"), Some(r#"{"attempt":1,"error":{"code":"x","message":"y"}}"#))
        .await;
    assert_eq!(nf["error"]["code"], "stale_attempt");
    let v2 = api.enqueue(r#"{"kind":"ext2"}"#).await;
    let id2 = v2["id"].as_str().unwrap();
    claim(&api, r#"{"queues":["default"],"kinds":["ext2"]}"#).await;
    let (_, d) = api
        .call(
            "POST",
            &format!("/v1/jobs/{id2}/fail"),
            Some(r#"{"attempt":1,"error":{"code":"bad_input","message":"no existe"},"retryable":false}"#),
        )
        .await;
    assert_eq!(d["state"], "dead");
}

#[tokio::test]
async fn claim_requests_are_validated() {
    let api = Api::new().await;
    for body in [
        r#"{"queues":[]}"#,
        r#"{"queues":["Q"]}"#,
        r#"{"queues":["q"],"max":0}"#,
        r#"{"queues":["q"],"max":100000}"#,
        r#"{"queues":["q"],"wait_ms":600000}"#,
        r#"{"queues":["q"],"lease_ms":5}"#,
        r#"{"queues":["q"],"kinds":["A B"]}"#,
        r#"{"queues":["q"],"kinds":[]}"#,
        r#"{"queue":"q"}"#,
    ] {
        expect_error(api.call("POST", "/v1/worker/claim", Some(body)).await, 400, "invalid_request");
    }
}

#[tokio::test]
async fn many_completions_in_one_request_are_fenced_one_by_one() {
    let api = Api::new().await;
    for _ in 0..3 {
        api.enqueue(r#"{"kind":"ext"}"#).await;
    }
    let jobs = claim(&api, r#"{"queues":["default"],"max":3}"#).await;
    let other = api.key_for("intruso", false).await;
    let id = |i: usize| jobs[i]["id"].as_str().unwrap().to_owned();
    let foreign = serde_json::json!({"jobs": [{"id": id(0), "attempt": 1}]}).to_string();
    let (s, v) = api.call_as(&other, "POST", "/v1/worker/complete", Some(&foreign)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["results"][0]["error"]["code"], "not_found", "{v}");
    let body = serde_json::json!({"jobs": [
        {"id": id(0), "attempt": 1, "result": {"n": 0}},
        {"id": id(1), "attempt": 2},
        {"id": "not-an-id", "attempt": 1},
        {"id": id(2), "attempt": 1},
        {"id": id(0), "attempt": 1},
    ]})
    .to_string();
    let (s, v) = api.call("POST", "/v1/worker/complete", Some(&body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().unwrap();
    let codes: Vec<Option<&str>> = r.iter().map(|x| x["error"]["code"].as_str()).collect();
    assert_eq!(codes, vec![None, Some("stale_attempt"), Some("not_found"), None, Some("stale_attempt")]);
    assert_eq!(r[0]["ok"], true);
    let (_, j0) = api.call("GET", &format!("/v1/jobs/{}", id(0)), None).await;
    assert_eq!((j0["state"].as_str(), j0["result"]["n"].as_u64()), (Some("succeeded"), Some(0)));
    let (_, j1) = api.call("GET", &format!("/v1/jobs/{}", id(1)), None).await;
    assert_eq!(j1["state"], "running");
    expect_error(api.call("POST", "/v1/worker/complete", Some(r#"{"jobs":[]}"#)).await, 400, "invalid_request");
}

#[tokio::test]
async fn claims_name_at_most_64_kinds() {
    let api = Api::new().await;
    let kinds: Vec<String> = (0..65).map(|i| format!("k{i}")).collect();
    let body = serde_json::json!({"queues": ["q"], "kinds": kinds}).to_string();
    expect_error(api.call("POST", "/v1/worker/claim", Some(&body)).await, 400, "invalid_request");
    api.enqueue(r#"{"kind":"k1","queue":"q"}"#).await;
    let dup = serde_json::json!({"queues": ["q", "q"], "kinds": ["k1", "k1"], "max": 5}).to_string();
    assert_eq!(claim(&api, &dup).await.len(), 1);
}
