//! The mail store: SQLite (rusqlite, WAL) in `DataFolder/rumble.sqlite`,
//! created and migrated on first open.
//!
//! All SQLite work goes through one connection owned by one thread
//! ([`Store::call`] sends it a closure and awaits the answer). Writes are
//! serialised by construction, so there is no "database is locked" under
//! load, and async tasks never block on SQLite. Every statement binds its
//! parameters.
//!
//! - `schema`: versioned migrations (`PRAGMA user_version`).
//! - `accounts`: domains and accounts, Rumble's GLOB lookup.
//! - `password`: Rumble's hex SHA-256 and salted argon2id.
//! - `mailbox`: folders and letters (per-folder UIDs, UIDVALIDITY, flags).
//! - `queue`: the delivery queue with leased claims.
//! - `spool`: durable message files in Rumble's layout.

pub mod accounts;
pub mod delivery;
pub mod directory;
pub mod folders;
pub mod mailbox;
pub mod mail;
pub mod password;
pub mod queue;
pub(crate) mod schema;
pub mod spool;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

pub use accounts::{Account, AccountKind, Domain, NewAccount};

/// What a store operation can fail with, whatever the engine: the engine's
/// own error is kept as text (callers never match on it).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("store migration to version {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("the store is newer (schema version {found}) than this rumble knows ({known})")]
    TooNew { found: u32, known: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the store thread has stopped")]
    Closed,
    /// Too much work queued to take this request now (password checks).
    #[error("busy: {0}")]
    Busy(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(e.to_string())
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Seconds since the epoch: the time every row of the store records.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
    /// StorageFolder: letter files of domains without their own path.
    storage: PathBuf,
    /// Folder ids whose letters changed (new mail, flags, expunge): IMAP
    /// sessions with the folder selected (or in IDLE) tell their clients.
    changes: tokio::sync::broadcast::Sender<i64>,
}

impl Store {
    /// Open (creating and migrating if needed) `data_folder/rumble.sqlite`;
    /// letter files live under `storage_folder` (or a domain's own path).
    pub fn open(data_folder: &Path, storage_folder: &Path) -> Result<Store, StoreError> {
        let path = data_folder.join("rumble.sqlite");
        std::fs::create_dir_all(data_folder).map_err(|e| StoreError::Invalid(format!(
            "cannot create DataFolder {}: {e}",
            data_folder.display()
        )))?;
        let opened = Connection::open(&path).and_then(|conn| configure(&conn).map(|_| conn));
        let mut conn = opened.map_err(|e| StoreError::Open { path: path.clone(), reason: e.to_string() })?;
        schema::migrate(&mut conn)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("rumble-store".into())
            .spawn(move || {
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the store thread: {e}")))?;
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        Ok(Store { jobs, path, storage: storage_folder.to_path_buf(), changes })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Announce that letters of `folder` changed (after the commit).
    pub(in crate::store) fn folder_changed(&self, folder: i64) {
        let _ = self.changes.send(folder);
    }

    /// Follow folder changes; a receiver that lags is told so and must
    /// resynchronise everything it shows.
    pub fn watch_folders(&self) -> tokio::sync::broadcast::Receiver<i64> {
        self.changes.subscribe()
    }

    /// Run `f` on the store's connection and return its result. Only the
    /// store's own operations use it: nothing outside sees SQL.
    pub(in crate::store) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// WAL for concurrent readers later; `synchronous=FULL` because a `250`
/// after DATA promises durability; foreign keys on.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}
