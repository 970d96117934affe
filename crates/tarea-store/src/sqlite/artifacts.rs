//! Artifact metadata, tenants' artifact retention and server secrets. The bytes live in the
//! artifact store; a row here is written only once they are stored.
use rusqlite::{Connection, OptionalExtension, Row, params};
use tarea_core::{Artifact, ArtifactId, ArtifactRetention, JobId, JobState, StoreError, StoreResult};

use super::map_err;

const COLUMNS: &str = "id, tenant, job_id, kind, filename, content_type, size, sha256, cache_key, provenance, \
                       created_at, expires_at, download_count";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Artifact> {
    let provenance: Option<String> = r.get(9)?;
    Ok(Artifact {
        id: ArtifactId::from_bytes(r.get(0)?),
        tenant: r.get(1)?,
        job_id: r.get::<_, Option<[u8; 16]>>(2)?.map(JobId::from_bytes),
        kind: r.get(3)?,
        filename: r.get(4)?,
        content_type: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        sha256: r.get(7)?,
        cache_key: r.get(8)?,
        provenance: provenance.and_then(|p| serde_json::from_str(&p).ok()),
        created_at: r.get(10)?,
        expires_at: r.get(11)?,
        download_count: r.get::<_, i64>(12)? as u64,
    })
}

/// The fenced insert of `Store::artifact_insert`.
pub(crate) fn insert(
    conn: &Connection,
    mut a: Artifact,
    attempt: Option<u32>,
    default_ttl_ms: Option<u64>,
) -> StoreResult<Artifact> {
    if let Some(job) = a.job_id {
        type JobRow = (i64, u32, String, Option<String>);
        let row: Option<JobRow> = conn
            .prepare_cached("SELECT state, attempt, kind, cache_key FROM jobs WHERE id = ?1 AND tenant = ?2")
            .and_then(|mut s| {
                s.query_row(params![job.as_bytes(), a.tenant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()
            })
            .map_err(map_err)?;
        let (state, current, kind, cache_key) = row.ok_or(StoreError::NotFound)?;
        let state = JobState::from_code(state).unwrap_or(JobState::Dead);
        let attempt = attempt.unwrap_or(0);
        if state != JobState::Running || current != attempt {
            return Err(StoreError::StaleAttempt { attempt, current, state });
        }
        a.kind = kind;
        a.cache_key = cache_key;
    }
    if a.expires_at.is_none() {
        let ttl = retention_get(conn, &a.tenant)?.ttl_ms(&a.kind).or(default_ttl_ms);
        a.expires_at = ttl.map(|t| a.created_at.saturating_add(t.min(i64::MAX as u64) as i64));
    }
    let provenance = a.provenance.as_ref().map(|p| p.to_string());
    conn.prepare_cached(&format!(
        "INSERT INTO artifacts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            a.id.as_bytes(),
            a.tenant,
            a.job_id.map(|j| *j.as_bytes()),
            a.kind,
            a.filename,
            a.content_type,
            a.size as i64,
            a.sha256,
            a.cache_key,
            provenance,
            a.created_at,
            a.expires_at,
            a.download_count as i64,
        ])
    })
    .map_err(map_err)?;
    Ok(a)
}

pub(crate) fn get(conn: &Connection, tenant: Option<&str>, id: ArtifactId) -> StoreResult<Option<Artifact>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM artifacts WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"))
        .and_then(|mut s| s.query_row(params![id.as_bytes(), tenant], from_row).optional())
        .map_err(map_err)
}

/// Most jobs whose artifacts are looked up on the caller's thread (see `Readers::read_now`):
/// each is one probe of `artifacts_job`, a few microseconds.
pub(crate) const PROBES_NOW: usize = 8;

pub(crate) fn list_for_jobs(conn: &Connection, tenant: &str, jobs: &[JobId]) -> StoreResult<Vec<Artifact>> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM artifacts WHERE job_id = ?1 AND tenant = ?2 ORDER BY id"))
        .map_err(map_err)?;
    for job in jobs {
        let rows = stmt.query_map(params![job.as_bytes(), tenant], from_row).map_err(map_err)?;
        for a in rows {
            out.push(a.map_err(map_err)?);
        }
    }
    Ok(out)
}

/// A page of a tenant's artifacts, newest first (ids are UUIDv7).
pub(crate) fn list(
    conn: &Connection,
    tenant: &str,
    before: Option<ArtifactId>,
    limit: u32,
) -> StoreResult<Vec<Artifact>> {
    let before = before.map(|b| b.as_bytes().to_vec());
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM artifacts WHERE tenant = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
        ))
        .map_err(map_err)?;
    let rows = stmt.query_map(params![tenant, before, limit], from_row).map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}

pub(crate) fn downloaded(conn: &Connection, id: ArtifactId) -> StoreResult<()> {
    conn.prepare_cached("UPDATE artifacts SET download_count = download_count + 1 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id.as_bytes()]))
        .map_err(map_err)?;
    Ok(())
}

pub(crate) fn expired(conn: &Connection, now: i64, limit: u32) -> StoreResult<Vec<Artifact>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM artifacts WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"))
        .and_then(|mut s| s.query_map(params![now, limit], from_row)?.collect::<Result<Vec<_>, _>>())
        .map_err(map_err)
}

pub(crate) fn delete(conn: &Connection, ids: &[ArtifactId]) -> StoreResult<u64> {
    let mut stmt = conn.prepare_cached("DELETE FROM artifacts WHERE id = ?1").map_err(map_err)?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute(params![id.as_bytes()]).map_err(map_err)? as u64;
    }
    Ok(n)
}

pub(crate) fn retention_get(conn: &Connection, tenant: &str) -> StoreResult<ArtifactRetention> {
    let mut r = ArtifactRetention::default();
    let mut stmt =
        conn.prepare_cached("SELECT kind, ttl_ms FROM artifact_retention WHERE tenant = ?1").map_err(map_err)?;
    let rows = stmt
        .query_map(params![tenant], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))
        .map_err(map_err)?;
    for row in rows {
        let (kind, ttl) = row.map_err(map_err)?;
        if kind.is_empty() {
            r.default_ms = Some(ttl as u64);
        } else {
            r.kinds.insert(kind, ttl as u64);
        }
    }
    Ok(r)
}

pub(crate) fn retention_set(conn: &Connection, tenant: &str, r: &ArtifactRetention) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM artifact_retention WHERE tenant = ?1")
        .and_then(|mut s| s.execute(params![tenant]))
        .map_err(map_err)?;
    let mut stmt = conn
        .prepare_cached("INSERT INTO artifact_retention (tenant, kind, ttl_ms) VALUES (?1, ?2, ?3)")
        .map_err(map_err)?;
    let rows = r.default_ms.map(|d| (String::new(), d)).into_iter().chain(r.kinds.iter().map(|(k, v)| (k.clone(), *v)));
    for (kind, ttl) in rows {
        stmt.execute(params![tenant, kind, ttl.min(i64::MAX as u64) as i64]).map_err(map_err)?;
    }
    Ok(())
}

pub(crate) fn secret_get_or_create(conn: &Connection, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
    conn.prepare_cached("INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
        .and_then(|mut s| s.execute(params![name, candidate]))
        .map_err(map_err)?;
    conn.prepare_cached("SELECT value FROM secrets WHERE name = ?1")
        .and_then(|mut s| s.query_row(params![name], |r| r.get(0)))
        .map_err(map_err)
}
