//! The mail store: domains, accounts, mailboxes and the delivery queue,
//! behind operations (`mail`, `directory`, `delivery`) that protocol code
//! calls without seeing SQL. Two engines run the same operations:
//! SQLite (`sqlite`, embedded, the default) and PostgreSQL (`postgres`,
//! for several nodes on one database); `sql` is what they share.
//!
//! - `schema`: SQLite's versioned migrations (`PRAGMA user_version`).
//! - `accounts`: domains and accounts, Rumble's GLOB lookup.
//! - `password`: Rumble's hex SHA-256 and salted argon2id.
//! - `mailbox`: folders and letters (per-folder UIDs, UIDVALIDITY, flags).
//! - `queue`: the delivery queue with leased claims.
//! - `spool`: durable message files in Rumble's layout.
//! - `lua_api`: what the Lua `Mailman.*` API needs beyond the protocols' operations.

pub mod accounts;
pub mod blobs;
pub mod delivery;
pub mod directory;
#[cfg(test)]
mod engine_tests;
pub mod folders;
pub mod kv;
pub mod lua_api;
pub mod mailbox;
pub mod mail;
pub mod maildrop;
pub mod password;
mod postgres;
pub mod queue;
pub(crate) mod schema;
pub mod spool;
pub mod sql;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sql::{BoxFuture, Tx};

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

/// The node name in `DataFolder/node-name`, written once (16 random letters).
fn node_name(data_folder: &Path) -> Result<String, StoreError> {
    let path = data_folder.join("node-name");
    let failed = |e: std::io::Error| StoreError::Invalid(format!("cannot keep the node name in {}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(name) if !name.trim().is_empty() => return Ok(name.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    std::fs::create_dir_all(data_folder).map_err(failed)?;
    let name = spool::new_fid();
    std::fs::write(&path, format!("{name}\n")).map_err(failed)?;
    Ok(name)
}

/// Announced as a changed folder when any folder may have changed unseen
/// (the LISTEN connection to the other nodes was lost and is back): every
/// session looks again. Folder ids start at 1.
pub const ANY_FOLDER: i64 = 0;

/// Seconds since the epoch: the time every row of the store records.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    engine: Arc<Engine>,
    /// StorageFolder: letter files of domains without their own path.
    storage: PathBuf,
    /// Folder ids whose letters changed (new mail, flags, expunge): IMAP
    /// sessions with the folder selected (or in IDLE) tell their clients.
    changes: tokio::sync::broadcast::Sender<i64>,
    /// Accounts whose POP3 maildrop a session of this process holds.
    maildrops: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
    /// Where message bodies are kept.
    blobs: blobs::BlobStore,
    /// Rung when something is queued, so the mailman starts at once.
    queued: Arc<tokio::sync::Notify>,
}

enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

impl Store {
    /// Open (creating and migrating if needed) `data_folder/rumble.sqlite`;
    /// letter files live under `storage_folder` (or a domain's own path).
    pub fn open(data_folder: &Path, storage_folder: &Path) -> Result<Store, StoreError> {
        Ok(Store::with(Engine::Sqlite(sqlite::Sqlite::open(data_folder)?), storage_folder, blobs::BlobStore::Folder))
    }

    /// Connect to (and migrate) the PostgreSQL database `settings` name,
    /// message bodies kept as `blobs` says. This node's name among those
    /// sharing the database is kept in `data_folder` (made once), so a
    /// restarted node knows which leases were its own.
    pub async fn open_postgres(
        settings: &crate::config::PostgresSettings,
        data_folder: &Path,
        storage_folder: &Path,
        blobs: blobs::BlobStore,
    ) -> Result<Store, StoreError> {
        let node = node_name(data_folder)?;
        Ok(Store::with(Engine::Postgres(Box::new(postgres::Postgres::open(settings, node).await?)), storage_folder, blobs))
    }

    fn with(engine: Engine, storage_folder: &Path, blobs: blobs::BlobStore) -> Store {
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        let storage = storage_folder.to_path_buf();
        Store { engine: Arc::new(engine), storage, changes, maildrops: Default::default(), blobs, queued: Default::default() }
    }

    /// What wakes the mailman: rung by whoever queues a message (SMTP, the
    /// mailman itself, `Mailman.sendMail`).
    pub fn queue_notifier(&self) -> Arc<tokio::sync::Notify> {
        self.queued.clone()
    }

    /// Where the store is, for messages (no password).
    pub fn describe(&self) -> String {
        match &*self.engine {
            Engine::Sqlite(s) => s.path.display().to_string(),
            Engine::Postgres(p) => p.describe.clone(),
        }
    }

    /// The SQLite database file, when that is the engine.
    pub fn file(&self) -> Option<&Path> {
        match &*self.engine {
            Engine::Sqlite(s) => Some(&s.path),
            Engine::Postgres(_) => None,
        }
    }

    /// Announce that letters of `folder` changed (after the commit), here
    /// and to the other nodes on the same database.
    pub(in crate::store) fn folder_changed(&self, folder: i64) {
        let _ = self.changes.send(folder);
        if let Engine::Postgres(p) = &*self.engine {
            p.announce(folder);
        }
    }

    /// Follow folder changes, this node's and the other nodes'; a receiver
    /// that lags is told so and must resynchronise everything it shows.
    pub fn watch_folders(&self) -> tokio::sync::broadcast::Receiver<i64> {
        if let Engine::Postgres(p) = &*self.engine {
            p.follow(&self.changes);
        }
        self.changes.subscribe()
    }

    /// Whether other nodes may share this store (PostgreSQL): queue leases
    /// then belong to whoever holds them, not to this process.
    pub fn shared(&self) -> bool {
        matches!(&*self.engine, Engine::Postgres(_))
    }

    /// Whether other nodes may write into StorageFolder too (a shared
    /// store whose message bodies are the files there).
    pub fn shares_files(&self) -> bool {
        self.shared() && self.blobs == blobs::BlobStore::Folder
    }

    /// This node's name among those sharing the store ("" when alone).
    pub fn node(&self) -> &str {
        match &*self.engine {
            Engine::Sqlite(_) => "",
            Engine::Postgres(p) => &p.node,
        }
    }

    /// Run `f` in one transaction: committed when it returns Ok, rolled
    /// back otherwise. Only the store's own operations use it.
    pub(in crate::store) async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        self.run(true, f).await
    }

    /// Run `f` with each statement on its own (reads, single writes).
    pub(in crate::store) async fn autocommit<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        self.run(false, f).await
    }

    /// Run `f`, which only reads, where reads do not wait for writes (the
    /// SQLite engine's read-only connection; any pooled PostgreSQL one).
    pub(in crate::store) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        match &*self.engine {
            Engine::Sqlite(s) => s.read(f).await,
            Engine::Postgres(p) => p.run(false, f).await,
        }
    }

    async fn run<T, F>(&self, transaction: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T, StoreError>> + Send + 'static,
    {
        match &*self.engine {
            Engine::Sqlite(s) => s.run(transaction, f).await,
            Engine::Postgres(p) => p.run(transaction, f).await,
        }
    }
}
