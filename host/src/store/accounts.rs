//! Domains and accounts, as Rumble modelled them: an address is
//! `accounts.user` + `accounts.domain`, where the user name is a GLOB
//! pattern (`*` is a catch-all, `sales-*` a prefix) and the longest matching
//! pattern wins. Names are stored and looked up lower-case (Rumble
//! lower-cased at delivery but not at RCPT, so mixed case never matched).

use super::sql::{Row, Tx, args};
use super::{StoreError, password};

pub const DOMAIN_NO_RELAY: i64 = 0x1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: i64,
    pub name: String,
    /// Alternative letter folder ("" = StorageFolder).
    pub storage_path: String,
    pub flags: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKind {
    /// A mailbox.
    Mbox,
    /// Forwards to the addresses in `arg` (space, comma or semicolon separated).
    Alias,
    /// Hands mail to the smarthost in `arg` (`host[:port]`).
    Relay,
    /// A type written by something else (Rumble's `feed`, `mod`, ...): kept
    /// as is, not deliverable by this server.
    Other(String),
}

impl AccountKind {
    /// Parse a type given by an operator; only the types this server delivers.
    pub fn parse(text: &str) -> Result<AccountKind, StoreError> {
        match text.to_ascii_lowercase().as_str() {
            "mbox" | "mailbox" => Ok(AccountKind::Mbox),
            "alias" => Ok(AccountKind::Alias),
            "relay" => Ok(AccountKind::Relay),
            other => Err(StoreError::Invalid(format!("unknown account type \"{other}\" (mbox, alias or relay)"))),
        }
    }

    fn from_db(text: &str) -> AccountKind {
        AccountKind::parse(text).unwrap_or_else(|_| AccountKind::Other(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            AccountKind::Mbox => "mbox",
            AccountKind::Alias => "alias",
            AccountKind::Relay => "relay",
            AccountKind::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub domain: String,
    /// The user name or GLOB pattern.
    pub user: String,
    /// argon2 PHC string or Rumble's hex SHA-256; "" = cannot log in.
    pub password: String,
    pub kind: AccountKind,
    pub arg: String,
}

impl Account {
    pub fn address(&self) -> String {
        format!("{}@{}", self.user, self.domain)
    }

    pub fn check_password(&self, given: &str) -> bool {
        password::verify(&self.password, given)
    }

    /// Alias targets, as Rumble split them.
    pub fn alias_targets(&self) -> Vec<String> {
        split_targets(&self.arg)
    }
}

/// What `account add` creates. `password` is the plain password; it is
/// stored salted (argon2id).
pub struct NewAccount {
    pub domain: String,
    pub user: String,
    pub password: Option<String>,
    pub kind: AccountKind,
    pub arg: String,
}

fn split_targets(arg: &str) -> Vec<String> {
    arg.split([' ', ',', ';', '\t']).filter(|t| !t.is_empty()).map(str::to_ascii_lowercase).collect()
}

/// A domain name: lower-cased, letters/digits/hyphens in dot-separated labels.
pub fn normalize_domain(name: &str) -> Result<String, StoreError> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(StoreError::Invalid(format!("\"{name}\" is not a valid domain name")));
    }
    Ok(name)
}

/// A user name or GLOB pattern: lower-cased, no '@', no spaces or controls.
pub fn normalize_user(user: &str) -> Result<String, StoreError> {
    let user = user.trim().to_ascii_lowercase();
    let bad = |c: char| c == '@' || c.is_whitespace() || c.is_control();
    if user.is_empty() || user.len() > 64 || user.chars().any(bad) {
        return Err(StoreError::Invalid(format!("\"{user}\" is not a valid user name")));
    }
    Ok(user)
}

/// Split `user@domain` (at the last '@').
pub fn split_address(address: &str) -> Result<(String, String), StoreError> {
    let (user, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| StoreError::Invalid(format!("\"{address}\" is not an address (user@domain)")))?;
    Ok((normalize_user(user)?, normalize_domain(domain)?))
}

fn domain_from_row(row: &Row) -> Result<Domain, StoreError> {
    Ok(Domain { id: row.get(0)?, name: row.get(1)?, storage_path: row.get(2)?, flags: row.get(3)? })
}

pub(super) fn account_from_row(row: &Row) -> Result<Account, StoreError> {
    let kind: String = row.get(4)?;
    Ok(Account {
        id: row.get(0)?,
        domain: row.get(1)?,
        user: row.get(2)?,
        password: row.get(3)?,
        kind: AccountKind::from_db(&kind),
        arg: row.get(5)?,
    })
}

pub(super) const ACCOUNT_COLUMNS: &str = r#"id, domain, "user", password, type, arg"#;

pub async fn add_domain(tx: &mut Tx<'_>, name: &str, storage_path: &str, flags: i64) -> Result<Domain, StoreError> {
    let name = normalize_domain(name)?;
    if find_domain(tx, &name).await?.is_some() {
        return Err(StoreError::Exists(format!("domain {name}")));
    }
    let row = tx
        .query_one(
            "INSERT INTO domains (domain, storagepath, flags) VALUES (?1, ?2, ?3) RETURNING id, domain, storagepath, flags",
            args![&name, storage_path, flags],
        )
        .await?;
    domain_from_row(&row)
}

pub async fn find_domain(tx: &mut Tx<'_>, name: &str) -> Result<Option<Domain>, StoreError> {
    let name = name.to_ascii_lowercase();
    let row = tx.query_opt("SELECT id, domain, storagepath, flags FROM domains WHERE domain = ?1", args![&name]).await?;
    row.as_ref().map(domain_from_row).transpose()
}

pub async fn list_domains(tx: &mut Tx<'_>) -> Result<Vec<Domain>, StoreError> {
    let rows = tx.query("SELECT id, domain, storagepath, flags FROM domains ORDER BY domain", &[]).await?;
    rows.iter().map(domain_from_row).collect()
}

/// Delete a domain and (cascading) its accounts; false if there was none.
pub async fn delete_domain(tx: &mut Tx<'_>, name: &str) -> Result<bool, StoreError> {
    let name = name.to_ascii_lowercase();
    Ok(tx.execute("DELETE FROM domains WHERE domain = ?1", args![&name]).await? > 0)
}

/// Add an account; its password (if any) is stored as salted argon2id. An
/// mbox account gets INBOX and the special-use folders.
pub async fn add_account(tx: &mut Tx<'_>, new: &NewAccount) -> Result<Account, StoreError> {
    let domain = normalize_domain(&new.domain)?;
    let user = normalize_user(&new.user)?;
    if find_domain(tx, &domain).await?.is_none() {
        return Err(StoreError::NotFound(format!("domain {domain} (add it first)")));
    }
    validate_arg(&new.kind, &new.arg)?;
    let stored = match &new.password {
        Some(p) if !p.is_empty() => password::hash(p).map_err(StoreError::Invalid)?,
        _ => String::new(),
    };
    if exact_account(tx, &domain, &user).await?.is_some() {
        return Err(StoreError::Exists(format!("account {user}@{domain}")));
    }
    let sql = format!(r#"INSERT INTO accounts (domain, "user", password, type, arg) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {ACCOUNT_COLUMNS}"#);
    let row = tx.query_one(&sql, args![&domain, &user, &stored, new.kind.as_str(), &new.arg]).await?;
    let account = account_from_row(&row)?;
    if account.kind == AccountKind::Mbox {
        super::folders::create_defaults(tx, account.id, super::unix_now()).await?;
    }
    Ok(account)
}

pub(super) fn validate_arg(kind: &AccountKind, arg: &str) -> Result<(), StoreError> {
    match kind {
        AccountKind::Alias => {
            let targets = split_targets(arg);
            if targets.is_empty() {
                return Err(StoreError::Invalid("an alias needs at least one target address (--arg)".into()));
            }
            for t in &targets {
                split_address(t)?;
            }
        }
        AccountKind::Relay if arg.trim().is_empty() => {
            return Err(StoreError::Invalid("a relay account needs a smarthost (--arg host[:port])".into()));
        }
        _ => {}
    }
    Ok(())
}

/// The account named exactly `user@domain` (no pattern matching).
pub async fn exact_account(tx: &mut Tx<'_>, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!(r#"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1 AND "user" = ?2"#);
    let (domain, user) = (domain.to_ascii_lowercase(), user.to_ascii_lowercase());
    let row = tx.query_opt(&sql, args![&domain, &user]).await?;
    row.as_ref().map(account_from_row).transpose()
}

/// Rumble's lookup: the account whose user pattern (SQLite GLOB syntax)
/// matches `user`, the longest pattern first. The database returns the
/// exact name and the patterns of the domain; the match is done here, the
/// same for every engine.
pub async fn find_account(tx: &mut Tx<'_>, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        r#"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1
           AND ("user" = ?2 OR "user" LIKE '%*%' OR "user" LIKE '%?%' OR "user" LIKE '%[%')"#
    );
    let (domain, user) = (domain.to_ascii_lowercase(), user.to_ascii_lowercase());
    let rows = tx.query(&sql, args![&domain, &user]).await?;
    let mut best: Option<Account> = None;
    for row in &rows {
        let candidate = account_from_row(row)?;
        if !glob_matches(candidate.user.as_bytes(), user.as_bytes()) {
            continue;
        }
        let better = best.as_ref().is_none_or(|b| {
            (candidate.user.len(), std::cmp::Reverse(candidate.id)) > (b.user.len(), std::cmp::Reverse(b.id))
        });
        if better {
            best = Some(candidate);
        }
    }
    Ok(best)
}

/// SQLite's GLOB: `*` any run, `?` one character, `[...]` a set (`^`
/// negates, `a-z` ranges, a leading `]` is literal); case-sensitive.
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut retry: Option<(usize, usize)> = None; // after the last `*`
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                retry = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class_matches(pattern, p, text[t]),
            Some(&c) if c == text[t] => Some(p + 1),
            _ => None,
        };
        match (step, retry) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((rp, rt))) => {
                p = rp;
                t = rt + 1;
                retry = Some((rp, rt + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether the set starting at `pattern[open]` (`[`) holds `c`: the index
/// after the set when it does.
fn class_matches(pattern: &[u8], open: usize, c: u8) -> Option<usize> {
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let &m = pattern.get(i)?; // an unclosed set matches nothing
        if m == b']' && !first {
            break;
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|&e| e != b']') {
            found |= (m..=pattern[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= m == c;
            i += 1;
        }
    }
    (found != negate).then_some(i + 1)
}

pub async fn list_accounts(tx: &mut Tx<'_>, domain: &str) -> Result<Vec<Account>, StoreError> {
    let domain = normalize_domain(domain)?;
    if find_domain(tx, &domain).await?.is_none() {
        return Err(StoreError::NotFound(format!("domain {domain}")));
    }
    let sql = format!(r#"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1 ORDER BY "user""#);
    let rows = tx.query(&sql, args![&domain]).await?;
    rows.iter().map(account_from_row).collect()
}

/// Delete an account and (cascading) its mail rows; false if there was none.
pub async fn delete_account(tx: &mut Tx<'_>, domain: &str, user: &str) -> Result<bool, StoreError> {
    let (domain, user) = (domain.to_ascii_lowercase(), user.to_ascii_lowercase());
    Ok(tx.execute(r#"DELETE FROM accounts WHERE domain = ?1 AND "user" = ?2"#, args![&domain, &user]).await? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::testing::memory;
    use crate::store::sql::run_ready;

    fn mbox(domain: &str, user: &str) -> NewAccount {
        NewAccount { domain: domain.into(), user: user.into(), password: Some("pw".into()), kind: AccountKind::Mbox, arg: String::new() }
    }

    #[test]
    fn domains_are_lower_case_unique_and_validated() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        let d = run_ready(add_domain(tx, "Example.ORG.", "", DOMAIN_NO_RELAY)).unwrap();
        assert_eq!(d.name, "example.org");
        assert_eq!(d.flags, DOMAIN_NO_RELAY);
        assert!(matches!(run_ready(add_domain(tx, "example.org", "", 0)), Err(StoreError::Exists(_))));
        for bad in ["", "a..b", "-a.org", "a b.org", "x@y.org", "a_b.org"] {
            assert!(matches!(run_ready(add_domain(tx, bad, "", 0)), Err(StoreError::Invalid(_))), "{bad:?}");
        }
        assert_eq!(run_ready(list_domains(tx)).unwrap().len(), 1);
    }

    #[test]
    fn glob_lookup_prefers_the_longest_pattern() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(add_domain(tx, "example.org", "", 0)).unwrap();
        for user in ["*", "sales-*", "john"] {
            run_ready(add_account(tx, &mbox("example.org", user))).unwrap();
        }
        let mut who = |u: &str| run_ready(find_account(tx, "EXAMPLE.org", u)).unwrap().map(|a| a.user);
        assert_eq!(who("john").as_deref(), Some("john"));
        assert_eq!(who("John").as_deref(), Some("john"));
        assert_eq!(who("sales-eu").as_deref(), Some("sales-*"));
        assert_eq!(who("anyone").as_deref(), Some("*"));
        assert_eq!(run_ready(find_account(tx, "other.org", "john")).unwrap(), None);
        // exact lookup does not pattern-match
        assert_eq!(run_ready(exact_account(tx, "example.org", "sales-eu")).unwrap(), None);
    }

    #[test]
    fn accounts_need_their_domain_and_valid_args() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        assert!(matches!(run_ready(add_account(tx, &mbox("nowhere.org", "a"))), Err(StoreError::NotFound(_))));
        run_ready(add_domain(tx, "example.org", "", 0)).unwrap();
        let alias = |arg: &str| NewAccount { domain: "example.org".into(), user: "team".into(), password: None, kind: AccountKind::Alias, arg: arg.into() };
        assert!(matches!(run_ready(add_account(tx, &alias(""))), Err(StoreError::Invalid(_))));
        assert!(matches!(run_ready(add_account(tx, &alias("not-an-address"))), Err(StoreError::Invalid(_))));
        let a = run_ready(add_account(tx, &alias("Ann@example.org, bob@example.net;carol@x.org"))).unwrap();
        assert_eq!(a.alias_targets(), ["ann@example.org", "bob@example.net", "carol@x.org"]);
        assert!(matches!(run_ready(add_account(tx, &alias("a@b.org"))), Err(StoreError::Exists(_))));
        let relay = NewAccount { domain: "example.org".into(), user: "*".into(), password: None, kind: AccountKind::Relay, arg: " ".into() };
        assert!(matches!(run_ready(add_account(tx, &relay)), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn passwords_are_salted_and_rumble_hashes_still_work() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(add_domain(tx, "example.org", "", 0)).unwrap();
        let a = run_ready(add_account(tx, &mbox("example.org", "ann"))).unwrap();
        assert!(a.password.starts_with("$argon2id$"));
        assert!(a.check_password("pw"));
        assert!(!a.check_password("PW"));
        // an account written the Rumble way (Mailman.saveAccount with :SHA256())
        run_ready(tx.execute(
            r#"INSERT INTO accounts (domain, "user", password, type) VALUES ('example.org', 'old', ?1, 'mbox')"#,
            args!["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"],
        ))
        .unwrap();
        let old = run_ready(exact_account(tx, "example.org", "old")).unwrap().unwrap();
        assert!(old.check_password("secret"));
    }

    #[test]
    fn deleting_a_domain_deletes_its_accounts() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(add_domain(tx, "example.org", "", 0)).unwrap();
        run_ready(add_account(tx, &mbox("example.org", "ann"))).unwrap();
        assert!(run_ready(delete_account(tx, "example.org", "ANN")).unwrap());
        assert!(!run_ready(delete_account(tx, "example.org", "ann")).unwrap());
        run_ready(add_account(tx, &mbox("example.org", "bob"))).unwrap();
        assert!(run_ready(delete_domain(tx, "example.org")).unwrap());
        let left: i64 = run_ready(tx.query_one("SELECT COUNT(*) FROM accounts", &[])).unwrap().get(0).unwrap();
        assert_eq!(left, 0);
        assert!(!run_ready(delete_domain(tx, "example.org")).unwrap());
    }

    #[test]
    fn unknown_stored_types_are_kept() {
        let mut c = memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(add_domain(tx, "example.org", "", 0)).unwrap();
        run_ready(tx.execute(r#"INSERT INTO accounts (domain, "user", type, arg) VALUES ('example.org', 'f', 'feed', '/bin/x')"#, &[])).unwrap();
        let f = run_ready(exact_account(tx, "example.org", "f")).unwrap().unwrap();
        assert_eq!(f.kind, AccountKind::Other("feed".into()));
        assert!(!f.check_password(""));
    }

    #[test]
    fn glob_is_sqlites() {
        let m = |p: &str, t: &str| glob_matches(p.as_bytes(), t.as_bytes());
        assert!(m("*", "") && m("*", "anyone") && m("sales-*", "sales-eu") && !m("sales-*", "sale"));
        assert!(m("j?hn", "john") && !m("j?hn", "jhn") && m("*a*b", "xxaxxb") && !m("*a*b", "xxaxxbc"));
        assert!(m("[abc]x", "bx") && !m("[abc]x", "dx") && m("[^abc]x", "dx") && !m("[^abc]x", "ax"));
        assert!(m("[a-c]1", "b1") && !m("[a-c]1", "d1") && m("[]]", "]") && m("[a-]", "-"));
        assert!(!m("[ab", "a"), "an unclosed set matches nothing");
        assert!(!m("John", "john"), "GLOB is case-sensitive");
    }
}
