//! Formatting IMAP response data: strings (quoted or literal), flag lists,
//! dates. RFC 3501 §4 and §9.

use super::command::Flag;
use crate::store::mailbox::{Letter, flags};

/// A string as IMAP data: quoted when it can be, a literal otherwise (CR,
/// LF, NUL, 8-bit, or very long).
pub fn string(s: &str) -> String {
    let quotable = s.len() < 1024 && s.bytes().all(|b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n');
    if quotable {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    } else {
        format!("{{{}}}\r\n{s}", s.len())
    }
}

/// Bytes as a literal (message data in FETCH).
pub fn literal(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// `(\Seen \Flagged $Forwarded)`; \Recent only when this session sees it.
pub fn flag_list(letter: &Letter, recent: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (bit, name) in SYSTEM_FLAGS {
        if letter.flags & bit != 0 {
            parts.push(name.into());
        }
    }
    if recent {
        parts.push("\\Recent".into());
    }
    parts.extend(letter.keywords.split(' ').filter(|k| !k.is_empty()).map(String::from));
    format!("({})", parts.join(" "))
}

const SYSTEM_FLAGS: [(i64, &str); 5] = [
    (flags::SEEN, "\\Seen"),
    (flags::ANSWERED, "\\Answered"),
    (flags::FLAGGED, "\\Flagged"),
    (flags::DELETED, "\\Deleted"),
    (flags::DRAFT, "\\Draft"),
];

/// Rumble's flag bits and the keywords named in a STORE or APPEND.
pub fn split_flags(list: &[Flag]) -> (i64, Vec<String>) {
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in list {
        match f {
            Flag::Seen => bits |= flags::SEEN,
            Flag::Answered => bits |= flags::ANSWERED,
            Flag::Flagged => bits |= flags::FLAGGED,
            Flag::Deleted => bits |= flags::DELETED,
            Flag::Draft => bits |= flags::DRAFT,
            Flag::Recent | Flag::Extension(_) => {}
            Flag::Keyword(k) => keywords.push(k.clone()),
        }
    }
    (bits, keywords)
}

/// INTERNALDATE: `"24-Nov-2026 21:00:00 +0000"`.
pub fn internal_date(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("\"[day]-[month repr:short]-[year] [hour]:[minute]:[second] +0000\"");
    t.format(f).unwrap_or_else(|_| "\"01-Jan-1970 00:00:00 +0000\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quote_or_become_literals() {
        assert_eq!(string("INBOX"), "\"INBOX\"");
        assert_eq!(string("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
        assert_eq!(string("caf\u{e9}"), "{5}\r\ncaf\u{e9}");
        assert_eq!(string("two\r\nlines"), "{10}\r\ntwo\r\nlines");
    }

    #[test]
    fn flags_and_dates() {
        let l = Letter {
            id: 1,
            folder: 1,
            uid: 1,
            fid: "x".into(),
            size: 1,
            internaldate: 1_795_000_000,
            flags: flags::SEEN | flags::DELETED | flags::RECENT,
            keywords: "$Forwarded Junk".into(),
            modseq: 1,
        };
        assert_eq!(flag_list(&l, true), "(\\Seen \\Deleted \\Recent $Forwarded Junk)");
        assert_eq!(split_flags(&[Flag::Seen, Flag::Keyword("$X".into())]), (flags::SEEN, vec!["$X".to_string()]));
        assert_eq!(internal_date(0), "\"01-Jan-1970 00:00:00 +0000\"");
    }
}
