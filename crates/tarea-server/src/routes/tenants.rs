//! Tenants (admin only).
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::{ApiError, AppState};

/// Every tenant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TenantList {
    /// Names, in order. An admin key acts in one with the header `X-Tarea-Tenant: <name>`.
    tenants: Vec<String>,
}

/// Lists the tenants.
#[utoipa::path(get, path = "/v1/tenants", tag = "admin",
    responses((status = 200, body = TenantList), (status = 403, description = "forbidden")))]
pub(crate) async fn list(State(state): State<AppState>, _admin: Admin) -> Result<axum::Json<TenantList>, ApiError> {
    Ok(axum::Json(TenantList { tenants: state.store.tenant_list().await? }))
}
