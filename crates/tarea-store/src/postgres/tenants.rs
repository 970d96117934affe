//! Tenants and API keys, mirroring the SQLite store's `tenants.rs`.
use tarea_core::{ApiKey, KeyHash, StoreResult};

use super::{Tx, map_err};

pub(crate) async fn count(tx: &Tx<'_>) -> StoreResult<u64> {
    let n: i64 = tx.query_one("SELECT count(*) FROM tenants", &[]).await.map_err(map_err)?.get(0);
    Ok(n.max(0) as u64)
}

pub(crate) async fn list(tx: &Tx<'_>) -> StoreResult<Vec<String>> {
    let rows = tx.query("SELECT name FROM tenants ORDER BY name", &[]).await.map_err(map_err)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn ensure(tx: &Tx<'_>, name: &str, now: i64) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("INSERT INTO tenants (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&name, &now]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn key_create(tx: &Tx<'_>, key: ApiKey, hash: KeyHash) -> StoreResult<ApiKey> {
    ensure(tx, &key.tenant, key.created_at).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO api_keys (id, hash, tenant, admin, read_only, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&key.id, &&hash.0[..], &key.tenant, &key.admin, &key.read_only, &key.created_at])
        .await
        .map_err(map_err)?;
    Ok(key)
}

/// The columns [`key_of`] reads, in its order.
pub(crate) const KEY_COLUMNS: &str = "k.id, k.tenant, k.admin, k.read_only, k.created_at";

pub(crate) fn key_of(r: &tokio_postgres::Row) -> ApiKey {
    ApiKey { id: r.get(0), tenant: r.get(1), admin: r.get(2), read_only: r.get(3), created_at: r.get(4) }
}

pub(crate) async fn key_find(tx: &Tx<'_>, hash: KeyHash) -> StoreResult<Option<ApiKey>> {
    let stmt =
        tx.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.hash = $1")).await.map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&&hash.0[..]]).await.map_err(map_err)?;
    Ok(row.as_ref().map(key_of))
}

/// Every key (of `tenant` when given), oldest first.
pub(crate) async fn key_list(tx: &Tx<'_>, tenant: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE $1::text IS NULL OR k.tenant = $1 ORDER BY k.created_at, k.id"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query(&stmt, &[&tenant]).await.map_err(map_err)?.iter().map(key_of).collect())
}

/// Deletes a key and its dashboard sessions.
pub(crate) async fn key_delete(tx: &Tx<'_>, id: &str) -> StoreResult<bool> {
    let stmt = tx.prepare_cached("DELETE FROM ui_sessions WHERE key_id = $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&id]).await.map_err(map_err)?;
    let stmt = tx.prepare_cached("DELETE FROM api_keys WHERE id = $1").await.map_err(map_err)?;
    Ok(tx.execute(&stmt, &[&id]).await.map_err(map_err)? > 0)
}

pub(crate) async fn key_create_first(tx: &Tx<'_>, key: ApiKey, hash: KeyHash) -> StoreResult<bool> {
    // Nodes starting together on an empty database take turns here; the first one creates.
    tx.execute("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE", &[]).await.map_err(map_err)?;
    if count(tx).await? > 0 {
        return Ok(false);
    }
    key_create(tx, key, hash).await?;
    Ok(true)
}

/// A tenant's setting `name` (JSON text).
pub(crate) async fn setting_get(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<Option<String>> {
    let stmt = tx
        .prepare_cached("SELECT value FROM tenant_settings WHERE tenant = $1 AND name = $2")
        .await
        .map_err(map_err)?;
    Ok(tx.query_opt(&stmt, &[&tenant, &name]).await.map_err(map_err)?.map(|r| r.get(0)))
}

/// Stores (`Some`) or removes (`None`) a tenant's setting; answers whether one existed.
pub(crate) async fn setting_set(
    tx: &Tx<'_>,
    tenant: &str,
    name: &str,
    value: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let existed = setting_get(tx, tenant, name).await?.is_some();
    match value {
        Some(v) => {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO tenant_settings (tenant, name, value, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant, name) DO UPDATE SET value = $3, updated_at = $4",
                )
                .await
                .map_err(map_err)?;
            tx.execute(&stmt, &[&tenant, &name, &v, &now]).await.map_err(map_err)?;
        }
        None => {
            let stmt = tx
                .prepare_cached("DELETE FROM tenant_settings WHERE tenant = $1 AND name = $2")
                .await
                .map_err(map_err)?;
            tx.execute(&stmt, &[&tenant, &name]).await.map_err(map_err)?;
        }
    }
    Ok(existed)
}
