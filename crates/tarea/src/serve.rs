//! `tarea serve`: opens the store, creates the first admin key on an empty store, starts the
//! runtime and the HTTP server, and shuts both down in order on SIGTERM or SIGINT (a second
//! signal exits at once).
use std::sync::Arc;

use anyhow::Context;
use tarea_core::{ApiKey, Store};
use tarea_runtime::{EventHub, Metrics, NodeConfig, Registry, Runtime, now_ms, register_builtins};
use tarea_server::{AppState, generate_key, hash_key};
use tokio::net::TcpListener;

use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut signals = Signals::install()?;
    let mut config = args.resolve()?;
    let metrics = Arc::new(Metrics::default());
    let hub = EventHub::new(Arc::clone(&metrics));
    let node = NodeConfig { role: config.role, ..NodeConfig::default() };
    config.store.pg.node_id = node.id.clone();
    config.runtime.node = Some(node.clone());
    let database = crate::keys::redact(&config.database);
    let tracer = match &config.otlp {
        Some((endpoint, sample)) => Some(
            tarea_otel::Tracer::new(tarea_otel::TraceConfig {
                endpoint: endpoint.clone(),
                sample: *sample,
                node: node.id.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .map_err(|e| anyhow::Error::new(crate::config::ConfigError(e.to_string())))?,
        ),
        None => None,
    };
    // With traces on, the tracer sees each event this node commits on its way to the hub.
    let sink: Arc<dyn tarea_core::EventSink> = match &tracer {
        Some(t) => t.sink(hub.clone()),
        None => hub.clone(),
    };
    let store = tarea_store::open_store(&config.database, config.store.clone(), sink)
        .await
        .with_context(|| format!("opening the store at {database}"))?;
    if let Some(t) = &tracer {
        t.run(Arc::clone(&store)).map_err(|e| anyhow::Error::new(crate::config::ConfigError(e.to_string())))?;
    }
    bootstrap(store.as_ref()).await?;
    let artifacts = tarea_runtime::Artifacts {
        bytes: Arc::new(
            tarea_artifacts::ObjectArtifacts::open(&config.artifacts, config.max_artifact_bytes)
                .map_err(|e| anyhow::Error::new(crate::config::ConfigError(e.to_string())))?,
        ),
        default_ttl_ms: config.artifact_ttl_ms,
    };
    if tarea_store::is_postgres_url(&config.database) && !config.artifacts.starts_with("s3://") {
        tracing::warn!(
            artifacts = %config.artifacts,
            "artifacts are kept in a folder on a PostgreSQL store: unless every node mounts the same one, \
             downloads reaching another node fail; give every node --artifacts s3://bucket/prefix"
        );
    }
    // Every node signs artifact links with the same key: the first to start stores it.
    let link_key = store
        .secret_get_or_create("artifact-links", tarea_server::generate_secret())
        .await
        .context("reading the link-signing key")?;
    config.runtime.artifacts = Some(artifacts.clone());

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} (is another process using it?)", config.listen))?;
    let address = listener.local_addr()?;

    let mut registry = Registry::new();
    register_builtins(&mut registry);
    let renderer = std::env::current_exe().context("finding this binary to start renderer processes")?;
    let mut render = tarea_docs::RenderConfig::new(renderer, vec!["render-worker".into()]);
    render.processes = config.render_processes;
    render.memory_cap = config.render_memory_bytes;
    render.timeout = config.render_timeout;
    let render_pool = tarea_docs::RenderPool::new(render);
    if config.role.runs_jobs() {
        // Renderers start in the background: the first renders find fonts and templates warm.
        let pool = Arc::clone(&render_pool);
        tokio::spawn(async move {
            if let Err(e) = pool.warm().await {
                tracing::error!("the renderer processes did not start: {e}; PDF and label jobs will retry");
            }
        });
    }
    tarea_docs::register(&mut registry, Arc::clone(&render_pool), Arc::clone(&store));
    let kinds = registry.kinds();
    let handlers = registry.clone();
    store.builtin_kinds_register(&kinds).await.context("registering the built-in kinds")?;
    let runtime =
        Runtime::start(Arc::clone(&store), registry, Arc::clone(&hub), Arc::clone(&metrics), config.runtime.clone());
    let mut state = AppState::new(store, hub, metrics, kinds, config.limits.clone())
        .with_artifacts(artifacts, link_key)
        .with_public_url(config.public_url.clone())
        .with_template_versions(tarea_render::builtin::version_labels())
        .with_template_checker(Arc::new(tarea_docs::TemplateCheck::new(render_pool)))
        .with_handlers(handlers)
        .with_settings(Arc::new(tarea_docs::DocsSettings))
        .with_metrics_token(config.metrics_token.as_deref().map(Arc::from));
    if let Some(t) = &tracer {
        state = state.with_tracer(Arc::clone(t));
    }

    let app =
        if config.role.serves_api() { tarea_server::app(state.clone()) } else { tarea_server::ops_app(state.clone()) };
    let stop_http = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn({
        let stop_http = stop_http.clone();
        async move { axum::serve(listener, app).with_graceful_shutdown(stop_http.cancelled_owned()).await }
    });
    tracing::info!(
        %database,
        node = %node.id,
        role = config.role.as_str(),
        concurrency = config.runtime.concurrency,
        artifacts = %config.artifacts,
        "tarea {} listening on http://{address}",
        env!("CARGO_PKG_VERSION")
    );

    let mut server = server;
    tokio::select! {
        _ = signals.recv() => {}
        served = &mut server => {
            // The listener failed on its own: stop the workers cleanly and report it.
            runtime.shutdown().await;
            if let Some(t) = &tracer {
                t.shutdown(std::time::Duration::from_secs(5)).await;
            }
            served.context("the HTTP server task failed")?.context("the HTTP server failed")?;
            anyhow::bail!("the HTTP server stopped unexpectedly");
        }
    }
    tracing::info!("shutting down: no new work is claimed; running jobs get {:?} to finish", config.runtime.grace);
    state.set_draining();
    tokio::spawn(async move {
        signals.recv().await;
        tracing::warn!("second signal: exiting now; running jobs will run again after their lease expires");
        std::process::exit(130);
    });
    // The API stays up through the grace period so external workers can still complete,
    // heartbeat and fail their jobs; it hands out no new work (claims answer empty).
    runtime.shutdown().await;
    stop_http.cancel();
    let served = server.await;
    if let Some(t) = &tracer {
        t.shutdown(std::time::Duration::from_secs(5)).await;
    }
    served.context("the HTTP server task failed")?.context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// On an empty store: tenant `default` and one admin key, printed once on stdout.
async fn bootstrap(store: &dyn Store) -> anyhow::Result<()> {
    if store.tenant_count().await? > 0 {
        return Ok(());
    }
    let (key, id) = generate_key();
    let first = ApiKey { id, tenant: "default".into(), admin: true, read_only: false, created_at: now_ms() };
    // Another node starting on the same empty database may have been first.
    if !store.api_key_create_first(first, hash_key(&key)).await? {
        return Ok(());
    }
    println!("Created tenant \"default\" and its admin API key. It is shown only this once; keep it:\n{key}");
    Ok(())
}

/// SIGTERM and SIGINT, listened for from the moment this is made: a signal that arrives
/// while the server is still starting is not lost (nor does it kill the process the default
/// way, skipping the graceful shutdown).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
