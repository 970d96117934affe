//! The handle operations run on: a pooled connection, inside a transaction the store opened
//! (writes) or in autocommit (reads). A concrete type rather than a generic client trait, so
//! every operation's future stays `Send` for `async_trait`.
use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement, ToStatement};

/// Where an operation runs.
pub(crate) enum Tx<'a> {
    /// A pooled connection.
    Conn(&'a ClientWrapper),
}

impl Tx<'_> {
    /// A prepared statement from the connection's cache.
    pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<Statement, Error> {
        match self {
            Tx::Conn(c) => c.prepare_cached(sql).await,
        }
    }

    pub(crate) async fn query<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Conn(c) => c.query(stmt, params).await,
        }
    }

    pub(crate) async fn query_one<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Conn(c) => c.query_one(stmt, params).await,
        }
    }

    pub(crate) async fn query_opt<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Conn(c) => c.query_opt(stmt, params).await,
        }
    }

    pub(crate) async fn execute<T>(&self, stmt: &T, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>
    where
        T: ?Sized + ToStatement + Sync + Send,
    {
        match self {
            Tx::Conn(c) => c.execute(stmt, params).await,
        }
    }
}
