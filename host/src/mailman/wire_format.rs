//! A stored message as it goes out after DATA, and what it contains.
//!
//! [`WireFormatter`] makes every line safe for the next hop, streaming:
//!
//! - Line ends: CRLF, bare LF and bare CR all end a line and go out as CRLF
//!   (RFC 5321 §2.3.8). A receiver that took `\r.\r` for the end of data
//!   would otherwise read the rest of our message as commands (SMTP
//!   smuggling); after this, such a "." is a line of its own and stuffed.
//! - Dot-stuffing (RFC 5321 §4.5.2): a line starting with "." gets another.
//! - Length: no line over 998 octets (RFC 5322 §2.1.1). A header line is
//!   folded before its last space or tab that fits, so unfolding gives the
//!   field back unchanged. A header line without one, and a body line, is
//!   broken with CRLF SPACE, as Postfix does (`smtp_line_length_limit`): the
//!   space keeps a header continuation valid and does the least harm to
//!   MIME parts (base64 decoders skip it).
//!
//! [`ContentScan`] says whether a message has 8-bit octets (so MAIL gets
//! `BODY=8BITMIME`) and whether its header does (so it needs SMTPUTF8 if
//! the client asked for it).

use std::io::{self, Read};
use std::path::Path;

/// Longest line content on the wire, CRLF excluded (RFC 5322 §2.1.1).
pub const MAX_LINE: usize = 998;

/// Streaming line repair for DATA; see the module documentation.
#[derive(Debug)]
pub struct WireFormatter {
    /// The current line as it will be sent (stuffing included), at most
    /// `MAX_LINE` octets; empty at the start of a line.
    line: Vec<u8>,
    /// A CR was seen; the next byte tells whether it was CRLF or bare.
    pending_cr: bool,
    /// Still in the header block (before the first empty line).
    in_header: bool,
}

impl Default for WireFormatter {
    fn default() -> Self {
        WireFormatter { line: Vec::with_capacity(MAX_LINE + 1), pending_cr: false, in_header: true }
    }
}

impl WireFormatter {
    /// Appends the wire form of `input` to `out`; input may be cut anywhere.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &byte in input {
            if std::mem::take(&mut self.pending_cr) {
                self.end_line(out);
                if byte == b'\n' {
                    continue; // CRLF: the line already ended
                }
            }
            match byte {
                b'\r' => self.pending_cr = true,
                b'\n' => self.end_line(out),
                _ => self.push(byte, out),
            }
        }
    }

    /// Ends the last line with CRLF if the message did not.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) || !self.line.is_empty() {
            self.end_line(out);
        }
    }

    fn push(&mut self, byte: u8, out: &mut Vec<u8>) {
        if self.line.is_empty() && byte == b'.' {
            self.line.push(b'.');
        }
        if self.line.len() >= MAX_LINE {
            self.break_line(out);
        }
        self.line.push(byte);
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        if self.line.is_empty() {
            self.in_header = false;
        }
        out.extend_from_slice(&self.line);
        out.extend_from_slice(b"\r\n");
        self.line.clear();
    }

    /// The line is full: send what fits and carry the rest on a
    /// continuation line, which starts with white space.
    fn break_line(&mut self, out: &mut Vec<u8>) {
        if self.in_header
            && let Some(at) = fold_point(&self.line)
        {
            out.extend_from_slice(&self.line[..at]);
            out.extend_from_slice(b"\r\n");
            self.line.drain(..at); // at >= 1, so there is room again
            return;
        }
        out.extend_from_slice(&self.line);
        out.extend_from_slice(b"\r\n");
        self.line.clear();
        self.line.push(b' ');
    }
}

/// Where a header line may be folded: before its last space or tab that
/// has something other than white space before it.
fn fold_point(line: &[u8]) -> Option<usize> {
    let is_wsp = |b: &u8| *b == b' ' || *b == b'\t';
    let first_text = line.iter().position(|b| !is_wsp(b))?;
    line.iter().rposition(is_wsp).filter(|&at| at > first_text)
}

/// What a message holds that the next hop must be told about.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Content {
    /// Some octet is 0x80 or above, anywhere.
    pub eight_bit: bool,
    /// Some octet of the header block is 0x80 or above (UTF-8 headers).
    pub header_eight_bit: bool,
}

/// Streaming scan for [`Content`].
#[derive(Debug)]
pub struct ContentScan {
    content: Content,
    in_header: bool,
    /// The current header line has something besides CR.
    line_has_text: bool,
}

impl Default for ContentScan {
    fn default() -> Self {
        ContentScan { content: Content::default(), in_header: true, line_has_text: false }
    }
}

impl ContentScan {
    pub fn feed(&mut self, input: &[u8]) {
        let mut rest = input;
        while self.in_header && !rest.is_empty() {
            let byte = rest[0];
            rest = &rest[1..];
            if byte >= 0x80 {
                self.content.eight_bit = true;
                self.content.header_eight_bit = true;
            }
            match byte {
                b'\n' if !self.line_has_text => self.in_header = false,
                b'\n' => self.line_has_text = false,
                b'\r' => {}
                _ => self.line_has_text = true,
            }
        }
        if !self.content.eight_bit && rest.iter().any(|&b| b >= 0x80) {
            self.content.eight_bit = true;
        }
    }

    pub fn content(&self) -> Content {
        self.content
    }
}

/// Reads the message at `path` once and reports its [`Content`].
pub fn scan_file(path: &Path) -> io::Result<Content> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut scan = ContentScan::default();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(scan.content());
        }
        scan.feed(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut f = WireFormatter::default();
        f.feed(input, &mut out);
        f.finish(&mut out);
        let mut bytewise = Vec::new();
        let mut f = WireFormatter::default();
        for b in input {
            f.feed(std::slice::from_ref(b), &mut bytewise);
        }
        f.finish(&mut bytewise);
        assert_eq!(out, bytewise, "chunking changed the output");
        out
    }

    fn lines(wire: &[u8]) -> Vec<&[u8]> {
        let body = wire.strip_suffix(b"\r\n").unwrap_or(wire);
        body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
    }

    #[test]
    fn every_line_end_becomes_crlf_and_stray_dots_are_stuffed() {
        let got = wire(b"S: x\r\n\r\nfirst\r.\rMAIL FROM:<a@b>\rDATA\nlast\r\n.\r\n");
        assert_eq!(got, b"S: x\r\n\r\nfirst\r\n..\r\nMAIL FROM:<a@b>\r\nDATA\r\nlast\r\n..\r\n");
        assert_eq!(wire(b"a\r"), b"a\r\n");
        assert_eq!(wire(b"a"), b"a\r\n");
        assert_eq!(wire(b""), b"");
        assert_eq!(wire(b"\r\r\n\n"), b"\r\n\r\n\r\n");
    }

    #[test]
    fn long_body_lines_are_broken_with_a_space() {
        let body = vec![b'x'; 2500];
        let msg = [b"S: x\r\n\r\n".as_slice(), &body, b"\r\n"].concat();
        let got = wire(&msg);
        let ls = lines(&got);
        assert!(ls.iter().all(|l| l.len() <= MAX_LINE), "{:?}", ls.iter().map(|l| l.len()).collect::<Vec<_>>());
        assert_eq!(ls[2].len(), MAX_LINE);
        assert_eq!(ls[3][0], b' ');
        let rejoined: Vec<u8> = ls[2..].iter().enumerate().flat_map(|(i, l)| if i == 0 { &l[..] } else { &l[1..] }).copied().collect();
        assert_eq!(rejoined, body);
    }

    #[test]
    fn long_header_lines_fold_at_white_space() {
        let value: String = (0..400).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        let msg = format!("X-Long: {value}\r\nSubject: s\r\n\r\nbody\r\n");
        let got = wire(msg.as_bytes());
        let text = String::from_utf8(got).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= MAX_LINE));
        let unfolded = text.replace("\r\n ", " ");
        assert_eq!(unfolded, msg, "unfolding must give the field back");
        assert!(text.matches("\r\n ").count() >= 2);
    }

    #[test]
    fn a_header_without_white_space_is_broken_like_a_body_line() {
        let msg = format!("X-Token: {}\r\n\r\n", "t".repeat(1500));
        let text = String::from_utf8(wire(msg.as_bytes())).unwrap();
        assert!(text.split("\r\n").all(|l| l.len() <= MAX_LINE));
        // folded once after "X-Token:", then broken with CRLF SPACE
        assert_eq!(text.replace("\r\n ", "").replace(' ', ""), msg.replace(' ', ""));
    }

    #[test]
    fn a_stuffed_dot_counts_toward_the_limit() {
        let msg = [b".".as_slice(), &[b'y'; MAX_LINE]].concat();
        let got = wire(&[b"\r\n".as_slice(), &msg].concat());
        assert!(lines(&got).iter().all(|l| l.len() <= MAX_LINE));
    }

    fn scan(input: &[u8]) -> Content {
        let mut s = ContentScan::default();
        for chunk in input.chunks(3) {
            s.feed(chunk);
        }
        s.content()
    }

    #[test]
    fn content_scan_tells_header_from_body() {
        assert_eq!(scan(b"S: plain\r\n\r\nplain\r\n"), Content::default());
        assert_eq!(scan("S: plain\r\n\r\ncaf\u{e9}\r\n".as_bytes()), Content { eight_bit: true, header_eight_bit: false });
        assert_eq!(scan("S: caf\u{e9}\r\n\r\nplain\r\n".as_bytes()), Content { eight_bit: true, header_eight_bit: true });
        assert_eq!(scan("S: a\n\ncaf\u{e9}".as_bytes()), Content { eight_bit: true, header_eight_bit: false });
    }
}
