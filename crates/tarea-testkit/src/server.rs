//! An in-process server on 127.0.0.1:0 with the runtime running, for tests that need real
//! connections (SSE, long polls) but not a separate process.
use std::net::SocketAddr;
use std::sync::Arc;

use tarea_core::ApiKey;
use tarea_runtime::{Registry, Runtime, RuntimeConfig, now_ms, register_builtins};
use tarea_server::{AppState, ServerLimits, generate_key, hash_key};

use crate::TestStore;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub runtime: Arc<Runtime>,
    pub store: TestStore,
    /// The artifact folder.
    pub artifacts: std::sync::Arc<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server with the diagnostic kinds built in.
    pub async fn start() -> TestServer {
        Self::start_with(RuntimeConfig::default()).await
    }

    pub async fn start_with(config: RuntimeConfig) -> TestServer {
        Self::start_custom(config, |_, _| {}).await
    }

    /// Starts a server whose registry `extra` may add test handlers to (given the store);
    /// artifacts go to a temporary folder, kept for a day unless `config.artifacts` says otherwise.
    pub async fn start_custom(
        mut config: RuntimeConfig,
        extra: impl FnOnce(&mut Registry, &Arc<dyn tarea_core::Store>),
    ) -> TestServer {
        let store = TestStore::sqlite();
        let mut registry = Registry::new();
        register_builtins(&mut registry);
        let pool = render_pool();
        tarea_docs::register(&mut registry, Arc::clone(&pool), Arc::clone(&store.store));
        extra(&mut registry, &store.store);
        let kinds = registry.kinds();
        let handlers = registry.clone();
        let dir = Arc::new(tempfile::tempdir().expect("artifact folder"));
        let ttl = config.artifacts.as_ref().map_or(Some(86_400_000), |a| a.default_ttl_ms);
        let bytes = tarea_artifacts::ObjectArtifacts::open(dir.path().to_str().expect("utf-8 path"), 1 << 30)
            .expect("artifact folder");
        let artifacts = tarea_runtime::Artifacts { bytes: Arc::new(bytes), default_ttl_ms: ttl };
        config.artifacts = Some(artifacts.clone());
        let runtime = Arc::new(Runtime::start(
            Arc::clone(&store.store),
            registry,
            Arc::clone(&store.hub),
            Arc::clone(&store.metrics),
            config,
        ));
        let state = AppState::new(
            Arc::clone(&store.store),
            Arc::clone(&store.hub),
            Arc::clone(&store.metrics),
            kinds,
            ServerLimits::default(),
        )
        .with_artifacts(artifacts, b"test-link-key".to_vec())
        .with_template_versions(tarea_render::builtin::version_labels())
        .with_template_checker(Arc::new(tarea_docs::TemplateCheck::new(pool)))
        .with_handlers(handlers)
        .with_settings(Arc::new(tarea_docs::DocsSettings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = tarea_server::app(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer { addr, state, runtime, store, artifacts: dir, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates an API key for `tenant`.
    pub async fn key(&self, tenant: &str, admin: bool) -> String {
        let (key, id) = generate_key();
        self.store
            .store
            .api_key_create(
                ApiKey { id, tenant: tenant.into(), admin, read_only: false, created_at: now_ms() },
                hash_key(&key),
            )
            .await
            .expect("create key");
        key
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A pool of renderer processes run by the `tarea` binary built beside the tests (two
/// processes, 1 GiB each, 30 s per render).
pub fn render_pool() -> Arc<tarea_docs::RenderPool> {
    let mut config = tarea_docs::RenderConfig::new(crate::binary::tarea_binary(), vec!["render-worker".into()]);
    config.processes = 2;
    config.timeout = std::time::Duration::from_secs(30);
    tarea_docs::RenderPool::new(config)
}
