//! POP3's hook points. Verdicts in POP3 words (RFC 2449/3206 response
//! codes): a status below 400 is `+OK text`, 4xx is `-ERR [SYS/TEMP] text`,
//! 5xx `-ERR text`; failure is `-ERR closing connection` and the end of
//! the session; a failed hook under `onerror tempfail` is
//! `-ERR [SYS/TEMP] temporary failure, try again later`.
//!
//! After-hooks see the status line as a code: `+OK` is 200, `-ERR` with
//! `[SYS/TEMP]` or `[IN-USE]` (transient, RFC 3206) is 450, other `-ERR`
//! 500. The password of PASS and SASL responses are never shown to hooks.

use super::command::{Command, CommandError};
use super::session::{Next, Session, State};
use crate::hooks::{CommandFacts, HookCall, HookIo, Outcome, Protocol, Reply, SessionFacts, Verdict, When};

impl Session {
    fn facts(&self) -> SessionFacts {
        let mut f = SessionFacts::new(self.peer, self.local_port, self.service.clone(), self.tls);
        if let State::Transaction(drop) = &self.state {
            f.user = Some(drop.account.address());
        }
        f
    }

    pub(super) fn wants(&self, when: When, verb: &str) -> bool {
        self.ctx.hooks.wants(&self.service, when, verb)
    }

    /// Run one point's hooks; the client is lent to them (`session:receive`)
    /// except at close. A held-back response goes out before they read.
    async fn fire(&mut self, when: When, command: Option<&CommandFacts>) -> Outcome {
        let session = self.facts();
        let (hooks, notes) = (self.ctx.hooks.clone(), self.notes.clone());
        let mut direct = Vec::new();
        let unsent = match self.capture.as_mut() {
            Some(held) => held,
            None => &mut direct,
        };
        let mut wrote = false;
        let mut io = HookIo::new(&mut self.io, unsent, &mut wrote);
        let lent = (when != When::Close).then_some(&mut io);
        let call = HookCall { when, session: &session, command, message: None, notes: &notes, io: lent };
        let outcome = hooks.run(call).await;
        if wrote {
            self.status_at = None;
        }
        outcome
    }

    /// Accept hooks; None: greet as usual.
    pub(super) async fn hook_accept(&mut self) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Accept, "") {
            return Ok(None);
        }
        let outcome = self.fire(When::Accept, None).await;
        self.write(&outcome.sent).await?;
        Ok(match outcome.verdict {
            // (deliver-only answers never reach a protocol: the registry refuses them)
            Verdict::Okay | Verdict::Folder(_) | Verdict::Discard => None,
            Verdict::Ignore => Some(Next::Continue),
            Verdict::Reply(r) if r.code < 400 => {
                self.answer(Verdict::Reply(r)).await?;
                Some(Next::Continue)
            }
            other => {
                self.answer(other).await?;
                Some(Next::Close)
            }
        })
    }

    pub(super) async fn hook_close(&mut self) {
        if self.wants(When::Close, "") {
            self.fire(When::Close, None).await;
        }
    }

    pub(super) fn command_facts(&self, line: &[u8], parsed: &Result<Command, CommandError>) -> Option<CommandFacts> {
        let (verb, rest) = Protocol::Pop3.split_line(line);
        if !self.wants(When::Command, &verb) && !self.wants(When::After, &verb) {
            return None;
        }
        let args = match (verb.as_str(), parsed) {
            // Secrets stay out of scripts' reach.
            ("pass" | "apop", _) => String::new(),
            (_, Ok(Command::Auth { mechanism, .. })) => mechanism.clone().unwrap_or_default(),
            ("auth", _) => rest.split(' ').next().unwrap_or("").to_string(),
            _ => rest.trim().to_string(),
        };
        Some(CommandFacts { verb, args, ..CommandFacts::default() })
    }

    pub(super) async fn hook_before(&mut self, facts: &CommandFacts) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Command, &facts.verb) {
            return Ok(None);
        }
        let outcome = self.fire(When::Command, Some(facts)).await;
        self.write(&outcome.sent).await?;
        if outcome.verdict == Verdict::Okay {
            return Ok(None);
        }
        self.answer(outcome.verdict).await.map(Some)
    }

    /// After-hooks, then the held-back response goes out. A refused login
    /// is undone (the session is back to the authorization state).
    pub(super) async fn hook_after(&mut self, mut facts: CommandFacts, was_logged_in: bool, next: Next) -> std::io::Result<Next> {
        let next = match self.status.clone() {
            Some(status) if self.wants(When::After, &facts.verb) => {
                facts.reply = Some(status_reply(&status));
                let outcome = self.fire(When::After, Some(&facts)).await;
                self.after_verdict(outcome, &facts, was_logged_in, next).await?
            }
            _ => next,
        };
        self.release_capture().await?;
        Ok(next)
    }

    async fn after_verdict(&mut self, outcome: Outcome, facts: &CommandFacts, was_logged_in: bool, next: Next) -> std::io::Result<Next> {
        if outcome.verdict == Verdict::Okay {
            self.write(&outcome.sent).await?;
            return Ok(next);
        }
        // POP3 has no unsolicited responses: even failure replaces the
        // status when it can, so the client reads one answer per command.
        if !self.take_back_status() && outcome.verdict != Verdict::Failure {
            tracing::warn!(target: "pop3", "{}: an after-{} hook answered once the reply was sent; ignored", self.peer.ip(), facts.verb);
            return Ok(next);
        }
        let refused = matches!(&outcome.verdict, Verdict::Reply(r) if r.code >= 400) || outcome.verdict == Verdict::TempFail;
        if refused && !was_logged_in && matches!(self.state, State::Transaction(_)) {
            // Dropping the maildrop releases its lock.
            self.state = State::Authorization { user: None };
        }
        self.write(&outcome.sent).await?;
        let answered = self.answer(outcome.verdict).await?;
        Ok(if matches!(next, Next::Close) { Next::Close } else { answered })
    }

    /// A verdict other than okay, in POP3 words.
    async fn answer(&mut self, verdict: Verdict) -> std::io::Result<Next> {
        match verdict {
            Verdict::Okay | Verdict::Ignore | Verdict::Folder(_) | Verdict::Discard => Ok(Next::Continue),
            Verdict::Failure => {
                self.err("closing connection").await?;
                Ok(Next::Close)
            }
            Verdict::Reply(r) => {
                self.hook_reply(&r).await?;
                Ok(if r.code == 421 { Next::Close } else { Next::Continue })
            }
            Verdict::TempFail => {
                self.err("[SYS/TEMP] temporary failure, try again later").await?;
                Ok(Next::Continue)
            }
        }
    }

    async fn hook_reply(&mut self, r: &Reply) -> std::io::Result<()> {
        let text = crate::hooks::one_line(&r.text);
        let text = text.as_str();
        match r.code {
            ..400 => self.ok(text).await,
            400..500 if !text.starts_with('[') => {
                let text = if text.is_empty() { "temporary failure".to_string() } else { text.to_string() };
                self.err(&format!("[SYS/TEMP] {text}")).await
            }
            _ => self.err(if text.is_empty() { "refused" } else { text }).await,
        }
    }
}

/// A status line as a reply for after-hooks (see the module comment).
fn status_reply(line: &str) -> Reply {
    if let Some(text) = line.strip_prefix("+OK") {
        return Reply { code: 200, text: text.trim().to_string() };
    }
    let text = line.strip_prefix("-ERR").unwrap_or(line).trim().to_string();
    let code = if text.starts_with("[SYS/TEMP]") || text.starts_with("[IN-USE]") { 450 } else { 500 };
    Reply { code, text }
}

#[cfg(test)]
mod tests {
    use super::status_reply;

    #[test]
    fn status_lines_map_to_codes() {
        assert_eq!(status_reply("+OK Logged in").code, 200);
        assert_eq!(status_reply("-ERR [AUTH] Authentication failed").code, 500);
        assert_eq!(status_reply("-ERR [IN-USE] locked").code, 450);
        assert_eq!(status_reply("-ERR [AUTH] Authentication failed").text, "[AUTH] Authentication failed");
    }
}
