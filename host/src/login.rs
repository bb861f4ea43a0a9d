//! Checking a user's password, for every protocol (SMTP AUTH, POP3, IMAP).
//! The login name is the full address, `user@domain`; only an account
//! stored under exactly that name can log in (a GLOB pattern such as a
//! catch-all receives mail but is not a login).
//!
//! argon2id is slow on purpose (tens of milliseconds), and mail clients log
//! in often (mbsync, phones polling, one connection per IMAP folder). Like
//! Dovecot's auth cache, a successful check is remembered: a keyed digest of
//! the password (a random per-process key, so the cache holds nothing an
//! attacker could test guesses against offline) next to the stored hash it
//! matched. A changed password changes the stored hash and misses the cache.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::accounts::{self, Account};
use crate::store::{Store, StoreError};

/// Remembered logins; the map is cleared when it grows past this.
const CACHE_ENTRIES: usize = 10_000;
/// Pause before answering a failed login, to slow down password guessing
/// (the same for an unknown user, so the time tells nothing).
const FAILURE_DELAY: Duration = Duration::from_millis(300);

/// The account if `login` exists and `password` is right. The hash is
/// checked on a blocking thread so the store's own thread never waits for it.
/// A failure returns only after [`FAILURE_DELAY`].
pub async fn authenticate(store: &Store, login: &str, password: &str) -> Result<Option<Account>, StoreError> {
    let account = check(store, login, password).await?;
    if account.is_none() {
        tokio::time::sleep(FAILURE_DELAY).await;
    }
    Ok(account)
}

async fn check(store: &Store, login: &str, password: &str) -> Result<Option<Account>, StoreError> {
    let Some((user, domain)) = login.rsplit_once('@') else {
        return Ok(None);
    };
    let (user, domain) = (user.to_lowercase(), domain.to_lowercase());
    let Some(account) = store.call(move |c| accounts::exact_account(c, &domain, &user)).await? else {
        return Ok(None);
    };
    let digest = keyed_digest(password);
    if remembered(account.id, &account.password, &digest) {
        return Ok(Some(account));
    }
    let given = password.to_string();
    let checked = account.clone();
    let ok = tokio::task::spawn_blocking(move || checked.check_password(&given)).await.unwrap_or(false);
    if ok {
        remember(account.id, &account.password, digest);
    }
    Ok(ok.then_some(account))
}

type Cache = Mutex<HashMap<i64, (String, [u8; 32])>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn keyed_digest(password: &str) -> [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("the OS random source failed");
        k
    });
    let mut h = Sha256::new();
    h.update(key);
    h.update(password.as_bytes());
    h.update(key);
    h.finalize().into()
}

fn remembered(account: i64, stored: &str, digest: &[u8; 32]) -> bool {
    let cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    cache.get(&account).is_some_and(|(s, d)| s == stored && d.iter().zip(digest).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0)
}

fn remember(account: i64, stored: &str, digest: [u8; 32]) {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(account, (stored.to_string(), digest));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_matches_only_the_same_password_and_stored_hash() {
        let d = keyed_digest("secret");
        assert_ne!(d, keyed_digest("secreT"));
        remember(7, "$argon2id$old", d);
        assert!(remembered(7, "$argon2id$old", &keyed_digest("secret")));
        assert!(!remembered(7, "$argon2id$old", &keyed_digest("wrong")));
        assert!(!remembered(7, "$argon2id$new", &d), "a changed password misses");
        assert!(!remembered(8, "$argon2id$old", &d));
    }
}
