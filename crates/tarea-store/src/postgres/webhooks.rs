//! Webhook subscriptions and the outbox's draining (mirrors `sqlite/webhooks.rs`). Outbox rows
//! are taken with `FOR UPDATE SKIP LOCKED`, so two nodes never deliver one event twice.
use std::collections::HashMap;

use tarea_core::{
    BatchId, JobEvent, JobId, JobSpec, StoreResult, Webhook, WebhookEvent, WebhookId, WebhookSpec, batch_event_data,
    event_body, job_event_data,
};
use tokio_postgres::Row;

use super::rows::{JOB_COLUMNS, job_from_row};
use super::{Tx, batches, jobs, map_err};

const COLUMNS: &str = "id, tenant, url, events, kinds, queues, created_at";

fn from_row(r: &Row) -> Webhook {
    let events: Vec<String> = r.get(3);
    Webhook {
        id: WebhookId(r.get(0)),
        tenant: r.get(1),
        spec: WebhookSpec {
            url: r.get(2),
            events: events.iter().filter_map(|e| e.parse().ok()).collect(),
            kinds: r.get(4),
            queues: r.get(5),
        },
        created_at: r.get(6),
    }
}

pub(crate) async fn create(tx: &Tx<'_>, tenant: &str, spec: WebhookSpec, now: i64) -> StoreResult<Webhook> {
    let hook = Webhook { id: WebhookId::new(), tenant: tenant.to_owned(), spec, created_at: now };
    let events: Vec<&str> = hook.spec.events.iter().map(|e| e.as_str()).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO webhooks (id, tenant, url, events, kinds, queues, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&hook.id.0, &tenant, &hook.spec.url, &events, &hook.spec.kinds, &hook.spec.queues, &now])
        .await
        .map_err(map_err)?;
    Ok(hook)
}

pub(crate) async fn list(tx: &Tx<'_>, tenant: &str) -> StoreResult<Vec<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant = $1 ORDER BY id");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query(&stmt, &[&tenant]).await.map_err(map_err)?.iter().map(from_row).collect())
}

pub(crate) async fn get(tx: &Tx<'_>, tenant: &str, id: WebhookId) -> StoreResult<Option<Webhook>> {
    let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE tenant = $1 AND id = $2");
    let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
    Ok(tx.query_opt(&stmt, &[&tenant, &id.0]).await.map_err(map_err)?.as_ref().map(from_row))
}

pub(crate) async fn delete(tx: &Tx<'_>, tenant: &str, id: WebhookId) -> StoreResult<bool> {
    let stmt = tx.prepare_cached("DELETE FROM webhooks WHERE tenant = $1 AND id = $2").await.map_err(map_err)?;
    Ok(tx.execute(&stmt, &[&tenant, &id.0]).await.map_err(map_err)? > 0)
}

/// Records that a batch finished, if its tenant listens to anything.
pub(crate) async fn batch_done(tx: &Tx<'_>, tenant: &str, id: BatchId, now: i64) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO webhook_outbox (tenant, batch_id, event, at) SELECT $1, $2, 'batch.done', $3 \
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE tenant = $1)",
        )
        .await
        .map_err(map_err)?;
    tx.execute(&stmt, &[&tenant, &id.0, &now]).await.map_err(map_err)?;
    Ok(())
}

/// Turns up to `limit` outbox events into deliveries; answers how many events it handled.
pub(crate) async fn drain(tx: &Tx<'_>, events: &mut Vec<JobEvent>, now: i64, limit: u32) -> StoreResult<u64> {
    let stmt = tx
        .prepare_cached(
            "SELECT seq, tenant, job_id, batch_id, event, at FROM webhook_outbox ORDER BY seq LIMIT $1 \
             FOR UPDATE SKIP LOCKED",
        )
        .await
        .map_err(map_err)?;
    let rows = tx.query(&stmt, &[&i64::from(limit)]).await.map_err(map_err)?;
    let mut hooks: HashMap<String, Vec<Webhook>> = HashMap::new();
    let mut done: Vec<i64> = Vec::with_capacity(rows.len());
    for row in &rows {
        let (seq, tenant, event, at): (i64, String, String, i64) = (row.get(0), row.get(1), row.get(4), row.get(5));
        done.push(seq);
        if !hooks.contains_key(&tenant) {
            hooks.insert(tenant.clone(), list(tx, &tenant).await?);
        }
        let Ok(event) = event.parse::<WebhookEvent>() else { continue };
        let (data, kind, queue) = if let Some(id) = row.get::<_, Option<uuid::Uuid>>(2) {
            let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
            let stmt = tx.prepare_cached(&sql).await.map_err(map_err)?;
            match tx.query_opt(&stmt, &[&id]).await.map_err(map_err)?.as_ref().map(job_from_row).transpose()? {
                Some(j) => (job_event_data(&j), Some(j.kind), Some(j.queue)),
                None => (serde_json::json!({"job": {"id": JobId(id)}}), None, None),
            }
        } else if let Some(id) = row.get::<_, Option<uuid::Uuid>>(3) {
            match batches::get(tx, &tenant, BatchId(id)).await? {
                Some(batch) => (batch_event_data(&batch), None, None),
                None => (serde_json::json!({"batch": {"id": BatchId(id)}}), None, None),
            }
        } else {
            continue;
        };
        let body = event_body(seq, event, at, data);
        let specs: Vec<JobSpec> = hooks[&tenant]
            .iter()
            .filter(|h| h.wants(event, kind.as_deref(), queue.as_deref()))
            .map(|h| h.delivery(event, &body))
            .collect();
        if !specs.is_empty() {
            jobs::enqueue(tx, events, &tenant, specs, now).await?;
        }
    }
    if !done.is_empty() {
        let stmt = tx.prepare_cached("DELETE FROM webhook_outbox WHERE seq = ANY($1)").await.map_err(map_err)?;
        tx.execute(&stmt, &[&done]).await.map_err(map_err)?;
    }
    Ok(rows.len() as u64)
}
