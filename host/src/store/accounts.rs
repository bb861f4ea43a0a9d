//! Domains and accounts, as Rumble modelled them: an address is
//! `accounts.user` + `accounts.domain`, where the user name is a GLOB
//! pattern (`*` is a catch-all, `sales-*` a prefix) and the longest matching
//! pattern wins. Names are stored and looked up lower-case (Rumble
//! lower-cased at delivery but not at RCPT, so mixed case never matched).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{StoreError, password};

/// Domain flag: no relaying for senders in this domain (Rumble's NORELAY).
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

fn domain_from_row(row: &Row) -> rusqlite::Result<Domain> {
    Ok(Domain { id: row.get(0)?, name: row.get(1)?, storage_path: row.get(2)?, flags: row.get(3)? })
}

fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
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

const ACCOUNT_COLUMNS: &str = "id, domain, user, password, type, arg";

pub fn add_domain(conn: &Connection, name: &str, storage_path: &str, flags: i64) -> Result<Domain, StoreError> {
    let name = normalize_domain(name)?;
    if find_domain(conn, &name)?.is_some() {
        return Err(StoreError::Exists(format!("domain {name}")));
    }
    conn.execute(
        "INSERT INTO domains (domain, storagepath, flags) VALUES (?1, ?2, ?3)",
        params![name, storage_path, flags],
    )?;
    find_domain(conn, &name)?.ok_or_else(|| StoreError::NotFound(format!("domain {name}")))
}

pub fn find_domain(conn: &Connection, name: &str) -> Result<Option<Domain>, StoreError> {
    let name = name.to_ascii_lowercase();
    Ok(conn
        .query_row("SELECT id, domain, storagepath, flags FROM domains WHERE domain = ?1", [name], domain_from_row)
        .optional()?)
}

pub fn list_domains(conn: &Connection) -> Result<Vec<Domain>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, domain, storagepath, flags FROM domains ORDER BY domain")?;
    let rows = stmt.query_map([], domain_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Delete a domain and its accounts; false if there was no such domain.
pub fn delete_domain(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let name = name.to_ascii_lowercase();
    Ok(conn.execute("DELETE FROM domains WHERE domain = ?1", [name])? > 0)
}

pub fn add_account(conn: &Connection, new: &NewAccount) -> Result<Account, StoreError> {
    let domain = normalize_domain(&new.domain)?;
    let user = normalize_user(&new.user)?;
    if find_domain(conn, &domain)?.is_none() {
        return Err(StoreError::NotFound(format!("domain {domain} (add it first)")));
    }
    validate_arg(&new.kind, &new.arg)?;
    let stored = match &new.password {
        Some(p) if !p.is_empty() => password::hash(p).map_err(StoreError::Invalid)?,
        _ => String::new(),
    };
    if exact_account(conn, &domain, &user)?.is_some() {
        return Err(StoreError::Exists(format!("account {user}@{domain}")));
    }
    conn.execute(
        "INSERT INTO accounts (domain, user, password, type, arg) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![domain, user, stored, new.kind.as_str(), new.arg],
    )?;
    let account = exact_account(conn, &domain, &user)?.ok_or_else(|| StoreError::NotFound(format!("account {user}@{domain}")))?;
    if account.kind == AccountKind::Mbox {
        super::folders::create_defaults(conn, account.id, super::unix_now())?;
    }
    Ok(account)
}

fn validate_arg(kind: &AccountKind, arg: &str) -> Result<(), StoreError> {
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

/// The account stored under exactly this user name (no pattern matching).
pub fn exact_account(conn: &Connection, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1 AND user = ?2");
    Ok(conn
        .query_row(&sql, params![domain.to_ascii_lowercase(), user.to_ascii_lowercase()], account_from_row)
        .optional()?)
}

/// The account an address delivers to: the longest user pattern of the
/// domain that GLOB-matches the user (so `john` beats `j*` beats `*`).
pub fn find_account(conn: &Connection, domain: &str, user: &str) -> Result<Option<Account>, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1 AND ?2 GLOB user \
         ORDER BY LENGTH(user) DESC, id LIMIT 1"
    );
    Ok(conn
        .query_row(&sql, params![domain.to_ascii_lowercase(), user.to_ascii_lowercase()], account_from_row)
        .optional()?)
}

pub fn list_accounts(conn: &Connection, domain: &str) -> Result<Vec<Account>, StoreError> {
    let domain = normalize_domain(domain)?;
    if find_domain(conn, &domain)?.is_none() {
        return Err(StoreError::NotFound(format!("domain {domain}")));
    }
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE domain = ?1 ORDER BY user");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([domain], account_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Delete the account stored under exactly `user`; false if none.
pub fn delete_account(conn: &Connection, domain: &str, user: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM accounts WHERE domain = ?1 AND user = ?2",
        params![domain.to_ascii_lowercase(), user.to_ascii_lowercase()],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn mbox(domain: &str, user: &str) -> NewAccount {
        NewAccount { domain: domain.into(), user: user.into(), password: Some("pw".into()), kind: AccountKind::Mbox, arg: String::new() }
    }

    #[test]
    fn domains_are_lower_case_unique_and_validated() {
        let c = store();
        let d = add_domain(&c, "Example.ORG.", "", DOMAIN_NO_RELAY).unwrap();
        assert_eq!(d.name, "example.org");
        assert_eq!(d.flags, DOMAIN_NO_RELAY);
        assert!(matches!(add_domain(&c, "example.org", "", 0), Err(StoreError::Exists(_))));
        for bad in ["", "a..b", "-a.org", "a b.org", "x@y.org", "a_b.org"] {
            assert!(matches!(add_domain(&c, bad, "", 0), Err(StoreError::Invalid(_))), "{bad:?}");
        }
        assert_eq!(list_domains(&c).unwrap().len(), 1);
    }

    #[test]
    fn glob_lookup_prefers_the_longest_pattern() {
        let c = store();
        add_domain(&c, "example.org", "", 0).unwrap();
        for user in ["*", "sales-*", "john"] {
            add_account(&c, &mbox("example.org", user)).unwrap();
        }
        let who = |u: &str| find_account(&c, "EXAMPLE.org", u).unwrap().map(|a| a.user);
        assert_eq!(who("john").as_deref(), Some("john"));
        assert_eq!(who("John").as_deref(), Some("john"));
        assert_eq!(who("sales-eu").as_deref(), Some("sales-*"));
        assert_eq!(who("anyone").as_deref(), Some("*"));
        assert_eq!(find_account(&c, "other.org", "john").unwrap(), None);
        // exact lookup does not pattern-match
        assert_eq!(exact_account(&c, "example.org", "sales-eu").unwrap(), None);
    }

    #[test]
    fn accounts_need_their_domain_and_valid_args() {
        let c = store();
        assert!(matches!(add_account(&c, &mbox("nowhere.org", "a")), Err(StoreError::NotFound(_))));
        add_domain(&c, "example.org", "", 0).unwrap();
        let alias = |arg: &str| NewAccount { domain: "example.org".into(), user: "team".into(), password: None, kind: AccountKind::Alias, arg: arg.into() };
        assert!(matches!(add_account(&c, &alias("")), Err(StoreError::Invalid(_))));
        assert!(matches!(add_account(&c, &alias("not-an-address")), Err(StoreError::Invalid(_))));
        let a = add_account(&c, &alias("Ann@example.org, bob@example.net;carol@x.org")).unwrap();
        assert_eq!(a.alias_targets(), ["ann@example.org", "bob@example.net", "carol@x.org"]);
        assert!(matches!(add_account(&c, &alias("a@b.org")), Err(StoreError::Exists(_))));
        let relay = NewAccount { domain: "example.org".into(), user: "*".into(), password: None, kind: AccountKind::Relay, arg: " ".into() };
        assert!(matches!(add_account(&c, &relay), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn passwords_are_salted_and_rumble_hashes_still_work() {
        let c = store();
        add_domain(&c, "example.org", "", 0).unwrap();
        let a = add_account(&c, &mbox("example.org", "ann")).unwrap();
        assert!(a.password.starts_with("$argon2id$"));
        assert!(a.check_password("pw"));
        assert!(!a.check_password("PW"));
        // an account written the Rumble way (Mailman.saveAccount with :SHA256())
        c.execute(
            "INSERT INTO accounts (domain, user, password, type) VALUES ('example.org', 'old', ?1, 'mbox')",
            ["2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"],
        )
        .unwrap();
        let old = exact_account(&c, "example.org", "old").unwrap().unwrap();
        assert!(old.check_password("secret"));
    }

    #[test]
    fn deleting_a_domain_deletes_its_accounts() {
        let c = store();
        add_domain(&c, "example.org", "", 0).unwrap();
        add_account(&c, &mbox("example.org", "ann")).unwrap();
        assert!(delete_account(&c, "example.org", "ANN").unwrap());
        assert!(!delete_account(&c, "example.org", "ann").unwrap());
        add_account(&c, &mbox("example.org", "bob")).unwrap();
        assert!(delete_domain(&c, "example.org").unwrap());
        let left: i64 = c.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
        assert!(!delete_domain(&c, "example.org").unwrap());
    }

    #[test]
    fn unknown_stored_types_are_kept() {
        let c = store();
        add_domain(&c, "example.org", "", 0).unwrap();
        c.execute("INSERT INTO accounts (domain, user, type, arg) VALUES ('example.org', 'f', 'feed', '/bin/x')", []).unwrap();
        let f = exact_account(&c, "example.org", "f").unwrap().unwrap();
        assert_eq!(f.kind, AccountKind::Other("feed".into()));
        assert!(!f.check_password(""));
    }
}
