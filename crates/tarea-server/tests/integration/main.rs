//! HTTP tests: routing, validation and error bodies through `app(state).oneshot`, and live
//! behaviour (SSE, long polls, the runtime) against a real server on 127.0.0.1:0.
mod artifacts;
mod batches;
mod dashboard;
mod errors;
mod grafana;
mod history;
mod jobs;
mod lists;
mod live;
mod openapi;
mod public_links;
mod schedules;
mod tenants;
mod uploads;
mod workers;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tarea_core::ApiKey;
use tarea_server::{AppState, ServerLimits, generate_key, hash_key};
use tarea_testkit::TestStore;
use tower::ServiceExt;

/// An app over a fresh store (no runtime: jobs stay where the API puts them).
pub struct Api {
    pub app: Router,
    pub store: TestStore,
    pub key: String,
    /// The artifact folder.
    pub artifacts: Arc<tempfile::TempDir>,
}

impl Api {
    pub async fn new() -> Api {
        Self::with_artifact_limit(1 << 20).await
    }

    /// An app whose artifacts may hold at most `max_size` bytes.
    pub async fn with_artifact_limit(max_size: u64) -> Api {
        let store = TestStore::sqlite();
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let bytes = tarea_artifacts::ObjectArtifacts::open(dir.path().to_str().unwrap(), max_size).unwrap();
        let artifacts = tarea_runtime::Artifacts { bytes: Arc::new(bytes), default_ttl_ms: Some(86_400_000) };
        let state = AppState::new(
            Arc::clone(&store.store),
            Arc::clone(&store.hub),
            Arc::clone(&store.metrics),
            ["tarea.noop".to_string(), "tarea.sleep".to_string()],
            ServerLimits::default(),
        )
        .with_artifacts(artifacts, b"test-link-key".to_vec())
        .with_public_url(Some("http://tarea.test".into()));
        let app = tarea_server::app(state);
        let api = Api { app, store, key: String::new(), artifacts: dir };
        let key = api.key_for("acme", false).await;
        Api { key, ..api }
    }

    pub async fn key_for(&self, tenant: &str, admin: bool) -> String {
        let (key, id) = generate_key();
        self.store
            .store
            .api_key_create(
                ApiKey { id, tenant: tenant.into(), admin, read_only: false, created_at: 0 },
                hash_key(&key),
            )
            .await
            .unwrap();
        key
    }

    /// Sends a request with this API's key; `body` is sent as JSON when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    pub async fn call_as(&self, key: &str, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if !key.is_empty() {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_owned())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        send(&self.app, req).await
    }

    pub async fn enqueue(&self, body: &str) -> Value {
        let (status, v) = self.call("POST", "/v1/jobs", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    /// Number of jobs of tenant `acme`, read straight from the store.
    pub async fn stored_jobs(&self) -> usize {
        let filter = tarea_core::JobFilter { limit: 1000, ..Default::default() };
        self.store.store.job_list("acme", filter).await.unwrap().jobs.len()
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    if bytes.is_empty() {
        assert_eq!(status, StatusCode::NO_CONTENT, "empty body");
        return (status, Value::Null);
    }
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    if status.is_client_error() || status.is_server_error() {
        assert!(ct.starts_with("application/json"), "error answered as {ct}: {v}");
        let e = &v["error"];
        assert!(
            e["code"].is_string() && e["message"].as_str().is_some_and(|m| !m.is_empty()) && e["details"].is_object(),
            "not an error body: {v}"
        );
    }
    (status, v)
}

/// Asserts an error's status and code.
pub fn expect_error(got: (StatusCode, Value), status: u16, code: &str) -> Value {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    got.1
}
