//! The handle operations run on: a pooled connection, inside a transaction the store opened
//! (writes) or in autocommit (reads). A concrete type rather than a generic client trait, so
//! every operation's future stays `Send` for `async_trait`.
//!
//! It remembers whether any statement was refused by the database. Such a refusal aborts the
//! transaction, and a COMMIT then rolls back without an error of its own: the store checks
//! this flag before committing, so an operation that handled an error as a per-item answer can
//! never make a rolled-back transaction look committed.
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement, ToStatement};

/// Where an operation runs.
pub(crate) struct Tx<'a> {
    conn: &'a ClientWrapper,
    refused: AtomicBool,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(conn: &'a ClientWrapper) -> Self {
        Tx { conn, refused: AtomicBool::new(false) }
    }

    /// Whether the database refused a statement (the transaction is then aborted).
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    fn note<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result
            && e.code().is_some()
        {
            self.refused.store(true, Ordering::Relaxed);
        }
        result
    }

    /// A prepared statement from the connection's cache.
    pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<Statement, Error> {
        self.note(self.conn.prepare_cached(sql).await)
    }

    pub(crate) async fn query<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        self.note(self.conn.query(stmt, params).await)
    }

    pub(crate) async fn query_one<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        self.note(self.conn.query_one(stmt, params).await)
    }

    pub(crate) async fn query_opt<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        self.note(self.conn.query_opt(stmt, params).await)
    }

    pub(crate) async fn execute<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        self.note(self.conn.execute(stmt, params).await)
    }
}
