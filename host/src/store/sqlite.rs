//! The SQLite engine: `DataFolder/rumble.sqlite` (WAL), one connection
//! owned by one thread. Work is sent to it as a closure and awaited, so
//! writes are serialised by construction (no "database is locked" under
//! load) and async tasks never block on SQLite.
//!
//! Directory lookups (is this a domain of ours, does this account exist)
//! go to a second, read-only connection on a thread of its own: in WAL mode
//! it reads the last committed state without waiting for the writer, so an
//! RCPT check or a script's `Mailman.addressExists` does not queue behind
//! other sessions' fsync'ing commits.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};
use tokio::sync::oneshot;

use super::StoreError;
use super::sql::{BoxFuture, Param, Row, Tx, Value, run_ready};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub(super) struct Sqlite {
    jobs: mpsc::Sender<Job>,
    /// The read-only connection's thread.
    reads: mpsc::Sender<Job>,
    pub(super) path: PathBuf,
}

impl Sqlite {
    /// Open (creating and migrating if needed) `data_folder/rumble.sqlite`.
    pub fn open(data_folder: &Path) -> Result<Sqlite, StoreError> {
        let path = data_folder.join("rumble.sqlite");
        std::fs::create_dir_all(data_folder).map_err(|e| StoreError::Invalid(format!(
            "cannot create DataFolder {}: {e}",
            data_folder.display()
        )))?;
        let opened = Connection::open(&path).and_then(|conn| configure(&conn).map(|_| conn));
        let mut conn = opened.map_err(|e| StoreError::Open { path: path.clone(), reason: e.to_string() })?;
        super::schema::migrate(&mut conn)?;
        let reader = Connection::open(&path)
            .and_then(|conn| configure(&conn).and_then(|_| conn.pragma_update(None, "query_only", "ON")).map(|_| conn))
            .map_err(|e| StoreError::Open { path: path.clone(), reason: e.to_string() })?;
        let jobs = connection_thread("rumble-store", conn)?;
        let reads = connection_thread("rumble-store-read", reader)?;
        Ok(Sqlite { jobs, reads, path })
    }

    /// Run `f` on the store thread, in a transaction when asked.
    pub async fn run<T, F>(&self, transaction: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        on_thread(&self.jobs, transaction, f).await
    }

    /// Run `f` on the read-only connection (`query_only`: a write there is
    /// an error, not a silent second writer).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        on_thread(&self.reads, false, f).await
    }
}

/// Send `f` to the connection thread behind `jobs` and await its result.
async fn on_thread<T, F>(jobs: &mpsc::Sender<Job>, transaction: bool, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |conn| {
        let _ = reply.send(in_transaction(conn, transaction, f));
    });
    jobs.send(job).map_err(|_| StoreError::Closed)?;
    answer.await.map_err(|_| StoreError::Closed)?
}

/// A thread that owns `conn` and runs the jobs sent to it, in order.
fn connection_thread(name: &str, mut conn: Connection) -> Result<mpsc::Sender<Job>, StoreError> {
    let (jobs, queue) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for job in queue {
                job(&mut conn);
            }
        })
        .map_err(|e| StoreError::Invalid(format!("cannot start the store thread {name}: {e}")))?;
    Ok(jobs)
}

fn in_transaction<T>(
    conn: &mut Connection,
    transaction: bool,
    f: impl for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    if !transaction {
        return run_ready(f(&mut Tx::sqlite(conn)));
    }
    conn.execute_batch("BEGIN")?;
    let result = run_ready(f(&mut Tx::sqlite(conn)));
    let end = conn.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    match (result, end) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e.into())
        }
        (Err(e), _) => Err(e),
    }
}

/// WAL for concurrent readers later; `synchronous=FULL` because a `250`
/// after DATA promises durability; foreign keys on.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement the operations use stays prepared.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

/// Each row of `sql`, as SQLite steps to it, to `each`.
pub(super) fn for_each_row(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
    each: &mut (dyn FnMut(Row) -> Result<(), StoreError> + Send),
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let columns = statement.column_count();
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let values = (0..columns).map(|i| row.get_ref(i).map(value)).collect::<rusqlite::Result<_>>()?;
        each(Row(values))?;
    }
    Ok(())
}

pub(super) fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))? as u64)
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}
