//! The DATA phase as pure state machines over byte slices, with no I/O, so
//! the server can feed whatever it has read (RFC 5321 §4.1.1.4, §4.5.2).
//!
//! - [`DataReader`] (inbound): removes dot-stuffing, finds the end marker,
//!   normalises line endings to CRLF, counts octets against a size limit and
//!   reports, without rejecting, what the server may want to refuse.
//! - [`dot_stuff`] (outbound): the client side of the same transparency rule.
//!
//! The original server did no dot-unstuffing, had no size limit on DATA and
//! missed the end marker after bare-LF lines (rumble-original.md §6.1, §7).
//!
//! # Bare LF policy
//!
//! RFC 5321 §2.3.8 allows CR and LF only as a CRLF pair. In practice some
//! clients send bare LF, and a receiver that disagrees with the sending MTA
//! about where a line or the message ends is open to SMTP smuggling
//! (CVE-2023-51764 and relatives): bytes the sender saw as message content
//! are read by the receiver as new SMTP commands. The policy here never
//! loses the end of the data and never silently guesses:
//!
//! - A bare LF ends a line: it is written to the output as CRLF and counted
//!   in [`DataReader::bare_lf_seen`].
//! - A line holding only "." ends the data whatever its line endings, so a
//!   client that sends only bare LFs does not hang the session.
//! - If that end line, or the line ending just before it, was a bare LF,
//!   [`DataReader::bare_lf_end`] is true. The server MUST then treat the
//!   bytes after the marker as untrustworthy: reject the message and close
//!   the connection instead of reading more commands (chasquid, for one,
//!   closes the connection on any bare LF in DATA).
//! - A bare CR is ordinary data (it never ends a line).
//!
//! # Other reports
//!
//! - Size: octets are counted as stored (unstuffed, CRLF line endings, end
//!   marker excluded), which is how RFC 1870 defines message size. Past the
//!   limit the reader stops copying but keeps reading to the end marker, so
//!   the server can answer 552 5.3.4 and stay in sync with the client.
//! - Long lines: RFC 5321 §4.5.3.1.6 limits text lines to 1000 octets with
//!   CRLF. Many real MUAs exceed it, so it is only counted
//!   ([`DataReader::long_lines_seen`]).

/// Longest line content allowed by RFC 5321 §4.5.3.1.6 (1000 with CRLF).
pub const MAX_LINE_CONTENT: u64 = 998;

/// Result of [`DataReader::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// All of the input was used and the end marker has not been seen yet.
    NeedMore,
    /// The end marker ended within this input; `input[consumed..]` was not
    /// looked at and belongs to whatever follows (pipelined commands).
    Done { consumed: usize },
}

/// Where the reader is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, nothing of it seen yet.
    LineStart,
    /// The line so far is ".": either the end marker or a stuffed dot.
    Dot,
    /// The line so far is ".\r".
    DotCr,
    /// Inside a line.
    Text,
    /// Inside a line, after a CR that is not yet known to start a CRLF.
    Cr,
}

/// Incremental reader for the text that follows `354` (see the module
/// documentation for the policies).
#[derive(Debug, Clone)]
pub struct DataReader {
    state: State,
    max_size: u64,
    size: u64,
    line_len: u64,
    long_lines: u64,
    bare_lf: u64,
    /// The line ending before the current line was a bare LF.
    after_bare_lf: bool,
    bare_lf_end: bool,
    done: bool,
}

impl DataReader {
    /// A reader for one message; `max_size` is in octets, 0 = unlimited.
    /// The message starts at the beginning of a line, so an immediate ".\r\n"
    /// is an empty message.
    pub fn new(max_size: u64) -> DataReader {
        DataReader {
            state: State::LineStart,
            max_size,
            size: 0,
            line_len: 0,
            long_lines: 0,
            bare_lf: 0,
            after_bare_lf: false,
            bare_lf_end: false,
            done: false,
        }
    }

    /// Consumes `input`, appending message octets to `out`, until the end
    /// marker. Input may be split anywhere, even inside CRLF or the marker.
    /// Once done, further calls return `Done { consumed: 0 }`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Feed {
        if self.done {
            return Feed::Done { consumed: 0 };
        }
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Text {
                i += self.copy_text_run(&input[i..], out);
                if i == input.len() {
                    break;
                }
            }
            let byte = input[i];
            i += 1;
            if self.step(byte, out) {
                self.done = true;
                return Feed::Done { consumed: i };
            }
        }
        Feed::NeedMore
    }

    /// True once the end marker has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Message size in octets so far, including any part past the limit.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The message exceeded `max_size`; `out` holds only its first
    /// `max_size` octets. Answer 552 5.3.4 (RFC 5321 §4.5.3.1.10, RFC 3463).
    pub fn too_big(&self) -> bool {
        self.max_size != 0 && self.size > self.max_size
    }

    /// Number of bare LFs seen (each was treated as a line end).
    pub fn bare_lf_seen(&self) -> u64 {
        self.bare_lf
    }

    /// The end marker was delimited by a bare LF (`\n.\n`, `\r\n.\n` or
    /// `\n.\r\n`). The sender may disagree about where the message ended
    /// (SMTP smuggling): reject and close the connection, and do not parse
    /// the bytes after `consumed` as commands.
    pub fn bare_lf_end(&self) -> bool {
        self.bare_lf_end
    }

    /// Number of lines longer than 1000 octets including CRLF.
    pub fn long_lines_seen(&self) -> u64 {
        self.long_lines
    }

    /// Fast path inside a line: copies everything up to the next CR or LF
    /// and returns how many bytes it used.
    fn copy_text_run(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let run = input
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len());
        self.emit(&input[..run], out);
        run
    }

    /// Advances the state machine by one byte; true when the marker ended.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> bool {
        match (self.state, byte) {
            (State::LineStart, b'.') => self.state = State::Dot,
            (State::Dot, b'\r') => self.state = State::DotCr,
            // ".\n": the end marker, with a bare LF.
            (State::Dot, b'\n') => {
                self.bare_lf += 1;
                return self.finish(true);
            }
            // ".\r\n": the end marker; suspicious if the line before ended
            // with a bare LF.
            (State::DotCr, b'\n') => return self.finish(self.after_bare_lf),
            // "." followed by data: remove the stuffed dot (RFC 5321 §4.5.2).
            (State::Dot, _) => {
                self.state = State::Text;
                return self.step(byte, out);
            }
            (State::Cr, b'\n') => self.end_line(false, out),
            // A CR not followed by LF is data (after ".", the dot was
            // stuffing); this byte is then looked at afresh.
            (State::Cr | State::DotCr, _) => {
                self.emit(b"\r", out);
                self.state = State::Text;
                return self.step(byte, out);
            }
            (State::LineStart | State::Text, b'\r') => self.state = State::Cr,
            (State::LineStart | State::Text, b'\n') => {
                self.bare_lf += 1;
                self.end_line(true, out);
            }
            (State::LineStart | State::Text, _) => {
                self.emit(&[byte], out);
                self.state = State::Text;
            }
        }
        false
    }

    fn finish(&mut self, bare_lf: bool) -> bool {
        self.bare_lf_end = bare_lf;
        true
    }

    /// Writes CRLF for the line just ended and notes an over-long line.
    fn end_line(&mut self, bare_lf: bool, out: &mut Vec<u8>) {
        if self.line_len > MAX_LINE_CONTENT {
            self.long_lines += 1;
        }
        self.emit(b"\r\n", out);
        self.line_len = 0;
        self.after_bare_lf = bare_lf;
        self.state = State::LineStart;
    }

    /// Counts message octets and copies those that fit under the limit.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let fit = match self.max_size {
            0 => bytes.len(),
            max => {
                let room = max.saturating_sub(self.size);
                usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()))
            }
        };
        out.extend_from_slice(&bytes[..fit]);
        let len = bytes.len() as u64;
        self.size += len;
        self.line_len += len;
    }
}

/// Prepares `message` for sending after DATA (RFC 5321 §4.5.2): a "." is
/// added to each line that starts with ".", bare LFs become CRLF so the peer
/// cannot misread a line end (see the smuggling note above), a final CRLF is
/// added if missing, then the end marker ".\r\n". A bare CR inside a line is
/// kept; a CR at the very end is taken as a CRLF cut short.
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    let mut stuffer = DotStuffer::default();
    stuffer.feed(message, out);
    stuffer.finish(out);
    out.extend_from_slice(b".\r\n");
}

/// RFC 5321 §4.5.2 transparency plus line-end repair, across chunk
/// boundaries: a line starting with "." gets another; a bare LF becomes
/// CRLF; the message is made to end with CRLF. Long lines pass as they are.
/// Used by POP3 RETR/TOP; the mailman's SMTP client also repairs bare CR
/// and long lines (`mailman::wire_format`).
#[derive(Debug)]
pub struct DotStuffer {
    line_start: bool,
    prev_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            prev_cr: false,
        }
    }
}

impl DotStuffer {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.line_start && b == b'.' {
                out.push(b'.');
            }
            if b == b'\n' && !self.prev_cr {
                out.push(b'\r');
            }
            out.push(b);
            self.prev_cr = b == b'\r';
            self.line_start = b == b'\n';
        }
    }

    pub fn finish(&self, out: &mut Vec<u8>) {
        match (self.line_start, self.prev_cr) {
            (true, _) => {}
            (false, true) => out.push(b'\n'),
            (false, false) => out.extend_from_slice(b"\r\n"),
        }
    }
}

#[cfg(test)]
/// Splits off one line, ended by CRLF, LF or the end of the input; the line
/// ending is not included in the line.
fn split_line(text: &[u8]) -> (&[u8], &[u8]) {
    let (line, next) = match text.iter().position(|&b| b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &text[text.len()..]),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a whole-input feed produced.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        out: Vec<u8>,
        consumed: Option<usize>,
        size: u64,
        too_big: bool,
        bare_lf: u64,
        bare_lf_end: bool,
        long_lines: u64,
    }

    /// Feeds `input` cut at `cuts` (sorted offsets) and totals `consumed`
    /// across the pieces.
    fn run_pieces(input: &[u8], cuts: &[usize], max: u64) -> Outcome {
        let mut reader = DataReader::new(max);
        let mut out = Vec::new();
        let mut consumed = None;
        let mut start = 0;
        for &end in cuts.iter().chain(std::iter::once(&input.len())) {
            if let Feed::Done { consumed: n } = reader.feed(&input[start..end], &mut out) {
                consumed = Some(start + n);
                break;
            }
            start = end;
        }
        Outcome {
            out,
            consumed,
            size: reader.size(),
            too_big: reader.too_big(),
            bare_lf: reader.bare_lf_seen(),
            bare_lf_end: reader.bare_lf_end(),
            long_lines: reader.long_lines_seen(),
        }
    }

    fn run(input: &[u8], max: u64) -> Outcome {
        run_pieces(input, &[], max)
    }

    fn run_bytewise(input: &[u8], max: u64) -> Outcome {
        let cuts: Vec<usize> = (1..input.len()).collect();
        run_pieces(input, &cuts, max)
    }

    /// An independent line-based model of the documented policy, used to
    /// check the state machine. Returns `None` when the end marker is missing.
    fn model(input: &[u8]) -> Option<Outcome> {
        let mut out = Vec::new();
        let (mut pos, mut bare_lf, mut long_lines, mut after_bare) = (0, 0, 0, false);
        loop {
            let nl = pos + input[pos..].iter().position(|&b| b == b'\n')?;
            let crlf = nl > pos && input[nl - 1] == b'\r';
            let line = &input[pos..if crlf { nl - 1 } else { nl }];
            bare_lf += u64::from(!crlf);
            if line == b"." {
                let size = out.len() as u64;
                return Some(Outcome {
                    out,
                    consumed: Some(nl + 1),
                    size,
                    too_big: false,
                    bare_lf,
                    bare_lf_end: after_bare || !crlf,
                    long_lines,
                });
            }
            let line = line.strip_prefix(b".").unwrap_or(line);
            long_lines += u64::from(line.len() > 998);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            after_bare = !crlf;
            pos = nl + 1;
        }
    }

    fn stuffed(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        dot_stuff(message, &mut out);
        out
    }

    /// Deterministic pseudo-random bytes (xorshift64), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
    }

    const TRICKY: &[u8] = b".\r\nab";

    /// Inputs with every interesting shape; each ends with pipelined bytes.
    fn corpus() -> Vec<&'static [u8]> {
        vec![
            b".\r\n",
            b".\r\nQUIT\r\n",
            b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\n",
            b"..\r\n..\r\n.\r\n",
            b"...\r\n.x\r\n.\r\nNEXT",
            b"a\rb\r\n\r\r\n.\r\n",
            b".\r.\r\n.\r\r\n.\r\n",
            b"line\n.\n",
            b"line\n.\r\nRSET\r\n",
            b"line\r\n.\nRSET\r\n",
            b"\n\n.\n",
            b"a\r\n.b\r\n..\r\n. \r\n.\r\n",
            b"\r.\r\n\r\n.\r\n",
        ]
    }

    #[test]
    fn empty_message() {
        let r = run(b".\r\n", 0);
        assert_eq!(r.out, b"");
        assert_eq!(r.consumed, Some(3));
        assert_eq!(r.size, 0);
        assert!(!r.bare_lf_end);
    }

    #[test]
    fn simple_message_and_pipelined_bytes() {
        let input = b"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n";
        let r = run(input, 0);
        assert_eq!(r.out, b"Subject: hi\r\n\r\nHello\r\n");
        assert_eq!(r.consumed, Some(input.len() - 6));
        assert_eq!(&input[r.consumed.unwrap()..], b"QUIT\r\n");
        assert_eq!(r.size, 22);
        assert_eq!(
            (r.bare_lf, r.bare_lf_end, r.too_big, r.long_lines),
            (0, false, false, 0)
        );
    }

    #[test]
    fn dot_unstuffing() {
        let r = run(b"..\r\n...\r\n.x\r\nx.\r\n. \r\n.\r\n", 0);
        assert_eq!(r.out, b".\r\n..\r\nx\r\nx.\r\n \r\n");
    }

    #[test]
    fn message_of_only_stuffed_dots() {
        let r = run(b"..\r\n..\r\n..\r\n.\r\n", 0);
        assert_eq!(r.out, b".\r\n.\r\n.\r\n");
        assert_eq!(r.size, 9);
    }

    #[test]
    fn dot_in_mid_line_and_after_bare_cr_is_data() {
        let r = run(b"a.\r\n\r.\r\n.\r\n", 0);
        assert_eq!(r.out, b"a.\r\n\r.\r\n");
        // A bare CR never ends a line, so "\r.\r\n" is not the marker.
        let r = run(b"x\r.\r\nmore\r\n.\r\n", 0);
        assert_eq!(r.out, b"x\r.\r\nmore\r\n");
    }

    #[test]
    fn bare_cr_is_data() {
        let r = run(b"a\rb\r\r\n.\r\r\n.\r\n", 0);
        assert_eq!(r.out, b"a\rb\r\r\n\r\r\n");
        assert_eq!(r.bare_lf, 0);
    }

    #[test]
    fn bare_lf_lines_are_normalised() {
        let r = run(b"a\nb\r\n\n.\r\n", 0);
        assert_eq!(r.out, b"a\r\nb\r\n\r\n");
        assert_eq!(r.bare_lf, 2);
        // The line before the marker ended with a bare LF.
        assert!(r.bare_lf_end);
        let r = run(b"a\nb\r\n.\r\n", 0);
        assert_eq!(r.out, b"a\r\nb\r\n");
        assert_eq!(r.bare_lf, 1);
        assert!(!r.bare_lf_end);
    }

    #[test]
    fn bare_lf_end_markers_are_found_and_flagged() {
        for (input, consumed, out) in [
            (&b"hi\n.\nQUIT\r\n"[..], 5, &b"hi\r\n"[..]),
            (b"hi\r\n.\nQUIT\r\n", 6, b"hi\r\n"),
            (b"hi\n.\r\nQUIT\r\n", 6, b"hi\r\n"),
            (b".\n", 2, b""),
        ] {
            let r = run(input, 0);
            assert_eq!(r.consumed, Some(consumed), "{input:?}");
            assert_eq!(r.out, out, "{input:?}");
            assert!(r.bare_lf_end, "{input:?}");
        }
        // A stuffed line with a bare LF is content, not the marker.
        let r = run(b"..\n.\r\n", 0);
        assert_eq!(r.out, b".\r\n");
        assert!(r.bare_lf_end);
    }

    #[test]
    fn size_limit_keeps_reading_to_the_marker() {
        let input = b"0123456789\r\n0123456789\r\n.\r\nQUIT\r\n";
        let r = run(input, 10);
        assert!(r.too_big);
        assert_eq!(r.out, b"0123456789");
        assert_eq!(r.size, 24);
        assert_eq!(r.consumed, Some(input.len() - 6));
        // Byte by byte gives the same result.
        assert_eq!(run_bytewise(input, 10), r);
    }

    #[test]
    fn size_limit_boundaries() {
        let input = b"0123456789\r\n.\r\n"; // 12 octets of message
        let at = run(input, 12);
        assert!(!at.too_big);
        assert_eq!(at.out, b"0123456789\r\n");
        let below = run(input, 11);
        assert!(below.too_big);
        assert_eq!(below.out, b"0123456789\r");
        assert_eq!(below.size, 12);
        // Stuffing dots and the marker do not count (RFC 1870's message size).
        let r = run(b"..\r\n.\r\n", 3);
        assert!(!r.too_big);
        assert_eq!(r.size, 3);
    }

    #[test]
    fn long_lines_are_reported_not_rejected() {
        let mut input = vec![b'x'; 998];
        input.extend_from_slice(b"\r\n");
        input.extend(vec![b'y'; 999]);
        input.extend_from_slice(b"\r\n.");
        input.extend(vec![b'z'; 999]); // 1000 with the stuffed dot, 999 after
        input.extend_from_slice(b"\r\n.\r\n");
        let r = run(&input, 0);
        assert_eq!(r.long_lines, 2);
        assert_eq!(r.size, 998 + 999 + 999 + 6);
        assert_eq!(run_bytewise(&input, 0), r);
    }

    #[test]
    fn after_done_nothing_more_is_read() {
        let mut reader = DataReader::new(0);
        let mut out = Vec::new();
        assert_eq!(
            reader.feed(b"a\r\n.\r\nX", &mut out),
            Feed::Done { consumed: 6 }
        );
        assert!(reader.is_done());
        assert_eq!(
            reader.feed(b"more\r\n.\r\n", &mut out),
            Feed::Done { consumed: 0 }
        );
        assert_eq!(out, b"a\r\n");
    }

    #[test]
    fn need_more_until_the_marker() {
        let mut reader = DataReader::new(0);
        let mut out = Vec::new();
        assert_eq!(reader.feed(b"abc\r\n", &mut out), Feed::NeedMore);
        assert_eq!(reader.feed(b".", &mut out), Feed::NeedMore);
        assert_eq!(reader.feed(b"\r", &mut out), Feed::NeedMore);
        assert_eq!(reader.feed(b"", &mut out), Feed::NeedMore);
        assert!(!reader.is_done());
        assert_eq!(reader.feed(b"\nQ", &mut out), Feed::Done { consumed: 1 });
        assert_eq!(out, b"abc\r\n");
    }

    #[test]
    fn corpus_matches_model_at_every_split() {
        for input in corpus() {
            let want = model(input).expect("corpus entries are terminated");
            assert_eq!(run(input, 0), want, "{input:?}");
            assert_eq!(run_bytewise(input, 0), want, "{input:?} bytewise");
            for cut in 0..=input.len() {
                assert_eq!(run_pieces(input, &[cut], 0), want, "{input:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn corpus_every_pair_of_splits() {
        for input in corpus() {
            let want = run(input, 0);
            for a in 0..=input.len() {
                for b in a..=input.len() {
                    assert_eq!(
                        run_pieces(input, &[a, b], 0),
                        want,
                        "{input:?} cut at {a},{b}"
                    );
                }
            }
        }
    }

    #[test]
    fn end_marker_split_at_every_position() {
        let input = b"Hello\r\n.\r\nNOOP\r\n";
        for cut in 0..=input.len() {
            let r = run_pieces(input, &[cut], 0);
            assert_eq!(r.out, b"Hello\r\n", "cut {cut}");
            assert_eq!(r.consumed, Some(10), "cut {cut}");
        }
    }

    #[test]
    fn random_inputs_match_model() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let mut input = rng.bytes(TRICKY, 40);
            input.extend_from_slice(b"\r\n.\r\nTAIL");
            let want = model(&input).expect("terminated");
            assert_eq!(run(&input, 0), want, "{input:?}");
            let cuts = {
                let mut c: Vec<usize> = (0..3).map(|_| rng.below(input.len() + 1)).collect();
                c.sort_unstable();
                c
            };
            assert_eq!(
                run_pieces(&input, &cuts, 0),
                want,
                "{input:?} cuts {cuts:?}"
            );
        }
    }

    #[test]
    fn random_inputs_with_a_size_limit() {
        let mut rng = Rng(42);
        for _ in 0..1000 {
            let mut input = rng.bytes(TRICKY, 40);
            input.extend_from_slice(b"\r\n.\r\n");
            let full = model(&input).expect("terminated");
            let max = rng.below(30) as u64 + 1;
            let r = run_bytewise(&input, max);
            assert_eq!(r.consumed, full.consumed);
            assert_eq!(r.size, full.size);
            assert_eq!(r.too_big, full.size > max);
            let keep = full.out.len().min(max as usize);
            assert_eq!(r.out, full.out[..keep], "{input:?} max {max}");
        }
    }

    #[test]
    fn dot_stuff_examples() {
        assert_eq!(stuffed(b""), b".\r\n");
        assert_eq!(stuffed(b"abc"), b"abc\r\n.\r\n");
        assert_eq!(stuffed(b"abc\r\n"), b"abc\r\n.\r\n");
        assert_eq!(stuffed(b"."), b"..\r\n.\r\n");
        assert_eq!(stuffed(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(stuffed(b"a\n.b\n..\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(stuffed(b"a\r\n\r\n.\r\n"), b"a\r\n\r\n..\r\n.\r\n");
        assert_eq!(stuffed(b"a\rb"), b"a\rb\r\n.\r\n");
        assert_eq!(stuffed(b"a\r"), b"a\r\n.\r\n");
        assert_eq!(stuffed(b"\n"), b"\r\n.\r\n");
        assert_eq!(stuffed(b"x.\r\n"), b"x.\r\n.\r\n");
        let mut out = b"EXISTING".to_vec();
        dot_stuff(b"z", &mut out);
        assert_eq!(out, b"EXISTINGz\r\n.\r\n");
    }

    /// What the receiver should get back from `dot_stuff`: CRLF line endings
    /// and a final CRLF.
    fn normalised(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = message;
        while !rest.is_empty() {
            let (line, next) = split_line(rest);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            rest = next;
        }
        out
    }

    #[test]
    fn stuffing_round_trip() {
        let fixed: [&[u8]; 8] = [
            b"",
            b".",
            b"..\r\n..\r\n",
            b".\r\n.\r\n.\r\n",
            b"Subject: x\r\n\r\n.\r\n..\r\nend\r\n",
            b"a\nb\n.\n",
            b"a\rb\r\r\n",
            b"\r\n.\r\n\r\n",
        ];
        for message in fixed {
            let r = run(&stuffed(message), 0);
            assert_eq!(r.out, normalised(message), "{message:?}");
            assert_eq!(r.consumed, Some(stuffed(message).len()));
            assert_eq!(r.bare_lf, 0);
        }
        let mut rng = Rng(7);
        for _ in 0..3000 {
            let message = rng.bytes(TRICKY, 60);
            let wire = stuffed(&message);
            let want = normalised(&message);
            // The end marker is the last line only, and no bare LF is sent.
            let r = run_bytewise(&wire, 0);
            assert_eq!(r.out, want, "{message:?}");
            assert_eq!(r.consumed, Some(wire.len()), "{message:?}");
            assert_eq!((r.bare_lf, r.bare_lf_end), (0, false));
        }
    }

    #[test]
    fn stuffing_round_trip_is_exact_for_crlf_messages() {
        let message = b"From: a@b\r\n\r\n.hidden\r\n.\r\n..\r\nbye\r\n";
        assert_eq!(run(&stuffed(message), 0).out, message);
    }
}
