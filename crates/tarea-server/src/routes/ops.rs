//! Operations: liveness, readiness, metrics and the OpenAPI document.
use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::json;
use tarea_core::ErrorCode;
use tarea_runtime::now_ms;

use crate::auth::bearer;
use crate::{ApiError, AppState};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "{\"status\":\"ok\"}")))]
pub(crate) async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// The store answers and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "{\"status\":\"ready\"}"), (status = 503, description = "unavailable")))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<axum::Json<serde_json::Value>, ApiError> {
    if state.is_draining() {
        let mut e =
            ApiError::new(ErrorCode::Unavailable, "the server is shutting down; use another node or retry shortly");
        e.retry_after = Some(1);
        return Err(e);
    }
    state.store.ping().await?;
    Ok(axum::Json(json!({ "status": "ready" })))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    tenant: String,
    queue: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueOnly {
    tenant: String,
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduleLabels {
    tenant: String,
    schedule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantOnly {
    tenant: String,
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>, parts: Parts) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.metrics_token
        && bearer(&parts) != Some(&**token)
    {
        return Err(ApiError::new(ErrorCode::Unauthorized, "/metrics needs the metrics token as a bearer token"));
    }
    let depth = Family::<QueueLabels, Gauge>::default();
    let oldest = Family::<QueueOnly, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let paused = Family::<QueueOnly, Gauge>::default();
    let concurrency = Family::<QueueOnly, Gauge>::default();
    let rate = Family::<QueueOnly, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let max_depth = Family::<QueueOnly, Gauge>::default();
    let now = now_ms();
    for q in state.store.queue_list(None).await? {
        let c = q.counts;
        for (name, n) in [
            ("queued", c.queued),
            ("running", c.running),
            ("scheduled", c.scheduled),
            ("failed", c.failed),
            ("dead", c.dead),
        ] {
            let labels = QueueLabels { tenant: q.tenant.clone(), queue: q.name.clone(), state: name.into() };
            depth.get_or_create(&labels).set(n as i64);
        }
        let age = q.oldest_queued_at.map(|t| (now - t).max(0) as f64 / 1000.0).unwrap_or(0.0);
        let labels = QueueOnly { tenant: q.tenant.clone(), queue: q.name.clone() };
        oldest.get_or_create(&labels).set(age);
        paused.get_or_create(&labels).set(i64::from(q.paused));
        if let Some(n) = q.settings.concurrency {
            concurrency.get_or_create(&labels).set(i64::from(n));
        }
        if let Some(r) = q.settings.rate_limit {
            rate.get_or_create(&labels).set(r);
        }
        if let Some(n) = q.settings.max_depth {
            max_depth.get_or_create(&labels).set(n.min(i64::MAX as u64) as i64);
        }
    }
    // The schedules, as their page shows them: when each runs next, when it last ran, paused.
    let next_run = Family::<ScheduleLabels, Gauge>::default();
    let last_run = Family::<ScheduleLabels, Gauge>::default();
    let schedule_paused = Family::<ScheduleLabels, Gauge>::default();
    for tenant in state.store.tenant_list().await? {
        for s in state.store.schedule_list(&tenant).await? {
            let labels = ScheduleLabels { tenant: s.tenant.clone(), schedule: s.name.clone() };
            if let Some(t) = s.next_run_at {
                next_run.get_or_create(&labels).set(t / 1000);
            }
            if let Some(t) = s.last_run_at {
                last_run.get_or_create(&labels).set(t / 1000);
            }
            schedule_paused.get_or_create(&labels).set(i64::from(s.paused));
        }
    }
    // The nodes and external workers alive, as the workers page shows them.
    let node_running = Family::<NodeLabels, Gauge>::default();
    let node_leader = Family::<NodeLabels, Gauge>::default();
    for n in state.store.node_list(now).await? {
        let labels = NodeLabels { node: n.id.clone(), role: n.role.as_str().into() };
        node_running.get_or_create(&labels).set(i64::from(n.running));
        node_leader.get_or_create(&labels).set(i64::from(n.leader));
    }
    let workers = Family::<TenantOnly, Gauge>::default();
    for w in state.store.worker_list(None, now).await? {
        workers.get_or_create(&TenantOnly { tenant: w.tenant }).inc();
    }
    let mut extra = Registry::with_prefix("tarea");
    extra.register("queue_jobs", "Jobs per queue and state", depth);
    extra.register("queue_oldest_queued_age_seconds", "Age of the oldest queued job per queue", oldest);
    extra.register("queue_paused", "1 while the queue is paused", paused);
    extra.register("queue_concurrency_limit", "The queue's concurrency limit, where it has one", concurrency);
    extra.register("queue_rate_limit", "The queue's rate limit in jobs per second, where it has one", rate);
    extra.register("queue_max_depth", "The queue's most waiting jobs, where it has a limit", max_depth);
    extra.register("schedule_next_run_timestamp_seconds", "When each schedule runs next (Unix time)", next_run);
    extra.register("schedule_last_run_timestamp_seconds", "When each schedule last ran (Unix time)", last_run);
    extra.register("schedule_paused", "1 while the schedule is paused", schedule_paused);
    extra.register("node_running_jobs", "Built-in jobs running on each live node", node_running);
    extra.register("node_leader", "1 on the node that runs the scheduler, reaper and cleaner", node_leader);
    extra.register("external_workers", "External workers seen claiming lately, per tenant", workers);
    let body = state.metrics.encode(&extra);
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1")))]
pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi_json())
}
