//! Mailboxes: an account's folders (INBOX is a real row here; Rumble's
//! implicit folder 0) and the letters in them, with IMAP's per-folder UIDs
//! and UIDVALIDITY.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;

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

fn folder_row(row: &Row) -> rusqlite::Result<Folder> {
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

fn letter_row(row: &Row) -> rusqlite::Result<Letter> {
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

pub fn find_folder(conn: &Connection, account: i64, name: &str) -> Result<Option<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ?1 AND name = ?2");
    Ok(conn.query_row(&sql, params![account, canonical_name(name)], folder_row).optional()?)
}

/// The folder, created if missing. UIDVALIDITY is the time of creation, and
/// always above every value handed out before (a high-water mark kept in
/// `counters`, since the folder that had the highest may be gone), so a
/// folder deleted and made again under the same name never reuses one.
pub fn ensure_folder(conn: &Connection, account: i64, name: &str, now: i64) -> Result<Folder, StoreError> {
    if let Some(f) = find_folder(conn, account, name)? {
        return Ok(f);
    }
    let uidvalidity: i64 = conn.query_row(
        "UPDATE counters SET value = MAX(value + 1, ?1) WHERE name = 'uidvalidity' RETURNING value",
        [now],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO folders (account, name, uidvalidity) VALUES (?1, ?2, ?3)",
        params![account, canonical_name(name), uidvalidity],
    )?;
    find_folder(conn, account, name)?.ok_or_else(|| StoreError::NotFound(format!("folder {name}")))
}

pub fn list_folders(conn: &Connection, account: i64) -> Result<Vec<Folder>, StoreError> {
    let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders WHERE account = ?1 ORDER BY name != 'INBOX', name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([account], folder_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Add a letter (its file already written) with the folder's next UID.
pub fn append(conn: &mut Connection, folder: i64, fid: &str, size: i64, internaldate: i64, flags: i64) -> Result<i64, StoreError> {
    let tx = conn.transaction()?;
    let uid = append_in(&tx, folder, fid, size, internaldate, flags)?;
    tx.commit()?;
    Ok(uid)
}

/// `append` inside the caller's transaction (local delivery adds the letter
/// and removes the queue row together).
pub fn append_in(conn: &Connection, folder: i64, fid: &str, size: i64, internaldate: i64, flags: i64) -> Result<i64, StoreError> {
    append_with_keywords(conn, folder, fid, size, internaldate, flags, "")
}

/// `append_in` with IMAP keywords; the letter gets the folder's next
/// modification sequence.
pub fn append_with_keywords(
    conn: &Connection,
    folder: i64,
    fid: &str,
    size: i64,
    internaldate: i64,
    flags: i64,
    keywords: &str,
) -> Result<i64, StoreError> {
    let (uid, modseq): (i64, i64) = conn
        .query_row(
            "UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ?1
             RETURNING uidnext - 1, highestmodseq",
            [folder],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))?;
    conn.execute(
        "INSERT INTO messages (folder, uid, fid, size, internaldate, flags, keywords, modseq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![folder, uid, fid, size, internaldate, flags, keywords, modseq],
    )?;
    Ok(uid)
}

/// Where a domain's letter files live: its own storage path, or StorageFolder.
pub fn letter_dir(storage: &std::path::Path, domain_storage_path: &str) -> std::path::PathBuf {
    if domain_storage_path.is_empty() { storage.to_path_buf() } else { std::path::PathBuf::from(domain_storage_path) }
}

/// Where the letter files of `domain`'s accounts live.
pub fn domain_letter_dir(conn: &Connection, storage: &std::path::Path, domain: &str) -> Result<std::path::PathBuf, StoreError> {
    let path = super::accounts::find_domain(conn, domain)?.map(|d| d.storage_path).unwrap_or_default();
    Ok(letter_dir(storage, &path))
}

/// Remove letters of `folder` by row id; returns the files no row uses any
/// more (the caller removes them after the commit). The removed UIDs go to
/// the expunge log under one new modseq, so IMAP sessions learn of them
/// without comparing whole folders.
pub fn remove_letters(conn: &Connection, folder: i64, ids: &[i64]) -> Result<Vec<String>, StoreError> {
    let mut delete = conn.prepare_cached("DELETE FROM messages WHERE id = ?1 AND folder = ?2 RETURNING fid, uid")?;
    let mut freed = Vec::new();
    let mut removed = Vec::new();
    for id in ids {
        let Some((fid, uid)) = delete.query_row(params![id, folder], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).optional()?
        else {
            continue;
        };
        removed.push(uid);
        if !letter_in_use(conn, &fid)? {
            freed.push(fid);
        }
    }
    if !removed.is_empty() {
        log_expunged(conn, folder, &removed)?;
    }
    Ok(freed)
}

/// Expunge-log rows kept per folder; older ones are pruned, and a session
/// that fell behind the pruned part compares UIDs instead.
const EXPUNGED_KEPT: i64 = 10_000;

fn log_expunged(conn: &Connection, folder: i64, uids: &[i64]) -> Result<(), StoreError> {
    let modseq = bump_modseq(conn, folder)?;
    let mut insert = conn.prepare_cached("INSERT INTO expunged (folder, uid, modseq) VALUES (?1, ?2, ?3)")?;
    for uid in uids {
        insert.execute(params![folder, uid, modseq])?;
    }
    let oldest_kept: Option<i64> = conn
        .query_row(
            "SELECT modseq FROM expunged WHERE folder = ?1 ORDER BY modseq DESC LIMIT 1 OFFSET ?2",
            params![folder, EXPUNGED_KEPT],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(floor) = oldest_kept {
        conn.execute("DELETE FROM expunged WHERE folder = ?1 AND modseq <= ?2", params![folder, floor])?;
        conn.execute("UPDATE folders SET expunged_floor = MAX(expunged_floor, ?2) WHERE id = ?1", params![folder, floor])?;
    }
    Ok(())
}

/// The folder's next modification sequence (CONDSTORE): every change to a
/// letter or the set of letters takes one.
pub fn bump_modseq(conn: &Connection, folder: i64) -> Result<i64, StoreError> {
    conn.query_row(
        "UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = ?1 RETURNING highestmodseq",
        [folder],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("folder {folder}")))
}

/// Set `bits` on letters by row id (e.g. SEEN after a POP3 RETR); each
/// letter that changes gets a new modseq, so IMAP sessions see it.
pub fn add_flags(conn: &Connection, ids: &[i64], bits: i64) -> Result<(), StoreError> {
    let mut unset = conn.prepare_cached("SELECT folder FROM messages WHERE id = ?1 AND flags & ?2 != ?2")?;
    let mut update = conn.prepare_cached("UPDATE messages SET flags = flags | ?2, modseq = ?3 WHERE id = ?1")?;
    for id in ids {
        let Some(folder) = unset.query_row(params![id, bits], |r| r.get::<_, i64>(0)).optional()? else { continue };
        let modseq = bump_modseq(conn, folder)?;
        update.execute(params![id, bits, modseq])?;
    }
    Ok(())
}

/// Letters of `folder` changed or added after `modseq`.
pub fn letters_changed_since(conn: &Connection, folder: i64, modseq: i64) -> Result<Vec<Letter>, StoreError> {
    letters_where(conn, "folder = ?1 AND modseq > ?2", params![folder, modseq])
}

/// UIDs expunged from `folder` after `modseq`, or None when that part of
/// the log was pruned (the caller must compare UIDs).
pub fn expunged_since(conn: &Connection, folder: i64, modseq: i64) -> Result<Option<Vec<i64>>, StoreError> {
    let floor: i64 = conn
        .query_row("SELECT expunged_floor FROM folders WHERE id = ?1", [folder], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    if modseq < floor {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached("SELECT uid FROM expunged WHERE folder = ?1 AND modseq > ?2 ORDER BY uid")?;
    let uids = stmt.query_map(params![folder, modseq], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(Some(uids))
}

/// Every UID in `folder`, ascending.
pub fn uids(conn: &Connection, folder: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT uid FROM messages WHERE folder = ?1 ORDER BY uid")?;
    let uids = stmt.query_map([folder], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(uids)
}

/// The letters of `folder` with these UIDs (those still there), by UID.
pub fn letters_by_uid(conn: &Connection, folder: i64, uids: &[i64]) -> Result<Vec<Letter>, StoreError> {
    let (Some(&low), Some(&high)) = (uids.iter().min(), uids.iter().max()) else { return Ok(Vec::new()) };
    let range = letters_where(conn, "folder = ?1 AND uid BETWEEN ?2 AND ?3", params![folder, low, high])?;
    let wanted: std::collections::HashSet<i64> = uids.iter().copied().collect();
    Ok(range.into_iter().filter(|l| wanted.contains(&l.uid)).collect())
}

/// Does any letter use file `fid`?
pub fn letter_in_use(conn: &Connection, fid: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM messages WHERE fid = ?1)", [fid], |r| r.get(0))?)
}

pub fn letters(conn: &Connection, folder: i64) -> Result<Vec<Letter>, StoreError> {
    letters_where(conn, "folder = ?1", params![folder])
}

/// Letters matching a fixed SQL condition (parameters bound), by UID.
pub(crate) fn letters_where(conn: &Connection, condition: &str, args: impl rusqlite::Params) -> Result<Vec<Letter>, StoreError> {
    let sql = format!("SELECT {LETTER_COLUMNS} FROM messages WHERE {condition} ORDER BY uid");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, letter_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::accounts::{self, AccountKind, NewAccount};
    use super::*;

    fn with_account() -> (Connection, i64) {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        accounts::add_domain(&conn, "example.org", "", 0).unwrap();
        let new = NewAccount { domain: "example.org".into(), user: "ann".into(), password: None, kind: AccountKind::Mbox, arg: String::new() };
        let id = accounts::add_account(&conn, &new).unwrap().id;
        (conn, id)
    }

    #[test]
    fn uids_grow_per_folder() {
        let (mut c, ann) = with_account();
        let inbox = ensure_folder(&c, ann, "inbox", 1000).unwrap();
        assert_eq!(inbox.name, "INBOX");
        assert_eq!(ensure_folder(&c, ann, "INBOX", 2000).unwrap(), inbox, "created twice");
        let sent = ensure_folder(&c, ann, "Sent", 1000).unwrap();
        assert_eq!(append(&mut c, inbox.id, "aaaa", 10, 1000, flags::RECENT).unwrap(), 1);
        assert_eq!(append(&mut c, inbox.id, "bbbb", 20, 1001, 0).unwrap(), 2);
        assert_eq!(append(&mut c, sent.id, "cccc", 30, 1002, flags::SEEN).unwrap(), 1);
        let got: Vec<(i64, String)> = letters(&c, inbox.id).unwrap().into_iter().map(|l| (l.uid, l.fid)).collect();
        assert_eq!(got, [(1, "aaaa".to_string()), (2, "bbbb".to_string())]);
        assert_eq!(find_folder(&c, ann, "INBOX").unwrap().unwrap().uidnext, 3);
        let names: Vec<String> = list_folders(&c, ann).unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "Drafts", "Junk", "Sent", "Trash"]); // a new account's defaults
    }

    #[test]
    fn uidvalidity_never_repeats_for_a_recreated_folder() {
        let (c, ann) = with_account();
        let first = ensure_folder(&c, ann, "Archive", 5000).unwrap();
        let other = ensure_folder(&c, ann, "Other", 5000).unwrap();
        assert!(other.uidvalidity > first.uidvalidity);
        c.execute("DELETE FROM folders WHERE id = ?1", [first.id]).unwrap();
        let again = ensure_folder(&c, ann, "Archive", 5000).unwrap();
        assert!(again.uidvalidity > other.uidvalidity);
        // The folder holding the highest value goes too: still never repeated.
        c.execute("DELETE FROM folders WHERE id IN (?1, ?2)", [again.id, other.id]).unwrap();
        let third = ensure_folder(&c, ann, "Archive", 5000).unwrap();
        assert!(third.uidvalidity > again.uidvalidity);
    }

    #[test]
    fn removing_letters_frees_their_files_once_unused() {
        let (mut c, ann) = with_account();
        let inbox = ensure_folder(&c, ann, "INBOX", 1).unwrap();
        let sent = ensure_folder(&c, ann, "Sent", 1).unwrap();
        append(&mut c, inbox.id, "aaaa", 1, 1, 0).unwrap();
        append(&mut c, inbox.id, "bbbb", 1, 1, 0).unwrap();
        append(&mut c, sent.id, "bbbb", 1, 1, 0).unwrap(); // a copy shares the file
        let ids: Vec<i64> = letters(&c, inbox.id).unwrap().iter().map(|l| l.id).collect();
        add_flags(&c, &ids, flags::SEEN).unwrap();
        assert!(letters(&c, inbox.id).unwrap().iter().all(|l| l.flags & flags::SEEN != 0));
        assert_eq!(remove_letters(&c, sent.id, &ids).unwrap(), Vec::<String>::new(), "wrong folder: nothing removed");
        assert_eq!(remove_letters(&c, inbox.id, &ids).unwrap(), ["aaaa"]);
        assert!(letters(&c, inbox.id).unwrap().is_empty());
    }

    #[test]
    fn deleting_the_account_deletes_its_mail_rows() {
        let (mut c, ann) = with_account();
        let inbox = ensure_folder(&c, ann, "INBOX", 1).unwrap();
        append(&mut c, inbox.id, "aaaa", 1, 1, 0).unwrap();
        accounts::delete_account(&c, "example.org", "ann").unwrap();
        let left: i64 = c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
        assert!(append(&mut c, inbox.id, "bbbb", 1, 1, 0).is_err());
    }
}
