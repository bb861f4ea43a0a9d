//! Delivery to our own domains: into a mailbox, through an alias, or on to
//! a relay account's smarthost.
//!
//! Alias expansion happens in one go, with a set of addresses already seen
//! and a depth limit, so `a -> b -> a` or a catch-all that points back into
//! its own domain ends instead of bouncing mail around forever (Rumble
//! re-queued each hop and relied on a loop counter). The final targets are
//! queued and the alias row completed in one transaction.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::outcome::Outcome;
use super::remote::Target;
use super::Mailman;
use crate::store::accounts::{self, AccountKind};
use crate::store::mailbox::{self, flags};
use crate::store::queue::{self, QueueItem};
use crate::store::{StoreError, spool, unix_now};

/// How deep aliases may nest.
const MAX_ALIAS_DEPTH: usize = 16;
/// Most addresses one alias may expand to.
const MAX_ALIAS_TARGETS: usize = 1000;

pub(super) enum Handled {
    /// The row's outcome is recorded (delivered, forwarded, bounced or
    /// rescheduled).
    Done,
    /// The row goes out over SMTP.
    Remote(Target),
}

/// Where one recipient's copy goes.
enum Route {
    Mailbox { account: i64, letters: PathBuf },
    Forward(Vec<String>),
    Relay(String),
    Remote(String),
    Fail { status: &'static str, text: String },
}

impl Mailman {
    pub(super) async fn deliver_local(&self, item: &QueueItem) -> Handled {
        let (storage, rcpt) = (self.cfg.storage.clone(), item.recipient.clone());
        let route = match self.store.call(move |c| resolve(c, &storage, &rcpt)).await {
            Ok(route) => route,
            Err(e) => {
                self.settle(vec![(item.clone(), Outcome::Held(format!("4.3.0 store error: {e}")))]).await;
                return Handled::Done;
            }
        };
        let outcome = match route {
            Route::Remote(domain) => return Handled::Remote(Target::Domain(domain)),
            Route::Relay(host) => return Handled::Remote(Target::Smarthost(host)),
            Route::Fail { status, text } => Outcome::permanent(status, text, None),
            Route::Forward(targets) => match self.forward(item, targets).await {
                Ok(()) => return Handled::Done,
                Err(e) => Outcome::Held(format!("4.3.0 cannot queue alias targets: {e}")),
            },
            Route::Mailbox { account, letters } => match self.deliver_to_mailbox(item, account, letters).await {
                Ok(()) => return Handled::Done,
                // Our disk or store failed (ENOSPC, EIO, a lock): not the
                // recipient's fault, so it must not bounce with the attempts.
                Err(e) => Outcome::Held(format!("4.3.0 local delivery failed: {e}")),
            },
        };
        self.settle(vec![(item.clone(), outcome)]).await;
        Handled::Done
    }

    /// Copy the message into the account's letter folder, then record the
    /// letter and complete the row in one transaction. A crash in between
    /// leaves an unreferenced file and the row, which is delivered again:
    /// the mailbox still ends up with exactly one copy.
    async fn deliver_to_mailbox(&self, item: &QueueItem, account: i64, letters: PathBuf) -> Result<(), String> {
        let spool_file = spool::spool_path(&self.cfg.storage, &item.fid);
        let dir = letters.clone();
        let header = format!("Return-Path: <{}>\r\nDelivered-To: {}\r\n", item.sender, item.recipient);
        let (letter, size) = tokio::task::spawn_blocking(move || spool::deliver_letter(&spool_file, &dir, header.as_bytes()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("writing a letter into {}: {e}", letters.display()))?;
        let (id, fid, l) = (item.id, item.fid.clone(), letter.clone());
        let recorded = self
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                let now = unix_now();
                let inbox = mailbox::ensure_folder(&tx, account, "INBOX", now)?;
                mailbox::append_in(&tx, inbox.id, &l, size as i64, now, flags::RECENT)?;
                let in_use = queue::finish(&tx, &[id], &fid)?;
                tx.commit()?;
                Ok((in_use, inbox.id))
            })
            .await;
        match recorded {
            Ok((in_use, inbox)) => {
                self.store.folder_changed(inbox);
                tracing::info!(target: "mailman", "delivered {} to {} (letter {letter})", item.fid, item.recipient);
                if !in_use {
                    spool::remove_spool(&self.cfg.storage, &item.fid);
                }
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(spool::letter_path(&letters, &letter));
                Err(format!("recording letter {letter}: {e}"))
            }
        }
    }

    async fn forward(&self, item: &QueueItem, targets: Vec<String>) -> Result<(), StoreError> {
        let it = item.clone();
        let count = targets.len();
        self.store
            .call(move |c| {
                let tx = c.transaction()?;
                queue::enqueue_in(&tx, &it.fid, &it.sender, &targets, &it.params, unix_now())?;
                queue::complete(&tx, it.id)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(target: "mailman", "{} for {} forwarded to {count} address(es)", item.fid, item.recipient);
        self.queued.notify_one();
        Ok(())
    }
}

fn split(address: &str) -> (String, String) {
    match address.rsplit_once('@') {
        Some((user, domain)) => (user.to_lowercase(), domain.to_lowercase()),
        None => (address.to_lowercase(), String::new()),
    }
}

fn resolve(conn: &mut Connection, storage: &Path, recipient: &str) -> Result<Route, StoreError> {
    let (user, domain) = split(recipient);
    let Some(d) = accounts::find_domain(conn, &domain)? else {
        return Ok(Route::Remote(domain));
    };
    let Some(account) = accounts::find_account(conn, &domain, &user)? else {
        return Ok(Route::Fail { status: "5.1.1", text: format!("no such user {recipient}") });
    };
    Ok(match account.kind {
        AccountKind::Mbox => {
            Route::Mailbox { account: account.id, letters: mailbox::letter_dir(storage, &d.storage_path) }
        }
        AccountKind::Relay => Route::Relay(account.arg.clone()),
        AccountKind::Alias => {
            let targets = expand(conn, recipient)?;
            if targets.is_empty() {
                Route::Fail { status: "5.4.6", text: format!("alias {recipient} loops or has no deliverable target") }
            } else {
                Route::Forward(targets)
            }
        }
        AccountKind::Other(kind) => {
            Route::Fail { status: "5.3.0", text: format!("account type \"{kind}\" cannot receive mail here") }
        }
    })
}

/// The addresses an alias finally reaches: mailboxes, relay accounts,
/// unknown local users (they bounce later, with their own error) and other
/// domains. Aliases met on the way are expanded; one met twice is a loop
/// and contributes nothing more.
fn expand(conn: &Connection, alias: &str) -> Result<Vec<String>, StoreError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![(alias.to_lowercase(), 0usize)];
    while let Some((address, depth)) = stack.pop() {
        if depth > MAX_ALIAS_DEPTH || out.len() >= MAX_ALIAS_TARGETS || !seen.insert(address.clone()) {
            continue;
        }
        let (user, domain) = split(&address);
        if accounts::find_domain(conn, &domain)?.is_none() {
            out.push(address);
            continue;
        }
        match accounts::find_account(conn, &domain, &user)? {
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

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        accounts::add_domain(&conn, "here.test", "", 0).unwrap();
        conn
    }

    fn add(conn: &Connection, user: &str, kind: AccountKind, arg: &str) {
        let new = NewAccount { domain: "here.test".into(), user: user.into(), password: None, kind, arg: arg.into() };
        accounts::add_account(conn, &new).unwrap();
    }

    #[test]
    fn aliases_expand_through_levels_and_stop_at_loops() {
        let c = store();
        add(&c, "bob", AccountKind::Mbox, "");
        add(&c, "carol", AccountKind::Mbox, "");
        add(&c, "team", AccountKind::Alias, "bob@here.test, leads@here.test");
        add(&c, "leads", AccountKind::Alias, "carol@here.test;x@other.test team@here.test");
        add(&c, "ping", AccountKind::Alias, "pong@here.test");
        add(&c, "pong", AccountKind::Alias, "ping@here.test");
        let mut got = expand(&c, "team@here.test").unwrap();
        got.sort();
        assert_eq!(got, ["bob@here.test", "carol@here.test", "x@other.test"]);
        assert!(expand(&c, "ping@here.test").unwrap().is_empty(), "a pure loop reaches nobody");
    }

    #[test]
    fn routes_by_account_type() {
        let mut c = store();
        add(&c, "bob", AccountKind::Mbox, "");
        add(&c, "out", AccountKind::Relay, "smarthost.test:2525");
        add(&c, "self", AccountKind::Alias, "self@here.test");
        let storage = Path::new("/srv/storage");
        assert!(matches!(resolve(&mut c, storage, "Bob@Here.Test").unwrap(), Route::Mailbox { letters, .. } if letters == storage));
        assert!(matches!(resolve(&mut c, storage, "out@here.test").unwrap(), Route::Relay(h) if h == "smarthost.test:2525"));
        assert!(matches!(resolve(&mut c, storage, "x@far.test").unwrap(), Route::Remote(d) if d == "far.test"));
        assert!(matches!(resolve(&mut c, storage, "nobody@here.test").unwrap(), Route::Fail { status: "5.1.1", .. }));
        assert!(matches!(resolve(&mut c, storage, "self@here.test").unwrap(), Route::Fail { status: "5.4.6", .. }));
    }
}
