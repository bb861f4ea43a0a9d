//! The SQL every store operation speaks, over either engine: a [`Tx`] runs
//! statements with bound [`Param`]s and gives back [`Row`]s of [`Value`]s.
//!
//! Operations are written once, as `async fn op(tx: &mut Tx<'_>, ...)`.
//! On PostgreSQL each statement is a real wait on the network; on SQLite
//! the same future runs on the store thread and is ready at its first poll
//! (see [`run_ready`]), so SQLite work still never blocks a tokio worker.
//!
//! The SQL is the common dialect of both: `?N` placeholders (rewritten to
//! `$N` for PostgreSQL), `RETURNING`, `ON CONFLICT`, `CAST(.. AS BIGINT)`,
//! and `"user"` quoted (a reserved word in PostgreSQL). Where the engines
//! differ (row locks, `SKIP LOCKED`), an operation asks [`Tx::engine`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::StoreError;

/// A boxed future an operation's closure returns (see `Store::transaction`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Int(v as i64)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// `args![a, b, c]`: a parameter list.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::sql::Param::from($v)),*] };
}
pub(crate) use args;

/// A column value as either engine returns it (booleans become 0/1).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One result row.
#[derive(Debug)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    /// Column `i` as `T`; a type mismatch is a database error naming it.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let value = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(value).ok_or_else(|| StoreError::Database(format!("column {i}: expected {}, found {value:?}", T::WHAT)))
    }
}

pub trait FromValue: Sized {
    const WHAT: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const WHAT: &'static str = "an integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const WHAT: &'static str = "a boolean";
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for String {
    const WHAT: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const WHAT: &'static str = "bytes";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bytes(b) => Some(b.clone()),
            Value::Text(t) => Some(t.clone().into_bytes()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WHAT: &'static str = T::WHAT;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// Where a [`Tx`]'s statements go.
pub(super) enum Conn<'c> {
    /// `&mut`: a `&Connection` is not `Send`, and operations' futures must be.
    Sqlite(&'c mut rusqlite::Connection),
    /// A pooled PostgreSQL connection, in a transaction or in autocommit.
    PgTx(deadpool_postgres::Transaction<'c>),
    PgAuto(&'c deadpool_postgres::Client),
}

/// A unit of store work: a transaction, or autocommit statements (reads,
/// single-statement writes). What it may do is the SQL it is given.
pub struct Tx<'c> {
    pub(super) conn: Conn<'c>,
}

impl<'c> Tx<'c> {
    pub fn sqlite(conn: &'c mut rusqlite::Connection) -> Tx<'c> {
        Tx { conn: Conn::Sqlite(conn) }
    }

    pub fn engine(&self) -> Engine {
        match self.conn {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::PgTx(_) | Conn::PgAuto(_) => Engine::Postgres,
        }
    }

    /// Every row `sql` returns.
    pub async fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        self.query_map(sql, params, Ok).await
    }

    /// Every row `sql` returns, each made a `T` as it arrives (so a big
    /// result is not held as rows and as `T`s at once).
    pub async fn query_map<T: Send>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        mut make: impl FnMut(Row) -> Result<T, StoreError> + Send,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        let mut each = |row: Row| {
            out.push(make(row)?);
            Ok(())
        };
        match &self.conn {
            Conn::Sqlite(c) => super::sqlite::for_each_row(c, sql, params, &mut each)?,
            Conn::PgTx(t) => super::postgres::for_each_row(t, sql, params, &mut each).await?,
            Conn::PgAuto(c) => super::postgres::for_each_row(*c, sql, params, &mut each).await?,
        }
        Ok(out)
    }

    /// The first row, if any.
    pub async fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// The first row; none is a database error (aggregates always return one).
    pub async fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row, StoreError> {
        self.query_opt(sql, params).await?.ok_or_else(|| StoreError::Database(format!("no row from: {sql}")))
    }

    /// Column 0 of every row.
    pub async fn column<T: FromValue + Send>(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<T>, StoreError> {
        self.query_map(sql, params, |row| row.get(0)).await
    }

    /// How many rows a statement changed.
    pub async fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        match &self.conn {
            Conn::Sqlite(c) => super::sqlite::execute(c, sql, params),
            Conn::PgTx(t) => super::postgres::execute(t, sql, params).await,
            Conn::PgAuto(c) => super::postgres::execute(*c, sql, params).await,
        }
    }

    /// Lock `folder`'s row until the transaction ends, so read-modify-write
    /// of its letters (flags, expunge) is not interleaved with another
    /// node's. SQLite has one writer already.
    pub async fn lock_folder(&mut self, folder: i64) -> Result<(), StoreError> {
        if self.engine() == Engine::Postgres {
            self.query("SELECT id FROM folders WHERE id = ?1 FOR UPDATE", args![folder]).await?;
        }
        Ok(())
    }
}

/// Run a future that never waits (SQLite work on the store thread) to its
/// end. A future that does wait is a bug in the store: it is reported as
/// an error rather than blocking the thread.
pub fn run_ready<T>(future: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => Err(StoreError::Database("an SQLite operation waited (store bug)".into())),
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (the SQL has no `?` elsewhere).
pub(super) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A migrated in-memory SQLite store for unit tests of operations.
    pub fn memory() -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn
    }

    /// `memory()` with domain example.org and its mbox account ann: the
    /// connection and ann's id.
    pub fn with_account() -> (rusqlite::Connection, i64) {
        use crate::store::accounts::{self, AccountKind, NewAccount};
        let mut conn = memory();
        let id = {
            let tx = &mut Tx::sqlite(&mut conn);
            run_ready(accounts::add_domain(tx, "example.org", "", 0)).unwrap();
            let new = NewAccount { domain: "example.org".into(), user: "ann".into(), password: None, kind: AccountKind::Mbox, arg: String::new() };
            run_ready(accounts::add_account(tx, &new)).unwrap().id
        };
        (conn, id)
    }

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(dollar_placeholders("a = ?1 AND b = ?12 OR c ? d"), "a = $1 AND b = $12 OR c ? d");
    }
}
