//! The dashboard's listings beyond jobs: batches, artifacts and API keys (with deleting a key).
use super::*;

#[tokio::test]
async fn batches_are_listed_newest_first_in_pages() {
    let api = Api::new().await;
    let mut made = Vec::new();
    for n in 1..=3 {
        let jobs: Vec<String> =
            (0..n).map(|i| format!(r#"{{"kind":"estado.actualizar","payload":{{"i":{i}}}}}"#)).collect();
        let (s, v) = api.call("POST", "/v1/batches", Some(&format!(r#"{{"jobs":[{}]}}"#, jobs.join(",")))).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        made.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, page) = api.call("GET", "/v1/batches?limit=2", None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let batches = page["batches"].as_array().unwrap();
    assert_eq!((batches[0]["id"].as_str(), batches[1]["id"].as_str()), (Some(&*made[2]), Some(&*made[1])));
    assert_eq!((batches[0]["total"].as_u64(), batches[0]["counts"]["queued"].as_u64()), (Some(3), Some(3)));
    assert_eq!(batches[0]["state"], "running");
    assert!(batches[0].get("job_ids").is_none(), "a listing names no items");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = api.call("GET", &format!("/v1/batches?limit=2&cursor={cursor}"), None).await;
    assert_eq!(rest["batches"].as_array().unwrap().len(), 1);
    assert_eq!(rest["batches"][0]["id"], made[0].as_str());
    assert!(rest["next_cursor"].is_null());

    let other = api.key_for("otro", false).await;
    let (_, theirs) = api.call_as(&other, "GET", "/v1/batches", None).await;
    assert_eq!(theirs["batches"], serde_json::json!([]));
    expect_error(api.call("GET", "/v1/batches?limit=0", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/batches?cursor=nope", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/batches?colour=red", None).await, 400, "invalid_request");
}

#[tokio::test]
async fn artifacts_are_listed_newest_first_with_sizes_and_downloads() {
    let api = Api::new().await;
    let mut ids = Vec::new();
    for name in ["planilla.csv", "informe.pdf"] {
        let req = Request::builder()
            .method("POST")
            .uri(format!("/v1/uploads?filename={name}"))
            .header("authorization", format!("Bearer {}", api.key))
            .header("content-type", "application/octet-stream")
            .body(Body::from(vec![b'x'; 1234]))
            .unwrap();
        let (s, v) = send(&api.app, req).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, page) = api.call("GET", "/v1/artifacts", None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let list = page["artifacts"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["id"].as_str(), list[0]["filename"].as_str()), (Some(&*ids[1]), Some("informe.pdf")));
    assert_eq!((list[0]["size"].as_u64(), list[0]["download_count"].as_u64()), (Some(1234), Some(0)));
    assert_eq!(list[0]["kind"], "upload");
    assert!(list[0]["expires_at"].is_string());
    let (_, one) = api.call("GET", "/v1/artifacts?limit=1", None).await;
    let cursor = one["next_cursor"].as_str().unwrap();
    let (_, rest) = api.call("GET", &format!("/v1/artifacts?limit=1&cursor={cursor}"), None).await;
    assert_eq!(rest["artifacts"][0]["id"], ids[0].as_str());

    let other = api.key_for("otro", false).await;
    let (_, theirs) = api.call_as(&other, "GET", "/v1/artifacts", None).await;
    assert_eq!(theirs["artifacts"], serde_json::json!([]));
}

#[tokio::test]
async fn admins_list_keys_without_secrets_and_delete_them() {
    let api = Api::new().await;
    let admin = api.key_for("acme", true).await;
    let clerk = api.key_for("tienda", false).await;
    expect_error(api.call("GET", "/v1/keys", None).await, 403, "forbidden");

    let (s, all) = api.call_as(&admin, "GET", "/v1/keys", None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let keys = all["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.get("key").is_none() && k.get("hash").is_none()), "no secrets: {all}");
    let (_, tienda) = api.call_as(&admin, "GET", "/v1/keys?tenant=tienda", None).await;
    let clerk_id = tienda["keys"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(tienda["keys"].as_array().unwrap().len(), 1);
    let own = keys.iter().find(|k| k["admin"] == true).unwrap()["id"].as_str().unwrap().to_owned();

    expect_error(api.call("DELETE", &format!("/v1/keys/{clerk_id}"), None).await, 403, "forbidden");
    let (_, ok) = api.call_as(&clerk, "GET", "/v1/jobs", None).await;
    assert!(ok["jobs"].is_array(), "the key works and is now cached");
    let (s, _) = api.call_as(&admin, "DELETE", &format!("/v1/keys/{clerk_id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    expect_error(api.call_as(&clerk, "GET", "/v1/jobs", None).await, 401, "unauthorized");
    expect_error(api.call_as(&admin, "DELETE", &format!("/v1/keys/{clerk_id}"), None).await, 404, "not_found");
    let mine = expect_error(api.call_as(&admin, "DELETE", &format!("/v1/keys/{own}"), None).await, 409, "conflict");
    assert!(mine["error"]["message"].as_str().unwrap().contains("another admin key"), "{mine}");
    let (_, after) = api.call_as(&admin, "GET", "/v1/keys", None).await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 2);
}
