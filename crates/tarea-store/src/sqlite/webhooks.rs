//! Webhook subscriptions and the outbox's draining (mirrors `postgres/webhooks.rs`).
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use tarea_core::{
    BatchId, JobId, JobSpec, StoreError, StoreResult, Webhook, WebhookEvent, WebhookId, WebhookSpec, batch_event_data,
    event_body, job_event_data,
};

use super::rows::{JOB_COLUMNS, job_from_row};
use super::writer::Batch;
use super::{batches, jobs, map_err};

const COLUMNS: &str = "id, tenant, url, events, kinds, queues, created_at";

fn list_of<T: serde::de::DeserializeOwned>(text: String) -> rusqlite::Result<Vec<T>> {
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: Vec<String> = list_of(r.get(3)?)?;
    Ok(Webhook {
        id: WebhookId::from_bytes(r.get(0)?),
        tenant: r.get(1)?,
        spec: WebhookSpec {
            url: r.get(2)?,
            events: events.iter().filter_map(|e| e.parse().ok()).collect(),
            kinds: list_of(r.get(4)?)?,
            queues: list_of(r.get(5)?)?,
        },
        created_at: r.get(6)?,
    })
}

fn text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

pub(crate) fn create(conn: &Connection, tenant: &str, spec: WebhookSpec, now: i64) -> StoreResult<Webhook> {
    let hook = Webhook { id: WebhookId::new(), tenant: tenant.to_owned(), spec, created_at: now };
    let events: Vec<&str> = hook.spec.events.iter().map(|e| e.as_str()).collect();
    conn.prepare_cached(
        "INSERT INTO webhooks (id, tenant, url, events, kinds, queues, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            hook.id.as_bytes(),
            tenant,
            hook.spec.url,
            text(&events).unwrap_or_default(),
            text(&hook.spec.kinds).unwrap_or_default(),
            text(&hook.spec.queues).unwrap_or_default(),
            now
        ])
    })
    .map_err(map_err)?;
    Ok(hook)
}

pub(crate) fn list(conn: &Connection, tenant: &str) -> StoreResult<Vec<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant = ?1 ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt.query_map(params![tenant], from_row).map_err(map_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
}

pub(crate) fn get(conn: &Connection, tenant: &str, id: WebhookId) -> StoreResult<Option<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant = ?1 AND id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![tenant, id.as_bytes()], from_row).optional())
        .map_err(map_err)
}

pub(crate) fn delete(conn: &Connection, tenant: &str, id: WebhookId) -> StoreResult<bool> {
    conn.prepare_cached("DELETE FROM webhooks WHERE tenant = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![tenant, id.as_bytes()]))
        .map(|n| n > 0)
        .map_err(map_err)
}

/// Records that a batch finished, if its tenant listens to anything.
pub(crate) fn batch_done(conn: &Connection, tenant: &str, id: BatchId, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_outbox (tenant, batch_id, event, at) SELECT ?1, ?2, 'batch.done', ?3 \
         WHERE EXISTS (SELECT 1 FROM webhooks WHERE tenant = ?1)",
    )
    .and_then(|mut s| s.execute(params![tenant, id.as_bytes(), now]))
    .map_err(map_err)?;
    Ok(())
}

type OutboxRow = (i64, String, Option<[u8; 16]>, Option<[u8; 16]>, String, i64);

/// Turns up to `limit` outbox events into deliveries; answers how many events it handled.
pub(crate) fn drain(b: &mut Batch<'_>, now: i64, limit: u32) -> StoreResult<u64> {
    let rows: Vec<OutboxRow> = {
        let mut stmt = b
            .conn
            .prepare_cached("SELECT seq, tenant, job_id, batch_id, event, at FROM webhook_outbox ORDER BY seq LIMIT ?1")
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)?
    };
    let mut hooks: HashMap<String, Vec<Webhook>> = HashMap::new();
    for (seq, tenant, job_id, batch_id, event, at) in &rows {
        if !hooks.contains_key(tenant) {
            hooks.insert(tenant.clone(), list(b.conn, tenant)?);
        }
        let Ok(event) = event.parse::<WebhookEvent>() else { continue };
        let (data, kind, queue) = if let Some(id) = job_id {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
            let job = b
                .conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.query_row(params![&id[..]], job_from_row).optional())
                .map_err(map_err)?;
            match job {
                Some(j) => (job_event_data(&j), Some(j.kind), Some(j.queue)),
                None => (serde_json::json!({"job": {"id": JobId::from_bytes(*id)}}), None, None),
            }
        } else if let Some(id) = batch_id {
            match batches::get(b.conn, tenant, BatchId::from_bytes(*id))? {
                Some(batch) => (batch_event_data(&batch), None, None),
                None => (serde_json::json!({"batch": {"id": BatchId::from_bytes(*id)}}), None, None),
            }
        } else {
            continue;
        };
        let body = event_body(*seq, event, *at, data);
        let specs: Vec<JobSpec> = hooks[tenant]
            .iter()
            .filter(|h| h.wants(event, kind.as_deref(), queue.as_deref()))
            .map(|h| h.delivery(event, &body))
            .collect();
        if !specs.is_empty() {
            jobs::enqueue(b, tenant, specs, now)?;
        }
    }
    if let Some((last, ..)) = rows.last() {
        b.conn
            .prepare_cached("DELETE FROM webhook_outbox WHERE seq <= ?1")
            .and_then(|mut s| s.execute(params![last]))
            .map_err(map_err)?;
    }
    Ok(rows.len() as u64)
}
