//! The dashboard's sessions: a random token's hash → the API key it was opened with.
use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{ApiKey, AuditEntry, KeyHash, StoreResult};

use super::map_err;
use super::tenants::{KEY_COLUMNS, key_of};

/// Opens a session of key `key_id` until `expires_at`; sessions that have ended go at the same
/// time, so the table holds only live ones without a sweeper.
pub(crate) fn create(conn: &Connection, hash: KeyHash, key_id: &str, now: i64, expires_at: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM ui_sessions WHERE expires_at <= ?1")
        .and_then(|mut s| s.execute(params![now]))
        .map_err(map_err)?;
    conn.prepare_cached("INSERT INTO ui_sessions (hash, key_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![&hash.0[..], key_id, now, expires_at]))
        .map_err(map_err)?;
    Ok(())
}

/// The key of a live session, and when the session ends.
pub(crate) fn find(conn: &Connection, hash: KeyHash, now: i64) -> StoreResult<Option<(ApiKey, i64)>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS}, s.expires_at FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id \
         WHERE s.hash = ?1 AND s.expires_at > ?2"
    ))
    .and_then(|mut s| s.query_row(params![&hash.0[..], now], |r| Ok((key_of(r)?, r.get(5)?))).optional())
    .map_err(map_err)
}

/// Ends a session; answers whether it was open.
pub(crate) fn delete(conn: &Connection, hash: KeyHash) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM ui_sessions WHERE hash = ?1")
        .and_then(|mut s| s.execute(params![&hash.0[..]]))
        .map(|n| n > 0)
        .map_err(map_err)
}

/// Writes a dashboard action to the audit log.
pub(crate) fn audit_append(conn: &Connection, e: &AuditEntry) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, tenant, key_id, action, target, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![e.at, e.tenant, e.key_id, e.action, e.target, e.count as i64]))
    .map_err(map_err)?;
    Ok(())
}

/// The audit log, newest first.
pub(crate) fn audit_list(
    conn: &Connection,
    tenant: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    // Two statements, so each is planned for its own index (one with `?1 IS NULL OR` is not).
    let sql = match tenant {
        Some(_) => {
            "SELECT id, at, tenant, key_id, action, target, count FROM audit_log \
             WHERE tenant = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        }
        None => {
            "SELECT id, at, tenant, key_id, action, target, count FROM audit_log \
             WHERE ?1 IS NULL AND id < ?2 ORDER BY id DESC LIMIT ?3"
        }
    };
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params![tenant, before.unwrap_or(i64::MAX), limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                tenant: r.get(2)?,
                key_id: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                count: r.get::<_, i64>(6)?.max(0) as u64,
            })
        })
        .map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}
