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
    server: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server with the diagnostic kinds built in.
    pub async fn start() -> TestServer {
        Self::start_with(RuntimeConfig::default()).await
    }

    pub async fn start_with(config: RuntimeConfig) -> TestServer {
        let store = TestStore::sqlite();
        let mut registry = Registry::new();
        register_builtins(&mut registry);
        let kinds = registry.kinds();
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
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = tarea_server::app(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer { addr, state, runtime, store, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates an API key for `tenant`.
    pub async fn key(&self, tenant: &str, admin: bool) -> String {
        let (key, id) = generate_key();
        self.store
            .store
            .api_key_create(ApiKey { id, tenant: tenant.into(), admin, created_at: now_ms() }, hash_key(&key))
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
