//! Nothing crosses tenants: another tenant's ids answer 404 on every endpoint, exactly as if
//! they did not exist, and nothing changes.
use super::*;

#[tokio::test]
async fn another_tenants_job_is_not_found_anywhere() {
    let api = Api::new().await;
    let other = api.key_for("intruso", false).await;
    let v = api.enqueue(r#"{"kind":"ext.work","queue":"q"}"#).await;
    let id = v["id"].as_str().unwrap();
    let (s, claimed) = api.call("POST", "/v1/worker/claim", Some(r#"{"queues":["q"]}"#)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(claimed["jobs"][0]["id"], id);
    let attempt = r#"{"attempt":1}"#;
    let calls: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", format!("/v1/jobs/{id}"), None),
        ("GET", format!("/v1/jobs/{id}/events"), None),
        ("POST", format!("/v1/jobs/{id}/cancel"), None),
        ("POST", format!("/v1/jobs/{id}/retry"), None),
        ("POST", format!("/v1/jobs/{id}/heartbeat"), Some(attempt)),
        ("POST", format!("/v1/jobs/{id}/progress"), Some(r#"{"attempt":1,"percent":50}"#)),
        ("POST", format!("/v1/jobs/{id}/complete"), Some(attempt)),
        ("POST", format!("/v1/jobs/{id}/fail"), Some(r#"{"attempt":1,"error":{"code":"x","message":"y"}}"#)),
    ];
    for (method, path, body) in calls {
        let v = expect_error(api.call_as(&other, method, &path, body).await, 404, "not_found");
        assert!(!v.to_string().contains("acme"), "{v}");
    }
    let (_, list) = api.call_as(&other, "GET", "/v1/jobs", None).await;
    assert!(list["jobs"].as_array().unwrap().is_empty());
    let (_, queues) = api.call_as(&other, "GET", "/v1/queues", None).await;
    assert!(queues["queues"].as_array().unwrap().is_empty());
    api.enqueue(r#"{"kind":"ext.work","queue":"q"}"#).await;
    let (_, none) = api.call_as(&other, "POST", "/v1/worker/claim", Some(r#"{"queues":["q"],"max":10}"#)).await;
    assert!(none["jobs"].as_array().unwrap().is_empty());
    let (_, mine) = api.call("GET", &format!("/v1/jobs/{id}"), None).await;
    assert_eq!((mine["state"].as_str(), mine["progress"].is_null()), (Some("running"), true), "nothing changed");
    let same_key = r#"{"kind":"x","idempotency_key":"k1"}"#;
    let a = api.enqueue(same_key).await;
    let (s, b) = api.call_as(&other, "POST", "/v1/jobs", Some(same_key)).await;
    assert_eq!(s, StatusCode::CREATED, "idempotency keys are per tenant");
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn queues_are_per_tenant() {
    let api = Api::new().await;
    let other = api.key_for("intruso", false).await;
    api.enqueue(r#"{"kind":"ext","queue":"q"}"#).await;
    let (s, v) = api.call_as(&other, "POST", "/v1/queues/q/pause", None).await;
    assert_eq!((s, v["paused"].as_bool()), (StatusCode::OK, Some(true)));
    api.call_as(&other, "PUT", "/v1/queues/q", Some(r#"{"max_depth": 1, "concurrency": 1}"#)).await;
    let (_, mine) = api.call("GET", "/v1/queues", None).await;
    let q = &mine["queues"][0];
    assert_eq!(
        (q["paused"].as_bool(), q["max_depth"].is_null(), q["counts"]["queued"].as_u64()),
        (Some(false), true, Some(1))
    );
    api.enqueue(r#"{"kind":"ext","queue":"q"}"#).await;
    let (_, claimed) = api.call("POST", "/v1/worker/claim", Some(r#"{"queues":["q"],"max":5}"#)).await;
    assert_eq!(
        claimed["jobs"].as_array().unwrap().len(),
        2,
        "another tenant's pause and limits do not touch this tenant's queue"
    );
}
