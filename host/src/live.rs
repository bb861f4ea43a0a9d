//! Protocol settings `Rumble.reloadConfiguration` changes without a restart.
//! Each protocol's listeners share one context behind a [`Live`]; a session
//! takes the current one when it starts and keeps it, so a reload changes
//! the sessions that start after it and never one in the middle of a
//! command.

use std::sync::{Arc, OnceLock, RwLock};

use crate::config::Settings;
use crate::imap::ImapContext;
use crate::pop3::Pop3Context;
use crate::smtp::SmtpContext;

/// A value readers take a snapshot of; a writer replaces it whole.
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    pub fn new(value: T) -> Arc<Live<T>> {
        Arc::new(Live(RwLock::new(Arc::new(value))))
    }

    pub fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn update(&self, change: impl FnOnce(&T) -> T) {
        let mut current = self.0.write().unwrap_or_else(|e| e.into_inner());
        *current = Arc::new(change(&current));
    }
}

/// The running protocols' contexts (each set once its listeners start).
#[derive(Default)]
pub struct LiveContexts {
    pub smtp: OnceLock<Arc<Live<SmtpContext>>>,
    pub pop3: OnceLock<Arc<Live<Pop3Context>>>,
    pub imap: OnceLock<Arc<Live<ImapContext>>>,
}

/// The directives (lower-case) a reload applies to new sessions.
pub const LIVE_KEYS: &[&str] = &[
    "messagesizelimit",
    "enforcefqdn",
    "blockoutgoingmail",
    "enforcesenderlogin",
    "allowplaintextauth",
    "smtptimeout",
    "pop3timeout",
    "imaptimeout",
    "prelogintimeout",
];

impl LiveContexts {
    /// Apply the settings of every live directive to the running
    /// protocols; false when `key` is not one of [`LIVE_KEYS`].
    pub fn apply(&self, key: &str, s: &Settings) -> bool {
        if !LIVE_KEYS.contains(&key) {
            return false;
        }
        if let Some(smtp) = self.smtp.get() {
            smtp.update(|c| SmtpContext {
                max_size: s.message_size_limit,
                enforce_fqdn: s.enforce_fqdn,
                block_outgoing: s.block_outgoing_mail,
                enforce_sender_login: s.enforce_sender_login,
                allow_plaintext_auth: s.allow_plaintext_auth,
                command_timeout: s.smtp_timeout,
                data_timeout: s.smtp_timeout,
                pre_login_timeout: s.pre_login_timeout.min(s.smtp_timeout),
                ..c.clone()
            });
        }
        if let Some(pop3) = self.pop3.get() {
            pop3.update(|c| Pop3Context {
                allow_plaintext_auth: s.allow_plaintext_auth,
                timeout: s.pop3_timeout,
                pre_login_timeout: s.pre_login_timeout.min(s.pop3_timeout),
                ..c.clone()
            });
        }
        if let Some(imap) = self.imap.get() {
            imap.update(|c| ImapContext {
                allow_plaintext_auth: s.allow_plaintext_auth,
                timeout: s.imap_timeout,
                pre_login_timeout: s.pre_login_timeout.min(s.imap_timeout),
                max_message: s.message_size_limit,
                ..c.clone()
            });
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_keep_their_snapshot() {
        let live = Live::new(1);
        let before = live.get();
        live.update(|v| v + 1);
        assert_eq!((*before, *live.get()), (1, 2));
    }
}
