//! The `Auth` extractor: `Authorization: Bearer <key>` → the key's tenant. Verified keys are
//! cached for a minute so the hot path (enqueue) does not read the key table every time.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tarea_core::{ApiKey, ErrorCode, KeyHash};

use crate::{ApiError, AppState, hash_key};

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

/// Verified keys, by hash.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<HashMap<KeyHash, (ApiKey, Instant)>>);

impl KeyCache {
    fn get(&self, hash: &KeyHash) -> Option<ApiKey> {
        let map = self.0.lock().ok()?;
        map.get(hash).filter(|(_, at)| at.elapsed() < CACHE_TTL).map(|(k, _)| k.clone())
    }

    fn put(&self, hash: KeyHash, key: ApiKey) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if map.len() >= CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(hash, (key, Instant::now()));
        }
    }
}

/// The caller, as its API key says.
#[derive(Clone, Debug)]
pub struct Auth {
    /// The tenant every query is scoped to.
    pub tenant: String,
    /// Whether the key may manage tenants and keys.
    pub admin: bool,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, state).await
    }
}

/// The caller of a request with these headers, as its API key says.
pub(crate) async fn authenticate(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Auth, ApiError> {
    let token =
        bearer_of(headers).ok_or_else(|| unauthorized("send an API key in the header Authorization: Bearer <key>"))?;
    let hash = hash_key(token);
    let key = match state.keys.get(&hash) {
        Some(k) => k,
        None => {
            let k = state
                .store
                .api_key_find(hash)
                .await?
                .ok_or_else(|| unauthorized("this API key is not valid; create one with `tarea keys create`"))?;
            state.keys.put(hash, k.clone());
            k
        }
    };
    Ok(Auth { tenant: key.tenant, admin: key.admin })
}

/// A caller holding an admin key.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        if !auth.admin {
            return Err(ApiError::new(ErrorCode::Forbidden, "this needs an admin API key"));
        }
        Ok(Admin)
    }
}
