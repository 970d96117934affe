//! Group commit: one thread owns the only write connection. Callers send it closures; it runs
//! every closure that has queued up inside one transaction (each in its own savepoint, so one
//! failing operation rolls back alone), commits once — one fsync for the whole group — then
//! publishes the group's events and answers each caller.
//!
//! The decisions a reader may question:
//! - A thread rather than a task. SQLite calls block, and a dedicated thread keeps them off the
//!   async workers without `spawn_blocking` hops per call.
//! - With relaxed durability (no fsync), when the writer is idle and nothing is queued, the
//!   caller runs its operation as a group of one on its own thread instead of handing it over:
//!   handing an operation to a sleeping thread and waking the caller again costs ~100 µs on
//!   this machine kind, ten times an insert without fsync. With fsync on, a commit would hold
//!   an async worker for the disk's flush (~0.4 ms), so operations always go to the thread
//!   (`block_in_place` was measured too: it costs as much as the hand-off it saves).
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use tarea_core::{EventSink, JobEvent, JobState, StoreError, StoreResult};
use tokio::sync::oneshot;

use super::counts::{Move, flush_moves};
use super::deferred::{self, Pending};
use super::map_err;

/// Most operations committed together; bounds the latency one group adds to its first caller.
const MAX_GROUP: usize = 1024;

type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// What an operation may touch: the connection, the events to publish after commit, and the
/// queue-count moves its state changes make (written once per queue at the end of the op).
pub(crate) struct Batch<'c> {
    pub(crate) conn: &'c Connection,
    /// New jobs wait for their search words (deferred.rs).
    pub(crate) words: &'c Pending,
    pub(crate) events: Vec<JobEvent>,
    moves: Vec<Move>,
    replies: Vec<Reply>,
    /// Set when an unguarded operation failed after it may have written: the group rolls back.
    poisoned: Option<String>,
    /// Set when no transaction could be begun: operations answer this error without running.
    refused: Option<String>,
    /// The group is one operation run inline: it needs no savepoint, since rolling back the
    /// whole transaction undoes exactly that operation (and saves two statements and a copy of
    /// every page it touches).
    solo: bool,
    /// The solo operation failed: its transaction rolls back and it answers its own error.
    discard: bool,
}

impl Batch<'_> {
    /// Records that a job of (tenant, queue) left state `from` (None: it was created) for
    /// state `to` (None: it was deleted).
    pub(crate) fn moved(&mut self, tenant: &str, queue: &str, from: Option<JobState>, to: Option<JobState>) {
        if from != to {
            self.moves.push(Move { tenant: tenant.to_owned(), queue: queue.to_owned(), from, to });
        }
    }

    /// Writes the moves recorded so far, for an operation that reads counts it just changed.
    pub(crate) fn flush_moves(&mut self) -> StoreResult<()> {
        flush_moves(self.conn, &mut self.moves)
    }
}

type Op = Box<dyn FnOnce(&mut Batch<'_>) + Send>;

/// The handle callers use to reach the writer.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
    shared: Arc<Shared>,
}

/// What the writer thread and inline callers share.
struct Shared {
    /// The only write connection; whoever holds it runs a group.
    conn: Mutex<Connection>,
    /// Operations sent to the thread and not yet taken by it.
    queued: AtomicUsize,
    /// Whether an idle writer lets callers run their operation themselves.
    inline: bool,
    sink: Arc<dyn EventSink>,
    /// Groups committed since the writer last checkpointed the WAL itself.
    since_checkpoint: AtomicU32,
    /// Whether commits fsync the WAL (only then does reusing it pay; see `after_group`).
    reuse_wal: bool,
    /// New jobs waiting for their search words, written when the writer is idle.
    words: Arc<Pending>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a group: the WAL can only start over from its beginning when a write begins right
    /// after a checkpoint that copied all of it. Under a steady stream of commits the
    /// background checkpointer never wins that race: the WAL grew without end, and every
    /// commit appended to it — an fdatasync that must also write the file's new size (0.40 ms
    /// here, against 0.13 ms for overwriting blocks that exist). So every
    /// `CHECKPOINT_AFTER_GROUPS` groups the holder of the connection checkpoints (only what the
    /// background checkpointer has not copied yet, a few milliseconds), and the next group
    /// reuses the WAL from its start. This also bounds the WAL under load that never pauses.
    fn after_group(&self, conn: &Connection) {
        let n = self.since_checkpoint.fetch_add(1, Ordering::Relaxed) + 1;
        if self.reuse_wal && n >= CHECKPOINT_AFTER_GROUPS {
            self.since_checkpoint.store(0, Ordering::Relaxed);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "writer checkpoint skipped");
            }
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`; `inline` lets callers write themselves when the
    /// writer is idle; `reuse_wal` (commits that fsync) makes it checkpoint every so often.
    pub(crate) fn start(
        conn: Connection,
        sink: Arc<dyn EventSink>,
        inline: bool,
        reuse_wal: bool,
        words: Arc<Pending>,
    ) -> Writer {
        let (tx, rx) = mpsc::channel::<Op>();
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            queued: AtomicUsize::new(0),
            inline,
            sink,
            since_checkpoint: AtomicU32::new(0),
            reuse_wal,
            words,
        });
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("tarea-sqlite-writer".into())
            .spawn(move || run(&thread, rx))
            .expect("spawning the SQLite writer thread");
        Writer { tx, shared }
    }

    /// Runs `f` in the next group commit, inside a savepoint of its own so that an error rolls
    /// back exactly what `f` wrote, and returns its result once the group is durable.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, move |batch| savepoint(batch, f)).await
    }

    /// Like [`Writer::write`], for a request someone waits on (an enqueue): if the writer is
    /// idle, the caller commits on its own thread even when commits fsync. The hand-off to the
    /// writer thread and back costs 0.1–0.2 ms here, more than an fsync that overwrites the
    /// WAL. Background work (claims, completions) stays on the writer thread, where it groups:
    /// committing each of those inline measured 12 % less drain throughput.
    pub(crate) async fn write_eager<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.submit(true, move |batch| savepoint(batch, f)).await
    }

    /// Like [`Writer::write`] without the savepoint, for operations that return a refusal
    /// (not found, stale attempt, illegal transition) only before they write anything. A
    /// database error inside `f` rolls back the whole group, and every caller in it gets an
    /// error. Savepoints copy each page they touch into a statement journal; the hot paths
    /// (claim, complete) skip that cost.
    pub(crate) async fn write_unguarded<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, move |batch| {
            // Count moves stay pending until the group commits (or an op that reads counts
            // flushes them): a run of completions then costs one count update per queue.
            let (events, moves) = (batch.events.len(), batch.moves.len());
            let result = f(batch);
            if let Err(e) = &result {
                batch.events.truncate(events);
                batch.moves.truncate(moves);
                if matches!(e, StoreError::Internal(_) | StoreError::Unavailable(_)) {
                    batch.poisoned = Some(e.to_string());
                }
            }
            result
        })
        .await
    }

    async fn submit<T, F>(&self, eager: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<StoreResult<T>>();
        let op: Op = Box::new(move |batch: &mut Batch<'_>| {
            let result = match &batch.refused {
                Some(why) => Err(StoreError::Unavailable(why.clone())),
                None => f(batch),
            };
            batch.replies.push(Box::new(move |commit_error: Option<&StoreError>| {
                let answer = match commit_error {
                    Some(e) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
                    None => result,
                };
                let _ = done.send(answer);
            }));
        });
        self.dispatch(op, eager)?;
        wait.await.map_err(|_| StoreError::Unavailable("the store writer stopped".into()))?
    }

    /// Runs `op` here if inline writes are on (or `eager`) and the writer is idle, else queues
    /// it for the writer thread.
    fn dispatch(&self, op: Op, eager: bool) -> StoreResult<()> {
        if (self.shared.inline || eager)
            && self.shared.queued.load(Ordering::SeqCst) == 0
            && let Ok(conn) = self.shared.conn.try_lock()
        {
            run_group(&conn, op, None, &self.shared);
            self.shared.after_group(&conn);
            return Ok(());
        }
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        self.tx.send(op).map_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            StoreError::Unavailable("the store is closed".into())
        })
    }
}

fn savepoint<T>(batch: &mut Batch<'_>, f: impl FnOnce(&mut Batch<'_>) -> StoreResult<T>) -> StoreResult<T> {
    if batch.solo {
        let result = f(batch).and_then(|v| flush_moves(batch.conn, &mut batch.moves).map(|()| v));
        if result.is_err() {
            batch.events.clear();
            batch.moves.clear();
            batch.discard = true;
        }
        return result;
    }
    // Earlier ops' pending moves are written first, so a rollback to this savepoint can only
    // undo this op's own.
    if let Err(e) = flush_moves(batch.conn, &mut batch.moves) {
        batch.poisoned = Some(e.to_string());
        return Err(e);
    }
    batch.conn.prepare_cached("SAVEPOINT op").and_then(|mut s| s.execute([])).map_err(map_err)?;
    let (events, moves) = (batch.events.len(), batch.moves.len());
    let result = f(batch).and_then(|v| flush_moves(batch.conn, &mut batch.moves).map(|()| v));
    let end = if result.is_ok() { "RELEASE op" } else { "ROLLBACK TO op" };
    let closed = batch.conn.prepare_cached(end).and_then(|mut s| s.execute([]));
    if result.is_err() {
        batch.events.truncate(events);
        batch.moves.truncate(moves);
        let _ = batch.conn.prepare_cached("RELEASE op").and_then(|mut s| s.execute([]));
    }
    if let Err(e) = closed {
        // The op's writes could not be undone (or kept) cleanly: the whole group rolls back.
        batch.poisoned = Some(e.to_string());
        return Err(map_err(e));
    }
    result
}

/// Runs a statement without parameters from the statement cache (no parse per call).
fn execute_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(map_err)
}

/// Groups between the writer's own checkpoints (see `Shared::after_group`).
const CHECKPOINT_AFTER_GROUPS: u32 = 100;

fn run(shared: &Shared, rx: mpsc::Receiver<Op>) {
    let mut groups = 0u32;
    loop {
        // With new jobs waiting for their search words, a writer idle a moment writes them,
        // a step at a time, until a caller needs it again.
        let first = if shared.words.is_set() {
            match rx.recv_timeout(deferred::IDLE) {
                Ok(op) => op,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    while shared.queued.load(Ordering::SeqCst) == 0 && shared.words.step(&shared.lock()) {}
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(op) => op,
                Err(_) => break,
            }
        };
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        let conn = shared.lock();
        let mut more = || {
            rx.try_recv().ok().inspect(|_| {
                shared.queued.fetch_sub(1, Ordering::SeqCst);
            })
        };
        run_group(&conn, first, Some(&mut more), shared);
        shared.after_group(&conn);
        // Under load that never pauses, the words still move on.
        groups += 1;
        if groups >= deferred::EVERY_GROUPS && shared.words.is_set() {
            groups = 0;
            shared.words.step(&conn);
        }
    }
}

/// Runs `first` and whatever `more` yields (up to `MAX_GROUP`) in one transaction, commits
/// once, publishes the events and answers every caller. Without `more`, `first` runs alone
/// (see `Batch::solo`).
fn run_group(conn: &Connection, first: Op, mut more: Option<&mut dyn FnMut() -> Option<Op>>, shared: &Shared) {
    let sink = &*shared.sink;
    let mut batch = Batch {
        conn,
        words: &shared.words,
        events: Vec::new(),
        moves: Vec::new(),
        replies: Vec::new(),
        poisoned: None,
        refused: None,
        solo: more.is_none(),
        discard: false,
    };
    if let Err(e) = execute_cached(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "could not begin a store transaction");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        // The op must not run outside a transaction: it only records its refusal.
        batch.refused = Some(e.to_string());
        first(&mut batch);
        for reply in batch.replies {
            reply(None);
        }
        return;
    }
    first(&mut batch);
    while batch.replies.len() < MAX_GROUP && batch.poisoned.is_none() {
        // SQLite rolls a transaction back by itself after some errors (disk full, I/O):
        // what follows must not run in autocommit mode.
        if conn.is_autocommit() {
            break;
        }
        match more.as_mut().and_then(|m| m()) {
            Some(op) => op(&mut batch),
            None => break,
        }
    }
    if batch.poisoned.is_none() && conn.is_autocommit() {
        batch.poisoned = Some("the transaction was rolled back by the database".into());
    }
    if batch.poisoned.is_none()
        && let Err(e) = flush_moves(conn, &mut batch.moves)
    {
        batch.poisoned = Some(e.to_string());
    }
    if batch.discard && batch.poisoned.is_none() {
        // The solo op refused (or failed) and answers its own error; nothing of it is kept.
        if !conn.is_autocommit()
            && let Err(e) = execute_cached(conn, "ROLLBACK")
        {
            tracing::error!(error = %e, "store rollback failed");
        }
        for reply in batch.replies {
            reply(None);
        }
        return;
    }
    let committed = match batch.poisoned.take() {
        Some(why) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(StoreError::Unavailable(why))
        }
        None => execute_cached(conn, "COMMIT"),
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, "store commit failed; the group is rolled back");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    } else if !batch.events.is_empty() {
        sink.publish(std::mem::take(&mut batch.events));
    }
    let error = committed.err();
    for reply in batch.replies {
        reply(error.as_ref());
    }
}
