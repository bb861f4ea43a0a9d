//! A key-value store per script, for state that must outlive one call
//! (greylist triplets, failed-login counts): get, set with an optional
//! time to live, atomic increment, delete. Each script has its own
//! namespace (its name), capped in bytes (keys plus values); expired
//! entries read as absent and are purged when their script writes.

use super::sql::{Engine, Tx, args};
use super::{Store, StoreError, unix_now};

/// A key longer than this is refused (it would be a value in disguise).
pub const MAX_KEY: usize = 1024;

/// Where a write would take a namespace past its cap.
fn over_cap(script: &str, cap: u64) -> StoreError {
    StoreError::Invalid(format!("the key-value store of script \"{script}\" is full ({cap} bytes)"))
}

fn check_key(key: &str) -> Result<(), StoreError> {
    match key.len() {
        0 => Err(StoreError::Invalid("an empty key".into())),
        n if n > MAX_KEY => Err(StoreError::Invalid(format!("a key of {n} bytes (at most {MAX_KEY})"))),
        _ => Ok(()),
    }
}

/// When an entry set now with `ttl` seconds expires (0: never).
fn expiry(ttl: Option<u64>) -> i64 {
    ttl.map_or(0, |t| unix_now().saturating_add(t.min(i64::MAX as u64) as i64).max(1))
}

impl Store {
    pub async fn kv_get(&self, script: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (script, key) = (script.to_string(), key.to_string());
        self.autocommit(move |tx| Box::pin(async move { get(tx, &script, &key).await })).await
    }

    /// Set `key` to `value` (replacing it), expiring after `ttl` seconds if
    /// given; refused if the namespace would grow past `cap` bytes.
    pub async fn kv_set(&self, script: &str, key: &str, value: Vec<u8>, ttl: Option<u64>, cap: u64) -> Result<(), StoreError> {
        check_key(key)?;
        let (script, key) = (script.to_string(), key.to_string());
        self.transaction(move |tx| Box::pin(async move { set(tx, &script, &key, &value, expiry(ttl), cap).await })).await
    }

    /// Add `by` to the integer at `key` (absent, expired or not a number
    /// counts as 0) and return the new value; a `ttl` applies when the
    /// entry is created.
    pub async fn kv_incr(&self, script: &str, key: &str, by: i64, ttl: Option<u64>, cap: u64) -> Result<i64, StoreError> {
        check_key(key)?;
        let (script, key) = (script.to_string(), key.to_string());
        self.transaction(move |tx| Box::pin(async move { incr(tx, &script, &key, by, expiry(ttl), cap).await })).await
    }

    /// False when there was no such (live) key.
    pub async fn kv_delete(&self, script: &str, key: &str) -> Result<bool, StoreError> {
        let (script, key) = (script.to_string(), key.to_string());
        self.autocommit(move |tx| {
            Box::pin(async move {
                let sql = "DELETE FROM script_kv WHERE script = ?1 AND key = ?2 AND (expires = 0 OR expires > ?3)";
                Ok(tx.execute(sql, args![&script, &key, unix_now()]).await? > 0)
            })
        })
        .await
    }
}

async fn get(tx: &mut Tx<'_>, script: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let sql = "SELECT value FROM script_kv WHERE script = ?1 AND key = ?2 AND (expires = 0 OR expires > ?3)";
    match tx.query_opt(sql, args![script, key, unix_now()]).await? {
        Some(row) => Ok(Some(row.get(0)?)),
        None => Ok(None),
    }
}

async fn set(tx: &mut Tx<'_>, script: &str, key: &str, value: &[u8], expires: i64, cap: u64) -> Result<(), StoreError> {
    lock_namespace(tx, script).await?;
    purge_expired(tx, script).await?;
    let size = (key.len() + value.len()) as i64;
    let others: i64 = tx
        .query_one(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM script_kv WHERE script = ?1 AND key != ?2",
            args![script, key],
        )
        .await?
        .get(0)?;
    if (others + size) as u64 > cap {
        return Err(over_cap(script, cap));
    }
    tx.execute(
        "INSERT INTO script_kv (script, key, value, size, expires) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (script, key) DO UPDATE SET value = excluded.value, size = excluded.size, expires = excluded.expires",
        args![script, key, value, size, expires],
    )
    .await?;
    Ok(())
}

async fn incr(tx: &mut Tx<'_>, script: &str, key: &str, by: i64, expires: i64, cap: u64) -> Result<i64, StoreError> {
    lock_namespace(tx, script).await?;
    let sql = "SELECT value, expires FROM script_kv WHERE script = ?1 AND key = ?2 AND (expires = 0 OR expires > ?3)";
    let live = tx.query_opt(sql, args![script, key, unix_now()]).await?;
    let number = |bytes: Vec<u8>| String::from_utf8(bytes).ok().and_then(|t| t.trim().parse::<i64>().ok());
    // A live number keeps its expiry; a new entry (or a non-number) takes `expires`.
    let (current, keep) = match live {
        Some(row) => match number(row.get(0)?) {
            Some(n) => (n, row.get(1)?),
            None => (0, expires),
        },
        None => (0, expires),
    };
    let value = current.saturating_add(by);
    set(tx, script, key, value.to_string().as_bytes(), keep, cap).await?;
    Ok(value)
}

/// Serialise writers of one namespace (the cap check reads the others'
/// sizes). SQLite has one writer already.
async fn lock_namespace(tx: &mut Tx<'_>, script: &str) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(?1))", args![script]).await?;
    }
    Ok(())
}

async fn purge_expired(tx: &mut Tx<'_>, script: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM script_kv WHERE script = ?1 AND expires != 0 AND expires <= ?2", args![script, unix_now()]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::run_ready;

    #[test]
    fn namespaces_ttl_increment_and_cap() {
        let mut c = crate::store::sql::testing::memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(set(tx, "grey", "a", b"1", 0, 100)).unwrap();
        assert_eq!(run_ready(get(tx, "grey", "a")).unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(run_ready(get(tx, "other", "a")).unwrap(), None, "namespaces are apart");
        assert_eq!(run_ready(incr(tx, "grey", "a", 5, 0, 100)).unwrap(), 6);
        assert_eq!(run_ready(incr(tx, "grey", "n", -2, 0, 100)).unwrap(), -2);
        // expired entries read as absent and restart a counter
        run_ready(set(tx, "grey", "old", b"9", 1, 100)).unwrap();
        assert_eq!(run_ready(get(tx, "grey", "old")).unwrap(), None);
        assert_eq!(run_ready(incr(tx, "grey", "old", 1, 0, 100)).unwrap(), 1);
        // the cap counts keys and values; replacing a value frees the old one
        let err = run_ready(set(tx, "grey", "big", &[0u8; 100], 0, 100)).unwrap_err();
        assert!(err.to_string().contains("is full"), "{err}");
        run_ready(set(tx, "grey", "a", &[0u8; 90], 0, 100)).unwrap();
        assert!(run_ready(set(tx, "other", "big", &[0u8; 96], 0, 100)).is_ok(), "each script has its own cap");
    }
}
