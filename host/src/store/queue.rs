//! The delivery queue: one row per (message, recipient).
//!
//! Workers *claim* due rows by setting a lease in a single UPDATE, so two
//! workers can never take the same row (Rumble handed items over through one
//! shared slot and lost them under load). A finished row is deleted; a
//! failed one gets its next attempt time. If a worker dies, its lease runs
//! out and the row is taken again: nothing is dropped.

use rusqlite::{Connection, Row, params};

use super::StoreError;

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

fn item(row: &Row) -> rusqlite::Result<QueueItem> {
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

/// Queue `fid` for each recipient, all or nothing (one transaction).
pub fn enqueue(
    conn: &mut Connection,
    fid: &str,
    sender: &str,
    recipients: &[String],
    params: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let tx = conn.transaction()?;
    let ids = enqueue_in(&tx, fid, sender, recipients, params, now)?;
    tx.commit()?;
    Ok(ids)
}

/// `enqueue` inside the caller's transaction (alias expansion queues the
/// targets and completes the alias row together).
pub fn enqueue_in(
    conn: &Connection,
    fid: &str,
    sender: &str,
    recipients: &[String],
    params: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if recipients.is_empty() {
        return Err(StoreError::Invalid("a queued message needs at least one recipient".into()));
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO queue (fid, sender, recipient, params, created, next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    let mut ids = Vec::with_capacity(recipients.len());
    for rcpt in recipients {
        insert.execute(params![fid, sender, rcpt, params, now])?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

/// Forget every lease: called once when the mailman starts, since the one
/// process that could hold a lease is the one that just died or stopped.
pub fn release_leases(conn: &Connection) -> Result<usize, StoreError> {
    Ok(conn.execute("UPDATE queue SET lease_until = 0 WHERE lease_until > 0", [])?)
}

/// When the next row becomes due (its lease ignored: a leased row is being
/// worked on and will be completed or rescheduled).
pub fn next_due(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.query_row("SELECT MIN(next_attempt) FROM queue WHERE lease_until = 0", [], |r| r.get(0))?)
}

/// Take up to `limit` due rows whose lease has run out, leasing them for
/// `lease_secs`. One statement, so concurrent claims never overlap.
pub fn claim_due(conn: &Connection, now: i64, limit: u32, lease_secs: i64) -> Result<Vec<QueueItem>, StoreError> {
    let sql = format!(
        "UPDATE queue SET lease_until = ?1 + ?2
         WHERE id IN (SELECT id FROM queue WHERE next_attempt <= ?1 AND lease_until <= ?1
                      ORDER BY next_attempt, id LIMIT ?3)
         RETURNING {COLUMNS}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![now, lease_secs, limit], item)?;
    let mut items: Vec<QueueItem> = rows.collect::<rusqlite::Result<_>>()?;
    items.sort_by_key(|i| (i.next_attempt, i.id));
    Ok(items)
}

/// The row is done (delivered, or bounced): remove it.
pub fn complete(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM queue WHERE id = ?1", [id])? > 0)
}

/// Try again at `next_attempt`; the lease is released.
pub fn reschedule(conn: &Connection, id: i64, next_attempt: i64, error: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE queue SET next_attempt = ?2, attempts = attempts + 1, last_error = ?3, lease_until = 0 WHERE id = ?1",
        params![id, next_attempt, error],
    )? > 0)
}

/// Try again at `next_attempt` without counting an attempt: the failure
/// was our own (local storage), not the destination's. The lease is released.
pub fn hold(conn: &Connection, id: i64, next_attempt: i64, error: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE queue SET next_attempt = ?2, last_error = ?3, lease_until = 0 WHERE id = ?1",
        params![id, next_attempt, error],
    )? > 0)
}

/// Rows in delivery order (for `rumble queue list` and `Mailman.getQueue`).
pub fn list(conn: &Connection, limit: u32) -> Result<Vec<QueueItem>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM queue ORDER BY next_attempt, id LIMIT ?1");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([limit], item)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Remove finished rows of message `fid`; says whether other rows still
/// need its spool file. Call it inside the transaction that records the
/// outcome, so the answer cannot change before the commit.
pub fn finish(conn: &Connection, ids: &[i64], fid: &str) -> Result<bool, StoreError> {
    for id in ids {
        complete(conn, *id)?;
    }
    spool_in_use(conn, fid)
}

/// Does any queue row still need spool file `fid`?
pub fn spool_in_use(conn: &Connection, fid: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM queue WHERE fid = ?1)", [fid], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        conn
    }

    fn rcpts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}@example.org")).collect()
    }

    #[test]
    fn enqueue_is_all_or_nothing() {
        let mut c = store();
        assert!(matches!(enqueue(&mut c, "f", "", &[], "", 100), Err(StoreError::Invalid(_))));
        let ids = enqueue(&mut c, "abc", "", &rcpts(3), "SIZE=10", 100).unwrap();
        assert_eq!(ids.len(), 3);
        let all = list(&c, 100).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].sender, "");
        assert_eq!(all[0].params, "SIZE=10");
        assert!(spool_in_use(&c, "abc").unwrap());
        assert!(!spool_in_use(&c, "other").unwrap());
    }

    #[test]
    fn claims_never_overlap_and_leases_expire() {
        let mut c = store();
        enqueue(&mut c, "f", "a@x.org", &rcpts(5), "", 100).unwrap();
        let first = claim_due(&c, 100, 3, 60).unwrap();
        let second = claim_due(&c, 100, 3, 60).unwrap();
        assert_eq!(first.len(), 3);
        assert_eq!(second.len(), 2);
        let mut ids: Vec<i64> = first.iter().chain(&second).map(|i| i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "a row was claimed twice");
        assert!(claim_due(&c, 159, 10, 60).unwrap().is_empty(), "leases still held");
        // a worker died: at lease end every row is claimable again
        assert_eq!(claim_due(&c, 160, 10, 60).unwrap().len(), 5);
    }

    #[test]
    fn reschedule_and_complete() {
        let mut c = store();
        let ids = enqueue(&mut c, "f", "a@x.org", &rcpts(2), "", 100).unwrap();
        let claimed = claim_due(&c, 100, 10, 60).unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(reschedule(&c, ids[0], 460, "451 4.3.0 try later").unwrap());
        assert!(complete(&c, ids[1]).unwrap());
        assert!(!complete(&c, ids[1]).unwrap());
        assert!(claim_due(&c, 459, 10, 60).unwrap().is_empty(), "not due yet");
        let again = claim_due(&c, 460, 10, 60).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_error, "451 4.3.0 try later");
    }

    #[test]
    fn held_rows_come_back_without_an_attempt_counted() {
        let mut c = store();
        let ids = enqueue(&mut c, "f", "a@x.org", &rcpts(1), "", 100).unwrap();
        assert_eq!(claim_due(&c, 100, 10, 60).unwrap().len(), 1);
        assert!(hold(&c, ids[0], 130, "held: disk full").unwrap());
        assert!(claim_due(&c, 129, 10, 60).unwrap().is_empty(), "not due yet");
        let again = claim_due(&c, 130, 10, 60).unwrap();
        assert_eq!((again[0].attempts, again[0].last_error.as_str()), (0, "held: disk full"));
    }
}
