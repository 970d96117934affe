//! Queue counts. Every state change records a move; the moves are summed per queue and written
//! with one `UPDATE` per queue touched, once per group commit — or earlier, by an operation that
//! reads the counts (a claim, an enqueue's depth check) or opens a savepoint. A claim of 128
//! jobs or a run of completions costs one or two row updates, not one per job as a trigger
//! would.
use std::collections::HashMap;

use rusqlite::{Connection, params};
use tarea_core::{JobState, StoreResult};

use super::map_err;

/// One job leaving a state for another (None: created or deleted).
pub(crate) struct Move {
    pub(crate) tenant: String,
    pub(crate) queue: String,
    pub(crate) from: Option<JobState>,
    pub(crate) to: Option<JobState>,
}

/// Writes and clears the recorded moves.
pub(crate) fn flush_moves(conn: &Connection, moves: &mut Vec<Move>) -> StoreResult<()> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut sums: HashMap<(&str, &str), [i64; 7]> = HashMap::new();
    for m in moves.iter() {
        let d = sums.entry((&m.tenant, &m.queue)).or_default();
        if let Some(s) = m.from {
            d[s.code() as usize] -= 1;
        }
        if let Some(s) = m.to {
            d[s.code() as usize] += 1;
        }
    }
    let mut ensure =
        conn.prepare_cached("INSERT OR IGNORE INTO queues (tenant, name) VALUES (?1, ?2)").map_err(map_err)?;
    let mut update = conn
        .prepare_cached(
            "UPDATE queues SET n_scheduled = n_scheduled + ?3, n_queued = n_queued + ?4, n_running = n_running + ?5, \
             n_succeeded = n_succeeded + ?6, n_failed = n_failed + ?7, n_dead = n_dead + ?8, \
             n_cancelled = n_cancelled + ?9 WHERE tenant = ?1 AND name = ?2",
        )
        .map_err(map_err)?;
    for ((tenant, queue), d) in &sums {
        if d.iter().all(|n| *n == 0) {
            continue;
        }
        ensure.execute(params![tenant, queue]).map_err(map_err)?;
        update.execute(params![tenant, queue, d[0], d[1], d[2], d[3], d[4], d[5], d[6]]).map_err(map_err)?;
    }
    drop((ensure, update));
    moves.clear();
    Ok(())
}
