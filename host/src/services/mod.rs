//! The service manager: every listening service (SMTP, and the ones scripts
//! create with `Rumble.createService`; POP3 and IMAP4 join later) is
//! registered here under a name, with Rumble's four states, so the
//! operator and granted scripts can start, stop, suspend and resume it.
//!
//! States follow the original: running (1) accepts connections; suspended
//! (2) keeps the socket open but accepts nothing, so clients wait in the
//! backlog; stopped (0) closes the socket; a restart binds it again.

mod listener;
mod traffic;

pub use listener::keep_reserve;
pub use traffic::{TRAFFIC_HOURS, Traffic};

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::plugins::Script;

/// What a service does with one accepted connection (and the peer address
/// `accept` gave: asking the socket again fails once the client is gone).
/// An error is logged.
pub type Handler = Arc<
    dyn Fn(TcpStream, SocketAddr, Arc<ServiceStats>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// What the accept loop does with a connection when all of the service's
/// sessions are taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait for a session to end; the client waits with it (script
    /// services: Rumble's thread pool).
    Wait,
    /// Send this line, if any, and close at once (protocol listeners: the
    /// client hears "busy" instead of hanging until its own timeout).
    Refuse(Option<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceState {
    Stopped,
    Running,
    Suspended,
    /// The server is shutting down; the service never runs again.
    Closed,
}

impl ServiceState {
    /// Rumble's `enabled` number: 0 stopped, 1 running, 2 suspended.
    pub fn enabled(self) -> u8 {
        match self {
            ServiceState::Running => 1,
            ServiceState::Suspended => 2,
            ServiceState::Stopped | ServiceState::Closed => 0,
        }
    }
}

/// Traffic counters, as `Rumble.serviceInfo` reports them, and their hourly
/// history for `Rumble.trafficInfo`.
#[derive(Default)]
pub struct ServiceStats {
    pub sessions: AtomicU64,
    pub busy: AtomicU64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub rejected: AtomicU64,
    hourly: Mutex<traffic::Hourly>,
}

impl ServiceStats {
    /// The totals so far, in `trafficInfo`'s terms.
    fn totals(&self) -> Traffic {
        Traffic {
            hits: self.sessions.load(Ordering::Relaxed),
            bytes: self.sent.load(Ordering::Relaxed) + self.received.load(Ordering::Relaxed),
            rejections: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Close the hour's bucket if the hour is over. Called when a session
    /// starts and ends (and when the history is read), not per byte: the
    /// counters stay plain atomics, and what happened since the last roll
    /// counts in the hour of that roll.
    pub fn roll(&self) {
        self.hourly.lock().unwrap_or_else(|e| e.into_inner()).roll(traffic::this_hour(), self.totals());
    }

    /// Hourly buckets, newest (the current hour) first, at most [`TRAFFIC_HOURS`].
    pub fn traffic(&self) -> Vec<Traffic> {
        let mut hourly = self.hourly.lock().unwrap_or_else(|e| e.into_inner());
        hourly.roll(traffic::this_hour(), self.totals());
        hourly.history(self.totals())
    }

    pub fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }
}

pub struct Service {
    pub name: String,
    pub port: u16,
    /// Most sessions served at once.
    pub threads: u32,
    /// The script that created it, if any.
    pub owner: Option<String>,
    pub stats: Arc<ServiceStats>,
    state: watch::Sender<ServiceState>,
}

impl Service {
    pub fn state(&self) -> ServiceState {
        *self.state.borrow()
    }

    /// Follow the state (for services that are not listeners).
    pub fn watch(&self) -> watch::Receiver<ServiceState> {
        self.state.subscribe()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no service named \"{0}\"")]
    Unknown(String),
    #[error("service \"{0}\" is shutting down")]
    Closed(String),
}

pub struct ServiceManager {
    bind_address: IpAddr,
    services: Mutex<Vec<Arc<Service>>>,
    /// `MaxConnectionsPerIP`, for script services (protocol listeners get it
    /// from their own setup). Shared with each script service's handler, so
    /// `Rumble.reloadConfiguration` changes it for sessions to come.
    max_per_ip: Arc<AtomicU32>,
}

impl ServiceManager {
    pub fn new(bind_address: IpAddr) -> Arc<ServiceManager> {
        let max_per_ip = Arc::new(AtomicU32::new(crate::config::DEFAULT_MAX_CONNECTIONS_PER_IP));
        Arc::new(ServiceManager { bind_address, services: Mutex::new(Vec::new()), max_per_ip })
    }

    /// Close every service's traffic hour on the hour. Hours otherwise
    /// roll only when a session starts or ends or the traffic is read, so
    /// a long session's bytes would all land in the hour it ended.
    pub fn roll_hourly(self: &Arc<Self>) {
        let services = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(traffic::until_next_hour(std::time::SystemTime::now())).await;
                let Some(services) = services.upgrade() else { return };
                for service in services.list() {
                    service.stats.roll();
                }
            }
        });
    }

    pub fn set_max_per_ip(&self, n: u32) {
        self.max_per_ip.store(n, Ordering::Relaxed);
    }

    pub fn list(&self) -> Vec<Arc<Service>> {
        self.services.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn find(&self, name: &str) -> Option<Arc<Service>> {
        self.list().into_iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Names of every service, in registration order (for error messages).
    pub fn names(&self) -> Vec<String> {
        self.list().iter().map(|s| s.name.clone()).collect()
    }

    pub fn max_per_ip(&self) -> u32 {
        self.max_per_ip.load(Ordering::Relaxed)
    }

    /// Bind `port` and serve it with `script`'s handler; false (and a log
    /// line) if the port cannot be bound, as `createService` reports it.
    ///
    /// One client address holds at most `MaxConnectionsPerIP` sessions, and
    /// never every session of a service that has more than one: whoever
    /// comes from elsewhere still finds a free one. Extra connections are
    /// closed at once (a script service has no protocol to say so in).
    pub async fn start_script_service(&self, script: Arc<Script>, handler: u32, port: u16, threads: u32) -> bool {
        let name = format!("{}:{port}", script.name());
        let owner = Some(script.name().to_string());
        let registering = script.clone();
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let max_per_ip = self.max_per_ip.clone();
        let per_ip = Arc::new(crate::stream::PerIp::default());
        let serve: Handler = Arc::new(move |stream, peer, stats| {
            let (script, lock, per_ip) = (script.clone(), lock.clone(), per_ip.clone());
            let per_ip_limit = script_per_ip_limit(max_per_ip.load(Ordering::Relaxed), threads);
            Box::pin(async move {
                let ip = peer.ip();
                let Some(_slot) = per_ip.take(ip, per_ip_limit) else {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(target: "svc", "{ip}: over {per_ip_limit} sessions of {}; closed", script.name());
                    return Ok(());
                };
                script.serve(handler, stream, lock, stats).await.map_err(|e| e.to_string())
            })
        });
        let started = self.start_service(name.clone(), port, threads, owner, serve, WhenFull::Wait).await.is_ok();
        if started {
            registering.note_registered(format!("service {name}"));
        }
        started
    }

    /// Bind `port` and serve it with `handler`, at most `threads` sessions at
    /// once (past that, `when_full` says what happens); the service is
    /// registered as `name` in the running state.
    pub async fn start_service(
        &self,
        name: String,
        port: u16,
        threads: u32,
        owner: Option<String>,
        handler: Handler,
        when_full: WhenFull,
    ) -> std::io::Result<Arc<Service>> {
        let listener = listener::bind(self.bind_address, port).await.inspect_err(|e| {
            tracing::error!(target: "svc", "service {name}: cannot listen on {}:{port}: {e}", self.bind_address);
        })?;
        let (state, _) = watch::channel(ServiceState::Running);
        let service = Arc::new(Service { name: name.clone(), port, threads, owner, stats: Arc::new(ServiceStats::default()), state });
        self.services.lock().unwrap_or_else(|e| e.into_inner()).push(service.clone());
        tracing::info!(target: "svc", "service {name} listening on {}:{port} ({threads} sessions at once)", self.bind_address);
        tokio::spawn(listener::run(service.clone(), listener, self.bind_address, handler, when_full));
        Ok(service)
    }

    /// Register a service that listens on nothing (the mailman): it follows
    /// its own state through [`Service::watch`] and counts its work in `stats`.
    pub fn register_worker(&self, name: &str, threads: u32) -> Arc<Service> {
        let (state, _) = watch::channel(ServiceState::Running);
        let stats = Arc::new(ServiceStats::default());
        let service = Arc::new(Service { name: name.into(), port: 0, threads, owner: None, stats, state });
        self.services.lock().unwrap_or_else(|e| e.into_inner()).push(service.clone());
        service
    }

    pub fn start(&self, name: &str) -> Result<(), ServiceError> {
        self.set_state(name, ServiceState::Running)
    }

    pub fn stop(&self, name: &str) -> Result<(), ServiceError> {
        self.set_state(name, ServiceState::Stopped)
    }

    /// Stop accepting but keep the socket; only a running service suspends.
    pub fn suspend(&self, name: &str) -> Result<(), ServiceError> {
        self.transition(name, ServiceState::Running, ServiceState::Suspended)
    }

    /// Only a suspended service resumes (as in Rumble).
    pub fn resume(&self, name: &str) -> Result<(), ServiceError> {
        self.transition(name, ServiceState::Suspended, ServiceState::Running)
    }

    fn set_state(&self, name: &str, to: ServiceState) -> Result<(), ServiceError> {
        let service = self.find(name).ok_or_else(|| ServiceError::Unknown(name.into()))?;
        let mut result = Ok(());
        service.state.send_if_modified(|s| {
            if *s == ServiceState::Closed {
                result = Err(ServiceError::Closed(name.into()));
                return false;
            }
            let changed = *s != to;
            *s = to;
            changed
        });
        result
    }

    fn transition(&self, name: &str, from: ServiceState, to: ServiceState) -> Result<(), ServiceError> {
        let service = self.find(name).ok_or_else(|| ServiceError::Unknown(name.into()))?;
        service.state.send_if_modified(|s| {
            let applies = *s == from;
            if applies {
                *s = to;
            }
            applies
        });
        Ok(())
    }

    /// Close every service, then wait up to `grace` for sessions in progress.
    pub async fn shutdown(&self, grace: Duration) {
        let services = self.list();
        for s in &services {
            s.state.send_replace(ServiceState::Closed);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            let busy: u64 = services.iter().map(|s| s.stats.busy.load(Ordering::Relaxed)).sum();
            if busy == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(target: "svc", "shutdown: sessions still running after {grace:?}; closing them");
    }
}

/// Sessions of a script service one address may hold: `MaxConnectionsPerIP`
/// (0 = none), and all but one of the service's sessions (at least one).
fn script_per_ip_limit(max_per_ip: u32, threads: u32) -> u32 {
    let all_but_one = threads.saturating_sub(1).max(1);
    if max_per_ip == 0 { all_but_one } else { all_but_one.min(max_per_ip) }
}

#[cfg(test)]
mod tests {
    use super::script_per_ip_limit;

    #[test]
    fn one_address_never_takes_every_script_session() {
        assert_eq!(script_per_ip_limit(50, 8), 7);
        assert_eq!(script_per_ip_limit(3, 8), 3);
        assert_eq!(script_per_ip_limit(0, 8), 7);
        assert_eq!(script_per_ip_limit(50, 1), 1);
        assert_eq!(script_per_ip_limit(50, 2), 1);
    }
}
