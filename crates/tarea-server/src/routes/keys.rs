//! API keys (admin only).
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tarea_core::{ApiKey, ErrorCode, validate_name};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Admin;
use crate::extract::{Json, Query};
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

/// A stored key; its secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyView {
    /// Public id.
    id: String,
    /// Its tenant.
    tenant: String,
    /// Admin or not.
    admin: bool,
    /// Read-only or not.
    read_only: bool,
    /// RFC 3339.
    created_at: String,
}

/// Every key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeyList {
    /// Oldest first.
    keys: Vec<KeyView>,
}

/// Filters of `GET /v1/keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyQuery {
    /// Only this tenant's keys (default: every tenant's).
    tenant: Option<String>,
}

/// Lists the API keys, without their secrets.
#[utoipa::path(get, path = "/v1/keys", tag = "admin", params(KeyQuery),
    responses((status = 200, body = KeyList), (status = 403, description = "forbidden")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<KeyQuery>,
) -> Result<axum::Json<KeyList>, ApiError> {
    let keys = state.store.api_key_list(q.tenant.as_deref()).await?;
    let keys = keys
        .into_iter()
        .map(|k| KeyView {
            id: k.id,
            tenant: k.tenant,
            admin: k.admin,
            read_only: k.read_only,
            created_at: tarea_core::format_ms(k.created_at),
        })
        .collect();
    Ok(axum::Json(KeyList { keys }))
}

/// Deletes an API key: it stops working at once on this node and within a minute on every
/// other node (they cache verified keys that long), and its dashboard sessions end. The key the
/// request is made with cannot delete itself.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "admin",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "not_found"),
              (status = 409, description = "conflict: the key of this request")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Admin(auth): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id == auth.key_id {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this is the key you are using; sign in with another admin key to delete it",
        ));
    }
    if !state.store.api_key_delete(&id).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "there is no API key with that id"));
    }
    state.keys.clear();
    tracing::info!(key = %id, "API key deleted");
    Ok(StatusCode::NO_CONTENT)
}
