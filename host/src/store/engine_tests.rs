//! Every store operation, through `Store`'s own API, on each engine: SQLite
//! always, and PostgreSQL when `RUMBLE_TEST_PG` names a server ("host port
//! user password", a user who may create databases; `scripts/test.sh` runs
//! `cargo test` under `python3 tests/pg.py run`, which starts one). Each
//! test gets a fresh store: a temporary folder, and a new database.

use std::path::PathBuf;

use super::accounts::{AccountKind, NewAccount};
use super::delivery::LocalRoute;
use super::folders::FlagChange;
use super::mail::Gone;
use super::mailbox::flags;
use super::{Account, Store, StoreError, spool};
use crate::config::{PostgresSettings, Secret};

struct Engine {
    name: &'static str,
    store: Store,
    folder: tempfile::TempDir,
}

impl Engine {
    fn storage(&self) -> PathBuf {
        self.folder.path().join("storage")
    }
}

/// The stores a test runs on. Without RUMBLE_TEST_PG only SQLite: the
/// line printed says so (`cargo test -- --nocapture` shows it).
async fn engines() -> Vec<Engine> {
    let folder = tempfile::tempdir().unwrap();
    let store = Store::open(&folder.path().join("data"), &folder.path().join("storage")).unwrap();
    let mut all = vec![Engine { name: "sqlite", store, folder }];
    match std::env::var("RUMBLE_TEST_PG") {
        Ok(spec) => all.push(postgres(&spec).await),
        Err(_) => println!("RUMBLE_TEST_PG is not set: SQLite only"),
    }
    all
}

async fn postgres(spec: &str) -> Engine {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [host, port, user, password] = parts[..] else { panic!("RUMBLE_TEST_PG: expected \"host port user password\"") };
    let database = format!("unit_{}", spool::new_fid());
    let (client, connection) = tokio_postgres::Config::new()
        .host(host)
        .port(port.parse().unwrap())
        .user(user)
        .password(password)
        .dbname("postgres")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {database}")).await.unwrap();
    drop(client);
    let _ = driver.await;
    let settings = PostgresSettings {
        host: host.into(),
        port: port.parse().unwrap(),
        user: user.into(),
        password: Secret::new(password),
        database,
        connections: 4,
    };
    let folder = tempfile::tempdir().unwrap();
    let blobs = super::blobs::BlobStore::Database;
    let store = Store::open_postgres(&settings, &folder.path().join("data"), &folder.path().join("storage"), blobs).await.unwrap();
    Engine { name: "postgresql", store, folder }
}

async fn ann(store: &Store) -> Account {
    store.add_domain("example.org", "", 0).await.unwrap();
    let new = NewAccount { domain: "example.org".into(), user: "ann".into(), password: Some("pw".into()), kind: AccountKind::Mbox, arg: String::new() };
    store.add_account(new).await.unwrap()
}

/// A letter file in `account`'s folder, appended to `folder`: its UID.
async fn append(e: &Engine, account: &Account, folder: i64, text: &str, bits: i64) -> i64 {
    let dir = e.store.letter_dir(account).await.unwrap();
    let (fid, size) = spool::write_letter(&dir, text.as_bytes()).unwrap();
    e.store.append(folder, (spool::letter_path(&dir, &fid), fid), size, 1_700_000_000, bits, Vec::new()).await.unwrap()
}

#[tokio::test]
async fn domains_and_accounts() {
    for e in engines().await {
        let s = &e.store;
        let d = s.add_domain("Example.ORG", "", 0).await.unwrap();
        assert_eq!(d.name, "example.org", "{}", e.name);
        assert!(matches!(s.add_domain("example.org", "", 0).await, Err(StoreError::Exists(_))), "{}", e.name);
        for (user, kind, arg) in [("*", AccountKind::Mbox, ""), ("sales-*", AccountKind::Mbox, ""), ("john", AccountKind::Mbox, ""), ("team", AccountKind::Alias, "john@example.org")] {
            let new = NewAccount { domain: "example.org".into(), user: user.into(), password: Some("pw".into()), kind, arg: arg.into() };
            s.add_account(new).await.unwrap();
        }
        let who = |u: &'static str| async move { s.find_account("example.org", u).await.unwrap().map(|a| a.user) };
        assert_eq!(who("JOHN").await.as_deref(), Some("john"), "{}", e.name);
        assert_eq!(who("sales-eu").await.as_deref(), Some("sales-*"), "{}", e.name);
        assert_eq!(who("anyone").await.as_deref(), Some("*"), "{}", e.name);
        assert!(s.exact_account("example.org", "sales-eu").await.unwrap().is_none(), "{}", e.name);
        assert!(s.exact_account("example.org", "john").await.unwrap().unwrap().check_password("pw"), "{}", e.name);
        assert_eq!(s.local_recipient("example.org", "x").await.unwrap(), Some(true), "{}", e.name);
        assert_eq!(s.local_recipient("other.org", "x").await.unwrap(), None, "{}", e.name);
        assert!(s.find_alias("example.org", "team").await.unwrap().is_some(), "{}", e.name);
        let users: Vec<String> = s.list_accounts("example.org").await.unwrap().into_iter().map(|a| a.user).collect();
        assert_eq!(users, ["*", "john", "sales-*", "team"], "{}", e.name);
        assert!(s.delete_account("example.org", "John").await.unwrap(), "{}", e.name);
        assert!(s.delete_domain("example.org").await.unwrap(), "{}", e.name);
        assert!(s.list_domains().await.unwrap().is_empty(), "{}", e.name);
    }
}

/// Lookups go where reads do not wait for writes (SQLite: a second,
/// read-only connection): they still see every write committed before them,
/// and that connection refuses to write.
#[tokio::test]
async fn lookups_see_every_committed_write() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        assert_eq!(s.local_recipient("example.org", "ann").await.unwrap(), None, "{name}");
        ann(s).await;
        assert_eq!(s.local_recipient("example.org", "ann").await.unwrap(), Some(true), "{name}");
        assert!(s.exact_account("example.org", "ann").await.unwrap().is_some(), "{name}");
        assert!(s.delete_account("example.org", "ann").await.unwrap(), "{name}");
        assert!(s.find_account("example.org", "ann").await.unwrap().is_none(), "{name}");
        assert_eq!(s.local_recipient("example.org", "ann").await.unwrap(), Some(false), "{name}");
        if name == "sqlite" {
            let wrote = s.read(|tx| Box::pin(async move { tx.execute("DELETE FROM domains", &[]).await })).await;
            assert!(wrote.is_err(), "a write on the read-only connection: {wrote:?}");
            assert_eq!(s.list_domains().await.unwrap().len(), 1);
        }
    }
}

#[tokio::test]
async fn folders_letters_flags_and_expunge() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let ann = ann(s).await;
        let names: Vec<String> = s.list_folders(ann.id).await.unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "Drafts", "Junk", "Sent", "Trash"], "{name}");
        let inbox = s.find_folder(ann.id, "inbox").await.unwrap().unwrap();
        for i in 1..=3 {
            assert_eq!(append(&e, &ann, inbox.id, &format!("Subject: {i}\r\n\r\nx\r\n"), flags::RECENT).await, i, "{name}");
        }
        let selected = s.select(ann.id, "INBOX", false).await.unwrap().unwrap();
        assert_eq!((selected.letters.len(), selected.recent.clone()), (3, vec![1, 2, 3]), "{name}");
        let start = selected.folder.highestmodseq;
        let changed = s.change_flags(inbox.id, vec![1, 2], FlagChange::Add, flags::DELETED, vec!["$Junk".into()], None).await.unwrap();
        assert_eq!(changed.found, 2, "{name}");
        assert!(changed.letters.iter().all(|l| l.keywords == "$Junk" && l.modseq > start), "{name}");
        let stale = s.change_flags(inbox.id, vec![1], FlagChange::Add, flags::FLAGGED, vec![], Some(start)).await.unwrap();
        assert_eq!(stale.refused, [1], "{name}: UNCHANGEDSINCE");
        let (target, pairs) = s.copy(ann.id, inbox.id, vec![2, 3], "Trash", false).await.unwrap().unwrap();
        assert_eq!(pairs, [(2, 1), (3, 2)], "{name}");
        let expunged = s.expunge(&ann, inbox.id, None).await.unwrap();
        assert_eq!(expunged.uids, [1, 2], "{name}");
        assert_eq!(expunged.freed.len(), 1, "{name}: letter 2's file is still used by its copy");
        assert!(!expunged.freed[0].exists(), "{name}: the freed file is gone");
        let changes = s.changes_since(inbox.id, start, true).await.unwrap();
        assert!(matches!(&changes.gone, Gone::Listed(uids) if uids == &[1, 2]), "{name}");
        assert_eq!(s.letters(target.id).await.unwrap().len(), 2, "{name}");
        let moved = s.copy(ann.id, target.id, vec![1], "INBOX", true).await.unwrap().unwrap();
        assert_eq!(moved.1, [(1, 4)], "{name}: UIDs keep growing");
        assert_eq!(s.letters_by_uid(inbox.id, vec![3, 4, 9]).await.unwrap().len(), 2, "{name}");
        let letter = s.letters_by_uid(inbox.id, vec![3]).await.unwrap().remove(0);
        let seen = s.mark_seen(&letter).await.unwrap().unwrap();
        assert_ne!(seen.flags & flags::SEEN, 0, "{name}");
        assert!(s.mark_seen(&seen).await.unwrap().is_none(), "{name}: already seen");
    }
}

#[tokio::test]
async fn folder_create_rename_delete_subscribe() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let ann = ann(s).await;
        s.create_folder(ann.id, "Work/2026/Q1", '/').await.unwrap();
        assert!(s.find_folder(ann.id, "Work/2026").await.unwrap().is_some(), "{name}: parents made");
        assert!(matches!(s.create_folder(ann.id, "Work", '/').await, Err(StoreError::Exists(_))), "{name}");
        s.rename_folder(ann.id, "Work", "Old", '/').await.unwrap();
        assert!(s.find_folder(ann.id, "Old/2026/Q1").await.unwrap().is_some(), "{name}: children follow");
        s.subscribe(ann.id, "Old", true).await.unwrap();
        assert!(s.find_folder(ann.id, "Old").await.unwrap().unwrap().subscribed, "{name}");
        assert!(matches!(s.subscribe(ann.id, "Nope", true).await, Err(StoreError::NotFound(_))), "{name}");
        let old = s.find_folder(ann.id, "Old").await.unwrap().unwrap();
        append(&e, &ann, old.id, "Subject: x\r\n\r\n", 0).await;
        s.delete_folder(&ann, "Old").await.unwrap();
        assert!(s.find_folder(ann.id, "Old").await.unwrap().is_none(), "{name}");
        let (folder, letters) = s.folder_with_letters(ann.id, "INBOX").await.unwrap().unwrap();
        assert_eq!((folder.name.as_str(), letters.len()), ("INBOX", 0), "{name}");
        let recreated = s.create_folder(ann.id, "Old", '/').await;
        assert!(recreated.is_ok(), "{name}");
        assert!(s.find_folder(ann.id, "Old").await.unwrap().unwrap().uidvalidity > old.uidvalidity, "{name}: UIDVALIDITY never repeats");
    }
}

#[tokio::test]
async fn queue_claims_settle_and_deliver() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let ann = ann(s).await;
        let (fid, _) = spool::write_spool(&e.storage(), &[b"Subject: q\r\n\r\nbody\r\n"]).unwrap();
        let rcpts = vec!["ann@example.org".to_string(), "x@far.test".to_string(), "y@far.test".to_string()];
        s.enqueue(&fid, "bob@far.test", rcpts, "").await.unwrap();
        let first = s.claim_due(2, 60).await.unwrap();
        let second = s.claim_due(10, 60).await.unwrap();
        assert_eq!((first.len(), second.len()), (2, 1), "{name}: claims never overlap");
        assert!(s.claim_due(10, 60).await.unwrap().is_empty(), "{name}");
        assert!(s.next_due().await.unwrap().is_some_and(|at| at > super::unix_now()), "{name}: due when the leases end");
        let all: Vec<_> = first.into_iter().chain(second).collect();
        let local = all.iter().find(|i| i.recipient == "ann@example.org").unwrap();
        let Ok(LocalRoute::Mailbox { account, letters }) = s.route_recipient("Ann@Example.org").await else { panic!("{name}: a mailbox") };
        assert_eq!(account, ann.id, "{name}");
        let (letter, size) = spool::deliver_letter(&spool::spool_path(&e.storage(), &fid), &letters, b"Delivered-To: ann\r\n").unwrap();
        s.record_delivery(local, account, &letters, &letter, size, ("INBOX".into(), 0, vec![])).await.unwrap();
        let far: Vec<_> = all.iter().filter(|i| i.recipient.ends_with("far.test")).collect();
        assert!(s.reschedule(far[0].id, 0, "451 later").await.unwrap(), "{name}");
        assert!(s.hold(far[1].id, 0, "held: disk").await.unwrap(), "{name}");
        let again = s.claim_due(10, 60).await.unwrap();
        assert_eq!(again.len(), 2, "{name}: settled rows are due again");
        let attempts: Vec<i64> = again.iter().map(|i| i.attempts).collect();
        assert!(attempts.contains(&1) && attempts.contains(&0), "{name}: a hold counts no attempt");
        s.renew_leases(again.iter().map(|i| i.id).collect(), 600).await.unwrap();
        assert!(s.list_queue(10).await.unwrap().iter().all(|i| i.lease_until > super::unix_now() + 300), "{name}: renewed");
        let (bounce, _) = spool::write_spool(&e.storage(), &[b"a bounce"]).unwrap();
        s.finish(again.iter().map(|i| i.id).collect(), &fid, Some((bounce, "bob@far.test".into()))).await.unwrap();
        assert!(!spool::spool_path(&e.storage(), &fid).exists(), "{name}: the spool file goes with its last row");
        let left = s.list_queue(10).await.unwrap();
        assert_eq!((left.len(), left[0].sender.as_str()), (1, ""), "{name}: the bounce is queued from <>");
        assert_eq!(s.letters(s.find_folder(ann.id, "INBOX").await.unwrap().unwrap().id).await.unwrap().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn aliases_forward_and_routes() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let _ann = ann(s).await;
        for (user, kind, arg) in [("team", AccountKind::Alias, "ann@example.org, friend@far.test"), ("out", AccountKind::Relay, "smarthost.test:2525")] {
            let new = NewAccount { domain: "example.org".into(), user: user.into(), password: None, kind, arg: arg.into() };
            s.add_account(new).await.unwrap();
        }
        let Ok(LocalRoute::Forward(mut targets)) = s.route_recipient("team@example.org").await else { panic!("{name}: forward") };
        targets.sort();
        assert_eq!(targets, ["ann@example.org", "friend@far.test"], "{name}");
        assert!(matches!(s.route_recipient("out@example.org").await, Ok(LocalRoute::Relay(h)) if h == "smarthost.test:2525"), "{name}");
        assert!(matches!(s.route_recipient("x@far.test").await, Ok(LocalRoute::Remote(d)) if d == "far.test"), "{name}");
        assert!(matches!(s.route_recipient("nobody@example.org").await, Ok(LocalRoute::Fail { status: "5.1.1", .. })), "{name}");
        let (fid, _) = spool::write_spool(&e.storage(), &[b"Subject: team\r\n\r\n"]).unwrap();
        s.enqueue(&fid, "x@far.test", vec!["team@example.org".into()], "").await.unwrap();
        let item = s.claim_due(1, 60).await.unwrap().remove(0);
        s.forward(&item, targets).await.unwrap();
        let rows: Vec<String> = s.list_queue(10).await.unwrap().into_iter().map(|i| i.recipient).collect();
        assert_eq!(rows.len(), 2, "{name}: the alias row is replaced by its targets");
        assert_eq!(s.postmaster("example.org").await.unwrap(), None, "{name}");
    }
}

#[tokio::test]
async fn bodies_follow_their_rows() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let ann = ann(s).await;
        let inbox = s.find_folder(ann.id, "INBOX").await.unwrap().unwrap();
        append(&e, &ann, inbox.id, "Subject: kept\r\n\r\nbody\r\n", 0).await;
        let letter = s.letters(inbox.id).await.unwrap().remove(0);
        let dir = s.letter_dir(&ann).await.unwrap();
        let path = spool::letter_path(&dir, &letter.fid);
        if s.blobs == super::blobs::BlobStore::Database {
            // Another node has no copy: it fetches the body from the database.
            std::fs::remove_file(&path).unwrap();
        }
        let (read, fetched) = s.read_letter(&ann, letter.id).await.unwrap().unwrap();
        assert_eq!((read.uid, std::fs::read(&fetched).unwrap()), (letter.uid, b"Subject: kept\r\n\r\nbody\r\n".to_vec()), "{name}");
        let bob = NewAccount { domain: "example.org".into(), user: "bob".into(), password: None, kind: AccountKind::Mbox, arg: String::new() };
        let bob = s.add_account(bob).await.unwrap();
        assert!(s.read_letter(&bob, letter.id).await.unwrap().is_none(), "{name}: another account's letter is not found");
        s.change_flags(inbox.id, vec![letter.uid], FlagChange::Add, flags::DELETED, vec![], None).await.unwrap();
        s.expunge(&ann, inbox.id, None).await.unwrap();
        assert!(!path.exists(), "{name}: the file of an expunged letter goes");
        if s.blobs == super::blobs::BlobStore::Database {
            assert!(matches!(s.fetch_letter(&dir, &letter.fid).await, Err(StoreError::NotFound(_))), "{name}: and its body");
        }
        // A deleted account's bodies have no row left: swept.
        append(&e, &ann, inbox.id, "Subject: orphan\r\n\r\n", 0).await;
        s.delete_account("example.org", "ann").await.unwrap();
        let swept = s.sweep_bodies().await.unwrap();
        let expected = if s.blobs == super::blobs::BlobStore::Database { 1 } else { 0 };
        assert_eq!(swept, expected, "{name}");
    }
}

#[tokio::test]
async fn pop3_maildrop_lock_and_close() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        let ann = ann(s).await;
        let lock = s.lock_maildrop(ann.id).await.unwrap();
        assert!(lock.is_some(), "{name}");
        assert!(s.lock_maildrop(ann.id).await.unwrap().is_none(), "{name}: held");
        let (inbox, dir, _) = s.open_inbox(&ann).await.unwrap();
        append(&e, &ann, inbox, "Subject: a\r\n\r\n", 0).await;
        append(&e, &ann, inbox, "Subject: b\r\n\r\n", 0).await;
        let (_, _, letters) = s.open_inbox(&ann).await.unwrap();
        s.close_maildrop(inbox, dir, vec![letters[0].id], vec![letters[1].id]).await.unwrap();
        let left = s.letters(inbox).await.unwrap();
        assert_eq!(left.len(), 1, "{name}");
        assert_ne!(left[0].flags & flags::SEEN, 0, "{name}");
        drop(lock);
        // The release may run after the drop (a database round trip).
        let mut again = None;
        for _ in 0..50 {
            again = s.lock_maildrop(ann.id).await.unwrap();
            if again.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(again.is_some(), "{name}: released");
    }
}

#[tokio::test]
async fn script_key_value_store() {
    for e in engines().await {
        let (s, name) = (&e.store, e.name);
        s.kv_set("grey", "k", b"v".to_vec(), None, 1000).await.unwrap();
        assert_eq!(s.kv_get("grey", "k").await.unwrap().as_deref(), Some(&b"v"[..]), "{name}");
        assert_eq!(s.kv_get("other", "k").await.unwrap(), None, "{name}");
        assert_eq!(s.kv_incr("grey", "n", 3, None, 1000).await.unwrap(), 3, "{name}");
        assert_eq!(s.kv_incr("grey", "n", 4, None, 1000).await.unwrap(), 7, "{name}");
        assert!(s.kv_set("grey", "big", vec![0; 1000], None, 1000).await.is_err(), "{name}: capped");
        assert!(s.kv_delete("grey", "k").await.unwrap(), "{name}");
        assert!(!s.kv_delete("grey", "k").await.unwrap(), "{name}");
        assert!(s.kv_set("grey", "", vec![], None, 1000).await.is_err(), "{name}: empty key");
    }
}
