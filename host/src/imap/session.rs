//! One IMAP4rev1 session (RFC 3501): reading tagged commands with their
//! literals (synchronising and LITERAL+, both capped), the state machine
//! (not authenticated, authenticated, selected), CAPABILITY, STARTTLS,
//! LOGIN/AUTHENTICATE, and dispatch. Folder commands live in `folders.rs`,
//! the selected mailbox in `selected.rs`, FETCH and SEARCH in their files.
//!
//! `dispatch` is the one place every command passes: the hook point for
//! scripts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use super::command::{self, Command, ErrorKind, Request};
use super::selected::View;
use crate::hooks::{HookSink, Notes};
use crate::lineio::{self, LineRead};
use crate::sasl::{self, Credentials};
use crate::store::Store;
use crate::store::accounts::Account;
use crate::stream::{self, BoxStream};

#[derive(Clone)]
pub struct ImapContext {
    pub server_name: String,
    pub store: Store,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub allow_plaintext_auth: bool,
    /// RFC 3501 §5.4: at least 30 minutes of inactivity before logout.
    pub timeout: Duration,
    /// `timeout` before login, at most `PreLoginTimeout`.
    pub pre_login_timeout: Duration,
    /// Largest APPEND literal (`MessageSizeLimit`, 0 = none).
    pub max_message: u64,
    /// Letter bytes and what FETCH/SEARCH derive from them, for all sessions.
    pub cache: Arc<super::MessageCache>,
    /// `MaxConnectionsPerIP` (0 = no limit).
    pub max_per_ip: u32,
    /// Where the hook points go (scripts' `Rumble.setHook`).
    pub hooks: Arc<dyn HookSink>,
}

/// Longest command line, literals excluded.
const MAX_LINE: usize = 64 * 1024;
/// Literals outside APPEND (strings, search terms) are small.
const MAX_SMALL_LITERAL: u64 = 64 * 1024;
/// APPEND's cap when `MessageSizeLimit` is 0.
const UNLIMITED_APPEND: u64 = 256 * 1024 * 1024;
/// All the lines and literals of one command together, beyond its one big
/// APPEND literal: chained small literals cannot add up to much either.
const MAX_COMMAND: u64 = 1024 * 1024;
/// Bad commands tolerated before the session is closed.
const MAX_ERRORS: u32 = 20;

pub(super) enum State {
    NotAuthenticated,
    Authenticated(Account),
    /// Boxed: a view is much bigger than the other states.
    Selected(Account, Box<View>),
}

pub struct Session {
    pub(super) io: BufReader<BoxStream>,
    pub(super) ctx: Arc<ImapContext>,
    pub(super) peer: SocketAddr,
    pub(super) tls: bool,
    pub(super) state: State,
    /// The listener's service name and port, for hooks.
    pub(super) service: Arc<str>,
    pub(super) local_port: u16,
    /// What hooks keep with this connection (`session:set`).
    pub(super) notes: Arc<std::sync::Mutex<Notes>>,
    /// The last tagged response, and where it starts in `out` while unsent:
    /// an after-hook sees it and may replace it.
    pub(super) tagged: Option<String>,
    pub(super) tagged_at: Option<usize>,
    /// CONDSTORE was enabled (ENABLE, SELECT (CONDSTORE), or a command
    /// using it): FETCH responses carry MODSEQ from then on.
    pub(super) condstore: bool,
    errors: u32,
    pub(super) out: Vec<u8>,
    /// The logged-in account's letter folder, once known.
    pub(super) letter_dir: Option<PathBuf>,
}

pub(super) enum Next {
    Continue,
    Close,
}

/// A command as read from the wire.
enum Incoming {
    Command(Vec<u8>),
    /// Already answered (too long, literal refused); read the next one.
    Refused,
    Closed,
    TimedOut,
}

impl Session {
    pub fn new(stream: BoxStream, peer: SocketAddr, ctx: Arc<ImapContext>, listener: (Arc<str>, u16), tls: bool) -> Session {
        Session {
            io: BufReader::new(stream),
            ctx,
            peer,
            tls,
            state: State::NotAuthenticated,
            service: listener.0,
            local_port: listener.1,
            notes: Arc::default(),
            tagged: None,
            tagged_at: None,
            condstore: false,
            errors: 0,
            out: Vec::new(),
            letter_dir: None,
        }
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let result = self.serve().await;
        let flushed = self.flush().await;
        self.hook_close().await;
        result.and(flushed)
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        match self.hook_accept().await? {
            None => {
                let caps = self.capabilities();
                self.line(&format!("* OK [CAPABILITY {caps}] {} Rumble IMAP4rev1 ready", self.ctx.server_name));
            }
            Some(Next::Close) => return Ok(()),
            Some(Next::Continue) => {}
        }
        loop {
            let input = match self.read_command().await? {
                Incoming::Command(c) => c,
                Incoming::Refused => continue,
                Incoming::Closed => return Ok(()),
                Incoming::TimedOut => {
                    self.line("* BYE Autologout; idle for too long");
                    return Ok(());
                }
            };
            let parsed = command::parse(&input);
            let next = match self.command_facts(&input, &parsed) {
                Some(facts) => match self.hook_before(&facts).await? {
                    Some(next) => next,
                    None => {
                        let before = self.login_state();
                        self.tagged = None;
                        let next = self.run_command(parsed).await?;
                        self.hook_after(facts, before, next).await?
                    }
                },
                None => self.run_command(parsed).await?,
            };
            if matches!(next, Next::Close) {
                return Ok(());
            }
            if self.errors >= MAX_ERRORS {
                tracing::warn!(target: "imap", "{}: {} bad commands; session closed", self.peer.ip(), self.errors);
                self.line("* BYE Too many errors");
                return Ok(());
            }
        }
    }

    /// One command line plus its literals. A synchronising literal is
    /// acknowledged with `+` only if it fits; a LITERAL+ one that does not
    /// fit cannot be skipped safely, so the session ends.
    async fn read_command(&mut self) -> std::io::Result<Incoming> {
        let mut command = Vec::new();
        loop {
            let line = match self.read_line().await? {
                Some(LineRead::Line { text, .. }) => text,
                Some(LineRead::TooLong) => {
                    self.errors += 1;
                    self.line("* BAD Command line too long");
                    return Ok(Incoming::Refused);
                }
                Some(LineRead::Closed) => return Ok(Incoming::Closed),
                None => return Ok(Incoming::TimedOut),
            };
            command.extend_from_slice(&line);
            let Some(literal) = command::literal_at_end(&line) else {
                return Ok(Incoming::Command(command));
            };
            let limit = self.literal_limit(&command, command.len() as u64);
            if literal.size > limit {
                self.errors += 1;
                let tag = tag_of(&command);
                if literal.non_sync {
                    self.line(&format!("* BYE [TOOBIG] Literal of {} octets is over the limit of {limit}", literal.size));
                    return Ok(Incoming::Closed);
                }
                self.line(&format!("{tag} NO [TOOBIG] Literal of {} octets is over the limit of {limit}", literal.size));
                return Ok(Incoming::Refused);
            }
            if !literal.non_sync {
                self.line("+ Ready for literal data");
            }
            command.extend_from_slice(b"\r\n");
            if !self.read_exact_into(literal.size as usize, &mut command).await? {
                return Ok(Incoming::Closed);
            }
        }
    }

    /// The largest literal the command may go on with, having read `so_far`
    /// bytes of it: after login, APPEND may carry a whole message; anything
    /// else (and everything before login) only small strings, and never
    /// more than [`MAX_COMMAND`] in all beyond that one message.
    fn literal_limit(&self, command: &[u8], so_far: u64) -> u64 {
        let text = String::from_utf8_lossy(&command[..command.len().min(64)]).to_ascii_uppercase();
        let is_append = text.split(' ').nth(1) == Some("APPEND");
        let logged_in = !matches!(self.state, State::NotAuthenticated);
        let (literal, total) = match (is_append && logged_in, self.ctx.max_message) {
            // The literal is held in memory: "unlimited" still means bounded.
            (true, 0) => (UNLIMITED_APPEND, UNLIMITED_APPEND + MAX_COMMAND),
            (true, max) => (max, max + MAX_COMMAND),
            (false, _) => (MAX_SMALL_LITERAL, MAX_COMMAND),
        };
        literal.min(total.saturating_sub(so_far))
    }

    /// Read `n` bytes onto `out`, growing it as they arrive: the buffer is
    /// never sized from the number the client announced.
    async fn read_exact_into(&mut self, n: usize, out: &mut Vec<u8>) -> std::io::Result<bool> {
        self.flush().await?;
        let start = out.len();
        let timeout = self.read_timeout();
        let mut limited = (&mut self.io).take(n as u64);
        match tokio::time::timeout(timeout, limited.read_to_end(out)).await {
            Ok(Ok(_)) => Ok(out.len() - start == n),
            _ => Ok(false),
        }
    }

    pub(super) async fn read_line(&mut self) -> std::io::Result<Option<LineRead>> {
        self.flush().await?;
        match tokio::time::timeout(self.read_timeout(), lineio::read_line(&mut self.io, MAX_LINE)).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    fn read_timeout(&self) -> Duration {
        if matches!(self.state, State::NotAuthenticated) { self.ctx.pre_login_timeout } else { self.ctx.timeout }
    }

    async fn run_command(&mut self, parsed: Result<Request, command::ParseError>) -> std::io::Result<Next> {
        match parsed {
            Ok(request) => self.dispatch(request).await,
            Err(e) => {
                self.errors += 1;
                match (e.kind, e.tag) {
                    (ErrorKind::BadCharset, Some(tag)) => self.tagged_line(&tag, &format!("NO [BADCHARSET (UTF-8 US-ASCII)] {}", e.message)),
                    (_, Some(tag)) => self.tagged_line(&tag, &format!("BAD {}", e.message)),
                    (_, None) => self.line(&format!("* BAD {}", e.message)),
                }
                Ok(Next::Continue)
            }
        }
    }

    async fn dispatch(&mut self, req: Request) -> std::io::Result<Next> {
        let Request { tag, command } = req;
        let authenticated = !matches!(self.state, State::NotAuthenticated);
        let selected = matches!(self.state, State::Selected(..));
        match command {
            Command::Capability => {
                let caps = self.capabilities();
                self.line(&format!("* CAPABILITY {caps}"));
                self.ok(&tag, "CAPABILITY completed");
            }
            Command::Noop | Command::Check => {
                if selected {
                    self.sync(true).await?;
                }
                self.ok(&tag, "completed");
            }
            Command::Logout => {
                self.line("* BYE Logging out");
                self.ok(&tag, "LOGOUT completed");
                return Ok(Next::Close);
            }
            Command::Id(_) => {
                self.line(&format!("* ID (\"name\" \"Rumble\" \"version\" \"{}\")", crate::rumble_version()));
                self.ok(&tag, "ID completed");
            }
            Command::StartTls if !authenticated => return self.starttls(&tag).await,
            Command::Login { user, password } if !authenticated => {
                self.login(&tag, Credentials { user, password }).await?;
            }
            Command::Authenticate { mechanism, initial } if !authenticated => self.authenticate(&tag, &mechanism, initial).await?,
            Command::StartTls | Command::Login { .. } | Command::Authenticate { .. } => {
                self.bad(&tag, "Already authenticated");
            }
            _ if !authenticated => self.bad(&tag, "Log in first"),
            Command::Namespace => {
                self.line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                self.ok(&tag, "NAMESPACE completed");
            }
            Command::Enable(caps) => {
                if caps.iter().any(|c| c == "CONDSTORE") {
                    self.condstore = true;
                    self.line("* ENABLED CONDSTORE");
                } else {
                    self.line("* ENABLED");
                }
                self.ok(&tag, "ENABLE completed");
            }
            Command::Select { mailbox, condstore } => self.select(&tag, &mailbox, false, condstore).await?,
            Command::Examine { mailbox, condstore } => self.select(&tag, &mailbox, true, condstore).await?,
            Command::Create(name) => self.create(&tag, &name).await?,
            Command::Delete(name) => self.delete(&tag, &name).await?,
            Command::Rename { from, to } => self.rename(&tag, &from, &to).await?,
            Command::Subscribe(name) => self.subscribe(&tag, &name, true).await?,
            Command::Unsubscribe(name) => self.subscribe(&tag, &name, false).await?,
            Command::List { reference, pattern } => self.list(&tag, &reference, &pattern, false).await?,
            Command::Lsub { reference, pattern } => self.list(&tag, &reference, &pattern, true).await?,
            Command::Status { mailbox, items } => self.status(&tag, &mailbox, &items).await?,
            Command::Append { mailbox, flags, date, message } => self.append(&tag, &mailbox, &flags, date, message).await?,
            _ if !selected => self.bad(&tag, "No mailbox selected"),
            Command::Close => self.close(&tag, true).await?,
            Command::Unselect => self.close(&tag, false).await?,
            Command::Expunge => self.expunge(&tag, None).await?,
            Command::UidExpunge(set) => self.expunge(&tag, Some(set)).await?,
            Command::Search { criteria, uid, .. } => self.search(&tag, &criteria, uid).await?,
            Command::Fetch { set, items, uid, changed_since } => self.fetch(&tag, &set, &items, uid, changed_since).await?,
            Command::Store { set, uid, unchanged_since, mode, silent, flags } => {
                self.store(&tag, &set, uid, unchanged_since, mode, silent, &flags).await?;
            }
            Command::Copy { set, mailbox, uid } => self.copy(&tag, &set, &mailbox, uid, false).await?,
            Command::Move { set, mailbox, uid } => self.copy(&tag, &set, &mailbox, uid, true).await?,
            Command::Idle => return self.idle(&tag).await,
        }
        Ok(Next::Continue)
    }

    pub(super) fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "SPECIAL-USE", "CHILDREN", "CONDSTORE"];
        if self.ctx.tls.is_some() && !self.tls {
            caps.push("STARTTLS");
        }
        if self.plaintext_allowed() {
            caps.push("AUTH=PLAIN");
        } else {
            caps.push("LOGINDISABLED");
        }
        caps.join(" ")
    }

    fn plaintext_allowed(&self) -> bool {
        self.tls || self.ctx.allow_plaintext_auth
    }

    /// RFC 3501 §6.2.1: the client must forget what it knew; anything it
    /// sent after STARTTLS before the handshake is thrown away.
    async fn starttls(&mut self, tag: &str) -> std::io::Result<Next> {
        let Some(config) = self.ctx.tls.clone().filter(|_| !self.tls) else {
            self.bad(tag, "STARTTLS not available");
            return Ok(Next::Continue);
        };
        self.ok(tag, "Begin TLS negotiation now");
        self.flush().await?;
        if stream::upgrade(&mut self.io, config, Duration::from_secs(30)).await.is_err() {
            return Ok(Next::Close);
        }
        self.tls = true;
        Ok(Next::Continue)
    }

    async fn authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<String>) -> std::io::Result<()> {
        if !self.plaintext_allowed() {
            self.errors += 1;
            {
                self.no(tag, "[PRIVACYREQUIRED] Use STARTTLS first");
                return Ok(());
            };
        }
        if mechanism != "PLAIN" {
            {
                self.no(tag, "Unsupported authentication mechanism");
                return Ok(());
            };
        }
        let response = match initial {
            Some(r) => r,
            None => {
                self.line("+ ");
                match self.read_line().await? {
                    Some(LineRead::Line { text, .. }) => String::from_utf8_lossy(&text).trim().to_string(),
                    _ => return Ok(()),
                }
            }
        };
        if response == "*" {
            {
                self.bad(tag, "Authentication cancelled");
                return Ok(());
            };
        }
        match sasl::decode_response(&response).and_then(|d| sasl::parse_plain(&d)) {
            Ok(c) => self.login(tag, c).await,
            Err(e) => {
                self.bad(tag, &format!("Invalid SASL response: {e}"));
                Ok(())
            },
        }
    }

    async fn login(&mut self, tag: &str, c: Credentials) -> std::io::Result<()> {
        if !self.plaintext_allowed() {
            self.errors += 1;
            {
                self.no(tag, "[PRIVACYREQUIRED] Use STARTTLS first");
                return Ok(());
            };
        }
        match crate::login::authenticate(&self.ctx.store, &c.user, &c.password).await {
            Ok(Some(account)) => {
                tracing::info!(target: "imap", "{}: {} logged in", self.peer.ip(), account.address());
                self.state = State::Authenticated(account);
                let caps = self.capabilities();
                self.ok(tag, &format!("[CAPABILITY {caps}] Logged in"));
            }
            Ok(None) => {
                tracing::warn!(target: "imap", login = ?c.user, "{}: login failed", self.peer.ip());
                self.errors += 1;
                self.no(tag, "[AUTHENTICATIONFAILED] Authentication failed");
            }
            Err(e) => {
                if !matches!(e, crate::store::StoreError::Busy(_)) {
                    tracing::error!(target: "imap", "login lookup failed: {e}");
                }
                self.no(tag, "[UNAVAILABLE] Temporary failure, try again later");
            }
        }
        Ok(())
    }

    pub(super) fn account(&self) -> &Account {
        match &self.state {
            State::Authenticated(a) | State::Selected(a, _) => a,
            State::NotAuthenticated => unreachable!("dispatch checks the state"),
        }
    }

    pub(super) fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub(super) fn ok(&mut self, tag: &str, text: &str) {
        self.tagged_line(tag, &format!("OK {text}"));
    }

    pub(super) fn no(&mut self, tag: &str, text: &str) {
        self.tagged_line(tag, &format!("NO {text}"));
    }

    pub(super) fn bad(&mut self, tag: &str, text: &str) {
        self.errors += 1;
        self.tagged_line(tag, &format!("BAD {text}"));
    }

    /// A command's completion; remembered for after-hooks.
    pub(super) fn tagged_line(&mut self, tag: &str, status: &str) {
        self.tagged_at = Some(self.out.len());
        self.tagged = Some(status.to_string());
        self.line(&format!("{tag} {status}"));
    }

    /// Take the last tagged response out of the unsent output; false when
    /// it was already sent.
    pub(super) fn take_back_tagged(&mut self) -> bool {
        match self.tagged_at.take() {
            Some(at) => {
                self.out.truncate(at);
                true
            }
            None => false,
        }
    }

    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        self.tagged_at = None;
        let w = self.io.get_mut();
        w.write_all(&out).await?;
        w.flush().await
    }
}

/// The tag of a command that will not be parsed (for a NO about its literal).
fn tag_of(command: &[u8]) -> String {
    let end = command.iter().position(|&b| b == b' ').unwrap_or(command.len());
    let tag = String::from_utf8_lossy(&command[..end]).to_string();
    if tag.is_empty() { "*".into() } else { tag }
}
