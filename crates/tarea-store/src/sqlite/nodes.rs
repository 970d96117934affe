//! The node registry, external workers and the leader lease. On SQLite there is one node, so
//! it always wins the lease; the same rows make `GET /v1/workers` answer alike on both stores.
use rusqlite::{Connection, OptionalExtension, params};
use tarea_core::{ExternalWorker, NodeInfo, NodeRole, StoreResult};

use super::map_err;

/// Whether worker `workers.name` holds a live lease at `?1` (now). A worker that only
/// heartbeats a long job claims nothing meanwhile; it stays listed while it runs it.
const HOLDS_LEASE: &str = "EXISTS (SELECT 1 FROM jobs WHERE jobs.state = 2 AND jobs.locked_until >= ?1 \
     AND jobs.tenant = workers.tenant AND jobs.locked_by = workers.name)";

/// The one leadership row's name.
const LEADER: &str = "maintenance";

fn list_text(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn list_from(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

pub(crate) fn heartbeat(conn: &Connection, n: &NodeInfo, lease_ms: u64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO nodes (id, host, version, role, queues, running, started_at, seen_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET running = excluded.running, \
         queues = excluded.queues, seen_at = excluded.seen_at, expires_at = excluded.expires_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            n.id,
            n.host,
            n.version,
            n.role.as_str(),
            list_text(&n.queues),
            n.running,
            n.started_at,
            n.seen_at,
            n.seen_at.saturating_add(lease_ms as i64)
        ])
    })
    .map_err(map_err)?;
    // Expired rows go as live ones write: the table stays as small as the cluster.
    conn.prepare_cached("DELETE FROM nodes WHERE expires_at < ?1")
        .and_then(|mut s| s.execute(params![n.seen_at]))
        .map_err(map_err)?;
    Ok(())
}

pub(crate) fn remove(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM nodes WHERE id = ?1").and_then(|mut s| s.execute(params![id])).map_err(map_err)?;
    Ok(())
}

pub(crate) fn list(conn: &Connection, now: i64) -> StoreResult<Vec<NodeInfo>> {
    let leader: Option<String> = conn
        .prepare_cached("SELECT node FROM leader WHERE name = ?1 AND expires_at >= ?2")
        .and_then(|mut s| s.query_row(params![LEADER, now], |r| r.get(0)).optional())
        .map_err(map_err)?;
    conn.prepare_cached(
        "SELECT id, host, version, role, queues, running, started_at, seen_at FROM nodes \
         WHERE expires_at >= ?1 ORDER BY started_at, id",
    )
    .and_then(|mut s| {
        s.query_map(params![now], |r| {
            let id: String = r.get(0)?;
            let role: String = r.get(3)?;
            let queues: String = r.get(4)?;
            Ok(NodeInfo {
                leader: leader.as_deref() == Some(id.as_str()),
                id,
                host: r.get(1)?,
                version: r.get(2)?,
                role: NodeRole::parse(&role).unwrap_or(NodeRole::All),
                queues: list_from(&queues),
                running: r.get(5)?,
                started_at: r.get(6)?,
                seen_at: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()
    })
    .map_err(map_err)
}

pub(crate) fn worker_seen(
    conn: &Connection,
    tenant: &str,
    name: &str,
    queues: &[String],
    lease_ms: u64,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO workers (tenant, name, queues, first_seen_at, seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5) \
         ON CONFLICT (tenant, name) DO UPDATE SET queues = excluded.queues, seen_at = excluded.seen_at, \
         expires_at = excluded.expires_at, \
         first_seen_at = CASE WHEN workers.expires_at < excluded.seen_at THEN excluded.seen_at \
                         ELSE workers.first_seen_at END",
    )
    .and_then(|mut s| s.execute(params![tenant, name, list_text(queues), now, now.saturating_add(lease_ms as i64)]))
    .map_err(map_err)?;
    conn.prepare_cached(&format!("DELETE FROM workers WHERE expires_at < ?1 AND NOT {HOLDS_LEASE}"))
        .and_then(|mut s| s.execute(params![now]))
        .map_err(map_err)?;
    Ok(())
}

pub(crate) fn worker_list(conn: &Connection, tenant: Option<&str>, now: i64) -> StoreResult<Vec<ExternalWorker>> {
    conn.prepare_cached(&format!(
        "SELECT tenant, name, queues, first_seen_at, seen_at FROM workers \
         WHERE (expires_at >= ?1 OR {HOLDS_LEASE}) AND (?2 IS NULL OR tenant = ?2) ORDER BY tenant, name"
    ))
    .and_then(|mut s| {
        s.query_map(params![now, tenant], |r| {
            let queues: String = r.get(2)?;
            Ok(ExternalWorker {
                tenant: r.get(0)?,
                name: r.get(1)?,
                queues: list_from(&queues),
                first_seen_at: r.get(3)?,
                seen_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()
    })
    .map_err(map_err)
}

/// Takes the lease if it is free, expired or already ours.
pub(crate) fn leader_try(conn: &Connection, node: &str, lease_ms: u64, now: i64) -> StoreResult<bool> {
    let holder: Option<String> = conn
        .prepare_cached(
            "INSERT INTO leader (name, node, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE \
             SET node = excluded.node, expires_at = excluded.expires_at \
             WHERE leader.node = excluded.node OR leader.expires_at < ?4 RETURNING node",
        )
        .and_then(|mut s| {
            s.query_row(params![LEADER, node, now.saturating_add(lease_ms as i64), now], |r| r.get(0)).optional()
        })
        .map_err(map_err)?;
    Ok(holder.as_deref() == Some(node))
}

pub(crate) fn leader_resign(conn: &Connection, node: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM leader WHERE name = ?1 AND node = ?2")
        .and_then(|mut s| s.execute(params![LEADER, node]))
        .map_err(map_err)?;
    Ok(())
}
