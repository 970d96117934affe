//! Attempt history, list filters beyond the basic ones, and the statistics behind the charts.
use super::*;

async fn claim(api: &Api, queue: &str) -> Value {
    let (s, v) =
        api.call("POST", "/v1/worker/claim", Some(&format!(r#"{{"queues":["{queue}"],"worker":"w-7"}}"#))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["jobs"][0].clone()
}

#[tokio::test]
async fn every_attempt_is_listed_with_where_it_ran_how_long_and_why_it_ended() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind":"informe","queue":"lab","max_attempts":3}"#).await;
    let id = job["id"].as_str().unwrap();
    let (_, none) = api.call("GET", &format!("/v1/jobs/{id}/attempts"), None).await;
    assert_eq!(none, serde_json::json!({"attempts": []}));

    let c = claim(&api, "lab").await;
    let (_, running) = api.call("GET", &format!("/v1/jobs/{id}/attempts"), None).await;
    assert_eq!(running["attempts"][0]["state"], "running");
    assert!(running["attempts"][0]["ended_at"].is_null());
    let fail =
        format!(r#"{{"attempt":{},"error":{{"code":"render_failed","message":"falta el logo"}}}}"#, c["attempt"]);
    let (s, _) = api.call("POST", &format!("/v1/jobs/{id}/fail"), Some(&fail)).await;
    assert_eq!(s, StatusCode::OK);
    // Due again at once for the test: retry it by hand, then let attempt 2 succeed.
    let (s, _) = api.call("POST", &format!("/v1/jobs/{id}/retry"), None).await;
    assert_eq!(s, StatusCode::OK);
    let c2 = claim(&api, "lab").await;
    let (s, _) = api
        .call("POST", &format!("/v1/jobs/{id}/complete"), Some(&format!(r#"{{"attempt":{}}}"#, c2["attempt"])))
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, v) = api.call("GET", &format!("/v1/jobs/{id}/attempts"), None).await;
    assert_eq!(s, StatusCode::OK);
    let a = v["attempts"].as_array().unwrap();
    assert_eq!(a.len(), 2, "{v}");
    assert_eq!((a[0]["attempt"].as_u64(), a[0]["state"].as_str()), (Some(1), Some("failed")));
    assert_eq!(a[0]["error"]["code"], "render_failed");
    assert_eq!(a[0]["worker"], "w-7");
    assert!(a[0]["duration_ms"].as_i64().is_some_and(|d| d >= 0));
    assert_eq!((a[1]["attempt"].as_u64(), a[1]["state"].as_str()), (Some(2), Some("succeeded")));
    assert!(a[1]["error"].is_null());

    let other = api.key_for("otro", false).await;
    expect_error(api.call_as(&other, "GET", &format!("/v1/jobs/{id}/attempts"), None).await, 404, "not_found");
    expect_error(api.call("GET", "/v1/jobs/not-an-id/attempts", None).await, 404, "not_found");
}

#[tokio::test]
async fn the_list_searches_filters_by_time_and_shows_admins_every_tenant() {
    let api = Api::new().await;
    let a = api.enqueue(r#"{"kind":"pdf.render","payload":{"protocolo":"HP-2024-0153","animal":"Firulais"}}"#).await;
    api.enqueue(r#"{"kind":"pdf.render","payload":{"protocolo":"HP-2024-0154"}}"#).await;
    let otro = api.key_for("otro", false).await;
    let (s, b) = api.call_as(&otro, "POST", "/v1/jobs", Some(r#"{"kind":"x","payload":{"animal":"Firulais"}}"#)).await;
    assert_eq!(s, StatusCode::CREATED);

    let (_, found) = api.call("GET", "/v1/jobs?search=firulais", None).await;
    assert_eq!(found["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(found["jobs"][0]["id"], a["id"]);
    let (_, found) = api.call("GET", "/v1/jobs?search=HP-2024-015&kind=pdf.render", None).await;
    assert_eq!(found["jobs"].as_array().unwrap().len(), 2, "the last word is a prefix");
    expect_error(api.call("GET", "/v1/jobs?search=--", None).await, 400, "invalid_request");
    let long = "a".repeat(201);
    expect_error(api.call("GET", &format!("/v1/jobs?search={long}"), None).await, 400, "invalid_request");

    let (_, later) = api.call("GET", "/v1/jobs?created_after=2999-01-01T00:00:00Z", None).await;
    assert!(later["jobs"].as_array().unwrap().is_empty());
    let (_, earlier) = api.call("GET", "/v1/jobs?created_before=2999-01-01T00:00:00Z", None).await;
    assert_eq!(earlier["jobs"].as_array().unwrap().len(), 2);
    let bad = expect_error(api.call("GET", "/v1/jobs?created_after=yesterday", None).await, 400, "invalid_request");
    assert_eq!(bad["error"]["details"]["field"], "created_after");

    expect_error(api.call("GET", "/v1/jobs?all_tenants=true", None).await, 403, "forbidden");
    let admin = api.key_for("acme", true).await;
    let (s, all) = api.call_as(&admin, "GET", "/v1/jobs?all_tenants=true&search=firulais", None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let tenants: Vec<&str> = all["jobs"].as_array().unwrap().iter().map(|j| j["tenant"].as_str().unwrap()).collect();
    assert_eq!(tenants, vec!["otro", "acme"]);
    assert_eq!(all["jobs"][0]["id"], b["id"]);

    // A bulk action takes the same filters.
    let (s, dry) = api
        .call("POST", "/v1/jobs/actions", Some(r#"{"action":"cancel","filter":{"search":"0154"},"dry_run":true}"#))
        .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["matched"], 1);
}

#[tokio::test]
async fn stats_answer_every_bucket_of_the_window() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind":"x","queue":"q"}"#).await;
    let c = claim(&api, "q").await;
    let id = job["id"].as_str().unwrap();
    api.call("POST", &format!("/v1/jobs/{id}/complete"), Some(&format!(r#"{{"attempt":{}}}"#, c["attempt"]))).await;
    // Count the minute now, as the leader would once it is over.
    let later = tarea_runtime::now_ms() + 120_000;
    while api.store.store.stats_rollup(later).await.unwrap() > 0 {}

    let (s, v) = api.call("GET", "/v1/stats", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["window"].as_str(), v["step_ms"].as_i64()), (Some("hour"), Some(60_000)));
    assert_eq!(v["buckets"].as_array().unwrap().len(), 60);
    assert_eq!(v["total"]["succeeded"], 1);
    let (_, q) = api.call("GET", "/v1/stats?window=week&queue=otra", None).await;
    assert_eq!((q["buckets"].as_array().unwrap().len(), q["total"]["succeeded"].as_u64()), (84, Some(0)));
    let (_, d) = api.call("GET", "/v1/stats?window=day", None).await;
    assert_eq!((d["buckets"].as_array().unwrap().len(), d["total"]["succeeded"].as_u64()), (96, Some(1)));
    expect_error(api.call("GET", "/v1/stats?window=year", None).await, 400, "invalid_request");
    expect_error(api.call("GET", "/v1/stats?all_tenants=true", None).await, 403, "forbidden");
    let otro = api.key_for("otro", false).await;
    let (_, theirs) = api.call_as(&otro, "GET", "/v1/stats", None).await;
    assert_eq!(theirs["total"]["succeeded"], 0, "another tenant's work is not counted");
}
