//! What every handler shares.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tarea_core::Store;
use tarea_runtime::{EventHub, Metrics};
use tokio_util::sync::CancellationToken;

use crate::auth::KeyCache;

/// Limits of the HTTP API.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Largest request body (bytes). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most jobs in one `POST /v1/jobs/batch`. Default 1,000.
    pub max_batch: usize,
    /// Most jobs one claim may take. Default 1,000.
    pub max_claim: u32,
    /// Longest long poll of a claim (ms). Default 60,000.
    pub max_wait_ms: u64,
    /// Default lease of external claims (ms). Default 30,000.
    pub default_lease_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: 1 << 20,
            max_batch: 1000,
            max_claim: 1000,
            max_wait_ms: 60_000,
            default_lease_ms: 30_000,
        }
    }
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    /// The job store.
    pub store: Arc<dyn Store>,
    /// Committed events.
    pub hub: Arc<EventHub>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Kinds run in-process (everything else goes to external workers).
    pub builtin_kinds: Arc<HashSet<String>>,
    /// Limits.
    pub limits: ServerLimits,
    /// Bearer token required by `/metrics`, if any.
    pub metrics_token: Option<Arc<str>>,
    pub(crate) keys: Arc<KeyCache>,
    draining: Arc<AtomicBool>,
    /// When each external worker's claim was last written to the registry.
    pub(crate) workers_seen: Arc<Mutex<HashMap<(String, String), std::time::Instant>>>,
    /// Fires at shutdown: live streams and long polls end.
    pub(crate) shutdown: CancellationToken,
}

impl AppState {
    /// State over a store and its event hub.
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<EventHub>,
        metrics: Arc<Metrics>,
        builtin_kinds: impl IntoIterator<Item = String>,
        limits: ServerLimits,
    ) -> Self {
        AppState {
            store,
            hub,
            metrics,
            builtin_kinds: Arc::new(builtin_kinds.into_iter().collect()),
            limits,
            metrics_token: None,
            keys: Arc::new(KeyCache::default()),
            draining: Arc::new(AtomicBool::new(false)),
            workers_seen: Arc::new(Mutex::new(HashMap::new())),
            shutdown: CancellationToken::new(),
        }
    }

    /// Marks the server as shutting down: `/readyz` answers 503 from now on, and live streams
    /// and long polls end so connections can drain.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.shutdown.cancel();
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
