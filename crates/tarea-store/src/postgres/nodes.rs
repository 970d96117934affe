//! The node registry, external workers and the leader lease, mirroring the SQLite store's
//! `nodes.rs`. Leadership is a row with a lease rather than an advisory lock: a lock lives as
//! long as its connection, and a leader cut off by the network keeps its connection open on the
//! server until TCP gives up (hours by default); a lease ends on time, whatever the network.
use tarea_core::{ExternalWorker, NodeInfo, NodeRole, StoreResult};

use super::{Tx, map_err};

/// Whether worker `workers.name` holds a live lease at `$1` (now). A worker that only
/// heartbeats a long job claims nothing meanwhile; it stays listed while it runs it.
const HOLDS_LEASE: &str = "EXISTS (SELECT 1 FROM jobs WHERE jobs.state = 2 AND jobs.locked_until >= $1 \
     AND jobs.tenant = workers.tenant AND jobs.locked_by = workers.name)";

/// The one leadership row's name.
const LEADER: &str = "maintenance";

pub(crate) async fn heartbeat(tx: &Tx<'_>, n: &NodeInfo, lease_ms: u64) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO nodes (id, host, version, role, queues, running, started_at, seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET running = excluded.running, \
             queues = excluded.queues, seen_at = excluded.seen_at, expires_at = excluded.expires_at",
        )
        .await
        .map_err(map_err)?;
    let running = n.running.min(i32::MAX as u32) as i32;
    let expires = n.seen_at.saturating_add(lease_ms as i64);
    tx.execute(
        &stmt,
        &[&n.id, &n.host, &n.version, &n.role.as_str(), &n.queues, &running, &n.started_at, &n.seen_at, &expires],
    )
    .await
    .map_err(map_err)?;
    let stmt = tx.prepare_cached("DELETE FROM nodes WHERE expires_at < $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&n.seen_at]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn remove(tx: &Tx<'_>, id: &str) -> StoreResult<()> {
    let stmt = tx.prepare_cached("DELETE FROM nodes WHERE id = $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&id]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn list(tx: &Tx<'_>, now: i64) -> StoreResult<Vec<NodeInfo>> {
    let stmt = tx
        .prepare_cached(
            "SELECT n.id, n.host, n.version, n.role, n.queues, n.running, n.started_at, n.seen_at, \
             EXISTS (SELECT 1 FROM leader l WHERE l.name = $2 AND l.node = n.id AND l.expires_at >= $1) \
             FROM nodes n WHERE n.expires_at >= $1 ORDER BY n.started_at, n.id",
        )
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&now, &LEADER]).await.map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| NodeInfo {
            id: r.get(0),
            host: r.get(1),
            version: r.get(2),
            role: NodeRole::parse(r.get(3)).unwrap_or(NodeRole::All),
            queues: r.get(4),
            running: r.get::<_, i32>(5).max(0) as u32,
            started_at: r.get(6),
            seen_at: r.get(7),
            leader: r.get(8),
        })
        .collect())
}

pub(crate) async fn worker_seen(
    tx: &Tx<'_>,
    tenant: &str,
    name: &str,
    queues: &[String],
    lease_ms: u64,
    now: i64,
) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO workers (tenant, name, queues, first_seen_at, seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (tenant, name) DO UPDATE SET queues = excluded.queues, \
             seen_at = excluded.seen_at, expires_at = excluded.expires_at, \
             first_seen_at = CASE WHEN workers.expires_at < excluded.seen_at THEN excluded.seen_at \
                             ELSE workers.first_seen_at END",
        )
        .await
        .map_err(map_err)?;
    let expires = now.saturating_add(lease_ms as i64);
    tx.execute(&stmt, &[&tenant, &name, &queues, &now, &expires]).await.map_err(map_err)?;
    let stmt = tx
        .prepare_cached(&format!("DELETE FROM workers WHERE expires_at < $1 AND NOT {HOLDS_LEASE}"))
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&now]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn worker_list(tx: &Tx<'_>, tenant: Option<&str>, now: i64) -> StoreResult<Vec<ExternalWorker>> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT tenant, name, queues, first_seen_at, seen_at FROM workers \
             WHERE (expires_at >= $1 OR {HOLDS_LEASE}) AND ($2::text IS NULL OR tenant = $2) ORDER BY tenant, name"
        ))
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&now, &tenant]).await.map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| ExternalWorker {
            tenant: r.get(0),
            name: r.get(1),
            queues: r.get(2),
            first_seen_at: r.get(3),
            seen_at: r.get(4),
        })
        .collect())
}

/// Takes the lease if it is free, expired or already ours.
pub(crate) async fn leader_try(tx: &Tx<'_>, node: &str, lease_ms: u64, now: i64) -> StoreResult<bool> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO leader (name, node, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
             SET node = excluded.node, expires_at = excluded.expires_at \
             WHERE leader.node = excluded.node OR leader.expires_at < $4 RETURNING node",
        )
        .await
        .map_err(map_err)?;
    let expires = now.saturating_add(lease_ms as i64);
    let row = tx.query_opt(&stmt, &[&LEADER, &node, &expires, &now]).await.map_err(map_err)?;
    Ok(row.is_some_and(|r| r.get::<_, &str>(0) == node))
}

pub(crate) async fn leader_resign(tx: &Tx<'_>, node: &str) -> StoreResult<()> {
    let stmt = tx.prepare_cached("DELETE FROM leader WHERE name = $1 AND node = $2").await.map_err(map_err)?;
    tx.execute(&stmt, &[&LEADER, &node]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn builtin_kinds_register(tx: &Tx<'_>, kinds: &[String]) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("INSERT INTO builtin_kinds (kind) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&kinds]).await.map_err(map_err)?;
    Ok(())
}
