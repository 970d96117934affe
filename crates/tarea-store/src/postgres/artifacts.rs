//! Artifact metadata, tenants' artifact retention and server secrets, mirroring the SQLite
//! store's `artifacts.rs`.
use tarea_core::{Artifact, ArtifactId, ArtifactRetention, JobId, JobState, StoreError, StoreResult};
use tokio_postgres::Row;

use super::{Tx, map_err};

const COLUMNS: &str = "id, tenant, job_id, kind, filename, content_type, size, sha256, cache_key, provenance::text, \
                       created_at, expires_at, download_count";

fn from_row(r: &Row) -> Artifact {
    let provenance: Option<String> = r.get(9);
    Artifact {
        id: ArtifactId(r.get(0)),
        tenant: r.get(1),
        job_id: r.get::<_, Option<uuid::Uuid>>(2).map(JobId),
        kind: r.get(3),
        filename: r.get(4),
        content_type: r.get(5),
        size: r.get::<_, i64>(6).max(0) as u64,
        sha256: r.get(7),
        cache_key: r.get(8),
        provenance: provenance.and_then(|p| serde_json::from_str(&p).ok()),
        created_at: r.get(10),
        expires_at: r.get(11),
        download_count: r.get::<_, i64>(12).max(0) as u64,
    }
}

/// The fenced insert of `Store::artifact_insert`: the job's row is locked while the artifact
/// is recorded, so a completion or a reap cannot slip in between the check and the insert.
pub(crate) async fn insert(
    tx: &Tx<'_>,
    a: &Artifact,
    attempt: Option<u32>,
    default_ttl_ms: Option<u64>,
) -> StoreResult<Artifact> {
    let mut a = a.clone();
    if let Some(job) = a.job_id {
        let stmt = tx
            .prepare_cached("SELECT state, attempt, kind, cache_key FROM jobs WHERE id = $1 AND tenant = $2 FOR SHARE")
            .await
            .map_err(map_err)?;
        let row = tx.query_opt(&stmt, &[&job.0, &a.tenant]).await.map_err(map_err)?.ok_or(StoreError::NotFound)?;
        let state = super::rows::state_of(row.get(0))?;
        let current = row.get::<_, i32>(1).max(0) as u32;
        let attempt = attempt.unwrap_or(0);
        if state != JobState::Running || current != attempt {
            return Err(StoreError::StaleAttempt { attempt, current, state });
        }
        a.kind = row.get(2);
        a.cache_key = row.get(3);
    }
    if a.expires_at.is_none() {
        let ttl = retention_get(tx, &a.tenant).await?.ttl_ms(&a.kind).or(default_ttl_ms);
        a.expires_at = ttl.map(|t| a.created_at.saturating_add(t.min(i64::MAX as u64) as i64));
    }
    let provenance = a.provenance.as_ref().map(super::complete::json_text).transpose()?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO artifacts (id, tenant, job_id, kind, filename, content_type, size, sha256, cache_key, \
             provenance, created_at, expires_at, download_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12, $13)",
        )
        .await
        .map_err(map_err)?;
    let (size, downloads) = (a.size.min(i64::MAX as u64) as i64, a.download_count.min(i64::MAX as u64) as i64);
    tx.execute(
        &stmt,
        &[
            &a.id.0,
            &a.tenant,
            &a.job_id.map(|j| j.0),
            &a.kind,
            &a.filename,
            &a.content_type,
            &size,
            &a.sha256,
            &a.cache_key,
            &provenance,
            &a.created_at,
            &a.expires_at,
            &downloads,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(a)
}

pub(crate) async fn get(tx: &Tx<'_>, tenant: Option<&str>, id: ArtifactId) -> StoreResult<Option<Artifact>> {
    let sql = format!("SELECT {COLUMNS} FROM artifacts WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query_opt(&stmt, &[&id.0, &tenant]).await.map_err(map_err)?.as_ref().map(from_row))
}

pub(crate) async fn list_for_jobs(tx: &Tx<'_>, tenant: &str, jobs: &[JobId]) -> StoreResult<Vec<Artifact>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<uuid::Uuid> = jobs.iter().map(|j| j.0).collect();
    let sql = format!("SELECT {COLUMNS} FROM artifacts WHERE job_id = ANY($1) AND tenant = $2 ORDER BY id");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query(&stmt, &[&ids, &tenant]).await.map_err(map_err)?.iter().map(from_row).collect())
}

/// A page of a tenant's artifacts, newest first (ids are UUIDv7).
pub(crate) async fn list(
    tx: &Tx<'_>,
    tenant: &str,
    before: Option<ArtifactId>,
    limit: u32,
) -> StoreResult<Vec<Artifact>> {
    let before = before.map(|b| b.0);
    let sql = format!(
        "SELECT {COLUMNS} FROM artifacts WHERE tenant = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query(&stmt, &[&tenant, &before, &i64::from(limit)]).await.map_err(map_err)?.iter().map(from_row).collect())
}

pub(crate) async fn downloaded(tx: &Tx<'_>, id: ArtifactId) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("UPDATE artifacts SET download_count = download_count + 1 WHERE id = $1")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&id.0]).await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn expired(tx: &Tx<'_>, now: i64, limit: u32) -> StoreResult<Vec<Artifact>> {
    let sql = format!("SELECT {COLUMNS} FROM artifacts WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query(&stmt, &[&now, &i64::from(limit)]).await.map_err(map_err)?.iter().map(from_row).collect())
}

pub(crate) async fn delete(tx: &Tx<'_>, ids: &[ArtifactId]) -> StoreResult<u64> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    let stmt = tx.prepare_cached("DELETE FROM artifacts WHERE id = ANY($1)").await.map_err(map_err)?;
    tx.execute(&stmt, &[&ids]).await.map_err(map_err)
}

pub(crate) async fn retention_get(tx: &Tx<'_>, tenant: &str) -> StoreResult<ArtifactRetention> {
    let stmt =
        tx.prepare_cached("SELECT kind, ttl_ms FROM artifact_retention WHERE tenant = $1").await.map_err(map_err)?;
    let mut r = ArtifactRetention::default();
    for row in tx.query(&stmt, &[&tenant]).await.map_err(map_err)? {
        let (kind, ttl): (String, i64) = (row.get(0), row.get(1));
        if kind.is_empty() {
            r.default_ms = Some(ttl.max(0) as u64);
        } else {
            r.kinds.insert(kind, ttl.max(0) as u64);
        }
    }
    Ok(r)
}

pub(crate) async fn retention_set(tx: &Tx<'_>, tenant: &str, r: &ArtifactRetention) -> StoreResult<()> {
    let stmt = tx.prepare_cached("DELETE FROM artifact_retention WHERE tenant = $1").await.map_err(map_err)?;
    tx.execute(&stmt, &[&tenant]).await.map_err(map_err)?;
    let stmt = tx
        .prepare_cached("INSERT INTO artifact_retention (tenant, kind, ttl_ms) VALUES ($1, $2, $3)")
        .await
        .map_err(map_err)?;
    let rows = r.default_ms.map(|d| (String::new(), d)).into_iter().chain(r.kinds.iter().map(|(k, v)| (k.clone(), *v)));
    for (kind, ttl) in rows {
        tx.execute(&stmt, &[&tenant, &kind, &(ttl.min(i64::MAX as u64) as i64)]).await.map_err(map_err)?;
    }
    Ok(())
}

pub(crate) async fn secret_get_or_create(tx: &Tx<'_>, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
    let stmt = tx
        .prepare_cached("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&name, &candidate]).await.map_err(map_err)?;
    let stmt = tx.prepare_cached("SELECT value FROM secrets WHERE name = $1").await.map_err(map_err)?;
    Ok(tx.query_one(&stmt, &[&name]).await.map_err(map_err)?.get(0))
}
