//! Work the writer does when no caller waits: the search words of new jobs.
//!
//! Writing a job's words into the full-text index (FTS5) in the transaction that creates it
//! cost a fifth of the enqueue path. New jobs are now indexed after their commit, in small
//! transactions of the writer's own, in rowid order up to a mark kept in the database
//! (`jobs_text_upto`, migration 8), so a crash loses no words: the next start goes on from the
//! mark. The writer runs a step once it has been idle a moment, and once every
//! [`EVERY_GROUPS`] groups under load that never pauses, so the index is never starved. A
//! search first indexes what is pending (see `SqliteStore::job_list`), so it always sees every
//! job; only a search during a burst of more than [`SEARCH_CATCH_UP`] new jobs can miss the
//! newest.
//!
//! A job whose words change (its result or error) is reindexed in its own transaction as
//! before, unless it is past the mark: then the step will index it as it is by then.
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use tarea_core::StoreResult;

use super::map_err;

/// Jobs indexed per step: small enough that a caller arriving meanwhile waits a few ms.
pub(crate) const STEP: u32 = 500;
/// How long the writer waits for work before it indexes.
pub(crate) const IDLE: Duration = Duration::from_millis(20);
/// Under load that never pauses, a step runs once per this many groups.
pub(crate) const EVERY_GROUPS: u32 = 256;
/// The most new jobs a search indexes before it reads.
pub(crate) const SEARCH_CATCH_UP: u32 = 200_000;

/// Whether new jobs may be waiting for their words.
#[derive(Debug)]
pub(crate) struct Pending {
    pending: AtomicBool,
    /// When a failed step was last logged: at most once a minute.
    warned: Mutex<Option<Instant>>,
}

impl Pending {
    /// Pending at start: a crash may have left jobs past the mark.
    pub(crate) fn new() -> Pending {
        Pending { pending: AtomicBool::new(true), warned: Mutex::new(None) }
    }

    /// New jobs were written (called inside the transaction that writes them: a step cannot
    /// run before it commits, since it needs the same connection).
    pub(crate) fn set(&self) {
        self.pending.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// Runs one step in a transaction of its own on `conn` (the writer's connection, held by
    /// the caller, so no enqueue commits meanwhile). Returns whether more is pending.
    pub(crate) fn step(&self, conn: &Connection) -> bool {
        let ran = conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err).and_then(|()| index_pending(conn, STEP));
        let indexed = match ran.and_then(|n| conn.execute_batch("COMMIT").map_err(map_err).map(|()| n)) {
            Ok(n) => n,
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                // Tried again after the next enqueue (or search), not in a loop; the mark
                // keeps the place.
                self.pending.store(false, Ordering::Relaxed);
                let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    *warned = Some(Instant::now());
                    tracing::warn!(error = %e, "writing the search words of new jobs failed; they are tried again later");
                }
                return false;
            }
        };
        let more = indexed == u64::from(STEP);
        if !more {
            // Still under the connection's lock: an enqueue that commits after this sets it again.
            self.pending.store(false, Ordering::Relaxed);
        }
        more
    }
}

/// Writes the words of up to `limit` jobs past the mark and moves the mark; returns how many.
pub(crate) fn index_pending(conn: &Connection, limit: u32) -> StoreResult<u64> {
    let upto: i64 = conn
        .prepare_cached("SELECT upto FROM jobs_text_upto")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(map_err)?;
    let (last, n): (Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT max(rowid), count(*) FROM (SELECT rowid FROM jobs WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
        )
        .and_then(|mut s| s.query_row(params![upto, limit], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(map_err)?;
    let Some(last) = last else { return Ok(0) };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO jobs_text (rowid, body) SELECT rowid, \
         payload || ' ' || coalesce(result, '') || ' ' || coalesce(error, '') FROM jobs \
         WHERE rowid > ?1 AND rowid <= ?2",
    )
    .and_then(|mut s| s.execute(params![upto, last]))
    .map_err(map_err)?;
    conn.prepare_cached("UPDATE jobs_text_upto SET upto = ?1")
        .and_then(|mut s| s.execute(params![last]))
        .map_err(map_err)?;
    Ok(n.max(0) as u64)
}

/// Indexes pending jobs, up to `most`, in the caller's transaction (a search about to read).
pub(crate) fn catch_up(conn: &Connection, most: u32) -> StoreResult<()> {
    let mut done = 0;
    while done < most {
        let n = index_pending(conn, 5_000.min(most - done))? as u32;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use serde_json::value::RawValue;
    use tarea_core::{EventSink, JobEvent, JobFilter, JobId, JobSpec, Store};

    use super::super::{Durability, SqliteOptions, SqliteStore};

    struct NoEvents;

    impl EventSink for NoEvents {
        fn publish(&self, _: Vec<JobEvent>) {}
    }

    fn spec(word: &str) -> JobSpec {
        let payload = RawValue::from_string(format!(r#"{{"animal":"{word}"}}"#)).unwrap();
        JobSpec::new("informe.pdf", "q", payload)
    }

    async fn found(store: &SqliteStore, word: &str) -> Vec<JobId> {
        let filter = JobFilter { search: Some(word.into()), limit: 10, ..Default::default() };
        store.job_list("t", filter).await.unwrap().jobs.into_iter().map(|j| j.id).collect()
    }

    /// The mark and the newest rowid, read as another connection would.
    fn mark_and_newest(path: &std::path::Path) -> (i64, i64) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("SELECT (SELECT upto FROM jobs_text_upto), (SELECT max(rowid) FROM jobs)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    }

    async fn idle_until_indexed(path: &std::path::Path) {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while mark_and_newest(path).0 < mark_and_newest(path).1 {
            assert!(Instant::now() < deadline, "the idle writer never wrote the words: {:?}", mark_and_newest(path));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_jobs_get_their_words_when_the_writer_is_idle_and_searches_never_miss_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tarea.db");
        let store =
            SqliteStore::open(&path, SqliteOptions { durability: Durability::Full }, Arc::new(NoEvents)).unwrap();
        let specs = (0..1_200).map(|i| spec(&format!("perro{i}"))).collect();
        store.job_enqueue("t", specs, 1_000).await.unwrap();
        idle_until_indexed(&path).await;
        assert_eq!(found(&store, "perro1199").await.len(), 1);

        // A search right after an enqueue writes the pending words first.
        let fresh = store.job_enqueue("t", vec![spec("Firulais")], 2_000).await.unwrap()[0].job.id;
        assert_eq!(found(&store, "firulais").await, [fresh]);

        // The newest job deleted: the next one takes its rowid, and must not pass for indexed.
        idle_until_indexed(&path).await;
        let newest = store.job_enqueue("t", vec![spec("Borrado")], 3_000).await.unwrap()[0].job.id;
        idle_until_indexed(&path).await;
        store.job_cancel("t", newest, 3_001).await.unwrap();
        assert_eq!(store.job_delete_finished("t", &[newest]).await.unwrap(), 1);
        let reused = store.job_enqueue("t", vec![spec("Pelusa")], 4_000).await.unwrap()[0].job.id;
        assert_eq!(found(&store, "pelusa").await, [reused]);
        assert!(found(&store, "borrado").await.is_empty());

        // Words left pending at a stop are written after the next start.
        let waiting = store.job_enqueue("t", vec![spec("Canela")], 5_000).await.unwrap()[0].job.id;
        drop(store);
        let store =
            SqliteStore::open(&path, SqliteOptions { durability: Durability::Full }, Arc::new(NoEvents)).unwrap();
        idle_until_indexed(&path).await;
        assert_eq!(found(&store, "canela").await, [waiting]);
    }
}
