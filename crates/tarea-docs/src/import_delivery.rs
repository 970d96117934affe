//! An import's valid rows handed to the app in chunks: signed POSTs (as `http.request` signs
//! them) whose ids are the import's id and the chunk's number, so a chunk sent again — after a
//! lost answer, a retried job or a second confirmation — is recognisably the same one and the
//! app can ignore it. Each chunk is retried with backoff before the job itself gives up (and,
//! when the job is retried, delivers again from the first chunk with the same ids).
//!
//! A chunk's body: `{"import": "<id>", "chunk": {"id": "<id>:3", "index": 3, "rows": 500,
//! "last": false}, "total_rows": 12000, "total_chunks": 24, "rows": [{"_row": 1502, …}, …]}`.
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tarea_core::{HandlerError, JobContext, PayloadError};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::HttpRequest;

/// Most rows a chunk may hold.
pub const CHUNK_ROWS_MAX: usize = 10_000;
/// Tries of one chunk before the job's own retry takes over.
const TRIES: u32 = 5;

/// Where and how the rows go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Delivery {
    /// The app's endpoint (it must be in the tenant's `http` allow-list).
    pub(crate) url: String,
    /// Rows a chunk.
    #[serde(default = "chunk_rows")]
    pub(crate) chunk_rows: usize,
    /// How long one POST may take.
    #[serde(default)]
    pub(crate) timeout_ms: Option<u64>,
}

fn chunk_rows() -> usize {
    500
}

impl Delivery {
    pub(crate) fn checked(self) -> Result<Self, PayloadError> {
        if !(1..=CHUNK_ROWS_MAX).contains(&self.chunk_rows) {
            return Err(PayloadError::new("deliver.chunk_rows", format!("must be 1 to {CHUNK_ROWS_MAX}")));
        }
        if let Some(t) = self.timeout_ms
            && !(1..=crate::http_request::TIMEOUT_MS_MAX).contains(&t)
        {
            return Err(PayloadError::new("deliver.timeout_ms", "must be 1 to 300000"));
        }
        Ok(self)
    }
}

/// Sends the NDJSON rows read from `rows` (`total` of them) in chunks; answers the delivery's
/// part of the job's result.
pub(crate) async fn deliver<R: AsyncBufRead + Unpin>(
    http: &HttpRequest,
    ctx: &JobContext,
    import: &str,
    d: &Delivery,
    mut rows: R,
    total: u64,
) -> Result<Value, HandlerError> {
    let chunks = total.div_ceil(d.chunk_rows as u64);
    let timeout = d.timeout_ms.map_or(crate::import_sheet::CHUNK_TIMEOUT, Duration::from_millis);
    let mut line = String::new();
    let mut sent = 0u64;
    for index in 0..chunks {
        crate::step(ctx, "Entregando filas", index, Some(chunks))?;
        let mut body = String::with_capacity(d.chunk_rows * 128);
        let mut n = 0;
        while n < d.chunk_rows {
            line.clear();
            let read = rows.read_line(&mut line).await.map_err(|e| {
                HandlerError::retryable("rows_unreadable", format!("the valid rows could not be read: {e}"))
            })?;
            if read == 0 {
                break;
            }
            let row = line.trim_end();
            if row.is_empty() {
                continue;
            }
            body.push(if n == 0 { '[' } else { ',' });
            body.push_str(row);
            n += 1;
        }
        if n == 0 {
            body.push('[');
        }
        body.push(']');
        let id = format!("{import}:{index}");
        let last = index + 1 == chunks;
        let head = json!({
            "import": import,
            "chunk": {"id": id, "index": index, "rows": n, "last": last},
            "total_rows": total,
            "total_chunks": chunks,
        })
        .to_string();
        // `{…head…, "rows": [...]}` without parsing the rows again.
        let payload = format!("{},\"rows\":{body}}}", &head[..head.len() - 1]);
        send(http, ctx, &d.url, payload.into_bytes(), &id, timeout).await?;
        sent += n as u64;
    }
    crate::step(ctx, "Entregando filas", chunks, Some(chunks))?;
    Ok(json!({"url": d.url, "chunks": chunks, "rows": sent}))
}

/// One chunk, tried up to [`TRIES`] times with backoff (0.5 s, 1 s, 2 s, 4 s) on retryable
/// failures.
async fn send(
    http: &HttpRequest,
    ctx: &JobContext,
    url: &str,
    body: Vec<u8>,
    id: &str,
    timeout: Duration,
) -> Result<(), HandlerError> {
    let mut wait = Duration::from_millis(500);
    for attempt in 1..=TRIES {
        match http.post_signed(ctx, url, body.clone(), id, timeout).await {
            Ok(()) => return Ok(()),
            Err(HandlerError::Retryable(e)) if attempt < TRIES => {
                tracing::debug!(chunk = id, attempt, error = %e.message, "chunk delivery failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.cancel.cancelled() => return Err(HandlerError::Cancelled),
                }
                wait *= 2;
            }
            Err(HandlerError::Retryable(mut e)) => {
                e.message = format!("chunk {id} was not accepted after {TRIES} tries: {}", e.message);
                return Err(HandlerError::Retryable(e));
            }
            Err(HandlerError::Fatal(mut e)) => {
                e.message = format!("chunk {id} was refused: {}", e.message);
                return Err(HandlerError::Fatal(e));
            }
            Err(other) => return Err(other),
        }
    }
    unreachable!("the last try returns")
}
