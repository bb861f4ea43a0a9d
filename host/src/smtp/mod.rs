//! SMTP (RFC 5321): the wire format (`command`, `address`, `data`: pure
//! parsers), SASL decoding (`auth`), the session state machine (`session`)
//! and message reception (`message`). Three listeners share them, each a
//! managed service: "smtp" (MX, port 25), "submission" (587, STARTTLS then
//! AUTH) and "smtps" (465, implicit TLS, RFC 8314).

pub mod address;
mod auth;
pub mod command;
pub mod data;
mod message;
mod session;

use std::sync::Arc;
use std::time::Duration;

pub use session::{Port, Session, SmtpContext};

use crate::services::{Handler, Service, ServiceManager};
use crate::stream::{self, BoxStream, Counted};

/// Most SMTP sessions served at once, per listener.
pub const MAX_SESSIONS: u32 = 250;
/// How long an implicit-TLS client gets to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a listener starts its sessions.
#[derive(Clone, Copy, Debug)]
pub struct Listener {
    pub port: Port,
    /// TLS from the first byte (SMTPS) rather than after STARTTLS.
    pub implicit_tls: bool,
}

pub const MX: Listener = Listener { port: Port::Mx, implicit_tls: false };
pub const SUBMISSION: Listener = Listener { port: Port::Submission, implicit_tls: false };
pub const SMTPS: Listener = Listener { port: Port::Submission, implicit_tls: true };

/// Start a listener on `port` as the service `name`.
pub async fn start(
    ctx: Arc<SmtpContext>,
    services: &ServiceManager,
    name: &str,
    port: u16,
    kind: Listener,
) -> std::io::Result<Arc<Service>> {
    if kind.implicit_tls && ctx.tls.is_none() {
        return Err(std::io::Error::other("implicit TLS needs a TLS configuration"));
    }
    let handler: Handler = Arc::new(move |tcp, stats| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let peer = tcp.peer_addr().map_err(|e| e.to_string())?;
            let mut stream: BoxStream = Box::new(Counted::new(tcp, stats.clone()));
            if kind.implicit_tls {
                let config = ctx.tls.clone().expect("checked at start");
                stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream::accept_tls(stream, config)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return Err(format!("{}: TLS handshake failed: {e}", peer.ip())),
                    Err(_) => return Err(format!("{}: TLS handshake timed out", peer.ip())),
                };
            }
            Session::new(stream, peer, ctx, kind.port, kind.implicit_tls, stats).run().await.map_err(|e| e.to_string())
        })
    });
    services.start_service(name.into(), port, MAX_SESSIONS, None, handler).await
}
