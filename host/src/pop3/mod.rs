//! POP3 (RFC 1939) on the store: the command parser (`command`) and the
//! session (`session`). Two listeners, each a managed service: "pop3"
//! (STLS) and "pop3s" (implicit TLS, RFC 8314).

pub mod command;
mod hooks;
mod session;

use std::sync::Arc;

pub use session::{Pop3Context, Session};

use crate::services::{Service, ServiceManager};
use crate::stream;

/// Start a POP3 listener on `port` as the service `name`, serving at most
/// `max_sessions` at once (`MaxPOP3Sessions`).
pub async fn start(
    live: Arc<crate::live::Live<Pop3Context>>,
    services: &ServiceManager,
    name: &str,
    port: u16,
    implicit_tls: bool,
    max_sessions: u32,
) -> std::io::Result<Arc<Service>> {
    let ctx = live.get();
    let opening = stream::Opening {
        tls: ctx.tls.clone(),
        implicit_tls,
        per_ip: ctx.max_per_ip,
        busy: "-ERR [SYS/TEMP] Too many connections from your address",
        full: "-ERR [SYS/TEMP] Too many connections".into(),
        write_limit: ctx.timeout,
    };
    let when_full = opening.when_full();
    let service: Arc<str> = name.into();
    let handler = stream::protocol_handler(opening, move |stream, peer, secure, _stats| {
        Session::new(stream, peer, live.get(), (service.clone(), port), secure).run()
    })?;
    services.start_service(name.into(), port, max_sessions, None, handler, when_full).await
}
