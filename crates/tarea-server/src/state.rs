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

/// State shared by all handlers. One `Arc`: axum clones the state for every layer and
/// handler a request passes through (several times a request), and a profile showed those
/// clones of twenty fields (and a cloned map of handlers) in the enqueue's own cost.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds; read through it (`state.store`).
#[derive(Clone)]
pub struct Shared {
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
    /// Where artifacts live; `None`: the artifact routes answer `unavailable`.
    pub(crate) artifacts: Option<tarea_runtime::Artifacts>,
    /// The key that signs artifact links (shared by every node through the store).
    pub(crate) link_key: Arc<[u8]>,
    /// The address apps reach this server at, for the links it hands out (`https://jobs.example.org`);
    /// without it, links are made from the request's `Host`.
    pub(crate) public_url: Option<Arc<str>>,
    /// The version label of each built-in template (`lab-report` → `0.1a2b3c4d`: version 0 and
    /// a hash of its source), so a cache key never outlives a template change, even one that
    /// comes with a new tarea release.
    pub(crate) template_versions: Arc<HashMap<String, String>>,
    /// Checks template uploads (in the renderer processes); `None`: `PUT /v1/templates` answers
    /// `unavailable`.
    pub(crate) template_checker: Option<Arc<dyn tarea_core::TemplateChecker>>,
    /// The built-in handlers, whose payload checks run at enqueue (see `payload_check.rs`).
    pub(crate) handlers: Option<Arc<tarea_runtime::Registry>>,
    /// Checks tenant settings (`PUT /v1/settings/{name}`); `None`: no settings are known.
    pub(crate) settings: Option<Arc<dyn tarea_core::SettingCheck>>,
    /// Job traces (`--otlp-endpoint`); `None`: off.
    pub(crate) tracer: Option<Arc<tarea_otel::Tracer>>,
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
        AppState(Arc::new(Shared {
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
            artifacts: None,
            link_key: Arc::from(Vec::new()),
            public_url: None,
            template_versions: Arc::new(HashMap::new()),
            template_checker: None,
            handlers: None,
            settings: None,
            tracer: None,
        }))
    }

    /// The fields, for the builders below (they run before the state is shared; a later call
    /// would change only its own copy).
    fn fields(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// Requires this bearer token on `/metrics`.
    pub fn with_metrics_token(mut self, token: Option<Arc<str>>) -> Self {
        self.fields().metrics_token = token;
        self
    }

    /// Adds enqueues to the traces of the app requests that carry a `traceparent`.
    pub fn with_tracer(mut self, tracer: Arc<tarea_otel::Tracer>) -> Self {
        self.fields().tracer = Some(tracer);
        self
    }

    /// The built-in templates' version labels (name → label), for cache keys.
    pub fn with_template_versions(mut self, versions: HashMap<String, String>) -> Self {
        self.fields().template_versions = Arc::new(versions);
        self
    }

    /// Checks template uploads with `checker` before they are stored.
    pub fn with_template_checker(mut self, checker: Arc<dyn tarea_core::TemplateChecker>) -> Self {
        self.fields().template_checker = Some(checker);
        self
    }

    /// Takes tenant settings that `check` knows (`PUT /v1/settings/email`).
    pub fn with_settings(mut self, check: Arc<dyn tarea_core::SettingCheck>) -> Self {
        self.fields().settings = Some(check);
        self
    }

    /// Checks the payloads of built-in kinds at enqueue with their handlers' `check`.
    pub fn with_handlers(mut self, registry: tarea_runtime::Registry) -> Self {
        self.fields().handlers = Some(Arc::new(registry));
        self
    }

    /// Serves artifacts from `artifacts`, signing links with `link_key` (from
    /// `Store::secret_get_or_create`, so that every node signs alike).
    pub fn with_artifacts(mut self, artifacts: tarea_runtime::Artifacts, link_key: Vec<u8>) -> Self {
        self.fields().artifacts = Some(artifacts);
        self.fields().link_key = Arc::from(link_key);
        self
    }

    /// The address apps reach this server at, for signed links (no trailing slash needed).
    pub fn with_public_url(mut self, url: Option<String>) -> Self {
        self.fields().public_url = url.map(|u| Arc::from(u.trim_end_matches('/')));
        self
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

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
