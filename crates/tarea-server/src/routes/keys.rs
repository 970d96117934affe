//! API keys (admin only).
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tarea_core::{ApiKey, validate_name};
use tarea_runtime::now_ms;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::extract::Json;
use crate::{ApiError, AppState, generate_key, hash_key};

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyRequest {
    /// The tenant it acts for (created if needed): `[a-z0-9._-]{1,64}`.
    tenant: String,
    /// Whether it may manage tenants and keys (and see every tenant).
    admin: Option<bool>,
    /// Whether it may only read: every change it asks for is refused with `403 forbidden`.
    read_only: Option<bool>,
}

/// A new key; the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyCreated {
    /// Public id.
    id: String,
    /// The secret: send it as `Authorization: Bearer <key>`.
    key: String,
    /// Its tenant.
    tenant: String,
    /// Admin or not.
    admin: bool,
    /// Read-only or not.
    read_only: bool,
}

/// Creates an API key.
#[utoipa::path(post, path = "/v1/keys", request_body = KeyRequest, tag = "admin",
    responses((status = 201, body = KeyCreated), (status = 403, description = "forbidden")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    Json(req): Json<KeyRequest>,
) -> Result<(StatusCode, axum::Json<KeyCreated>), ApiError> {
    validate_name(&req.tenant).map_err(|e| ApiError::field("tenant", e.to_string()))?;
    let (key, id) = generate_key();
    let admin = req.admin.unwrap_or(false);
    let read_only = req.read_only.unwrap_or(false);
    let record = ApiKey { id: id.clone(), tenant: req.tenant.clone(), admin, read_only, created_at: now_ms() };
    state.store.api_key_create(record, hash_key(&key)).await?;
    Ok((StatusCode::CREATED, axum::Json(KeyCreated { id, key, tenant: req.tenant, admin, read_only })))
}
