//! One handle for the operations to run on: a transaction (writes) or a pooled connection
//! (reads, which need no `BEGIN`/`COMMIT` round trips). A concrete enum rather than a generic
//! client trait, so every operation's future stays `Send` for `async_trait`.
use deadpool_postgres::{ClientWrapper, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement, ToStatement};

/// Where an operation runs.
pub(crate) enum Tx<'a> {
    /// Inside a transaction.
    Tx(&'a Transaction<'a>),
    /// On a connection in autocommit (reads).
    Conn(&'a ClientWrapper),
}

impl Tx<'_> {
    /// A prepared statement from the connection's cache.
    pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<Statement, Error> {
        match self {
            Tx::Tx(t) => t.prepare_cached(sql).await,
            Tx::Conn(c) => c.prepare_cached(sql).await,
        }
    }

    pub(crate) async fn query<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Tx(t) => t.query(stmt, params).await,
            Tx::Conn(c) => c.query(stmt, params).await,
        }
    }

    pub(crate) async fn query_one<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Tx(t) => t.query_one(stmt, params).await,
            Tx::Conn(c) => c.query_one(stmt, params).await,
        }
    }

    pub(crate) async fn query_opt<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Tx(t) => t.query_opt(stmt, params).await,
            Tx::Conn(c) => c.query_opt(stmt, params).await,
        }
    }

    pub(crate) async fn execute<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Tx(t) => t.execute(stmt, params).await,
            Tx::Conn(c) => c.execute(stmt, params).await,
        }
    }
}
