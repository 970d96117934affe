//! The `Auth` extractor: `Authorization: Bearer <key>` → the key's tenant. Verified keys are
//! cached for a minute so the hot path (enqueue) does not read the key table every time.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use tarea_core::{ApiKey, ErrorCode, KeyHash};

use crate::{ApiError, AppState, hash_key};

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

/// Verified keys, by hash, and how many times the cache was cleared: a key read from the store
/// before a deletion is not cached after it.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<(Verified, u64)>);

/// Each verified key and when it was read from the store.
type Verified = HashMap<KeyHash, (ApiKey, Instant)>;

impl KeyCache {
    /// The cached key, else the clear count to hand back to [`KeyCache::put`].
    fn get(&self, hash: &KeyHash) -> Result<ApiKey, u64> {
        let Ok(guard) = self.0.lock() else { return Err(u64::MAX) };
        let (map, cleared) = &*guard;
        map.get(hash).filter(|(_, at)| at.elapsed() < CACHE_TTL).map(|(k, _)| k.clone()).ok_or(*cleared)
    }

    fn put(&self, hash: KeyHash, key: ApiKey, cleared_before: u64) {
        if let Ok(mut guard) = self.0.lock() {
            let (map, cleared) = &mut *guard;
            if *cleared != cleared_before {
                return;
            }
            if map.len() >= CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if map.len() >= CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(hash, (key, Instant::now()));
        }
    }

    /// Forgets every key: one was deleted. (Other nodes forget it within [`CACHE_TTL`].)
    pub(crate) fn clear(&self) {
        if let Ok(mut guard) = self.0.lock() {
            guard.0.clear();
            guard.1 += 1;
        }
    }
}

/// The caller, as its API key (or the key its dashboard session was opened with) says.
#[derive(Clone, Debug)]
pub struct Auth {
    /// The tenant every query is scoped to.
    pub tenant: String,
    /// Whether the key may manage tenants and keys.
    pub admin: bool,
    /// Whether the key may only read.
    pub read_only: bool,
    /// The key's public id.
    pub key_id: String,
}

impl Auth {
    pub(crate) fn of(key: &ApiKey) -> Auth {
        Auth { tenant: key.tenant.clone(), admin: key.admin, read_only: key.read_only, key_id: key.id.clone() }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

pub(crate) fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.method, Some(&parts.uri), &parts.headers, state).await
    }
}

/// The caller of a request with this method, URI (for an admin's `?tenant=`) and headers: a
/// bearer key, else a dashboard session (whose changes must carry its CSRF token). A read-only
/// key may only read.
pub(crate) async fn authenticate(
    method: &Method,
    uri: Option<&axum::http::Uri>,
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Auth, ApiError> {
    let auth = if let Some(token) = bearer_of(headers) {
        Auth::of(&authenticate_key(token, state).await?)
    } else if let Some(token) = crate::ui::session::token(headers) {
        crate::ui::session::authenticate(state, method, headers, token).await?
    } else {
        return Err(unauthorized("send an API key in the header Authorization: Bearer <key>"));
    };
    let own_tenant = auth.tenant.clone();
    let auth = in_tenant(auth, headers, uri_tenant(uri))?;
    // An admin switching tenants: to one that exists (a typo would otherwise make one).
    if auth.tenant != own_tenant && !state.store.tenant_list().await?.contains(&auth.tenant) {
        return Err(ApiError::new(ErrorCode::NotFound, format!("there is no tenant named {:?}", auth.tenant)));
    }
    if auth.read_only && !method.is_safe() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this key can only read; ask an administrator for a key that may make changes",
        ));
    }
    Ok(auth)
}

/// The header with which an admin key acts in another tenant.
pub(crate) const TENANT_HEADER: &str = "x-tarea-tenant";

/// The `tenant` of a query string (the dashboard's live streams cannot send headers).
fn uri_tenant(uri: Option<&axum::http::Uri>) -> Option<String> {
    let query = uri?.query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "tenant").then(|| percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned())
    })
}

/// An admin key may act in any tenant, named in `X-Tarea-Tenant` (or `?tenant=`); any other
/// key only in its own.
fn in_tenant(mut auth: Auth, headers: &axum::http::HeaderMap, query: Option<String>) -> Result<Auth, ApiError> {
    let named = match headers.get(TENANT_HEADER) {
        Some(v) => {
            Some(v.to_str().map_err(|_| ApiError::field("tenant", "X-Tarea-Tenant must be a tenant name"))?.to_owned())
        }
        None => query,
    };
    let Some(tenant) = named.filter(|t| !t.is_empty() && *t != auth.tenant) else { return Ok(auth) };
    if !auth.admin {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an admin key may act in another tenant"));
    }
    tarea_core::validate_name(&tenant).map_err(|e| ApiError::field("tenant", e.to_string()))?;
    auth.tenant = tenant;
    Ok(auth)
}

/// The tenant a request made with `key` acts in (its own, or the one an admin key names).
pub(crate) fn acting_tenant(
    key: &ApiKey,
    headers: &axum::http::HeaderMap,
    uri: Option<&axum::http::Uri>,
) -> Result<String, ApiError> {
    Ok(in_tenant(Auth::of(key), headers, uri_tenant(uri))?.tenant)
}

/// The stored key whose secret is `token`.
pub(crate) async fn authenticate_key(token: &str, state: &AppState) -> Result<ApiKey, ApiError> {
    let hash = hash_key(token);
    let cleared = match state.keys.get(&hash) {
        Ok(k) => return Ok(k),
        Err(cleared) => cleared,
    };
    let k = state
        .store
        .api_key_find(hash)
        .await?
        .ok_or_else(|| unauthorized("this API key is not valid; create one with `tarea keys create`"))?;
    state.keys.put(hash, k.clone(), cleared);
    Ok(k)
}

/// A caller holding an admin key.
pub struct Admin(pub Auth);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        if !auth.admin {
            return Err(ApiError::new(ErrorCode::Forbidden, "this needs an admin API key"));
        }
        Ok(Admin(auth))
    }
}
