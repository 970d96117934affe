//! The HTTP API of tarea: `app(state)` builds the axum router of DESIGN.md §4.
//!
//! Handlers are thin: typed extractors for auth and body, one call into the store, a view type
//! distinct from the stored row. Only this crate maps error codes to HTTP statuses.
#![deny(missing_docs)]

mod auth;
mod cache_scope;
mod error;
mod extract;
mod keys;
mod openapi;
mod payload_check;
mod range;
mod routes;
mod signing;
mod state;
mod ui;
mod validate;
mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;
pub use keys::{generate_key, generate_secret, hash_key};
pub use openapi::openapi_json;
pub use state::{AppState, ServerLimits};

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    let audited = routes::router()
        .merge(ui::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), ui::audit::record));
    finish(audited, state)
}

/// The router of a worker node (`--role worker`): `/healthz`, `/readyz` and `/metrics` only;
/// everything else answers 404 `not_found` in JSON.
pub fn ops_app(state: AppState) -> Router {
    finish(routes::ops_router(), state)
}

fn finish(router: Router<AppState>, state: AppState) -> Router {
    let limit = state.limits.max_body_bytes;
    router
        .fallback(error::not_found_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}
