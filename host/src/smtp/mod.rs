//! SMTP (RFC 5321): the wire format (`command`, `address`, `data`: pure
//! parsers), the session state machine (`session`)
//! and message reception (`message`). Three listeners share them, each a
//! managed service: "smtp" (MX, port 25), "submission" (587, STARTTLS then
//! AUTH) and "smtps" (465, implicit TLS, RFC 8314).

pub mod address;
pub mod command;
pub mod data;
mod hooks;
mod message;
mod session;

use std::sync::Arc;

pub use hooks::is_enhanced_code;
pub(crate) use message::rfc5322_now;
pub use session::{Port, Session, SmtpContext};

use crate::services::{Service, ServiceManager};
use crate::stream;

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

/// Start a listener on `port` as the service `name`, serving at most
/// `max_sessions` at once (`MaxSMTPSessions`).
pub async fn start(
    live: Arc<crate::live::Live<SmtpContext>>,
    services: &ServiceManager,
    name: &str,
    port: u16,
    kind: Listener,
    max_sessions: u32,
) -> std::io::Result<Arc<Service>> {
    let ctx = live.get();
    let opening = stream::Opening {
        tls: ctx.tls.clone(),
        implicit_tls: kind.implicit_tls,
        per_ip: ctx.max_per_ip,
        busy: "421 4.7.0 Too many connections from your address, try again later",
        full: format!("421 4.7.0 {} Too many connections, try again later", ctx.server_name),
        write_limit: ctx.command_timeout,
    };
    let when_full = opening.when_full();
    let service: Arc<str> = name.into();
    let handler = stream::protocol_handler(opening, move |stream, peer, secure, stats| {
        Session::new(stream, peer, live.get(), (service.clone(), port), kind.port, secure, stats).run()
    })?;
    services.start_service(name.into(), port, max_sessions, None, handler, when_full).await
}
