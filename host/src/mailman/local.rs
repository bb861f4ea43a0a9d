//! Delivery to our own domains: into a mailbox, through an alias, or on to
//! a relay account's smarthost. Where a recipient goes (aliases expanded
//! in one go, loops cut) is the store's `route_recipient`.

use std::path::PathBuf;

use super::hooks::{Decision, Placement};
use super::outcome::Outcome;
use super::remote::Target;
use super::Mailman;
use crate::store::delivery::LocalRoute;
use crate::store::queue::QueueItem;
use crate::store::{StoreError, spool};

pub(super) enum Handled {
    /// The row's outcome is recorded (delivered, forwarded, bounced or
    /// rescheduled).
    Done,
    /// The row goes out over SMTP.
    Remote(Target),
}

impl Mailman {
    pub(super) async fn deliver_local(&self, item: &QueueItem) -> Handled {
        if let Some(reply) = item.decided() {
            tracing::info!(target: "mailman", "{} to {}: a message hook decided {reply}", item.fid, item.recipient);
            self.settle(vec![(item.clone(), super::hooks::decided_outcome(reply))]).await;
            return Handled::Done;
        }
        let route = match self.store.route_recipient(&item.recipient).await {
            Ok(route) => route,
            Err(e) => {
                self.settle(vec![(item.clone(), Outcome::Held(format!("4.3.0 store error: {e}")))]).await;
                return Handled::Done;
            }
        };
        let outcome = match route {
            LocalRoute::Remote(domain) => return Handled::Remote(Target::Domain(domain)),
            LocalRoute::Relay(host) => return Handled::Remote(Target::Smarthost(host)),
            LocalRoute::Fail { status, text } => Outcome::permanent(status, text, None),
            LocalRoute::Forward(targets) => match self.forward(item, targets).await {
                Ok(()) => return Handled::Done,
                Err(e) => Outcome::Held(format!("4.3.0 cannot queue alias targets: {e}")),
            },
            LocalRoute::Mailbox { account, letters } => match self.deliver_hooks(item, account).await {
                Decision::Settle(outcome) => outcome,
                Decision::Store(place) => match self.deliver_to_mailbox(item, account, letters, place).await {
                    Ok(()) => return Handled::Done,
                    // Our disk or store failed (ENOSPC, EIO, a lock): not the
                    // recipient's fault, so it must not bounce with the attempts.
                    Err(e) => Outcome::Held(format!("4.3.0 local delivery failed: {e}")),
                },
            },
        };
        self.settle(vec![(item.clone(), outcome)]).await;
        Handled::Done
    }

    /// Copy the message into the account's letter folder, then record the
    /// letter and complete the row in one transaction. A crash in between
    /// leaves an unreferenced file and the row, which is delivered again:
    /// the mailbox still ends up with exactly one copy.
    async fn deliver_to_mailbox(&self, item: &QueueItem, account: i64, letters: PathBuf, place: Placement) -> Result<(), String> {
        let spool_file = spool::spool_path(&self.cfg.storage, &item.fid);
        let dir = letters.clone();
        let header = format!("Return-Path: <{}>\r\nDelivered-To: {}\r\n", item.sender, item.recipient);
        let (letter, size) = tokio::task::spawn_blocking(move || spool::deliver_letter(&spool_file, &dir, header.as_bytes()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("writing a letter into {}: {e}", letters.display()))?;
        let folder = place.folder.clone();
        match self.store.record_delivery(item, account, &letters, &letter, size, (place.folder, place.flags, place.keywords)).await {
            Ok(()) => {
                tracing::info!(target: "mailman", "delivered {} to {} {folder} (letter {letter})", item.fid, item.recipient);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(spool::letter_path(&letters, &letter));
                Err(format!("recording letter {letter}: {e}"))
            }
        }
    }

    async fn forward(&self, item: &QueueItem, targets: Vec<String>) -> Result<(), StoreError> {
        let count = targets.len();
        self.store.forward(item, targets).await?;
        tracing::info!(target: "mailman", "{} for {} forwarded to {count} address(es)", item.fid, item.recipient);
        self.queued.notify_one();
        Ok(())
    }
}
