//! Who does the work: the tarea nodes of the cluster (one on SQLite) and the external workers
//! that claimed lately. Nodes serve every tenant and are listed to every key; external workers
//! are listed to their own tenant only (an admin key sees them all).
use std::time::{Duration, Instant};

use axum::extract::State;
use serde::Serialize;
use tarea_core::{ExternalWorker, NodeInfo, format_ms};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::{ApiError, AppState};

/// A tarea node.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodeView {
    /// Unique per process start (`host-pid-random`); the worker name in its jobs' leases.
    id: String,
    host: String,
    version: String,
    /// `api`, `worker` or `all`.
    role: String,
    /// Queues it runs built-in jobs from; empty means all.
    queues: Vec<String>,
    /// Built-in jobs it runs now.
    running: u32,
    /// Whether it runs the cluster duties (reaper, promoter, retention cleaner) now.
    leader: bool,
    started_at: String,
    /// Its last heartbeat; a node is listed until 10 s after it.
    last_seen_at: String,
}

impl From<NodeInfo> for NodeView {
    fn from(n: NodeInfo) -> Self {
        NodeView {
            id: n.id,
            host: n.host,
            version: n.version,
            role: n.role.as_str().into(),
            queues: n.queues,
            running: n.running,
            leader: n.leader,
            started_at: format_ms(n.started_at),
            last_seen_at: format_ms(n.seen_at),
        }
    }
}

/// An external worker, known by the `worker` name of its claims.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExternalWorkerView {
    tenant: String,
    name: String,
    /// The queues of its last claim.
    queues: Vec<String>,
    first_seen_at: String,
    /// Its last claim; a worker is listed until its lease (30 s, or its long poll plus 15 s)
    /// passes without another.
    last_seen_at: String,
}

impl From<ExternalWorker> for ExternalWorkerView {
    fn from(w: ExternalWorker) -> Self {
        ExternalWorkerView {
            tenant: w.tenant,
            name: w.name,
            queues: w.queues,
            first_seen_at: format_ms(w.first_seen_at),
            last_seen_at: format_ms(w.seen_at),
        }
    }
}

/// Live nodes and external workers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkerList {
    nodes: Vec<NodeView>,
    workers: Vec<ExternalWorkerView>,
}

/// Live tarea nodes and the tenant's external workers.
#[utoipa::path(get, path = "/v1/workers", tag = "workers", responses((status = 200, body = WorkerList)))]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<WorkerList>, ApiError> {
    let now = now_ms();
    let nodes = state.store.node_list(now).await?;
    let scope = (!auth.admin).then_some(auth.tenant.as_str());
    let workers = state.store.worker_list(scope, now).await?;
    Ok(axum::Json(WorkerList {
        nodes: nodes.into_iter().map(Into::into).collect(),
        workers: workers.into_iter().map(Into::into).collect(),
    }))
}

/// How often one worker's claims are written to the registry at most.
const SEEN_EVERY: Duration = Duration::from_secs(2);

/// Notes that `worker` claimed, without delaying the claim: at most every `SEEN_EVERY` per
/// worker and node, in a task of its own.
pub(crate) fn seen(state: &AppState, tenant: &str, worker: &str, queues: &[String], wait_ms: u64) {
    let key = (tenant.to_owned(), worker.to_owned());
    {
        let mut last = state.workers_seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.get(&key).is_some_and(|t| now.duration_since(*t) < SEEN_EVERY) {
            return;
        }
        if last.len() > 10_000 {
            last.retain(|_, t| now.duration_since(*t) < SEEN_EVERY);
        }
        last.insert(key.clone(), now);
    }
    let store = std::sync::Arc::clone(&state.store);
    let queues = queues.to_vec();
    let lease_ms = (wait_ms + 15_000).max(30_000);
    tokio::spawn(async move {
        if let Err(e) = store.worker_seen(&key.0, &key.1, &queues, lease_ms, now_ms()).await {
            tracing::debug!(error = %e, "could not record an external worker");
        }
    });
}
