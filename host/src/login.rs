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
//!
//! Each argon2id check takes 19 MiB for tens of milliseconds, so checks run
//! on a few threads of their own ([`CHECK_THREADS`]) fed by a bounded queue:
//! a storm of failed logins costs at most those threads' memory (which
//! their allocator keeps for the next check, not once per client), and past
//! [`MAX_WAITING`] queued checks a login gets a temporary failure at once.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::accounts::Account;
use crate::store::{Store, StoreError};

/// Remembered logins; the map is cleared when it grows past this.
const CACHE_ENTRIES: usize = 10_000;
/// Threads that check password hashes.
const CHECK_THREADS: usize = 2;
/// Checks that may wait for a thread; more get a temporary failure.
const MAX_WAITING: usize = 64;
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
    let Some(account) = store.exact_account(&domain, &user).await? else {
        return Ok(None);
    };
    let digest = keyed_digest(password);
    if remembered(account.id, &account.password, &digest) {
        return Ok(Some(account));
    }
    let given = password.to_string();
    let checked = account.clone();
    let ok = on_check_thread(move || checked.check_password(&given)).await?;
    if ok {
        remember(account.id, &account.password, digest);
    }
    Ok(ok.then_some(account))
}

type CheckJob = Box<dyn FnOnce() + Send>;

/// Run `check` on one of the password threads, or fail at once with
/// `Busy` when too many checks are waiting already.
async fn on_check_thread(check: impl FnOnce() -> bool + Send + 'static) -> Result<bool, StoreError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: CheckJob = Box::new(move || {
        let _ = tx.send(check());
    });
    match check_queue().try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            report_refusal();
            return Err(StoreError::Busy(format!("{MAX_WAITING} password checks are waiting already")));
        }
        Err(TrySendError::Disconnected(_)) => return Err(StoreError::Busy("no password check threads".into())),
    }
    rx.await.map_err(|_| StoreError::Busy("the password check was dropped".into()))
}

/// Logins refused because the queue was full: counted, and logged once per
/// interval, so a storm does not also flood the log (callers do not log
/// `Busy` themselves).
fn report_refusal() {
    static REFUSED: Mutex<crate::log::Throttle> = Mutex::new(crate::log::Throttle::NEW);
    if let Some(count) = REFUSED.lock().unwrap_or_else(|e| e.into_inner()).count() {
        tracing::warn!(target: "core", "{count} login(s) refused for now: {MAX_WAITING} password checks were waiting already");
    }
}

fn check_queue() -> &'static SyncSender<CheckJob> {
    static QUEUE: OnceLock<SyncSender<CheckJob>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<CheckJob>(MAX_WAITING);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..CHECK_THREADS {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("rumble-login-{i}"))
                .spawn(move || check_worker(&rx))
                .expect("spawn a password check thread");
        }
        tx
    })
}

fn check_worker(jobs: &Mutex<Receiver<CheckJob>>) {
    loop {
        let job = match jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job();
        give_back_memory();
    }
}

/// An argon2 check frees its 19 MiB, but glibc keeps freed chunks this
/// large in the thread's arena (57 MB per check thread was seen): hand the
/// free pages back to the kernel, so memory after a login storm returns.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
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

    #[tokio::test]
    async fn checks_past_the_queue_are_refused_at_once() {
        // Block both threads, fill the queue, then one more is Busy.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut waiting = Vec::new();
        for _ in 0..CHECK_THREADS {
            let gate = gate.clone();
            waiting.push(tokio::spawn(on_check_thread(move || gate.lock().unwrap().recv().is_ok())));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..MAX_WAITING {
            waiting.push(tokio::spawn(on_check_thread(|| true)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(on_check_thread(|| true).await, Err(StoreError::Busy(_))));
        for _ in 0..CHECK_THREADS {
            release.send(()).unwrap();
        }
        for w in waiting {
            assert!(w.await.unwrap().unwrap());
        }
        assert!(on_check_thread(|| true).await.unwrap(), "the queue drains and serves again");
    }

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
