//! The POP3 maildrop lock (RFC 1939 §8: one session per maildrop). Within
//! a process a set of held accounts; with PostgreSQL also a row per account
//! that holds across nodes, renewed by its node's heartbeat and taken over
//! once a dead node's row expires.

use super::{Engine, Store, StoreError, spool};

/// Holds an account's maildrop; released however the session ends.
pub struct MaildropLock {
    store: Store,
    account: i64,
    /// Names this hold's row, so a late release never frees a newer hold.
    token: String,
}

impl Store {
    /// The maildrop of `account`, or None while another session (on any
    /// node) holds it.
    pub async fn lock_maildrop(&self, account: i64) -> Result<Option<MaildropLock>, StoreError> {
        if !self.maildrops.lock().unwrap_or_else(|e| e.into_inner()).insert(account) {
            return Ok(None);
        }
        // From here the guard gives the hold back, whatever happens.
        let lock = MaildropLock { store: self.clone(), account, token: spool::new_fid() };
        if let Engine::Postgres(p) = &*self.engine
            && !p.lock_maildrop(account, &lock.token).await?
        {
            return Ok(None);
        }
        Ok(Some(lock))
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.store.maildrops.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.account);
        let Engine::Postgres(_) = &*self.store.engine else { return };
        let (store, account, token) = (self.store.clone(), self.account, std::mem::take(&mut self.token));
        // Without a runtime (shutting down) the row expires on its own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let Engine::Postgres(p) = &*store.engine else { return };
                if let Err(e) = p.unlock_maildrop(account, &token).await {
                    tracing::warn!(target: "db", "cannot release the maildrop lock of account {account}: {e}");
                }
            });
        }
    }
}
