//! SMTP's hook points: what a session tells scripts (facts) and how it acts
//! on their verdicts. Before-hooks may answer instead of the command; after
//! hooks see the reply the server decided and may replace it (undoing what
//! the command took: a refused sender or recipient is not kept).
//!
//! Verdicts in SMTP words: failure closes with `421`; a status code is sent
//! as given (with a standard text when the script gave none); a hook that
//! failed under `onerror tempfail` gives `451 4.3.0`.

use std::sync::Arc;

use super::command::{Command, CommandError};
use super::session::{Next, Session, Transaction};
use crate::hooks::{CommandFacts, HookCall, HookIo, MessageFacts, Outcome, Protocol, Reply, SessionFacts, Verdict, When};

/// What a command took, so an after-hook's refusal can give it back.
pub(super) struct Taken {
    had_tx: bool,
    rcpts: usize,
    had_auth: bool,
}

impl Session {
    /// The session's facts; `tx` is the transaction (the open one, or the
    /// one whose message is being received).
    fn facts(&self, tx: Option<&Transaction>) -> SessionFacts {
        let mut f = SessionFacts::new(self.peer, self.local_port, self.service.clone(), self.tls);
        f.helo = self.helo.clone();
        f.user = self.auth.clone();
        if let Some(tx) = tx {
            f.sender = Some(tx.from.mailbox().map(ToString::to_string).unwrap_or_default());
            f.recipients = tx.rcpts.clone();
        }
        f
    }

    fn wants(&self, when: When, verb: &str) -> bool {
        self.ctx.hooks.wants(&self.service, when, verb)
    }

    /// Run one point's hooks; the client is lent to them (`session:receive`)
    /// except at close.
    async fn fire(&mut self, when: When, command: Option<&CommandFacts>, message: Option<(Arc<MessageFacts>, &Transaction)>) -> Outcome {
        let session = self.facts(message.as_ref().map(|m| m.1).or(self.tx.as_ref()));
        let message = message.map(|m| m.0);
        let (hooks, notes) = (self.ctx.hooks.clone(), self.notes.clone());
        let mut wrote = false;
        let mut io = HookIo::new(&mut self.io, &mut self.out, &mut wrote);
        let lent = (when != When::Close).then_some(&mut io);
        let call = HookCall { when, session: &session, command, message, notes: &notes, io: lent };
        let outcome = hooks.run(call).await;
        if wrote {
            // A held reply went out with what the hook sent before reading.
            self.last_reply_at = None;
        }
        outcome
    }

    /// Accept hooks, before the greeting; false: do not greet (the session
    /// closes, or a script already greeted).
    pub(super) async fn hook_accept(&mut self) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Accept, "") {
            return Ok(None);
        }
        let outcome = self.fire(When::Accept, None, None).await;
        self.write_sent(&outcome.sent);
        Ok(match outcome.verdict {
            // (deliver-only answers never reach a protocol: the registry refuses them)
            Verdict::Okay | Verdict::Folder(_) | Verdict::Discard => None,
            Verdict::Ignore => Some(Next::Continue),
            Verdict::Reply(r) => {
                let closing = r.code >= 400;
                self.hook_reply(&r).await?;
                Some(if closing { Next::Close } else { Next::Continue })
            }
            Verdict::Failure => {
                self.closing_reply().await?;
                Some(Next::Close)
            }
            Verdict::TempFail => {
                self.reply(421, "4.3.0", "Temporary failure, try again later").await?;
                Some(Next::Close)
            }
        })
    }

    pub(super) async fn hook_close(&mut self) {
        if self.wants(When::Close, "") {
            self.fire(When::Close, None, None).await;
        }
    }

    /// Facts of a command line for `command`/`after` hooks, or None when no
    /// hook wants this verb at either point.
    pub(super) fn command_facts(&self, line: &[u8], parsed: &Result<Command, CommandError>) -> Option<CommandFacts> {
        let (verb, rest) = Protocol::Smtp.split_line(line);
        let rest = rest.as_str();
        if !self.wants(When::Command, &verb) && !self.wants(When::After, &verb) {
            return None;
        }
        let mut facts = CommandFacts { verb, ..CommandFacts::default() };
        match parsed {
            Ok(Command::Mail { from, .. }) => {
                facts.address = Some(from.mailbox().map(ToString::to_string).unwrap_or_default());
                facts.params = esmtp_params(rest);
            }
            Ok(Command::Rcpt { to, .. }) => {
                facts.address = Some(to.mailbox().map_or_else(|| "postmaster".to_string(), ToString::to_string));
                facts.params = esmtp_params(rest);
            }
            _ => {}
        }
        // AUTH's initial response carries the password: a script sees only
        // the mechanism.
        facts.args = match parsed {
            Ok(Command::Auth { mechanism, .. }) => mechanism.clone(),
            _ if facts.verb == "auth" => rest.split(' ').next().unwrap_or("").to_string(),
            _ => rest.trim().to_string(),
        };
        Some(facts)
    }

    /// Command hooks; None: run the command. A skipped BDAT's chunk is still
    /// read, so the session stays in step with the client.
    pub(super) async fn hook_before(&mut self, facts: &CommandFacts, parsed: &Result<Command, CommandError>) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Command, &facts.verb) {
            return Ok(None);
        }
        let outcome = self.fire(When::Command, Some(facts), None).await;
        if outcome.verdict == Verdict::Okay {
            self.write_sent(&outcome.sent);
            return Ok(None);
        }
        if let Ok(Command::Bdat { size, .. }) = parsed {
            if !self.read_chunk(*size, None).await? {
                return Ok(Some(Next::Close));
            }
            self.tx = None;
        }
        self.write_sent(&outcome.sent);
        self.answer(outcome.verdict).await.map(Some)
    }

    /// What the command took so far (before it runs).
    pub(super) fn taken(&self) -> Taken {
        Taken { had_tx: self.tx.is_some(), rcpts: self.tx.as_ref().map_or(0, |t| t.rcpts.len()), had_auth: self.auth.is_some() }
    }

    /// After hooks, with the reply the command got.
    pub(super) async fn hook_after(&mut self, mut facts: CommandFacts, taken: Taken, next: Next) -> std::io::Result<Next> {
        let Some(reply) = self.last_reply.clone() else { return Ok(next) };
        if !self.wants(When::After, &facts.verb) {
            return Ok(next);
        }
        let old_code = reply.code;
        facts.reply = Some(reply);
        let outcome = self.fire(When::After, Some(&facts), None).await;
        if outcome.verdict == Verdict::Okay {
            self.write_sent(&outcome.sent);
            return Ok(next);
        }
        // Even failure replaces the reply while it is unsent: the client is
        // not told 250 just before the 421.
        if !self.take_back_last_reply() && outcome.verdict != Verdict::Failure {
            tracing::warn!(target: "smtp", "{}: an after-{} hook answered once the reply was sent; ignored", self.peer.ip(), facts.verb);
            return Ok(next);
        }
        if old_code < 400 && matches!(&outcome.verdict, Verdict::Reply(r) if r.code >= 400) || outcome.verdict == Verdict::TempFail {
            self.give_back(&facts.verb, taken);
        }
        self.write_sent(&outcome.sent);
        let answered = self.answer(outcome.verdict).await?;
        Ok(if matches!(next, Next::Close) { Next::Close } else { answered })
    }

    /// The `message` hooks, before the message is committed.
    pub(super) async fn hook_message(&mut self, message: Arc<MessageFacts>, tx: &Transaction) -> Option<Outcome> {
        if !self.wants(When::Message, "") {
            return None;
        }
        Some(self.fire(When::Message, None, Some((message, tx))).await)
    }

    /// An after-hook refused what the command took: the sender, the
    /// recipient, or the login is not kept.
    fn give_back(&mut self, verb: &str, taken: Taken) {
        match verb {
            "mail" if !taken.had_tx => self.tx = None,
            "rcpt" => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.rcpts.truncate(taken.rcpts);
                }
            }
            "auth" if !taken.had_auth => self.auth = None,
            _ => {}
        }
    }

    /// A verdict other than okay, in SMTP words.
    pub(super) async fn answer(&mut self, verdict: Verdict) -> std::io::Result<Next> {
        match verdict {
            Verdict::Okay | Verdict::Ignore | Verdict::Folder(_) | Verdict::Discard => Ok(Next::Continue),
            Verdict::Failure => {
                self.closing_reply().await?;
                Ok(Next::Close)
            }
            Verdict::Reply(r) => {
                self.hook_reply(&r).await?;
                Ok(if r.code == 421 { Next::Close } else { Next::Continue })
            }
            Verdict::TempFail => {
                self.reply(451, "4.3.0", "Temporary failure, try again later").await?;
                Ok(Next::Continue)
            }
        }
    }

    async fn closing_reply(&mut self) -> std::io::Result<()> {
        let text = format!("{} closing connection", self.ctx.server_name);
        self.reply(421, "4.7.0", &text).await
    }

    /// A script's status: its text as given (one line, without an enhanced
    /// code one is added), or the standard text for the code.
    async fn hook_reply(&mut self, r: &Reply) -> std::io::Result<()> {
        if r.code >= 400 {
            self.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let text = crate::hooks::one_line(&r.text);
        let text = text.as_str();
        if text.is_empty() {
            let (status, standard) = standard_reply(r.code);
            return self.reply(r.code, status, standard).await;
        }
        if has_enhanced_code(text) {
            return self.reply(r.code, "", text).await;
        }
        let status = format!("{}.0.0", r.code / 100);
        self.reply(r.code, &status, text).await
    }
}

/// `NAME=value` and `NAME` words after MAIL/RCPT's address.
fn esmtp_params(rest: &str) -> Vec<(String, String)> {
    let after = match rest.rfind('>') {
        Some(i) => &rest[i + 1..],
        None => rest.split_once(' ').map_or("", |(_, r)| r),
    };
    after
        .split_ascii_whitespace()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), v.to_string()),
            None => (w.to_ascii_uppercase(), String::new()),
        })
        .collect()
}

pub(super) fn has_enhanced_code(text: &str) -> bool {
    is_enhanced_code(text.split(' ').next().unwrap_or(""))
}

/// `X.Y.Z` with X 2, 4 or 5 (RFC 3463).
pub fn is_enhanced_code(first: &str) -> bool {
    let parts: Vec<&str> = first.split('.').collect();
    parts.len() == 3 && matches!(parts[0], "2" | "4" | "5") && parts[1..].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// RFC 5321 §4.2.2's texts with RFC 3463 codes, for a bare status.
fn standard_reply(code: u16) -> (&'static str, &'static str) {
    match code {
        421 => ("4.7.0", "Service not available, closing transmission channel"),
        450 => ("4.2.0", "Requested mail action not taken: mailbox unavailable"),
        451 => ("4.3.0", "Requested action aborted: local error in processing"),
        452 => ("4.3.1", "Requested action not taken: insufficient system storage"),
        550 => ("5.7.1", "Requested action not taken: mailbox unavailable"),
        551 => ("5.1.6", "User not local"),
        552 => ("5.3.4", "Requested mail action aborted: exceeded storage allocation"),
        553 => ("5.1.3", "Requested action not taken: mailbox name not allowed"),
        554 => ("5.7.1", "Transaction failed"),
        200..=399 => ("2.0.0", "OK"),
        400..=499 => ("4.0.0", "Requested action not taken, try again later"),
        _ => ("5.0.0", "Requested action not taken"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_after_the_address() {
        assert_eq!(
            esmtp_params("FROM:<a@b.c> SIZE=100 BODY=8BITMIME smtputf8"),
            vec![("SIZE".into(), "100".into()), ("BODY".into(), "8BITMIME".into()), ("SMTPUTF8".into(), String::new())]
        );
        assert!(esmtp_params("TO:<a@b.c>").is_empty());
    }

    #[test]
    fn enhanced_codes_are_recognised() {
        assert!(has_enhanced_code("5.7.1 go away"));
        assert!(!has_enhanced_code("go away"));
        assert!(!has_enhanced_code("5.7 go away"));
        assert_eq!(standard_reply(550).0, "5.7.1");
        assert_eq!(standard_reply(299).0, "2.0.0");
    }
}
