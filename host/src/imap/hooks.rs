//! IMAP's hook points. Verdicts in IMAP words: a status below 400 is
//! `tag OK text`, 4xx `tag NO [UNAVAILABLE] text`, 5xx `tag NO text`;
//! failure is `* BYE ... closing connection` and the end of the session; a
//! failed hook under `onerror tempfail` is `tag NO [UNAVAILABLE] ...`.
//! At accept, a status below 400 replaces the greeting (`* OK text`) and
//! anything else is `* BYE text`.
//!
//! After-hooks see the tagged response as a code: OK 200, NO 500 (450
//! with `[UNAVAILABLE]`), BAD 501. LOGIN shows hooks only the user name,
//! AUTHENTICATE only the mechanism. A refused LOGIN/AUTHENTICATE logs the
//! session out again and a refused SELECT/EXAMINE deselects; other
//! commands have already acted.

use super::command::{Command, ParseError, Request};
use super::session::{Next, Session, State};
use crate::hooks::{CommandFacts, HookCall, HookIo, Outcome, Protocol, Reply, SessionFacts, Verdict, When};

/// Longest argument text a hook sees (APPEND's literal is never included).
const MAX_ARGS: usize = 1024;

/// Where the session stood before a command, to undo a refused login or select.
pub(super) struct LoginState {
    authenticated: bool,
    selected: bool,
}

impl Session {
    fn facts(&self) -> SessionFacts {
        let mut f = SessionFacts::new(self.peer, self.local_port, self.service.clone(), self.tls);
        if let State::Authenticated(a) | State::Selected(a, _) = &self.state {
            f.user = Some(a.address());
        }
        f
    }

    fn wants(&self, when: When, verb: &str) -> bool {
        self.ctx.hooks.wants(&self.service, when, verb)
    }

    /// Run one point's hooks; the client is lent to them (`session:receive`)
    /// except at close.
    async fn fire(&mut self, when: When, command: Option<&CommandFacts>) -> Outcome {
        let session = self.facts();
        let (hooks, notes) = (self.ctx.hooks.clone(), self.notes.clone());
        let mut wrote = false;
        let mut io = HookIo::new(&mut self.io, &mut self.out, &mut wrote);
        let lent = (when != When::Close).then_some(&mut io);
        let call = HookCall { when, session: &session, command, message: None, notes: &notes, io: lent };
        let outcome = hooks.run(call).await;
        if wrote {
            // The tagged response held for after-hooks went out.
            self.tagged_at = None;
        }
        outcome
    }

    pub(super) fn login_state(&self) -> LoginState {
        LoginState {
            authenticated: !matches!(self.state, State::NotAuthenticated),
            selected: matches!(self.state, State::Selected(..)),
        }
    }

    /// Accept hooks; None: greet as usual.
    pub(super) async fn hook_accept(&mut self) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Accept, "") {
            return Ok(None);
        }
        let outcome = self.fire(When::Accept, None).await;
        self.out.extend_from_slice(&outcome.sent);
        Ok(match outcome.verdict {
            // (deliver-only answers never reach a protocol: the registry refuses them)
            Verdict::Okay | Verdict::Folder(_) | Verdict::Discard => None,
            Verdict::Ignore => Some(Next::Continue),
            Verdict::Reply(r) if r.code < 400 => {
                self.line(&format!("* OK {}", clean(&r.text, "ready")));
                Some(Next::Continue)
            }
            Verdict::Reply(r) => {
                self.line(&format!("* BYE {}", clean(&r.text, "refused")));
                Some(Next::Close)
            }
            Verdict::Failure => {
                self.line(&format!("* BYE {} closing connection", self.ctx.server_name));
                Some(Next::Close)
            }
            Verdict::TempFail => {
                self.line("* BYE [UNAVAILABLE] temporary failure, try again later");
                Some(Next::Close)
            }
        })
    }

    pub(super) async fn hook_close(&mut self) {
        if self.wants(When::Close, "") {
            self.fire(When::Close, None).await;
        }
    }

    pub(super) fn command_facts(&self, input: &[u8], parsed: &Result<Request, ParseError>) -> Option<CommandFacts> {
        let first = input.split(|&b| b == b'\n').next().unwrap_or(input);
        let text = String::from_utf8_lossy(first);
        let text = text.trim_end_matches(['\r', '\n']);
        let (tag, line) = text.split_once(' ').unwrap_or((text, ""));
        let tag = tag.to_string();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (verb, rest) = Protocol::Imap.verb_and_args(word, rest, line);
        let rest = rest.as_str();
        if !self.wants(When::Command, &verb) && !self.wants(When::After, &verb) {
            return None;
        }
        let command = parsed.as_ref().ok().map(|r| &r.command);
        let args = match (verb.as_str(), command) {
            (_, Some(Command::Login { user, .. })) => user.clone(),
            (_, Some(Command::Authenticate { mechanism, .. })) => mechanism.clone(),
            ("login" | "authenticate", _) => rest.split(' ').next().unwrap_or("").to_string(),
            _ => rest.chars().take(MAX_ARGS).collect(),
        };
        Some(CommandFacts { verb, args, tag: Some(tag), mailbox: command.and_then(mailbox_of), ..CommandFacts::default() })
    }

    pub(super) async fn hook_before(&mut self, facts: &CommandFacts) -> std::io::Result<Option<Next>> {
        if !self.wants(When::Command, &facts.verb) {
            return Ok(None);
        }
        let outcome = self.fire(When::Command, Some(facts)).await;
        self.out.extend_from_slice(&outcome.sent);
        if outcome.verdict == Verdict::Okay {
            return Ok(None);
        }
        Ok(Some(self.answer_verdict(facts, outcome.verdict)))
    }

    pub(super) async fn hook_after(&mut self, mut facts: CommandFacts, before: LoginState, next: Next) -> std::io::Result<Next> {
        let Some(status) = self.tagged.clone() else { return Ok(next) };
        if !self.wants(When::After, &facts.verb) {
            return Ok(next);
        }
        facts.reply = Some(status_reply(&status));
        let outcome = self.fire(When::After, Some(&facts)).await;
        if outcome.verdict == Verdict::Okay {
            self.out.extend_from_slice(&outcome.sent);
            return Ok(next);
        }
        // Even failure replaces the tagged response while it is unsent: the
        // client is not told "OK" just before the BYE.
        if !self.take_back_tagged() && outcome.verdict != Verdict::Failure {
            tracing::warn!(target: "imap", "{}: an after-{} hook answered once the reply was sent; ignored", self.peer.ip(), facts.verb);
            return Ok(next);
        }
        let refused = matches!(&outcome.verdict, Verdict::Reply(r) if r.code >= 400) || outcome.verdict == Verdict::TempFail;
        if refused {
            self.undo(&before);
        }
        self.out.extend_from_slice(&outcome.sent);
        let answered = self.answer_verdict(&facts, outcome.verdict);
        Ok(if matches!(next, Next::Close) { Next::Close } else { answered })
    }

    /// A refused login logs out again; a refused select deselects.
    fn undo(&mut self, before: &LoginState) {
        let state = std::mem::replace(&mut self.state, State::NotAuthenticated);
        self.state = match state {
            _ if !before.authenticated => {
                self.letter_dir = None;
                State::NotAuthenticated
            }
            State::Selected(account, _) if !before.selected => State::Authenticated(account),
            other => other,
        };
    }

    /// A verdict other than okay, in IMAP words.
    fn answer_verdict(&mut self, facts: &CommandFacts, verdict: Verdict) -> Next {
        let tag = facts.tag.clone().unwrap_or_else(|| "*".into());
        match verdict {
            Verdict::Okay | Verdict::Ignore | Verdict::Folder(_) | Verdict::Discard => Next::Continue,
            Verdict::Failure => {
                self.line(&format!("* BYE {} closing connection", self.ctx.server_name));
                Next::Close
            }
            Verdict::Reply(r) => {
                let status = match r.code {
                    ..400 => format!("OK {}", clean(&r.text, "completed")),
                    400..500 => format!("NO [UNAVAILABLE] {}", clean(&r.text, "try again later")),
                    _ => format!("NO {}", clean(&r.text, "refused")),
                };
                self.tagged_line(&tag, &status);
                if r.code == 421 { Next::Close } else { Next::Continue }
            }
            Verdict::TempFail => {
                self.tagged_line(&tag, "NO [UNAVAILABLE] temporary failure, try again later");
                Next::Continue
            }
        }
    }
}

/// One line of a script's text, or `default` when it gave none.
fn clean(text: &str, default: &str) -> String {
    let text = crate::hooks::one_line(text);
    if text.is_empty() { default.to_string() } else { text }
}

fn mailbox_of(command: &Command) -> Option<String> {
    Some(match command {
        Command::Select { mailbox, .. } | Command::Examine { mailbox, .. } => mailbox.clone(),
        Command::Create(m) | Command::Delete(m) | Command::Subscribe(m) | Command::Unsubscribe(m) => m.clone(),
        Command::Rename { from, .. } => from.clone(),
        Command::Status { mailbox, .. } | Command::Append { mailbox, .. } => mailbox.clone(),
        Command::Copy { mailbox, .. } | Command::Move { mailbox, .. } => mailbox.clone(),
        _ => return None,
    })
}

/// A tagged status as a reply for after-hooks (see the module comment).
fn status_reply(status: &str) -> Reply {
    let (word, text) = status.split_once(' ').unwrap_or((status, ""));
    let code = match word {
        "OK" => 200,
        "NO" if text.starts_with("[UNAVAILABLE]") => 450,
        "NO" => 500,
        _ => 501,
    };
    Reply { code, text: text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::status_reply;

    #[test]
    fn tagged_statuses_map_to_codes() {
        assert_eq!(status_reply("OK LOGIN completed").code, 200);
        assert_eq!(status_reply("NO [AUTHENTICATIONFAILED] Authentication failed").code, 500);
        assert_eq!(status_reply("NO [UNAVAILABLE] later").code, 450);
        assert_eq!(status_reply("BAD Log in first").code, 501);
        assert_eq!(status_reply("OK LOGIN completed").text, "LOGIN completed");
    }
}
