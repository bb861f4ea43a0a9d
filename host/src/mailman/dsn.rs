//! Delivery status notifications (bounces and delay warnings) in the
//! RFC 3464 format, wrapped in RFC 6522 multipart/report.
//!
//! Machines read the `message/delivery-status` part; people read the
//! text part. Both are generated from the same [`Failure`] list so they
//! cannot disagree.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// What happened to a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Given up: the message will not be delivered.
    Failed,
    /// Still being retried; this is a warning.
    Delayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
        }
    }
}

/// One recipient's entry in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub recipient: String,
    /// The ORCPT parameter, "rfc822;addr" or a bare address.
    pub original_recipient: Option<String>,
    pub action: Action,
    /// Enhanced status code, e.g. "5.1.1" (see [`status_from_reply`]).
    pub status: String,
    /// The host that gave the diagnostic, if one answered.
    pub remote_mta: Option<String>,
    /// Raw reply or local explanation, e.g. "550 5.1.1 No such user".
    pub diagnostic: Option<String>,
    /// Unix time of the last delivery attempt.
    pub last_attempt: Option<i64>,
}

/// Everything needed to write one DSN.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// Our host name (ServerName); also the MAILER-DAEMON domain.
    pub reporting_mta: &'a str,
    /// The envelope sender of the failed message; the DSN goes there.
    pub original_sender: &'a str,
    /// The ENVID parameter given at MAIL FROM, if any.
    pub envid: Option<&'a str>,
    /// Unix time the message was received.
    pub arrival: i64,
    pub failures: &'a [Failure],
    /// The returned message: its headers, or the whole of it.
    pub original_headers: &'a [u8],
    /// Return the whole message (RET=FULL) instead of headers only.
    pub return_full: bool,
}

/// Preferred header and text width (RFC 5322 §2.1.1).
const WIDTH: usize = 78;
/// Longest piece of one word on a line, safely under the 998 limit.
const MAX_WORD: usize = 900;

/// Builds the whole DSN message with CRLF line ends, ready to queue with
/// a null envelope sender.
///
/// When `return_full` is set and the original has 8-bit data, the
/// returned part is labelled 8bit, so the DSN needs 8BITMIME transport
/// like the original did. UTF-8 addresses are written as they are
/// (RFC 6533's global DSN types are not used).
pub fn build(report: &Report<'_>) -> Vec<u8> {
    let parts = [
        notification(report),
        delivery_status(report),
        returned(report),
    ];
    let boundary = boundary(&parts);
    let mut out = top_headers(report, &boundary).into_bytes();
    out.extend_from_slice(b"\r\nThis is a MIME-encapsulated message.\r\n");
    for (headers, body) in &parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n{headers}\r\n").as_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The enhanced status code from a reply such as "550 5.1.1 No such
/// user", when it is there and agrees with `permanent`; otherwise the
/// generic "5.0.0" or "4.0.0".
pub fn status_from_reply(reply: &str, permanent: bool) -> String {
    let class = if permanent { '5' } else { '4' };
    let trimmed = reply.trim_start();
    let rest = match trimmed.get(..3) {
        Some(code) if code.bytes().all(|b| b.is_ascii_digit()) => trimmed.get(4..).unwrap_or(""),
        _ => trimmed,
    };
    match rest.split_whitespace().next() {
        Some(word) if is_status(word, class) => word.to_string(),
        _ => format!("{class}.0.0"),
    }
}

/// The header block of a message, up to and including the blank line that
/// ends it; all of `message` when there is none.
pub fn headers_of(message: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < message.len() {
        let rest = &message[start..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(message.len(), |i| start + i + 1);
        let line = &message[start..end];
        if line == b"\n" || line == b"\r\n" {
            return &message[..end];
        }
        start = end;
    }
    message
}

/// "class.subject.detail" with 1-3 digit subject and detail (RFC 3463).
fn is_status(word: &str, class: char) -> bool {
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = word.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(subject), Some(detail), None) => {
            c.len() == 1 && c.starts_with(class) && digits(subject) && digits(detail)
        }
        _ => false,
    }
}

/// True when every recipient is only delayed, making this a warning.
fn all_delayed(report: &Report<'_>) -> bool {
    !report.failures.is_empty() && report.failures.iter().all(|f| f.action == Action::Delayed)
}

fn top_headers(report: &Report<'_>, boundary: &str) -> String {
    let mta = clean(report.reporting_mta);
    let subject = if all_delayed(report) {
        "Delayed Mail (still being retried)"
    } else {
        "Undelivered Mail Returned to Sender"
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut h = String::new();
    h.push_str(&fold(
        "From:",
        &format!("Mail Delivery System <MAILER-DAEMON@{mta}>"),
        " ",
    ));
    h.push_str(&fold(
        "To:",
        &format!("<{}>", clean(report.original_sender)),
        " ",
    ));
    h.push_str(&format!("Subject: {subject}\r\n"));
    h.push_str(&format!("Date: {}\r\n", date(now)));
    h.push_str(&fold(
        "Message-ID:",
        &format!("<{now}.{}@{mta}>", token()),
        " ",
    ));
    h.push_str("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    h.push_str("Content-Type: multipart/report; report-type=delivery-status;\r\n");
    h.push_str(&format!("\tboundary=\"{boundary}\"\r\n"));
    h
}

/// The human-readable part: what happened, one paragraph per recipient.
fn notification(report: &Report<'_>) -> (String, Vec<u8>) {
    let mta = clean(report.reporting_mta);
    let mut text = format!("This is the mail system at host {mta}.\r\n\r\n");
    if all_delayed(report) {
        text.push_str(&fold("", "Your message could not be delivered yet to one or more recipients. The mail system will keep trying; you do not need to send it again.", ""));
    } else {
        let attached = if report.return_full {
            "It is"
        } else {
            "Its headers are"
        };
        let sorry = "I'm sorry to have to inform you that your message could not be delivered to one or more recipients.";
        text.push_str(&fold(
            "",
            &format!("{sorry} {attached} attached below."),
            "",
        ));
    }
    text.push_str("\r\n                   The mail system\r\n");
    for failure in report.failures {
        text.push_str("\r\n");
        text.push_str(&fold("", &explain(failure), "    "));
    }
    let headers = format!(
        "Content-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\n{}",
        encoding(text.as_bytes())
    );
    (headers, text.into_bytes())
}

/// "<rcpt>: host mx said: 550 ..." in the style people know from Postfix.
fn explain(failure: &Failure) -> String {
    let rcpt = clean(&failure.recipient);
    let delayed = if failure.action == Action::Delayed {
        " (delayed, still trying)"
    } else {
        ""
    };
    match (&failure.remote_mta, &failure.diagnostic) {
        (Some(host), Some(diag)) => format!(
            "<{rcpt}>{delayed}: host {} said: {}",
            clean(host),
            clean(diag)
        ),
        (None, Some(diag)) => format!("<{rcpt}>{delayed}: {}", clean(diag)),
        _ => format!(
            "<{rcpt}>{delayed}: delivery {} (status {})",
            failure.action.as_str(),
            clean(&failure.status)
        ),
    }
}

/// The machine-readable part (RFC 3464 §2.2 and §2.3).
fn delivery_status(report: &Report<'_>) -> (String, Vec<u8>) {
    let mut s = fold(
        "Reporting-MTA:",
        &format!("dns; {}", clean(report.reporting_mta)),
        " ",
    );
    if let Some(envid) = report.envid {
        s.push_str(&fold("Original-Envelope-Id:", &clean(envid), " "));
    }
    s.push_str(&format!("Arrival-Date: {}\r\n", date(report.arrival)));
    for f in report.failures {
        s.push_str("\r\n");
        s.push_str(&fold(
            "Final-Recipient:",
            &format!("rfc822; {}", clean(&f.recipient)),
            " ",
        ));
        if let Some(orig) = &f.original_recipient {
            let value = if orig.contains(';') {
                clean(orig)
            } else {
                format!("rfc822; {}", clean(orig))
            };
            s.push_str(&fold("Original-Recipient:", &value, " "));
        }
        s.push_str(&format!("Action: {}\r\n", f.action.as_str()));
        s.push_str(&fold("Status:", &clean(&f.status), " "));
        if let Some(host) = &f.remote_mta {
            s.push_str(&fold("Remote-MTA:", &format!("dns; {}", clean(host)), " "));
        }
        if let Some(diag) = &f.diagnostic {
            let value = format!("{}; {}", diagnostic_type(diag), clean(diag));
            s.push_str(&fold("Diagnostic-Code:", &value, " "));
        }
        if let Some(when) = f.last_attempt {
            s.push_str(&format!("Last-Attempt-Date: {}\r\n", date(when)));
        }
    }
    let headers = format!(
        "Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n{}",
        encoding(s.as_bytes())
    );
    (headers, s.into_bytes())
}

/// "smtp" for a remote reply ("550 ..."); for our own explanations (a
/// timeout, a refused connection) "X-Rumble", as Postfix uses "X-Postfix",
/// so readers do not mistake local text for something a server said.
fn diagnostic_type(diag: &str) -> &'static str {
    let code = diag.trim_start().get(..3).unwrap_or("");
    let is_reply = code.bytes().all(|b| b.is_ascii_digit()) && ("200".."600").contains(&code);
    if is_reply { "smtp" } else { "X-Rumble" }
}

/// The returned content: headers only, or the whole message.
fn returned(report: &Report<'_>) -> (String, Vec<u8>) {
    let (description, kind, content) = if report.return_full {
        (
            "Undelivered Message",
            "message/rfc822",
            report.original_headers,
        )
    } else {
        (
            "Undelivered Message Headers",
            "text/rfc822-headers",
            headers_of(report.original_headers),
        )
    };
    let body = crlf(content);
    let headers = format!(
        "Content-Description: {description}\r\nContent-Type: {kind}\r\n{}",
        encoding(&body)
    );
    (headers, body)
}

/// A Content-Transfer-Encoding header line when 8-bit data is present.
fn encoding(body: &[u8]) -> &'static str {
    if body.is_ascii() {
        ""
    } else {
        "Content-Transfer-Encoding: 8bit\r\n"
    }
}

/// Normalises bare LF to CRLF and makes the content end with CRLF.
fn crlf(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 32 + 2);
    let mut prev = 0u8;
    for &b in content {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(if prev == b'\r' { b"\n" } else { b"\r\n" });
    }
    out
}

/// Replaces control characters so remote text cannot inject header lines.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Writes `first value` as lines of at most WIDTH where words allow,
/// continuing with `indent` (which must be whitespace for header folding).
/// Words longer than MAX_WORD are split so no line passes 998 octets.
fn fold(first: &str, value: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut has_word = false;
    let mut space = !first.is_empty();
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        for piece in pieces(word) {
            if has_word && line.len() + 1 + piece.len() > WIDTH {
                out.push_str(&line);
                out.push_str("\r\n");
                line = indent.to_string();
                space = false;
            }
            if space {
                line.push(' ');
            }
            line.push_str(piece);
            has_word = true;
            space = true;
        }
    }
    out.push_str(&line);
    out.push_str("\r\n");
    out
}

/// Splits a word into pieces of at most MAX_WORD bytes on char boundaries.
fn pieces(word: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = word;
    while rest.len() > MAX_WORD {
        let mut cut = MAX_WORD;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        pieces.push(head);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// RFC 5322 date-time in UTC; the epoch if `unix` is out of range.
fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc2822).ok())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".into())
}

/// 16 hex digits that differ per call and per process.
fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_i128(OffsetDateTime::now_utc().unix_timestamp_nanos());
    format!("{:016x}", hasher.finish())
}

/// A boundary found in none of the parts ("=_" cannot occur in
/// quoted-printable or base64 text either).
fn boundary(parts: &[(String, Vec<u8>)]) -> String {
    loop {
        let candidate = format!("=_rumble_{}", token());
        let needle = candidate.as_bytes();
        let found = parts.iter().any(|(headers, body)| {
            headers.contains(&candidate) || body.windows(needle.len()).any(|w| w == needle)
        });
        if !found {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &[u8] =
        b"From: a@src.test\nTo: b@dest.test\r\nSubject: hello\n\nbody line\n--not a boundary\n";

    fn failure(rcpt: &str, action: Action, diag: Option<&str>) -> Failure {
        Failure {
            recipient: rcpt.into(),
            original_recipient: Some("rfc822;Orig@dest.test".into()),
            action,
            status: diag.map_or("5.0.0".into(), |d| {
                status_from_reply(d, action == Action::Failed)
            }),
            remote_mta: diag.map(|_| "mx.dest.test".into()),
            diagnostic: diag.map(String::from),
            last_attempt: Some(1_700_000_000),
        }
    }

    fn report<'a>(failures: &'a [Failure], full: bool) -> Report<'a> {
        Report {
            reporting_mta: "mail.src.test",
            original_sender: "a@src.test",
            envid: Some("ENV123"),
            arrival: 1_699_999_000,
            failures,
            original_headers: ORIGINAL,
            return_full: full,
        }
    }

    /// Splits a built DSN into (top headers, boundary, parts as (headers, body)).
    fn parse(msg: &str) -> (String, String, Vec<(String, String)>) {
        let (top, body) = msg.split_once("\r\n\r\n").unwrap();
        let boundary = top
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let closing = format!("\r\n--{boundary}--\r\n");
        assert!(body.ends_with(&closing), "missing closing boundary");
        let body = &body[..body.len() - closing.len()];
        let delimiter = format!("\r\n--{boundary}\r\n");
        let mut chunks = body.split(&delimiter);
        assert!(chunks.next().unwrap().contains("MIME-encapsulated"));
        let parts = chunks
            .map(|p| {
                let (h, b) = p.split_once("\r\n\r\n").unwrap();
                (h.to_string(), b.to_string())
            })
            .collect();
        (top.to_string(), boundary, parts)
    }

    fn no_bare_lf(bytes: &[u8]) -> bool {
        bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| b != b'\n' || (i > 0 && bytes[i - 1] == b'\r'))
    }

    #[test]
    fn bounce_structure() {
        let failures = [
            failure(
                "x@dest.test",
                Action::Failed,
                Some("550 5.1.1 No such user"),
            ),
            failure("y@dest.test", Action::Delayed, None),
        ];
        let out = build(&report(&failures, false));
        assert!(no_bare_lf(&out));
        let msg = String::from_utf8(out).unwrap();
        assert!(msg.lines().all(|l| l.len() <= 998));
        let (top, boundary, parts) = parse(&msg);
        assert!(top.contains("From: Mail Delivery System <MAILER-DAEMON@mail.src.test>\r\n"));
        assert!(top.contains("To: <a@src.test>\r\n"));
        assert!(top.contains("Subject: Undelivered Mail Returned to Sender\r\n"));
        assert!(top.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(
            top.contains("\r\nDate: ")
                && top.contains("Message-ID: <")
                && top.contains("@mail.src.test>")
        );
        assert!(top.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert_eq!(parts.len(), 3);
        assert!(
            parts[0]
                .0
                .contains("Content-Type: text/plain; charset=utf-8")
        );
        assert!(
            parts[0]
                .1
                .contains("<x@dest.test>: host mx.dest.test said: 550 5.1.1 No such user")
        );
        assert!(parts[0].1.contains("<y@dest.test> (delayed, still trying)"));
        assert!(parts[1].0.contains("Content-Type: message/delivery-status"));
        let status = &parts[1].1;
        assert!(status.starts_with(
            "Reporting-MTA: dns; mail.src.test\r\nOriginal-Envelope-Id: ENV123\r\nArrival-Date: "
        ));
        let groups: Vec<&str> = status.trim_end().split("\r\n\r\n").collect();
        assert_eq!(groups.len(), 3);
        assert!(groups[1].starts_with("Final-Recipient: rfc822; x@dest.test\r\n"));
        assert!(groups[1].contains("Original-Recipient: rfc822;Orig@dest.test\r\n"));
        assert!(
            groups[1]
                .contains("Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.dest.test\r\n")
        );
        assert!(groups[1].contains("Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"));
        assert!(groups[1].contains("Last-Attempt-Date: Tue, 14 Nov 2023 22:13:20 +0000"));
        assert!(groups[2].contains("Action: delayed\r\nStatus: 5.0.0"));
        assert!(!groups[2].contains("Diagnostic-Code"));
        assert!(parts[2].0.contains("Content-Type: text/rfc822-headers"));
        assert_eq!(
            parts[2].1,
            "From: a@src.test\r\nTo: b@dest.test\r\nSubject: hello\r\n\r\n"
        );
        assert!(!msg.contains("body line"));
        assert_eq!(msg.matches(&format!("--{boundary}")).count(), 4);
    }

    #[test]
    fn full_return_and_delayed_subject() {
        let failures = [failure(
            "x@dest.test",
            Action::Delayed,
            Some("451 4.2.1 later"),
        )];
        let out = build(&report(&failures, true));
        assert!(no_bare_lf(&out));
        let msg = String::from_utf8(out).unwrap();
        let (top, _, parts) = parse(&msg);
        assert!(top.contains("Subject: Delayed Mail (still being retried)\r\n"));
        assert!(parts[1].1.contains("Status: 4.2.1\r\n"));
        assert!(parts[2].0.contains("Content-Type: message/rfc822"));
        assert!(parts[2].1.ends_with("body line\r\n--not a boundary\r\n"));
    }

    #[test]
    fn long_diagnostics_are_folded() {
        let long = format!("550 5.7.1 {} {}", "word ".repeat(60), "x".repeat(2000));
        let failures = [failure("x@dest.test", Action::Failed, Some(&long))];
        let msg = String::from_utf8(build(&report(&failures, false))).unwrap();
        assert!(msg.split("\r\n").all(|l| l.len() <= 998));
        let (_, _, parts) = parse(&msg);
        let diag = parts[1].1.split("Diagnostic-Code:").nth(1).unwrap();
        let continuation = diag.split("\r\n").nth(1).unwrap();
        assert!(
            continuation.starts_with(' '),
            "folded lines start with whitespace"
        );
    }

    #[test]
    fn header_injection_is_neutralised() {
        let failures = [failure(
            "x@dest.test",
            Action::Failed,
            Some("550 bad\r\nX-Evil: yes"),
        )];
        let msg = String::from_utf8(build(&report(&failures, false))).unwrap();
        assert!(!msg.contains("\r\nX-Evil"));
    }

    #[test]
    fn local_diagnostics_are_not_smtp() {
        assert_eq!(diagnostic_type("550 5.1.1 no"), "smtp");
        assert_eq!(diagnostic_type("connection timed out"), "X-Rumble");
        assert_eq!(
            diagnostic_type("5.6.7 mx does not support SMTPUTF8"),
            "X-Rumble"
        );
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_from_reply("550 5.1.1 No such user", true), "5.1.1");
        assert_eq!(
            status_from_reply("550-5.7.26 unauthenticated", true),
            "5.7.26"
        );
        assert_eq!(status_from_reply("451 4.7.1 greylisted", false), "4.7.1");
        assert_eq!(status_from_reply("550 4.1.1 inconsistent", true), "5.0.0");
        assert_eq!(status_from_reply("554 rejected", true), "5.0.0");
        assert_eq!(status_from_reply("421 try later", false), "4.0.0");
        assert_eq!(
            status_from_reply("5.6.7 mx does not support SMTPUTF8", true),
            "5.6.7"
        );
        assert_eq!(status_from_reply("", false), "4.0.0");
    }

    #[test]
    fn header_block() {
        assert_eq!(
            headers_of(b"A: 1\r\nB: 2\r\n\r\nbody\r\n"),
            b"A: 1\r\nB: 2\r\n\r\n"
        );
        assert_eq!(headers_of(b"A: 1\nB: 2\n\nbody\n"), b"A: 1\nB: 2\n\n");
        assert_eq!(headers_of(b"A: 1\r\nB: 2"), b"A: 1\r\nB: 2");
        assert_eq!(headers_of(b"\r\nbody"), b"\r\n");
        assert_eq!(headers_of(b""), b"");
    }

    #[test]
    fn boundary_avoids_content() {
        let parts = [(String::new(), b"--=_rumble_".to_vec())];
        let b = boundary(&parts);
        assert!(b.starts_with("=_rumble_") && b.len() > "=_rumble_".len());
        assert_ne!(token(), token());
    }
}
