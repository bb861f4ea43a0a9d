//! Receiving a message: DATA (dot-terminated, RFC 5321 §4.1.1.4) and BDAT
//! chunks (RFC 3030), both streamed straight into a spool file.
//!
//! The durability rule lives here: the file is fsync'd with its folder
//! entry, then its queue rows are committed, and only then does the client
//! get `250`. A refused, oversized or interrupted message leaves no file.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::address::ReversePath;
use super::command::{Body, MailParams};
use super::data::{DataReader, Feed};
use super::session::{Next, Session, Transaction};
use crate::hooks::{MessageFacts, Verdict};
use crate::store::spool;

use std::sync::Arc;

/// What the message hooks decided.
enum MessageVerdict {
    /// Store it (the spool file to commit), with the hooks' 2xx text if any.
    Store(Box<SpoolFile>, Option<String>, Decided),
    Refused(Verdict),
}

/// Recipients a tenant's hook refused (recipient, reply such as `550 5.7.1
/// text`): queued with that decision, settled by the mailman (see
/// `queue::enqueue_decided`).
type Decided = Vec<(String, String)>;

/// A message being streamed into its spool file. Dropped unfinished (a
/// refused message, a broken connection), it removes its file.
pub(super) struct SpoolFile {
    fid: String,
    file: tokio::fs::File,
    storage: PathBuf,
    kept: bool,
    /// Bytes written so far.
    size: u64,
    /// Header fields the message hooks added, put in front of the content
    /// when the file is finished.
    top: Vec<u8>,
}

impl SpoolFile {
    async fn create(storage: &Path, header: &[u8]) -> std::io::Result<SpoolFile> {
        let dir = storage.to_path_buf();
        let (fid, file) = tokio::task::spawn_blocking(move || spool::create_spool(&dir)).await??;
        let mut spool = SpoolFile { fid, file: tokio::fs::File::from_std(file), storage: storage.to_path_buf(), kept: false, size: 0, top: Vec::new() };
        spool.write(header).await?;
        Ok(spool)
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(bytes).await?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Have `top` put in front of the content when the file is finished.
    fn put_on_top(&mut self, top: &[u8]) {
        self.top.extend_from_slice(top);
    }

    /// Put the added header fields in front (`spool::prepend_in_place`: in
    /// the same file, since creating and unlinking a second spool file per
    /// message cost more kernel time than the hook that asked for it), then
    /// fsync the file and its folder entry, all in one blocking step; the
    /// file then outlives `self` unless the caller removes it. A crash
    /// midway leaves only an unqueued spool file, as one during DATA does.
    async fn finish(&mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        let (path, dir, len) = (spool::spool_path(&self.storage, &self.fid), self.storage.clone(), self.size);
        let top = std::mem::take(&mut self.top);
        let added = top.len() as u64;
        tokio::task::spawn_blocking(move || {
            // A second descriptor: fsync covers the file whichever wrote it.
            let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
            if !top.is_empty() {
                spool::prepend_in_place(&file, len, &top)?;
            }
            file.sync_all()?;
            spool::sync_dir(&dir)
        })
        .await??;
        self.size = len + added;
        self.kept = true;
        Ok(())
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if !self.kept {
            spool::remove_spool(&self.storage, &self.fid);
        }
    }
}

/// BDAT state of a transaction: the spool file so far (None once a write
/// failed or the size limit was passed: the rest is read and thrown away).
pub(super) struct Chunking {
    spool: Option<SpoolFile>,
    received: u64,
    too_big: bool,
}

impl Session {
    pub(super) async fn data(&mut self) -> std::io::Result<Next> {
        let Some(tx) = self.tx.as_ref() else {
            self.error(503, "5.5.1", "Send MAIL first").await?;
            return Ok(Next::Continue);
        };
        if tx.chunking.is_some() {
            self.error(503, "5.5.1", "DATA after BDAT; finish with BDAT LAST").await?;
            return Ok(Next::Continue);
        }
        if tx.rcpts.is_empty() {
            self.error(554, "5.5.1", "No valid recipients").await?;
            return Ok(Next::Continue);
        }
        let received = self.received_header(tx);
        self.reply(354, "", "Start mail input; end with <CRLF>.<CRLF>").await?;
        self.flush_if_idle().await?; // the client may start sending while the file is created
        let mut spool = self.create_spool(&received).await;
        let mut reader = DataReader::new(self.ctx.max_size);
        let mut chunk = Vec::new();
        let complete = loop {
            self.flush_if_idle().await?;
            let buf = match tokio::time::timeout(self.ctx.data_timeout, self.io.fill_buf()).await {
                Ok(Ok(buf)) if !buf.is_empty() => buf,
                _ => break false,
            };
            let (used, done) = match reader.feed(buf, &mut chunk) {
                Feed::NeedMore => (buf.len(), false),
                Feed::Done { consumed } => (consumed, true),
            };
            self.io.consume(used);
            write_or_drop(&mut spool, &chunk).await;
            chunk.clear();
            if done {
                break true;
            }
        };
        let tx = self.tx.take().expect("checked above");
        if !complete {
            // Timeout, error or disconnect mid-message: nothing was acknowledged.
            self.reply(421, "4.4.2", "Timeout or error while receiving data, closing connection").await.ok();
            return Ok(Next::Close);
        }
        if reader.bare_lf_end() {
            // A bare LF around the end marker is how SMTP smuggling hides a
            // second message (CVE-2023-51764): refuse, and read no further.
            tracing::warn!(target: "smtp", "{}: bare LF at the end of DATA; message refused, connection closed", self.peer.ip());
            self.reply(554, "5.5.2", "Bare LF in the end-of-data sequence; message refused").await?;
            return Ok(Next::Close);
        }
        if reader.too_big() {
            self.too_big().await?;
            return Ok(Next::Continue);
        }
        self.accept_message(&tx, spool).await
    }

    /// One BDAT chunk. Its bytes are always read, even when the command is
    /// refused, so the session stays in step with the client.
    pub(super) async fn bdat(&mut self, size: u64, last: bool) -> std::io::Result<Next> {
        let refusal = match self.tx.as_ref() {
            None => Some((503, "5.5.1", "Send MAIL first")),
            Some(tx) if tx.rcpts.is_empty() => Some((554, "5.5.1", "No valid recipients")),
            Some(_) => None,
        };
        if let Some((code, status, text)) = refusal {
            if !self.read_chunk(size, None).await? {
                return Ok(Next::Close);
            }
            self.error(code, status, text).await?;
            return Ok(Next::Continue);
        }
        if self.tx.as_ref().is_some_and(|tx| tx.chunking.is_none()) {
            let received = self.received_header(self.tx.as_ref().expect("checked"));
            let spool = self.create_spool(&received).await;
            self.tx.as_mut().expect("checked").chunking = Some(Chunking { spool, received: 0, too_big: false });
        }
        let mut chunking = self.tx.as_mut().and_then(|tx| tx.chunking.take()).expect("set above");
        chunking.received = chunking.received.saturating_add(size);
        let max = self.ctx.max_size;
        if max > 0 && chunking.received > max {
            chunking.too_big = true;
            chunking.spool = None;
        }
        if !self.read_chunk(size, chunking.spool.as_mut()).await? {
            self.tx = None;
            return Ok(Next::Close);
        }
        if chunking.too_big {
            // RFC 3030 §3: after an error the client sends no more chunks.
            self.tx = None;
            self.too_big().await?;
            return Ok(Next::Continue);
        }
        if !last {
            let text = format!("{size} octets received");
            self.tx.as_mut().expect("still open").chunking = Some(chunking);
            self.reply(250, "2.0.0", &text).await?;
            return Ok(Next::Continue);
        }
        let tx = self.tx.take().expect("still open");
        self.accept_message(&tx, chunking.spool.take()).await
    }

    /// Read exactly `size` bytes into `spool` (or nowhere); false if the
    /// client went away or stalled first.
    pub(super) async fn read_chunk(&mut self, size: u64, mut spool: Option<&mut SpoolFile>) -> std::io::Result<bool> {
        let mut left = size;
        while left > 0 {
            self.flush_if_idle().await?;
            let buf = match tokio::time::timeout(self.ctx.data_timeout, self.io.fill_buf()).await {
                Ok(Ok(buf)) if !buf.is_empty() => buf,
                _ => return Ok(false),
            };
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if let Some(f) = spool.as_deref_mut()
                && let Err(e) = f.write(&buf[..n]).await
            {
                tracing::error!(target: "smtp", "writing spool file {}: {e}", f.fid);
                spool = None; // the message is refused at the end
            }
            self.io.consume(n);
            left -= n as u64;
        }
        Ok(true)
    }

    async fn create_spool(&self, header: &str) -> Option<SpoolFile> {
        match SpoolFile::create(&self.ctx.storage, header.as_bytes()).await {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(target: "smtp", "cannot create a spool file: {e}");
                None // read the message anyway, to stay in step, then refuse it
            }
        }
    }

    async fn too_big(&mut self) -> std::io::Result<()> {
        self.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let max = self.ctx.max_size;
        self.reply(552, "5.3.4", &format!("Message size exceeds fixed limit of {max} bytes")).await
    }

    async fn accept_message(&mut self, tx: &Transaction, spool: Option<SpoolFile>) -> std::io::Result<Next> {
        let Some(spool) = spool else {
            self.reply(451, "4.3.0", "Local error in processing, try again later").await?;
            return Ok(Next::Continue);
        };
        let (spool, reply, decided) = match self.message_hooks(spool, tx).await {
            Ok(MessageVerdict::Store(spool, reply, decided)) => (*spool, reply, decided),
            Ok(MessageVerdict::Refused(verdict)) => return self.answer(verdict).await,
            Err(e) => {
                tracing::error!(target: "smtp", "could not write the spool file of a message from {}: {e}", self.peer.ip());
                self.reply(451, "4.3.0", "Local error in processing, try again later").await?;
                return Ok(Next::Continue);
            }
        };
        match self.commit_message(tx, spool, decided).await {
            Ok(fid) => match reply {
                Some(text) if super::hooks::has_enhanced_code(text.trim()) => self.reply(250, "", text.trim()).await?,
                Some(text) => self.reply(250, "2.0.0", text.trim()).await?,
                None => self.reply(250, "2.0.0", &format!("OK queued as {fid}")).await?,
            },
            Err(e) => {
                tracing::error!(target: "smtp", "could not store a message from {}: {e}", self.peer.ip());
                self.reply(451, "4.3.0", "Local error in processing, try again later").await?;
            }
        }
        Ok(Next::Continue)
    }

    /// Run the `message` hooks on the received message. Headers they add
    /// are put on top of the spool file's content; a refusal
    /// drops the message.
    async fn message_hooks(&mut self, mut spool: SpoolFile, tx: &Transaction) -> std::io::Result<MessageVerdict> {
        spool.file.flush().await?;
        let path = spool::spool_path(&spool.storage, &spool.fid);
        let size = spool.size;
        let facts = Arc::new(MessageFacts { path, size, ..MessageFacts::default() });
        let Some(outcome) = self.hook_message(facts.clone(), tx).await else {
            return Ok(MessageVerdict::Store(Box::new(spool), None, Vec::new()));
        };
        self.write_sent(&outcome.sent);
        let reply = match outcome.verdict {
            Verdict::Okay | Verdict::Folder(_) | Verdict::Discard => None,
            // A 2xx keeps the message; the script's text replaces ours.
            Verdict::Reply(r) if r.code < 400 => {
                Some(crate::hooks::one_line(&r.text)).filter(|t| !t.is_empty())
            }
            other => return Ok(MessageVerdict::Refused(other)),
        };
        let refused = std::mem::take(&mut *facts.refused.lock().unwrap_or_else(|e| e.into_inner()));
        if !refused.is_empty() && tx.rcpts.iter().all(|r| refused.iter().any(|(x, _)| x == r)) {
            // Every recipient's tenant refused it: the message is refused.
            return Ok(MessageVerdict::Refused(refused[0].1.clone()));
        }
        let decided: Decided = refused.into_iter().map(|(rcpt, verdict)| (rcpt, decided_reply(verdict))).collect();
        let added = std::mem::take(&mut *facts.added.lock().unwrap_or_else(|e| e.into_inner()));
        if added.is_empty() {
            return Ok(MessageVerdict::Store(Box::new(spool), reply, decided));
        }
        let mut top = String::new();
        for (name, value) in added {
            top.push_str(&format!("{name}: {value}\r\n"));
        }
        spool.put_on_top(top.as_bytes());
        Ok(MessageVerdict::Store(Box::new(spool), reply, decided))
    }

    /// Make the spool file durable, then add its queue rows in one
    /// transaction; only then may the caller say 250.
    async fn commit_message(&self, tx: &Transaction, mut spool: SpoolFile, decided: Decided) -> Result<String, String> {
        spool.finish().await.map_err(|e| format!("spool: {e}"))?;
        let fid = spool.fid.clone();
        let sender = match &tx.from {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(m) => m.to_string(),
        };
        let rows = tx.rcpts.iter().map(|r| (r.clone(), decided.iter().find(|(d, _)| d == r).map(|(_, reply)| reply.clone()))).collect();
        let queued = self.ctx.store.enqueue_decided(&fid, &sender, rows, &params_text(&tx.params)).await;
        if let Err(e) = queued {
            return Err(format!("queue: {e}"));
        }
        self.ctx.queued.notify_one();
        tracing::info!(target: "smtp", "queued {fid} from {} for {} recipient(s)", self.peer.ip(), tx.rcpts.len());
        Ok(fid)
    }

    /// RFC 5321 §4.4, with RFC 3848's protocol names for TLS and AUTH.
    fn received_header(&self, tx: &Transaction) -> String {
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let with = match (self.esmtp, self.tls, self.auth.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        };
        let id = spool::new_fid();
        let for_clause = match tx.rcpts.as_slice() {
            [one] => format!("\r\n\tfor <{one}>"),
            _ => String::new(),
        };
        // Like Postfix: which TLS protected the hop, as a comment.
        let tls_clause = match crate::stream::tls_summary(self.io.get_ref()) {
            Some(summary) => format!("\r\n\t(using {summary})"),
            None => String::new(),
        };
        format!(
            "Received: from {helo} ([{}]){tls_clause}\r\n\tby {} (Rumble) with {with} id {id}{for_clause};\r\n\t{}\r\n",
            self.peer.ip(),
            self.ctx.server_name,
            rfc5322_now()
        )
    }
}

/// A tenant's refusal of its recipients, as the reply the mailman settles
/// their rows with: 5xx bounces; 4xx, a failure or a failed hook wait for
/// the next try (when they are delivered as usual, deliver hooks and all).
fn decided_reply(verdict: Verdict) -> String {
    match verdict {
        Verdict::Reply(r) => {
            let text = crate::hooks::one_line(&r.text);
            if text.is_empty() { format!("{} refused by a message hook", r.code) } else { format!("{} {text}", r.code) }
        }
        _ => "451 4.3.0 a message hook failed".to_string(),
    }
}

async fn write_or_drop(spool: &mut Option<SpoolFile>, bytes: &[u8]) {
    if let Some(f) = spool.as_mut()
        && let Err(e) = f.write(bytes).await
    {
        tracing::error!(target: "smtp", "writing spool file {}: {e}", f.fid);
        *spool = None;
    }
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

pub(crate) fn rfc5322_now() -> String {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::now_utc().format(f).unwrap_or_default()
}
