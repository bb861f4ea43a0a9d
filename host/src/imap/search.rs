//! SEARCH (RFC 3501 §6.4.4) with CONDSTORE's MODSEQ: every key, evaluated
//! against the session's view. Flags, sizes, dates and UIDs come from the
//! store; header and body keys read the letter file (only when a key needs
//! it), match case-insensitively as substrings, on RFC 2047-decoded headers
//! and transfer-decoded text parts.

use std::collections::HashMap;

use super::command::SearchKey;
use super::cache::Cached;
use super::mime;
use super::session::Session;
use crate::store::mailbox::{Letter, flags};

/// What one message offers to a search.
struct Candidate<'a> {
    seq: u32,
    max_seq: u32,
    max_uid: u32,
    letter: &'a Letter,
    recent: bool,
    message: Option<&'a Cached>,
}

impl Session {
    pub(super) async fn search(&mut self, tag: &str, criteria: &SearchKey, uid: bool) -> std::io::Result<()> {
        let needs_file = reads_message(criteria);
        let dir = match self.letter_dir().await {
            Ok(d) => d,
            Err(e) => {
                self.answer(tag, "SEARCH", Err(e));
                return Ok(());
            },
        };
        if uses_modseq(criteria) {
            self.condstore = true;
        }
        let view = self.view();
        let (folder, recent) = (view.folder.id, view.recent.clone());
        let uids = view.uids.clone();
        let mut letters: HashMap<i64, Letter> = match self.ctx.store.letters(folder).await {
            Ok(all) => all.into_iter().map(|l| (l.uid, l)).collect(),
            Err(e) => {
                self.answer(tag, "SEARCH", Err(e));
                return Ok(());
            }
        };
        let max_seq = uids.len() as u32;
        let max_uid = uids.last().map_or(0, |u| u as u32);
        let mut found = Vec::new();
        let mut highest = 0;
        for (i, known) in uids.iter().enumerate() {
            // Expunged but not yet told: it matches nothing.
            let Some(letter) = letters.remove(&known) else { continue };
            let cached = if needs_file { self.letter_file(&dir, &letter.fid).await.ok() } else { None };
            let c = Candidate {
                seq: i as u32 + 1,
                max_seq,
                max_uid,
                letter: &letter,
                recent: recent.contains(&letter.uid),
                message: cached.as_deref(),
            };
            if matches(criteria, &c) {
                found.push(if uid { letter.uid as u32 } else { c.seq });
                highest = highest.max(letter.modseq);
            }
        }
        let mut line = String::from("* SEARCH");
        for n in &found {
            line.push_str(&format!(" {n}"));
        }
        if uses_modseq(criteria) && !found.is_empty() {
            line.push_str(&format!(" (MODSEQ {highest})"));
        }
        self.line(&line);
        self.sync(false).await?;
        self.ok(tag, "SEARCH completed");
        Ok(())
    }
}

fn reads_message(key: &SearchKey) -> bool {
    use SearchKey::*;
    match key {
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | Subject(_) | Text(_) | To(_) | SentBefore(_) | SentOn(_) | SentSince(_) => true,
        Not(k) => reads_message(k),
        Or(a, b) => reads_message(a) || reads_message(b),
        And(keys) => keys.iter().any(reads_message),
        _ => false,
    }
}

fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        _ => false,
    }
}

fn matches(key: &SearchKey, c: &Candidate) -> bool {
    use SearchKey::*;
    let has = |bit: i64| c.letter.flags & bit != 0;
    let day = |unix: i64| unix.div_euclid(86_400);
    let message: &[u8] = c.message.map_or(&[], |m| &m.bytes);
    match key {
        All => true,
        Answered => has(flags::ANSWERED),
        Deleted => has(flags::DELETED),
        Draft => has(flags::DRAFT),
        Flagged => has(flags::FLAGGED),
        Seen => has(flags::SEEN),
        Unanswered => !has(flags::ANSWERED),
        Undeleted => !has(flags::DELETED),
        Undraft => !has(flags::DRAFT),
        Unflagged => !has(flags::FLAGGED),
        Unseen => !has(flags::SEEN),
        Recent => c.recent,
        New => c.recent && !has(flags::SEEN),
        Old => !c.recent,
        Keyword(k) => has_keyword(c.letter, k),
        Unkeyword(k) => !has_keyword(c.letter, k),
        Larger(n) => c.letter.size > i64::from(*n),
        Smaller(n) => c.letter.size < i64::from(*n),
        Before(d) => day(c.letter.internaldate) < d.days_since_epoch(),
        On(d) => day(c.letter.internaldate) == d.days_since_epoch(),
        Since(d) => day(c.letter.internaldate) >= d.days_since_epoch(),
        SentBefore(d) => sent_day(message).is_some_and(|s| s < d.days_since_epoch()),
        SentOn(d) => sent_day(message).is_some_and(|s| s == d.days_since_epoch()),
        SentSince(d) => sent_day(message).is_some_and(|s| s >= d.days_since_epoch()),
        Bcc(s) => address_contains(c.message, "Bcc", s),
        Cc(s) => address_contains(c.message, "Cc", s),
        From(s) => address_contains(c.message, "From", s),
        To(s) => address_contains(c.message, "To", s),
        Subject(s) => header_contains(c.message, "Subject", s),
        // An empty value matches every message that has the field (RFC 3501).
        Header(name, s) => header_contains(c.message, name, s),
        Body(s) => c.message.is_some_and(|m| contains(m.text(), s)),
        Text(s) => contains(&String::from_utf8_lossy(message), s) || c.message.is_some_and(|m| contains(m.text(), s)),
        Uid(set) => set.contains(c.letter.uid as u32, c.max_uid),
        SequenceSet(set) => set.contains(c.seq, c.max_seq),
        ModSeq(m) => c.letter.modseq as u64 >= *m,
        Not(k) => !matches(k, c),
        Or(a, b) => matches(a, c) || matches(b, c),
        And(keys) => keys.iter().all(|k| matches(k, c)),
    }
}

fn has_keyword(letter: &Letter, keyword: &str) -> bool {
    letter.keywords.split(' ').any(|k| k.eq_ignore_ascii_case(keyword))
}

fn header_contains(message: Option<&Cached>, name: &str, needle: &str) -> bool {
    message.is_some_and(|m| m.header(name).iter().any(|v| contains(v, needle)))
}

/// An address field matches as written or as read without its comments
/// and the white space CFWS allows: `<ann (work)@ (x) example.org>` is
/// found by `ann@example.org`.
fn address_contains(message: Option<&Cached>, name: &str, needle: &str) -> bool {
    message.is_some_and(|m| m.header(name).iter().any(|v| contains(v, needle) || contains(&without_comments(v), needle)))
}

/// RFC 5322 §3.2.2: comments dropped (nested, with quoted pairs, never
/// inside quoted strings), runs of white space made one, and none left
/// next to `@`, `.`, `<` or `>`.
fn without_comments(value: &str) -> String {
    let (mut out, mut depth, mut quoted, mut escaped) = (String::with_capacity(value.len()), 0u32, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    let mut squeezed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for (spaced, tight) in [(" @", "@"), ("@ ", "@"), (" .", "."), (". ", "."), ("< ", "<"), (" >", ">")] {
        while squeezed.contains(spaced) {
            squeezed = squeezed.replace(spaced, tight);
        }
    }
    squeezed
}

fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// The Date: header's day (in its own time zone, as RFC 3501 asks).
fn sent_day(message: &[u8]) -> Option<i64> {
    let (unix, offset) = mime::sent_date_with_offset(message)?;
    Some((unix + i64::from(offset)).div_euclid(86_400))
}

#[cfg(test)]
mod tests {
    use super::without_comments;

    #[test]
    fn address_comments_are_dropped() {
        assert_eq!(without_comments("<user-from (comment)@ (comment) domain.org>"), "<user-from@domain.org>");
        assert_eq!(without_comments("Ann (the (nested) one) <ann @ x . org>"), "Ann <ann@x.org>");
        assert_eq!(without_comments("\"a (not a comment)\" <b@c>"), "\"a (not a comment)\" <b@c>");
        assert_eq!(without_comments("x (esc \\) still) <y@z>"), "x <y@z>");
    }
}
