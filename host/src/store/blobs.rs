//! Message bodies: spool files (queued messages) and letters (stored
//! mail), named by their fid. Protocol code reads and writes them as files
//! in Rumble's layout (`spool.rs`); where they are kept is the store's
//! business (`MessageStore`):
//!
//! - `folder`: the files under StorageFolder (or a domain's own path) are
//!   the bodies, fsync'd before any row points at them. One node, or nodes
//!   sharing that folder.
//! - `database` (PostgreSQL): each body is also a row of `blobs`, written in
//!   the transaction that first makes a row point at it and deleted in the
//!   one that frees it. The files are then this node's working copies: a
//!   node that needs a body it does not have fetches it first
//!   ([`Store::fetch_spool`], [`Store::fetch_letter`]), so nodes share no
//!   file system. Copies left behind are swept like orphans.

use std::path::{Path, PathBuf};

use super::sql::{Tx, args};
use super::{Store, StoreError, spool};

/// Where bodies are kept (`MessageStore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStore {
    Folder,
    Database,
}

impl Store {
    /// Make sure spool file `fid` is here (StorageFolder/fid); its path.
    pub async fn fetch_spool(&self, fid: &str) -> Result<PathBuf, StoreError> {
        let path = spool::spool_path(&self.storage, fid);
        self.fetch(fid, path).await
    }

    /// Make sure letter `fid` is here, in letter folder `dir`; its path.
    pub async fn fetch_letter(&self, dir: &Path, fid: &str) -> Result<PathBuf, StoreError> {
        self.fetch(fid, spool::letter_path(dir, fid)).await
    }

    async fn fetch(&self, fid: &str, path: PathBuf) -> Result<PathBuf, StoreError> {
        if self.blobs == BlobStore::Folder || tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        let id = fid.to_string();
        let row = self.autocommit(move |tx| Box::pin(async move { tx.query_opt("SELECT data FROM blobs WHERE fid = ?1", args![&id]).await })).await?;
        let Some(row) = row else { return Err(StoreError::NotFound(format!("message body {fid}"))) };
        let data: Vec<u8> = row.get(0)?;
        let target = path.clone();
        // A copy appears whole or not at all: written aside, then renamed.
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let dir = target.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let aside = dir.join(format!(".{}.fetch", spool::new_fid()));
            std::fs::write(&aside, &data)?;
            std::fs::rename(&aside, &target).inspect_err(|_| drop(std::fs::remove_file(&aside)))
        })
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        written.map_err(|e| StoreError::Invalid(format!("cannot keep a copy of message body {fid} in {}: {e}", path.display())))?;
        Ok(path)
    }

    /// The body at `path` to put into the database with its first row, or
    /// None when bodies stay in files.
    pub(super) async fn body_for_database(&self, path: PathBuf) -> Result<Option<Vec<u8>>, StoreError> {
        if self.blobs == BlobStore::Folder {
            return Ok(None);
        }
        let shown = path.display().to_string();
        tokio::fs::read(&path).await.map(Some).map_err(|e| StoreError::Invalid(format!("cannot read {shown}: {e}")))
    }
}

/// Store `data` as body `fid` (once: copies of a letter share it).
pub(super) async fn put(tx: &mut Tx<'_>, fid: &str, data: Option<&[u8]>) -> Result<(), StoreError> {
    if let Some(data) = data {
        tx.execute("INSERT INTO blobs (fid, data) VALUES (?1, ?2) ON CONFLICT (fid) DO NOTHING", args![fid, data]).await?;
    }
    Ok(())
}

/// Bodies no row needs any more (with `folder` storage the table is empty).
pub(super) async fn forget(tx: &mut Tx<'_>, fids: &[String]) -> Result<(), StoreError> {
    for fid in fids {
        tx.execute("DELETE FROM blobs WHERE fid = ?1", args![fid]).await?;
    }
    Ok(())
}
