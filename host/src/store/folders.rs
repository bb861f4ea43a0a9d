//! What IMAP does to folders and letters beyond delivery: flag changes (with
//! a new modification sequence each), expunge, copy, and folder create,
//! rename, delete, subscribe. Each function works inside the caller's
//! transaction; the caller commits and removes freed files afterwards.

use super::StoreError;
use super::sql::{Tx, args};
use super::mailbox::{self, Folder, Letter, canonical_name, flags};

/// Folders every new mailbox account gets, with their RFC 6154 attribute.
pub const SPECIAL_FOLDERS: [(&str, &str); 4] = [("Drafts", "Drafts"), ("Sent", "Sent"), ("Trash", "Trash"), ("Junk", "Junk")];

/// INBOX and the special-use folders, for a new account.
pub async fn create_defaults(tx: &mut Tx<'_>, account: i64, now: i64) -> Result<(), StoreError> {
    mailbox::ensure_folder(tx, account, "INBOX", now).await?;
    for (name, special) in SPECIAL_FOLDERS {
        let folder = mailbox::ensure_folder(tx, account, name, now).await?;
        tx.execute("UPDATE folders SET special = ?2 WHERE id = ?1", args![folder.id, special]).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    Replace,
    Add,
    Remove,
}

/// Change flags and keywords of letters `ids` in `folder`. Letters whose
/// modseq is above `unchanged_since` are left alone (CONDSTORE) and listed
/// in the second vector (their UIDs). Returns the letters as they are now
/// (only those that actually changed get a new modseq).
pub async fn change_flags(
    tx: &mut Tx<'_>,
    folder: i64,
    ids: &[i64],
    change: FlagChange,
    bits: i64,
    keywords: &[String],
    unchanged_since: Option<i64>,
) -> Result<(Vec<Letter>, Vec<i64>), StoreError> {
    tx.lock_folder(folder).await?;
    let mut changed = Vec::new();
    let mut refused = Vec::new();
    for &id in ids {
        let Some(letter) = letter_by_id(tx, folder, id).await? else { continue };
        if unchanged_since.is_some_and(|u| letter.modseq > u) {
            refused.push(letter.uid);
            continue;
        }
        let (new_bits, new_keywords) = apply(&letter, change, bits, keywords);
        if new_bits == letter.flags && new_keywords == letter.keywords {
            changed.push(letter);
            continue;
        }
        let modseq = mailbox::bump_modseq(tx, folder).await?;
        tx.execute(
            "UPDATE messages SET flags = ?2, keywords = ?3, modseq = ?4 WHERE id = ?1",
            args![id, new_bits, &new_keywords, modseq],
        )
        .await?;
        changed.push(Letter { flags: new_bits, keywords: new_keywords, modseq, ..letter });
    }
    Ok((changed, refused))
}

/// The bits IMAP clients may set (\Recent is the server's).
const CLIENT_BITS: i64 = flags::SEEN | flags::ANSWERED | flags::FLAGGED | flags::DELETED | flags::DRAFT;

fn apply(letter: &Letter, change: FlagChange, bits: i64, keywords: &[String]) -> (i64, String) {
    let bits = bits & CLIENT_BITS;
    let mut current: Vec<String> = letter.keywords.split(' ').filter(|k| !k.is_empty()).map(String::from).collect();
    let new_bits = match change {
        FlagChange::Replace => (letter.flags & !CLIENT_BITS) | bits,
        FlagChange::Add => letter.flags | bits,
        FlagChange::Remove => letter.flags & !bits,
    };
    match change {
        FlagChange::Replace => current = keywords.to_vec(),
        FlagChange::Add => {
            for k in keywords {
                if !current.iter().any(|c| c.eq_ignore_ascii_case(k)) {
                    current.push(k.clone());
                }
            }
        }
        FlagChange::Remove => current.retain(|c| !keywords.iter().any(|k| k.eq_ignore_ascii_case(c))),
    }
    (new_bits, current.join(" "))
}

async fn letter_by_id(tx: &mut Tx<'_>, folder: i64, id: i64) -> Result<Option<Letter>, StoreError> {
    Ok(mailbox::letters_where(tx, "folder = ?1 AND id = ?2", args![folder, id]).await?.into_iter().next())
}

/// Remove the letters of `folder` marked \Deleted (only those with a UID in
/// `only`, when given: UID EXPUNGE). Returns the removed UIDs in order and
/// the files no letter uses any more.
pub async fn expunge(tx: &mut Tx<'_>, folder: i64, only: Option<&[i64]>) -> Result<(Vec<i64>, Vec<String>), StoreError> {
    tx.lock_folder(folder).await?;
    let doomed: Vec<Letter> = mailbox::letters(tx, folder)
        .await?
        .into_iter()
        .filter(|l| l.flags & flags::DELETED != 0 && only.is_none_or(|o| o.contains(&l.uid)))
        .collect();
    let ids: Vec<i64> = doomed.iter().map(|l| l.id).collect();
    let freed = mailbox::remove_letters(tx, folder, &ids).await?;
    Ok((doomed.iter().map(|l| l.uid).collect(), freed))
}

/// Copy letters into `to` (same files, new UIDs, \Recent set). Returns
/// (source UID, new UID) pairs for COPYUID.
pub async fn copy(tx: &mut Tx<'_>, letters: &[Letter], to: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut pairs = Vec::with_capacity(letters.len());
    for l in letters {
        let bits = (l.flags & CLIENT_BITS) | flags::RECENT;
        let uid = mailbox::append_with_keywords(tx, to, &l.fid, l.size, l.internaldate, bits, &l.keywords).await?;
        pairs.push((l.uid, uid));
    }
    Ok(pairs)
}

/// Clear \Recent on every letter of `folder`; returns the UIDs that had it
/// (they are recent for the session that selected the folder).
pub async fn take_recent(tx: &mut Tx<'_>, folder: i64) -> Result<Vec<i64>, StoreError> {
    // Every letter's modseq is at least 1.
    take_recent_since(tx, folder, 0).await
}

/// `take_recent` among the letters changed after `modseq` (every letter
/// still \Recent arrived after the session's last look, so this finds them
/// without reading the whole folder).
pub async fn take_recent_since(tx: &mut Tx<'_>, folder: i64, modseq: i64) -> Result<Vec<i64>, StoreError> {
    let sql = "UPDATE messages SET flags = flags & ~CAST(?2 AS BIGINT)
               WHERE folder = ?1 AND modseq > ?3 AND (flags & ?2) != 0 RETURNING uid";
    let mut uids: Vec<i64> = tx.column(sql, args![folder, flags::RECENT, modseq]).await?;
    uids.sort_unstable();
    Ok(uids)
}

/// A new folder made by a client: not subscribed (clients SUBSCRIBE what
/// they want, as with Dovecot); INBOX and the special-use ones are.
pub async fn create(tx: &mut Tx<'_>, account: i64, name: &str, now: i64) -> Result<Folder, StoreError> {
    if mailbox::find_folder(tx, account, name).await?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {name}")));
    }
    let folder = mailbox::ensure_folder(tx, account, name, now).await?;
    tx.execute("UPDATE folders SET subscribed = 0 WHERE id = ?1", args![folder.id]).await?;
    Ok(Folder { subscribed: false, ..folder })
}

/// Delete a folder and its letters; returns the freed files. INBOX cannot
/// be deleted (RFC 3501 §6.3.4).
pub async fn delete(tx: &mut Tx<'_>, account: i64, name: &str) -> Result<Vec<String>, StoreError> {
    if canonical_name(name) == "INBOX" {
        return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
    }
    let folder = mailbox::find_folder(tx, account, name).await?.ok_or_else(|| StoreError::NotFound(format!("mailbox {name}")))?;
    let ids: Vec<i64> = mailbox::letters(tx, folder.id).await?.iter().map(|l| l.id).collect();
    let freed = mailbox::remove_letters(tx, folder.id, &ids).await?;
    tx.execute("DELETE FROM folders WHERE id = ?1", args![folder.id]).await?;
    Ok(freed)
}

/// Rename a folder and everything below it (`sep` is the hierarchy
/// separator). Renaming INBOX moves its letters into a new folder and
/// leaves INBOX empty (RFC 3501 §6.3.5).
pub async fn rename(tx: &mut Tx<'_>, account: i64, from: &str, to: &str, sep: char, now: i64) -> Result<(), StoreError> {
    let source = mailbox::find_folder(tx, account, from).await?.ok_or_else(|| StoreError::NotFound(format!("mailbox {from}")))?;
    if mailbox::find_folder(tx, account, to).await?.is_some() {
        return Err(StoreError::Exists(format!("mailbox {to}")));
    }
    if source.name == "INBOX" {
        let target = mailbox::ensure_folder(tx, account, to, now).await?;
        let letters = mailbox::letters(tx, source.id).await?;
        copy(tx, &letters, target.id).await?;
        let ids: Vec<i64> = letters.iter().map(|l| l.id).collect();
        mailbox::remove_letters(tx, source.id, &ids).await?;
        return Ok(());
    }
    let prefix = format!("{}{sep}", source.name);
    for f in mailbox::list_folders(tx, account).await? {
        let new_name = if f.id == source.id {
            to.to_string()
        } else if let Some(rest) = f.name.strip_prefix(&prefix) {
            format!("{to}{sep}{rest}")
        } else {
            continue;
        };
        tx.execute("UPDATE folders SET name = ?2 WHERE id = ?1", args![f.id, &new_name]).await?;
    }
    Ok(())
}

pub async fn subscribe(tx: &mut Tx<'_>, account: i64, name: &str, on: bool) -> Result<bool, StoreError> {
    let changed = tx
        .execute("UPDATE folders SET subscribed = ?3 WHERE account = ?1 AND name = ?2", args![account, &canonical_name(name), on])
        .await?;
    Ok(changed > 0)
}

/// The highest modseq of a folder (for HIGHESTMODSEQ and CONDSTORE).
pub async fn highest_modseq(tx: &mut Tx<'_>, folder: i64) -> Result<i64, StoreError> {
    match tx.query_opt("SELECT highestmodseq FROM folders WHERE id = ?1", args![folder]).await? {
        Some(row) => row.get(0),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::run_ready;
    use crate::store::sql::testing::with_account as account;

    #[test]
    fn new_accounts_get_special_use_folders() {
        let (mut c, ann) = account();
        let tx = &mut Tx::sqlite(&mut c);
        let names: Vec<(String, String)> = run_ready(mailbox::list_folders(tx, ann)).unwrap().into_iter().map(|f| (f.name, f.special)).collect();
        assert_eq!(names[0], ("INBOX".to_string(), String::new()));
        assert!(names.contains(&("Sent".to_string(), "Sent".to_string())));
        assert!(names.contains(&("Trash".to_string(), "Trash".to_string())));
    }

    #[test]
    fn flags_keywords_modseq_expunge_and_copy() {
        let (mut c, ann) = account();
        let tx = &mut Tx::sqlite(&mut c);
        let inbox = run_ready(mailbox::find_folder(tx, ann, "INBOX")).unwrap().unwrap();
        run_ready(mailbox::append(tx, inbox.id, "aaaa", 10, 1, flags::RECENT)).unwrap();
        run_ready(mailbox::append(tx, inbox.id, "bbbb", 10, 1, 0)).unwrap();
        let ls = run_ready(mailbox::letters(tx, inbox.id)).unwrap();
        let ids: Vec<i64> = ls.iter().map(|l| l.id).collect();
        let start = run_ready(highest_modseq(tx, inbox.id)).unwrap();
        let (got, refused) = run_ready(change_flags(tx, inbox.id, &ids, FlagChange::Add, flags::SEEN | flags::RECENT, &["$Forwarded".into()], None)).unwrap();
        assert!(refused.is_empty());
        assert!(got.iter().all(|l| l.flags & flags::SEEN != 0 && l.keywords == "$Forwarded" && l.modseq > start));
        assert_eq!(got[1].flags & flags::RECENT, 0, "clients cannot set \\Recent");
        // CONDSTORE: a stale UNCHANGEDSINCE is refused
        let (_, refused) = run_ready(change_flags(tx, inbox.id, &ids[..1], FlagChange::Add, flags::FLAGGED, &[], Some(start))).unwrap();
        assert_eq!(refused, [1]);
        assert_eq!(run_ready(take_recent(tx, inbox.id)).unwrap(), [1]);
        assert!(run_ready(take_recent(tx, inbox.id)).unwrap().is_empty());
        run_ready(change_flags(tx, inbox.id, &ids[..1], FlagChange::Replace, flags::DELETED, &[], None)).unwrap();
        let trash = run_ready(mailbox::find_folder(tx, ann, "Trash")).unwrap().unwrap();
        let all = run_ready(mailbox::letters(tx, inbox.id)).unwrap();
        let pairs = run_ready(copy(tx, &all, trash.id)).unwrap();
        assert_eq!(pairs, [(1, 1), (2, 2)]);
        let (uids, freed) = run_ready(expunge(tx, inbox.id, None)).unwrap();
        assert_eq!(uids, [1]);
        assert!(freed.is_empty(), "the copy in Trash still uses the file");
    }

    #[test]
    fn rename_moves_children_and_inbox_rename_moves_mail() {
        let (mut c, ann) = account();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(create(tx, ann, "Work", 1)).unwrap();
        run_ready(create(tx, ann, "Work/2026", 1)).unwrap();
        assert!(matches!(run_ready(create(tx, ann, "Work", 1)), Err(StoreError::Exists(_))));
        run_ready(rename(tx, ann, "Work", "Old", '/', 1)).unwrap();
        assert!(run_ready(mailbox::find_folder(tx, ann, "Old/2026")).unwrap().is_some());
        let inbox = run_ready(mailbox::find_folder(tx, ann, "INBOX")).unwrap().unwrap();
        run_ready(mailbox::append(tx, inbox.id, "aaaa", 10, 1, 0)).unwrap();
        run_ready(rename(tx, ann, "INBOX", "Saved", '/', 1)).unwrap();
        assert!(run_ready(mailbox::letters(tx, inbox.id)).unwrap().is_empty());
        let saved = run_ready(mailbox::find_folder(tx, ann, "Saved")).unwrap().unwrap();
        assert_eq!(run_ready(mailbox::letters(tx, saved.id)).unwrap().len(), 1);
        assert!(run_ready(delete(tx, ann, "INBOX")).is_err());
        assert_eq!(run_ready(delete(tx, ann, "Saved")).unwrap(), ["aaaa"]);
        assert!(run_ready(subscribe(tx, ann, "Old", false)).unwrap());
    }
}
