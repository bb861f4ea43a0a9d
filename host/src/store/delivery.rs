//! What the mailman does to the queue and the mailboxes: claim due rows,
//! settle them (done, retry, hold, bounce), route a recipient of our
//! domains (aliases expanded in one go), record a local delivery. Each
//! operation owns its transaction and what follows the commit (the spool
//! file removed once no row needs it, the folder announced).
//!
//! Alias expansion happens in one go, with a set of addresses already seen
//! and a depth limit, so `a -> b -> a` or a catch-all that points back into
//! its own domain ends instead of bouncing mail around forever (Rumble
//! re-queued each hop and relied on a loop counter).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::accounts::{self, AccountKind};
use super::mailbox::{self, flags};
use super::queue::{self, QueueItem};
use super::sql::Tx;
use super::{Store, StoreError, blobs, spool, unix_now};

/// How deep aliases may nest.
const MAX_ALIAS_DEPTH: usize = 16;
/// Most addresses one alias may expand to.
const MAX_ALIAS_TARGETS: usize = 1000;

/// Where one recipient's copy goes.
#[derive(Debug)]
pub enum LocalRoute {
    Mailbox { account: i64, letters: PathBuf },
    Forward(Vec<String>),
    Relay(String),
    /// Not one of our domains.
    Remote(String),
    Fail { status: &'static str, text: String },
}

impl Store {
    /// At start: rows this node's previous run held are due again.
    pub async fn release_leases(&self) -> Result<u64, StoreError> {
        let node = self.node().to_string();
        self.autocommit(move |tx| Box::pin(async move { queue::release_leases(tx, &node).await })).await
    }

    /// Lease up to `limit` due rows for `lease_secs`.
    pub async fn claim_due(&self, limit: u32, lease_secs: i64) -> Result<Vec<QueueItem>, StoreError> {
        let node = self.node().to_string();
        self.transaction(move |tx| Box::pin(async move { queue::claim_due(tx, &node, unix_now(), limit, lease_secs).await })).await
    }

    /// When the next row can be claimed (due, and its lease run out).
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.autocommit(|tx| Box::pin(queue::next_due(tx))).await
    }

    /// Keep rows `ids` ours for `lease_secs` more.
    pub async fn renew_leases(&self, ids: Vec<i64>, lease_secs: i64) -> Result<(), StoreError> {
        self.transaction(move |tx| Box::pin(async move { queue::renew_leases(tx, &ids, unix_now() + lease_secs).await })).await
    }

    /// Try `id` again at `at`, counting the attempt.
    pub async fn reschedule(&self, id: i64, at: i64, why: &str) -> Result<bool, StoreError> {
        let why = why.to_string();
        self.autocommit(move |tx| Box::pin(async move { queue::reschedule(tx, id, at, &why).await })).await
    }

    /// Try `id` again at `at` without counting the attempt (held).
    pub async fn hold(&self, id: i64, at: i64, why: &str) -> Result<bool, StoreError> {
        let why = why.to_string();
        self.autocommit(move |tx| Box::pin(async move { queue::hold(tx, id, at, &why).await })).await
    }

    /// Rows `ids` of message `fid` are done, and `bounce` (a spool file
    /// and who it goes to) is queued with them; the spool file goes once
    /// no row needs it.
    pub async fn finish(&self, ids: Vec<i64>, fid: &str, bounce: Option<(String, String)>) -> Result<(), StoreError> {
        let f = fid.to_string();
        let bounce_body = match &bounce {
            Some((file, _)) => self.body_for_database(spool::spool_path(&self.storage, file)).await?,
            None => None,
        };
        let in_use = self
            .transaction(move |tx| {
                Box::pin(async move {
                    if let Some((file, to)) = &bounce {
                        blobs::put(tx, file, bounce_body.as_deref()).await?;
                        queue::enqueue(tx, file, "", std::slice::from_ref(to), "", unix_now()).await?;
                    }
                    queue::finish(tx, &ids, &f).await
                })
            })
            .await?;
        if !in_use {
            spool::remove_spool(&self.storage, fid);
        }
        Ok(())
    }

    /// Queue the final targets of an alias and complete its row, together.
    pub async fn forward(&self, item: &QueueItem, targets: Vec<String>) -> Result<(), StoreError> {
        let it = item.clone();
        self.transaction(move |tx| {
            Box::pin(async move {
                queue::enqueue(tx, &it.fid, &it.sender, &targets, &it.params, unix_now()).await?;
                queue::complete(tx, it.id).await?;
                Ok(())
            })
        })
        .await
    }

    /// Where mail for `recipient` goes.
    pub async fn route_recipient(&self, recipient: &str) -> Result<LocalRoute, StoreError> {
        let (storage, rcpt) = (self.storage.clone(), recipient.to_string());
        self.autocommit(move |tx| Box::pin(async move { resolve(tx, &storage, &rcpt).await })).await
    }

    /// Record a letter already written (into `dir`) for `item`'s recipient
    /// into the account's INBOX and complete the row, in one transaction;
    /// then announce the folder and remove the spool file if no row needs it.
    /// `place`: the folder (made if missing), flag bits and keywords.
    pub async fn record_delivery(
        &self,
        item: &QueueItem,
        account: i64,
        dir: &Path,
        letter: &str,
        size: u64,
        place: (String, i64, Vec<String>),
    ) -> Result<(), StoreError> {
        let (folder, bits, keywords) = place;
        let (id, fid, l) = (item.id, item.fid.clone(), letter.to_string());
        let body = self.body_for_database(spool::letter_path(dir, letter)).await?;
        let (in_use, inbox) = self
            .transaction(move |tx| {
                Box::pin(async move {
                    let now = unix_now();
                    let inbox = mailbox::ensure_folder(tx, account, &folder, now).await?;
                    blobs::put(tx, &l, body.as_deref()).await?;
                    let bits = flags::RECENT | bits;
                    mailbox::append_with_keywords(tx, inbox.id, &l, size as i64, now, bits, &keywords.join(" ")).await?;
                    let in_use = queue::finish(tx, &[id], &fid).await?;
                    Ok((in_use, inbox.id))
                })
            })
            .await?;
        self.folder_changed(inbox);
        if !in_use {
            spool::remove_spool(&self.storage, &item.fid);
        }
        Ok(())
    }

    /// Bodies in the database no row needs (an account or domain deleted
    /// with its letters); each body is written with its first row, so one
    /// without rows is never work in progress. How many were removed.
    pub async fn sweep_bodies(&self) -> Result<u64, StoreError> {
        self.autocommit(|tx| {
            Box::pin(async move {
                let sql = "DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.fid = blobs.fid)
                           AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.fid = blobs.fid)";
                tx.execute(sql, &[]).await
            })
        })
        .await
    }

    /// Of these files (fid, is a letter), those no row refers to.
    pub async fn orphans(&self, files: Vec<(String, bool)>) -> Result<Vec<(String, bool)>, StoreError> {
        self.autocommit(move |tx| {
            Box::pin(async move {
                let mut orphans = Vec::new();
                for (fid, letter) in files {
                    let used = if letter { mailbox::letter_in_use(tx, &fid).await? } else { queue::spool_in_use(tx, &fid).await? };
                    if !used {
                        orphans.push((fid, letter));
                    }
                }
                Ok(orphans)
            })
        })
        .await
    }
}

fn split(address: &str) -> (String, String) {
    match address.rsplit_once('@') {
        Some((user, domain)) => (user.to_lowercase(), domain.to_lowercase()),
        None => (address.to_lowercase(), String::new()),
    }
}

async fn resolve(tx: &mut Tx<'_>, storage: &Path, recipient: &str) -> Result<LocalRoute, StoreError> {
    let (user, domain) = split(recipient);
    let Some(d) = accounts::find_domain(tx, &domain).await? else {
        return Ok(LocalRoute::Remote(domain));
    };
    let Some(account) = accounts::find_account(tx, &domain, &user).await? else {
        return Ok(LocalRoute::Fail { status: "5.1.1", text: format!("no such user {recipient}") });
    };
    Ok(match account.kind {
        AccountKind::Mbox => {
            LocalRoute::Mailbox { account: account.id, letters: mailbox::letter_dir(storage, &d.storage_path) }
        }
        AccountKind::Relay => LocalRoute::Relay(account.arg.clone()),
        AccountKind::Alias => {
            let targets = expand(tx, recipient).await?;
            if targets.is_empty() {
                LocalRoute::Fail { status: "5.4.6", text: format!("alias {recipient} loops or has no deliverable target") }
            } else {
                LocalRoute::Forward(targets)
            }
        }
        AccountKind::Other(kind) => {
            LocalRoute::Fail { status: "5.3.0", text: format!("account type \"{kind}\" cannot receive mail here") }
        }
    })
}

/// The addresses an alias finally reaches: mailboxes, relay accounts,
/// unknown local users (they bounce later, with their own error) and other
/// domains. Aliases met on the way are expanded; one met twice is a loop
/// and contributes nothing more.
async fn expand(tx: &mut Tx<'_>, alias: &str) -> Result<Vec<String>, StoreError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![(alias.to_lowercase(), 0usize)];
    while let Some((address, depth)) = stack.pop() {
        if depth > MAX_ALIAS_DEPTH || out.len() >= MAX_ALIAS_TARGETS || !seen.insert(address.clone()) {
            continue;
        }
        let (user, domain) = split(&address);
        if accounts::find_domain(tx, &domain).await?.is_none() {
            out.push(address);
            continue;
        }
        match accounts::find_account(tx, &domain, &user).await? {
            Some(a) if a.kind == AccountKind::Alias => {
                for target in a.alias_targets().into_iter().rev() {
                    stack.push((target, depth + 1));
                }
            }
            _ if depth == 0 => {} // the starting point is not an alias any more
            _ => out.push(address),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::NewAccount;

    use crate::store::sql::run_ready;

    fn store() -> rusqlite::Connection {
        let mut conn = crate::store::sql::testing::memory();
        run_ready(accounts::add_domain(&mut Tx::sqlite(&mut conn), "here.test", "", 0)).unwrap();
        conn
    }

    fn add(tx: &mut Tx<'_>, user: &str, kind: AccountKind, arg: &str) {
        let new = NewAccount { domain: "here.test".into(), user: user.into(), password: None, kind, arg: arg.into() };
        run_ready(accounts::add_account(tx, &new)).unwrap();
    }

    #[test]
    fn aliases_expand_through_levels_and_stop_at_loops() {
        let mut c = store();
        let tx = &mut Tx::sqlite(&mut c);
        add(tx, "bob", AccountKind::Mbox, "");
        add(tx, "carol", AccountKind::Mbox, "");
        add(tx, "team", AccountKind::Alias, "bob@here.test, leads@here.test");
        add(tx, "leads", AccountKind::Alias, "carol@here.test;x@other.test team@here.test");
        add(tx, "ping", AccountKind::Alias, "pong@here.test");
        add(tx, "pong", AccountKind::Alias, "ping@here.test");
        let mut got = run_ready(expand(tx, "team@here.test")).unwrap();
        got.sort();
        assert_eq!(got, ["bob@here.test", "carol@here.test", "x@other.test"]);
        assert!(run_ready(expand(tx, "ping@here.test")).unwrap().is_empty(), "a pure loop reaches nobody");
    }

    #[test]
    fn routes_by_account_type() {
        let mut c = store();
        let tx = &mut Tx::sqlite(&mut c);
        add(tx, "bob", AccountKind::Mbox, "");
        add(tx, "out", AccountKind::Relay, "smarthost.test:2525");
        add(tx, "self", AccountKind::Alias, "self@here.test");
        let storage = Path::new("/srv/storage");
        assert!(matches!(run_ready(resolve(tx, storage, "Bob@Here.Test")).unwrap(), LocalRoute::Mailbox { letters, .. } if letters == storage));
        assert!(matches!(run_ready(resolve(tx, storage, "out@here.test")).unwrap(), LocalRoute::Relay(h) if h == "smarthost.test:2525"));
        assert!(matches!(run_ready(resolve(tx, storage, "x@far.test")).unwrap(), LocalRoute::Remote(d) if d == "far.test"));
        assert!(matches!(run_ready(resolve(tx, storage, "nobody@here.test")).unwrap(), LocalRoute::Fail { status: "5.1.1", .. }));
        assert!(matches!(run_ready(resolve(tx, storage, "self@here.test")).unwrap(), LocalRoute::Fail { status: "5.4.6", .. }));
    }
}
