//! Checking a user's password, for every protocol (SMTP AUTH, POP3, IMAP).
//! The login name is the full address, `user@domain`; only an account
//! stored under exactly that name can log in (a GLOB pattern such as a
//! catch-all receives mail but is not a login).

use crate::store::accounts::{self, Account};
use crate::store::{Store, StoreError};

/// The account if `login` exists and `password` is right. The hash is
/// checked on a blocking thread: argon2 is slow on purpose, and the store's
/// own thread must not wait for it.
pub async fn authenticate(store: &Store, login: &str, password: &str) -> Result<Option<Account>, StoreError> {
    let Some((user, domain)) = login.rsplit_once('@') else {
        return Ok(None);
    };
    let (user, domain) = (user.to_lowercase(), domain.to_lowercase());
    let Some(account) = store.call(move |c| accounts::exact_account(c, &domain, &user)).await? else {
        return Ok(None);
    };
    let given = password.to_string();
    let checked = account.clone();
    let ok = tokio::task::spawn_blocking(move || checked.check_password(&given)).await.unwrap_or(false);
    Ok(ok.then_some(account))
}
