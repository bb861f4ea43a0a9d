//! What the protocols ask about domains and accounts (is a domain ours,
//! who is a recipient, who may log in), and the maildrop and queue steps of
//! SMTP and POP3: each one call, with what follows its commit.

use std::path::PathBuf;

use super::accounts::{self, Account, AccountKind, Domain, NewAccount};
use super::mailbox::{self, Letter, flags};
use super::{Store, StoreError, blobs, queue, spool, unix_now};

impl Store {
    pub async fn add_domain(&self, name: &str, storage_path: &str, flags: i64) -> Result<Domain, StoreError> {
        let (name, path) = (name.to_string(), storage_path.to_string());
        self.transaction(move |tx| Box::pin(async move { accounts::add_domain(tx, &name, &path, flags).await })).await
    }

    pub async fn list_domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.read(|tx| Box::pin(accounts::list_domains(tx))).await
    }

    /// The domain and its accounts; false when there is no such domain.
    pub async fn delete_domain(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.autocommit(move |tx| Box::pin(async move { accounts::delete_domain(tx, &name).await })).await
    }

    pub async fn add_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        self.transaction(move |tx| Box::pin(async move { accounts::add_account(tx, &new).await })).await
    }

    pub async fn list_accounts(&self, domain: &str) -> Result<Vec<Account>, StoreError> {
        let domain = domain.to_string();
        self.read(move |tx| Box::pin(async move { accounts::list_accounts(tx, &domain).await })).await
    }

    /// False when there is no such account.
    pub async fn delete_account(&self, domain: &str, user: &str) -> Result<bool, StoreError> {
        let (domain, user) = (domain.to_string(), user.to_string());
        self.autocommit(move |tx| Box::pin(async move { accounts::delete_account(tx, &domain, &user).await })).await
    }

    /// Queue rows, the next due first.
    pub async fn list_queue(&self, limit: u32) -> Result<Vec<queue::QueueItem>, StoreError> {
        self.autocommit(move |tx| Box::pin(queue::list(tx, limit))).await
    }

    pub async fn find_domain(&self, domain: &str) -> Result<Option<Domain>, StoreError> {
        let domain = domain.to_string();
        self.read(move |tx| Box::pin(async move { accounts::find_domain(tx, &domain).await })).await
    }

    /// The account that `user@domain` resolves to (Rumble's GLOB lookup).
    pub async fn find_account(&self, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
        let (domain, user) = (domain.to_string(), user.to_string());
        self.read(move |tx| Box::pin(async move { accounts::find_account(tx, &domain, &user).await })).await
    }

    /// The account named exactly `user@domain` (logins: no patterns).
    pub async fn exact_account(&self, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
        let (domain, user) = (domain.to_string(), user.to_string());
        self.read(move |tx| Box::pin(async move { accounts::exact_account(tx, &domain, &user).await })).await
    }

    /// The alias account `user@domain` resolves to, if it is an alias.
    pub async fn find_alias(&self, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.find_account(domain, user).await?.filter(|a| a.kind == AccountKind::Alias))
    }

    /// None when `domain` is not ours; else whether `user` has an account there.
    pub async fn local_recipient(&self, domain: &str, user: &str) -> Result<Option<bool>, StoreError> {
        let (domain, user) = (domain.to_string(), user.to_string());
        self.read(move |tx| {
            Box::pin(async move {
                if accounts::find_domain(tx, &domain).await?.is_none() {
                    return Ok(None);
                }
                Ok(Some(accounts::find_account(tx, &domain, &user).await?.is_some()))
            })
        })
        .await
    }

    /// The first `postmaster@` that exists: at `first` (ServerName), else
    /// in our domains in order.
    pub async fn postmaster(&self, first: &str) -> Result<Option<String>, StoreError> {
        let first = first.to_string();
        self.read(move |tx| {
            Box::pin(async move {
                let mut domains = vec![first];
                domains.extend(accounts::list_domains(tx).await?.into_iter().map(|d| d.name));
                for d in domains {
                    if accounts::find_domain(tx, &d).await?.is_some() && accounts::find_account(tx, &d, "postmaster").await?.is_some() {
                        return Ok(Some(format!("postmaster@{d}")));
                    }
                }
                Ok(None)
            })
        })
        .await
    }

    /// Queue rows for a message whose spool file is durable (with its body,
    /// when bodies are kept in the database), in one transaction; if they
    /// cannot be added the spool file is removed.
    pub async fn enqueue(&self, fid: &str, sender: &str, recipients: Vec<String>, params: &str) -> Result<(), StoreError> {
        let rows = recipients.into_iter().map(|r| (r, None)).collect();
        self.enqueue_decided(fid, sender, rows, params).await
    }

    /// [`Store::enqueue`] where some recipients come with a reply a hook
    /// decided (see `queue::enqueue_decided`).
    pub async fn enqueue_decided(&self, fid: &str, sender: &str, recipients: Vec<(String, Option<String>)>, params: &str) -> Result<(), StoreError> {
        let (f, sender, params) = (fid.to_string(), sender.to_string(), params.to_string());
        let queued = async {
            let body = self.body_for_database(spool::spool_path(&self.storage, fid)).await?;
            self.transaction(move |tx| {
                Box::pin(async move {
                    blobs::put(tx, &f, body.as_deref()).await?;
                    queue::enqueue_decided(tx, &f, &sender, &recipients, &params, unix_now()).await.map(drop)
                })
            })
            .await
        }
        .await;
        if queued.is_err() {
            spool::remove_spool(&self.storage, fid);
        }
        queued
    }

    /// POP3's maildrop: the account's INBOX (made if missing), where its
    /// letter files are, and its letters.
    pub async fn open_inbox(&self, account: &Account) -> Result<(i64, PathBuf, Vec<Letter>), StoreError> {
        let (id, domain, storage) = (account.id, account.domain.clone(), self.storage.clone());
        self.transaction(move |tx| {
            Box::pin(async move {
                let inbox = mailbox::ensure_folder(tx, id, "INBOX", unix_now()).await?;
                let dir = mailbox::domain_letter_dir(tx, &storage, &domain).await?;
                Ok((inbox.id, dir, mailbox::letters(tx, inbox.id).await?))
            })
        })
        .await
    }

    /// POP3's UPDATE state: \Seen on what was retrieved and the deleted
    /// letters removed, in one transaction; then announced and the freed
    /// files (under `dir`) deleted.
    pub async fn close_maildrop(&self, folder: i64, dir: PathBuf, seen: Vec<i64>, deleted: Vec<i64>) -> Result<(), StoreError> {
        let freed = self
            .transaction(move |tx| {
                Box::pin(async move {
                    tx.lock_folder(folder).await?;
                    mailbox::add_flags(tx, &seen, flags::SEEN).await?;
                    mailbox::remove_letters(tx, folder, &deleted).await
                })
            })
            .await?;
        self.folder_changed(folder);
        super::mail::remove_files(&dir, freed);
        Ok(())
    }
}
