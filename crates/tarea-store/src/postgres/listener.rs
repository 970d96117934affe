//! Events across nodes. After a transaction that changed jobs commits, its events go to the
//! notifier, which sends them with `NOTIFY` in a compact form — everything committed meanwhile
//! in one statement; every node `LISTEN`s and feeds what other nodes did into its own event
//! hub, so a job enqueued on one node wakes an idle worker on any node at once, and a live
//! stream on one node follows a job run on another.
//!
//! Why after the commit and not inside the transaction: a `NOTIFY` in a transaction takes a
//! database-wide lock at commit, which serialised every committing transaction of the cluster
//! (measured as `COMMIT` waiting on a lock during the drain), and it added a statement to every
//! write. Sent afterwards and batched, a busy node sends a few hundred per second instead of
//! one per transaction. A node that dies between its commit and its `NOTIFY` loses only the
//! hint: the other nodes find the work at their next poll.
//!
//! A notification can be missed (the listening connection drops): on every reconnect, and every
//! few seconds anyway, the listener wakes everything that waits for work, which then looks in
//! the database — the poll fallback.
use std::sync::Arc;
use std::time::Duration;

use tarea_core::{EventKind, EventSink, JobEvent, JobId, JobState};
use tokio_postgres::{AsyncMessage, NoTls};

use super::migrations::quote_ident;

/// PostgreSQL refuses payloads of 8000 bytes or more; a chunk stays well below.
const CHUNK_BYTES: usize = 7000;

/// How often waiters are woken even without a notification.
const POLL_EVERY: Duration = Duration::from_secs(2);

fn code(change: EventKind) -> i64 {
    match change {
        EventKind::State(s) => s.code(),
        EventKind::Progress => -1,
    }
}

/// The payloads that carry `events` from node `node`.
pub(crate) fn encode(node: &str, events: &[JobEvent]) -> Vec<String> {
    let head = serde_json::json!(node).to_string();
    let mut out = Vec::new();
    let mut body = String::new();
    for e in events {
        let item = serde_json::json!([
            e.id.0.to_string(),
            e.tenant,
            e.queue,
            e.kind,
            e.builtin as i32,
            e.attempt,
            code(e.change)
        ])
        .to_string();
        if !body.is_empty() && body.len() + item.len() + head.len() + 16 > CHUNK_BYTES {
            out.push(format!("{{\"n\":{head},\"e\":[{body}]}}"));
            body.clear();
        }
        if !body.is_empty() {
            body.push(',');
        }
        body.push_str(&item);
    }
    if !body.is_empty() {
        out.push(format!("{{\"n\":{head},\"e\":[{body}]}}"));
    }
    out
}

#[derive(serde::Deserialize)]
struct Payload {
    n: String,
    e: Vec<(String, String, String, String, i32, u32, i64)>,
}

/// The sending node and the events of a payload; `None` if it is not one of ours.
pub(crate) fn decode(payload: &str) -> Option<(String, Vec<JobEvent>)> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    let events = p
        .e
        .into_iter()
        .filter_map(|(id, tenant, queue, kind, builtin, attempt, code)| {
            let change = if code < 0 { EventKind::Progress } else { EventKind::State(JobState::from_code(code)?) };
            Some(JobEvent { id: JobId(id.parse().ok()?), tenant, queue, kind, builtin: builtin != 0, attempt, change })
        })
        .collect();
    Some((p.n, events))
}

/// Sends the events it receives as notifications, everything that queued up meanwhile at once,
/// until the store is dropped.
pub(crate) async fn notify(
    pool: deadpool_postgres::Pool,
    channel: String,
    node: String,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Vec<JobEvent>>,
) {
    while let Some(first) = events.recv().await {
        let mut batch = first;
        while batch.len() < 10_000
            && let Ok(more) = events.try_recv()
        {
            batch.extend(more);
        }
        let payloads = encode(&node, &batch);
        let sent = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client
                .execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", &[&channel, &payloads])
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(e) = sent {
            // Only a hint is lost: other nodes poll every POLL_EVERY.
            tracing::debug!(error = %e, events = batch.len(), "could not notify the other nodes");
        }
    }
}

/// Listens until the task is aborted, reconnecting with backoff.
pub(crate) async fn run(config: tokio_postgres::Config, channel: String, node: String, sink: Arc<dyn EventSink>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the PostgreSQL listener's connection failed");
                                break;
                            }
                        }
                    }
                });
                if let Err(e) = client.batch_execute(&format!("LISTEN {}", quote_ident(&channel))).await {
                    tracing::warn!(error = %e, retry_in = ?backoff, "LISTEN failed");
                    driver.abort();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
                backoff = Duration::from_millis(100);
                // Whatever was committed while nobody listened is found by looking.
                sink.wake_all();
                // An interval, not a sleep made anew each pass: steady notifications must not
                // keep postponing the poll.
                let mut poll = tokio::time::interval(POLL_EVERY);
                poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                poll.tick().await;
                loop {
                    tokio::select! {
                        n = rx.recv() => match n {
                            Some(n) => {
                                if let Some((from, events)) = decode(n.payload())
                                    && from != node
                                    && !events.is_empty()
                                {
                                    sink.publish_remote(events);
                                }
                            }
                            None => break,
                        },
                        _ = poll.tick() => sink.wake_all(),
                    }
                }
                driver.abort();
                tracing::warn!("lost the PostgreSQL listener; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot connect the PostgreSQL listener");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32, change: EventKind) -> JobEvent {
        JobEvent {
            id: JobId::new(),
            tenant: format!("tenant-{i}"),
            queue: "default".into(),
            kind: "pdf.render".into(),
            builtin: i.is_multiple_of(2),
            attempt: i,
            change,
        }
    }

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let events: Vec<JobEvent> = (0..500)
            .map(|i| {
                event(i, if i.is_multiple_of(3) { EventKind::Progress } else { EventKind::State(JobState::Running) })
            })
            .collect();
        let payloads = encode("node-1", &events);
        assert!(payloads.len() > 1, "500 events need several notifications");
        let mut back = Vec::new();
        for p in &payloads {
            assert!(p.len() < 8000, "payload of {} bytes", p.len());
            let (node, evs) = decode(p).expect("decodes");
            assert_eq!(node, "node-1");
            back.extend(evs);
        }
        assert_eq!(back, events);
    }

    #[test]
    fn foreign_payloads_are_ignored() {
        assert!(decode("hello").is_none());
        assert!(decode(r#"{"n":"x","e":[["not-a-uuid","t","q","k",0,0,1]]}"#).unwrap().1.is_empty());
    }
}
