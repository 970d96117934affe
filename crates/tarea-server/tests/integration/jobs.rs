use super::*;

#[tokio::test]
async fn enqueue_answers_the_job_view() {
    let api = Api::new().await;
    let v = api
        .enqueue(r#"{"kind":"pdf.render","queue":"docs","payload":{"protocolo":"HP 24/123"},"priority":5,"tags":["informe"],"max_attempts":3,"timeout_ms":60000}"#)
        .await;
    for field in [
        "id",
        "tenant",
        "kind",
        "queue",
        "state",
        "priority",
        "attempt",
        "max_attempts",
        "payload",
        "progress",
        "result",
        "error",
        "artifacts",
        "tags",
        "idempotency_key",
        "created_at",
        "run_at",
        "started_at",
        "finished_at",
    ] {
        assert!(v.get(field).is_some(), "job view lacks {field}: {v}");
    }
    assert_eq!(v["state"], "queued");
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["payload"]["protocolo"], "HP 24/123");
    assert_eq!(v["max_attempts"], 3);
    assert_eq!(v["attempt"], 0);
    let (s, got) = api.call("GET", &format!("/v1/jobs/{}", v["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, v);
    let d = api.enqueue(r#"{"kind":"x","delay_ms":60000}"#).await;
    assert_eq!(d["state"], "scheduled");
    let r = api.enqueue(r#"{"kind":"x","run_at":"2099-01-01T00:00:00-03:00"}"#).await;
    assert_eq!(r["run_at"], "2099-01-01T03:00:00.000Z");
}

#[tokio::test]
async fn same_idempotency_key_answers_200_with_the_existing_job() {
    let api = Api::new().await;
    let body = r#"{"kind":"x","idempotency_key":"finalizar-informe-77"}"#;
    let first = api.enqueue(body).await;
    let (s, again) = api.call("POST", "/v1/jobs", Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(api.stored_jobs().await, 1);
}

#[tokio::test]
async fn batch_creates_every_job() {
    let api = Api::new().await;
    let (s, v) = api.call("POST", "/v1/jobs/batch", Some(r#"{"jobs":[{"kind":"a"},{"kind":"b","queue":"q2"}]}"#)).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(api.stored_jobs().await, 2);
}

#[tokio::test]
async fn list_pages_with_cursor_and_filters() {
    let api = Api::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let v = api.enqueue(&format!(r#"{{"kind":"k{}","tags":["t{i}"]}}"#, i % 2)).await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let (_, p1) = api.call("GET", "/v1/jobs?limit=3", None).await;
    let got: Vec<&str> = p1["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![&*ids[4], &*ids[3], &*ids[2]]);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = api.call("GET", &format!("/v1/jobs?limit=3&cursor={cursor}"), None).await;
    assert_eq!(p2["jobs"].as_array().unwrap().len(), 2);
    assert!(p2["next_cursor"].is_null());
    let (_, k1) = api.call("GET", "/v1/jobs?kind=k1&state=queued", None).await;
    assert_eq!(k1["jobs"].as_array().unwrap().len(), 2);
    let (_, t) = api.call("GET", "/v1/jobs?tag=t3", None).await;
    assert_eq!(t["jobs"][0]["id"], ids[3]);
}

#[tokio::test]
async fn cancel_and_retry_follow_the_state_table() {
    let api = Api::new().await;
    let v = api.enqueue(r#"{"kind":"x"}"#).await;
    let id = v["id"].as_str().unwrap();
    expect_error(api.call("POST", &format!("/v1/jobs/{id}/retry"), None).await, 409, "illegal_transition");
    let (s, c) = api.call("POST", &format!("/v1/jobs/{id}/cancel"), None).await;
    assert_eq!((s, c["state"].as_str()), (StatusCode::OK, Some("cancelled")));
    let e = expect_error(api.call("POST", &format!("/v1/jobs/{id}/cancel"), None).await, 409, "illegal_transition");
    assert_eq!(e["error"]["details"]["state"], "cancelled");
    let (s, r) = api.call("POST", &format!("/v1/jobs/{id}/retry"), None).await;
    assert_eq!((s, r["state"].as_str(), r["attempts_left"].as_u64()), (StatusCode::OK, Some("queued"), Some(5)));
}

#[tokio::test]
async fn queues_show_counts_and_settings() {
    let api = Api::new().await;
    api.enqueue(r#"{"kind":"x","queue":"mail"}"#).await;
    let (s, q) = api.call("PUT", "/v1/queues/mail", Some(r#"{"concurrency":2,"rate_limit":5}"#)).await;
    assert_eq!(s, StatusCode::OK, "{q}");
    assert_eq!((q["concurrency"].as_u64(), q["rate_limit"].as_f64()), (Some(2), Some(5.0)));
    let (_, p) = api.call("POST", "/v1/queues/mail/pause", None).await;
    assert_eq!(p["paused"], true);
    let (_, list) = api.call("GET", "/v1/queues", None).await;
    let mail = &list["queues"][0];
    assert_eq!((mail["name"].as_str(), mail["paused"].as_bool()), (Some("mail"), Some(true)));
    assert_eq!(mail["counts"]["queued"], 1);
    let (_, r) = api.call("POST", "/v1/queues/mail/resume", None).await;
    assert_eq!(r["paused"], false);
}

#[tokio::test]
async fn admin_key_creates_keys_for_other_tenants() {
    let api = Api::new().await;
    let admin = api.key_for("acme", true).await;
    let (s, v) = api.call_as(&admin, "POST", "/v1/keys", Some(r#"{"tenant":"petshop"}"#)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap();
    let (s, job) = api.call_as(key, "POST", "/v1/jobs", Some(r#"{"kind":"x"}"#)).await;
    assert_eq!((s, job["tenant"].as_str()), (StatusCode::CREATED, Some("petshop")));
}

#[tokio::test]
async fn operations_endpoints_need_no_key() {
    let api = Api::new().await;
    api.enqueue(r#"{"kind":"x","queue":"q"}"#).await;
    let (s, v) = api.call_as("", "GET", "/healthz", None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, v) = api.call_as("", "GET", "/readyz", None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (s, v) = api.call_as("", "GET", "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap();
    for name in [
        "tarea_jobs_enqueued_total{tenant=\"acme\",queue=\"q\",kind=\"x\"} 1",
        "tarea_queue_jobs{tenant=\"acme\",queue=\"q\",state=\"queued\"} 1",
        "tarea_queue_oldest_queued_age_seconds",
        "tarea_queue_paused{tenant=\"acme\",queue=\"q\"} 0",
    ] {
        assert!(text.contains(name), "metrics lack {name}:\n{text}");
    }
}

#[tokio::test]
async fn many_jobs_are_cancelled_retried_and_deleted_by_filter_or_id_after_a_dry_run() {
    let api = Api::new().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let queue = if i < 3 { "informes" } else { "correo" };
        ids.push(api.enqueue(&format!(r#"{{"kind": "informe.pdf", "queue": "{queue}"}}"#)).await["id"].clone());
    }
    // A dry run counts and changes nothing.
    let (status, v) =
        api_call(&api, serde_json::json!({"action": "cancel", "filter": {"queue": "informes"}, "dry_run": true})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["matched"].as_u64(), v["applicable"].as_u64(), v["changed"].as_u64()), (Some(3), Some(3), Some(0)));
    let (_, list) = api.call("GET", "/v1/jobs?state=cancelled", None).await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0);
    // Cancel by filter.
    let (_, v) =
        api_call(&api, serde_json::json!({"action": "cancel", "filter": {"queue": "informes", "state": "queued"}}))
            .await;
    assert_eq!((v["matched"].as_u64(), v["changed"].as_u64(), v["skipped"].as_u64()), (Some(3), Some(3), Some(0)));
    // Retry by id: two cancelled, one queued (not applicable), one unknown id.
    let unknown = "0190aaaa-0000-7000-8000-000000000000";
    let (_, v) = api_call(&api, serde_json::json!({"action": "retry", "ids": [ids[0], ids[1], ids[4], unknown]})).await;
    assert_eq!(
        (v["matched"].as_u64(), v["applicable"].as_u64(), v["changed"].as_u64()),
        (Some(3), Some(2), Some(2)),
        "{v}"
    );
    // Delete what is finished: the one cancelled job left.
    let (_, v) = api_call(&api, serde_json::json!({"action": "delete", "filter": {}})).await;
    assert_eq!(
        (v["matched"].as_u64(), v["applicable"].as_u64(), v["changed"].as_u64()),
        (Some(5), Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(api.stored_jobs().await, 4);
    // Bad requests say what is wrong.
    for (body, field) in [
        (serde_json::json!({"action": "cancel"}), "ids"),
        (serde_json::json!({"action": "cancel", "ids": [], "filter": {}}), "ids"),
        (serde_json::json!({"action": "cancel", "ids": ["x"]}), "ids[0]"),
        (serde_json::json!({"action": "cancel", "filter": {"state": "perdido"}}), "filter.state"),
    ] {
        let (status, v) = api_call(&api, body).await;
        assert_eq!((status, v["error"]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{v}");
    }
    let (status, _) = api_call(&api, serde_json::json!({"action": "purge", "filter": {}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_audit_log_s_own_headers_do_not_reach_the_client() {
    use tower::ServiceExt;
    let api = Api::new().await;
    api.enqueue(r#"{"kind": "informe.pdf"}"#).await;
    for dry_run in [true, false] {
        let body = serde_json::json!({"action": "cancel", "filter": {}, "dry_run": dry_run}).to_string();
        let req = axum::http::Request::post("/v1/jobs/actions")
            .header("authorization", format!("Bearer {}", api.key))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let res = api.app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().keys().all(|k| !k.as_str().starts_with("x-tarea-")), "{:?}", res.headers());
    }
}

async fn api_call(api: &Api, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    api.call("POST", "/v1/jobs/actions", Some(&body.to_string())).await
}
