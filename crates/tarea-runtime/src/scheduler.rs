//! The scheduler: the leader fires due schedules, each tick making one job (the store's
//! `schedule_fire_due` is one transaction that moves the schedule on only from the tick it
//! read, so a leader that lost its lease mid-call still cannot make a tick's job twice).
//!
//! It sleeps until the next tick, but never more than a second: a schedule stored through
//! another node is not announced to this one, and a second is the most a new schedule's first
//! tick can be late.
use std::sync::Arc;
use std::time::Duration;

use tarea_core::{Store, limits};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cluster::until_leader;
use crate::now_ms;

/// Longest the scheduler sleeps without looking.
const SCHEDULER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// Fires due schedules while this node leads.
pub(crate) async fn scheduler(store: Arc<dyn Store>, mut leader: watch::Receiver<bool>, stop: CancellationToken) {
    loop {
        if !until_leader(&mut leader, &stop).await {
            break;
        }
        let now = now_ms();
        let sleep = match store.schedule_fire_due(now, limits::SCHEDULES_FIRED_MAX).await {
            Ok(fired) => {
                if fired.jobs > 0 || fired.skipped > 0 {
                    tracing::debug!(jobs = fired.jobs, skipped = fired.skipped, "fired due schedules");
                }
                match fired.next_due {
                    Some(next) if next <= now => Duration::ZERO,
                    Some(next) => Duration::from_millis((next - now) as u64).min(SCHEDULER_MAX_SLEEP),
                    None => SCHEDULER_MAX_SLEEP,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "firing due schedules failed");
                SCHEDULER_MAX_SLEEP
            }
        };
        if sleep.is_zero() {
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}
