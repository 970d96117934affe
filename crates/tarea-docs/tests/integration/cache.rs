//! Cache keys on document jobs: a finished render with a live artifact answers an equal job at
//! once with no second render, an equal job still waiting or running is returned instead of a
//! new one, and the key is bound to the template version.

use crate::common::setup;
use serde_json::{Value, json};

fn report() -> Value {
    serde_json::from_str(tarea_render::builtin::builtin("work-order").unwrap().sample).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_render_is_answered_at_once_and_equal_jobs_share_one_render() {
    let (s, c) = setup().await;
    let job = |key: &str| json!({"kind": "pdf.render", "cache_key": key, "payload": {"template": "work-order", "data": report()}});

    // Three equal enqueues before the first finishes: one job, one render.
    let first = c.post(&s, "/v1/jobs", job("orden-871")).await;
    let second = c.post(&s, "/v1/jobs", job("orden-871")).await;
    let batch = c.post(&s, "/v1/jobs/batch", json!({"jobs": [job("orden-871"), job("orden-872")]})).await;
    assert_eq!(second["id"], first["id"], "in-flight dedupe");
    assert_eq!(batch["jobs"][0]["id"], first["id"]);
    assert_ne!(batch["jobs"][1]["id"], first["id"], "another key is another job");
    let key = first["cache_key"].as_str().unwrap();
    assert!(key.starts_with("orden-871|work-order@0."), "the key names the template version: {key}");
    assert_eq!(first["payload"]["version"], 0, "the version is pinned: {first}");

    let done = c.finished_id(&s, first["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // Once done, an equal job is answered at once with the same job and its artifact.
    let res = c.http.post(s.url("/v1/jobs")).bearer_auth(&c.key).json(&job("orden-871")).send().await.unwrap();
    assert_eq!(res.status(), 200, "an existing job, not a new one");
    let hit: Value = res.json().await.unwrap();
    assert_eq!(hit["id"], first["id"]);
    assert_eq!(hit["state"], "succeeded");
    assert_eq!(hit["artifacts"][0]["id"], done["artifacts"][0]["id"]);

    // Another tenant shares nothing.
    let other = s.key("otra", false).await;
    let res = c.http.post(s.url("/v1/jobs")).bearer_auth(&other).json(&job("orden-871")).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let theirs: Value = res.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);

    // Another template version is another key: version 7 of work-order does not exist, so
    // the job is new (and fails), never answered from version 0's render.
    let mut v7 = job("orden-871");
    v7["payload"]["version"] = 7.into();
    let res = c.http.post(s.url("/v1/jobs")).bearer_auth(&c.key).json(&v7).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let v7: Value = res.json().await.unwrap();
    assert!(v7["cache_key"].as_str().unwrap().ends_with("|work-order@7"), "{v7}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_failed_render_is_not_reused() {
    let (s, c) = setup().await;
    // A job that fails (its data lacks every field) is not an answer for later ones.
    let bad = json!({"kind": "pdf.render", "cache_key": "x", "payload": {"template": "work-order", "data": {}}});
    let first = c.post(&s, "/v1/jobs", bad.clone()).await;
    let done = c.finished_id(&s, first["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "dead");
    let again = c.post(&s, "/v1/jobs", bad).await;
    assert_ne!(again["id"], first["id"]);
}
