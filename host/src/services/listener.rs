//! The accept loop every service shares: it follows the service's state
//! (running / suspended / stopped / closed) and hands each connection to the
//! service's handler, at most `threads` at once. Past that a protocol
//! listener answers "busy" and closes at once (`WhenFull::Refuse`): the
//! loop never waits for a session slot, so the client is not left hanging
//! in the backlog; a script service waits for a slot (`WhenFull::Wait`).
//!
//! An accept that fails (out of descriptors, above all) must not spin: the
//! loop backs off, doubling from 10 ms to 1 s, and logs once per interval
//! with the count of failures. On EMFILE/ENFILE it gives up the process's
//! reserve descriptor for a moment to accept the waiting client and close
//! it, so the client hears a close at once instead of hanging in the
//! backlog, then takes the reserve back.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Handler, Service, ServiceState, WhenFull};
use crate::log::Throttle;

pub async fn bind(address: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(address, port)).await
}

pub async fn run(service: Arc<Service>, listener: TcpListener, address: IpAddr, handler: Handler, when_full: WhenFull) {
    let sessions = Arc::new(Semaphore::new(service.threads.max(1) as usize));
    let mut failures = AcceptFailures::default();
    let mut refusals = Refusals::default();
    let mut state = service.state.subscribe();
    let mut listener = Some(listener);
    loop {
        let current = *state.borrow_and_update();
        match current {
            ServiceState::Closed => break,
            ServiceState::Stopped | ServiceState::Suspended => {
                if current == ServiceState::Stopped {
                    listener = None;
                }
                if state.changed().await.is_err() {
                    break;
                }
            }
            ServiceState::Running => {
                if listener.is_none() {
                    match bind(address, service.port).await {
                        Ok(l) => listener = Some(l),
                        Err(e) => {
                            tracing::error!(target: "svc", "service {}: cannot listen again: {e}", service.name);
                            service.state.send_replace(ServiceState::Stopped);
                            continue;
                        }
                    }
                }
                let accept = listener.as_ref().expect("bound above").accept();
                tokio::select! {
                    accepted = accept => match accepted {
                        Ok((stream, peer)) => {
                            failures.reset();
                            // Replies are small writes; Nagle plus delayed ACKs would hold each ~40 ms.
                            let _ = stream.set_nodelay(true);
                            let slot = match (sessions.clone().try_acquire_owned(), &when_full) {
                                (Ok(permit), _) => Ok(permit),
                                (Err(_), WhenFull::Wait) => Ok(sessions.clone().acquire_owned().await.expect("never closed")),
                                (Err(_), WhenFull::Refuse(answer)) => Err(answer.as_deref()),
                            };
                            match slot {
                                Ok(permit) => spawn_session(service.clone(), handler.clone(), stream, peer, permit),
                                Err(answer) => refusals.refuse(&service, stream, peer, answer),
                            }
                        }
                        Err(e) => {
                            if is_out_of_descriptors(&e) {
                                shed_one(listener.as_ref().expect("bound above"));
                            }
                            let pause = failures.record(&service.name, &e);
                            tokio::time::sleep(pause).await;
                        }
                    },
                    _ = state.changed() => {}
                }
            }
        }
    }
    tracing::info!(target: "svc", "service {} closed", service.name);
}

/// Serve one connection on a task of its own, holding a session slot.
fn spawn_session(service: Arc<Service>, handler: Handler, stream: TcpStream, peer: SocketAddr, permit: OwnedSemaphorePermit) {
    tokio::spawn(async move {
        let stats = service.stats.clone();
        stats.roll();
        stats.sessions.fetch_add(1, Ordering::Relaxed);
        stats.busy.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = handler(stream, peer, stats.clone()).await {
            if is_disconnect(&e) {
                tracing::debug!(target: "svc", "service {}: {peer} went away: {e}", service.name);
            } else {
                tracing::warn!(target: "svc", "service {}: session with {peer} ended with an error: {e}", service.name);
            }
        }
        stats.busy.fetch_sub(1, Ordering::Relaxed);
        stats.roll();
        drop(permit);
    });
}

/// Connections refused because every session was taken, and the
/// once-per-interval log line about them (a flood must not flood the log).
#[derive(Default)]
struct Refusals(Throttle);

impl Refusals {
    /// Send `answer` (if any) and close, without waiting: the socket is
    /// new, so one short line fits its send buffer.
    fn refuse(&mut self, service: &Service, stream: TcpStream, peer: SocketAddr, answer: Option<&str>) {
        service.stats.roll();
        service.stats.rejected.fetch_add(1, Ordering::Relaxed);
        if let (Some(line), Ok(socket)) = (answer, stream.into_std()) {
            let _ = std::io::Write::write(&mut &socket, format!("{line}\r\n").as_bytes());
        }
        if let Some(count) = self.0.count() {
            tracing::warn!(target: "svc", "service {}: all {} sessions taken; refused {count} connection(s) since the last report, the latest from {peer}",
                service.name, service.threads);
        }
    }
}

/// Failed accepts in a row: the back-off and the once-per-interval log.
#[derive(Default)]
struct AcceptFailures {
    in_a_row: u32,
    log: Throttle,
}

impl AcceptFailures {
    fn reset(&mut self) {
        self.in_a_row = 0;
    }

    /// Count a failure, log it if the interval is over, and say how long to wait.
    fn record(&mut self, service: &str, e: &std::io::Error) -> Duration {
        self.in_a_row = self.in_a_row.saturating_add(1);
        if let Some(count) = self.log.count() {
            tracing::warn!(target: "svc", "service {service}: accept failed ({count} time(s) since the last report): {e}");
        }
        Duration::from_millis(10u64 << self.in_a_row.min(7).saturating_sub(1)).min(Duration::from_secs(1))
    }
}

fn is_out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// One descriptor held back for `shed_one` (see the module comment).
static RESERVE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Take the reserve descriptor (at start, and again after each use).
pub fn keep_reserve() {
    let mut reserve = RESERVE.lock().unwrap_or_else(|e| e.into_inner());
    if reserve.is_none() {
        *reserve = std::fs::File::open("/dev/null").ok();
    }
}

/// Out of descriptors: free the reserve, accept one waiting client and
/// close it, take the reserve back.
fn shed_one(listener: &TcpListener) {
    RESERVE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Ok((stream, _)) = std::net::TcpListener::accept(&borrow_std(listener)) {
        drop(stream);
    }
    keep_reserve();
}

/// A std view of the tokio listener's socket, without taking it over.
fn borrow_std(listener: &TcpListener) -> std::mem::ManuallyDrop<std::net::TcpListener> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: the fd stays owned by `listener`; ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { std::net::TcpListener::from_raw_fd(listener.as_raw_fd()) })
}

/// A client hanging up is routine, not worth a warning.
/// So is a probe that connects and closes at once (a port scanner, a load
/// balancer's health check), on a TLS port too.
fn is_disconnect(error: &str) -> bool {
    ["Broken pipe", "Connection reset", "unexpected end of file", "not connected", "tls handshake eof"]
        .iter()
        .any(|m| error.contains(m))
}
