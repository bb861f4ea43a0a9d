//! POP3 (RFC 1939) on the store: the command parser (`command`) and the
//! session (`session`). Two listeners, each a managed service: "pop3"
//! (STLS) and "pop3s" (implicit TLS, RFC 8314).

pub mod command;
mod session;

use std::sync::Arc;

pub use session::{Pop3Context, Session};

use crate::services::{Handler, Service, ServiceManager};
use crate::stream;

/// Most POP3 sessions served at once, per listener.
pub const MAX_SESSIONS: u32 = 250;

/// Start a POP3 listener on `port` as the service `name`.
pub async fn start(
    ctx: Arc<Pop3Context>,
    services: &ServiceManager,
    name: &str,
    port: u16,
    implicit_tls: bool,
) -> std::io::Result<Arc<Service>> {
    if implicit_tls && ctx.tls.is_none() {
        return Err(std::io::Error::other("implicit TLS needs a TLS configuration"));
    }
    let handler: Handler = Arc::new(move |tcp, stats| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let (stream, peer) = stream::open(tcp, stats, ctx.tls.clone().filter(|_| implicit_tls)).await?;
            Session::new(stream, peer, ctx, implicit_tls).run().await.map_err(|e| e.to_string())
        })
    });
    services.start_service(name.into(), port, MAX_SESSIONS, None, handler).await
}
