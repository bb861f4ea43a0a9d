//! Mail operations on an account's folders, as IMAP uses them: each one
//! runs its own transaction and does what must follow the commit (announce
//! the folders it changed, remove the letter files it freed), so protocol
//! code never sees SQL, a connection or a transaction.

use std::collections::HashSet;
use std::path::PathBuf;

use super::folders::{self, FlagChange};
use super::mailbox::{self, Folder, Letter};
use super::sql::Tx;
use super::{Account, Store, StoreError, blobs, spool, unix_now};

/// A folder as SELECT/EXAMINE finds it.
pub struct Selected {
    /// Read in the same transaction as the letters: the view's starting point.
    pub folder: Folder,
    pub letters: Vec<Letter>,
    /// UIDs whose \Recent this session took (empty for EXAMINE).
    pub recent: Vec<i64>,
}

/// What changed in a folder after a modseq.
pub struct FolderChanges {
    pub highest: i64,
    /// Letters changed or added, by UID.
    pub letters: Vec<Letter>,
    pub gone: Gone,
    /// UIDs that became \Recent for the asking session.
    pub recent: Vec<i64>,
}

pub enum Gone {
    /// UIDs expunged since the modseq.
    Listed(Vec<i64>),
    /// The expunge log was pruned past the modseq: every UID still present.
    Present(HashSet<i64>),
}

/// The result of an expunge: the UIDs removed, and the files freed (already
/// deleted; callers holding derived data may forget them).
pub struct Expunged {
    pub uids: Vec<i64>,
    pub freed: Vec<PathBuf>,
}

/// A flag change: the letters as they are now, and the UIDs a CONDSTORE
/// `UNCHANGEDSINCE` refused.
pub struct FlagsChanged {
    pub letters: Vec<Letter>,
    pub refused: Vec<i64>,
    /// How many of the asked UIDs were still in the folder.
    pub found: usize,
}

impl Store {
    /// Where `account`'s letter files live.
    pub async fn letter_dir(&self, account: &Account) -> Result<PathBuf, StoreError> {
        let (domain, storage) = (account.domain.clone(), self.storage.clone());
        self.autocommit(move |tx| Box::pin(async move { mailbox::domain_letter_dir(tx, &storage, &domain).await })).await
    }

    pub async fn find_folder(&self, account: i64, name: &str) -> Result<Option<Folder>, StoreError> {
        let name = name.to_string();
        self.autocommit(move |tx| Box::pin(async move { mailbox::find_folder(tx, account, &name).await })).await
    }

    pub async fn list_folders(&self, account: i64) -> Result<Vec<Folder>, StoreError> {
        self.autocommit(move |tx| Box::pin(mailbox::list_folders(tx, account))).await
    }

    /// The folder and its letters (STATUS), read together.
    pub async fn folder_with_letters(&self, account: i64, name: &str) -> Result<Option<(Folder, Vec<Letter>)>, StoreError> {
        let name = name.to_string();
        self.transaction(move |tx| {
            Box::pin(async move {
                let Some(folder) = mailbox::find_folder(tx, account, &name).await? else { return Ok(None) };
                let letters = mailbox::letters(tx, folder.id).await?;
                Ok(Some((folder, letters)))
            })
        })
        .await
    }

    /// SELECT (takes \Recent) or EXAMINE (`read_only`: takes nothing).
    pub async fn select(&self, account: i64, name: &str, read_only: bool) -> Result<Option<Selected>, StoreError> {
        let name = name.to_string();
        // Folder and letters in one transaction: the view's starting point.
        self.transaction(move |tx| {
            Box::pin(async move {
                let Some(folder) = mailbox::find_folder(tx, account, &name).await? else { return Ok(None) };
                let recent = if read_only { Vec::new() } else { folders::take_recent(tx, folder.id).await? };
                let letters = mailbox::letters(tx, folder.id).await?;
                Ok(Some(Selected { folder, letters, recent }))
            })
        })
        .await
    }

    /// What changed in `folder` after modseq `since`; a session that may
    /// (not EXAMINE) takes the \Recent of new letters.
    pub async fn changes_since(&self, folder: i64, since: i64, read_only: bool) -> Result<FolderChanges, StoreError> {
        self.transaction(move |tx| Box::pin(changes_since(tx, folder, since, read_only))).await
    }

    /// Letter `id` if it is in one of `account`'s folders (scripts name
    /// letters by id: another account's is not found), with the path of its
    /// body, fetched if this node has no copy.
    pub async fn read_letter(&self, account: &Account, id: i64) -> Result<Option<(Letter, PathBuf)>, StoreError> {
        let owner = account.id;
        let found = self
            .autocommit(move |tx| {
                Box::pin(async move {
                    let condition = "id = ?1 AND folder IN (SELECT id FROM folders WHERE account = ?2)";
                    Ok(mailbox::letters_where(tx, condition, super::sql::args![id, owner]).await?.pop())
                })
            })
            .await?;
        let Some(letter) = found else { return Ok(None) };
        let dir = self.letter_dir(account).await?;
        let path = self.fetch_letter(&dir, &letter.fid).await?;
        Ok(Some((letter, path)))
    }

    pub async fn letters(&self, folder: i64) -> Result<Vec<Letter>, StoreError> {
        self.autocommit(move |tx| Box::pin(mailbox::letters(tx, folder))).await
    }

    pub async fn letters_by_uid(&self, folder: i64, uids: Vec<i64>) -> Result<Vec<Letter>, StoreError> {
        self.autocommit(move |tx| Box::pin(async move { mailbox::letters_by_uid(tx, folder, &uids).await })).await
    }

    /// Remove the \Deleted letters of `folder` (only UIDs in `only`, when
    /// given), delete the files no letter uses any more, announce it.
    pub async fn expunge(&self, account: &Account, folder: i64, only: Option<Vec<i64>>) -> Result<Expunged, StoreError> {
        let dir = self.letter_dir(account).await?;
        let (uids, freed) =
            self.transaction(move |tx| Box::pin(async move { folders::expunge(tx, folder, only.as_deref()).await })).await?;
        if !uids.is_empty() {
            self.folder_changed(folder);
        }
        Ok(Expunged { uids, freed: remove_files(&dir, freed) })
    }

    /// Change flags of the letters with `uids` in `folder` (see
    /// `folders::change_flags`), and announce it.
    pub async fn change_flags(
        &self,
        folder: i64,
        uids: Vec<i64>,
        change: FlagChange,
        bits: i64,
        keywords: Vec<String>,
        unchanged_since: Option<i64>,
    ) -> Result<FlagsChanged, StoreError> {
        let result = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let ids: Vec<i64> = mailbox::letters_by_uid(tx, folder, &uids).await?.iter().map(|l| l.id).collect();
                    let (letters, refused) = folders::change_flags(tx, folder, &ids, change, bits, &keywords, unchanged_since).await?;
                    Ok(FlagsChanged { found: ids.len(), letters, refused })
                })
            })
            .await?;
        self.folder_changed(folder);
        Ok(result)
    }

    /// Add \Seen to one letter; the letter as it is now if that differs
    /// from `letter` (None when it was already seen, or is gone).
    pub async fn mark_seen(&self, letter: &Letter) -> Result<Option<Letter>, StoreError> {
        let (folder, id) = (letter.folder, letter.id);
        let (changed, _) = self
            .transaction(move |tx| {
                Box::pin(async move { folders::change_flags(tx, folder, &[id], FlagChange::Add, mailbox::flags::SEEN, &[], None).await })
            })
            .await?;
        let Some(now) = changed.into_iter().next().filter(|l| l.modseq != letter.modseq) else { return Ok(None) };
        self.folder_changed(folder);
        Ok(Some(now))
    }

    /// COPY (or MOVE) the letters with `uids` of `source` into the folder
    /// `target` of `account`: the target and (source UID, new UID) pairs,
    /// or None when there is no such target.
    pub async fn copy(
        &self,
        account: i64,
        source: i64,
        uids: Vec<i64>,
        target: &str,
        moving: bool,
    ) -> Result<Option<(Folder, Vec<(i64, i64)>)>, StoreError> {
        let target = target.to_string();
        let copied = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let Some(target) = mailbox::find_folder(tx, account, &target).await? else { return Ok(None) };
                    let letters = mailbox::letters_by_uid(tx, source, &uids).await?;
                    let pairs = folders::copy(tx, &letters, target.id).await?;
                    if moving {
                        let ids: Vec<i64> = letters.iter().map(|l| l.id).collect();
                        mailbox::remove_letters(tx, source, &ids).await?;
                    }
                    Ok(Some((target, pairs)))
                })
            })
            .await?;
        if let Some((target, _)) = &copied {
            self.folder_changed(target.id);
            if moving {
                self.folder_changed(source);
            }
        }
        Ok(copied)
    }

    /// CREATE: the folder and any missing superior names (`sep`-separated).
    pub async fn create_folder(&self, account: i64, name: &str, sep: char) -> Result<(), StoreError> {
        let name = name.to_string();
        self.transaction(move |tx| {
            Box::pin(async move {
                let now = unix_now();
                let parts: Vec<&str> = name.split(sep).collect();
                for i in 1..parts.len() {
                    let parent = parts[..i].join(&sep.to_string());
                    if mailbox::find_folder(tx, account, &parent).await?.is_none() {
                        folders::create(tx, account, &parent, now).await?;
                    }
                }
                folders::create(tx, account, &name, now).await?;
                Ok(())
            })
        })
        .await
    }

    /// DELETE a folder with its letters; freed files are removed.
    pub async fn delete_folder(&self, account: &Account, name: &str) -> Result<(), StoreError> {
        let dir = self.letter_dir(account).await?;
        let (id, name) = (account.id, name.to_string());
        let freed = self.transaction(move |tx| Box::pin(async move { folders::delete(tx, id, &name).await })).await?;
        remove_files(&dir, freed);
        Ok(())
    }

    pub async fn rename_folder(&self, account: i64, from: &str, to: &str, sep: char) -> Result<(), StoreError> {
        let (from, to) = (from.to_string(), to.to_string());
        self.transaction(move |tx| Box::pin(async move { folders::rename(tx, account, &from, &to, sep, unix_now()).await })).await
    }

    /// (UN)SUBSCRIBE; NotFound when there is no such folder.
    pub async fn subscribe(&self, account: i64, name: &str, on: bool) -> Result<(), StoreError> {
        let n = name.to_string();
        match self.autocommit(move |tx| Box::pin(async move { folders::subscribe(tx, account, &n, on).await })).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound(format!("mailbox {name}"))),
        }
    }

    /// APPEND a letter whose file is already written into `folder`; its
    /// UID. The file is removed again if the row cannot be added.
    pub async fn append(&self, folder: i64, file: (PathBuf, String), size: u64, internaldate: i64, flags: i64, keywords: Vec<String>) -> Result<i64, StoreError> {
        let (path, fid) = file;
        let recorded = async {
            let body = self.body_for_database(path.clone()).await?;
            self.transaction(move |tx| {
                Box::pin(async move {
                    blobs::put(tx, &fid, body.as_deref()).await?;
                    mailbox::append_with_keywords(tx, folder, &fid, size as i64, internaldate, flags, &keywords.join(" ")).await
                })
            })
            .await
        }
        .await;
        match &recorded {
            Ok(_) => self.folder_changed(folder),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
            }
        }
        recorded
    }
}

async fn changes_since(tx: &mut Tx<'_>, folder: i64, since: i64, read_only: bool) -> Result<FolderChanges, StoreError> {
    let highest = folders::highest_modseq(tx, folder).await?;
    let recent = if read_only { Vec::new() } else { folders::take_recent_since(tx, folder, since).await? };
    let letters = mailbox::letters_changed_since(tx, folder, since).await?;
    let gone = match mailbox::expunged_since(tx, folder, since).await? {
        Some(uids) => Gone::Listed(uids),
        None => Gone::Present(mailbox::uids(tx, folder).await?.into_iter().collect()),
    };
    Ok(FolderChanges { highest, letters, gone, recent })
}

/// Delete freed letter files (after the commit); their paths.
pub(super) fn remove_files(dir: &std::path::Path, fids: Vec<String>) -> Vec<PathBuf> {
    fids.into_iter()
        .map(|fid| {
            let path = spool::letter_path(dir, &fid);
            let _ = std::fs::remove_file(&path);
            path
        })
        .collect()
}
