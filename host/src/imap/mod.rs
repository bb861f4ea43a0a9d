//! IMAP4rev1 (RFC 3501) on the store, with LITERAL+, SASL-IR, ID, ENABLE,
//! IDLE, NAMESPACE, UIDPLUS, MOVE, UNSELECT, SPECIAL-USE, CHILDREN and
//! CONDSTORE. `command` parses, `mime` computes ENVELOPE/BODYSTRUCTURE and
//! body sections, `session` reads commands and dispatches them to
//! `folders`, `selected`, `fetch` and `search`; `wire` formats data. Two
//! listeners, each a managed service: "imap4" (STARTTLS) and "imaps".

mod cache;
pub mod command;
mod fetch;
mod folders;
mod hooks;
pub(crate) mod mailbox_name;
pub mod mime;
mod search;
mod selected;
mod uid_map;
mod session;
mod wire;

use std::sync::Arc;

pub use cache::MessageCache;
pub use session::{ImapContext, Session};

use crate::services::{Service, ServiceManager};
use crate::stream;

/// Start an IMAP listener on `port` as the service `name`, serving at most
/// `max_sessions` at once (`MaxIMAPSessions`).
pub async fn start(
    live: Arc<crate::live::Live<ImapContext>>,
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
        busy: "* BYE Too many connections from your address",
        full: "* BYE [UNAVAILABLE] Too many connections".into(),
        write_limit: ctx.timeout,
    };
    let when_full = opening.when_full();
    let service: Arc<str> = name.into();
    let handler = stream::protocol_handler(opening, move |stream, peer, secure, _stats| {
        Session::new(stream, peer, live.get(), (service.clone(), port), secure).run()
    })?;
    services.start_service(name.into(), port, max_sessions, None, handler, when_full).await
}
