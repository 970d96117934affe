//! Batches and chains over HTTP: creation, views, refusals that name the field and write
//! nothing, another tenant's batch.
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_batch_is_created_with_its_items_and_read_back() {
    let api = Api::new().await;
    let body = json!({
        "jobs": (0..50).map(|i| json!({"kind": "protocolos.estado", "queue": "app", "payload": {"protocolo": i}}))
            .collect::<Vec<_>>(),
        "on_complete": {"kind": "tarea.noop", "payload": {"aviso": "lote"}},
    });
    let (status, v) = api.call("POST", "/v1/batches", Some(&body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!((v["state"].as_str(), v["total"].as_u64()), (Some("running"), Some(50)));
    assert_eq!(v["counts"]["queued"], 50);
    assert_eq!(v["progress"], json!({"percent": 0.0, "current": 0, "total": 50}));
    assert_eq!(v["on_complete"], "tarea.noop");
    let ids = v["job_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 50);
    let id = v["id"].as_str().unwrap();

    let (_, got) = api.call("GET", &format!("/v1/batches/{id}"), None).await;
    assert_eq!(got["total"], 50);
    assert!(got.get("job_ids").is_none(), "{got}");
    let (_, item) = api.call("GET", &format!("/v1/jobs/{}", ids[7].as_str().unwrap()), None).await;
    assert_eq!(item["batch_id"], id);
    assert_eq!(item["payload"]["protocolo"], 7);
    let (_, page) = api.call("GET", &format!("/v1/jobs?batch={id}&limit=20"), None).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 20);
    assert!(page["next_cursor"].is_string());

    let other = api.key_for("other", false).await;
    expect_error(api.call_as(&other, "GET", &format!("/v1/batches/{id}"), None).await, 404, "not_found");
    expect_error(api.call_as(&other, "POST", &format!("/v1/batches/{id}/cancel"), None).await, 404, "not_found");
    let (_, theirs) = api.call_as(&other, "GET", &format!("/v1/jobs?batch={id}"), None).await;
    assert_eq!(theirs["jobs"], json!([]));
    expect_error(api.call("GET", "/v1/batches/not-an-id", None).await, 404, "not_found");

    let (status, v) = api.call("POST", &format!("/v1/batches/{id}/cancel"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["counts"]["cancelled"], 50);
    assert_eq!(v["progress"]["percent"], 100.0);
    let (status, v) = api.call("POST", &format!("/v1/batches/{id}/retry"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["counts"]["queued"], 50);
    expect_error(api.call("POST", &format!("/v1/batches/{id}/retry"), None).await, 409, "conflict");
}

#[tokio::test]
async fn bad_batches_and_chains_are_refused_naming_the_field_and_write_nothing() {
    let api = Api::new().await;
    let item = json!({"kind": "x"});
    let too_many: Vec<_> = (0..10_001).map(|_| item.clone()).collect();
    let cases = [
        (json!({"jobs": []}), "jobs"),
        (json!({"jobs": too_many}), "jobs"),
        (json!({"jobs": [item, {"kind": "Bad Kind"}]}), "jobs[1].kind"),
        (json!({"jobs": [item], "on_complete": {"kind": "y", "delay_ms": 10}}), "on_complete.delay_ms"),
        (json!({"jobs": [item], "on_complete": {"kind": "y", "payload": [1, 2]}}), "on_complete.payload"),
        (json!({"jobs": [{"kind": "x", "then": {"kind": "y", "cache_key": "k"}}]}), "jobs[0].then.cache_key"),
    ];
    for (body, field) in cases {
        let v = expect_error(api.call("POST", "/v1/batches", Some(&body.to_string())).await, 400, "invalid_request");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    let chains = [
        (json!({"kind": "x", "then": {"kind": "y", "run_at": "2027-01-01T00:00:00Z"}}), "then.run_at"),
        (json!({"kind": "x", "then": {"kind": "y", "idempotency_key": "k"}}), "then.idempotency_key"),
        (json!({"kind": "x", "then": {"kind": "y", "payload": "texto"}}), "then.payload"),
        (json!({"kind": "x", "then": {"kind": "y", "then": {"kind": "Bad Kind"}}}), "then.then.kind"),
    ];
    for (body, field) in chains {
        let v = expect_error(api.call("POST", "/v1/jobs", Some(&body.to_string())).await, 400, "invalid_request");
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    let mut deep = json!({"kind": "z"});
    for _ in 0..9 {
        deep = json!({"kind": "z", "then": deep});
    }
    let v = expect_error(api.call("POST", "/v1/jobs", Some(&deep.to_string())).await, 400, "invalid_request");
    assert!(v["error"]["message"].as_str().unwrap().contains("at most 8"), "{v}");
    expect_error(api.call("GET", "/v1/jobs?batch=nope", None).await, 400, "invalid_request");
    assert_eq!(api.stored_jobs().await, 0, "nothing was written");
}
