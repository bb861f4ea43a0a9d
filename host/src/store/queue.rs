//! The delivery queue: one row per (message, recipient).
//!
//! Workers *claim* due rows by setting a lease in a single UPDATE, so two
//! workers can never take the same row (Rumble handed items over through one
//! shared slot and lost them under load). A finished row is deleted; a
//! failed one gets its next attempt time. If a worker dies, its lease runs
//! out and the row is taken again: nothing is dropped.

use super::StoreError;
use super::sql::{Engine, Row, Tx, args};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub id: i64,
    /// Spool file in StorageFolder.
    pub fid: String,
    /// Reverse-path; "" is the null sender.
    pub sender: String,
    pub recipient: String,
    /// ESMTP parameters of the transaction (SIZE=, BODY=, ENVID=, ...).
    pub params: String,
    pub created: i64,
    pub next_attempt: i64,
    pub attempts: i64,
    pub last_error: String,
    pub lease_until: i64,
}

const COLUMNS: &str = "id, fid, sender, recipient, params, created, next_attempt, attempts, last_error, lease_until";

fn item(row: &Row) -> Result<QueueItem, StoreError> {
    Ok(QueueItem {
        id: row.get(0)?,
        fid: row.get(1)?,
        sender: row.get(2)?,
        recipient: row.get(3)?,
        params: row.get(4)?,
        created: row.get(5)?,
        next_attempt: row.get(6)?,
        attempts: row.get(7)?,
        last_error: row.get(8)?,
        lease_until: row.get(9)?,
    })
}

/// Queue `fid` for each recipient (inside the caller's transaction, so a
/// message is queued for all its recipients or none).
pub async fn enqueue(
    tx: &mut Tx<'_>,
    fid: &str,
    sender: &str,
    recipients: &[String],
    params: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(String, Option<String>)> = recipients.iter().map(|r| (r.clone(), None)).collect();
    enqueue_decided(tx, fid, sender, &rows, params, now).await
}

/// [`enqueue`], where a recipient may come with a decision already taken
/// (a tenant's hook refused its recipients of a message others accepted):
/// kept in `last_error` with [`DECIDED`] in front, for the mailman to
/// settle at its first try instead of delivering.
pub async fn enqueue_decided(
    tx: &mut Tx<'_>,
    fid: &str,
    sender: &str,
    rows: &[(String, Option<String>)],
    params: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if rows.is_empty() {
        return Err(StoreError::Invalid("a queued message needs at least one recipient".into()));
    }
    let sql = "INSERT INTO queue (fid, sender, recipient, params, created, next_attempt, last_error) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) RETURNING id";
    let mut ids = Vec::with_capacity(rows.len());
    for (rcpt, decided) in rows {
        let decided = decided.as_ref().map_or(String::new(), |d| format!("{DECIDED}{d}"));
        ids.push(tx.query_one(sql, args![fid, sender, rcpt, params, now, &decided]).await?.get(0)?);
    }
    Ok(ids)
}

/// In front of a new row's `last_error`: the reply a hook decided for it.
pub const DECIDED: &str = "decided by a hook: ";

impl QueueItem {
    /// The reply a hook decided for this row before its first try.
    pub fn decided(&self) -> Option<&str> {
        if self.attempts > 0 {
            return None;
        }
        self.last_error.strip_prefix(DECIDED)
    }
}

/// Forget the leases `node` holds: called once when its mailman starts,
/// since the process that held them is the one that just died or stopped.
/// (Alone on a store, the node is "" and every lease was its own.)
pub async fn release_leases(tx: &mut Tx<'_>, node: &str) -> Result<u64, StoreError> {
    tx.execute("UPDATE queue SET lease_until = 0 WHERE lease_until > 0 AND lease_owner = ?1", args![node]).await
}

/// When the next row can be claimed: when it is due, or, if it is leased,
/// when the lease runs out (a node holding it may have died; its rows
/// are taken over then).
pub async fn next_due(tx: &mut Tx<'_>) -> Result<Option<i64>, StoreError> {
    let sql = "SELECT MIN(CASE WHEN lease_until > next_attempt THEN lease_until ELSE next_attempt END) FROM queue";
    tx.query_one(sql, &[]).await?.get(0)
}

/// Extend the leases of rows still being worked on (those still leased).
pub async fn renew_leases(tx: &mut Tx<'_>, ids: &[i64], until: i64) -> Result<(), StoreError> {
    for &id in ids {
        tx.execute("UPDATE queue SET lease_until = ?2 WHERE id = ?1 AND lease_until > 0", args![id, until]).await?;
    }
    Ok(())
}

/// Take up to `limit` due rows whose lease has run out, leasing them for
/// `lease_secs`. One statement, so concurrent claims never overlap; on
/// PostgreSQL the rows another node is claiming are skipped, not waited for.
pub async fn claim_due(tx: &mut Tx<'_>, node: &str, now: i64, limit: u32, lease_secs: i64) -> Result<Vec<QueueItem>, StoreError> {
    let skip_locked = if tx.engine() == Engine::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE queue SET lease_until = ?2, lease_owner = ?4
         WHERE id IN (SELECT id FROM queue WHERE next_attempt <= ?1 AND lease_until <= ?1
                      ORDER BY next_attempt, id LIMIT ?3 {skip_locked})
         RETURNING {COLUMNS}"
    );
    let mut items = tx.query_map(&sql, args![now, now + lease_secs, limit as i64, node], |row| item(&row)).await?;
    items.sort_by_key(|i| (i.next_attempt, i.id));
    Ok(items)
}

/// The row is done (delivered, or bounced): remove it.
pub async fn complete(tx: &mut Tx<'_>, id: i64) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM queue WHERE id = ?1", args![id]).await? > 0)
}

/// Try again at `next_attempt`; the lease is released.
pub async fn reschedule(tx: &mut Tx<'_>, id: i64, next_attempt: i64, error: &str) -> Result<bool, StoreError> {
    let sql = "UPDATE queue SET next_attempt = ?2, attempts = attempts + 1, last_error = ?3, lease_until = 0 WHERE id = ?1";
    Ok(tx.execute(sql, args![id, next_attempt, error]).await? > 0)
}

/// Try again at `next_attempt` without counting an attempt: the failure
/// was our own (local storage), not the destination's. The lease is released.
pub async fn hold(tx: &mut Tx<'_>, id: i64, next_attempt: i64, error: &str) -> Result<bool, StoreError> {
    let sql = "UPDATE queue SET next_attempt = ?2, last_error = ?3, lease_until = 0 WHERE id = ?1";
    Ok(tx.execute(sql, args![id, next_attempt, error]).await? > 0)
}

/// Rows in delivery order (for `rumble queue list` and `Mailman.getQueue`).
pub async fn list(tx: &mut Tx<'_>, limit: u32) -> Result<Vec<QueueItem>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM queue ORDER BY next_attempt, id LIMIT ?1");
    tx.query_map(&sql, args![limit as i64], |row| item(&row)).await
}

/// Remove finished rows of message `fid`; says whether other rows still
/// need its spool file (its body in the database goes when none does). Call
/// it inside the transaction that records the outcome, so the answer cannot
/// change before the commit.
pub async fn finish(tx: &mut Tx<'_>, ids: &[i64], fid: &str) -> Result<bool, StoreError> {
    for &id in ids {
        complete(tx, id).await?;
    }
    let in_use = spool_in_use(tx, fid).await?;
    if !in_use {
        super::blobs::forget(tx, &[fid.to_string()]).await?;
    }
    Ok(in_use)
}

/// Does any queue row still need spool file `fid`?
pub async fn spool_in_use(tx: &mut Tx<'_>, fid: &str) -> Result<bool, StoreError> {
    tx.query_one("SELECT EXISTS (SELECT 1 FROM queue WHERE fid = ?1)", args![fid]).await?.get(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::sql::run_ready;

    fn rcpts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}@example.org")).collect()
    }

    #[test]
    fn enqueue_is_all_or_nothing() {
        let mut c = crate::store::sql::testing::memory();
        let tx = &mut Tx::sqlite(&mut c);
        assert!(matches!(run_ready(enqueue(tx, "f", "", &[], "", 100)), Err(StoreError::Invalid(_))));
        let ids = run_ready(enqueue(tx, "abc", "", &rcpts(3), "SIZE=10", 100)).unwrap();
        assert_eq!(ids.len(), 3);
        let all = run_ready(list(tx, 100)).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].sender, "");
        assert_eq!(all[0].params, "SIZE=10");
        assert!(run_ready(spool_in_use(tx, "abc")).unwrap());
        assert!(!run_ready(spool_in_use(tx, "other")).unwrap());
    }

    #[test]
    fn claims_never_overlap_and_leases_expire() {
        let mut c = crate::store::sql::testing::memory();
        let tx = &mut Tx::sqlite(&mut c);
        run_ready(enqueue(tx, "f", "a@x.org", &rcpts(5), "", 100)).unwrap();
        let first = run_ready(claim_due(tx, "", 100, 3, 60)).unwrap();
        let second = run_ready(claim_due(tx, "", 100, 3, 60)).unwrap();
        assert_eq!(first.len(), 3);
        assert_eq!(second.len(), 2);
        let mut ids: Vec<i64> = first.iter().chain(&second).map(|i| i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "a row was claimed twice");
        assert!(run_ready(claim_due(tx, "", 159, 10, 60)).unwrap().is_empty(), "leases still held");
        // a worker died: at lease end every row is claimable again
        assert_eq!(run_ready(claim_due(tx, "", 160, 10, 60)).unwrap().len(), 5);
    }

    #[test]
    fn reschedule_and_complete() {
        let mut c = crate::store::sql::testing::memory();
        let tx = &mut Tx::sqlite(&mut c);
        let ids = run_ready(enqueue(tx, "f", "a@x.org", &rcpts(2), "", 100)).unwrap();
        let claimed = run_ready(claim_due(tx, "", 100, 10, 60)).unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(run_ready(reschedule(tx, ids[0], 460, "451 4.3.0 try later")).unwrap());
        assert!(run_ready(complete(tx, ids[1])).unwrap());
        assert!(!run_ready(complete(tx, ids[1])).unwrap());
        assert!(run_ready(claim_due(tx, "", 459, 10, 60)).unwrap().is_empty(), "not due yet");
        let again = run_ready(claim_due(tx, "", 460, 10, 60)).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_error, "451 4.3.0 try later");
    }

    #[test]
    fn held_rows_come_back_without_an_attempt_counted() {
        let mut c = crate::store::sql::testing::memory();
        let tx = &mut Tx::sqlite(&mut c);
        let ids = run_ready(enqueue(tx, "f", "a@x.org", &rcpts(1), "", 100)).unwrap();
        assert_eq!(run_ready(claim_due(tx, "", 100, 10, 60)).unwrap().len(), 1);
        assert!(run_ready(hold(tx, ids[0], 130, "held: disk full")).unwrap());
        assert!(run_ready(claim_due(tx, "", 129, 10, 60)).unwrap().is_empty(), "not due yet");
        let again = run_ready(claim_due(tx, "", 130, 10, 60)).unwrap();
        assert_eq!((again[0].attempts, again[0].last_error.as_str()), (0, "held: disk full"));
    }
}
