//! One SMTP session (RFC 5321) on the MX port: greeting, EHLO/HELO, a mail
//! transaction (MAIL, RCPT, DATA), RSET/NOOP/VRFY/HELP/QUIT.
//!
//! What it guarantees: a `250` after DATA is sent only once the message file
//! and its queue rows are durable (see store/spool.rs); recipients are only
//! local addresses that exist (no relaying without authentication, which
//! arrives with STARTTLS/AUTH); the null sender `<>` is accepted; size is
//! enforced on SIZE= and on the bytes actually received; every error has an
//! enhanced status code; a client that sends too many bad commands or stays
//! silent is disconnected.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::address::{ForwardPath, Mailbox, ReversePath};
use super::command::{self, Body, Command, MailParams};
use super::data::{DataReader, Feed};
use crate::lineio::{self, LineRead};
use crate::store::{Store, StoreError, accounts, queue, spool};

/// Server-wide settings every session reads.
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
    /// RFC 5321 §4.5.3.2.5: at least 3 minutes per DATA block.
    pub data_timeout: Duration,
    /// Bad commands tolerated before the session is closed.
    pub max_errors: u32,
}

/// Longest command line read at all (the parser applies RFC limits below it).
const MAX_LINE: usize = 4096;

struct Transaction {
    from: ReversePath,
    params: MailParams,
    rcpts: Vec<String>,
}

pub struct Session<S> {
    io: BufReader<S>,
    ctx: Arc<SmtpContext>,
    peer: SocketAddr,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: u32,
}

enum Next {
    Continue,
    Close,
}

enum Line {
    Text(Vec<u8>),
    TooLong,
    Closed,
    TimedOut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub fn new(stream: S, peer: SocketAddr, ctx: Arc<SmtpContext>) -> Self {
        Session { io: BufReader::new(stream), ctx, peer, helo: None, esmtp: false, tx: None, errors: 0 }
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        let greeting = format!("220 {} ESMTP Rumble ready", self.ctx.server_name);
        self.reply_line(&greeting).await?;
        loop {
            let line = match self.read_line(self.ctx.command_timeout).await? {
                Line::Text(l) => l,
                Line::TooLong => {
                    self.error(500, "5.5.2", "Line too long").await?;
                    continue;
                }
                Line::Closed => return Ok(()),
                Line::TimedOut => {
                    return self.reply(421, "4.4.2", &format!("{} timeout, closing connection", self.ctx.server_name)).await;
                }
            };
            let next = match command::parse(&line, self.utf8_allowed()) {
                Ok(cmd) => self.dispatch(cmd).await?,
                Err(e) => {
                    let (code, status, text) = e.reply();
                    self.error(code, status, &text).await?;
                    Next::Continue
                }
            };
            if matches!(next, Next::Close) || self.errors >= self.ctx.max_errors {
                if self.errors >= self.ctx.max_errors {
                    self.reply(421, "4.7.0", "Too many errors, closing connection").await?;
                }
                return Ok(());
            }
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
        match cmd {
            Command::Ehlo(domain) => self.hello(domain, true).await?,
            Command::Helo(domain) => self.hello(domain, false).await?,
            Command::Mail { from, params } => self.mail(from, params).await?,
            Command::Rcpt { to, .. } => self.rcpt(to).await?,
            Command::Data => return self.data().await,
            Command::Rset => {
                self.tx = None;
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
            Command::Bdat { .. } | Command::StartTls | Command::Auth { .. } => {
                self.error(502, "5.5.1", "Command not implemented").await?;
            }
        }
        Ok(Next::Continue)
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
        lines.extend(["8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"].map(String::from));
        self.multiline(250, &lines).await
    }

    async fn mail(&mut self, from: ReversePath, params: MailParams) -> std::io::Result<()> {
        if self.helo.is_none() {
            return self.error(503, "5.5.1", "Send EHLO or HELO first").await;
        }
        if self.tx.is_some() {
            return self.error(503, "5.5.1", "Nested MAIL command").await;
        }
        if let (Some(size), max) = (params.size, self.ctx.max_size) {
            if max > 0 && size > max {
                return self.reply(552, "5.3.4", &format!("Message size exceeds fixed limit of {max} bytes")).await;
            }
        }
        self.tx = Some(Transaction { from, params, rcpts: Vec::new() });
        self.reply(250, "2.1.0", "Sender OK").await
    }

    async fn rcpt(&mut self, to: ForwardPath) -> std::io::Result<()> {
        let Some(tx) = self.tx.as_ref() else {
            return self.error(503, "5.5.1", "Send MAIL first").await;
        };
        if tx.rcpts.len() >= self.ctx.max_recipients {
            return self.reply(452, "4.5.3", "Too many recipients").await;
        }
        let mailbox = match to {
            ForwardPath::Mailbox(m) => m,
            ForwardPath::Postmaster => Mailbox { local: "postmaster".into(), domain: self.ctx.server_name.clone() },
        };
        match self.local_recipient(&mailbox).await {
            Ok(Some(address)) => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.rcpts.push(address);
                }
                self.reply(250, "2.1.5", "Recipient OK").await
            }
            Ok(None) => self.reply(550, "5.1.1", "No such user here").await,
            Err(RcptRefusal::NotLocal) => self.reply(554, "5.7.1", "Relay access denied").await,
            Err(RcptRefusal::Store(e)) => {
                tracing::error!(target: "smtp", "RCPT lookup failed: {e}");
                self.reply(451, "4.3.0", "Temporary lookup failure, try again later").await
            }
        }
    }

    /// The recipient's address if it is a local account; `NotLocal` if its
    /// domain is not ours (relaying needs authentication).
    async fn local_recipient(&self, m: &Mailbox) -> Result<Option<String>, RcptRefusal> {
        let domain = m.domain_lower();
        let user = m.local.to_lowercase();
        let (d, u) = (domain.clone(), user.clone());
        let found = self
            .ctx
            .store
            .call(move |c| {
                if accounts::find_domain(c, &d)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(accounts::find_account(c, &d, &u)?.is_some()))
            })
            .await
            .map_err(RcptRefusal::Store)?;
        match found {
            None => Err(RcptRefusal::NotLocal),
            Some(true) => Ok(Some(format!("{user}@{domain}"))),
            Some(false) => Ok(None),
        }
    }

    async fn data(&mut self) -> std::io::Result<Next> {
        let Some(tx) = self.tx.as_ref() else {
            self.error(503, "5.5.1", "Send MAIL first").await?;
            return Ok(Next::Continue);
        };
        if tx.rcpts.is_empty() {
            self.error(554, "5.5.1", "No valid recipients").await?;
            return Ok(Next::Continue);
        }
        let received = self.received_header(tx);
        self.reply(354, "", "Start mail input; end with <CRLF>.<CRLF>").await?;
        let mut spool = match SpoolFile::create(&self.ctx.storage, received.as_bytes()).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(target: "smtp", "cannot create a spool file: {e}");
                None // read the message anyway, to stay in step, then refuse it
            }
        };
        let mut reader = DataReader::new(self.ctx.max_size);
        let mut chunk = Vec::new();
        let complete = loop {
            let buf = match tokio::time::timeout(self.ctx.data_timeout, self.io.fill_buf()).await {
                Ok(Ok(buf)) => buf,
                Ok(Err(_)) | Err(_) => break false,
            };
            if buf.is_empty() {
                break false;
            }
            let (used, done) = match reader.feed(buf, &mut chunk) {
                Feed::NeedMore => (buf.len(), false),
                Feed::Done { consumed } => (consumed, true),
            };
            self.io.consume(used);
            if let Some(f) = spool.as_mut() {
                if let Err(e) = f.write(&chunk).await {
                    tracing::error!(target: "smtp", "writing spool file {}: {e}", f.fid);
                    if let Some(f) = spool.take() {
                        f.discard(&self.ctx.storage);
                    }
                }
            }
            chunk.clear();
            if done {
                break true;
            }
        };
        let tx = self.tx.take().expect("checked above");
        let storage = self.ctx.storage.clone();
        let discard = |spool: Option<SpoolFile>| {
            if let Some(f) = spool {
                f.discard(&storage);
            }
        };
        if !complete {
            // Timeout, error or disconnect mid-message: nothing was acknowledged.
            discard(spool);
            self.reply(421, "4.4.2", "Timeout or error while receiving data, closing connection").await.ok();
            return Ok(Next::Close);
        }
        if reader.bare_lf_end() {
            // A bare LF around the end marker is how SMTP smuggling hides a
            // second message (CVE-2023-51764): refuse, and read no further.
            discard(spool);
            tracing::warn!(target: "smtp", "{}: bare LF at the end of DATA; message refused, connection closed", self.peer.ip());
            self.reply(554, "5.5.2", "Bare LF in the end-of-data sequence; message refused").await?;
            return Ok(Next::Close);
        }
        if reader.too_big() {
            discard(spool);
            let max = self.ctx.max_size;
            self.reply(552, "5.3.4", &format!("Message size exceeds fixed limit of {max} bytes")).await?;
            return Ok(Next::Continue);
        }
        let Some(spool) = spool else {
            self.reply(451, "4.3.0", "Local error in processing, try again later").await?;
            return Ok(Next::Continue);
        };
        match self.commit_message(&tx, spool).await {
            Ok(fid) => self.reply(250, "2.0.0", &format!("OK queued as {fid}")).await?,
            Err(e) => {
                tracing::error!(target: "smtp", "could not store a message from {}: {e}", self.peer.ip());
                self.reply(451, "4.3.0", "Local error in processing, try again later").await?;
            }
        }
        Ok(Next::Continue)
    }

    /// Make the spool file durable, then add its queue rows in one
    /// transaction; only then may the caller say 250.
    async fn commit_message(&self, tx: &Transaction, spool: SpoolFile) -> Result<String, String> {
        let fid = spool.fid.clone();
        let storage = self.ctx.storage.clone();
        if let Err(e) = spool.finish(&storage).await {
            spool::remove_spool(&storage, &fid);
            return Err(format!("spool: {e}"));
        }
        let sender = match &tx.from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        let (rcpts, params, f) = (tx.rcpts.clone(), params_text(&tx.params), fid.clone());
        let now = unix_now();
        let queued = self.ctx.store.call(move |c| queue::enqueue(c, &f, &sender, &rcpts, &params, now)).await;
        if let Err(e) = queued {
            spool::remove_spool(&storage, &fid);
            return Err(format!("queue: {e}"));
        }
        tracing::info!(target: "smtp", "queued {fid} from {} for {} recipient(s)", self.peer.ip(), tx.rcpts.len());
        Ok(fid)
    }

    fn received_header(&self, tx: &Transaction) -> String {
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let with = if self.esmtp { "ESMTP" } else { "SMTP" };
        let id = spool::new_fid();
        let for_clause = match tx.rcpts.as_slice() {
            [one] => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        format!(
            "Received: from {helo} ([{}])\r\n\tby {} (Rumble) with {with} id {id}{for_clause};\r\n\t{}\r\n",
            self.peer.ip(),
            self.ctx.server_name,
            rfc5322_now()
        )
    }

    async fn read_line(&mut self, timeout: Duration) -> std::io::Result<Line> {
        match tokio::time::timeout(timeout, lineio::read_line(&mut self.io, MAX_LINE)).await {
            Ok(Ok(LineRead::Line { text, .. })) => Ok(Line::Text(text)),
            Ok(Ok(LineRead::TooLong)) => Ok(Line::TooLong),
            Ok(Ok(LineRead::Closed)) => Ok(Line::Closed),
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(Line::TimedOut),
        }
    }

    async fn error(&mut self, code: u16, status: &str, text: &str) -> std::io::Result<()> {
        self.errors += 1;
        self.reply(code, status, text).await
    }

    async fn reply(&mut self, code: u16, status: &str, text: &str) -> std::io::Result<()> {
        let line = if status.is_empty() { format!("{code} {text}") } else { format!("{code} {status} {text}") };
        self.reply_line(&line).await
    }

    async fn multiline(&mut self, code: u16, lines: &[String]) -> std::io::Result<()> {
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{code}{sep}{l}\r\n"));
        }
        self.io.get_mut().write_all(out.as_bytes()).await?;
        self.io.get_mut().flush().await
    }

    async fn reply_line(&mut self, line: &str) -> std::io::Result<()> {
        let w = self.io.get_mut();
        w.write_all(line.as_bytes()).await?;
        w.write_all(b"\r\n").await?;
        w.flush().await
    }
}

/// A message being streamed into its spool file.
struct SpoolFile {
    fid: String,
    file: tokio::fs::File,
}

impl SpoolFile {
    async fn create(storage: &std::path::Path, header: &[u8]) -> std::io::Result<SpoolFile> {
        let dir = storage.to_path_buf();
        let (fid, file) = tokio::task::spawn_blocking(move || spool::create_spool(&dir)).await??;
        let mut spool = SpoolFile { fid, file: tokio::fs::File::from_std(file) };
        if let Err(e) = spool.write(header).await {
            spool.discard(storage);
            return Err(e);
        }
        Ok(spool)
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() { Ok(()) } else { self.file.write_all(bytes).await }
    }

    /// fsync the file and its folder entry.
    async fn finish(mut self, storage: &std::path::Path) -> std::io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        let dir = storage.to_path_buf();
        tokio::task::spawn_blocking(move || spool::sync_dir(&dir)).await?
    }

    fn discard(self, storage: &std::path::Path) {
        drop(self.file);
        spool::remove_spool(storage, &self.fid);
    }
}

enum RcptRefusal {
    NotLocal,
    Store(StoreError),
}

/// `label.label` with letters, digits and hyphens, or an address literal.
fn looks_fqdn(domain: &str) -> bool {
    if domain.starts_with('[') && domain.ends_with(']') {
        return true;
    }
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

/// The ESMTP parameters kept with the queued message.
fn params_text(p: &MailParams) -> String {
    let mut out = Vec::new();
    if let Some(size) = p.size {
        out.push(format!("SIZE={size}"));
    }
    match p.body {
        Some(Body::EightBitMime) => out.push("BODY=8BITMIME".into()),
        Some(Body::BinaryMime) => out.push("BODY=BINARYMIME".into()),
        Some(Body::SevenBit) => out.push("BODY=7BIT".into()),
        None => {}
    }
    if p.smtputf8 {
        out.push("SMTPUTF8".into());
    }
    if let Some(envid) = &p.envid {
        out.push(format!("ENVID={envid}"));
    }
    out.join(" ")
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc5322_now() -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::now_utc().format(f).unwrap_or_default()
}
