//! The dashboard's sessions, mirroring the SQLite store's `sessions.rs`.
use tarea_core::{ApiKey, AuditEntry, KeyHash, StoreResult};

use super::tenants::{KEY_COLUMNS, key_of};
use super::{Tx, map_err};

pub(crate) async fn create(tx: &Tx<'_>, hash: KeyHash, key_id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
    let stmt = tx.prepare_cached("DELETE FROM ui_sessions WHERE expires_at <= $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&now]).await.map_err(map_err)?;
    let stmt = tx
        .prepare_cached("INSERT INTO ui_sessions (hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&&hash.0[..], &key_id, &now, &expires_at]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn find(tx: &Tx<'_>, hash: KeyHash, now: i64) -> StoreResult<Option<(ApiKey, i64)>> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS}, s.expires_at FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id \
             WHERE s.hash = $1 AND s.expires_at > $2"
        ))
        .await
        .map_err(map_err)?;
    let row = tx.query_opt(&stmt, &[&&hash.0[..], &now]).await.map_err(map_err)?;
    Ok(row.map(|r| (key_of(&r), r.get(5))))
}

pub(crate) async fn delete(tx: &Tx<'_>, hash: KeyHash) -> StoreResult<bool> {
    let stmt = tx.prepare_cached("DELETE FROM ui_sessions WHERE hash = $1").await.map_err(map_err)?;
    Ok(tx.execute(&stmt, &[&&hash.0[..]]).await.map_err(map_err)? > 0)
}

pub(crate) async fn audit_append(tx: &Tx<'_>, e: &AuditEntry) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (at, tenant, key_id, action, target, count) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&e.at, &e.tenant, &e.key_id, &e.action, &e.target, &(e.count as i64)])
        .await
        .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn audit_list(
    tx: &Tx<'_>,
    tenant: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    // Two statements, so each is planned for its own index (one with `$1 IS NULL OR` is not).
    let sql = match tenant {
        Some(_) => {
            "SELECT id, at, tenant, key_id, action, target, count FROM audit_log \
             WHERE tenant = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        }
        None => {
            "SELECT id, at, tenant, key_id, action, target, count FROM audit_log \
             WHERE $1::text IS NULL AND id < $2 ORDER BY id DESC LIMIT $3"
        }
    };
    let stmt = tx.prepare_cached(sql).await.map_err(map_err)?;
    let rows = tx.query(&stmt, &[&tenant, &before.unwrap_or(i64::MAX), &i64::from(limit)]).await.map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            id: r.get(0),
            at: r.get(1),
            tenant: r.get(2),
            key_id: r.get(3),
            action: r.get(4),
            target: r.get(5),
            count: r.get::<_, i64>(6).max(0) as u64,
        })
        .collect())
}
