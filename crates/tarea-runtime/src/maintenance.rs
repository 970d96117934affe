//! Keeping the store tidy: the promoter moves due jobs to `queued` exactly when they fall due,
//! the reaper gives expired leases back, the retention cleaner deletes old finished jobs, and
//! the statistics duty counts finished work per minute.
//! Only the node that holds the leadership runs them (on SQLite, the one process).
use std::sync::Arc;
use std::time::Duration;

use tarea_core::{Retention, Store};
use tokio_util::sync::CancellationToken;

use tokio::sync::watch;

use crate::cluster::until_leader;
use crate::{EventHub, now_ms};

/// Settings of the maintenance services.
#[derive(Clone, Debug)]
pub struct MaintenanceConfig {
    /// How often the reaper looks for expired leases.
    pub reap_every: Duration,
    /// How often the retention cleaner runs.
    pub clean_every: Duration,
    /// Default retention.
    pub retention: Retention,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            reap_every: Duration::from_secs(1),
            clean_every: Duration::from_secs(60),
            retention: Retention { succeeded_ms: 7 * 86_400_000, dead_ms: 30 * 86_400_000 },
        }
    }
}

/// Longest the promoter sleeps without looking, in case a wake-up was missed.
const PROMOTER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// Promotes due jobs, sleeping until the next one falls due or a new delayed job arrives.
pub(crate) async fn promoter(
    store: Arc<dyn Store>,
    hub: Arc<EventHub>,
    mut leader: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut delayed = hub.delayed();
    loop {
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        delayed.borrow_and_update();
        let now = now_ms();
        let sleep = match store.job_promote_due(now).await {
            Ok((_, Some(next))) if next <= now => Duration::ZERO,
            Ok((_, Some(next))) => Duration::from_millis((next - now) as u64).min(PROMOTER_MAX_SLEEP),
            Ok((_, None)) => PROMOTER_MAX_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "promoting due jobs failed");
                PROMOTER_MAX_SLEEP
            }
        };
        if sleep.is_zero() {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = delayed.changed() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Gives back expired leases.
pub(crate) async fn reaper(
    store: Arc<dyn Store>,
    every: Duration,
    mut leader: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        match store.lease_reap_expired(now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "gave back jobs whose lease expired"),
            Err(e) => tracing::warn!(error = %e, "reaping expired leases failed"),
        }
    }
}

/// How often the leader counts the minutes that ended (see `Store::stats_rollup`).
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Counts finished work per minute for the dashboard's charts.
pub(crate) async fn statistics(store: Arc<dyn Store>, mut leader: watch::Receiver<bool>, stop: CancellationToken) {
    loop {
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        // A new store catches up on the days it keeps, an hour of minutes per call.
        loop {
            match store.stats_rollup(now_ms()).await {
                Ok(0) => break,
                Ok(_) if stop.is_cancelled() => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "counting finished work failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(STATS_EVERY) => {}
        }
    }
}

/// Deletes finished jobs past their retention, in chunks.
pub(crate) async fn cleaner(
    store: Arc<dyn Store>,
    config: MaintenanceConfig,
    artifacts: Option<crate::Artifacts>,
    mut leader: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    const CHUNK: u32 = 1000;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(config.clean_every) => {}
        }
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        let jobs = in_chunks(CHUNK, &stop, "retention cleanup", || {
            store.job_delete_expired(now_ms(), config.retention, CHUNK)
        })
        .await;
        if jobs > 0 {
            tracing::info!(jobs, "deleted finished jobs past their retention");
        }
        if let Some(a) = &artifacts {
            let n =
                in_chunks(CHUNK, &stop, "artifact cleanup", || a.clean_expired(store.as_ref(), now_ms(), CHUNK)).await;
            if n > 0 {
                tracing::info!(artifacts = n, "deleted artifacts past their retention");
            }
        }
    }
}

/// Runs `delete` (which deletes up to `chunk` rows) until it deletes fewer, an error stops it
/// (logged as `what` failed), or the service stops; answers the rows deleted.
async fn in_chunks<F, Fut, E>(chunk: u32, stop: &CancellationToken, what: &str, mut delete: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let mut total = 0;
    loop {
        match delete().await {
            Ok(n) => {
                total += n;
                if n < u64::from(chunk) || stop.is_cancelled() {
                    return total;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "{what} failed");
                return total;
            }
        }
    }
}
