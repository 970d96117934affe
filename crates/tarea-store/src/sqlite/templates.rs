//! Tenants' templates, versioned (mirrors `postgres/templates.rs`).
use rusqlite::{Connection, OptionalExtension, Row, params};
use tarea_core::{Job, JobId, StoreResult, TemplateSummary, TemplateVersion};

use super::map_err;
use super::rows::{JOB_COLUMNS, job_from_row};

const COLUMNS: &str = "tenant, name, version, source, assets, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<TemplateVersion> {
    Ok(TemplateVersion {
        tenant: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        source: r.get(3)?,
        assets: r.get(4)?,
        created_at: r.get(5)?,
    })
}

/// Stores the next version; the writer runs one transaction at a time, so two uploads never
/// take the same number.
pub(crate) fn put(
    conn: &Connection,
    tenant: &str,
    name: &str,
    source: &str,
    assets: &[u8],
    now: i64,
) -> StoreResult<TemplateVersion> {
    let next: u32 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM templates WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get(0)))
        .map_err(map_err)?;
    conn.prepare_cached(
        "INSERT INTO templates (tenant, name, version, source, assets, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![tenant, name, next, source, assets, now]))
    .map_err(map_err)?;
    Ok(TemplateVersion {
        tenant: tenant.into(),
        name: name.into(),
        version: next,
        source: source.into(),
        assets: assets.to_vec(),
        created_at: now,
    })
}

pub(crate) fn get(
    conn: &Connection,
    tenant: &str,
    name: &str,
    version: Option<u32>,
) -> StoreResult<Option<TemplateVersion>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM templates WHERE tenant = ?1 AND name = ?2 AND deleted_at IS NULL \
         AND (?3 IS NULL OR version = ?3) ORDER BY version DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant, name, version], from_row).optional())
        .map_err(map_err)
}

pub(crate) fn latest(conn: &Connection, tenant: &str, name: &str) -> StoreResult<Option<u32>> {
    conn.prepare_cached("SELECT MAX(version) FROM templates WHERE tenant = ?1 AND name = ?2 AND deleted_at IS NULL")
        .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get(0)))
        .map_err(map_err)
}

/// Jobs whose live artifacts came from an older version of the template.
pub(crate) fn stale_jobs(
    conn: &Connection,
    tenant: &str,
    name: &str,
    below: u32,
    now: i64,
    after: Option<JobId>,
    limit: u32,
) -> StoreResult<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = ?1 AND id IN ( \
           SELECT job_id FROM artifacts WHERE tenant = ?1 AND job_id IS NOT NULL \
           AND json_extract(provenance, '$.template') = ?2 AND json_extract(provenance, '$.version') < ?3 \
           AND (expires_at IS NULL OR expires_at > ?4)) \
         AND (?5 IS NULL OR id > ?5) ORDER BY id LIMIT ?6"
    );
    let after = after.map(|a| a.as_bytes().to_vec());
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt.query_map(params![tenant, name, below, now, after, limit], job_from_row).map_err(map_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
}

pub(crate) fn list(conn: &Connection, tenant: &str) -> StoreResult<Vec<TemplateSummary>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, MAX(version), COUNT(*), MAX(created_at) FROM templates \
             WHERE tenant = ?1 AND deleted_at IS NULL GROUP BY name ORDER BY name",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params![tenant], |r| {
            Ok(TemplateSummary { name: r.get(0)?, latest: r.get(1)?, versions: r.get(2)?, updated_at: r.get(3)? })
        })
        .map_err(map_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
}

pub(crate) fn delete(conn: &Connection, tenant: &str, name: &str, now: i64) -> StoreResult<u64> {
    conn.prepare_cached("UPDATE templates SET deleted_at = ?3 WHERE tenant = ?1 AND name = ?2 AND deleted_at IS NULL")
        .and_then(|mut s| s.execute(params![tenant, name, now]))
        .map(|n| n as u64)
        .map_err(map_err)
}
