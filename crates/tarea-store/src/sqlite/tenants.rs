//! Tenants and API keys.
use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{ApiKey, KeyHash, StoreResult};

use super::map_err;

pub(crate) fn count(conn: &Connection) -> StoreResult<u64> {
    conn.query_row("SELECT COUNT(*) FROM tenants", [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(map_err)
}

pub(crate) fn list(conn: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM tenants ORDER BY name").map_err(map_err)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}

pub(crate) fn ensure(conn: &Connection, name: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![name, now]))
        .map_err(map_err)?;
    Ok(())
}

pub(crate) fn key_create(conn: &Connection, key: ApiKey, hash: KeyHash) -> StoreResult<ApiKey> {
    ensure(conn, &key.tenant, key.created_at)?;
    conn.prepare_cached(
        "INSERT INTO api_keys (id, hash, tenant, admin, read_only, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![key.id, &hash.0[..], key.tenant, key.admin, key.read_only, key.created_at]))
    .map_err(map_err)?;
    Ok(key)
}

/// The columns [`key_of`] reads, in its order.
pub(crate) const KEY_COLUMNS: &str = "k.id, k.tenant, k.admin, k.read_only, k.created_at";

pub(crate) fn key_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey { id: r.get(0)?, tenant: r.get(1)?, admin: r.get(2)?, read_only: r.get(3)?, created_at: r.get(4)? })
}

pub(crate) fn key_find(conn: &Connection, hash: KeyHash) -> StoreResult<Option<ApiKey>> {
    conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.hash = ?1"))
        .and_then(|mut s| s.query_row(params![&hash.0[..]], key_of).optional())
        .map_err(map_err)
}

/// Every key (of `tenant` when given), oldest first.
pub(crate) fn key_list(conn: &Connection, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE ?1 IS NULL OR k.tenant = ?1 ORDER BY k.created_at, k.id"
        ))
        .map_err(map_err)?;
    let rows = stmt.query_map(params![tenant], key_of).map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}

/// Deletes a key and its dashboard sessions.
pub(crate) fn key_delete(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM ui_sessions WHERE key_id = ?1")
        .and_then(|mut s| s.execute(params![id]))
        .map_err(map_err)?;
    conn.prepare_cached("DELETE FROM api_keys WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id]))
        .map(|n| n > 0)
        .map_err(map_err)
}

pub(crate) fn key_create_first(conn: &Connection, key: ApiKey, hash: KeyHash) -> StoreResult<bool> {
    if count(conn)? > 0 {
        return Ok(false);
    }
    key_create(conn, key, hash)?;
    Ok(true)
}

/// A tenant's setting `name` (JSON text).
pub(crate) fn setting_get(conn: &Connection, tenant: &str, name: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT value FROM tenant_settings WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get(0)).optional())
        .map_err(map_err)
}

/// Stores (`Some`) or removes (`None`) a tenant's setting; answers whether one existed.
pub(crate) fn setting_set(
    conn: &Connection,
    tenant: &str,
    name: &str,
    value: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let existed = setting_get(conn, tenant, name)?.is_some();
    match value {
        Some(v) => conn
            .prepare_cached(
                "INSERT INTO tenant_settings (tenant, name, value, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (tenant, name) DO UPDATE SET value = ?3, updated_at = ?4",
            )
            .and_then(|mut s| s.execute(params![tenant, name, v, now])),
        None => conn
            .prepare_cached("DELETE FROM tenant_settings WHERE tenant = ?1 AND name = ?2")
            .and_then(|mut s| s.execute(params![tenant, name])),
    }
    .map_err(map_err)?;
    Ok(existed)
}
