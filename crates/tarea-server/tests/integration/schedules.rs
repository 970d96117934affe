//! Schedules over HTTP: stored, read with their next runs, paused, resumed, run at once,
//! deleted; bad patterns, zones and jobs refused naming the field, with nothing written.
use serde_json::json;

use super::*;

const NIGHTLY: &str = r#"{"cron": "0 2 * * *", "timezone": "America/Argentina/Buenos_Aires",
    "job": {"kind": "stats.nightly", "queue": "reports", "payload": {"periodo": "diario"}, "tags": ["estadisticas"]}}"#;

#[tokio::test]
async fn a_schedule_is_stored_with_its_next_runs_in_its_own_zone() {
    let api = Api::new().await;
    let (status, v) = api.call("PUT", "/v1/schedules/estadisticas", Some(NIGHTLY)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "estadisticas");
    assert_eq!(v["missed"], "run_once");
    assert_eq!(v["paused"], false);
    assert_eq!(v["runs"], 0);
    assert_eq!(
        v["job"],
        json!({"kind": "stats.nightly", "queue": "reports", "payload": {"periodo": "diario"},
        "priority": 0, "tags": ["estadisticas"]})
    );
    let runs = v["next_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for r in runs {
        assert!(r.as_str().unwrap().ends_with("T02:00:00-03:00"), "{r}");
    }
    let first = tarea_core::parse_rfc3339_ms(runs[0].as_str().unwrap()).unwrap();
    assert_eq!(tarea_core::parse_rfc3339_ms(v["next_run_at"].as_str().unwrap()), Some(first));
    assert!(v["description"].as_str().unwrap().contains("02:00"), "{v}");

    // Stored again: 200, replaced.
    let (status, v) = api.call("PUT", "/v1/schedules/estadisticas", Some(&NIGHTLY.replace("diario", "semanal"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["job"]["payload"]["periodo"], "semanal");
    let (_, got) = api.call("GET", "/v1/schedules/estadisticas", None).await;
    assert_eq!(got["job"]["payload"]["periodo"], "semanal");
    let (_, list) = api.call("GET", "/v1/schedules", None).await;
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1);

    // Another tenant sees nothing.
    let other = api.key_for("other", false).await;
    expect_error(api.call_as(&other, "GET", "/v1/schedules/estadisticas", None).await, 404, "not_found");
    let (_, theirs) = api.call_as(&other, "GET", "/v1/schedules", None).await;
    assert_eq!(theirs["schedules"], json!([]));
    expect_error(api.call_as(&other, "DELETE", "/v1/schedules/estadisticas", None).await, 404, "not_found");
}

#[tokio::test]
async fn pause_resume_run_and_delete() {
    let api = Api::new().await;
    api.call("PUT", "/v1/schedules/estadisticas", Some(NIGHTLY)).await;
    let (status, v) = api.call("POST", "/v1/schedules/estadisticas/pause", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["paused"].clone(), v["next_run_at"].clone(), v["next_runs"].clone()),
        (json!(true), Value::Null, json!([]))
    );
    // Stored again without `paused`: it stays paused.
    let (_, v) = api.call("PUT", "/v1/schedules/estadisticas", Some(NIGHTLY)).await;
    assert_eq!(v["paused"], true, "{v}");
    let (_, v) = api.call("POST", "/v1/schedules/estadisticas/resume", None).await;
    assert_eq!(v["paused"], false);
    assert!(v["next_run_at"].is_string());

    // Run now: a job like the ticks' ones, tagged with the schedule.
    let (status, job) = api.call("POST", "/v1/schedules/estadisticas/run", None).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!(job["kind"], "stats.nightly");
    assert_eq!(job["queue"], "reports");
    assert_eq!(job["tags"], json!(["estadisticas", "schedule:estadisticas"]));
    let (_, listed) = api.call("GET", "/v1/jobs?tag=schedule:estadisticas", None).await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1);

    let res = api
        .app
        .clone()
        .oneshot(
            Request::builder()
                .method("DELETE")
                .uri("/v1/schedules/estadisticas")
                .header("authorization", format!("Bearer {}", api.key))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    expect_error(api.call("GET", "/v1/schedules/estadisticas", None).await, 404, "not_found");
    expect_error(api.call("POST", "/v1/schedules/estadisticas/run", None).await, 404, "not_found");
    expect_error(api.call("POST", "/v1/schedules/estadisticas/pause", None).await, 404, "not_found");
    assert_eq!(api.stored_jobs().await, 1, "the job it made stays");
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_the_field_and_nothing_is_written() {
    let api = Api::new().await;
    let job = r#"{"kind": "stats.nightly"}"#;
    let cases = [
        (format!(r#"{{"cron": "0 2 * *", "job": {job}}}"#), "cron", "five fields"),
        (format!(r#"{{"cron": "0 25 * * *", "job": {job}}}"#), "cron", ""),
        (format!(r#"{{"cron": "0 0 31 2 *", "job": {job}}}"#), "cron", "never"),
        (format!(r#"{{"cron": "0 2 * * *", "timezone": "America/Buenos_Aire", "job": {job}}}"#), "timezone", "IANA"),
        (format!(r#"{{"cron": "0 2 * * *", "missed": "later", "job": {job}}}"#), "missed", "run_once"),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "x", "delay_ms": 5}}"#.into(), "job.delay_ms", "tick"),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "x", "run_at": "2027-01-01T00:00:00Z"}}"#.into(), "job.run_at", ""),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "x", "idempotency_key": "k"}}"#.into(), "job.idempotency_key", ""),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "x", "cache_key": "k"}}"#.into(), "job.cache_key", ""),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "Not A Kind"}}"#.into(), "job.kind", ""),
        (r#"{"cron": "0 2 * * *", "job": {"kind": "x", "priority": 500}}"#.into(), "job.priority", ""),
    ];
    for (body, field, words) in cases {
        let v = expect_error(api.call("PUT", "/v1/schedules/s", Some(&body)).await, 400, "invalid_request");
        assert_eq!(v["error"]["details"]["field"], field, "{body}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(words), "{body}: {v}");
    }
    let tags: Vec<String> = (0..32).map(|i| format!("t{i}")).collect();
    let body = json!({"cron": "0 2 * * *", "job": {"kind": "x", "tags": tags}}).to_string();
    let v = expect_error(api.call("PUT", "/v1/schedules/s", Some(&body)).await, 400, "invalid_request");
    assert_eq!(v["error"]["details"]["field"], "job.tags");
    expect_error(api.call("PUT", "/v1/schedules/s", Some(r#"{"cron": "0 2 * * *"}"#)).await, 400, "invalid_request");
    expect_error(api.call("PUT", "/v1/schedules/s", Some(r#"{"cron": "#)).await, 400, "invalid_json");
    expect_error(api.call("PUT", "/v1/schedules/Bad%20Name", Some(NIGHTLY)).await, 400, "invalid_request");
    let (_, list) = api.call("GET", "/v1/schedules", None).await;
    assert_eq!(list["schedules"], json!([]), "nothing was stored");
}
