//! This node in the cluster: it heartbeats its row in the node registry and competes for the
//! leadership of the cluster duties (promoter, reaper, scheduler, retention cleaner). The leader renews a
//! short lease; when it dies, another node takes over once the lease ends. On SQLite the one
//! process always wins, through the same code.
use std::sync::Arc;
use std::time::Duration;

use tarea_core::{NodeInfo, NodeRole, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::now_ms;

/// How this node describes itself.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Unique per process start; also the worker name in the leases it takes.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// What it does.
    pub role: NodeRole,
    /// How often it heartbeats; it is forgotten after `node_lease`.
    pub heartbeat_every: Duration,
    /// How long its row lives without a heartbeat.
    pub node_lease: Duration,
    /// How often the leader renews (and others try to take) the leadership.
    pub leader_every: Duration,
    /// How long the leadership lasts without renewal: the longest the cluster goes without
    /// duties after its leader dies.
    pub leader_lease: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            id: new_node_id(),
            host: host_name(),
            role: NodeRole::All,
            heartbeat_every: Duration::from_secs(2),
            node_lease: Duration::from_secs(10),
            leader_every: Duration::from_secs(1),
            leader_lease: Duration::from_secs(5),
        }
    }
}

/// `host-pid-random`: readable in `GET /v1/workers` and in job leases, unique per start.
pub fn new_node_id() -> String {
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", host_name(), std::process::id(), &rand[..6])
}

/// The machine's host name, or `localhost` if it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Heartbeats the node's row until stopped, then removes it.
pub(crate) async fn heartbeat(
    store: Arc<dyn Store>,
    node: NodeConfig,
    queues: Vec<String>,
    running: impl Fn() -> usize + Send + 'static,
    stop: CancellationToken,
) {
    let started_at = now_ms();
    loop {
        let info = NodeInfo {
            id: node.id.clone(),
            host: node.host.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            role: node.role,
            queues: queues.clone(),
            running: running().min(u32::MAX as usize) as u32,
            started_at,
            seen_at: now_ms(),
            leader: false,
        };
        if let Err(e) = store.node_heartbeat(info, node.node_lease.as_millis() as u64).await {
            tracing::warn!(error = %e, "node heartbeat failed");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(node.heartbeat_every) => {}
        }
    }
    if let Err(e) = store.node_remove(&node.id).await {
        tracing::debug!(error = %e, "could not remove this node from the registry");
    }
}

/// Takes and keeps the leadership while it can; `leader` says whether this node has it.
pub(crate) async fn leadership(
    store: Arc<dyn Store>,
    node: NodeConfig,
    leader: watch::Sender<bool>,
    stop: CancellationToken,
) {
    loop {
        let now = now_ms();
        let held = match store.leader_try(&node.id, node.leader_lease.as_millis() as u64, now).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the store to renew the leadership");
                // Unrenewed, the lease ends on its own; stop acting as leader well before then.
                false
            }
        };
        if held != *leader.borrow() {
            if held {
                tracing::info!(node = %node.id, "this node now runs the cluster duties (reaper, promoter, scheduler, cleaner)");
            } else {
                tracing::info!(node = %node.id, "this node no longer runs the cluster duties");
            }
            leader.send_replace(held);
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(node.leader_every) => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        // Hand over at once instead of making the others wait for the lease to end.
        if let Err(e) = store.leader_resign(&node.id).await {
            tracing::debug!(error = %e, "could not give up the leadership");
        }
    }
}

/// Waits until this node leads (or `stop`); false when stopped.
pub(crate) async fn until_leader(leader: &mut watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    loop {
        if *leader.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            changed = leader.changed() => if changed.is_err() { return false },
        }
    }
}
