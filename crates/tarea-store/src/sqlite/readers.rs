//! A small pool of read-only connections. WAL lets them read beside the writer; each read runs
//! on tokio's blocking pool so SQLite never blocks an async worker.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tarea_core::{StoreError, StoreResult};
use tokio::sync::Semaphore;

use super::map_err;

/// Most read connections open at once.
const READERS: usize = 4;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Arc<Readers> {
        Arc::new(Readers { path, idle: Mutex::new(Vec::new()), permits: Semaphore::new(READERS) })
    }

    fn open(&self) -> StoreResult<Connection> {
        let conn =
            Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(map_err)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -4000;").map_err(map_err)?;
        Ok(conn)
    }

    /// Runs `f` on a read connection.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit =
            self.permits.acquire().await.map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || this.read_now(f))
            .await
            .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    /// Runs `f` on a read connection on the caller's own thread. Only for reads that take
    /// microseconds (a few probes of an index, like the artifacts of one job): handing those to
    /// the blocking pool costs two thread wake-ups, far more than the read. A profile of
    /// external workers completing jobs one at a time found 21 % of the server's async CPU
    /// in the hand-off of the job view's artifact look-up, and almost none in SQLite.
    /// A WAL reader does not wait for the writer (only, once, for the recovery of a WAL left by
    /// a crash), so this does not hold an async worker on a lock.
    pub(crate) fn read_now<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = match self.idle.lock().map(|mut v| v.pop()) {
            Ok(Some(c)) => c,
            _ => self.open()?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        result
    }
}
