//! One SMTP session (RFC 5321): greeting, EHLO/HELO, STARTTLS, AUTH, a
//! mail transaction (MAIL, RCPT, DATA or BDAT), RSET/NOOP/VRFY/HELP/QUIT.
//!
//! What it guarantees: a `250` for a message is sent only once its file and
//! queue rows are durable (message.rs); mail for other domains is accepted
//! only from authenticated clients, never as an open relay; the null sender
//! `<>` is accepted; size is enforced on SIZE= and on the bytes received;
//! AUTH is offered only under TLS unless the operator allows plain text;
//! every error has an enhanced status code; a client that sends too many bad
//! commands or stays silent is disconnected.
//!
//! `dispatch` is the one place every command passes through, with the
//! session's envelope at hand: the hook point for scripts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};

use super::address::{ForwardPath, Mailbox, ReversePath};
use crate::sasl::{self as auth, Credentials};
use super::command::{self, Command, MailParams};
use super::message::Chunking;
use crate::lineio::{self, LineRead};
use crate::hooks::{HookSink, Notes, Reply};
use crate::services::ServiceStats;
use crate::store::{Store, StoreError, accounts};
use crate::stream::{self, BoxStream};

/// Server-wide settings every session reads.
#[derive(Clone)]
pub struct SmtpContext {
    pub server_name: String,
    /// `MessageSizeLimit` (0 = none).
    pub max_size: u64,
    pub enforce_fqdn: bool,
    pub store: Store,
    /// `StorageFolder`: spool files.
    pub storage: PathBuf,
    pub max_recipients: usize,
    /// RFC 5321 §4.5.3.2.7: at least 5 minutes while waiting for a command.
    pub command_timeout: Duration,
    /// `command_timeout` before HELO/EHLO, at most `PreLoginTimeout`.
    pub pre_login_timeout: Duration,
    /// RFC 5321 §4.5.3.2.5: at least 3 minutes per DATA block.
    pub data_timeout: Duration,
    /// Bad commands tolerated before the session is closed.
    pub max_errors: u32,
    /// The server's TLS setup; STARTTLS is offered when present.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `AllowPlaintextAuth`: offer AUTH before TLS.
    pub allow_plaintext_auth: bool,
    /// `BlockOutgoingMail`: no relaying for clients, even authenticated.
    pub block_outgoing: bool,
    /// `EnforceSenderLogin`: authenticated clients send only as themselves.
    pub enforce_sender_login: bool,
    /// Told when a message is queued, so delivery starts at once.
    pub queued: Arc<tokio::sync::Notify>,
    /// `MaxConnectionsPerIP` (0 = no limit).
    pub max_per_ip: u32,
    /// Where the hook points go (scripts' `Rumble.setHook`).
    pub hooks: Arc<dyn HookSink>,
}

/// Which listener a session came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// Port 25: mail for our domains from anyone; relaying after AUTH.
    Mx,
    /// Ports 587/465 (RFC 6409, RFC 8314): AUTH before any MAIL.
    Submission,
}

/// Longest command line read at all (the parser applies RFC limits below it).
const MAX_LINE: usize = 4096;
/// NOOP, RSET, VRFY and HELP allowed per session (Postfix's
/// smtpd_junk_command_limit): a client cycling them holds a session slot.
const MAX_JUNK_COMMANDS: u32 = 100;

pub(super) struct Transaction {
    pub(super) from: ReversePath,
    pub(super) params: MailParams,
    pub(super) rcpts: Vec<String>,
    /// Set once BDAT started this message (RFC 3030).
    pub(super) chunking: Option<Chunking>,
}

pub struct Session {
    pub(super) io: BufReader<BoxStream>,
    pub(super) ctx: Arc<SmtpContext>,
    pub(super) peer: SocketAddr,
    pub(super) stats: Arc<ServiceStats>,
    /// The listener's service name and port, for hooks.
    pub(super) service: Arc<str>,
    pub(super) local_port: u16,
    /// What hooks keep with this connection (`session:set`).
    pub(super) notes: Arc<std::sync::Mutex<Notes>>,
    /// The last reply decided, and where it starts in `out` while unsent:
    /// an after-hook sees it and may replace it.
    pub(super) last_reply: Option<Reply>,
    pub(super) last_reply_at: Option<usize>,
    port: Port,
    pub(super) tls: bool,
    pub(super) helo: Option<String>,
    pub(super) esmtp: bool,
    /// The authenticated address.
    pub(super) auth: Option<String>,
    pub(super) tx: Option<Transaction>,
    errors: u32,
    junk: u32,
    /// Replies not yet sent: with PIPELINING they go out together, when the
    /// client's input is used up (RFC 2920 §3.2).
    pub(super) out: Vec<u8>,
}

pub(super) enum Next {
    Continue,
    Close,
}

enum Line {
    Text(Vec<u8>),
    TooLong,
    Closed,
    TimedOut,
}

/// Where a recipient would go.
enum Recipient {
    Local(String),
    /// Our domain, no such account: the address as the client wrote it.
    Unknown(String),
    Foreign(String),
}

impl Session {
    /// `tls` says the stream is already encrypted (implicit-TLS port).
    pub fn new(stream: BoxStream, peer: SocketAddr, ctx: Arc<SmtpContext>, listener: (Arc<str>, u16), port: Port, tls: bool, stats: Arc<ServiceStats>) -> Self {
        Session {
            io: BufReader::new(stream),
            ctx,
            peer,
            stats,
            service: listener.0,
            local_port: listener.1,
            notes: Arc::default(),
            last_reply: None,
            last_reply_at: None,
            port,
            tls,
            helo: None,
            esmtp: false,
            auth: None,
            tx: None,
            errors: 0,
            junk: 0,
            out: Vec::new(),
        }
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let result = self.serve().await;
        let flushed = self.flush_out().await;
        self.hook_close().await;
        result.and(flushed)
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        match self.hook_accept().await? {
            None => {
                let greeting = format!("220 {} ESMTP Rumble ready", self.ctx.server_name);
                self.reply_line(&greeting).await?;
            }
            Some(Next::Close) => return Ok(()),
            Some(Next::Continue) => {}
        }
        loop {
            let line = match self.read_line().await? {
                Line::Text(l) => l,
                Line::TooLong => {
                    self.error(500, "5.5.2", "Line too long").await?;
                    continue;
                }
                Line::Closed => return Ok(()),
                Line::TimedOut => {
                    let text = format!("{} timeout, closing connection", self.ctx.server_name);
                    return self.reply(421, "4.4.2", &text).await;
                }
            };
            let parsed = command::parse(&line, self.utf8_allowed());
            let facts = self.command_facts(&line, &parsed);
            let next = match &facts {
                Some(facts) => match self.hook_before(facts, &parsed).await? {
                    Some(next) => next,
                    None => {
                        let taken = self.taken();
                        self.last_reply = None;
                        let next = self.run_command(parsed).await?;
                        self.hook_after(facts.clone(), taken, next).await?
                    }
                },
                None => self.run_command(parsed).await?,
            };
            if self.errors >= self.ctx.max_errors {
                tracing::warn!(target: "smtp", "{}: {} bad commands; session closed", self.peer.ip(), self.errors);
                return self.reply(421, "4.7.0", "Too many errors, closing connection").await;
            }
            if matches!(next, Next::Close) {
                return Ok(());
            }
        }
    }

    async fn run_command(&mut self, parsed: Result<Command, command::CommandError>) -> std::io::Result<Next> {
        match parsed {
            Ok(cmd) => self.dispatch(cmd).await,
            Err(e) => {
                let (code, status, text) = e.reply();
                self.error(code, status, &text).await?;
                Ok(Next::Continue)
            }
        }
    }

    /// Bytes scripts sent with `session:send`, before the next reply.
    pub(super) fn write_sent(&mut self, sent: &[u8]) {
        self.out.extend_from_slice(sent);
    }

    /// Take the last reply out of the unsent replies; false when it was
    /// already sent.
    pub(super) fn take_back_last_reply(&mut self) -> bool {
        match self.last_reply_at.take() {
            Some(at) => {
                self.out.truncate(at);
                true
            }
            None => false,
        }
    }

    /// SMTPUTF8 is advertised only after EHLO; inside a transaction, only a
    /// MAIL that asked for it (RFC 6531 §3.4) allows UTF-8 recipients.
    fn utf8_allowed(&self) -> bool {
        match &self.tx {
            Some(tx) => tx.params.smtputf8,
            None => self.esmtp,
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> std::io::Result<Next> {
        if matches!(cmd, Command::Noop | Command::Rset | Command::Vrfy(_) | Command::Help(_)) {
            self.junk += 1;
            if self.junk > MAX_JUNK_COMMANDS {
                self.reply(421, "4.7.0", "Too many commands without mail, closing connection").await?;
                return Ok(Next::Close);
            }
        }
        match cmd {
            Command::Ehlo(domain) => self.hello(domain, true).await?,
            Command::Helo(domain) => self.hello(domain, false).await?,
            Command::StartTls => return self.starttls().await,
            Command::Auth { mechanism, initial } => self.authenticate(&mechanism, initial).await?,
            Command::Mail { from, params } => self.mail(from, params).await?,
            Command::Rcpt { to, .. } => self.rcpt(to).await?,
            Command::Data => return self.data().await,
            Command::Bdat { size, last } => return self.bdat(size, last).await,
            Command::Rset => {
                self.tx = None; // authentication survives RSET
                self.reply(250, "2.0.0", "OK").await?;
            }
            Command::Noop => self.reply(250, "2.0.0", "OK").await?,
            // Answering VRFY/EXPN truthfully lets anyone list the accounts.
            Command::Vrfy(_) => self.reply(252, "2.5.0", "Cannot VRFY user, but will accept message").await?,
            Command::Expn(_) => self.reply(502, "5.5.1", "EXPN not available").await?,
            Command::Help(_) => self.reply(214, "2.0.0", "See RFC 5321; https://www.rfc-editor.org/rfc/rfc5321").await?,
            Command::Quit => {
                self.reply(221, "2.0.0", &format!("{} closing connection", self.ctx.server_name)).await?;
                return Ok(Next::Close);
            }
        }
        Ok(Next::Continue)
    }

    fn auth_offered(&self) -> bool {
        self.tls || self.ctx.allow_plaintext_auth
    }

    async fn hello(&mut self, domain: String, esmtp: bool) -> std::io::Result<()> {
        if self.ctx.enforce_fqdn && !looks_fqdn(&domain) {
            return self.error(504, "5.5.2", "HELO rejected: a fully-qualified hostname is required").await;
        }
        self.tx = None;
        self.esmtp = esmtp;
        let name = self.ctx.server_name.clone();
        self.helo = Some(domain);
        if !esmtp {
            return self.reply_line(&format!("250 {name}")).await;
        }
        let mut lines = vec![format!("{name} greets {}", self.peer.ip())];
        lines.push("PIPELINING".into());
        lines.push(if self.ctx.max_size > 0 { format!("SIZE {}", self.ctx.max_size) } else { "SIZE".into() });
        lines.extend(["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"].map(String::from));
        if self.ctx.tls.is_some() && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        self.multiline(250, &lines).await
    }

    /// RFC 3207: after the handshake the session starts over; anything the
    /// client pipelined after STARTTLS in clear text is thrown away (the
    /// command-injection attack of CVE-2011-0411).
    async fn starttls(&mut self) -> std::io::Result<Next> {
        let Some(config) = self.ctx.tls.clone() else {
            self.error(502, "5.5.1", "STARTTLS not available").await?;
            return Ok(Next::Continue);
        };
        if self.tls {
            self.error(503, "5.5.1", "TLS already active").await?;
            return Ok(Next::Continue);
        }
        self.reply(220, "2.0.0", "Ready to start TLS").await?;
        self.flush_out().await?;
        match stream::upgrade(&mut self.io, config, self.ctx.command_timeout).await {
            Ok(()) => {
                self.tls = true;
                self.helo = None;
                self.esmtp = false;
                self.auth = None;
                self.tx = None;
                Ok(Next::Continue)
            }
            Err(e) => {
                tracing::info!(target: "smtp", "{}: TLS handshake failed: {e}", self.peer.ip());
                Ok(Next::Close)
            }
        }
    }

    async fn authenticate(&mut self, mechanism: &str, initial: Option<String>) -> std::io::Result<()> {
        if self.helo.is_none() {
            return self.error(503, "5.5.1", "Send EHLO first").await;
        }
        if self.auth.is_some() {
            return self.error(503, "5.5.1", "Already authenticated").await;
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "AUTH is not allowed during a mail transaction").await;
        }
        if !self.auth_offered() {
            return self.error(538, "5.7.11", "Encryption required: use STARTTLS first").await;
        }
        let credentials = match mechanism {
            "PLAIN" => self.sasl_plain(initial).await?,
            "LOGIN" => self.sasl_login(initial).await?,
            _ => return self.error(504, "5.5.4", "Unrecognized authentication mechanism (PLAIN or LOGIN)").await,
        };
        let credentials = match credentials {
            SaslStep::Done(c) => c,
            SaslStep::Cancelled => return self.error(501, "5.0.0", "Authentication cancelled").await,
            SaslStep::Invalid(why) => return self.error(501, "5.5.2", &format!("Invalid SASL response: {why}")).await,
            SaslStep::Closed => return Ok(()),
        };
        match self.check_credentials(&credentials).await {
            Ok(Some(address)) => {
                tracing::info!(target: "smtp", "{}: authenticated as {address}", self.peer.ip());
                self.auth = Some(address);
                self.reply(235, "2.7.0", "Authentication successful").await
            }
            Ok(None) => {
                tracing::warn!(target: "smtp", login = ?credentials.user, "{}: AUTH {mechanism} failed", self.peer.ip());
                self.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.error(535, "5.7.8", "Authentication credentials invalid").await
            }
            Err(e) => {
                if !matches!(e, crate::store::StoreError::Busy(_)) {
                    tracing::error!(target: "smtp", "AUTH lookup failed: {e}");
                }
                self.reply(454, "4.7.0", "Temporary authentication failure").await
            }
        }
    }

    async fn sasl_plain(&mut self, initial: Option<String>) -> std::io::Result<SaslStep> {
        let response = match initial {
            Some(r) => r,
            None => match self.sasl_read("").await? {
                Ok(r) => r,
                Err(step) => return Ok(step),
            },
        };
        Ok(match auth::decode_response(&response).and_then(|d| auth::parse_plain(&d)) {
            Ok(c) => SaslStep::Done(c),
            Err(e) => SaslStep::Invalid(e.to_string()),
        })
    }

    async fn sasl_login(&mut self, initial: Option<String>) -> std::io::Result<SaslStep> {
        let user = match initial {
            Some(r) => r,
            None => match self.sasl_read(&auth::encode_challenge("Username:")).await? {
                Ok(r) => r,
                Err(step) => return Ok(step),
            },
        };
        let password = match self.sasl_read(&auth::encode_challenge("Password:")).await? {
            Ok(r) => r,
            Err(step) => return Ok(step),
        };
        let field = |r: &str| auth::decode_response(r).and_then(auth::parse_login_field);
        Ok(match (field(&user), field(&password)) {
            (Ok(user), Ok(password)) => SaslStep::Done(Credentials { user, password }),
            (Err(e), _) | (_, Err(e)) => SaslStep::Invalid(e.to_string()),
        })
    }

    /// Send a `334` challenge and read the client's response line.
    async fn sasl_read(&mut self, challenge: &str) -> std::io::Result<Result<String, SaslStep>> {
        self.reply_line(&format!("334 {challenge}")).await?;
        let line = match self.read_line().await? {
            Line::Text(l) => l,
            Line::TooLong => return Ok(Err(SaslStep::Invalid("line too long".into()))),
            Line::Closed | Line::TimedOut => return Ok(Err(SaslStep::Closed)),
        };
        let text = String::from_utf8_lossy(&line).trim().to_string();
        Ok(if text == "*" { Err(SaslStep::Cancelled) } else { Ok(text) })
    }

    async fn check_credentials(&self, c: &Credentials) -> Result<Option<String>, StoreError> {
        Ok(crate::login::authenticate(&self.ctx.store, &c.user, &c.password).await?.map(|a| a.address()))
    }

    async fn mail(&mut self, from: ReversePath, params: MailParams) -> std::io::Result<()> {
        if self.helo.is_none() {
            return self.error(503, "5.5.1", "Send EHLO or HELO first").await;
        }
        if self.port == Port::Submission && self.auth.is_none() {
            return self.error(530, "5.7.0", "Authentication required").await;
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "Nested MAIL command").await;
        }
        if let (Some(size), max) = (params.size, self.ctx.max_size)
            && max > 0 && size > max
        {
            return self.reply(552, "5.3.4", &format!("Message size exceeds fixed limit of {max} bytes")).await;
        }
        if let (Some(login), Some(sender)) = (self.auth.clone(), from.mailbox())
            && self.ctx.enforce_sender_login && !self.sender_belongs_to(&login, sender).await
        {
            tracing::warn!(target: "smtp", "{}: {login} tried to send as <{sender}>", self.peer.ip());
            return self.refuse(553, "5.7.1", &format!("Sender address rejected: not owned by {login}")).await;
        }
        self.tx = Some(Transaction { from, params, rcpts: Vec::new(), chunking: None });
        self.reply(250, "2.1.0", "Sender OK").await
    }

    /// Is `sender` the login's own address, or an alias that reaches it?
    /// (Tenants on one server must not send as each other.)
    async fn sender_belongs_to(&self, login: &str, sender: &Mailbox) -> bool {
        let address = format!("{}@{}", sender.local.to_lowercase(), sender.domain_lower());
        if address == login {
            return true;
        }
        let alias = self.ctx.store.find_alias(&sender.domain_lower(), &sender.local.to_lowercase()).await;
        matches!(alias, Ok(Some(a)) if a.alias_targets().iter().any(|t| t == login))
    }

    async fn rcpt(&mut self, to: ForwardPath) -> std::io::Result<()> {
        let Some(tx) = self.tx.as_ref() else {
            return self.error(503, "5.5.1", "Send MAIL first").await;
        };
        if tx.chunking.is_some() {
            return self.error(503, "5.5.1", "RCPT after BDAT").await;
        }
        if tx.rcpts.len() >= self.ctx.max_recipients {
            return self.reply(452, "4.5.3", "Too many recipients").await;
        }
        let sender_domain = tx.from.mailbox().map(Mailbox::domain_lower);
        let found = match to {
            ForwardPath::Mailbox(m) => self.classify(&m).await,
            ForwardPath::Postmaster => self.postmaster().await,
        };
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(target: "smtp", "RCPT lookup failed: {e}");
                return self.reply(451, "4.3.0", "Temporary lookup failure, try again later").await;
            }
        };
        let address = match found {
            Recipient::Local(address) => address,
            Recipient::Unknown(address) => {
                // Postfix's wording: the client sees which of its recipients failed.
                let text = format!("<{address}>: Recipient address rejected: User unknown");
                return self.refuse(550, "5.1.1", &text).await;
            }
            Recipient::Foreign(address) => match self.relay_refusal(sender_domain).await {
                None => address,
                Some((code, status, text)) => return self.refuse(code, status, &text).await,
            },
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.rcpts.push(address);
        }
        self.reply(250, "2.1.5", "Recipient OK").await
    }

    /// `<Postmaster>` without a domain must always be accepted (RFC 5321
    /// §4.5.1): postmaster@ServerName if that exists, else the postmaster
    /// of the first of our domains that has one.
    async fn postmaster(&self) -> Result<Recipient, StoreError> {
        let found = self.ctx.store.postmaster(&self.ctx.server_name.to_lowercase()).await?;
        if found.is_none() {
            tracing::warn!(target: "smtp", "mail for <postmaster> refused: no postmaster account in any domain");
        }
        Ok(found.map_or_else(|| Recipient::Unknown("Postmaster".into()), Recipient::Local))
    }

    async fn classify(&self, m: &Mailbox) -> Result<Recipient, StoreError> {
        let domain = m.domain_lower();
        let user = m.local.to_lowercase();
        let found = self.ctx.store.local_recipient(&domain, &user).await?;
        Ok(match found {
            None => Recipient::Foreign(m.to_string()),
            Some(true) => Recipient::Local(format!("{user}@{domain}")),
            Some(false) => Recipient::Unknown(m.to_string()),
        })
    }

    /// Why mail for another domain may not be relayed, if it may not: the
    /// client is not authenticated, the operator blocks outgoing mail, or
    /// the sender's (local) domain has the no-relay flag.
    async fn relay_refusal(&self, sender_domain: Option<String>) -> Option<(u16, &'static str, String)> {
        if self.auth.is_none() {
            return Some((554, "5.7.1", "Relay access denied".into()));
        }
        if self.ctx.block_outgoing {
            return Some((550, "5.7.1", "Relaying is disabled on this server".into()));
        }
        let domain = sender_domain?;
        let flags = self.ctx.store.find_domain(&domain).await.map(|d| d.map(|d| d.flags));
        match flags {
            Ok(Some(flags)) if flags & accounts::DOMAIN_NO_RELAY != 0 => {
                Some((550, "5.7.1", format!("Relaying is disabled for senders in {domain}")))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::error!(target: "smtp", "relay check failed: {e}");
                Some((451, "4.3.0", "Temporary lookup failure, try again later".into()))
            }
        }
    }

    async fn refuse(&mut self, code: u16, status: &str, text: &str) -> std::io::Result<()> {
        self.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.reply(code, status, text).await
    }

    /// Send pending replies if the client has nothing more buffered: it is
    /// waiting for them.
    pub(super) async fn flush_if_idle(&mut self) -> std::io::Result<()> {
        if self.io.buffer().is_empty() { self.flush_out().await } else { Ok(()) }
    }

    pub(super) async fn flush_out(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        self.last_reply_at = None;
        let w = self.io.get_mut();
        w.write_all(&out).await?;
        w.flush().await
    }

    async fn read_line(&mut self) -> std::io::Result<Line> {
        self.flush_if_idle().await?;
        let timeout = if self.helo.is_some() { self.ctx.command_timeout } else { self.ctx.pre_login_timeout };
        match tokio::time::timeout(timeout, lineio::read_line(&mut self.io, MAX_LINE)).await {
            Ok(Ok(LineRead::Line { text, .. })) => Ok(Line::Text(text)),
            Ok(Ok(LineRead::TooLong)) => Ok(Line::TooLong),
            Ok(Ok(LineRead::Closed)) => Ok(Line::Closed),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(Line::TimedOut),
        }
    }

    pub(super) async fn error(&mut self, code: u16, status: &str, text: &str) -> std::io::Result<()> {
        self.errors += 1;
        self.reply(code, status, text).await
    }

    pub(super) async fn reply(&mut self, code: u16, status: &str, text: &str) -> std::io::Result<()> {
        let line = if status.is_empty() { format!("{code} {text}") } else { format!("{code} {status} {text}") };
        self.reply_line(&line).await
    }

    async fn multiline(&mut self, code: u16, lines: &[String]) -> std::io::Result<()> {
        self.last_reply_at = Some(self.out.len());
        self.last_reply = Some(Reply { code, text: lines.join("\n") });
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            self.out.extend_from_slice(format!("{code}{sep}{l}\r\n").as_bytes());
        }
        Ok(())
    }

    async fn reply_line(&mut self, line: &str) -> std::io::Result<()> {
        self.last_reply_at = Some(self.out.len());
        let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        self.last_reply = Some(Reply { code, text: line.get(4..).unwrap_or("").to_string() });
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

enum SaslStep {
    Done(Credentials),
    Cancelled,
    Invalid(String),
    Closed,
}

/// `label.label` with letters, digits and hyphens, or an address literal.
fn looks_fqdn(domain: &str) -> bool {
    if domain.starts_with('[') && domain.ends_with(']') {
        return true;
    }
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}
