//! The runtime service: starts the worker and maintenance loops, and stops them in order.
//!
//! Stopping is two-phase. Soft: claim nothing more and let running jobs finish within the grace
//! period. Hard: fire every handler's cancellation token, give handlers a moment to return,
//! then release what is left without counting the attempt. Calling `shutdown` twice is safe.
use std::sync::Arc;
use std::time::Duration;

use tarea_core::Store;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::{self, NodeConfig};
use crate::maintenance::{self, MaintenanceConfig};
use crate::worker::Worker;
use crate::{EventHub, Metrics, Registry};

/// Settings of the in-process worker.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Jobs run at once in this process. 0 runs no built-in jobs (an API-only node).
    pub concurrency: usize,
    /// Queues served; empty means all.
    pub queues: Vec<String>,
    /// Most jobs claimed in one store call.
    pub claim_batch: u32,
    /// Lease length; heartbeats renew it every third of it.
    pub lease_ms: u64,
    /// Fallback poll when no wake-up arrives.
    pub poll_ms: u64,
    /// How long running jobs may take to finish at shutdown before they are released.
    pub grace: Duration,
    /// This worker's name in leases; with `node`, the node's id.
    pub worker: String,
    /// Whether this process takes part in the cluster duties (promoter, reaper, scheduler,
    /// follow-ups, retention cleaner); the elected leader among those that do runs them.
    pub maintenance: Option<MaintenanceConfig>,
    /// This node in the registry; `None` leaves it out (benchmarks, some tests).
    pub node: Option<NodeConfig>,
    /// Where jobs' files go; `None`: handlers that save files fail with `no_artifact_store`.
    pub artifacts: Option<crate::Artifacts>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            concurrency: 16,
            queues: Vec::new(),
            claim_batch: 64,
            lease_ms: 30_000,
            poll_ms: 1_000,
            grace: Duration::from_secs(10),
            worker: format!("tarea-{}", std::process::id()),
            maintenance: Some(MaintenanceConfig::default()),
            node: None,
            artifacts: None,
        }
    }
}

/// The running engine.
pub struct Runtime {
    worker: Arc<Worker>,
    services: TaskTracker,
    stop_services: CancellationToken,
    claim_loop: Mutex<Option<tokio::task::JoinHandle<()>>>,
    leader: watch::Receiver<bool>,
}

impl Runtime {
    /// Starts the worker and maintenance services.
    pub fn start(
        store: Arc<dyn Store>,
        registry: Registry,
        hub: Arc<EventHub>,
        metrics: Arc<Metrics>,
        config: RuntimeConfig,
    ) -> Runtime {
        let mut config = config;
        let node = config.node.clone();
        if let Some(n) = &node {
            // A node's leases carry its registry id.
            config.worker = n.id.clone();
        }
        let maintenance_config = config.maintenance.clone();
        let queues = config.queues.clone();
        let runs_jobs = config.concurrency > 0;
        let (completions, completed) = tokio::sync::mpsc::unbounded_channel();
        let worker = Worker::new(Arc::clone(&store), registry, Arc::clone(&hub), metrics, config, completions);
        let services = TaskTracker::new();
        let stop = CancellationToken::new();
        // Stops only after every job task has handed over its completion (see `shutdown`).
        services.spawn(crate::worker::completer(Arc::clone(&store), completed, stop.clone()));
        let claim_loop = runs_jobs.then(|| tokio::spawn(Arc::clone(&worker).claim_loop()));
        if runs_jobs {
            services.spawn(Arc::clone(&worker).heartbeat_loop(stop.clone()));
            services.spawn(Arc::clone(&worker).progress_loop(stop.clone()));
            services.spawn(Arc::clone(&worker).cancel_watch(stop.clone()));
        }
        let (leader_tx, leader) = watch::channel(false);
        if let Some(m) = maintenance_config {
            match &node {
                Some(n) => {
                    services.spawn(cluster::leadership(Arc::clone(&store), n.clone(), leader_tx, stop.clone()));
                }
                // Outside a cluster (benchmarks, tests) this process simply leads.
                None => {
                    leader_tx.send_replace(true);
                    // Kept alive so the duties never see the channel close.
                    services.spawn({
                        let stop = stop.clone();
                        async move {
                            stop.cancelled().await;
                            drop(leader_tx);
                        }
                    });
                }
            }
            services.spawn(maintenance::promoter(Arc::clone(&store), Arc::clone(&hub), leader.clone(), stop.clone()));
            services.spawn(maintenance::reaper(Arc::clone(&store), m.reap_every, leader.clone(), stop.clone()));
            services.spawn(maintenance::statistics(Arc::clone(&store), leader.clone(), stop.clone()));
            services.spawn(crate::scheduler::scheduler(Arc::clone(&store), leader.clone(), stop.clone()));
            let follow =
                crate::follow_ups::follow_ups(Arc::clone(&store), Arc::clone(&hub), leader.clone(), stop.clone());
            services.spawn(follow);
            let artifacts = worker.config.artifacts.clone();
            services.spawn(maintenance::cleaner(Arc::clone(&store), m, artifacts, leader.clone(), stop.clone()));
        }
        if let Some(n) = node {
            let w = Arc::clone(&worker);
            services.spawn(cluster::heartbeat(store, n, queues, move || w.running_count(), stop.clone()));
        }
        Runtime { worker, services, stop_services: stop, claim_loop: Mutex::new(claim_loop), leader }
    }

    /// Whether this node runs the cluster duties now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Jobs running in this process now.
    pub fn running(&self) -> usize {
        self.worker.running_count()
    }

    /// Stops claiming, waits up to the grace period for running jobs, cancels and releases the
    /// rest, then stops the services. Safe to call more than once.
    pub async fn shutdown(&self) {
        self.worker.stop_claiming.cancel();
        if let Some(handle) = self.claim_loop.lock().await.take() {
            let _ = handle.await;
        }
        self.worker.jobs.close();
        let running = self.worker.running_count();
        if running > 0 {
            tracing::info!(jobs = running, grace = ?self.worker.config.grace, "waiting for running jobs to finish");
        }
        if tokio::time::timeout(self.worker.config.grace, self.worker.jobs.wait()).await.is_err() {
            tracing::warn!(
                jobs = self.worker.running_count(),
                "grace period over; cancelling and releasing running jobs"
            );
            self.worker.hard_stop.cancel();
            self.worker.jobs.wait().await;
        }
        self.stop_services.cancel();
        self.services.close();
        self.services.wait().await;
    }
}
