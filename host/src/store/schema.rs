//! Versioned migrations. `PRAGMA user_version` holds the version reached;
//! each step runs in its own transaction, so a failed step leaves the store
//! at the previous version. Never edit a shipped step: add a new one.

use rusqlite::Connection;

use super::StoreError;

/// Step n (1-based) brings the schema from version n-1 to n.
const MIGRATIONS: &[&str] = &[
    // 1: domains and accounts (Rumble's tables, with constraints it lacked).
    "CREATE TABLE domains (
         id          INTEGER PRIMARY KEY AUTOINCREMENT,
         domain      TEXT NOT NULL UNIQUE,
         storagepath TEXT NOT NULL DEFAULT '',
         flags       INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE accounts (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         domain   TEXT NOT NULL REFERENCES domains(domain) ON UPDATE CASCADE ON DELETE CASCADE,
         user     TEXT NOT NULL,
         password TEXT NOT NULL DEFAULT '',
         type     TEXT NOT NULL DEFAULT 'mbox',
         arg      TEXT NOT NULL DEFAULT '',
         UNIQUE (domain, user)
     );
     CREATE INDEX accounts_by_domain ON accounts(domain);",
    // 2: mailboxes and the delivery queue. Message bodies are files (Rumble's
    // layout: spool `StorageFolder/<fid>`, letters `<fid>.msg`); rows point
    // at them. Flags keep Rumble's bit values (see mailbox.rs).
    "CREATE TABLE folders (
         id          INTEGER PRIMARY KEY AUTOINCREMENT,
         account     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
         name        TEXT NOT NULL,
         subscribed  INTEGER NOT NULL DEFAULT 1,
         uidvalidity INTEGER NOT NULL,
         uidnext     INTEGER NOT NULL DEFAULT 1,
         UNIQUE (account, name)
     );
     CREATE TABLE messages (
         id           INTEGER PRIMARY KEY AUTOINCREMENT,
         folder       INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         uid          INTEGER NOT NULL,
         fid          TEXT NOT NULL,
         size         INTEGER NOT NULL,
         internaldate INTEGER NOT NULL,
         flags        INTEGER NOT NULL DEFAULT 0,
         UNIQUE (folder, uid)
     );
     CREATE INDEX messages_by_fid ON messages(fid);
     CREATE TABLE queue (
         id           INTEGER PRIMARY KEY AUTOINCREMENT,
         fid          TEXT NOT NULL,
         sender       TEXT NOT NULL,
         recipient    TEXT NOT NULL,
         params       TEXT NOT NULL DEFAULT '',
         created      INTEGER NOT NULL,
         next_attempt INTEGER NOT NULL,
         attempts     INTEGER NOT NULL DEFAULT 0,
         last_error   TEXT NOT NULL DEFAULT '',
         lease_until  INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX queue_due ON queue(next_attempt);
     CREATE INDEX queue_by_fid ON queue(fid);",
    // 3: what IMAP needs beyond Rumble's flag bits: keywords ($Forwarded,
    // $Junk, ...), a modification sequence per letter and folder (CONDSTORE),
    // and the special-use attribute of a folder (\Sent, \Trash, ...).
    "ALTER TABLE messages ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
     ALTER TABLE messages ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE folders ADD COLUMN highestmodseq INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE folders ADD COLUMN special TEXT NOT NULL DEFAULT '';",
    // 4: what lets an IMAP session catch up on a change in time proportional
    // to the change: letters found by modseq, and a log of expunged UIDs
    // (with the modseq of their removal; rows below a folder's
    // `expunged_floor` were pruned). `counters` keeps high-water marks
    // that must never go back, such as the last UIDVALIDITY handed out.
    "CREATE INDEX messages_by_modseq ON messages(folder, modseq);
     CREATE TABLE expunged (
         folder INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         uid    INTEGER NOT NULL,
         modseq INTEGER NOT NULL
     );
     CREATE INDEX expunged_by_folder ON expunged(folder, modseq);
     ALTER TABLE folders ADD COLUMN expunged_floor INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE counters (
         name  TEXT PRIMARY KEY,
         value INTEGER NOT NULL
     );
     INSERT INTO counters (name, value) SELECT 'uidvalidity', COALESCE(MAX(uidvalidity), 0) FROM folders;",
    // 5: the node holding a queue row's lease (the SQL both engines share
    // names it; on PostgreSQL a restarted node frees its own leases only),
    // the scripts' key-value store (kv.rs; `size` is key plus value), and
    // message bodies kept in the database (blobs.rs; empty with SQLite,
    // where bodies are files, but the SQL both engines share names it).
    "ALTER TABLE queue ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
     CREATE TABLE script_kv (
         script  TEXT NOT NULL,
         key     TEXT NOT NULL,
         value   BLOB NOT NULL,
         size    INTEGER NOT NULL,
         expires INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (script, key)
     );
     CREATE TABLE blobs (
         fid  TEXT PRIMARY KEY,
         data BLOB NOT NULL
     );",
];

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as u32;
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let step = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        step(conn).map_err(|e| StoreError::Migration { version, reason: e.to_string() })?;
        tracing::info!(target: "db", "store schema migrated to version {version}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_stores() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap(); // idempotent
        let v: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as u32);
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew { found: 99, .. })));
    }
}
