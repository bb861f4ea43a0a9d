//! The `mailman` WIT interface (see `wit/mailman.wit`): `Mailman.*` over
//! the store. Every entry point checks the grant for the domain it touches
//! before touching anything (`mailman.read`, `mailman.write`, `sendmail`,
//! each narrowed by `tenant`); an account or letter named by id is checked
//! against the domain of the account that owns it. Store waits are not
//! charged to the script's CPU budget.

use std::future::Future;

use super::bindings::HostError;
use super::bindings::rumble::plugin::mailman::{
    self, Account as WitAccount, AccountKey, AccountUpdate, Domain as WitDomain, FolderKey, Letter as WitLetter,
    LetterSummary, QueueItem as WitQueueItem,
};
use super::host::HostState;
use crate::imap::mime::header_value;
use crate::smtp::address::{Mailbox, parse_mailbox};
use crate::store::accounts::{self, Account, AccountKind};
use crate::store::lua_api::SavedAccount;
use crate::store::mailbox::{Folder, canonical_name};
use crate::store::{Store, StoreError, password};

/// What a host call answers: a trap, or the script's result.
type Answer<T> = wasmtime::Result<Result<T, HostError>>;

/// The queue rows `getQueue` returns at most (Rumble's limit).
const QUEUE_ROWS: usize = 100;
/// Queue rows looked at to find those a scoped script may see.
const QUEUE_SCAN: u32 = 10_000;
/// Recipients of one `sendMail` (RFC 5321's minimum an SMTP server takes).
const MAX_RECIPIENTS: usize = 100;

/// The grant a call needs for a domain.
#[derive(Clone, Copy)]
enum Need {
    Read,
    Write,
    Send,
}

impl Need {
    fn capability(self) -> &'static str {
        match self {
            Need::Read => "mailman.read",
            Need::Write => "mailman.write",
            Need::Send => "sendmail",
        }
    }
}

impl HostState {
    /// Ok when the script may `need` on `domain`; else the logged denial.
    fn check(&self, need: Need, domain: &str) -> Result<(), HostError> {
        let grants = &self.info.spec.grants;
        let domain = domain.to_ascii_lowercase();
        let allowed = match need {
            Need::Read => grants.allows_mailman_read(&domain),
            Need::Write => grants.allows_mailman_write(&domain),
            Need::Send => grants.allows_sendmail(&domain),
        };
        if allowed { Ok(()) } else { Err(self.denied(format!("{} {domain}", need.capability()))) }
    }

    /// Log the denial (within the script's log rate) and build the error.
    fn denied(&self, capability: String) -> HostError {
        self.log.denial(&capability);
        HostError::Denied(capability)
    }

    /// Calls that list what the script may see need some mailman grant.
    fn check_any_read(&self) -> Result<(), HostError> {
        if self.info.spec.grants.has_mailman_read() { Ok(()) } else { Err(self.denied("mailman.read".into())) }
    }

    fn store(&self) -> Result<Store, HostError> {
        self.info.env.store.clone().ok_or_else(|| HostError::Failed("Mailman: this server has no mail store (script run without --config)".into()))
    }

    /// Await `work` with the CPU budget paused: waiting is not running.
    async fn paused<T>(&mut self, work: impl Future<Output = T>) -> T {
        self.budget.pause();
        let result = work.await;
        self.budget.resume();
        result
    }

    /// Store work, paused, its error as the script sees it.
    async fn waiting<T>(&mut self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, HostError> {
        self.paused(work).await.map_err(store_error)
    }

    /// The account `key` names, if the script may `need` on its domain.
    /// An account by uid is checked once found: its domain is only known then.
    async fn account(&mut self, store: &Store, key: AccountKey, need: Need) -> Result<Option<Account>, HostError> {
        match key {
            AccountKey::Uid(id) => self.account_by_uid(store, id, need).await,
            AccountKey::Address((domain, user)) => {
                self.check(need, &domain)?;
                self.waiting(store.find_account(&domain, &user)).await
            }
        }
    }

    async fn account_by_uid(&mut self, store: &Store, uid: i64, need: Need) -> Result<Option<Account>, HostError> {
        let account = self.waiting(store.account_by_id(uid)).await?;
        if let Some(a) = &account {
            self.check(need, &a.domain)?;
        }
        Ok(account)
    }

    /// Like `account_by_uid`, but a missing account is `not-found`.
    async fn existing_account(&mut self, store: &Store, uid: i64, need: Need) -> Result<Account, HostError> {
        self.account_by_uid(store, uid, need).await?.ok_or_else(|| HostError::NotFound(format!("account {uid}")))
    }

    async fn stored_password(&mut self, given: String, plain: bool) -> Result<String, HostError> {
        if given.is_empty() || (!plain && is_password_hash(&given)) {
            return Ok(given);
        }
        // argon2id is slow on purpose: off the async workers, off the budget.
        let hashing = tokio::task::spawn_blocking(move || password::hash(&given));
        self.paused(hashing).await.map_err(|e| HostError::Failed(e.to_string()))?.map_err(HostError::Failed)
    }
}

/// A stored form scripts may hand over verbatim: Rumble's hex SHA-256
/// (`string.SHA256`), or an argon2 PHC string (read back from readAccount).
fn is_password_hash(text: &str) -> bool {
    password::is_sha256_hex(text)
        || (text.starts_with("$argon2") && argon2::password_hash::phc::PasswordHash::new(text).is_ok())
}

fn store_error(e: StoreError) -> HostError {
    match e {
        StoreError::NotFound(what) => HostError::NotFound(what),
        StoreError::Invalid(why) => HostError::Invalid(why),
        StoreError::Exists(what) => HostError::Invalid(format!("{what} already exists")),
        other => HostError::Failed(format!("Mailman: {other}")),
    }
}

fn wit_account(a: Account) -> WitAccount {
    WitAccount { id: a.id, name: a.user, domain: a.domain, password: a.password, kind: a.kind.as_str().to_string(), arguments: a.arg }
}

/// `user@domain` or `<user@domain>`, as a checked mailbox.
fn parse_address(text: &str, role: &str) -> Result<Mailbox, HostError> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(trimmed);
    parse_mailbox(bare, true).map_err(|e| HostError::Invalid(format!("bad {role} address \"{text}\": {e}")))
}

fn domain_of(address: &str) -> String {
    address.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default()
}

/// Rumble's folder numbering: INBOX is 0, other folders by their id.
fn find_folder(folders: &[Folder], key: &FolderKey) -> Option<Folder> {
    folders
        .iter()
        .find(|f| match key {
            FolderKey::Id(0) => f.name == "INBOX",
            FolderKey::Id(id) => f.id == *id,
            FolderKey::Name(name) => f.name == canonical_name(name),
        })
        .cloned()
}

impl mailman::Host for HostState {
    async fn account_exists(&mut self, domain: String, user: String) -> Answer<bool> {
        Ok(self.account_exists_in(domain, user, true).await)
    }

    async fn address_exists(&mut self, domain: String, user: String) -> Answer<bool> {
        Ok(self.account_exists_in(domain, user, false).await)
    }

    async fn create_domain(&mut self, domain: String, path: Option<String>, flags: Option<i64>) -> Answer<bool> {
        Ok(self.create_domain_checked(domain, path.unwrap_or_default(), flags.unwrap_or(0)).await)
    }

    async fn delete_domain(&mut self, domain: String) -> Answer<bool> {
        Ok(async {
            self.check(Need::Write, &domain)?;
            let store = self.store()?;
            self.waiting(store.remove_domain(&domain)).await
        }
        .await)
    }

    async fn update_domain(&mut self, old: String, new: String, path: Option<String>, flags: Option<i64>) -> Answer<bool> {
        Ok(async {
            self.check(Need::Write, &old)?;
            self.check(Need::Write, &new)?;
            let store = self.store()?;
            let path = path.map(|p| store.script_domain_path(&p)).transpose().map_err(store_error)?;
            self.waiting(store.rename_domain(&old, &new, path, flags)).await
        }
        .await)
    }

    async fn list_domains(&mut self) -> Answer<Vec<WitDomain>> {
        Ok(async {
            self.check_any_read()?;
            let store = self.store()?;
            let domains = self.waiting(store.list_domains()).await?;
            let grants = &self.info.spec.grants;
            Ok(domains
                .into_iter()
                .filter(|d| grants.allows_mailman_read(&d.name))
                .map(|d| WitDomain { name: d.name, path: d.storage_path, flags: d.flags })
                .collect())
        }
        .await)
    }

    async fn list_accounts(&mut self, domain: String) -> Answer<Vec<WitAccount>> {
        Ok(async {
            self.check(Need::Read, &domain)?;
            let store = self.store()?;
            match self.waiting(store.list_accounts(&domain)).await {
                Ok(list) => Ok(list.into_iter().map(wit_account).collect()),
                // Rumble: an unknown domain has no accounts.
                Err(HostError::NotFound(_) | HostError::Invalid(_)) => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        }
        .await)
    }

    async fn read_account(&mut self, key: AccountKey) -> Answer<Option<WitAccount>> {
        Ok(async {
            let store = self.store()?;
            Ok(self.account(&store, key, Need::Read).await?.map(wit_account))
        }
        .await)
    }

    async fn save_account(&mut self, update: AccountUpdate) -> Answer<bool> {
        Ok(self.save_account_checked(update).await)
    }

    async fn delete_account(&mut self, key: AccountKey) -> Answer<bool> {
        Ok(async {
            let store = self.store()?;
            // By name: exactly that account, never the pattern delivery would pick.
            let account = match key {
                AccountKey::Uid(uid) => self.account_by_uid(&store, uid, Need::Write).await?,
                AccountKey::Address((domain, user)) => {
                    self.check(Need::Write, &domain)?;
                    self.waiting(store.exact_account(&domain, &user)).await?
                }
            };
            let Some(account) = account else { return Ok(false) };
            self.waiting(store.remove_account(&account)).await
        }
        .await)
    }

    async fn list_folders(&mut self, uid: i64) -> Answer<Vec<(i64, String)>> {
        Ok(async {
            let store = self.store()?;
            let account = self.existing_account(&store, uid, Need::Read).await?;
            let folders = self.waiting(store.list_folders(account.id)).await?;
            let others = folders.into_iter().filter(|f| f.name != "INBOX").map(|f| (f.id, f.name));
            Ok(std::iter::once((0, "INBOX".to_string())).chain(others).collect())
        }
        .await)
    }

    async fn list_headers(&mut self, uid: i64, folder: FolderKey) -> Answer<Vec<LetterSummary>> {
        Ok(async {
            let store = self.store()?;
            let account = self.existing_account(&store, uid, Need::Read).await?;
            let folders = self.waiting(store.list_folders(account.id)).await?;
            let folder = find_folder(&folders, &folder).ok_or_else(|| HostError::NotFound(format!("folder of account {uid}")))?;
            let letters = self.waiting(store.letters_with_headers(&account, folder.id)).await?;
            Ok(letters
                .into_iter()
                .map(|(l, header)| LetterSummary { id: l.id, file: l.fid, size: l.size, sent: l.internaldate, flags: l.flags, header })
                .collect())
        }
        .await)
    }

    async fn read_mail(&mut self, uid: i64, id: i64) -> Answer<Option<WitLetter>> {
        Ok(self.read_mail_checked(uid, id).await)
    }

    async fn delete_mail(&mut self, uid: i64, id: i64) -> Answer<bool> {
        Ok(async {
            let store = self.store()?;
            let account = self.existing_account(&store, uid, Need::Write).await?;
            self.waiting(store.remove_letter(&account, id)).await
        }
        .await)
    }

    async fn send_mail(&mut self, sender: String, recipients: Vec<String>, message: Vec<u8>) -> Answer<String> {
        Ok(self.send_mail_checked(sender, recipients, message).await)
    }

    async fn get_queue(&mut self) -> Answer<Vec<WitQueueItem>> {
        Ok(async {
            self.check_any_read()?;
            let store = self.store()?;
            let rows = self.waiting(store.list_queue(QUEUE_SCAN)).await?;
            let grants = &self.info.spec.grants;
            // A row is the script's business when either end is in its domains.
            let visible = |a: &str| grants.allows_mailman_read(&domain_of(a));
            Ok(rows
                .into_iter()
                .filter(|r| visible(&r.sender) || visible(&r.recipient))
                .take(QUEUE_ROWS)
                .map(|r| WitQueueItem { id: r.id, file: r.fid, time: r.created, sender: r.sender, recipient: r.recipient, loops: r.attempts })
                .collect())
        }
        .await)
    }
}

impl HostState {
    /// `accountExists` (`exact`) or `addressExists` (delivery's GLOB lookup).
    async fn account_exists_in(&mut self, domain: String, user: String, exact: bool) -> Result<bool, HostError> {
        self.check(Need::Read, &domain)?;
        let store = self.store()?;
        let found = if exact {
            self.waiting(store.exact_account(&domain, &user)).await?
        } else {
            self.waiting(store.find_account(&domain, &user)).await?
        };
        Ok(found.is_some())
    }

    async fn create_domain_checked(&mut self, domain: String, path: String, flags: i64) -> Result<bool, HostError> {
        let name = accounts::normalize_domain(&domain).map_err(store_error)?;
        self.check(Need::Write, &name)?;
        let store = self.store()?;
        let path = store.script_domain_path(&path).map_err(store_error)?;
        match self.paused(store.add_domain(&name, &path, flags)).await {
            Ok(_) => Ok(true),
            // Rumble: false for a domain that exists.
            Err(StoreError::Exists(_)) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// `saveAccount`: write on the account's new domain, and on the domain
    /// it is in now when it is an update (moving it takes both).
    async fn save_account_checked(&mut self, update: AccountUpdate) -> Result<bool, HostError> {
        self.check(Need::Write, &update.domain)?;
        let store = self.store()?;
        let existing = match update.id {
            Some(uid) => match self.account_by_uid(&store, uid, Need::Write).await? {
                Some(a) => Some((a.id, a.domain)),
                None => return Ok(false),
            },
            None => None,
        };
        let kind = AccountKind::parse(&update.kind).map_err(store_error)?;
        let password = self.stored_password(update.password, update.plain).await?;
        let saved = SavedAccount { existing, domain: update.domain, user: update.name, kind, password, arg: update.arguments };
        self.waiting(store.save_account(saved)).await
    }

    /// `readMail`: the whole letter; \Seen is added to its flags (the
    /// others stay), as a client reading it would.
    async fn read_mail_checked(&mut self, uid: i64, id: i64) -> Result<Option<WitLetter>, HostError> {
        let store = self.store()?;
        let account = self.existing_account(&store, uid, Need::Read).await?;
        let Some((letter, path)) = self.waiting(store.read_letter(&account, id)).await? else { return Ok(None) };
        let read = async { tokio::fs::read(&path).await.map_err(|e| StoreError::Invalid(format!("cannot read letter {}: {e}", letter.fid))) };
        let message = self.waiting(read).await?;
        let seen = self.waiting(store.mark_seen(&letter)).await?;
        let flags = seen.map_or(letter.flags | crate::store::mailbox::flags::SEEN, |now| now.flags);
        Ok(Some(WitLetter { id: letter.id, file: letter.fid, size: letter.size, sent: letter.internaldate, flags, message }))
    }

    /// `sendMail`: durable in the queue before the id is returned. Not
    /// subject to BlockOutgoingMail, which is about SMTP clients.
    async fn send_mail_checked(&mut self, sender: String, recipients: Vec<String>, message: Vec<u8>) -> Result<String, HostError> {
        let from = parse_address(&sender, "sender")?;
        self.check(Need::Send, &from.domain_lower())?;
        let to = recipients.iter().map(|r| parse_address(r, "recipient")).collect::<Result<Vec<Mailbox>, _>>()?;
        if to.is_empty() || to.len() > MAX_RECIPIENTS {
            return Err(HostError::Invalid(format!("sendMail takes 1 to {MAX_RECIPIENTS} recipients, got {}", to.len())));
        }
        self.check_message(&message)?;
        let params = if from.is_ascii() && to.iter().all(Mailbox::is_ascii) { "" } else { "SMTPUTF8" };
        let store = self.store()?;
        let rcpts: Vec<String> = to.iter().map(Mailbox::to_string).collect();
        let count = rcpts.len();
        let message = self.with_trace_fields(message);
        let fid = self.waiting(store.submit(&from.to_string(), rcpts, message, params)).await?;
        tracing::info!(target: "lua", "script \"{}\" queued {fid} from {from} for {count} recipient(s)", self.info.spec.name);
        Ok(fid)
    }

    /// What a submission server adds (RFC 6409 §8): a Received field naming
    /// the script, and Date and Message-ID when the message has none.
    fn with_trace_fields(&self, message: Vec<u8>) -> Vec<u8> {
        let server = self.info.env.settings.as_ref().map_or("localhost", |s| s.server_name.as_str());
        let script: String = self.info.spec.name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
        let now = crate::smtp::rfc5322_now();
        let mut top = format!("Received: by {server} (Rumble, script {script}); {now}\r\n");
        if header_value(&message, "date").is_empty() {
            top.push_str(&format!("Date: {now}\r\n"));
        }
        if header_value(&message, "message-id").is_empty() {
            top.push_str(&format!("Message-ID: <{}.{script}@{server}>\r\n", crate::store::spool::new_fid()));
        }
        let mut out = top.into_bytes();
        out.extend_from_slice(&message);
        out
    }

    fn check_message(&self, message: &[u8]) -> Result<(), HostError> {
        if message.is_empty() {
            return Err(HostError::Invalid("sendMail: the message is empty".into()));
        }
        let limit = self.info.env.settings.as_ref().map_or(0, |s| s.message_size_limit);
        if limit > 0 && message.len() as u64 > limit {
            return Err(HostError::Invalid(format!("sendMail: the message is larger than MessageSizeLimit ({limit} bytes)")));
        }
        Ok(())
    }
}
