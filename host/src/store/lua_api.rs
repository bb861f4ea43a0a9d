//! What the Lua `Mailman.*` API needs beyond the protocols' operations:
//! accounts by id, Rumble's `saveAccount`, removing an account or a domain
//! together with its letters, renaming a domain, removing one letter,
//! reading letter headers and queueing a message a script wrote. Grants
//! are the caller's business (plugins/mailman.rs); these only keep the
//! store consistent: rows and files go together, changes are announced.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::accounts::{self, ACCOUNT_COLUMNS, Account, AccountKind, account_from_row, normalize_domain, normalize_user};
use super::mailbox::{self, Letter};
use super::sql::{Tx, args};
use super::{Store, StoreError, blobs, spool, unix_now};

/// `saveAccount`: a new account (`existing` None) or the account with this
/// id, which must still be in the domain the caller checked.
pub struct SavedAccount {
    pub existing: Option<(i64, String)>,
    pub domain: String,
    pub user: String,
    pub kind: AccountKind,
    /// The stored form: a hash (argon2 PHC or Rumble's hex SHA-256), or "".
    pub password: String,
    pub arg: String,
}

/// The most header bytes `listHeaders` reads of one letter.
const MAX_HEADER: u64 = 64 * 1024;

impl Store {
    pub async fn account_by_id(&self, id: i64) -> Result<Option<Account>, StoreError> {
        self.autocommit(move |tx| Box::pin(account_by_id(tx, id))).await
    }

    /// False when the domain is not ours, when the name is taken by another
    /// account, or when the account to update is gone (or left the domain).
    pub async fn save_account(&self, saved: SavedAccount) -> Result<bool, StoreError> {
        self.transaction(move |tx| Box::pin(async move { save_account(tx, &saved).await })).await
    }

    /// Delete `account` with its folders and letters; the letter files no
    /// other letter uses are removed after the commit.
    pub async fn remove_account(&self, account: &Account) -> Result<bool, StoreError> {
        let dir = self.letter_dir(account).await?;
        let id = account.id;
        let removed = self.transaction(move |tx| Box::pin(async move { remove_accounts(tx, &[id]).await })).await?;
        Ok(self.after_removal(&dir, removed) > 0)
    }

    /// Delete domain `name` with its accounts and their letters.
    pub async fn remove_domain(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_ascii_lowercase();
        let Some(domain) = self.find_domain(&name).await? else { return Ok(false) };
        let dir = mailbox::letter_dir(&self.storage, &domain.storage_path);
        let removed = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let ids: Vec<i64> = accounts::list_accounts(tx, &name).await?.iter().map(|a| a.id).collect();
                    let removed = remove_accounts(tx, &ids).await?;
                    let deleted = accounts::delete_domain(tx, &name).await?;
                    Ok(deleted.then_some(removed))
                })
            })
            .await?;
        let Some(removed) = removed else { return Ok(false) };
        self.after_removal(&dir, removed);
        Ok(true)
    }

    /// Rename domain `old` to `new` (its accounts follow), and set its path
    /// and flags when given. False when `old` is not ours or `new` is taken.
    pub async fn rename_domain(&self, old: &str, new: &str, path: Option<String>, flags: Option<i64>) -> Result<bool, StoreError> {
        let (old, new) = (old.to_ascii_lowercase(), normalize_domain(new)?);
        self.transaction(move |tx| Box::pin(async move { rename_domain(tx, &old, &new, path, flags).await })).await
    }

    /// A domain path a script asked for, as stored: "" (StorageFolder), or
    /// a folder inside StorageFolder. Elsewhere would let a script put
    /// letters (or have them deleted) wherever the server may write.
    pub fn script_domain_path(&self, given: &str) -> Result<String, StoreError> {
        if given.is_empty() {
            return Ok(String::new());
        }
        let path = Path::new(given);
        let refused = || StoreError::Invalid(format!("a domain path must be a folder inside StorageFolder ({})", self.storage.display()));
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(refused());
        }
        let inside = if path.is_absolute() { path.to_path_buf() } else { self.storage.join(path) };
        if !inside.starts_with(&self.storage) || inside == self.storage {
            return Err(refused());
        }
        Ok(inside.display().to_string())
    }

    /// Remove letter `id` of `account`: false when the account has no such
    /// letter. The change is announced and a freed file removed.
    pub async fn remove_letter(&self, account: &Account, id: i64) -> Result<bool, StoreError> {
        let dir = self.letter_dir(account).await?;
        let owner = account.id;
        let removed = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let Some(letter) = owned_letter(tx, owner, id).await? else { return Ok(None) };
                    tx.lock_folder(letter.folder).await?;
                    let freed = mailbox::remove_letters(tx, letter.folder, &[letter.id]).await?;
                    Ok(Some((letter.folder, freed)))
                })
            })
            .await?;
        let Some((folder, freed)) = removed else { return Ok(false) };
        self.folder_changed(folder);
        super::mail::remove_files(&dir, freed);
        Ok(true)
    }

    /// The letters of `folder` (one of `account`'s) with each one's header
    /// block, read from wherever the domain keeps its letters.
    pub async fn letters_with_headers(&self, account: &Account, folder: i64) -> Result<Vec<(Letter, Vec<u8>)>, StoreError> {
        let dir = self.letter_dir(account).await?;
        let letters = self.letters(folder).await?;
        let mut out = Vec::with_capacity(letters.len());
        for letter in letters {
            // A letter whose body cannot be had still lists, without headers.
            let header = match self.fetch_letter(&dir, &letter.fid).await {
                Ok(path) => read_header(path).await.unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            out.push((letter, header));
        }
        Ok(out)
    }

    /// Queue `message` from `sender` for `recipients` (addresses already
    /// checked): the spool file is written and fsync'd, the queue rows
    /// committed, then the mailman is woken. Returns the queue id (fid).
    pub async fn submit(&self, sender: &str, recipients: Vec<String>, message: Vec<u8>, params: &str) -> Result<String, StoreError> {
        let storage = self.storage.clone();
        let (fid, _) = tokio::task::spawn_blocking(move || spool::write_spool(&storage, &[&message]))
            .await
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .map_err(|e| StoreError::Invalid(format!("cannot write a spool file: {e}")))?;
        self.enqueue(&fid, sender, recipients, params).await?;
        self.queued.notify_one();
        Ok(fid)
    }

    /// Announce the folders of removed accounts and delete the freed
    /// files; how many accounts went.
    fn after_removal(&self, dir: &Path, removed: RemovedAccounts) -> usize {
        for folder in removed.folders {
            self.folder_changed(folder);
        }
        super::mail::remove_files(dir, removed.freed);
        removed.accounts
    }
}

async fn read_header(path: PathBuf) -> std::io::Result<Vec<u8>> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let file = tokio::fs::File::open(path).await?;
    let mut reader = tokio::io::BufReader::new(file.take(MAX_HEADER));
    let mut header = Vec::new();
    loop {
        let start = header.len();
        if reader.read_until(b'\n', &mut header).await? == 0 {
            return Ok(header);
        }
        if matches!(&header[start..], b"\n" | b"\r\n") {
            header.truncate(start);
            return Ok(header);
        }
    }
}

pub async fn account_by_id(tx: &mut Tx<'_>, id: i64) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
    tx.query_opt(&sql, args![id]).await?.as_ref().map(account_from_row).transpose()
}

/// Letter `id` if it is in one of `account`'s folders.
async fn owned_letter(tx: &mut Tx<'_>, account: i64, id: i64) -> Result<Option<Letter>, StoreError> {
    let condition = "id = ?1 AND folder IN (SELECT id FROM folders WHERE account = ?2)";
    Ok(mailbox::letters_where(tx, condition, args![id, account]).await?.pop())
}

pub async fn save_account(tx: &mut Tx<'_>, saved: &SavedAccount) -> Result<bool, StoreError> {
    let domain = normalize_domain(&saved.domain)?;
    let user = normalize_user(&saved.user)?;
    accounts::validate_arg(&saved.kind, &saved.arg)?;
    if accounts::find_domain(tx, &domain).await?.is_none() {
        return Ok(false);
    }
    let holder = accounts::exact_account(tx, &domain, &user).await?.map(|a| a.id);
    let (kind, password, arg) = (saved.kind.as_str(), saved.password.as_str(), saved.arg.as_str());
    let Some((id, was_in)) = &saved.existing else {
        if holder.is_some() {
            return Ok(false);
        }
        let sql = r#"INSERT INTO accounts (domain, "user", password, type, arg) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id"#;
        let id: i64 = tx.query_one(sql, args![&domain, &user, password, kind, arg]).await?.get(0)?;
        if saved.kind == AccountKind::Mbox {
            super::folders::create_defaults(tx, id, unix_now()).await?;
        }
        return Ok(true);
    };
    if holder.is_some_and(|h| h != *id) {
        return Ok(false);
    }
    let sql = r#"UPDATE accounts SET domain = ?1, "user" = ?2, password = ?3, type = ?4, arg = ?5 WHERE id = ?6 AND domain = ?7"#;
    let changed = tx.execute(sql, args![&domain, &user, password, kind, arg, *id, was_in.as_str()]).await?;
    if changed > 0 && saved.kind == AccountKind::Mbox {
        super::folders::create_defaults(tx, *id, unix_now()).await?;
    }
    Ok(changed > 0)
}

/// What removing accounts left to do after the commit.
struct RemovedAccounts {
    accounts: usize,
    /// Their folders, to announce (sessions that had one open).
    folders: Vec<i64>,
    /// Letter files no remaining letter uses.
    freed: Vec<String>,
}

/// Delete accounts (their folders and letters go by cascade), and the
/// bodies in the database that no remaining letter uses.
async fn remove_accounts(tx: &mut Tx<'_>, ids: &[i64]) -> Result<RemovedAccounts, StoreError> {
    let mut removed = RemovedAccounts { accounts: 0, folders: Vec::new(), freed: Vec::new() };
    let mut fids = HashSet::new();
    for &id in ids {
        removed.folders.extend(mailbox::list_folders(tx, id).await?.iter().map(|f| f.id));
        let sql = "SELECT fid FROM messages WHERE folder IN (SELECT id FROM folders WHERE account = ?1)";
        fids.extend(tx.column::<String>(sql, args![id]).await?);
        removed.accounts += tx.execute("DELETE FROM accounts WHERE id = ?1", args![id]).await? as usize;
    }
    for fid in fids {
        if !mailbox::letter_in_use(tx, &fid).await? {
            removed.freed.push(fid);
        }
    }
    blobs::forget(tx, &removed.freed).await?;
    Ok(removed)
}

async fn rename_domain(tx: &mut Tx<'_>, old: &str, new: &str, path: Option<String>, flags: Option<i64>) -> Result<bool, StoreError> {
    let Some(domain) = accounts::find_domain(tx, old).await? else { return Ok(false) };
    if new != old && accounts::find_domain(tx, new).await?.is_some() {
        return Ok(false);
    }
    let path = path.unwrap_or(domain.storage_path.clone());
    if path != domain.storage_path && domain_has_letters(tx, old).await? {
        // The files would stay where they are, out of the new path's reach.
        return Err(StoreError::Invalid(format!("domain {old} holds letters: its path cannot change")));
    }
    let flags = flags.unwrap_or(domain.flags);
    // accounts.domain follows by ON UPDATE CASCADE.
    let sql = "UPDATE domains SET domain = ?1, storagepath = ?2, flags = ?3 WHERE id = ?4";
    Ok(tx.execute(sql, args![new, &path, flags, domain.id]).await? > 0)
}

async fn domain_has_letters(tx: &mut Tx<'_>, domain: &str) -> Result<bool, StoreError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM messages WHERE folder IN
               (SELECT f.id FROM folders f JOIN accounts a ON f.account = a.id WHERE a.domain = ?1))";
    tx.query_one(sql, args![domain]).await?.get(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::run_ready;
    use crate::store::sql::testing::with_account;

    fn saved(existing: Option<(i64, String)>, user: &str) -> SavedAccount {
        SavedAccount {
            existing,
            domain: "example.org".into(),
            user: user.into(),
            kind: AccountKind::Mbox,
            password: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b".into(),
            arg: String::new(),
        }
    }

    #[test]
    fn save_account_inserts_updates_and_refuses_taken_names() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        assert!(!run_ready(save_account(tx, &saved(None, "ann"))).unwrap(), "the name is taken");
        assert!(run_ready(save_account(tx, &saved(None, "bob"))).unwrap());
        let bob = run_ready(accounts::exact_account(tx, "example.org", "bob")).unwrap().unwrap();
        assert!(bob.check_password("secret"));
        assert!(!run_ready(save_account(tx, &saved(Some((bob.id, "example.org".into())), "ann"))).unwrap());
        assert!(run_ready(save_account(tx, &saved(Some((ann, "example.org".into())), "anna"))).unwrap());
        assert_eq!(run_ready(account_by_id(tx, ann)).unwrap().unwrap().user, "anna");
        // The account left the domain the caller checked: nothing changes.
        assert!(!run_ready(save_account(tx, &saved(Some((ann, "other.org".into())), "x"))).unwrap());
        let mut elsewhere = saved(None, "carl");
        elsewhere.domain = "nowhere.org".into();
        assert!(!run_ready(save_account(tx, &elsewhere)).unwrap());
    }

    #[test]
    fn removing_an_account_frees_its_letters() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        let inbox = run_ready(mailbox::find_folder(tx, ann, "INBOX")).unwrap().unwrap();
        run_ready(mailbox::append(tx, inbox.id, "abcdefghijklmnop", 10, 0, 0)).unwrap();
        let removed = run_ready(remove_accounts(tx, &[ann])).unwrap();
        assert_eq!(removed.accounts, 1);
        assert_eq!(removed.freed, ["abcdefghijklmnop"]);
        assert!(removed.folders.contains(&inbox.id));
        assert!(run_ready(account_by_id(tx, ann)).unwrap().is_none());
    }

    #[test]
    fn renaming_a_domain_moves_its_accounts_and_keeps_a_path_with_letters() {
        let (mut c, ann) = with_account();
        let tx = &mut Tx::sqlite(&mut c);
        assert!(run_ready(rename_domain(tx, "example.org", "example.net", None, Some(1))).unwrap());
        assert_eq!(run_ready(account_by_id(tx, ann)).unwrap().unwrap().domain, "example.net");
        assert!(!run_ready(rename_domain(tx, "example.org", "x.org", None, None)).unwrap());
        let inbox = run_ready(mailbox::find_folder(tx, ann, "INBOX")).unwrap().unwrap();
        run_ready(mailbox::append(tx, inbox.id, "abcdefghijklmnop", 10, 0, 0)).unwrap();
        let moved = run_ready(rename_domain(tx, "example.net", "example.net", Some("/elsewhere".into()), None));
        assert!(matches!(moved, Err(StoreError::Invalid(_))));
    }
}
