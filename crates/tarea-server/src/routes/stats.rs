//! `GET /v1/stats`: finished work over the last hour, day or week, for the dashboard's charts,
//! from the per-minute counts the leader keeps (a minute shows up about 25 s after it ends).
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tarea_core::{ErrorCode, STATS_MINUTE_MS, StatsBucket, format_ms, validate_name};
use tarea_runtime::now_ms;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Auth;
use crate::extract::Query;
use crate::{ApiError, AppState};

/// Which stretch of time.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    /// `hour` (minutes), `day` (quarter hours) or `week` (two-hour buckets); default `hour`.
    window: Option<String>,
    /// Only this queue.
    queue: Option<String>,
    /// Admin keys only: every tenant together.
    all_tenants: Option<bool>,
    /// Admin keys only: another tenant (like the header `X-Tarea-Tenant`).
    #[allow(dead_code)]
    tenant: Option<String>,
}

/// Finished work in one bucket of time.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BucketView {
    /// RFC 3339: where the bucket starts.
    at: String,
    /// Jobs that succeeded.
    succeeded: u64,
    /// Attempts that failed with another one due, and leases that expired.
    failed: u64,
    /// Jobs that ended dead.
    dead: u64,
    /// Jobs cancelled.
    cancelled: u64,
}

/// Finished work over a window, oldest bucket first, every bucket present (zeros included).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    window: String,
    /// Length of a bucket.
    step_ms: i64,
    /// RFC 3339: where the first bucket starts.
    from: String,
    buckets: Vec<BucketView>,
    /// Sums over the window.
    total: BucketView,
}

/// Finished work over time.
#[utoipa::path(get, path = "/v1/stats", tag = "queues", params(StatsQuery),
    responses((status = 200, body = Stats), (status = 400, description = "invalid_request")))]
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<StatsQuery>,
) -> Result<axum::Json<Stats>, ApiError> {
    let window = q.window.unwrap_or_else(|| "hour".into());
    let (span, step) = match window.as_str() {
        "hour" => (3_600_000, STATS_MINUTE_MS),
        "day" => (86_400_000, 15 * STATS_MINUTE_MS),
        "week" => (7 * 86_400_000, 120 * STATS_MINUTE_MS),
        other => return Err(ApiError::field("window", format!("window is hour, day or week; got {other:?}"))),
    };
    if let Some(queue) = &q.queue {
        validate_name(queue).map_err(|e| ApiError::field("queue", e.to_string()))?;
    }
    let all = q.all_tenants.unwrap_or(false);
    if all && !auth.admin {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an admin key may see every tenant's statistics"));
    }
    // Buckets end at the next whole step, so the newest (partly counted) bucket is last.
    let end = (now_ms() / step + 1) * step;
    let from = end - span;
    let tenant = (!all).then_some(auth.tenant.as_str());
    let stored = state.store.stats_series(tenant, q.queue.as_deref(), from, step).await?;
    let buckets = fill_gaps(from, end, step, &stored);
    let mut total = StatsBucket::default();
    for b in &buckets {
        total.succeeded += b.succeeded;
        total.failed += b.failed;
        total.dead += b.dead;
        total.cancelled += b.cancelled;
    }
    Ok(axum::Json(Stats {
        window,
        step_ms: step,
        from: format_ms(from),
        total: view(StatsBucket { at: from, ..total }),
        buckets: buckets.into_iter().map(view).collect(),
    }))
}

/// Every bucket from `from` to `end`, the stored ones where they are.
fn fill_gaps(from: i64, end: i64, step: i64, stored: &[StatsBucket]) -> Vec<StatsBucket> {
    let mut stored = stored.iter().peekable();
    (0..(end - from) / step)
        .map(|i| {
            let at = from + i * step;
            match stored.peek() {
                Some(b) if b.at == at => *stored.next().unwrap_or(&StatsBucket::default()),
                _ => StatsBucket { at, ..Default::default() },
            }
        })
        .collect()
}

fn view(b: StatsBucket) -> BucketView {
    BucketView { at: format_ms(b.at), succeeded: b.succeeded, failed: b.failed, dead: b.dead, cancelled: b.cancelled }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_zero_buckets_and_stored_ones_keep_their_counts() {
        let stored = [StatsBucket { at: 120, succeeded: 4, ..Default::default() }];
        let all = fill_gaps(0, 240, 60, &stored);
        assert_eq!(
            all.iter().map(|b| (b.at, b.succeeded)).collect::<Vec<_>>(),
            vec![(0, 0), (60, 0), (120, 4), (180, 0)]
        );
    }
}
