//! SMTP (RFC 5321): the wire format (`command`, `address`, `data`: pure
//! parsers) and the session state machine (`session`). The MX listener runs
//! as the managed service "smtp".
//!
//! Not yet here (issue 3 continues): STARTTLS, AUTH and the submission
//! ports, BDAT, relaying for authenticated users, and the mailman that
//! delivers what the queue holds.

pub mod address;
pub mod command;
pub mod data;
mod session;

use std::sync::Arc;

pub use session::{Session, SmtpContext};

use crate::services::{Handler, Service, ServiceManager};

/// Most SMTP sessions served at once.
pub const MAX_SESSIONS: u32 = 250;

/// Start the MX listener on `port` as the service "smtp".
pub async fn start(ctx: Arc<SmtpContext>, services: &ServiceManager, port: u16) -> std::io::Result<Arc<Service>> {
    let handler: Handler = Arc::new(move |stream, _stats| {
        let ctx = ctx.clone();
        Box::pin(async move {
            let peer = stream.peer_addr().map_err(|e| e.to_string())?;
            Session::new(stream, peer, ctx).run().await.map_err(|e| e.to_string())
        })
    });
    services.start_service("smtp".into(), port, MAX_SESSIONS, None, handler).await
}
