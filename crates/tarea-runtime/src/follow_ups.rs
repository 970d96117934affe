//! The follow-up service: the leader makes the jobs that other jobs' endings call for — the
//! `then` job of a chain whose parent succeeded, and the `on_complete` job of a batch whose
//! items have all ended (see `tarea_core::batch`).
//!
//! It runs when a job ends (the hub's `ended` signal, which also carries other nodes' events on
//! PostgreSQL) and at least every second. Under a stream of completions it looks at most every
//! `MIN_GAP`, so thousands of completions a second cost it a few store calls, not thousands.
use std::sync::Arc;
use std::time::Duration;

use tarea_core::{Store, limits};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::until_leader;
use crate::{EventHub, now_ms};

/// Longest the service sleeps without looking.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Shortest time between two looks.
const MIN_GAP: Duration = Duration::from_millis(20);

/// Makes due follow-ups while this node leads.
pub(crate) async fn follow_ups(
    store: Arc<dyn Store>,
    hub: Arc<EventHub>,
    mut leader: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut ended = hub.ended();
    loop {
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        ended.borrow_and_update();
        let more = match store.job_follow_up(now_ms(), limits::FOLLOW_UPS_MAX).await {
            Ok(done) => {
                if done.chained > 0 || done.batches > 0 {
                    tracing::debug!(chained = done.chained, batches = done.batches, "made follow-up jobs");
                }
                done.more
            }
            Err(e) => {
                tracing::warn!(error = %e, "making follow-up jobs failed");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ended.changed() => {}
            _ = tokio::time::sleep(MAX_SLEEP) => {}
        }
        tokio::time::sleep(MIN_GAP).await;
    }
}
