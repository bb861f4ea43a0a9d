//! Hooks on the plugin side: `Rumble.setHook` (the `hooks` WIT import),
//! the resources a hook gets (its connection, the received message), and
//! [`HookRegistry`], the [`HookSink`] protocols fire their points into.
//!
//! Hooks run in LoadScript order (scripts load one after another, and a
//! script registers hooks only while it loads); the first answer other
//! than okay ends the chain. A hook that fails takes its script's
//! fail-safe (`ScriptLimit <script> onerror continue|tempfail`).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, RwLock, Weak};

use wasmtime::component::Resource;

use super::bindings::rumble::plugin::hooks as wit;
use super::bindings::{HostError, IoError, Level};
use super::hook_io::{Desk, HookLink, lend};
use super::host::HostState;
use super::script::{Script, ScriptError};
use crate::config::OnError;
use crate::hooks::{
    CommandFacts, HookCall, HookFuture, HookSink, MessageFacts, NoteValue, Notes, Outcome, Protocol, Reply,
    SessionFacts, Verdict, When,
};

/// Bytes one hook call may queue with `session:send`.
const MAX_SENT: usize = 64 * 1024;
/// Most of a message's header section a hook's `msg:header()` reads.
const MAX_HEADER_BYTES: u64 = 1024 * 1024;
/// Headers one message may get from hooks, all scripts together.
const MAX_ADDED_HEADERS: usize = 64;

/// A hook's view of its connection (a WIT resource).
pub struct HookSessionState {
    notes: Arc<Mutex<Notes>>,
    sent: Arc<Mutex<Vec<u8>>>,
    link: HookLink,
}

/// The message of a `message` hook (a WIT resource).
pub struct MessageState {
    facts: Arc<MessageFacts>,
    body_limit: u64,
    /// False for a tenant's hook when the message also goes to other
    /// domains: it may not change what they receive.
    may_add: bool,
    /// Decoded header fields, read on first use.
    headers: Option<Vec<(String, String)>>,
}

struct Registered {
    script: Weak<Script>,
    handler: u32,
    service: String,
    when: When,
    /// None: every verb (`"*"`).
    verb: Option<String>,
    /// A tenant's script: the domains whose traffic it may see.
    tenant: Option<Vec<String>>,
}

impl Registered {
    fn matches(&self, service: &str, when: When, verb: &str) -> bool {
        self.when == when && self.service == service && self.verb.as_deref().is_none_or(|v| v == verb)
    }

    /// The facts this hook may see of `call`, or None when the call is about
    /// none of its tenant's domains: a RCPT for another domain, a message
    /// with none of its recipients, a POP3/IMAP user of another domain.
    /// Recipients of other domains are left out of what it sees.
    fn view(&self, call: &HookCall<'_>) -> Option<TenantView> {
        let Some(domains) = &self.tenant else { return Some(TenantView::All) };
        let ours = |address: &str| address.rsplit_once('@').is_some_and(|(_, d)| domains.iter().any(|t| t.eq_ignore_ascii_case(d)));
        let s = call.session;
        let about_us = match (call.when, call.command) {
            (When::Message | When::Deliver, _) => s.recipients.iter().any(|r| ours(r)),
            (_, Some(c)) if c.verb == "rcpt" => c.address.as_deref().is_some_and(ours),
            _ => s.user.as_deref().is_some_and(ours),
        };
        if !about_us {
            return None;
        }
        let mut facts = s.clone();
        facts.recipients.retain(|r| ours(r));
        let whole = facts.recipients.len() == s.recipients.len();
        Some(TenantView::Limited { facts, whole })
    }
}

/// What one tenant's hook sees of a call.
enum TenantView {
    /// Everything (not a tenant's script).
    All,
    /// The session with only the tenant's recipients; `whole` when those
    /// are all of them (only then may it add headers to the message).
    Limited { facts: SessionFacts, whole: bool },
}

/// Every hook scripts registered, in registration (= LoadScript) order.
#[derive(Default)]
pub struct HookRegistry {
    hooks: RwLock<Vec<Registered>>,
    /// Each service's lock (`session:lock` in its hooks), as Rumble's
    /// service-wide mutex.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HookRegistry {
    pub fn new() -> Arc<HookRegistry> {
        Arc::new(HookRegistry::default())
    }

    fn add(&self, hook: Registered) {
        self.hooks.write().unwrap_or_else(|e| e.into_inner()).push(hook);
    }

    /// The scripts and handlers of one point, in order, with what each may see.
    fn matching(&self, call: &HookCall<'_>, verb: &str) -> Vec<(Arc<Script>, u32, TenantView)> {
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner());
        hooks
            .iter()
            .filter(|h| h.matches(&call.session.service, call.when, verb))
            .filter_map(|h| Some((h.script.upgrade()?, h.handler, h.view(call)?)))
            .collect()
    }

    /// A tenant's hook on a message that also goes to other domains: it
    /// speaks for its recipients only. It gets no connection (what it sends
    /// is dropped), and a refusal is recorded for its recipients alone
    /// (`MessageFacts::refused`) while the chain goes on for the others.
    async fn run_partial(&self, script: &Script, handler: u32, call: &HookCall<'_>, facts: &SessionFacts) {
        let link = HookLink::new(None, self.service_lock(&call.session.service), &script.info.spec.limits);
        let limited = HookCall { session: facts, message: call.message.clone(), io: None, ..*call };
        let verdict = match script.run_hook(handler, &limited, false, link).await {
            Ok((verdict, _sent)) => verdict,
            Err(e) => fail_safe(script, call, &e),
        };
        let refusal = match verdict {
            Verdict::Reply(r) if r.code >= 400 => Verdict::Reply(r),
            Verdict::Failure | Verdict::TempFail => verdict,
            _ => return,
        };
        let Some(message) = &call.message else { return };
        let mut refused = message.refused.lock().unwrap_or_else(|e| e.into_inner());
        for rcpt in &facts.recipients {
            if !refused.iter().any(|(r, _)| r == rcpt) {
                refused.push((rcpt.clone(), refusal.clone()));
            }
        }
    }

    fn service_lock(&self, service: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Every hook call asks: no allocation once the service has its lock.
        if let Some(lock) = locks.get(service) {
            return lock.clone();
        }
        locks.entry(service.to_string()).or_default().clone()
    }

    /// One script's hook, with the client lent to it for reads; `earlier`
    /// is what hooks before it sent, written before it reads.
    async fn run_one(
        &self,
        script: &Script,
        handler: u32,
        call: &HookCall<'_>,
        view: &TenantView,
        io: Option<&mut crate::hooks::HookIo<'_>>,
        earlier: &mut Vec<u8>,
    ) -> Result<(Verdict, Vec<u8>), ScriptError> {
        let desk = io.is_some().then(|| Arc::new(Desk::default()));
        let link = HookLink::new(desk.clone(), self.service_lock(&call.session.service), &script.info.spec.limits);
        let work = async {
            match view {
                TenantView::All => script.run_hook(handler, call, true, link).await,
                TenantView::Limited { facts, whole } => {
                    let limited = HookCall { session: facts, message: call.message.clone(), io: None, ..*call };
                    script.run_hook(handler, &limited, *whole, link).await
                }
            }
        };
        lend(work, desk.as_deref(), io, earlier).await
    }
}

impl HookSink for HookRegistry {
    fn wants(&self, service: &str, when: When, verb: &str) -> bool {
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner());
        hooks.iter().any(|h| h.matches(service, when, verb))
    }

    fn run<'a>(&'a self, mut call: HookCall<'a>) -> HookFuture<'a> {
        Box::pin(async move {
            let mut io = call.io.take();
            let verb = call.command.map_or("", |c| c.verb.as_str());
            let mut sent = Vec::new();
            for (script, handler, view) in self.matching(&call, verb) {
                if let (When::Message, TenantView::Limited { facts, whole: false }) = (call.when, &view) {
                    self.run_partial(&script, handler, &call, facts).await;
                    continue;
                }
                let result = self.run_one(&script, handler, &call, &view, io.as_deref_mut(), &mut sent).await;
                let verdict = match result {
                    Ok((Verdict::Folder(_) | Verdict::Discard, _)) if call.when != When::Deliver => {
                        let e = ScriptError::Lua("\"folder\" and \"discard\" are answers of deliver hooks only".into());
                        fail_safe(&script, &call, &e)
                    }
                    Ok((verdict, bytes)) => {
                        sent.extend(bytes);
                        verdict
                    }
                    Err(e) => fail_safe(&script, &call, &e),
                };
                // Close hooks cannot change anything: every one runs.
                if verdict != Verdict::Okay && call.when != When::Close {
                    return Outcome { verdict, sent };
                }
            }
            Outcome { verdict: Verdict::Okay, sent }
        })
    }
}

/// A failed hook answers as its script's `onerror` says; logged (within the
/// script's log rate) with script, point and reason.
fn fail_safe(script: &Script, call: &HookCall<'_>, e: &ScriptError) -> Verdict {
    let point = match call.command {
        Some(c) => format!("{} {} {}", call.session.service, call.when.name(), c.verb),
        None => format!("{} {}", call.session.service, call.when.name()),
    };
    let on_error = script.info.spec.limits.on_error;
    let action = match on_error {
        OnError::Continue => "continuing",
        OnError::TempFail => "answering with a temporary failure",
    };
    script.log.write(Level::Error, &format!("hook {point} failed: {e}; {action} (onerror)"));
    match on_error {
        OnError::Continue => Verdict::Okay,
        OnError::TempFail => Verdict::TempFail,
    }
}

/// What `Script::run_hook` hands the guest.
pub(super) struct HookInput {
    pub facts: wit::SessionFacts,
    pub command: Option<wit::CommandFacts>,
    pub session: HookSessionState,
    pub message: Option<MessageState>,
    pub sent: Arc<Mutex<Vec<u8>>>,
}

impl HookInput {
    pub(super) fn new(call: &HookCall<'_>, body_limit: u64, may_add: bool, link: HookLink) -> HookInput {
        let sent = Arc::new(Mutex::new(Vec::new()));
        HookInput {
            facts: session_facts(call.session),
            command: call.command.map(command_facts),
            session: HookSessionState { notes: call.notes.clone(), sent: sent.clone(), link },
            message: call.message.clone().map(|facts| MessageState { facts, body_limit, may_add, headers: None }),
            sent,
        }
    }
}

/// The guest's answer as the protocols' verdict.
pub(super) fn verdict(v: wit::Verdict) -> Verdict {
    match v {
        wit::Verdict::Okay => Verdict::Okay,
        wit::Verdict::Failure => Verdict::Failure,
        wit::Verdict::Ignore => Verdict::Ignore,
        wit::Verdict::Reply(r) => Verdict::Reply(Reply { code: r.code, text: r.text }),
        wit::Verdict::Folder(name) => Verdict::Folder(name),
        wit::Verdict::Discard => Verdict::Discard,
    }
}

fn session_facts(s: &SessionFacts) -> wit::SessionFacts {
    wit::SessionFacts {
        address: s.address.clone(),
        protocol: s.protocol.into(),
        port: s.port,
        local_port: s.local_port,
        service: s.service.to_string(),
        tls: s.tls,
        helo: s.helo.clone(),
        user: s.user.clone(),
        sender: s.sender.clone(),
        recipients: s.recipients.clone(),
    }
}

fn command_facts(c: &CommandFacts) -> wit::CommandFacts {
    wit::CommandFacts {
        verb: c.verb.clone(),
        args: c.args.clone(),
        address: c.address.clone(),
        params: c.params.clone(),
        mailbox: c.mailbox.clone(),
        tag: c.tag.clone(),
        reply: c.reply.as_ref().map(|r| wit::Reply { code: r.code, text: r.text.clone() }),
    }
}

impl HostState {
    /// Check and register one `Rumble.setHook`.
    fn register_hook(&mut self, handler: u32, service: &str, when: &str, verb: Option<&str>) -> Result<(), HostError> {
        if !self.loading {
            return Err(HostError::Failed("Rumble.setHook works only while the script loads (at its top level)".into()));
        }
        let Some(protocol) = Protocol::of_service(service) else {
            return Err(HostError::Invalid(format!(
                "\"{service}\" isn't a known service - choices are: {}",
                Protocol::SERVICES
            )));
        };
        let when = When::parse(when)
            .filter(|w| protocol.fires(*w))
            .ok_or_else(|| HostError::Invalid(format!("\"{when}\" isn't a known hooking location for {service} - choices are: {}", points(protocol))))?;
        let verb = match (when.takes_verb(), verb) {
            (true, None | Some("*")) => None,
            (true, Some(v)) if protocol.verbs().contains(&v) => Some(v.to_string()),
            (true, Some(v)) => {
                return Err(HostError::Invalid(format!(
                    "\"{v}\" isn't a {service} command - choices are: *, {}",
                    protocol.verbs().join(", ")
                )));
            }
            (false, None) => None,
            (false, Some(_)) => {
                return Err(HostError::Invalid(format!("a command is named only for command and after hooks, not {}", when.name())));
            }
        };
        if !self.info.spec.grants.allows_hook(service) {
            return Err(self.deny(format!("hook {service}")));
        }
        let tenant = self.info.spec.grants.tenant_domains().map(<[String]>::to_vec);
        if tenant.is_some() && !tenant_may_hook(protocol, when, verb.as_deref()) {
            let what = format!("hook {service} {}{} (a tenant's script sees only its domains' recipients and users)", when.name(), verb.as_deref().map_or(if when.takes_verb() { " *".into() } else { String::new() }, |v| format!(" {v}")));
            return Err(self.deny(what));
        }
        let described = format!("hook {service} {}{}", when.name(), verb.as_deref().map(|v| format!(" {v}")).unwrap_or_default());
        self.info.env.hooks.add(Registered { script: self.script.clone(), handler, service: service.into(), when, verb, tenant });
        tracing::debug!(target: "lua", "script \"{}\" registered {described}", self.info.spec.name);
        if let Some(script) = self.script.upgrade() {
            script.note_registered(described);
        }
        Ok(())
    }
}

/// Points a tenant's script may hook: those about one recipient or one
/// logged-in user. Accept, close, every verb (`*`) and what runs before a
/// recipient or a login is known would see everyone's traffic.
fn tenant_may_hook(protocol: Protocol, when: When, verb: Option<&str>) -> bool {
    // The rest fire only once a user of the tenant's domains logged in.
    const BEFORE_LOGIN: &[&str] = &["user", "pass", "auth", "apop", "stls", "starttls", "authenticate", "login"];
    match (protocol, when, verb) {
        (Protocol::Smtp, When::Message, _) | (Protocol::Mailman, When::Deliver, _) => true,
        (Protocol::Smtp, When::Command | When::After, Some("rcpt")) => true,
        (Protocol::Pop3 | Protocol::Imap, When::Command | When::After, Some(v)) => !BEFORE_LOGIN.contains(&v),
        _ => false,
    }
}

fn points(protocol: Protocol) -> String {
    ["accept", "command", "after", "message", "deliver", "close"]
        .into_iter()
        .filter(|w| When::parse(w).is_some_and(|w| protocol.fires(w)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl wit::Host for HostState {
    async fn set_hook(
        &mut self,
        handler: u32,
        service: String,
        when: String,
        verb: Option<String>,
    ) -> wasmtime::Result<Result<(), HostError>> {
        Ok(self.register_hook(handler, &service, &when, verb.as_deref()))
    }
}

impl wit::HostHookSession for HostState {
    async fn send(&mut self, s: Resource<HookSessionState>, data: Vec<u8>) -> wasmtime::Result<Result<(), HostError>> {
        let state = self.table.get(&s)?;
        let mut sent = state.sent.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() + data.len() > MAX_SENT {
            return Ok(Err(HostError::Invalid(format!("a hook may send at most {MAX_SENT} bytes"))));
        }
        sent.extend_from_slice(&data);
        Ok(Ok(()))
    }

    async fn set(&mut self, s: Resource<HookSessionState>, key: String, value: Option<wit::Note>) -> wasmtime::Result<Result<(), HostError>> {
        let state = self.table.get(&s)?;
        let value = value.map(|v| match v {
            wit::Note::Text(t) => NoteValue::Text(t),
            wit::Note::Integer(i) => NoteValue::Integer(i),
            wit::Note::Number(n) => NoteValue::Number(n),
            wit::Note::Boolean(b) => NoteValue::Boolean(b),
        });
        let mut notes = state.notes.lock().unwrap_or_else(|e| e.into_inner());
        Ok(notes.set(&key, value).map_err(HostError::Invalid))
    }

    async fn get(&mut self, s: Resource<HookSessionState>, key: String) -> wasmtime::Result<Option<wit::Note>> {
        let state = self.table.get(&s)?;
        let notes = state.notes.lock().unwrap_or_else(|e| e.into_inner());
        Ok(notes.get(&key).map(|v| match v {
            NoteValue::Text(t) => wit::Note::Text(t),
            NoteValue::Integer(i) => wit::Note::Integer(i),
            NoteValue::Number(n) => wit::Note::Number(n),
            NoteValue::Boolean(b) => wit::Note::Boolean(b),
        }))
    }

    async fn receive_line(&mut self, s: Resource<HookSessionState>) -> wasmtime::Result<Result<Vec<u8>, IoError>> {
        self.hook_receive(s, None).await
    }

    async fn receive_bytes(&mut self, s: Resource<HookSessionState>, max: u32) -> wasmtime::Result<Result<Vec<u8>, IoError>> {
        self.hook_receive(s, Some(max)).await
    }

    async fn lock(&mut self, s: Resource<HookSessionState>) -> wasmtime::Result<bool> {
        let link = self.table.get(&s)?.link.clone();
        self.budget.pause();
        let got = link.lock().await;
        self.budget.resume();
        Ok(got)
    }

    async fn unlock(&mut self, s: Resource<HookSessionState>) -> wasmtime::Result<()> {
        self.table.get(&s)?.link.unlock();
        Ok(())
    }

    async fn drop(&mut self, s: Resource<HookSessionState>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}

impl HostState {
    /// A read from the hook's client: what it sent so far goes out first
    /// (a prompt is seen before the answer is awaited).
    async fn hook_receive(&mut self, s: Resource<HookSessionState>, bytes: Option<u32>) -> wasmtime::Result<Result<Vec<u8>, IoError>> {
        let state = self.table.get(&s)?;
        let flush = std::mem::take(&mut *state.sent.lock().unwrap_or_else(|e| e.into_inner()));
        let link = state.link.clone();
        self.budget.pause();
        let result = link.receive(flush, bytes).await;
        self.budget.resume();
        Ok(result)
    }
}

impl wit::HostMessage for HostState {
    async fn size(&mut self, m: Resource<MessageState>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&m)?.facts.size)
    }

    async fn header(&mut self, m: Resource<MessageState>, name: String) -> wasmtime::Result<Option<String>> {
        let headers = self.message_headers(&m).await?;
        Ok(headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)).map(|(_, v)| v.clone()))
    }

    async fn headers(&mut self, m: Resource<MessageState>) -> wasmtime::Result<Vec<(String, String)>> {
        self.message_headers(&m).await
    }

    async fn body(&mut self, m: Resource<MessageState>, max: Option<u64>) -> wasmtime::Result<Vec<u8>> {
        let state = self.table.get(&m)?;
        let limit = max.unwrap_or(u64::MAX).min(state.body_limit);
        let path = state.facts.path.clone();
        self.off_worker(move || read_prefix(&path, limit)).await
    }

    async fn add_header(&mut self, m: Resource<MessageState>, name: String, value: String) -> wasmtime::Result<Result<(), HostError>> {
        let state = self.table.get(&m)?;
        if let Err(why) = check_header(&name, &value) {
            return Ok(Err(HostError::Invalid(why)));
        }
        if state.facts.delivery.is_some() {
            return Ok(Err(HostError::Invalid("addHeader is for message hooks (a delivery is one recipient's copy)".into())));
        }
        if !state.may_add {
            return Ok(Err(self.deny("addHeader on a message that also goes to other tenants' domains".into())));
        }
        let mut added = state.facts.added.lock().unwrap_or_else(|e| e.into_inner());
        if added.len() >= MAX_ADDED_HEADERS {
            return Ok(Err(HostError::Invalid(format!("a message takes at most {MAX_ADDED_HEADERS} added headers"))));
        }
        added.push((name, value));
        Ok(Ok(()))
    }

    async fn delivery(&mut self, m: Resource<MessageState>) -> wasmtime::Result<Option<(String, i64)>> {
        Ok(self.table.get(&m)?.facts.delivery.clone())
    }

    async fn add_flag(&mut self, m: Resource<MessageState>, flag: String) -> wasmtime::Result<Result<(), HostError>> {
        let state = self.table.get(&m)?;
        if state.facts.delivery.is_none() {
            return Ok(Err(HostError::Invalid("addFlag is for deliver hooks".into())));
        }
        if let Err(why) = check_flag(&flag) {
            return Ok(Err(HostError::Invalid(why)));
        }
        let mut flags = state.facts.flags.lock().unwrap_or_else(|e| e.into_inner());
        if flags.len() >= MAX_ADDED_HEADERS {
            return Ok(Err(HostError::Invalid(format!("a letter takes at most {MAX_ADDED_HEADERS} flags"))));
        }
        flags.push(flag);
        Ok(Ok(()))
    }

    async fn drop(&mut self, m: Resource<MessageState>) -> wasmtime::Result<()> {
        self.table.delete(m)?;
        Ok(())
    }
}

impl HostState {
    /// The message's header fields, decoded (RFC 2047) and unfolded; read
    /// and parsed once per call.
    async fn message_headers(&mut self, m: &Resource<MessageState>) -> wasmtime::Result<Vec<(String, String)>> {
        let state = self.table.get(m)?;
        if let Some(headers) = &state.headers {
            return Ok(headers.clone());
        }
        let path = state.facts.path.clone();
        let headers = self.off_worker(move || decode_headers(&read_prefix(&path, MAX_HEADER_BYTES))).await?;
        self.table.get_mut(m)?.headers = Some(headers.clone());
        Ok(headers)
    }

    /// File reads and parses (up to the body limit, 1 MiB of header) on the
    /// blocking pool: a hook may run on a protocol worker, which must not
    /// wait for the disk. Waiting is not running: the budget is paused.
    async fn off_worker<T: Send + 'static>(&mut self, work: impl FnOnce() -> T + Send + 'static) -> wasmtime::Result<T> {
        self.budget.pause();
        let done = tokio::task::spawn_blocking(work).await;
        self.budget.resume();
        done.map_err(|e| wasmtime::Error::msg(format!("reading the message failed: {e}")))
    }
}

fn decode_headers(raw: &[u8]) -> Vec<(String, String)> {
    // With any entry in its map the parser stops using its structured
    // parsers (addresses, dates) and takes every field as decoded text.
    let parser = mail_parser::MessageParser::new().header_text(mail_parser::HeaderName::Subject).default_header_text();
    let Some(message) = parser.parse_headers(raw) else { return Vec::new() };
    message
        .headers()
        .iter()
        .map(|h| {
            let value = match h.value() {
                mail_parser::HeaderValue::Text(t) => t.to_string(),
                mail_parser::HeaderValue::TextList(l) => l.join(", "),
                _ => String::new(),
            };
            (h.name().to_string(), value)
        })
        .collect()
}

/// At most `limit` bytes from the start of the file (nothing if it is gone).
fn read_prefix(path: &std::path::Path, limit: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(limit).read_to_end(&mut out);
    }
    out
}

/// A header a script may add: an RFC 5322 field name, and a value with no
/// line breaks (no header injection) of reasonable length.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let name_ok = !name.is_empty() && name.len() <= 76 && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if !name_ok {
        return Err(format!("bad header name \"{}\": printable ASCII without ':' or spaces", name.escape_debug()));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(format!("header {name}: the value may not contain CR, LF or NUL"));
    }
    if value.len() > 8192 {
        return Err(format!("header {name}: the value is longer than 8192 bytes"));
    }
    Ok(())
}

/// A system flag a delivery may set, or an IMAP keyword (an atom).
fn check_flag(flag: &str) -> Result<(), String> {
    const SYSTEM: &[&str] = &["\\Seen", "\\Flagged", "\\Answered", "\\Draft"];
    if SYSTEM.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
        return Ok(());
    }
    let atom = !flag.is_empty()
        && flag.len() <= 64
        && flag.bytes().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
    if atom { Ok(()) } else { Err(format!("\"{}\" is neither \\Seen, \\Flagged, \\Answered, \\Draft nor a keyword", flag.escape_debug())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_a_delivery_may_set() {
        assert!(check_flag("\\Flagged").is_ok());
        assert!(check_flag("$Junk").is_ok());
        assert!(check_flag("\\Deleted").is_err());
        assert!(check_flag("two words").is_err());
        assert!(check_flag("").is_err());
    }

    #[test]
    fn added_headers_cannot_inject() {
        assert!(check_header("X-Spam", "yes").is_ok());
        assert!(check_header("X-Spam", "yes\r\nBcc: x@y").is_err());
        assert!(check_header("X Spam", "yes").is_err());
        assert!(check_header("X-Spam:", "yes").is_err());
        assert!(check_header("", "yes").is_err());
    }

    #[test]
    fn headers_are_decoded_in_order() {
        let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-A: one\r\n two\r\nFrom: a@b.c\r\nTo: =?utf-8?q?Ann?= <ann@b.c>\r\n\r\nbody";
        let h = decode_headers(raw);
        assert_eq!(h[0], ("Subject".into(), "caf\u{e9}".into()));
        assert_eq!(h[1].0, "X-A");
        assert!(h[1].1.contains("one") && h[1].1.contains("two"));
        assert_eq!(h[2], ("From".into(), "a@b.c".into()));
        assert_eq!(h[3], ("To".into(), "Ann <ann@b.c>".into()));
    }
}
