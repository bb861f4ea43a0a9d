//! Mailboxes: an account's folders (INBOX is a real row here; Rumble's
//! implicit folder 0) and the letters in them, with IMAP's per-folder UIDs
//! and UIDVALIDITY.

use super::StoreError;
use super::sql::{Param, Row, Tx, args};

/// Letter flag bits, Rumble's values (scripts and RumbleLua see them).
pub mod flags {
    pub const RECENT: i64 = 0x1;
    pub const UNREAD: i64 = 0x10;
    pub const SEEN: i64 = 0x20;
    pub const DELETED: i64 = 0x100;
    pub const ANSWERED: i64 = 0x1000;
    pub const FLAGGED: i64 = 0x10000;
    pub const DRAFT: i64 = 0x100000;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub id: i64,
    pub account: i64,
    pub name: String,
    pub subscribed: bool,
    pub uidvalidity: i64,
    pub uidnext: i64,
    pub highestmodseq: i64,
    /// RFC 6154 attribute without the backslash ("Sent", "Trash", ...), or "".
    pub special: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub id: i64,
    pub folder: i64,
    pub uid: i64,
    pub fid: String,
    pub size: i64,
    pub internaldate: i64,
    pub flags: i64,
    /// IMAP keywords, space-separated.
    pub keywords: String,
    pub modseq: i64,
}

/// "INBOX" is case-insensitive in IMAP; every other name is kept as given.
pub fn canonical_name(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") { "INBOX".into() } else { name.to_string() }
}

fn folder_row(row: &Row) -> Result<Folder, StoreError> {
    Ok(Folder {
        id: row.get(0)?,
        account: row.get(1)?,
        name: row.get(2)?,
        subscribed: row.get(3)?,
        uidvalidity: row.get(4)?,
        uidnext: row.get(5)?,
        highestmodseq: row.get(6)?,
        special: row.get(7)?,
    })
}

fn letter_row(row: &Row) -> Result<Letter, StoreError> {
    Ok(Letter {
        id: row.get(0)?,
        folder: row.get(1)?,
        uid: row.get(2)?,
        fid: row.get(3)?,
        size: row.get(4)?,
        internaldate: row.get(5)?,
        flags: row.get(6)?,
        keywords: row.get(7)?,
        modseq: row.get(8)?,
    })
}

const FOLDER_COLUMNS: &str = "id, account, name, subscribed, uidvalidity, uidnext, highestmodseq, special";
const LETTER_COLUMNS: &str = "id, folder, uid, fid, size, internaldate, flags, keywords, modseq";

pub async fn find_folder(tx: &mut Tx<'_>, account: i64, name: &str) -> Result<Option<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ?1 AND name = ?2");
    let row = tx.query_opt(&sql, args![account, &canonical_name(name)]).await?;
    row.as_ref().map(folder_row).transpose()
}

/// The folder, created if missing. UIDVALIDITY is the time of creation, and
/// always above every value handed out before (a high-water mark kept in
/// `counters`, since the folder that had the highest may be gone), so a
/// folder deleted and made again under the same name never reuses one.
pub async fn ensure_folder(tx: &mut Tx<'_>, account: i64, name: &str, now: i64) -> Result<Folder, StoreError> {
    if let Some(f) = find_folder(tx, account, name).await? {
        return Ok(f);
    }
    let uidvalidity: i64 = tx
        .query_one(
            "UPDATE counters SET value = CASE WHEN value + 1 > ?1 THEN value + 1 ELSE ?1 END
             WHERE name = 'uidvalidity' RETURNING value",
            args![now],
        )
        .await?
        .get(0)?;
    // Another node may have made it meanwhile: then its row stands.
    tx.execute(
        "INSERT INTO folders (account, name, uidvalidity) VALUES (?1, ?2, ?3) ON CONFLICT (account, name) DO NOTHING",
        args![account, &canonical_name(name), uidvalidity],
    )
    .await?;
    find_folder(tx, account, name).await?.ok_or_else(|| StoreError::NotFound(format!("folder {name}")))
}

pub async fn list_folders(tx: &mut Tx<'_>, account: i64) -> Result<Vec<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ?1 ORDER BY name != 'INBOX', name");
    tx.query_map(&sql, args![account], |row| folder_row(&row)).await
}

/// Add a letter (its file already written) with the folder's next UID.
pub async fn append(tx: &mut Tx<'_>, folder: i64, fid: &str, size: i64, internaldate: i64, flags: i64) -> Result<i64, StoreError> {
    append_with_keywords(tx, folder, fid, size, internaldate, flags, "").await
}

/// `append` with IMAP keywords; the letter gets the folder's next
/// modification sequence. The UPDATE takes the folder's row lock until the
/// commit, so concurrent appends (from any node) get distinct, increasing
/// UIDs.
pub async fn append_with_keywords(
    tx: &mut Tx<'_>,
    folder: i64,
    fid: &str,
    size: i64,
    internaldate: i64,
    flags: i64,
    keywords: &str,
) -> Result<i64, StoreError> {
    let row = tx
        .query_opt(
            "UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ?1
             RETURNING uidnext - 1, highestmodseq",
            args![folder],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))?;
    let (uid, modseq): (i64, i64) = (row.get(0)?, row.get(1)?);
    tx.execute(
        "INSERT INTO messages (folder, uid, fid, size, internaldate, flags, keywords, modseq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![folder, uid, fid, size, internaldate, flags, keywords, modseq],
    )
    .await?;
    Ok(uid)
}

/// Where a domain's letter files live: its own storage path, or StorageFolder.
pub fn letter_dir(storage: &std::path::Path, domain_storage_path: &str) -> std::path::PathBuf {
    if domain_storage_path.is_empty() { storage.to_path_buf() } else { std::path::PathBuf::from(domain_storage_path) }
}

/// Where the letter files of `domain`'s accounts live.
pub async fn domain_letter_dir(tx: &mut Tx<'_>, storage: &std::path::Path, domain: &str) -> Result<std::path::PathBuf, StoreError> {
    let path = super::accounts::find_domain(tx, domain).await?.map(|d| d.storage_path).unwrap_or_default();
    Ok(letter_dir(storage, &path))
}

/// Remove letters of `folder` by row id; returns the files no row uses any
/// more (the caller removes them after the commit; their bodies in the
/// database go in this transaction). The removed UIDs go to
/// the expunge log under one new modseq, so IMAP sessions learn of them
/// without comparing whole folders.
pub async fn remove_letters(tx: &mut Tx<'_>, folder: i64, ids: &[i64]) -> Result<Vec<String>, StoreError> {
    let mut freed = Vec::new();
    let mut removed = Vec::new();
    for &id in ids {
        let sql = "DELETE FROM messages WHERE id = ?1 AND folder = ?2 RETURNING fid, uid";
        let Some(row) = tx.query_opt(sql, args![id, folder]).await? else { continue };
        let (fid, uid): (String, i64) = (row.get(0)?, row.get(1)?);
        removed.push(uid);
        if !letter_in_use(tx, &fid).await? {
            freed.push(fid);
        }
    }
    if !removed.is_empty() {
        log_expunged(tx, folder, &removed).await?;
    }
    super::blobs::forget(tx, &freed).await?;
    Ok(freed)
}

/// Expunge-log rows kept per folder; older ones are pruned, and a session
/// that fell behind the pruned part compares UIDs instead.
const EXPUNGED_KEPT: i64 = 10_000;

async fn log_expunged(tx: &mut Tx<'_>, folder: i64, uids: &[i64]) -> Result<(), StoreError> {
    let modseq = bump_modseq(tx, folder).await?;
    for &uid in uids {
        tx.execute("INSERT INTO expunged (folder, uid, modseq) VALUES (?1, ?2, ?3)", args![folder, uid, modseq]).await?;
    }
    let oldest_kept = tx
        .query_opt(
            "SELECT modseq FROM expunged WHERE folder = ?1 ORDER BY modseq DESC LIMIT 1 OFFSET ?2",
            args![folder, EXPUNGED_KEPT],
        )
        .await?;
    if let Some(row) = oldest_kept {
        let floor: i64 = row.get(0)?;
        tx.execute("DELETE FROM expunged WHERE folder = ?1 AND modseq <= ?2", args![folder, floor]).await?;
        tx.execute(
            "UPDATE folders SET expunged_floor = CASE WHEN expunged_floor > ?2 THEN expunged_floor ELSE ?2 END WHERE id = ?1",
            args![folder, floor],
        )
        .await?;
    }
    Ok(())
}

/// The folder's next modification sequence (CONDSTORE): every change to a
/// letter or the set of letters takes one.
pub async fn bump_modseq(tx: &mut Tx<'_>, folder: i64) -> Result<i64, StoreError> {
    tx.query_opt("UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ?1 RETURNING highestmodseq", args![folder])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))?
        .get(0)
}

/// Set `bits` on letters by row id (e.g. SEEN after a POP3 RETR); each
/// letter that changes gets a new modseq, so IMAP sessions see it.
pub async fn add_flags(tx: &mut Tx<'_>, ids: &[i64], bits: i64) -> Result<(), StoreError> {
    for &id in ids {
        let unset = tx.query_opt("SELECT folder FROM messages WHERE id = ?1 AND (flags & ?2) != ?2", args![id, bits]).await?;
        let Some(row) = unset else { continue };
        let folder: i64 = row.get(0)?;
        let modseq = bump_modseq(tx, folder).await?;
        tx.execute("UPDATE messages SET flags = flags | ?2, modseq = ?3 WHERE id = ?1", args![id, bits, modseq]).await?;
    }
    Ok(())
}

/// Letters of `folder` changed or added after `modseq`.
pub async fn letters_changed_since(tx: &mut Tx<'_>, folder: i64, modseq: i64) -> Result<Vec<Letter>, StoreError> {
    letters_where(tx, "folder = ?1 AND modseq > ?2", args![folder, modseq]).await
}

/// UIDs expunged from `folder` after `modseq`, or None when that part of
/// the log was pruned (the caller must compare UIDs).
pub async fn expunged_since(tx: &mut Tx<'_>, folder: i64, modseq: i64) -> Result<Option<Vec<i64>>, StoreError> {
    let floor = match tx.query_opt("SELECT expunged_floor FROM folders WHERE id = ?1", args![folder]).await? {
        Some(row) => row.get(0)?,
        None => 0,
    };
    if modseq < floor {
        return Ok(None);
    }
    let uids = tx.column("SELECT uid FROM expunged WHERE folder = ?1 AND modseq > ?2 ORDER BY uid", args![folder, modseq]).await?;
    Ok(Some(uids))
}

/// Every UID in `folder`, ascending.
pub async fn uids(tx: &mut Tx<'_>, folder: i64) -> Result<Vec<i64>, StoreError> {
    tx.column("SELECT uid FROM messages WHERE folder = ?1 ORDER BY uid", args![folder]).await
}

/// The letters of `folder` with these UIDs (those still there), by UID.
pub async fn letters_by_uid(tx: &mut Tx<'_>, folder: i64, uids: &[i64]) -> Result<Vec<Letter>, StoreError> {
    let (Some(&low), Some(&high)) = (uids.iter().min(), uids.iter().max()) else { return Ok(Vec::new()) };
    let range = letters_where(tx, "folder = ?1 AND uid BETWEEN ?2 AND ?3", args![folder, low, high]).await?;
    let wanted: std::collections::HashSet<i64> = uids.iter().copied().collect();
    Ok(range.into_iter().filter(|l| wanted.contains(&l.uid)).collect())
}

/// Does any letter use file `fid`?
pub async fn letter_in_use(tx: &mut Tx<'_>, fid: &str) -> Result<bool, StoreError> {
    tx.query_one("SELECT EXISTS (SELECT 1 FROM messages WHERE fid = ?1)", args![fid]).await?.get(0)
}

pub async fn letters(tx: &mut Tx<'_>, folder: i64) -> Result<Vec<Letter>, StoreError> {
    letters_where(tx, "folder = ?1", args![folder]).await
}

/// Letters matching a fixed SQL condition (parameters bound), by UID.
pub(crate) async fn letters_where(tx: &mut Tx<'_>, condition: &str, params: &[Param<'_>]) -> Result<Vec<Letter>, StoreError> {
    let sql = format!("SELECT {LETTER_COLUMNS} FROM messages WHERE {condition} ORDER BY uid");
    tx.query_map(&sql, params, |row| letter_row(&row)).await
}

#[cfg(test)]
mod tests {
    use super::super::accounts;
    use super::*;
    use crate::store::sql::run_ready;
    use crate::store::sql::testing::with_account;

    #[test]
    fn uids_grow_per_folder() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        let inbox = run_ready(ensure_folder(tx, ann, "inbox", 1000)).unwrap();
        assert_eq!(inbox.name, "INBOX");
        assert_eq!(run_ready(ensure_folder(tx, ann, "INBOX", 2000)).unwrap(), inbox, "created twice");
        let sent = run_ready(ensure_folder(tx, ann, "Sent", 1000)).unwrap();
        assert_eq!(run_ready(append(tx, inbox.id, "aaaa", 10, 1000, flags::RECENT)).unwrap(), 1);
        assert_eq!(run_ready(append(tx, inbox.id, "bbbb", 20, 1001, 0)).unwrap(), 2);
        assert_eq!(run_ready(append(tx, sent.id, "cccc", 30, 1002, flags::SEEN)).unwrap(), 1);
        let got: Vec<(i64, String)> = run_ready(letters(tx, inbox.id)).unwrap().into_iter().map(|l| (l.uid, l.fid)).collect();
        assert_eq!(got, [(1, "aaaa".to_string()), (2, "bbbb".to_string())]);
        assert_eq!(run_ready(find_folder(tx, ann, "INBOX")).unwrap().unwrap().uidnext, 3);
        let names: Vec<String> = run_ready(list_folders(tx, ann)).unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "Drafts", "Junk", "Sent", "Trash"]); // a new account's defaults
    }

    #[test]
    fn uidvalidity_never_repeats_for_a_recreated_folder() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        let first = run_ready(ensure_folder(tx, ann, "Archive", 5000)).unwrap();
        let other = run_ready(ensure_folder(tx, ann, "Other", 5000)).unwrap();
        assert!(other.uidvalidity > first.uidvalidity);
        run_ready(tx.execute("DELETE FROM folders WHERE id = ?1", args![first.id])).unwrap();
        let again = run_ready(ensure_folder(tx, ann, "Archive", 5000)).unwrap();
        assert!(again.uidvalidity > other.uidvalidity);
        // The folder holding the highest value goes too: still never repeated.
        run_ready(tx.execute("DELETE FROM folders WHERE id IN (?1, ?2)", args![again.id, other.id])).unwrap();
        let third = run_ready(ensure_folder(tx, ann, "Archive", 5000)).unwrap();
        assert!(third.uidvalidity > again.uidvalidity);
    }

    #[test]
    fn removing_letters_frees_their_files_once_unused() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        let inbox = run_ready(ensure_folder(tx, ann, "INBOX", 1)).unwrap();
        let sent = run_ready(ensure_folder(tx, ann, "Sent", 1)).unwrap();
        run_ready(append(tx, inbox.id, "aaaa", 1, 1, 0)).unwrap();
        run_ready(append(tx, inbox.id, "bbbb", 1, 1, 0)).unwrap();
        run_ready(append(tx, sent.id, "bbbb", 1, 1, 0)).unwrap(); // a copy shares the file
        let ids: Vec<i64> = run_ready(letters(tx, inbox.id)).unwrap().iter().map(|l| l.id).collect();
        run_ready(add_flags(tx, &ids, flags::SEEN)).unwrap();
        assert!(run_ready(letters(tx, inbox.id)).unwrap().iter().all(|l| l.flags & flags::SEEN != 0));
        assert_eq!(run_ready(remove_letters(tx, sent.id, &ids)).unwrap(), Vec::<String>::new(), "wrong folder: nothing removed");
        assert_eq!(run_ready(remove_letters(tx, inbox.id, &ids)).unwrap(), ["aaaa"]);
        assert!(run_ready(letters(tx, inbox.id)).unwrap().is_empty());
    }

    #[test]
    fn deleting_the_account_deletes_its_mail_rows() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        let inbox = run_ready(ensure_folder(tx, ann, "INBOX", 1)).unwrap();
        run_ready(append(tx, inbox.id, "aaaa", 1, 1, 0)).unwrap();
        run_ready(accounts::delete_account(tx, "example.org", "ann")).unwrap();
        let left: i64 = run_ready(tx.query_one("SELECT COUNT(*) FROM messages", &[])).unwrap().get(0).unwrap();
        assert_eq!(left, 0);
        assert!(run_ready(append(tx, inbox.id, "bbbb", 1, 1, 0)).is_err());
    }
}
