//! The accept loop every service shares: it follows the service's state
//! (running / suspended / stopped / closed) and hands each connection to the
//! service's handler, at most `threads` at once.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::{Service, ServiceState};
use super::Handler;

pub async fn bind(address: IpAddr, port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(address, port)).await
}

pub async fn run(service: Arc<Service>, listener: TcpListener, address: IpAddr, handler: Handler) {
    let sessions = Arc::new(Semaphore::new(service.threads.max(1) as usize));
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
                            // Replies are small writes; Nagle plus delayed ACKs would hold each ~40 ms.
                            let _ = stream.set_nodelay(true);
                            let permit = sessions.clone().acquire_owned().await.expect("never closed");
                            let (svc, handler) = (service.clone(), handler.clone());
                            tokio::spawn(async move {
                                let stats = svc.stats.clone();
                                stats.sessions.fetch_add(1, Ordering::Relaxed);
                                stats.busy.fetch_add(1, Ordering::Relaxed);
                                if let Err(e) = handler(stream, stats.clone()).await {
                                    if is_disconnect(&e) {
                                        tracing::debug!(target: "svc", "service {}: {peer} went away: {e}", svc.name);
                                    } else {
                                        tracing::warn!(target: "svc", "service {}: session with {peer} ended with an error: {e}", svc.name);
                                    }
                                }
                                stats.busy.fetch_sub(1, Ordering::Relaxed);
                                drop(permit);
                            });
                        }
                        Err(e) => tracing::warn!(target: "svc", "service {}: accept failed: {e}", service.name),
                    },
                    _ = state.changed() => {}
                }
            }
        }
    }
    tracing::info!(target: "svc", "service {} closed", service.name);
}

/// A client hanging up is routine, not worth a warning.
fn is_disconnect(error: &str) -> bool {
    ["Broken pipe", "Connection reset", "unexpected end of file"].iter().any(|m| error.contains(m))
}
