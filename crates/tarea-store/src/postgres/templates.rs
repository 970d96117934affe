//! Tenants' templates, versioned (mirrors `sqlite/templates.rs`).
use tarea_core::{Job, JobId, StoreResult, TemplateSummary, TemplateVersion};
use tokio_postgres::Row;

use super::rows::{JOB_COLUMNS, jobs_from_rows};
use super::{Tx, map_err};

const COLUMNS: &str = "tenant, name, version, source, assets, created_at";

fn from_row(r: &Row) -> TemplateVersion {
    TemplateVersion {
        tenant: r.get(0),
        name: r.get(1),
        version: r.get::<_, i32>(2) as u32,
        source: r.get(3),
        assets: r.get(4),
        created_at: r.get(5),
    }
}

/// Stores the next version. An advisory lock on the template's name makes two nodes' uploads
/// take turns, so they never take the same number.
pub(crate) async fn put(
    tx: &Tx<'_>,
    tenant: &str,
    name: &str,
    source: &str,
    assets: &[u8],
    now: i64,
) -> StoreResult<TemplateVersion> {
    let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").await.map_err(map_err)?;
    tx.execute(&lock, &[&format!("tarea-template\u{1f}{tenant}\u{1f}{name}")]).await.map_err(map_err)?;
    let next = tx
        .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM templates WHERE tenant = $1 AND name = $2")
        .await
        .map_err(map_err)?;
    let next: i32 = tx.query_one(&next, &[&tenant, &name]).await.map_err(map_err)?.get(0);
    let insert = tx
        .prepare_cached(
            "INSERT INTO templates (tenant, name, version, source, assets, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&insert, &[&tenant, &name, &next, &source, &assets, &now]).await.map_err(map_err)?;
    Ok(TemplateVersion {
        tenant: tenant.into(),
        name: name.into(),
        version: next as u32,
        source: source.into(),
        assets: assets.to_vec(),
        created_at: now,
    })
}

pub(crate) async fn get(
    tx: &Tx<'_>,
    tenant: &str,
    name: &str,
    version: Option<u32>,
) -> StoreResult<Option<TemplateVersion>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM templates WHERE tenant = $1 AND name = $2 AND deleted_at IS NULL \
         AND ($3::integer IS NULL OR version = $3) ORDER BY version DESC LIMIT 1"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let version = version.map(|v| v as i32);
    let row = tx.query_opt(&stmt, &[&tenant, &name, &version]).await.map_err(map_err)?;
    Ok(row.as_ref().map(from_row))
}

pub(crate) async fn latest(tx: &Tx<'_>, tenant: &str, name: &str) -> StoreResult<Option<u32>> {
    let stmt = tx
        .prepare_cached("SELECT MAX(version) FROM templates WHERE tenant = $1 AND name = $2 AND deleted_at IS NULL")
        .await
        .map_err(map_err)?;
    let v: Option<i32> = tx.query_one(&stmt, &[&tenant, &name]).await.map_err(map_err)?.get(0);
    Ok(v.map(|v| v as u32))
}

/// Jobs whose live artifacts came from an older version of the template.
pub(crate) async fn stale_jobs(
    tx: &Tx<'_>,
    tenant: &str,
    name: &str,
    below: u32,
    now: i64,
    after: Option<JobId>,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE jobs.tenant = $1 AND jobs.id IN ( \
           SELECT job_id FROM artifacts WHERE tenant = $1 AND job_id IS NOT NULL \
           AND provenance->>'template' = $2 AND (provenance->>'version')::bigint < $3 \
           AND (expires_at IS NULL OR expires_at > $4)) \
         AND ($5::uuid IS NULL OR jobs.id > $5) ORDER BY jobs.id LIMIT $6"
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    let after: Option<uuid::Uuid> = after.map(|a| a.0);
    let rows = tx
        .query(&stmt, &[&tenant, &name, &i64::from(below), &now, &after, &i64::from(limit)])
        .await
        .map_err(map_err)?;
    jobs_from_rows(&rows)
}

pub(crate) async fn list(tx: &Tx<'_>, tenant: &str) -> StoreResult<Vec<TemplateSummary>> {
    let stmt = tx
        .prepare_cached(
            "SELECT name, MAX(version), COUNT(*), MAX(created_at) FROM templates \
             WHERE tenant = $1 AND deleted_at IS NULL GROUP BY name ORDER BY name",
        )
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&tenant]).await.map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| TemplateSummary {
            name: r.get(0),
            latest: r.get::<_, i32>(1) as u32,
            versions: r.get::<_, i64>(2) as u32,
            updated_at: r.get(3),
        })
        .collect())
}

pub(crate) async fn delete(tx: &Tx<'_>, tenant: &str, name: &str, now: i64) -> StoreResult<u64> {
    let stmt = tx
        .prepare_cached("UPDATE templates SET deleted_at = $3 WHERE tenant = $1 AND name = $2 AND deleted_at IS NULL")
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&tenant, &name, &now]).await.map_err(map_err)
}
