//! The hook points protocols offer to scripts, in the protocols' own terms.
//!
//! Protocols call a [`HookSink`] at each point (accept, before and after
//! every command, a received message, close) and act on the [`Verdict`];
//! the plugin runtime implements the sink (`plugins::hooks`). Protocols
//! never see scripts, instances or WIT: only this vocabulary.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use crate::lineio::{LineRead, read_line};
use crate::stream::BoxStream;

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// A connection was accepted, before the greeting.
    Accept,
    /// Before a command runs.
    Command,
    /// Once the server has decided a command's reply.
    After,
    /// SMTP: the whole message was received, before its `250`.
    Message,
    /// The mailman: a message is about to be stored for a local recipient.
    Deliver,
    /// The connection ended.
    Close,
}

impl When {

    pub fn parse(name: &str) -> Option<When> {
        Some(match name {
            "accept" => When::Accept,
            "command" => When::Command,
            "after" => When::After,
            "message" => When::Message,
            "deliver" => When::Deliver,
            "close" => When::Close,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            When::Accept => "accept",
            When::Command => "command",
            When::After => "after",
            When::Message => "message",
            When::Deliver => "deliver",
            When::Close => "close",
        }
    }

    /// Points that take a verb (`command`, `after`).
    pub fn takes_verb(self) -> bool {
        matches!(self, When::Command | When::After)
    }
}

/// The protocols hooks fire on, with their services (listener names) and
/// the verbs a `command`/`after` hook may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Smtp,
    Pop3,
    Imap,
    /// The delivery queue: `deliver` hooks.
    Mailman,
}

/// The verb of a line that does not parse.
pub const UNKNOWN_VERB: &str = "unknown";

impl Protocol {
    /// Which protocol a service name belongs to.
    pub fn of_service(service: &str) -> Option<Protocol> {
        Some(match service {
            "smtp" | "submission" | "smtps" => Protocol::Smtp,
            "pop3" | "pop3s" => Protocol::Pop3,
            "imap4" | "imaps" => Protocol::Imap,
            "mailman" => Protocol::Mailman,
            _ => return None,
        })
    }

    pub const SERVICES: &'static str = "smtp, submission, smtps, pop3, pop3s, imap4, imaps, mailman";

    /// Every verb of the protocol, lower-case; `unknown` is a line that
    /// does not parse.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Protocol::Smtp => &[
                "helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "expn",
                "help", "quit", UNKNOWN_VERB,
            ],
            Protocol::Pop3 => &[
                "capa", "stls", "user", "pass", "auth", "apop", "stat", "list", "retr", "dele", "noop", "rset", "top",
                "uidl", "quit", UNKNOWN_VERB,
            ],
            Protocol::Imap => &[
                "capability", "noop", "logout", "starttls", "authenticate", "login", "select", "examine", "create",
                "delete", "rename", "subscribe", "unsubscribe", "list", "lsub", "status", "append", "check", "close",
                "expunge", "search", "fetch", "store", "copy", "move", "uid", "idle", "namespace", "enable", "id",
                "unselect", UNKNOWN_VERB,
            ],
            Protocol::Mailman => &[],
        }
    }

    /// A command line's verb (lower-case; `unknown` when it is none of
    /// this protocol's) and the text after it: for `unknown` the whole
    /// line, so a script can serve a command of its own.
    pub fn split_line(self, line: &[u8]) -> (String, String) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        self.verb_and_args(word, rest, text)
    }

    /// The verb `word` names and its arguments (`line` for `unknown`).
    pub fn verb_and_args(self, word: &str, rest: &str, line: &str) -> (String, String) {
        let word = word.to_ascii_lowercase();
        if self.verbs().contains(&word.as_str()) {
            (word, rest.to_string())
        } else {
            (UNKNOWN_VERB.to_string(), line.to_string())
        }
    }

    /// Which points this protocol fires.
    pub fn fires(self, when: When) -> bool {
        match self {
            Protocol::Mailman => when == When::Deliver,
            Protocol::Smtp => when != When::Deliver,
            Protocol::Pop3 | Protocol::Imap => !matches!(when, When::Message | When::Deliver),
        }
    }
}

/// What a hook sees of the connection.
#[derive(Clone, Debug, Default)]
pub struct SessionFacts {
    pub address: String,
    /// "IPv4" or "IPv6", as Rumble.
    pub protocol: &'static str,
    pub port: u16,
    pub local_port: u16,
    /// The listener's service name (`smtp`, `submission`, `imaps`, ...).
    pub service: Arc<str>,
    pub tls: bool,
    pub helo: Option<String>,
    /// The authenticated address, after login.
    pub user: Option<String>,
    /// SMTP: the envelope sender of the open transaction (`""` for `<>`).
    pub sender: Option<String>,
    /// SMTP: the recipients accepted so far.
    pub recipients: Vec<String>,
}

impl SessionFacts {
    pub fn new(peer: std::net::SocketAddr, local_port: u16, service: Arc<str>, tls: bool) -> SessionFacts {
        let ip = peer.ip().to_canonical();
        SessionFacts {
            address: ip.to_string(),
            protocol: if ip.is_ipv6() { "IPv6" } else { "IPv4" },
            port: peer.port(),
            local_port,
            service,
            tls,
            ..SessionFacts::default()
        }
    }
}

/// What a `command` or `after` hook sees of the command.
#[derive(Clone, Debug, Default)]
pub struct CommandFacts {
    /// Lower-case verb, `unknown` for a line that does not parse.
    pub verb: String,
    /// The raw text after the verb.
    pub args: String,
    /// MAIL/RCPT: the address without `<>`.
    pub address: Option<String>,
    /// MAIL/RCPT: ESMTP parameters (name upper-case, value or "").
    pub params: Vec<(String, String)>,
    /// IMAP: the mailbox a command names.
    pub mailbox: Option<String>,
    /// IMAP: the command's tag (a script answering itself needs it).
    pub tag: Option<String>,
    /// `after` hooks: the reply decided.
    pub reply: Option<Reply>,
}

/// A protocol reply: SMTP's code and text; POP3 and IMAP map the code to
/// their own words (2xx/3xx `+OK`/`OK`, 4xx/5xx `-ERR`/`NO`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// A script's reply text as one line: control characters (CR, LF, ...)
/// dropped, at most 400 characters, trimmed.
pub fn one_line(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(400).collect();
    text.trim().to_string()
}

/// A message, for `message` and `deliver` hooks.
#[derive(Debug, Default)]
pub struct MessageFacts {
    /// The message as it will be stored (our Received header first).
    pub path: PathBuf,
    pub size: u64,
    /// Headers hooks added, prepended when the message is stored.
    pub added: Mutex<Vec<(String, String)>>,
    /// `deliver` hooks: the local recipient and its account id.
    pub delivery: Option<(String, i64)>,
    /// `deliver` hooks: flags and keywords the letter gets.
    pub flags: Mutex<Vec<String>>,
    /// `message` hooks: recipients a tenant's hook refused when the message
    /// also goes to other domains (a tenant cannot refuse it for them).
    pub refused: Mutex<Vec<(String, Verdict)>>,
}

/// How the hooks of one point answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on as if no hook ran.
    Okay,
    /// Close the connection with the protocol's closing reply.
    Failure,
    /// A script answered with `session:send`; skip the command, say nothing.
    Ignore,
    /// Answer with this and skip the command.
    Reply(Reply),
    /// A hook failed and its script says `onerror tempfail`: the protocol's
    /// temporary failure (SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP], IMAP NO [UNAVAILABLE]).
    TempFail,
    /// `deliver` hooks: store the letter in this folder.
    Folder(String),
    /// `deliver` hooks: do not store the letter (the row completes).
    Discard,
}

/// The answer of a hook point: the verdict, and what scripts sent to the
/// client with `session:send` (written first).
#[derive(Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    pub sent: Vec<u8>,
}

impl Outcome {
    pub fn okay() -> Outcome {
        Outcome { verdict: Verdict::Okay, sent: Vec::new() }
    }
}

/// Values `session:set` keeps with one connection, shared by every hook
/// of it whichever instance runs them. Bounded: a script cannot make a
/// connection hold much.
#[derive(Debug, Default)]
pub struct Notes {
    values: HashMap<String, NoteValue>,
    bytes: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NoteValue {
    Text(Vec<u8>),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl NoteValue {
    fn size(&self) -> usize {
        match self {
            NoteValue::Text(t) => t.len(),
            _ => 8,
        }
    }
}

impl Notes {
    /// Keys and values of one connection together.
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn get(&self, key: &str) -> Option<NoteValue> {
        self.values.get(key).cloned()
    }

    /// Set (or with `None` remove) a value; refused past [`Notes::MAX_BYTES`].
    pub fn set(&mut self, key: &str, value: Option<NoteValue>) -> Result<(), String> {
        let old = self.values.get(key).map_or(0, |v| key.len() + v.size());
        let new = value.as_ref().map_or(0, |v| key.len() + v.size());
        let total = self.bytes - old + new;
        if total > Self::MAX_BYTES {
            return Err(format!("session values are limited to {} bytes per connection", Self::MAX_BYTES));
        }
        self.bytes = total;
        match value {
            Some(v) => self.values.insert(key.to_string(), v),
            None => self.values.remove(key),
        };
        Ok(())
    }
}

/// The client's connection, lent to hooks for `session:receive` while
/// they run. The sink bounds how long and how much they read.
pub struct HookIo<'a> {
    pub stream: &'a mut BufReader<BoxStream>,
    /// The protocol's output not yet written (pipelined replies, a reply
    /// held for after-hooks): it goes out before the client is read, or the
    /// client would wait for it while the hook waits for the client.
    pub unsent: &'a mut Vec<u8>,
    /// Set once a hook wrote to the client: a held reply is gone and can
    /// no longer be replaced.
    pub wrote: &'a mut bool,
}

impl<'a> HookIo<'a> {
    pub fn new(stream: &'a mut BufReader<BoxStream>, unsent: &'a mut Vec<u8>, wrote: &'a mut bool) -> HookIo<'a> {
        HookIo { stream, unsent, wrote }
    }

    /// Write the unsent output, then `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.unsent.is_empty() && bytes.is_empty() {
            return Ok(());
        }
        *self.wrote = true;
        let unsent = std::mem::take(self.unsent);
        let w = self.stream.get_mut();
        w.write_all(&unsent).await?;
        w.write_all(bytes).await?;
        w.flush().await
    }

    /// One line of at most `max` bytes (ending included).
    pub async fn read_line(&mut self, max: usize) -> std::io::Result<LineRead> {
        read_line(self.stream, max).await
    }

    /// What is available, at most `max` bytes; empty at end of stream.
    pub async fn read_some(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let n = self.stream.read(&mut buf).await?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// One hook point being fired.
pub struct HookCall<'a> {
    pub when: When,
    pub session: &'a SessionFacts,
    pub command: Option<&'a CommandFacts>,
    pub message: Option<Arc<MessageFacts>>,
    pub notes: &'a Arc<Mutex<Notes>>,
    /// The client connection, where a client is there to read from.
    pub io: Option<&'a mut HookIo<'a>>,
}

pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Where protocols send their hook points.
pub trait HookSink: Send + Sync {
    /// Whether any hook would run here: protocols skip building facts
    /// when none would.
    fn wants(&self, service: &str, when: When, verb: &str) -> bool;
    /// Run the hooks of this point in order; the first answer other than
    /// `Okay` ends the chain.
    fn run<'a>(&'a self, call: HookCall<'a>) -> HookFuture<'a>;
}

/// No hooks at all (tests, and servers with no scripts).
pub struct NoHooks;

impl HookSink for NoHooks {
    fn wants(&self, _service: &str, _when: When, _verb: &str) -> bool {
        false
    }

    fn run<'a>(&'a self, _call: HookCall<'a>) -> HookFuture<'a> {
        Box::pin(async { Outcome::okay() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_bounded_and_freed() {
        let mut notes = Notes::default();
        notes.set("a", Some(NoteValue::Text(vec![b'x'; Notes::MAX_BYTES - 1]))).unwrap();
        assert!(notes.set("b", Some(NoteValue::Integer(1))).is_err());
        notes.set("a", None).unwrap();
        notes.set("b", Some(NoteValue::Integer(1))).unwrap();
        assert_eq!(notes.get("b"), Some(NoteValue::Integer(1)));
        assert_eq!(notes.get("a"), None);
    }

    #[test]
    fn verbs_and_points() {
        assert_eq!(Protocol::of_service("smtps"), Some(Protocol::Smtp));
        assert!(Protocol::Imap.verbs().contains(&"uid"));
        assert!(Protocol::Pop3.verbs().contains(&UNKNOWN_VERB));
        assert!(!Protocol::Pop3.fires(When::Message));
        assert_eq!(When::parse("after"), Some(When::After));
        assert_eq!(When::parse("feed"), None);
    }
}
