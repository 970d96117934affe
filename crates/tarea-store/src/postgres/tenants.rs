//! Tenants and API keys, mirroring the SQLite store's `tenants.rs`.
use tarea_core::{ApiKey, KeyHash, StoreResult};

use super::{Tx, map_err};

pub(crate) async fn count(tx: &Tx<'_>) -> StoreResult<u64> {
    let n: i64 = tx.query_one("SELECT count(*) FROM tenants", &[]).await.map_err(map_err)?.get(0);
    Ok(n.max(0) as u64)
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
        .prepare_cached("INSERT INTO api_keys (id, hash, tenant, admin, created_at) VALUES ($1, $2, $3, $4, $5)")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&key.id, &&hash.0[..], &key.tenant, &key.admin, &key.created_at]).await.map_err(map_err)?;
    Ok(key)
}

pub(crate) async fn key_find(tx: &Tx<'_>, hash: KeyHash) -> StoreResult<Option<ApiKey>> {
    let stmt = tx
        .prepare_cached("SELECT id, tenant, admin, created_at FROM api_keys WHERE hash = $1")
        .await
        .map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&&hash.0[..]]).await.map_err(map_err)?;
    Ok(row.map(|r| ApiKey { id: r.get(0), tenant: r.get(1), admin: r.get(2), created_at: r.get(3) }))
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
