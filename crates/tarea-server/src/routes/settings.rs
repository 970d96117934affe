//! A tenant's settings: `PUT|GET|DELETE /v1/settings/{name}`. Which settings exist, and what
//! each must hold, is said by the code that uses them (`email`: the SMTP server of
//! `email.send`); this module stores and shows them, secrets hidden.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use tarea_core::{ErrorCode, SettingCheck};
use tarea_runtime::now_ms;

use crate::auth::Auth;
use crate::extract::Json;
use crate::{ApiError, AppState};

fn checker<'a>(state: &'a AppState, name: &str) -> Result<&'a dyn SettingCheck, ApiError> {
    let known = state.settings.as_deref().filter(|c| c.names().contains(&name));
    known.ok_or_else(|| {
        let names = state.settings.as_deref().map(|c| c.names().join(", ")).unwrap_or_default();
        ApiError::new(ErrorCode::NotFound, format!("no setting {name:?}; the settings are: {names}"))
    })
}

fn shown(check: &dyn SettingCheck, name: &str, stored: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_str(stored).map_err(|e| ApiError::internal(format!("setting {name}: {e}")))?;
    Ok(check.redact(name, &value))
}

/// Stores a setting (`email`: `{"host", "port"?, "tls": "starttls"|"tls"|"none", "username"?,
/// "password"?, "from", "reply_to"?}`), replacing the one before.
#[utoipa::path(put, path = "/v1/settings/{name}", tag = "settings",
    params(("name" = String, Path, description = "Setting name: email")),
    request_body(content = Object, description = "The setting"),
    responses((status = 200, description = "Stored; the setting as GET shows it"),
              (status = 400, description = "invalid_request: details.field names the field"),
              (status = 404, description = "not_found: no such setting")))]
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> Result<axum::Json<Value>, ApiError> {
    let check = checker(&state, &name)?;
    let previous = state.store.setting_get(&auth.tenant, &name).await?;
    let previous: Option<Value> = previous.and_then(|p| serde_json::from_str(&p).ok());
    let stored = check.check(&name, &value, previous.as_ref()).map_err(|e| {
        let field = if e.field.is_empty() { name.clone() } else { e.field.clone() };
        ApiError::field(&field, e.message)
    })?;
    let text = serde_json::to_string(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
    state.store.setting_set(&auth.tenant, &name, Some(text.clone()), now_ms()).await?;
    tracing::info!(tenant = %auth.tenant, setting = %name, "setting stored");
    Ok(axum::Json(shown(check, &name, &text)?))
}

/// A setting, secrets hidden.
#[utoipa::path(get, path = "/v1/settings/{name}", tag = "settings",
    params(("name" = String, Path, description = "Setting name: email")),
    responses((status = 200, description = "The setting"), (status = 404, description = "not_found")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let check = checker(&state, &name)?;
    let stored = state.store.setting_get(&auth.tenant, &name).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, format!("this tenant has no {name} setting; store one with PUT"))
    })?;
    Ok(axum::Json(shown(check, &name, &stored)?))
}

/// Removes a setting.
#[utoipa::path(delete, path = "/v1/settings/{name}", tag = "settings",
    params(("name" = String, Path, description = "Setting name: email")),
    responses((status = 204, description = "Removed"), (status = 404, description = "not_found")))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    checker(&state, &name)?;
    if !state.store.setting_set(&auth.tenant, &name, None, now_ms()).await? {
        return Err(ApiError::new(ErrorCode::NotFound, format!("this tenant has no {name} setting")));
    }
    Ok(StatusCode::NO_CONTENT)
}
