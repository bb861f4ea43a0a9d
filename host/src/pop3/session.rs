//! One POP3 session (RFC 1939): AUTHORIZATION (USER/PASS, AUTH PLAIN or
//! LOGIN, STLS), TRANSACTION on a snapshot of the INBOX taken at login, and
//! UPDATE at QUIT, where deletions happen in one store transaction (a
//! session that ends any other way deletes nothing). The maildrop is locked
//! for the whole session: a second login gets `-ERR [IN-USE]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use super::command::{self, Command, CommandError};
use crate::lineio::{self, LineRead};
use crate::sasl::{self, Credentials};
use crate::smtp::data::DotStuffer;
use crate::store::accounts::Account;
use crate::store::maildrop::MaildropLock;
use crate::store::mailbox::flags;
use crate::store::{Store, StoreError};
use crate::hooks::{HookSink, Notes, When};
use crate::stream::{self, BoxStream};

#[derive(Clone)]
pub struct Pop3Context {
    pub server_name: String,
    pub store: Store,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub allow_plaintext_auth: bool,
    /// RFC 1939 §3: an idle session may be closed after at least 10 minutes.
    pub timeout: Duration,
    /// `timeout` before login, at most `PreLoginTimeout`.
    pub pre_login_timeout: Duration,
    /// `MaxConnectionsPerIP` (0 = no limit).
    pub max_per_ip: u32,
    /// Where the hook points go (scripts' `Rumble.setHook`).
    pub hooks: Arc<dyn HookSink>,
}

/// Bad commands tolerated before the session is closed.
const MAX_ERRORS: u32 = 10;
/// Replies are sent in pieces of about this size while streaming a message.
const CHUNK: usize = 64 * 1024;

struct Entry {
    id: i64,
    fid: String,
    size: i64,
    deleted: bool,
    retrieved: bool,
}

/// The INBOX as it was at login, plus this session's marks.
pub(super) struct Maildrop {
    pub(super) account: Account,
    folder: i64,
    dir: PathBuf,
    entries: Vec<Entry>,
    _lock: MaildropLock,
}

pub(super) enum State {
    Authorization { user: Option<String> },
    Transaction(Box<Maildrop>),
}

pub struct Session {
    pub(super) io: BufReader<BoxStream>,
    pub(super) ctx: Arc<Pop3Context>,
    pub(super) peer: SocketAddr,
    pub(super) tls: bool,
    pub(super) state: State,
    errors: u32,
    /// The listener's service name and port, for hooks.
    pub(super) service: Arc<str>,
    pub(super) local_port: u16,
    /// What hooks keep with this connection (`session:set`).
    pub(super) notes: Arc<std::sync::Mutex<Notes>>,
    /// The current command's response, held back while after-hooks may
    /// replace it (up to [`CAPTURE_MAX`]); None: written straight out.
    pub(super) capture: Option<Vec<u8>>,
    /// The command's status line (+OK/-ERR), and where it starts in `capture`.
    pub(super) status: Option<String>,
    pub(super) status_at: Option<usize>,
}

/// Most of a response held back for after-hooks; a longer one (a big RETR)
/// goes out as it is written and can no longer be replaced.
const CAPTURE_MAX: usize = 64 * 1024;

pub(super) enum Next {
    Continue,
    Close,
}

impl Session {
    pub fn new(stream: BoxStream, peer: SocketAddr, ctx: Arc<Pop3Context>, listener: (Arc<str>, u16), tls: bool) -> Session {
        Session {
            io: BufReader::new(stream),
            ctx,
            peer,
            tls,
            state: State::Authorization { user: None },
            errors: 0,
            service: listener.0,
            local_port: listener.1,
            notes: Arc::default(),
            capture: None,
            status: None,
            status_at: None,
        }
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let result = self.serve().await;
        let flushed = self.io.get_mut().flush().await;
        self.hook_close().await;
        result.and(flushed)
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        match self.hook_accept().await? {
            None => self.ok(&format!("{} Rumble POP3 ready", self.ctx.server_name)).await?,
            Some(Next::Close) => return Ok(()),
            Some(Next::Continue) => {}
        }
        loop {
            let line = match self.read_line(command::MAX_LINE * 4).await? {
                Some(LineRead::Line { text, .. }) => text,
                Some(LineRead::TooLong) => {
                    self.bad("line too long").await?;
                    continue;
                }
                Some(LineRead::Closed) => return Ok(()),
                None => return self.err("[SYS/TEMP] timeout, closing connection").await,
            };
            let parsed = command::parse(&line);
            let next = match self.command_facts(&line, &parsed) {
                Some(facts) => match self.hook_before(&facts).await? {
                    Some(next) => next,
                    None => {
                        let was_logged_in = matches!(self.state, State::Transaction(_));
                        self.begin_capture(&facts.verb);
                        let next = self.run_command(parsed).await?;
                        self.hook_after(facts, was_logged_in, next).await?
                    }
                },
                None => self.run_command(parsed).await?,
            };
            if matches!(next, Next::Close) {
                return Ok(());
            }
            if self.errors >= MAX_ERRORS {
                tracing::warn!(target: "pop3", "{}: {} bad commands; session closed", self.peer.ip(), self.errors);
                return self.err("too many errors, closing connection").await;
            }
        }
    }

    async fn run_command(&mut self, parsed: Result<Command, CommandError>) -> std::io::Result<Next> {
        match parsed {
            Ok(cmd) => self.dispatch(cmd).await,
            Err(CommandError::Unknown) => self.bad("unknown command").await.map(|_| Next::Continue),
            Err(CommandError::Syntax(why)) => self.bad(why).await.map(|_| Next::Continue),
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> std::io::Result<Next> {
        match (&self.state, cmd) {
            (_, Command::Capa) => self.capa().await?,
            (_, Command::Noop) => self.ok("").await?,
            (State::Authorization { .. }, Command::Quit) => {
                self.ok(&format!("{} closing connection", self.ctx.server_name)).await?;
                return Ok(Next::Close);
            }
            (State::Transaction(_), Command::Quit) => return self.update().await,
            (State::Authorization { .. }, Command::Stls) => return self.stls().await,
            (State::Authorization { .. }, Command::User(name)) => {
                if !self.plaintext_allowed() {
                    return self.refuse_plaintext().await;
                }
                self.state = State::Authorization { user: Some(name) };
                self.ok("send PASS").await?;
            }
            (State::Authorization { user }, Command::Pass(password)) => {
                let Some(user) = user.clone() else {
                    self.bad("USER first").await?;
                    return Ok(Next::Continue);
                };
                self.state = State::Authorization { user: None };
                if !self.plaintext_allowed() {
                    return self.refuse_plaintext().await;
                }
                self.login(Credentials { user, password }).await?;
            }
            (State::Authorization { .. }, Command::Auth { mechanism, initial }) => self.auth(mechanism, initial).await?,
            (State::Transaction(_), Command::Stat) => self.stat().await?,
            (State::Transaction(_), Command::List(n)) => self.list(n, false).await?,
            (State::Transaction(_), Command::Uidl(n)) => self.list(n, true).await?,
            (State::Transaction(_), Command::Retr(n)) => self.retrieve(n, None).await?,
            (State::Transaction(_), Command::Top { msg, lines }) => self.retrieve(msg, Some(lines)).await?,
            (State::Transaction(_), Command::Dele(n)) => self.delete(n).await?,
            (State::Transaction(_), Command::Rset) => self.rset().await?,
            (State::Authorization { .. }, _) => self.bad("not allowed before login").await?,
            (State::Transaction(_), _) => self.bad("not allowed after login").await?,
        }
        Ok(Next::Continue)
    }

    fn plaintext_allowed(&self) -> bool {
        self.tls || self.ctx.allow_plaintext_auth
    }

    async fn refuse_plaintext(&mut self) -> std::io::Result<Next> {
        self.errors += 1;
        self.err("[AUTH] Plaintext authentication disallowed on non-secure connections: use STLS").await?;
        Ok(Next::Continue)
    }

    async fn capa(&mut self) -> std::io::Result<()> {
        let mut lines = vec!["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        if self.ctx.tls.is_some() && !self.tls {
            lines.push("STLS");
        }
        if self.plaintext_allowed() {
            lines.extend(["USER", "SASL PLAIN LOGIN"]);
        }
        lines.push("IMPLEMENTATION Rumble");
        self.ok("Capability list follows").await?;
        let mut text = lines.join("\r\n");
        text.push_str("\r\n.\r\n");
        self.write(text.as_bytes()).await
    }

    /// RFC 2595 §4: the session starts over under TLS; anything the client
    /// sent after STLS in clear text is thrown away.
    async fn stls(&mut self) -> std::io::Result<Next> {
        let Some(config) = self.ctx.tls.clone().filter(|_| !self.tls) else {
            self.bad("STLS not available").await?;
            return Ok(Next::Continue);
        };
        self.ok("Begin TLS negotiation").await?;
        self.release_capture().await?;
        if stream::upgrade(&mut self.io, config, self.ctx.timeout).await.is_err() {
            return Ok(Next::Close);
        }
        self.tls = true;
        self.state = State::Authorization { user: None };
        Ok(Next::Continue)
    }

    async fn auth(&mut self, mechanism: Option<String>, initial: Option<String>) -> std::io::Result<()> {
        if !self.plaintext_allowed() {
            self.refuse_plaintext().await?;
            return Ok(());
        }
        let Some(mechanism) = mechanism else {
            // RFC 1734 clients list mechanisms with a bare AUTH.
            self.ok("").await?;
            return self.write(b"PLAIN\r\nLOGIN\r\n.\r\n").await;
        };
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let Some(response) = self.sasl_response(initial, "").await? else { return Ok(()) };
                sasl::decode_response(&response).and_then(|d| sasl::parse_plain(&d))
            }
            "LOGIN" => {
                let Some(user) = self.sasl_response(initial, &sasl::encode_challenge("Username:")).await? else {
                    return Ok(());
                };
                let Some(password) = self.sasl_response(None, &sasl::encode_challenge("Password:")).await? else {
                    return Ok(());
                };
                let field = |r: &str| sasl::decode_response(r).and_then(sasl::parse_login_field);
                field(&user).and_then(|user| Ok(Credentials { user, password: field(&password)? }))
            }
            _ => return self.bad("unsupported mechanism (PLAIN or LOGIN)").await,
        };
        match credentials {
            Ok(c) => self.login(c).await,
            Err(e) => self.bad(&format!("invalid SASL response: {e}")).await,
        }
    }

    /// The initial response, or one read after a `+ challenge`; None when
    /// the client cancelled ("*") or went away (already answered).
    async fn sasl_response(&mut self, initial: Option<String>, challenge: &str) -> std::io::Result<Option<String>> {
        if let Some(r) = initial {
            return Ok(Some(r));
        }
        self.write(format!("+ {challenge}\r\n").as_bytes()).await?;
        let line = match self.read_line(16 * 1024).await? {
            Some(LineRead::Line { text, .. }) => String::from_utf8_lossy(&text).trim().to_string(),
            _ => return Ok(None),
        };
        if line == "*" {
            self.bad("authentication cancelled").await?;
            return Ok(None);
        }
        Ok(Some(line))
    }

    async fn login(&mut self, c: Credentials) -> std::io::Result<()> {
        let account = match crate::login::authenticate(&self.ctx.store, &c.user, &c.password).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                tracing::warn!(target: "pop3", login = ?c.user, "{}: login failed", self.peer.ip());
                self.errors += 1;
                return self.err("[AUTH] Authentication failed").await;
            }
            Err(e) => return self.temp_failure(e).await,
        };
        let lock = match self.ctx.store.lock_maildrop(account.id).await {
            Ok(Some(lock)) => lock,
            Ok(None) => return self.err("[IN-USE] Mailbox is locked by another POP3 session").await,
            Err(e) => return self.temp_failure(e).await,
        };
        match self.open_maildrop(account, lock).await {
            Ok(drop) => {
                let (count, size) = drop.totals();
                tracing::info!(target: "pop3", "{}: {} logged in, {count} message(s)", self.peer.ip(), drop.account.address());
                self.state = State::Transaction(Box::new(drop));
                self.ok(&format!("Logged in, {count} messages ({size} octets)")).await
            }
            Err(e) => self.temp_failure(e).await,
        }
    }

    async fn open_maildrop(&self, account: Account, lock: MaildropLock) -> Result<Maildrop, StoreError> {
        let (folder, dir, letters) = self.ctx.store.open_inbox(&account).await?;
        let entries = letters
            .into_iter()
            .filter(|l| l.flags & flags::DELETED == 0)
            .map(|l| Entry { id: l.id, fid: l.fid, size: l.size, deleted: false, retrieved: false })
            .collect();
        Ok(Maildrop { account, folder, dir, entries, _lock: lock })
    }

    fn maildrop(&mut self) -> &mut Maildrop {
        match &mut self.state {
            State::Transaction(m) => m,
            State::Authorization { .. } => unreachable!("dispatch checks the state"),
        }
    }

    async fn stat(&mut self) -> std::io::Result<()> {
        let (count, size) = self.maildrop().totals();
        self.ok(&format!("{count} {size}")).await
    }

    async fn list(&mut self, n: Option<u32>, uidl: bool) -> std::io::Result<()> {
        let item = |i: usize, e: &Entry| if uidl { format!("{} {}", i + 1, e.fid) } else { format!("{} {}", i + 1, e.size) };
        if let Some(n) = n {
            let line = self.maildrop().entry(n).map(|(i, e)| item(i, e));
            return match line {
                Some(line) => self.ok(&line).await,
                None => self.err("no such message").await,
            };
        }
        let lines: Vec<String> =
            self.maildrop().entries.iter().enumerate().filter(|(_, e)| !e.deleted).map(|(i, e)| item(i, e)).collect();
        self.ok("").await?;
        let mut text = String::new();
        for l in lines {
            text.push_str(&l);
            text.push_str("\r\n");
        }
        text.push_str(".\r\n");
        self.write(text.as_bytes()).await
    }

    /// RETR (whole message) or TOP (headers and `lines` body lines),
    /// streamed from the letter file with dot-stuffing.
    async fn retrieve(&mut self, n: u32, lines: Option<u32>) -> std::io::Result<()> {
        let found = self.maildrop().entry(n).map(|(i, e)| (i, e.fid.clone(), e.size));
        let Some((index, fid, size)) = found else {
            return self.err("no such message").await;
        };
        let dir = self.maildrop().dir.clone();
        let path = match self.ctx.store.fetch_letter(&dir, &fid).await {
            Ok(path) => path,
            Err(e) => {
                tracing::error!(target: "pop3", "cannot fetch letter {fid}: {e}");
                return self.err("[SYS/TEMP] message unavailable").await;
            }
        };
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(target: "pop3", "cannot open letter {}: {e}", path.display());
                return self.err("[SYS/TEMP] message unavailable").await;
            }
        };
        self.ok(&format!("{size} octets")).await?;
        self.send_message(file, lines).await?;
        if lines.is_none() {
            self.maildrop().entries[index].retrieved = true;
        }
        Ok(())
    }

    async fn send_message(&mut self, file: tokio::fs::File, lines: Option<u32>) -> std::io::Result<()> {
        let mut reader = BufReader::new(file);
        let mut stuffer = DotStuffer::default();
        let mut cut = lines.map(TopCut::new);
        let mut out = Vec::with_capacity(CHUNK + 1024);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let (take, done) = match cut.as_mut() {
                Some(c) => c.feed(&buf[..n]),
                None => (n, false),
            };
            stuffer.feed(&buf[..take], &mut out);
            self.write(&out).await?;
            out.clear();
            if done {
                break;
            }
        }
        stuffer.finish(&mut out);
        out.extend_from_slice(b".\r\n");
        self.write(&out).await
    }

    async fn delete(&mut self, n: u32) -> std::io::Result<()> {
        match self.maildrop().entry(n).map(|(i, _)| i) {
            Some(i) => {
                self.maildrop().entries[i].deleted = true;
                self.ok(&format!("message {n} deleted")).await
            }
            None => self.err("no such message").await,
        }
    }

    async fn rset(&mut self) -> std::io::Result<()> {
        let drop = self.maildrop();
        drop.entries.iter_mut().for_each(|e| e.deleted = false);
        let (count, size) = drop.totals();
        self.ok(&format!("maildrop has {count} messages ({size} octets)")).await
    }

    /// QUIT in TRANSACTION: remove what was deleted and mark what was read
    /// as seen, in one transaction; files go after the commit.
    async fn update(&mut self) -> std::io::Result<Next> {
        let drop = self.maildrop();
        let deleted: Vec<i64> = drop.entries.iter().filter(|e| e.deleted).map(|e| e.id).collect();
        let seen: Vec<i64> = drop.entries.iter().filter(|e| e.retrieved && !e.deleted).map(|e| e.id).collect();
        let (folder, dir) = (drop.folder, drop.dir.clone());
        let count = deleted.len();
        match self.ctx.store.close_maildrop(folder, dir, seen, deleted).await {
            Ok(()) => {
                self.ok(&format!("{} closing connection ({count} messages deleted)", self.ctx.server_name)).await?;
            }
            Err(e) => {
                tracing::error!(target: "pop3", "UPDATE failed: {e}");
                self.err("[SYS/TEMP] some deleted messages not removed").await?;
            }
        }
        Ok(Next::Close)
    }

    async fn temp_failure(&mut self, e: StoreError) -> std::io::Result<()> {
        // `Busy` (the password checks' queue is full) is logged by login.rs.
        if !matches!(e, StoreError::Busy(_)) {
            tracing::error!(target: "pop3", "store error: {e}");
        }
        self.err("[SYS/TEMP] temporary failure, try again later").await
    }

    async fn read_line(&mut self, max: usize) -> std::io::Result<Option<LineRead>> {
        // A held-back response must reach a client we now wait for (SASL).
        self.release_capture().await?;
        self.io.get_mut().flush().await?;
        let timeout = if matches!(self.state, State::Authorization { .. }) { self.ctx.pre_login_timeout } else { self.ctx.timeout };
        match tokio::time::timeout(timeout, lineio::read_line(&mut self.io, max)).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn bad(&mut self, why: &str) -> std::io::Result<()> {
        self.errors += 1;
        self.err(why).await
    }

    pub(super) async fn ok(&mut self, text: &str) -> std::io::Result<()> {
        let line = if text.is_empty() { "+OK".to_string() } else { format!("+OK {text}") };
        self.status_line(line).await
    }

    pub(super) async fn err(&mut self, text: &str) -> std::io::Result<()> {
        self.status_line(format!("-ERR {text}")).await
    }

    async fn status_line(&mut self, line: String) -> std::io::Result<()> {
        self.status_at = self.capture.as_ref().map(Vec::len);
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.status = Some(line);
        Ok(())
    }

    /// Buffered write (held back while capturing); `read_line` flushes
    /// before waiting for the client.
    pub(super) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(held) = self.capture.as_mut() {
            if held.len() + bytes.len() <= CAPTURE_MAX {
                held.extend_from_slice(bytes);
                return Ok(());
            }
            self.release_capture().await?;
        }
        self.io.get_mut().write_all(bytes).await
    }

    /// Hold back the response of a command whose after-hooks may replace it.
    fn begin_capture(&mut self, verb: &str) {
        self.status = None;
        self.status_at = None;
        if self.wants(When::After, verb) {
            self.capture = Some(Vec::new());
        }
    }

    /// Write out what was held back; it can no longer be replaced.
    pub(super) async fn release_capture(&mut self) -> std::io::Result<()> {
        self.status_at = None;
        match self.capture.take() {
            Some(held) if !held.is_empty() => self.io.get_mut().write_all(&held).await,
            _ => Ok(()),
        }
    }

    /// Take the status line (and what followed it) out of the held-back
    /// response; false when it was already sent.
    pub(super) fn take_back_status(&mut self) -> bool {
        match (self.status_at.take(), self.capture.as_mut()) {
            (Some(at), Some(held)) => {
                held.truncate(at);
                true
            }
            _ => false,
        }
    }
}

impl Maildrop {
    /// Message `n` (1-based) unless it is deleted.
    fn entry(&self, n: u32) -> Option<(usize, &Entry)> {
        let i = (n as usize).checked_sub(1)?;
        self.entries.get(i).filter(|e| !e.deleted).map(|e| (i, e))
    }

    fn totals(&self) -> (usize, i64) {
        let live = self.entries.iter().filter(|e| !e.deleted);
        live.fold((0, 0), |(n, s), e| (n + 1, s + e.size))
    }
}

/// Where TOP stops: the header, the blank line, then `lines` body lines.
struct TopCut {
    lines_left: u32,
    in_body: bool,
    line_start: bool,
    blank_line: bool,
}

impl TopCut {
    fn new(lines: u32) -> TopCut {
        TopCut { lines_left: lines, in_body: false, line_start: true, blank_line: true }
    }

    /// How much of `input` to send, and whether that is the end.
    fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            if self.in_body && self.line_start && self.lines_left == 0 {
                return (i, true);
            }
            if b == b'\n' {
                if self.in_body {
                    self.lines_left = self.lines_left.saturating_sub(1);
                } else if self.blank_line {
                    self.in_body = true;
                }
                self.line_start = true;
                self.blank_line = true;
            } else {
                if b != b'\r' {
                    self.blank_line = false;
                }
                self.line_start = false;
            }
        }
        let done = self.in_body && self.line_start && self.lines_left == 0;
        (input.len(), done)
    }
}

#[cfg(test)]
mod tests {
    use super::TopCut;

    fn top(message: &[u8], lines: u32, chunk: usize) -> Vec<u8> {
        let mut cut = TopCut::new(lines);
        let mut out = Vec::new();
        for piece in message.chunks(chunk) {
            let (take, done) = cut.feed(piece);
            out.extend_from_slice(&piece[..take]);
            if done {
                break;
            }
        }
        out
    }

    #[test]
    fn top_keeps_the_header_and_n_body_lines() {
        let m = b"Subject: x\r\nFrom: y\r\n\r\none\r\ntwo\r\nthree\r\n";
        for chunk in [1, 3, 100] {
            assert_eq!(top(m, 0, chunk), b"Subject: x\r\nFrom: y\r\n\r\n");
            assert_eq!(top(m, 2, chunk), b"Subject: x\r\nFrom: y\r\n\r\none\r\ntwo\r\n");
            assert_eq!(top(m, 10, chunk), m.to_vec());
        }
        assert_eq!(top(b"A: b\n\nx\ny\n", 1, 2), b"A: b\n\nx\n");
    }
}
