//! `deliver` hooks: before a message is stored for a local recipient,
//! scripts may choose its folder, add flags and keywords, discard it, or
//! refuse it (5xx bounces, 4xx and failures retry later).

use std::sync::Arc;

use super::Mailman;
use super::outcome::Outcome;
use crate::hooks::{HookCall, MessageFacts, SessionFacts, Verdict, When};
use crate::store::mailbox::flags;
use crate::store::queue::QueueItem;
use crate::store::spool;

/// Where and how a letter is stored.
pub(super) struct Placement {
    pub folder: String,
    /// Flag bits besides \Recent.
    pub flags: i64,
    pub keywords: Vec<String>,
}

impl Default for Placement {
    fn default() -> Placement {
        Placement { folder: "INBOX".into(), flags: 0, keywords: Vec::new() }
    }
}

/// What the deliver hooks decided.
pub(super) enum Decision {
    Store(Placement),
    /// Settle the row without storing (discarded, bounced or retried).
    Settle(Outcome),
}

impl Mailman {
    pub(super) async fn deliver_hooks(&self, item: &QueueItem, account: i64) -> Decision {
        if !self.hooks.wants("mailman", When::Deliver, "") {
            return Decision::Store(Placement::default());
        }
        let path = spool::spool_path(&self.cfg.storage, &item.fid);
        let size = tokio::fs::metadata(&path).await.map(|m| m.len()).unwrap_or(0);
        let message = Arc::new(MessageFacts { path, size, delivery: Some((item.recipient.clone(), account)), ..MessageFacts::default() });
        let session = SessionFacts {
            service: "mailman".into(),
            sender: Some(item.sender.clone()),
            recipients: vec![item.recipient.clone()],
            ..SessionFacts::default()
        };
        let notes = Arc::default();
        let call = HookCall { when: When::Deliver, session: &session, command: None, message: Some(message.clone()), notes: &notes, io: None };
        let verdict = self.hooks.run(call).await.verdict;
        let added = std::mem::take(&mut *message.flags.lock().unwrap_or_else(|e| e.into_inner()));
        decide(verdict, added, &item.recipient)
    }
}

fn decide(verdict: Verdict, added: Vec<String>, recipient: &str) -> Decision {
    let mut place = Placement::default();
    for flag in added {
        match flag.to_ascii_lowercase().as_str() {
            "\\seen" => place.flags |= flags::SEEN,
            "\\flagged" => place.flags |= flags::FLAGGED,
            "\\answered" => place.flags |= flags::ANSWERED,
            "\\draft" => place.flags |= flags::DRAFT,
            _ if !place.keywords.contains(&flag) => place.keywords.push(flag),
            _ => {}
        }
    }
    match verdict {
        Verdict::Okay | Verdict::Ignore => Decision::Store(place),
        Verdict::Folder(name) => match crate::imap::mailbox_name::check(&name, '/') {
            Ok(()) if !name.eq_ignore_ascii_case("inbox") => Decision::Store(Placement { folder: name, ..place }),
            Ok(()) => Decision::Store(place),
            Err(why) => {
                tracing::warn!(target: "mailman", "deliver hook chose folder {name:?} for {recipient}: {why}; stored in INBOX");
                Decision::Store(place)
            }
        },
        Verdict::Discard => {
            tracing::info!(target: "mailman", "a deliver hook discarded the message for {recipient}");
            Decision::Settle(Outcome::Delivered)
        }
        Verdict::Reply(r) if r.code >= 500 => {
            let (status, text) = split_status(&r.text, "5.7.1");
            Decision::Settle(Outcome::permanent(&status, format!("{} {text}", r.code), None))
        }
        Verdict::Reply(r) if r.code < 400 => Decision::Store(place),
        Verdict::Reply(r) => {
            let (status, text) = split_status(&r.text, "4.7.1");
            Decision::Settle(Outcome::Temporary(format!("{status} {text}")))
        }
        Verdict::Failure | Verdict::TempFail => {
            Decision::Settle(Outcome::Temporary("4.3.0 a deliver hook failed; will retry".into()))
        }
    }
}

/// The outcome of a row whose reply a message hook decided (`550 5.7.1
/// text`): 5xx bounces, anything else waits for the next try, where it is
/// delivered as usual (and deliver hooks run).
pub(super) fn decided_outcome(reply: &str) -> Outcome {
    let (code, text) = reply.split_once(' ').unwrap_or((reply, ""));
    if code.starts_with('5') {
        let (status, text) = split_status(text, "5.7.1");
        Outcome::permanent(&status, format!("{code} {text}"), None)
    } else {
        let (status, text) = split_status(text, "4.7.1");
        Outcome::Temporary(format!("{status} {text}"))
    }
}

/// `5.7.1 text` -> ("5.7.1", "text"); a text without a status gets `default`.
fn split_status(text: &str, default: &str) -> (String, String) {
    let text = text.trim();
    match text.split_once(' ') {
        Some((code, rest)) if super::super::smtp::is_enhanced_code(code) => (code.to_string(), rest.to_string()),
        _ if super::super::smtp::is_enhanced_code(text) => (text.to_string(), String::new()),
        _ => (default.to_string(), if text.is_empty() { "refused by a deliver hook".to_string() } else { text.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Reply;

    #[test]
    fn verdicts_become_placements_and_outcomes() {
        let flags_and_keywords = vec!["\\Flagged".to_string(), "$Junk".to_string(), "$Junk".to_string()];
        match decide(Verdict::Folder("Junk".into()), flags_and_keywords, "a@b.c") {
            Decision::Store(p) => {
                assert_eq!((p.folder.as_str(), p.flags, p.keywords), ("Junk", flags::FLAGGED, vec!["$Junk".to_string()]));
            }
            Decision::Settle(_) => panic!("stored"),
        }
        assert!(matches!(decide(Verdict::Folder("../x".into()), vec![], "a@b.c"), Decision::Store(p) if p.folder == "INBOX"));
        assert!(matches!(decide(Verdict::Discard, vec![], "a@b.c"), Decision::Settle(Outcome::Delivered)));
        let bounce = decide(Verdict::Reply(Reply { code: 550, text: "5.2.2 over quota".into() }), vec![], "a@b.c");
        assert!(matches!(bounce, Decision::Settle(Outcome::Permanent { status, .. }) if status == "5.2.2"));
        let retry = decide(Verdict::Reply(Reply { code: 451, text: String::new() }), vec![], "a@b.c");
        assert!(matches!(retry, Decision::Settle(Outcome::Temporary(t)) if t.starts_with("4.7.1")));
    }

    #[test]
    fn decided_replies_become_outcomes() {
        let bounce = decided_outcome("550 5.7.2 not for us");
        assert!(matches!(bounce, Outcome::Permanent { status, diagnostic, .. } if status == "5.7.2" && diagnostic == "550 not for us"));
        assert!(matches!(decided_outcome("550 refused by a message hook"), Outcome::Permanent { status, .. } if status == "5.7.1"));
        assert!(matches!(decided_outcome("451 4.3.0 a message hook failed"), Outcome::Temporary(t) if t == "4.3.0 a message hook failed"));
    }
}
