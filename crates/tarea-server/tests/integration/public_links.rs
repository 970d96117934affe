//! Browser links: a job followed without the API key, showing less than the API, refused
//! when changed or expired.
use serde_json::json;

use super::*;

async fn get_public(api: &Api, path: &str) -> (StatusCode, Value) {
    api.call_as("", "GET", path, None).await
}

#[tokio::test]
async fn a_browser_link_shows_the_job_without_the_key_and_refuses_changes() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop", "payload": {"secreto": "del app"}, "tags": ["interno"]}"#).await;
    let id = job["id"].as_str().unwrap();
    let (status, link) = api.call("POST", &format!("/v1/jobs/{id}/link"), Some(r#"{"expires_in_s": 600}"#)).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["url"].as_str().unwrap();
    let path = url.strip_prefix("http://tarea.test").expect("made from --public-url");
    assert!(link["events_url"].as_str().unwrap().contains(&format!("/v1/public/jobs/{id}/events?")));

    let (status, view) = get_public(&api, path).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["id"], id);
    assert_eq!(view["state"], "queued");
    for hidden in ["payload", "tenant", "tags", "idempotency_key"] {
        assert!(view.get(hidden).is_none(), "{hidden} shown: {view}");
    }

    let other = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let swapped = path.replace(id, other["id"].as_str().unwrap());
    expect_error(get_public(&api, &swapped).await, 403, "forbidden");
    let later = path.replace("expires=", "expires=9");
    expect_error(get_public(&api, &later).await, 403, "forbidden");
    let no_sig = path.split("&signature").next().unwrap();
    expect_error(get_public(&api, no_sig).await, 403, "forbidden");
    expect_error(
        api.call("POST", &format!("/v1/jobs/{id}/link"), Some(r#"{"expires_in_s": 0}"#)).await,
        400,
        "invalid_request",
    );
    let stranger = api.key_for("other", false).await;
    expect_error(api.call_as(&stranger, "POST", &format!("/v1/jobs/{id}/link"), Some("{}")).await, 404, "not_found");
}

#[tokio::test]
async fn a_browser_link_expires() {
    let api = Api::new().await;
    let job = api.enqueue(r#"{"kind": "tarea.noop"}"#).await;
    let id = job["id"].as_str().unwrap();
    let (_, link) =
        api.call("POST", &format!("/v1/jobs/{id}/link"), Some(&json!({"expires_in_s": 1}).to_string())).await;
    let path = link["url"].as_str().unwrap().strip_prefix("http://tarea.test").unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let v = expect_error(get_public(&api, &path).await, 403, "forbidden");
    assert!(v["error"]["message"].as_str().unwrap().contains("expired"), "{v}");
}
