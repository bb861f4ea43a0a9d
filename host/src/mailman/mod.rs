//! The mailman: delivers what the queue holds. It runs as the managed
//! service "mailman" (running delivers; suspended or stopped holds the
//! queue; nothing is lost either way).
//!
//! Each round claims due rows with a lease (store/queue.rs), so no row is
//! handed to two deliveries and none is dropped; a row leaves the queue only
//! in the same transaction that records its outcome (a letter in a mailbox,
//! alias targets queued, or a bounce queued). Local recipients are
//! delivered into mailboxes (`local`); other domains and relay accounts go
//! over SMTP (`remote`, `route`, `outbound`); failures become RFC 3464
//! bounces (`dsn`, `outcome`).

pub mod dsn;
mod hooks;
mod local;
mod outcome;
pub mod outbound;
mod remote;
pub mod route;
mod wire_format;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::services::{Service, ServiceManager, ServiceState};
use crate::store::queue::QueueItem;
use crate::store::{Store, spool, unix_now};

/// What the mailman needs from rumble.conf.
pub struct MailmanConfig {
    pub server_name: String,
    pub storage: PathBuf,
    pub delivery_attempts: u32,
    pub retry_interval: Duration,
    /// How long mail held by our own storage failing may stay queued.
    pub maximal_queue_lifetime: Duration,
    /// How long a claimed row stays ours without renewal.
    pub queue_lease_time: Duration,
    pub ignore_mx: Vec<String>,
    pub force_ipv4: bool,
    pub dns_server: Option<SocketAddr>,
    pub outgoing_port: u16,
    pub bind_address: Option<IpAddr>,
}

/// Deliveries in progress at once.
const WORKERS: usize = 16;
/// Rows claimed per round.
const BATCH: u32 = 64;
/// With a shared store, files younger than this may be another node's work.
const SHARED_SWEEP_AGE: Duration = Duration::from_secs(3600);
/// Look at the queue at least this often even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(30);

pub struct Mailman {
    pub(crate) cfg: MailmanConfig,
    pub(crate) store: Store,
    pub(crate) resolver: route::Resolver,
    pub(crate) client: outbound::ClientConfig,
    /// Rung when something is queued (by SMTP, or by the mailman itself).
    pub(crate) queued: Arc<Notify>,
    service: Arc<Service>,
    /// Scripts' `deliver` hooks.
    pub(crate) hooks: Arc<dyn crate::hooks::HookSink>,
    /// Rows claimed and not settled yet: their leases are renewed.
    in_flight: Mutex<HashSet<i64>>,
}

impl Mailman {
    /// Register the service "mailman" and start delivering.
    pub fn start(
        cfg: MailmanConfig,
        store: Store,
        services: &ServiceManager,
        queued: Arc<Notify>,
        hooks: Arc<dyn crate::hooks::HookSink>,
    ) -> anyhow::Result<()> {
        let resolver = route::resolver(cfg.dns_server)?;
        let client = outbound::ClientConfig {
            helo_name: cfg.server_name.clone(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            bind_address: cfg.bind_address,
            tls: Some(outbound::opportunistic_tls()?),
        };
        let service = services.register_worker("mailman", WORKERS as u32);
        let mailman = Arc::new(Mailman { cfg, store, resolver, client, queued, service, hooks, in_flight: Mutex::default() });
        tokio::spawn(mailman.run());
        Ok(())
    }

    async fn run(self: Arc<Self>) {
        let started = std::time::SystemTime::now();
        // The leases this node held before it stopped are free at once; those
        // of other nodes sharing the store run out (and are renewed while
        // their node lives).
        match self.store.release_leases().await {
            Ok(n) if n > 0 => tracing::info!(target: "mailman", "{n} queue row(s) left by a previous run are due again"),
            Ok(_) => {}
            Err(e) => tracing::error!(target: "mailman", "cannot release old leases: {e}"),
        }
        if !self.store.shares_files() {
            self.sweep(started).await;
        }
        if self.store.shared() {
            tokio::spawn(sweep_hourly(Arc::downgrade(&self)));
        }
        tokio::spawn(renew_leases(Arc::downgrade(&self)));
        let workers = Arc::new(Semaphore::new(WORKERS));
        let mut state = self.service.watch();
        loop {
            let current = *state.borrow_and_update();
            match current {
                ServiceState::Closed => break,
                ServiceState::Stopped | ServiceState::Suspended => {
                    if state.changed().await.is_err() {
                        break;
                    }
                    continue;
                }
                ServiceState::Running => {}
            }
            let claimed = self.clone().round(&workers).await;
            if claimed == 0 {
                let wait = self.idle_wait().await;
                tokio::select! {
                    _ = self.queued.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = state.changed() => {}
                }
            }
        }
        tracing::info!(target: "mailman", "mailman stopped");
    }

    /// Remove files a crash left without a row: a spool file written but
    /// never queued (its client got no 250), a letter copied but never
    /// recorded (its row is still queued and is delivered again). Only files
    /// last written before `before` are candidates: newer ones belong to
    /// sessions in progress.
    async fn sweep(&self, before: std::time::SystemTime) {
        let storage = self.cfg.storage.clone();
        let files = match tokio::task::spawn_blocking(move || spool::files_older_than(&storage, before)).await {
            Ok(Ok(files)) => files,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return,
            Ok(Err(e)) => return tracing::warn!(target: "mailman", "cannot sweep {}: {e}", self.cfg.storage.display()),
            Err(_) => return,
        };
        let orphans = self.store.orphans(files).await;
        let orphans = match orphans {
            Ok(o) => o,
            Err(e) => return tracing::warn!(target: "mailman", "cannot sweep: {e}"),
        };
        for (fid, letter) in &orphans {
            let path = if *letter { spool::letter_path(&self.cfg.storage, fid) } else { spool::spool_path(&self.cfg.storage, fid) };
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(target: "mailman", "cannot remove {}: {e}", path.display());
            }
        }
        if !orphans.is_empty() {
            tracing::info!(target: "mailman", "removed {} file(s) left without a row by an earlier crash", orphans.len());
        }
    }

    /// Claim due rows and start their deliveries; returns how many.
    async fn round(self: Arc<Self>, workers: &Arc<Semaphore>) -> usize {
        let free = workers.available_permits();
        if free == 0 {
            // Every worker is busy: wait for one before claiming more.
            drop(workers.clone().acquire_owned().await);
            return 1;
        }
        let limit = BATCH.min(free as u32 * 4);
        let claimed = match self.store.claim_due(limit, self.cfg.queue_lease_time.as_secs() as i64).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(target: "mailman", "cannot read the queue: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                return 0;
            }
        };
        let count = claimed.len();
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).extend(claimed.iter().map(|i| i.id));
        for job in group(claimed) {
            let permit = workers.clone().acquire_owned().await.expect("never closed");
            let me = self.clone();
            tokio::spawn(async move {
                me.service.stats.busy.fetch_add(1, Ordering::Relaxed);
                let ids: Vec<i64> = job.iter().map(|i| i.id).collect();
                me.deliver(job).await;
                let mut in_flight = me.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                for id in &ids {
                    in_flight.remove(id);
                }
                drop(in_flight);
                me.service.stats.busy.fetch_sub(1, Ordering::Relaxed);
                drop(permit);
            });
        }
        count
    }

    /// How long to sleep when nothing is due: until the next row is.
    async fn idle_wait(&self) -> Duration {
        let next = self.store.next_due().await.ok().flatten();
        match next {
            Some(at) => Duration::from_secs((at - unix_now()).clamp(0, IDLE_POLL.as_secs() as i64) as u64)
                .max(Duration::from_millis(200)),
            None => IDLE_POLL,
        }
    }

    async fn deliver(&self, job: Vec<QueueItem>) {
        self.service.stats.sessions.fetch_add(1, Ordering::Relaxed);
        // With bodies in the database, another node may have taken the message.
        if let Err(e) = self.store.fetch_spool(&job[0].fid).await {
            let why = format!("4.3.0 cannot read the message: {e}");
            return self.settle(job.into_iter().map(|i| (i, outcome::Outcome::Temporary(why.clone()))).collect()).await;
        }
        let mut remote = Vec::new();
        for item in job {
            match self.deliver_local(&item).await {
                local::Handled::Done => {}
                local::Handled::Remote(target) => remote.push((item, target)),
            }
        }
        for (target, items) in group_remote(remote) {
            self.deliver_remote(&target, items).await;
        }
    }
}

/// On a store other nodes share, every hour (and at once): files untouched
/// for an hour and no row's (with a shared StorageFolder a younger file may
/// be another node's work in progress; no session pauses a write that
/// long), and bodies in the database no row needs (an account deleted).
async fn sweep_hourly(mailman: Weak<Mailman>) {
    let mut tick = tokio::time::interval(SHARED_SWEEP_AGE);
    loop {
        tick.tick().await;
        let Some(me) = mailman.upgrade() else { return };
        me.sweep(std::time::SystemTime::now() - SHARED_SWEEP_AGE).await;
        match me.store.sweep_bodies().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(target: "mailman", "removed {n} message bodies no row needs from the database"),
            Err(e) => tracing::warn!(target: "mailman", "cannot sweep message bodies: {e}"),
        }
    }
}

/// Keep the leases of rows being worked on from running out (a slow
/// delivery must not be taken over by another node), while the mailman lives.
async fn renew_leases(mailman: Weak<Mailman>) {
    let Some(lease) = mailman.upgrade().map(|m| m.cfg.queue_lease_time) else { return };
    let mut tick = tokio::time::interval(lease / 3);
    tick.tick().await; // the first tick is at once: rows were just claimed
    loop {
        tick.tick().await;
        let Some(me) = mailman.upgrade() else { return };
        let ids: Vec<i64> = me.in_flight.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        if ids.is_empty() {
            continue;
        }
        if let Err(e) = me.store.renew_leases(ids, lease.as_secs() as i64).await {
            tracing::warn!(target: "mailman", "cannot renew queue leases: {e}");
        }
    }
}

/// Rows of one message from one sender travel together, so a message for
/// five recipients at one domain is sent once.
fn group(items: Vec<QueueItem>) -> Vec<Vec<QueueItem>> {
    let mut groups: HashMap<(String, String), Vec<QueueItem>> = HashMap::new();
    let mut order = Vec::new();
    for item in items {
        let key = (item.fid.clone(), item.sender.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(item);
    }
    order.into_iter().filter_map(|k| groups.remove(&k)).collect()
}

fn group_remote(items: Vec<(QueueItem, remote::Target)>) -> Vec<(remote::Target, Vec<QueueItem>)> {
    let mut out: Vec<(remote::Target, Vec<QueueItem>)> = Vec::new();
    for (item, target) in items {
        match out.iter_mut().find(|(t, _)| *t == target) {
            Some((_, list)) => list.push(item),
            None => out.push((target, vec![item])),
        }
    }
    out
}
