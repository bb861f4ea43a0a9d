//! IMAP4rev1 (RFC 3501) command parser, with the extensions the server
//! advertises: LITERAL+ (RFC 7888), SASL-IR (RFC 4959), UIDPLUS `UID EXPUNGE`
//! (RFC 4315), CONDSTORE (RFC 7162), MOVE (RFC 6851), ID (RFC 2971),
//! ENABLE (RFC 5161), NAMESPACE (RFC 2342), IDLE (RFC 2177) and UNSELECT (RFC 3691).
//!
//! The parser is pure: [`parse`] takes one complete command (tag, name and
//! arguments, literals embedded as `{N}\r\n<N bytes>` exactly as received,
//! without the final CRLF) and returns a [`Request`] or a [`ParseError`].
//! [`literal_at_end`] lets the session find out whether a line it has just read
//! announces a literal, so that it can read the literal and the next line first.
//!
//! The grammar is followed strictly (single spaces, required parentheses,
//! nz-numbers without leading zeros, ...), except for these leniencies:
//! * Trailing spaces after the last argument are ignored (some clients append one).
//! * Quoted strings may contain 8-bit bytes if the whole string is valid UTF-8
//!   (RFC 3501 allows only 7-bit; clients send raw UTF-8 mailbox names and
//!   search strings there, as IMAP4rev2 / UTF8=ACCEPT permit).
//! * SEARCH strings are accepted as UTF-8 whatever the CHARSET (none, US-ASCII
//!   or UTF-8); only other charsets are refused, with [`ErrorKind::BadCharset`].
//! * In the APPEND date-time, a one-digit day without its padding space is
//!   accepted (`"1-Jan-2020 ..."` as well as `" 1-Jan-2020 ..."`).
//! * The APPEND message literal is taken as raw bytes; NUL is not refused there.
//!
//! Strings (other than the APPEND message) must be valid UTF-8 without NUL.
//! Modified UTF-7 mailbox names are returned undecoded, `INBOX` as given.

use std::fmt;

/// Deepest nesting of parenthesised SEARCH key lists accepted.
pub const MAX_SEARCH_PARENS: u32 = 32;
/// Deepest nesting of SEARCH keys of any kind (parentheses, NOT and OR
/// operands); bounds the parser's recursion.
pub const MAX_SEARCH_DEPTH: u32 = 128;

// --- Public types ---

/// A literal announced at the end of a line: `{size}` or, LITERAL+, `{size+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Literal {
    pub size: u64,
    /// `{N+}`: the client does not wait for `+ Ready`.
    pub non_sync: bool,
}

/// What went wrong, so the session can pick its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No valid tag could be read: answer `* BAD <message>`.
    InvalidTag,
    /// The command name (or the word after `UID`) is not known: `TAG BAD`.
    UnknownCommand,
    /// A known command with bad arguments: `TAG BAD`.
    Syntax,
    /// SEARCH CHARSET other than UTF-8 or US-ASCII:
    /// `TAG NO [BADCHARSET (UTF-8 US-ASCII)] <message>`.
    BadCharset,
}

/// A command that could not be parsed. `message` is printable ASCII only, and
/// never quotes the arguments of LOGIN or AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub tag: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub tag: String,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// `mechanism` is upper-cased; `initial` is the SASL-IR argument as sent
    /// (base64 characters, or `=` for an empty response), not decoded.
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    Login {
        user: String,
        password: String,
    },
    Select {
        mailbox: String,
        condstore: bool,
    },
    Examine {
        mailbox: String,
        condstore: bool,
    },
    Create(String),
    Delete(String),
    Rename {
        from: String,
        to: String,
    },
    Subscribe(String),
    Unsubscribe(String),
    List {
        reference: String,
        pattern: String,
    },
    Lsub {
        reference: String,
        pattern: String,
    },
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: String,
        flags: Vec<Flag>,
        date: Option<DateTime>,
        message: Vec<u8>,
    },
    Check,
    Close,
    Expunge,
    UidExpunge(SequenceSet),
    /// `charset` is `Some("UTF-8")` or `Some("US-ASCII")` (canonical spelling)
    /// when given; `criteria` is always [`SearchKey::And`] of the top-level keys.
    Search {
        charset: Option<String>,
        criteria: SearchKey,
        uid: bool,
    },
    Fetch {
        set: SequenceSet,
        items: FetchItems,
        uid: bool,
        changed_since: Option<u64>,
    },
    Store {
        set: SequenceSet,
        uid: bool,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: Vec<Flag>,
    },
    Copy {
        set: SequenceSet,
        mailbox: String,
        uid: bool,
    },
    Move {
        set: SequenceSet,
        mailbox: String,
        uid: bool,
    },
    Idle,
    Namespace,
    /// `None` for `ID NIL`.
    Id(Option<Vec<(String, Option<String>)>>),
    /// Capability names, upper-cased.
    Enable(Vec<String>),
    Unselect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    HighestModSeq,
}

impl StatusItem {
    /// The name to use in the STATUS response.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// A message flag. System flags are matched case-insensitively.
/// `Recent` is never produced by the parser (clients may not set `\Recent`);
/// it exists for responses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Recent,
    /// A keyword atom such as `$Forwarded`, as sent.
    Keyword(String),
    /// An unknown `\Name` flag, stored WITH its backslash, as sent.
    Extension(String),
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
            Flag::Recent => "\\Recent",
            Flag::Keyword(s) | Flag::Extension(s) => s,
        })
    }
}

/// A calendar date from SEARCH (`d-Mon-yyyy`), already checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )
    }
}

/// An APPEND date-time: the instant as Unix seconds (UTC) and the zone it was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    pub unix: i64,
    /// Offset east of UTC in minutes (`-0500` is -300).
    pub offset_minutes: i16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqBound {
    Num(u32),
    /// `*`: the largest number (or UID) in use.
    Star,
}

impl SeqBound {
    fn resolve(self, max: u32) -> u32 {
        match self {
            SeqBound::Num(n) => n,
            SeqBound::Star => max,
        }
    }
}

/// `from:to` (either order), or a single number with `from == to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub from: SeqBound,
    pub to: SeqBound,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(pub Vec<SeqRange>);

impl SequenceSet {
    /// Whether `n` is in the set when `*` stands for `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.0.iter().any(|r| {
            let (a, b) = (r.from.resolve(max), r.to.resolve(max));
            a.min(b) <= n && n <= a.max(b)
        })
    }

    /// The set as sorted, disjoint, non-adjacent inclusive ranges within
    /// `1..=max`, `*` standing for `max`. Its length is bounded by the number of
    /// ranges in the command, never by the numbers they span.
    pub fn ranges_within(&self, max: u32) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .0
            .iter()
            .filter_map(|r| {
                let (a, b) = (r.from.resolve(max), r.to.resolve(max));
                let (lo, hi) = (a.min(b).max(1), a.max(b).min(max));
                (lo <= hi).then_some((lo, hi))
            })
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// Sorted unique numbers of the set within `1..=max` (see [`Self::ranges_within`]).
    pub fn iter_within(&self, max: u32) -> impl Iterator<Item = u32> + use<> {
        self.ranges_within(max)
            .into_iter()
            .flat_map(|(lo, hi)| lo..=hi)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    All,
    Fast,
    Full,
    List(Vec<FetchAttr>),
}

impl FetchItems {
    /// The attributes, with the ALL / FAST / FULL macros expanded.
    pub fn attrs(&self) -> Vec<FetchAttr> {
        use FetchAttr as A;
        match self {
            FetchItems::Fast => vec![A::Flags, A::InternalDate, A::Rfc822Size],
            FetchItems::All => vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope],
            FetchItems::Full => {
                vec![
                    A::Flags,
                    A::InternalDate,
                    A::Rfc822Size,
                    A::Envelope,
                    A::Body,
                ]
            }
            FetchItems::List(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Body,
    BodyStructure,
    Uid,
    ModSeq,
    /// `BODY[section]<origin.length>` or `BODY.PEEK[...]`; `partial` is (origin, length).
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
}

impl FetchAttr {
    /// The data item name for the FETCH response: `BODY.PEEK[...]` answers as
    /// `BODY[...]`, and a partial fetch shows only its origin (`BODY[]<0>`).
    pub fn response_name(&self) -> String {
        use FetchAttr as A;
        match self {
            A::Envelope => "ENVELOPE".into(),
            A::Flags => "FLAGS".into(),
            A::InternalDate => "INTERNALDATE".into(),
            A::Rfc822 => "RFC822".into(),
            A::Rfc822Header => "RFC822.HEADER".into(),
            A::Rfc822Size => "RFC822.SIZE".into(),
            A::Rfc822Text => "RFC822.TEXT".into(),
            A::Body => "BODY".into(),
            A::BodyStructure => "BODYSTRUCTURE".into(),
            A::Uid => "UID".into(),
            A::ModSeq => "MODSEQ".into(),
            A::BodySection {
                section, partial, ..
            } => match partial {
                Some((origin, _)) => format!("BODY[{section}]<{origin}>"),
                None => format!("BODY[{section}]"),
            },
        }
    }

    /// Whether fetching this item sets `\Seen` (RFC822, RFC822.TEXT, BODY[...]).
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchAttr::Rfc822 | FetchAttr::Rfc822Text | FetchAttr::BodySection { peek: false, .. }
        )
    }
}

/// `BODY[1.2.HEADER]` is `part: [1, 2], text: Some(Header)`; `BODY[]` is all empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// What follows the part number; field names are upper-cased by the parser.
pub use super::mime::SectionText;

impl fmt::Display for Section {
    /// The section spec as it goes between the brackets of a response.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part: Vec<String> = self.part.iter().map(u32::to_string).collect();
        f.write_str(&part.join("."))?;
        let (name, fields) = match &self.text {
            None => return Ok(()),
            Some(SectionText::Header) => ("HEADER", None),
            Some(SectionText::HeaderFields(v)) => ("HEADER.FIELDS", Some(v)),
            Some(SectionText::HeaderFieldsNot(v)) => ("HEADER.FIELDS.NOT", Some(v)),
            Some(SectionText::Text) => ("TEXT", None),
            Some(SectionText::Mime) => ("MIME", None),
        };
        let dot = if part.is_empty() { "" } else { "." };
        write!(f, "{dot}{name}")?;
        if let Some(fields) = fields {
            // Field names are RFC 5322 ftext: an atom, or else a quoted string.
            let quote = |n: &String| match n.bytes().all(is_atom_char) {
                true => n.clone(),
                false => format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\"")),
            };
            let names: Vec<String> = fields.iter().map(quote).collect();
            write!(f, " ({})", names.join(" "))?;
        }
        Ok(())
    }
}

/// SEARCH keys of RFC 3501 §6.4.4, plus MODSEQ (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(Date),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// Field name as sent, and the string to look for.
    Header(String, String),
    Keyword(String),
    Larger(u32),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u32),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    SequenceSet(SequenceSet),
    /// A parenthesised list, or the implicit AND of the top level.
    And(Vec<SearchKey>),
    /// `MODSEQ [entry-name entry-type] n`; the optional entry is ignored.
    ModSeq(u64),
}

// --- Entry points ---

/// Recognises a literal marker `{N}` or `{N+}` at the very end of `line`
/// (given without its CRLF). The `{` must follow a space or `(`, as it does
/// wherever the grammar allows a literal. Quoting is not tracked: a line ending
/// inside an unterminated quoted string is a syntax error for [`parse`] anyway.
/// A size that does not fit in u64 gives `None` (and [`parse`] then fails).
pub fn literal_at_end(line: &[u8]) -> Option<Literal> {
    let body = line.strip_suffix(b"}")?;
    let (body, non_sync) = match body.strip_suffix(b"+") {
        Some(b) => (b, true),
        None => (body, false),
    };
    let open = body.iter().rposition(|&b| b == b'{')?;
    if open == 0 || !matches!(body[open - 1], b' ' | b'(') {
        return None;
    }
    let size = parse_digits(&body[open + 1..])?;
    Some(Literal { size, non_sync })
}

/// Parses one complete command (see the module documentation).
pub fn parse(input: &[u8]) -> Result<Request, ParseError> {
    let mut p = Parser {
        buf: input,
        pos: 0,
        quiet: false,
    };
    let tag = p.take_while(|b| is_astring_char(b) && b != b'+');
    if tag.is_empty() || !matches!(p.peek(), None | Some(b' ')) {
        let message = if input.is_empty() {
            "empty command"
        } else {
            "missing or invalid tag"
        };
        return Err(ParseError {
            tag: None,
            kind: ErrorKind::InvalidTag,
            message: message.into(),
        });
    }
    let tag = ascii(tag);
    match p.request() {
        Ok(command) => Ok(Request { tag, command }),
        Err(PErr { kind, message }) => Err(ParseError {
            tag: Some(tag),
            kind,
            message,
        }),
    }
}

// --- Lexical helpers ---

fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"(){%*\"\\]".contains(&b)
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// RFC 5322 ftext: printable ASCII except colon.
fn is_ftext(b: u8) -> bool {
    (33..=126).contains(&b) && b != b':'
}

/// Bytes known to be ASCII into a String.
fn ascii(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn parse_digits(d: &[u8]) -> Option<u64> {
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    d.iter().try_fold(0u64, |acc, &c| {
        acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

fn utf8(bytes: Vec<u8>) -> PResult<String> {
    if bytes.contains(&0) {
        return Err(syntax("NUL in string"));
    }
    String::from_utf8(bytes).map_err(|_| syntax("string is not valid UTF-8"))
}

/// SEARCH keys that take arguments (space-separated, for `split`).
const SEARCH_KEYS_WITH_ARGS: &str = "BCC BODY CC FROM SUBJECT TEXT TO BEFORE ON SINCE SENTBEFORE \
    SENTON SENTSINCE KEYWORD UNKEYWORD LARGER SMALLER UID HEADER NOT OR MODSEQ";

const MONTHS: [&[u8; 3]; 12] = [
    b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC",
];

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// --- Parser ---

struct PErr {
    kind: ErrorKind,
    message: String,
}

type PResult<T> = Result<T, PErr>;

fn syntax(message: impl Into<String>) -> PErr {
    PErr {
        kind: ErrorKind::Syntax,
        message: message.into(),
    }
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Credentials ahead: error messages must not quote the input.
    quiet: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// A printable description of where parsing stopped, for messages.
    fn context(&self) -> String {
        let rest = self.rest();
        if rest.is_empty() {
            return "end of command".into();
        } else if self.quiet {
            return format!("octet {}", self.pos);
        }
        let s: String = rest
            .iter()
            .take(20)
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    char::from(b)
                } else {
                    '?'
                }
            })
            .collect();
        format!("\"{s}\"")
    }

    fn error(&self, what: &str) -> PErr {
        syntax(format!("expected {what} at {}", self.context()))
    }

    fn expect(&mut self, b: u8, what: &str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "space")
    }

    /// Consumes one space if more arguments follow (not just trailing spaces).
    fn sp_more(&mut self) -> bool {
        let more = self.peek() == Some(b' ') && self.rest().iter().any(|&b| b != b' ');
        self.pos += usize::from(more);
        more
    }

    /// End of command; trailing spaces are ignored (leniency).
    fn finish(&mut self) -> PResult<()> {
        self.take_while(|b| b == b' ');
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.error("end of command"))
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    fn atom(&mut self) -> PResult<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            Err(self.error("atom"))
        } else {
            Ok(a)
        }
    }

    fn atom_upper(&mut self) -> PResult<String> {
        Ok(ascii(self.atom()?).to_ascii_uppercase())
    }

    fn number64(&mut self) -> PResult<u64> {
        let start = self.pos;
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            self.pos = start;
            return Err(self.error("number"));
        }
        parse_digits(d).ok_or_else(|| syntax("number too large"))
    }

    fn number(&mut self) -> PResult<u32> {
        u32::try_from(self.number64()?).map_err(|_| syntax("number too large"))
    }

    fn nz_number(&mut self) -> PResult<u32> {
        if self.peek() == Some(b'0') {
            return Err(syntax("expected a non-zero number without leading zeros"));
        }
        self.number()
    }

    /// mod-sequence-value (1..2^63-1), or mod-sequence-valzer when `zero_ok`.
    fn mod_sequence(&mut self, zero_ok: bool) -> PResult<u64> {
        match self.number64()? {
            0 if !zero_ok => Err(syntax("mod-sequence must not be 0")),
            n if n > i64::MAX as u64 => Err(syntax("mod-sequence too large")),
            n => Ok(n),
        }
    }

    fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"', "'\"'")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(syntax("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.buf.get(self.pos + 1) {
                    Some(&c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err(syntax("invalid escape in quoted string")),
                },
                Some(b'\r' | b'\n' | 0) => return Err(syntax("CR, LF or NUL in quoted string")),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `{N}\r\n` or `{N+}\r\n` followed by N bytes.
    fn literal(&mut self) -> PResult<&'a [u8]> {
        self.expect(b'{', "'{'")?;
        let size = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "'}'")?;
        if !self.rest().starts_with(b"\r\n") {
            return Err(self.error("CRLF after literal size"));
        }
        self.pos += 2;
        let n = usize::try_from(size).map_err(|_| syntax("literal too large"))?;
        if self.rest().len() < n {
            return Err(syntax("literal shorter than announced"));
        }
        self.pos += n;
        Ok(&self.buf[self.pos - n..self.pos])
    }

    /// string = quoted / literal, as UTF-8.
    fn string(&mut self) -> PResult<String> {
        match self.peek() {
            Some(b'"') => utf8(self.quoted()?),
            Some(b'{') => utf8(self.literal()?.to_vec()),
            _ => Err(self.error("string")),
        }
    }

    fn astring(&mut self) -> PResult<String> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return self.string();
        }
        let a = self.take_while(is_astring_char);
        if a.is_empty() {
            Err(self.error("string"))
        } else {
            Ok(ascii(a))
        }
    }

    /// LOGIN's user name and password: an astring, read leniently. 8-bit
    /// bytes count as atom characters, since Python's imaplib (and others)
    /// send a UTF-8 user name bare.
    fn login_astring(&mut self) -> PResult<String> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return self.string();
        }
        let a = self.take_while(|b| is_astring_char(b) || b >= 0x80);
        if a.is_empty() { Err(self.error("string")) } else { utf8(a.to_vec()) }
    }

    fn nil(&mut self) -> bool {
        let r = self.rest();
        let hit = r.len() >= 3
            && r[..3].eq_ignore_ascii_case(b"NIL")
            && !r.get(3).is_some_and(|&b| is_astring_char(b));
        self.pos += if hit { 3 } else { 0 };
        hit
    }

    fn nstring(&mut self) -> PResult<Option<String>> {
        if self.nil() {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    fn list_mailbox(&mut self) -> PResult<String> {
        if matches!(self.peek(), Some(b'"' | b'{')) {
            return self.string();
        }
        let a = self.take_while(is_list_char);
        if a.is_empty() {
            Err(self.error("mailbox pattern"))
        } else {
            Ok(ascii(a))
        }
    }

    fn flag(&mut self) -> PResult<Flag> {
        if !self.eat(b'\\') {
            return Ok(Flag::Keyword(ascii(self.atom()?)));
        }
        if self.peek() == Some(b'*') {
            return Err(syntax("\\* is not a valid flag here"));
        }
        let name = ascii(self.atom()?);
        Ok(match name.to_ascii_uppercase().as_str() {
            "SEEN" => Flag::Seen,
            "ANSWERED" => Flag::Answered,
            "FLAGGED" => Flag::Flagged,
            "DELETED" => Flag::Deleted,
            "DRAFT" => Flag::Draft,
            "RECENT" => return Err(syntax("\\Recent cannot be set by clients")),
            _ => Flag::Extension(format!("\\{name}")),
        })
    }

    /// `"(" [flag *(SP flag)] ")"`
    fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.expect(b'(', "'('")?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.eat(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// `"(" item *(SP item) ")"` where each item is parsed by `f`.
    fn paren_list<T>(&mut self, mut f: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        self.expect(b'(', "'('")?;
        let mut items = vec![f(self)?];
        while self.eat(b' ') {
            items.push(f(self)?);
        }
        self.expect(b')', "')'")?;
        Ok(items)
    }

    fn seq_bound(&mut self) -> PResult<SeqBound> {
        if self.eat(b'*') {
            Ok(SeqBound::Star)
        } else {
            Ok(SeqBound::Num(self.nz_number()?))
        }
    }

    fn sequence_set(&mut self) -> PResult<SequenceSet> {
        let mut ranges = Vec::new();
        loop {
            let from = self.seq_bound()?;
            let to = if self.eat(b':') {
                self.seq_bound()?
            } else {
                from
            };
            ranges.push(SeqRange { from, to });
            if !self.eat(b',') {
                return Ok(SequenceSet(ranges));
            }
        }
    }

    fn fixed_digits(&mut self, n: usize) -> PResult<u32> {
        let r = self.rest();
        if r.len() < n || !r[..n].iter().all(u8::is_ascii_digit) {
            return Err(self.error(&format!("{n} digits")));
        }
        self.pos += n;
        Ok(r[..n]
            .iter()
            .fold(0, |acc, &c| acc * 10 + u32::from(c - b'0')))
    }

    fn day(&mut self) -> PResult<u32> {
        let d = self.take_while(|b| b.is_ascii_digit());
        match d.len() {
            1 | 2 => Ok(d.iter().fold(0, |acc, &c| acc * 10 + u32::from(c - b'0'))),
            _ => Err(syntax("invalid day in date")),
        }
    }

    /// `day "-" Mon "-" yyyy`, checked; returns (year, month, day).
    fn date_text(&mut self, day: u32) -> PResult<(i64, u32, u32)> {
        self.expect(b'-', "'-' in date")?;
        let r = self.rest();
        let month = r
            .get(..3)
            .and_then(|m| MONTHS.iter().position(|name| m.eq_ignore_ascii_case(*name)))
            .ok_or_else(|| syntax("invalid month in date"))?;
        self.pos += 3;
        self.expect(b'-', "'-' in date")?;
        let year = i64::from(self.fixed_digits(4)?);
        let month = month as u32 + 1;
        if day == 0 || day > days_in_month(year, month) {
            return Err(syntax("invalid day in date"));
        }
        Ok((year, month, day))
    }

    /// SEARCH date: `d-Mon-yyyy`, optionally quoted.
    fn date(&mut self) -> PResult<Date> {
        let quoted = self.eat(b'"');
        let day = self.day()?;
        let (year, month, day) = self.date_text(day)?;
        if quoted {
            self.expect(b'"', "'\"' after date")?;
        }
        // year < 10000, month <= 12, day <= 31: the casts cannot truncate.
        Ok(Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        })
    }

    /// APPEND date-time: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may be space-padded).
    fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "'\"'")?;
        let padded = self.eat(b' ');
        let day = if padded {
            self.fixed_digits(1)?
        } else {
            self.day()?
        };
        let (year, month, day) = self.date_text(day)?;
        self.sp()?;
        let hour = self.fixed_digits(2)?;
        self.expect(b':', "':' in time")?;
        let minute = self.fixed_digits(2)?;
        self.expect(b':', "':' in time")?;
        let second = self.fixed_digits(2)?;
        self.sp()?;
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(self.error("zone")),
        };
        self.pos += 1;
        let (zh, zm) = (self.fixed_digits(2)?, self.fixed_digits(2)?);
        self.expect(b'"', "'\"' after date-time")?;
        if hour > 23 || minute > 59 || second > 60 || zh > 23 || zm > 59 {
            return Err(syntax("invalid time or zone in date-time"));
        }
        let offset = sign * i64::from(zh * 60 + zm);
        let local = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second);
        Ok(DateTime {
            unix: local - offset * 60,
            offset_minutes: offset as i16,
        })
    }

    // --- commands -----------------------------------------------------------

    /// Everything after the tag.
    fn request(&mut self) -> PResult<Command> {
        self.sp()?;
        let command = self.command()?;
        self.finish()?;
        Ok(command)
    }

    fn command(&mut self) -> PResult<Command> {
        use Command as C;
        let name = self.take_while(is_atom_char);
        if name.is_empty() {
            return Err(self.error("command"));
        }
        let name = ascii(name).to_ascii_uppercase();
        let unknown = |name: &str| PErr {
            kind: ErrorKind::UnknownCommand,
            message: format!("unknown command {}", name.get(..40).unwrap_or(name)),
        };
        Ok(match name.as_str() {
            "CAPABILITY" => C::Capability,
            "NOOP" => C::Noop,
            "LOGOUT" => C::Logout,
            "STARTTLS" => C::StartTls,
            "CHECK" => C::Check,
            "CLOSE" => C::Close,
            "EXPUNGE" => C::Expunge,
            "IDLE" => C::Idle,
            "NAMESPACE" => C::Namespace,
            "UNSELECT" => C::Unselect,
            "AUTHENTICATE" => {
                self.quiet = true;
                self.sp()?;
                let mechanism = self.atom_upper()?;
                let mut initial = None;
                if self.sp_more() {
                    let ir = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                    if ir.is_empty() {
                        return Err(self.error("base64 initial response"));
                    }
                    initial = Some(ascii(ir));
                }
                C::Authenticate { mechanism, initial }
            }
            "LOGIN" => {
                self.quiet = true;
                self.sp()?;
                let user = self.login_astring()?;
                self.sp()?;
                C::Login {
                    user,
                    password: self.login_astring()?,
                }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.astring()?;
                let mut condstore = false;
                if self.sp_more() {
                    for param in self.paren_list(Self::atom_upper)? {
                        match param.as_str() {
                            "CONDSTORE" => condstore = true,
                            _ => return Err(syntax("unsupported SELECT/EXAMINE parameter")),
                        }
                    }
                }
                if name == "SELECT" {
                    C::Select { mailbox, condstore }
                } else {
                    C::Examine { mailbox, condstore }
                }
            }
            "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" => {
                self.sp()?;
                let mailbox = self.astring()?;
                match name.as_str() {
                    "CREATE" => C::Create(mailbox),
                    "DELETE" => C::Delete(mailbox),
                    "SUBSCRIBE" => C::Subscribe(mailbox),
                    _ => C::Unsubscribe(mailbox),
                }
            }
            "RENAME" => {
                self.sp()?;
                let from = self.astring()?;
                self.sp()?;
                C::Rename {
                    from,
                    to: self.astring()?,
                }
            }
            "LIST" | "LSUB" => {
                self.sp()?;
                let reference = self.astring()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                if name == "LIST" {
                    C::List { reference, pattern }
                } else {
                    C::Lsub { reference, pattern }
                }
            }
            "STATUS" => {
                self.sp()?;
                let mailbox = self.astring()?;
                self.sp()?;
                let items = self.paren_list(|p| {
                    Ok(match p.atom_upper()?.as_str() {
                        "MESSAGES" => StatusItem::Messages,
                        "RECENT" => StatusItem::Recent,
                        "UIDNEXT" => StatusItem::UidNext,
                        "UIDVALIDITY" => StatusItem::UidValidity,
                        "UNSEEN" => StatusItem::Unseen,
                        "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
                        _ => return Err(syntax("unknown STATUS item")),
                    })
                })?;
                C::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" | "MOVE" => self.copy_move(false, name == "MOVE")?,
            "ID" => {
                self.sp()?;
                if self.nil() {
                    C::Id(None)
                } else {
                    C::Id(Some(self.paren_list(|p| {
                        let field = p.string()?;
                        p.sp()?;
                        Ok((field, p.nstring()?))
                    })?))
                }
            }
            "ENABLE" => {
                self.sp()?;
                let mut caps = vec![self.atom_upper()?];
                while self.sp_more() {
                    caps.push(self.atom_upper()?);
                }
                C::Enable(caps)
            }
            "UID" => {
                self.sp()?;
                let sub = self.atom_upper()?;
                match sub.as_str() {
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "SEARCH" => self.search(true)?,
                    "COPY" | "MOVE" => self.copy_move(true, sub == "MOVE")?,
                    "EXPUNGE" => {
                        self.sp()?;
                        C::UidExpunge(self.sequence_set()?)
                    }
                    _ => return Err(unknown(&format!("UID {sub}"))),
                }
            }
            _ => return Err(unknown(&name)),
        })
    }

    fn append(&mut self) -> PResult<Command> {
        self.sp()?;
        let mailbox = self.astring()?;
        self.sp()?;
        let mut flags = Vec::new();
        if self.peek() == Some(b'(') {
            flags = self.flag_list()?;
            self.sp()?;
        }
        let mut date = None;
        if self.peek() == Some(b'"') {
            date = Some(self.date_time()?);
            self.sp()?;
        }
        if self.peek() != Some(b'{') {
            return Err(self.error("message literal"));
        }
        let message = self.literal()?.to_vec();
        Ok(Command::Append {
            mailbox,
            flags,
            date,
            message,
        })
    }

    fn copy_move(&mut self, uid: bool, is_move: bool) -> PResult<Command> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mailbox = self.astring()?;
        Ok(if is_move {
            Command::Move { set, mailbox, uid }
        } else {
            Command::Copy { set, mailbox, uid }
        })
    }

    fn search(&mut self, uid: bool) -> PResult<Command> {
        self.sp()?;
        let mut charset = None;
        let save = self.pos;
        if self
            .take_while(is_atom_char)
            .eq_ignore_ascii_case(b"CHARSET")
            && self.eat(b' ')
        {
            let cs = self.astring()?;
            let canonical = ["UTF-8", "US-ASCII"]
                .into_iter()
                .find(|c| cs.eq_ignore_ascii_case(c));
            let Some(canonical) = canonical else {
                return Err(PErr {
                    kind: ErrorKind::BadCharset,
                    message: "unsupported charset".into(),
                });
            };
            charset = Some(canonical.to_string());
            self.sp()?;
        } else {
            self.pos = save;
        }
        let mut keys = vec![self.search_key(0, 0)?];
        while self.sp_more() {
            keys.push(self.search_key(0, 0)?);
        }
        Ok(Command::Search {
            charset,
            criteria: SearchKey::And(keys),
            uid,
        })
    }

    fn search_key(&mut self, depth: u32, parens: u32) -> PResult<SearchKey> {
        use SearchKey as K;
        if depth >= MAX_SEARCH_DEPTH {
            return Err(syntax("search criteria nested too deeply"));
        }
        match self.peek() {
            Some(b'(') => {
                if parens >= MAX_SEARCH_PARENS {
                    return Err(syntax("search parentheses nested too deeply"));
                }
                return Ok(K::And(
                    self.paren_list(|p| p.search_key(depth + 1, parens + 1))?,
                ));
            }
            Some(b'*' | b'0'..=b'9') => return Ok(K::SequenceSet(self.sequence_set()?)),
            _ => {}
        }
        let name = self.atom_upper()?;
        let simple = match name.as_str() {
            "ALL" => Some(K::All),
            "ANSWERED" => Some(K::Answered),
            "DELETED" => Some(K::Deleted),
            "DRAFT" => Some(K::Draft),
            "FLAGGED" => Some(K::Flagged),
            "NEW" => Some(K::New),
            "OLD" => Some(K::Old),
            "RECENT" => Some(K::Recent),
            "SEEN" => Some(K::Seen),
            "UNANSWERED" => Some(K::Unanswered),
            "UNDELETED" => Some(K::Undeleted),
            "UNDRAFT" => Some(K::Undraft),
            "UNFLAGGED" => Some(K::Unflagged),
            "UNSEEN" => Some(K::Unseen),
            _ => None,
        };
        if let Some(key) = simple {
            return Ok(key);
        }
        if !SEARCH_KEYS_WITH_ARGS.split_whitespace().any(|k| k == name) {
            return Err(syntax(format!(
                "unknown search key {}",
                name.get(..40).unwrap_or(&name)
            )));
        }
        self.sp()?;
        Ok(match name.as_str() {
            "BCC" => K::Bcc(self.astring()?),
            "BODY" => K::Body(self.astring()?),
            "CC" => K::Cc(self.astring()?),
            "FROM" => K::From(self.astring()?),
            "SUBJECT" => K::Subject(self.astring()?),
            "TEXT" => K::Text(self.astring()?),
            "TO" => K::To(self.astring()?),
            "BEFORE" => K::Before(self.date()?),
            "ON" => K::On(self.date()?),
            "SINCE" => K::Since(self.date()?),
            "SENTBEFORE" => K::SentBefore(self.date()?),
            "SENTON" => K::SentOn(self.date()?),
            "SENTSINCE" => K::SentSince(self.date()?),
            "KEYWORD" => K::Keyword(ascii(self.atom()?)),
            "UNKEYWORD" => K::Unkeyword(ascii(self.atom()?)),
            "LARGER" => K::Larger(self.number()?),
            "SMALLER" => K::Smaller(self.number()?),
            "UID" => K::Uid(self.sequence_set()?),
            "HEADER" => {
                let field = self.astring()?;
                self.sp()?;
                K::Header(field, self.astring()?)
            }
            "NOT" => K::Not(Box::new(self.search_key(depth + 1, parens)?)),
            "OR" => {
                let a = self.search_key(depth + 1, parens)?;
                self.sp()?;
                K::Or(Box::new(a), Box::new(self.search_key(depth + 1, parens)?))
            }
            "MODSEQ" => {
                if self.peek() == Some(b'"') {
                    self.quoted()?; // entry-name, ignored
                    self.sp()?;
                    if !matches!(self.atom_upper()?.as_str(), "PRIV" | "SHARED" | "ALL") {
                        return Err(syntax("MODSEQ entry type must be priv, shared or all"));
                    }
                    self.sp()?;
                }
                K::ModSeq(self.mod_sequence(true)?)
            }
            _ => return Err(syntax("unknown search key")),
        })
    }

    fn fetch(&mut self, uid: bool) -> PResult<Command> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let items = if self.peek() == Some(b'(') {
            FetchItems::List(self.paren_list(Self::fetch_att)?)
        } else {
            let save = self.pos;
            match self.fetch_name().as_str() {
                "ALL" => FetchItems::All,
                "FAST" => FetchItems::Fast,
                "FULL" => FetchItems::Full,
                _ => {
                    self.pos = save;
                    FetchItems::List(vec![self.fetch_att()?])
                }
            }
        };
        let changed_since = match self.sp_more() {
            true => self.modifier("CHANGEDSINCE", false)?,
            false => None,
        };
        Ok(Command::Fetch {
            set,
            items,
            uid,
            changed_since,
        })
    }

    /// `"(" NAME SP mod-sequence ")"`: the one FETCH / STORE modifier supported.
    fn modifier(&mut self, name: &str, zero_ok: bool) -> PResult<Option<u64>> {
        let mut value = None;
        for (n, v) in self.paren_list(|p| {
            let n = p.atom_upper()?;
            p.sp()?;
            Ok((n, p.mod_sequence(zero_ok)?))
        })? {
            if n != name || value.is_some() {
                return Err(syntax(format!(
                    "unknown or repeated modifier, expected {name}"
                )));
            }
            value = Some(v);
        }
        Ok(value)
    }

    fn fetch_name(&mut self) -> String {
        ascii(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.')).to_ascii_uppercase()
    }

    fn fetch_att(&mut self) -> PResult<FetchAttr> {
        use FetchAttr as A;
        let name = self.fetch_name();
        Ok(match name.as_str() {
            "ENVELOPE" => A::Envelope,
            "FLAGS" => A::Flags,
            "INTERNALDATE" => A::InternalDate,
            "RFC822" => A::Rfc822,
            "RFC822.HEADER" => A::Rfc822Header,
            "RFC822.SIZE" => A::Rfc822Size,
            "RFC822.TEXT" => A::Rfc822Text,
            "BODYSTRUCTURE" => A::BodyStructure,
            "UID" => A::Uid,
            "MODSEQ" => A::ModSeq,
            "BODY" if self.peek() != Some(b'[') => A::Body,
            "BODY" | "BODY.PEEK" => {
                let section = self.section()?;
                let mut partial = None;
                if self.eat(b'<') {
                    let origin = self.number()?;
                    self.expect(b'.', "'.' in partial")?;
                    let len = self.nz_number()?;
                    self.expect(b'>', "'>'")?;
                    partial = Some((origin, len));
                }
                A::BodySection {
                    peek: name == "BODY.PEEK",
                    section,
                    partial,
                }
            }
            _ => return Err(self.error("FETCH data item")),
        })
    }

    fn section(&mut self) -> PResult<Section> {
        self.expect(b'[', "'['")?;
        let mut section = Section::default();
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            loop {
                section.part.push(self.nz_number()?);
                if self.peek() != Some(b'.') {
                    break;
                }
                self.pos += 1;
                if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    section.text = Some(self.section_text(true)?);
                    break;
                }
            }
        } else if self.peek() != Some(b']') {
            section.text = Some(self.section_text(false)?);
        }
        self.expect(b']', "']'")?;
        Ok(section)
    }

    fn section_text(&mut self, after_part: bool) -> PResult<SectionText> {
        let start = self.pos;
        let name = ascii(self.take_while(|b| b.is_ascii_alphabetic() || b == b'.'));
        Ok(match name.to_ascii_uppercase().as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if after_part => SectionText::Mime,
            n @ ("HEADER.FIELDS" | "HEADER.FIELDS.NOT") => {
                self.sp()?;
                let fields = self.paren_list(|p| {
                    let f = p.astring()?;
                    if !f.bytes().all(is_ftext) {
                        return Err(syntax("invalid header field name"));
                    }
                    Ok(f.to_ascii_uppercase())
                })?;
                if n == "HEADER.FIELDS" {
                    SectionText::HeaderFields(fields)
                } else {
                    SectionText::HeaderFieldsNot(fields)
                }
            }
            _ => {
                self.pos = start;
                return Err(self.error("section"));
            }
        })
    }

    fn store(&mut self, uid: bool) -> PResult<Command> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.peek() == Some(b'(') {
            unchanged_since = self.modifier("UNCHANGEDSINCE", true)?;
            self.sp()?;
        }
        let op = self.atom_upper()?;
        let (mode, rest) = match op.strip_prefix('+') {
            Some(r) => (StoreMode::Add, r),
            None => match op.strip_prefix('-') {
                Some(r) => (StoreMode::Remove, r),
                None => (StoreMode::Replace, op.as_str()),
            },
        };
        let silent = match rest {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(syntax("expected FLAGS, +FLAGS or -FLAGS [.SILENT]")),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut flags = vec![self.flag()?];
            while self.sp_more() {
                flags.push(self.flag()?);
            }
            flags
        };
        Ok(Command::Store {
            set,
            uid,
            unchanged_since,
            mode,
            silent,
            flags,
        })
    }
}

// --- Tests ---

#[cfg(test)]
mod tests {
    use super::*;
    use SearchKey as K;
    use SeqBound::{Num, Star};

    /// One case per non-blank line of `table`; the text `\r\n` stands for CRLF.
    fn cases(table: &str) -> Vec<String> {
        let lines = table.lines().map(str::trim).filter(|l| !l.is_empty());
        lines.map(|l| l.replace(r"\r\n", "\r\n")).collect()
    }

    fn ok(input: &str) -> Command {
        match parse(input.as_bytes()) {
            Ok(r) => r.command,
            Err(e) => panic!("{input:?} failed: {e:?}"),
        }
    }

    fn bad(input: impl AsRef<[u8]>) -> ParseError {
        parse(input.as_ref()).expect_err("should fail")
    }

    fn msg(input: impl AsRef<[u8]>) -> String {
        bad(input).message
    }

    /// Lines `input => expected`: the Debug form of the parsed command.
    fn snapshots(table: &str) {
        for case in cases(table) {
            let (input, expected) = case.split_once(" => ").expect("=>");
            assert_eq!(format!("{:?}", ok(input)), expected, "{input:?}");
        }
    }

    /// Every line of `table` must fail with `kind`, the tag being read.
    fn all_bad(kind: ErrorKind, table: &str) {
        for input in cases(table) {
            let e = bad(&input);
            assert_eq!((e.kind, e.tag.is_some()), (kind, true), "{input:?}: {e:?}");
            let printable = e.message.bytes().all(|b| (0x20..0x7f).contains(&b));
            assert!(printable, "{e:?}");
        }
    }

    fn set(ranges: &[(SeqBound, SeqBound)]) -> SequenceSet {
        let ranges = ranges.iter().map(|&(from, to)| SeqRange { from, to });
        SequenceSet(ranges.collect())
    }

    fn one(n: u32) -> SequenceSet {
        set(&[(Num(n), Num(n))])
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn literal_at_end_cases() {
        let l = |s: &str| literal_at_end(s.as_bytes()).map(|l| (l.size, l.non_sync));
        assert_eq!(l("a LOGIN {5}"), Some((5, false)));
        assert_eq!(l("a APPEND INBOX {0}"), Some((0, false)));
        assert_eq!(l("a LOGIN {12+}"), Some((12, true)));
        assert_eq!(l("BODY[HEADER.FIELDS ({4}"), Some((4, false)));
        assert_eq!(l(" {18446744073709551615}"), Some((u64::MAX, false)));
        for line in cases(
            r"a LOGIN {3} bob
            a LOGIN foo{3}
            {3}
            a LOGIN {}
            a LOGIN {+}
            a LOGIN {3++}
            a LOGIN {-3}
            a LOGIN {18446744073709551616}
            a NOOP",
        ) {
            assert_eq!(l(&line), None, "{line}");
        }
        assert_eq!(l(""), None);
    }

    #[test]
    fn tags_and_error_kinds() {
        assert_eq!(parse(b"A0001] NOOP").unwrap().tag, "A0001]");
        assert_eq!(ok("a1 NoOp  "), Command::Noop); // trailing spaces: leniency
        for input in [
            "",
            "* NOOP",
            "+ NOOP",
            "a{ NOOP",
            " NOOP",
            "a\"b NOOP",
            "a+b",
        ] {
            let e = bad(input);
            assert_eq!((e.tag, e.kind), (None, ErrorKind::InvalidTag), "{input}");
        }
        let e = bad("t1 FROB x");
        let unknown = ErrorKind::UnknownCommand;
        assert_eq!((e.tag.as_deref(), e.kind), (Some("t1"), unknown));
        all_bad(unknown, "t DONE \n t SORT (DATE) UTF-8 ALL \n t UID THREAD");
        let e = bad("t3 NOOP extra");
        assert_eq!((e.tag.as_deref(), e.kind), (Some("t3"), ErrorKind::Syntax));
        for case in cases(
            r#"t1 FROB x => unknown command FROB
            t2 UID FROB 1 => unknown command UID FROB
            t3 NOOP extra => expected end of command at "extra"
            t4 SELECT => expected space at end of command
            a1 => expected space at end of command
            t5 FETCH 1 (FLAGS  UID) => expected FETCH data item at " UID)"
            t6 LOGIN joe {5}\r\npw => literal shorter than announced
            t7 LOGIN joe {99999999999999999999}\r\n => number too large
            t8 LOGIN "a\r\nb" c => CR, LF or NUL in quoted string
            t9 LOGIN joe "p\q" => invalid escape in quoted string
            t10 STATUS x (SIZE) => unknown STATUS item
            t11 SEARCH CHARSET => unknown search key CHARSET
            t12 SEARCH FOO => unknown search key FOO
            t13 FETCH 1 FLAGS (VANISHED 1) => unknown or repeated modifier, expected CHANGEDSINCE
            t14 FETCH 1 BODY[1]<x> => expected number at "x>"
            t15 LOGIN joe secret more => expected end of command at octet 21
            t16 AUTHENTICATE PLAIN secret* => expected end of command at octet 29"#,
        ) {
            let (input, message) = case.split_once(" => ").unwrap();
            assert_eq!(msg(input), message, "{input}");
        }
        assert_eq!(
            msg(b"a LOGIN {2}\r\n\xff\xfe pw"),
            "string is not valid UTF-8"
        );
        assert_eq!(msg(b"a LOGIN {2}\r\na\0 pw"), "NUL in string");
        assert_eq!(msg(b"a CREATE \"\xff\""), "string is not valid UTF-8");
        assert_eq!(msg(b"a CREATE \xc3\xa9"), "expected string at \"??\"");
    }

    #[test]
    fn simple_and_mailbox_commands() {
        snapshots(
            r#"a1 CAPABILITY => Capability
            a1 noop => Noop
            x LOGOUT => Logout
            x StartTLS => StartTls
            x CHECK => Check
            x CLOSE => Close
            x EXPUNGE => Expunge
            x IDLE => Idle
            x NAMESPACE => Namespace
            x UNSELECT => Unselect
            a LOGIN joe "p a\"s\\s" => Login { user: "joe", password: "p a\"s\\s" }
            a LOGIN jöe@x.y pässword => Login { user: "jöe@x.y", password: "pässword" }
            a LOGIN {8}\r\njöe@x.y {3+}\r\np]w => Login { user: "jöe@x.y", password: "p]w" }
            a authenticate plain => Authenticate { mechanism: "PLAIN", initial: None }
            a AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ= => Authenticate { mechanism: "PLAIN", initial: Some("AGpvZQBzZWNyZXQ=") }
            a AUTHENTICATE XOAUTH2 = => Authenticate { mechanism: "XOAUTH2", initial: Some("=") }
            a SELECT inbox => Select { mailbox: "inbox", condstore: false }
            a SELECT INBOX (CONDSTORE) => Select { mailbox: "INBOX", condstore: true }
            a EXAMINE "Sent Items" (condstore) => Examine { mailbox: "Sent Items", condstore: true }
            a CREATE "Café" => Create("Café")
            a CREATE &AOk-t&AOk- => Create("&AOk-t&AOk-")
            a DELETE foo]bar => Delete("foo]bar")
            a SUBSCRIBE a/b => Subscribe("a/b")
            a UNSUBSCRIBE {3}\r\na b => Unsubscribe("a b")
            a RENAME old "new one" => Rename { from: "old", to: "new one" }
            a LIST "" "*" => List { reference: "", pattern: "*" }
            a LIST "" % => List { reference: "", pattern: "%" }
            a LIST "" "" => List { reference: "", pattern: "" }
            a list "" INBOX/%/x*] => List { reference: "", pattern: "INBOX/%/x*]" }
            a LIST ~/Mail {1}\r\n% => List { reference: "~/Mail", pattern: "%" }
            a LSUB "" * => Lsub { reference: "", pattern: "*" }
            a STATUS "Sent Items" (MESSAGES UIDNEXT UNSEEN) => Status { mailbox: "Sent Items", items: [Messages, UidNext, Unseen] }
            a STATUS x (recent uidvalidity highestmodseq) => Status { mailbox: "x", items: [Recent, UidValidity, HighestModSeq] }
            a ID ("name" "mbsync" "version" NIL) => Id(Some([("name", Some("mbsync")), ("version", None)]))
            a ID nil => Id(None)
            a ID ({4}\r\nname "x") => Id(Some([("name", Some("x"))]))
            a ENABLE condstore utf8=accept => Enable(["CONDSTORE", "UTF8=ACCEPT"])"#,
        );
        assert_eq!(StatusItem::UidNext.name(), "UIDNEXT");
        all_bad(
            ErrorKind::Syntax,
            r#"t CAPABILITY now
            t LOGIN a  b
            t LOGIN joe {2}pw
            t FETCH 1 (FLAGS)\r\n
            t AUTHENTICATE PLAIN a*b
            t AUTHENTICATE
            t AUTHENTICATE PLAIN  x
            a SELECT INBOX (QRESYNC (1 2))
            a SELECT INBOX ()
            a CREATE foo*
            a RENAME x
            a LIST ""
            a LIST * *
            a LIST "" (x)
            a STATUS x ()
            a STATUS x MESSAGES
            a STATUS x (UNSEEN
            a ID (name "x")
            a ID ("name")
            a ID ()
            a ID NILS
            a ID
            t ENABLE"#,
        );
    }

    #[test]
    fn append_mbsync() {
        let mut msg = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n".to_vec();
        msg.resize(310, b'x');
        let line = r#"A7 APPEND "INBOX" (\Seen) "24-Nov-2026 10:00:00 +0000" {310+}"#;
        let lit = literal_at_end(line.as_bytes()).unwrap();
        assert_eq!((lit.size, lit.non_sync), (310, true));
        let mut input = format!("{line}\r\n").into_bytes();
        input.extend_from_slice(&msg);
        let date = Some(DateTime {
            unix: 1_795_514_400,
            offset_minutes: 0,
        });
        let (mailbox, flags) = (s("INBOX"), vec![Flag::Seen]);
        let expected = Command::Append {
            mailbox,
            flags,
            date,
            message: msg,
        };
        assert_eq!(parse(&input).unwrap().command, expected);
    }

    #[test]
    fn append_variants() {
        snapshots(
            r#"a APPEND Drafts {3}\r\nabc => Append { mailbox: "Drafts", flags: [], date: None, message: [97, 98, 99] }
            a APPEND x (\draft $Label1 \Custom) {0}\r\n => Append { mailbox: "x", flags: [Draft, Keyword("$Label1"), Extension("\\Custom")], date: None, message: [] }
            a APPEND x " 1-Jan-2020 00:00:00 -0500" {1}\r\n. => Append { mailbox: "x", flags: [], date: Some(DateTime { unix: 1577854800, offset_minutes: -300 }), message: [46] }
            a APPEND x "1-jan-2020 00:00:00 +0130" {1}\r\n. => Append { mailbox: "x", flags: [], date: Some(DateTime { unix: 1577831400, offset_minutes: 90 }), message: [46] }
            a APPEND x () "29-Feb-2024 23:59:59 +0000" {1}\r\n. => Append { mailbox: "x", flags: [], date: Some(DateTime { unix: 1709251199, offset_minutes: 0 }), message: [46] }"#,
        );
        all_bad(
            ErrorKind::Syntax,
            r#"a APPEND x "29-Feb-2023 00:00:00 +0000" {1}\r\n.
            a APPEND x "01-Jan-2020 24:00:00 +0000" {1}\r\n.
            a APPEND x "01-Jan-2020 00:60:00 +0000" {1}\r\n.
            a APPEND x "01-Jan-2020 00:00:00 +0060" {1}\r\n.
            a APPEND x "01-Foo-2020 00:00:00 +0000" {1}\r\n.
            a APPEND x "01-Jan-2020 00:00:00 0000" {1}\r\n.
            a APPEND x "01-Jan-20 00:00:00 +0000" {1}\r\n.
            a APPEND x "  1-Jan-2020 00:00:00 +0000" {1}\r\n.
            a APPEND x "01-Jan-2020 0:00:00 +0000" {1}\r\n.
            a APPEND x (\Recent) {1}\r\n.
            a APPEND x (\*) {1}\r\n.
            a APPEND x (\Seen)  {1}\r\n.
            a APPEND x "hello"
            a APPEND x hello
            a APPEND x {1}\r\n.. extra
            a APPEND x {2}\r\n.
            a APPEND x"#,
        );
    }

    #[test]
    fn sequence_sets() {
        let Command::Fetch { set: ss, .. } = ok("a FETCH 1,3:5,*,9:7,10:* FLAGS") else {
            panic!()
        };
        let expected = format!("{:?}", [(1, 1), (3, 5), (0, 0), (9, 7), (10, 0)]);
        let bound = |b: SeqBound| if let Num(n) = b { n } else { 0 };
        let got: Vec<_> = ss.0.iter().map(|r| (bound(r.from), bound(r.to))).collect();
        assert_eq!(format!("{got:?}"), expected);
        assert!(ss.contains(4, 20) && ss.contains(8, 20) && ss.contains(15, 20));
        assert!(!ss.contains(2, 20) && !ss.contains(6, 8));
        assert!(ss.contains(8, 8) && ss.contains(9, 8));
        let within = |max| ss.iter_within(max).collect::<Vec<_>>();
        assert_eq!(within(12), [1, 3, 4, 5, 7, 8, 9, 10, 11, 12]);
        assert_eq!(ss.ranges_within(12), [(1, 1), (3, 5), (7, 12)]);
        // 10:* with max 4 still includes the largest (RFC 3501 6.4.8); 9:7 does not.
        assert_eq!(within(4), [1, 3, 4]);
        assert_eq!(within(0), Vec::<u32>::new());
        let big = set(&[(Num(1), Num(u32::MAX)), (Num(u32::MAX), Num(3))]);
        assert_eq!(big.iter_within(3).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(big.ranges_within(u32::MAX), [(1, u32::MAX)]);
        let top = set(&[(Num(u32::MAX), Star)]);
        assert_eq!(top.ranges_within(u32::MAX), [(u32::MAX, u32::MAX)]);
        let Command::Copy { set: ss, .. } = ok("a COPY 4294967295 x") else {
            panic!()
        };
        assert_eq!(ss, one(u32::MAX));
        all_bad(
            ErrorKind::Syntax,
            "a FETCH 0 FLAGS \n a FETCH 01 FLAGS \n a FETCH 4294967296 FLAGS \n a FETCH 1: FLAGS
            a FETCH 1,,2 FLAGS \n a FETCH 1, FLAGS \n a FETCH $ FLAGS \n a FETCH 1 :2 FLAGS
            a FETCH 1:0 FLAGS \n a FETCH -1 FLAGS \n a FETCH 1:*:2 FLAGS",
        );
    }

    #[test]
    fn fetch_thunderbird() {
        let items = FetchItems::List(vec![FetchAttr::Flags]);
        let (set, changed_since) = (set(&[(Num(1), Star)]), None);
        let expected = Command::Fetch {
            set,
            items,
            uid: true,
            changed_since,
        };
        assert_eq!(ok("3 UID fetch 1:* (FLAGS)"), expected);
        let input = "12 UID FETCH 5 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc \
            Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To \
            Content-Type Reply-To)])";
        let Command::Fetch {
            set: ss,
            items,
            uid: true,
            ..
        } = ok(input)
        else {
            panic!()
        };
        let names = "FROM TO CC BCC SUBJECT DATE MESSAGE-ID PRIORITY X-PRIORITY REFERENCES \
            NEWSGROUPS IN-REPLY-TO CONTENT-TYPE REPLY-TO";
        let fields = names.split(' ').map(s).collect();
        let text = Some(SectionText::HeaderFields(fields));
        let section = Section { part: vec![], text };
        let body = FetchAttr::BodySection {
            peek: true,
            section,
            partial: None,
        };
        let attrs = vec![FetchAttr::Uid, FetchAttr::Rfc822Size, FetchAttr::Flags];
        assert_eq!(
            (ss, items.attrs()),
            (one(5), [attrs, vec![body.clone()]].concat())
        );
        assert_eq!(
            body.response_name(),
            format!("BODY[HEADER.FIELDS ({names})]")
        );
        assert!(!body.sets_seen());
    }

    #[test]
    fn fetch_apple_mail_partial() {
        let input = "A5 FETCH 1:* (FLAGS UID BODY.PEEK[]<0.2048>)";
        let Command::Fetch {
            items, uid: false, ..
        } = ok(input)
        else {
            panic!()
        };
        let (section, partial) = (Section::default(), Some((0, 2048)));
        let body = FetchAttr::BodySection {
            peek: true,
            section,
            partial,
        };
        assert_eq!(items.attrs(), [FetchAttr::Flags, FetchAttr::Uid, body]);
        assert_eq!(items.attrs()[2].response_name(), "BODY[]<0>");
    }

    #[test]
    fn fetch_sections_and_names() {
        let att = |a: &str| match ok(&format!("a FETCH 1 {a}")) {
            Command::Fetch {
                items: FetchItems::List(mut v),
                ..
            } if v.len() == 1 => v.remove(0),
            other => panic!("{other:?}"),
        };
        for case in cases(
            r#"body => BODY
            BODYSTRUCTURE => BODYSTRUCTURE
            envelope => ENVELOPE
            INTERNALDATE => INTERNALDATE
            (flags) => FLAGS
            uid => UID
            rfc822 => RFC822
            RFC822.HEADER => RFC822.HEADER
            RFC822.SIZE => RFC822.SIZE
            RFC822.TEXT => RFC822.TEXT
            MODSEQ => MODSEQ
            BODY[] => BODY[]
            body.peek[1.2.mime] => BODY[1.2.MIME]
            BODY[1.2.3]<10.5> => BODY[1.2.3]<10>
            BODY[2.HEADER] => BODY[2.HEADER]
            BODY[TEXT] => BODY[TEXT]
            BODY[3.TEXT] => BODY[3.TEXT]
            BODY[HEADER.FIELDS.NOT (x-spam "a]b")] => BODY[HEADER.FIELDS.NOT (X-SPAM "A]B")]
            BODY[HEADER.FIELDS ({4}\r\nFrom "a(b")] => BODY[HEADER.FIELDS (FROM "A(B")]
            BODY[4.header.fields (a)]<4294967295.4294967295> => BODY[4.HEADER.FIELDS (A)]<4294967295>"#,
        ) {
            let (input, name) = case.split_once(" => ").unwrap();
            assert_eq!(att(input).response_name(), name, "{input}");
        }
        for (a, seen) in [("BODY[1]", true), ("RFC822", true), ("RFC822.TEXT", true)] {
            assert_eq!(att(a).sets_seen(), seen, "{a}");
        }
        for (a, seen) in [("BODY", false), ("RFC822.HEADER", false), ("FLAGS", false)] {
            assert_eq!(att(a).sets_seen(), seen, "{a}");
        }
        let text = Some(SectionText::Header);
        let section = Section {
            part: vec![1, 2],
            text,
        };
        let expected = FetchAttr::BodySection {
            peek: false,
            section,
            partial: None,
        };
        assert_eq!(att("BODY[1.2.HEADER]"), expected);
        all_bad(
            ErrorKind::Syntax,
            "a FETCH 1 BODY[MIME] \n a FETCH 1 BODY.PEEK \n a FETCH 1 BODY[0] \n a FETCH 1 BODY[1.]
            a FETCH 1 BODY[HEADER.FIELDS ()] \n a FETCH 1 BODY[HEADER.FIELDS (a:b)]
            a FETCH 1 BODY[HEADER.FIELDS From] \n a FETCH 1 BODY[FOO] \n a FETCH 1 RFC822.FOO
            a FETCH 1 (FLAGS ALL) \n a FETCH 1 () \n a FETCH 1 (FLAGS  UID) \n a FETCH 1 (FLAGS
            a FETCH 1 BODY[1]<4294967296.1> \n a FETCH 1 BODY[]<0.0> \n a FETCH 1 BODY[]<0>
            a FETCH 1 BODY[] <0.1> \n a FETCH 1 BODY [] \n a FETCH 1 BODY[1.MIME.TEXT]
            a FETCH 1 ALLX \n a FETCH 1 BINARY[1] \n a FETCH 1 BODY[HEADER.FIELDS(From)]",
        );
    }

    #[test]
    fn fetch_macros_and_changedsince() {
        use FetchAttr as A;
        snapshots(
            "a FETCH 1 all => Fetch { set: SequenceSet([SeqRange { from: Num(1), to: Num(1) }]), items: All, uid: false, changed_since: None }
            a FETCH 1:2 FAST => Fetch { set: SequenceSet([SeqRange { from: Num(1), to: Num(2) }]), items: Fast, uid: false, changed_since: None }
            a FETCH * Full (changedsince 9) => Fetch { set: SequenceSet([SeqRange { from: Star, to: Star }]), items: Full, uid: false, changed_since: Some(9) }
            a UID FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775807) => Fetch { set: SequenceSet([SeqRange { from: Num(1), to: Num(1) }]), items: List([Flags]), uid: true, changed_since: Some(9223372036854775807) }",
        );
        assert_eq!(
            FetchItems::Fast.attrs(),
            [A::Flags, A::InternalDate, A::Rfc822Size]
        );
        let all = [A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope];
        assert_eq!(FetchItems::All.attrs(), all);
        assert_eq!(FetchItems::Full.attrs(), [&all[..], &[A::Body]].concat());
        all_bad(
            ErrorKind::Syntax,
            "a FETCH 1 FLAGS (CHANGEDSINCE 0) \n a FETCH 1 FLAGS (VANISHED)
            a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)
            a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)
            a FETCH 1 FLAGS (UNCHANGEDSINCE 1) \n a FETCH 1 FLAGS CHANGEDSINCE 1",
        );
    }

    #[test]
    fn store() {
        let (set, flags) = (set(&[(Num(1), Num(3))]), vec![Flag::Deleted]);
        let (mode, unchanged_since) = (StoreMode::Add, None);
        let (uid, silent) = (false, true);
        let expected = Command::Store {
            set,
            uid,
            unchanged_since,
            mode,
            silent,
            flags,
        };
        assert_eq!(ok(r"a STORE 1:3 +FLAGS.SILENT (\Deleted)"), expected);
        let (set, flags) = (one(7), vec![Flag::Seen, Flag::Keyword(s("$Forwarded"))]);
        let (mode, unchanged_since) = (StoreMode::Replace, Some(12));
        let (uid, silent) = (true, false);
        let expected = Command::Store {
            set,
            uid,
            unchanged_since,
            mode,
            silent,
            flags,
        };
        let input = r"a UID STORE 7 (UNCHANGEDSINCE 12) FLAGS (\Seen $Forwarded)";
        assert_eq!(ok(input), expected);
        let Command::Store { mode, flags, .. } = ok(r"a STORE 2 -flags \SEEN \answered \FLAGGED ")
        else {
            panic!()
        };
        let all = vec![Flag::Seen, Flag::Answered, Flag::Flagged];
        assert_eq!((mode, flags), (StoreMode::Remove, all));
        snapshots(
            r#"a STORE 1 (UNCHANGEDSINCE 0) FLAGS () => Store { set: SequenceSet([SeqRange { from: Num(1), to: Num(1) }]), uid: false, unchanged_since: Some(0), mode: Replace, silent: false, flags: [] }
            a STORE * -FLAGS.silent $Junk \Custom => Store { set: SequenceSet([SeqRange { from: Star, to: Star }]), uid: false, unchanged_since: None, mode: Remove, silent: true, flags: [Keyword("$Junk"), Extension("\\Custom")] }"#,
        );
        all_bad(
            ErrorKind::Syntax,
            r"a STORE 1 FLAGS
            a STORE 1 FLAGS \*
            a STORE 1 +FLAGS (\Recent)
            a STORE 1 FLAGS.QUIET (\Seen)
            a STORE 1 +-FLAGS (\Seen)
            a STORE 1 (FOO 1) FLAGS x
            a STORE 1 FLAGS (\Seen
            a STORE 1 FLAGS \Seen  \Draft
            a STORE 1 +FLAGS (a b]
            a STORE 1 FLAGS (\Seen) (UNCHANGEDSINCE 1)",
        );
        assert_eq!(Flag::Keyword(s("$Junk")).to_string(), "$Junk");
        assert_eq!(Flag::Recent.to_string(), r"\Recent");
        assert_eq!(Flag::Extension(s(r"\X")).to_string(), r"\X");
    }

    #[test]
    fn copy_move_expunge() {
        snapshots(
            r#"a UID COPY 1:5 Archive => Copy { set: SequenceSet([SeqRange { from: Num(1), to: Num(5) }]), mailbox: "Archive", uid: true }
            a MOVE 2 "Deleted Items" => Move { set: SequenceSet([SeqRange { from: Num(2), to: Num(2) }]), mailbox: "Deleted Items", uid: false }
            a uid move 3:4 x => Move { set: SequenceSet([SeqRange { from: Num(3), to: Num(4) }]), mailbox: "x", uid: true }
            a UID EXPUNGE 3,5:* => UidExpunge(SequenceSet([SeqRange { from: Num(3), to: Num(3) }, SeqRange { from: Num(5), to: Star }]))"#,
        );
        all_bad(
            ErrorKind::Syntax,
            "a COPY 1 \n a MOVE 1 \n a UID EXPUNGE \n a UID",
        );
    }

    fn criteria(input: &str) -> (Option<String>, Vec<SearchKey>) {
        match ok(input) {
            Command::Search {
                charset,
                criteria: K::And(v),
                ..
            } => (charset, v),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn search_charset_and_utf8_literal() {
        let input = "a SEARCH CHARSET UTF-8 OR SUBJECT {5}\r\ncafé FROM bob";
        let (cs, keys) = criteria(input);
        assert_eq!(cs.as_deref(), Some("UTF-8"));
        let subject = Box::new(K::Subject(s("café")));
        assert_eq!(keys, [K::Or(subject, Box::new(K::From(s("bob"))))]);
        // four octets cut the é in half
        let e = bad("a SEARCH CHARSET UTF-8 OR SUBJECT {4}\r\ncafé FROM bob");
        let expected = (ErrorKind::Syntax, "string is not valid UTF-8");
        assert_eq!((e.kind, e.message.as_str()), expected);
        let (cs, keys) = criteria("a SEARCH charset \"us-ascii\" SUBJECT \"über\"");
        assert_eq!(cs.as_deref(), Some("US-ASCII"));
        assert_eq!(keys, [K::Subject(s("über"))]);
        // 8-bit is not allowed in atoms, only in quoted strings and literals
        assert_eq!(bad("a SEARCH SUBJECT é").kind, ErrorKind::Syntax);
        let e = bad("a8 SEARCH CHARSET ISO-8859-1 TEXT x");
        assert_eq!(
            (e.tag.as_deref(), e.kind),
            (Some("a8"), ErrorKind::BadCharset)
        );
    }

    #[test]
    fn search_all_keys() {
        let d = |year, month, day| Date { year, month, day };
        let input = r#"a UID SEARCH ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY "x y" CC c DELETED
            DRAFT FLAGGED FROM f HEADER Message-ID <a@b> KEYWORD $Junk LARGER 100 NEW NOT SEEN OLD
            ON "29-feb-2000" OR 1 2 RECENT SEEN SENTBEFORE 01-Jan-2020 SENTON 2-Mar-2021
            SENTSINCE 31-Dec-1999 SINCE 10-Oct-2010 SMALLER 0 SUBJECT s TEXT t TO to UID 1:*
            UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $x UNSEEN 1,2:3 (SEEN (DRAFT))
            MODSEQ 5 MODSEQ "/flags/\\draft" all 620162338"#;
        let Command::Search {
            charset: None,
            criteria,
            uid: true,
        } = ok(&cases(input).join(" "))
        else {
            panic!()
        };
        let or = K::Or(
            Box::new(K::SequenceSet(one(1))),
            Box::new(K::SequenceSet(one(2))),
        );
        let seqs = K::SequenceSet(set(&[(Num(1), Num(1)), (Num(2), Num(3))]));
        let and = K::And(vec![K::Seen, K::And(vec![K::Draft])]);
        #[rustfmt::skip]
        let expected = K::And(vec![
            K::All, K::Answered, K::Bcc(s("b")), K::Before(d(1994, 2, 1)), K::Body(s("x y")),
            K::Cc(s("c")), K::Deleted, K::Draft, K::Flagged, K::From(s("f")),
            K::Header(s("Message-ID"), s("<a@b>")), K::Keyword(s("$Junk")), K::Larger(100), K::New,
            K::Not(Box::new(K::Seen)), K::Old, K::On(d(2000, 2, 29)), or, K::Recent, K::Seen,
            K::SentBefore(d(2020, 1, 1)), K::SentOn(d(2021, 3, 2)), K::SentSince(d(1999, 12, 31)),
            K::Since(d(2010, 10, 10)), K::Smaller(0), K::Subject(s("s")), K::Text(s("t")),
            K::To(s("to")), K::Uid(set(&[(Num(1), Star)])), K::Unanswered, K::Undeleted,
            K::Undraft, K::Unflagged, K::Unkeyword(s("$x")), K::Unseen, seqs, and, K::ModSeq(5),
            K::ModSeq(620162338),
        ]);
        assert_eq!(criteria, expected);
        assert_eq!(d(1970, 1, 2).days_since_epoch(), 1);
        assert_eq!(d(1969, 12, 31).days_since_epoch(), -1);
    }

    #[test]
    fn search_errors_and_nesting() {
        let deep = |n: usize| format!("a SEARCH {}ALL{}", "(".repeat(n), ")".repeat(n));
        assert!(matches!(ok(&deep(32)), Command::Search { .. }));
        assert_eq!(msg(deep(33)), "search parentheses nested too deeply");
        let nots = |n: usize| format!("a SEARCH {}ALL", "NOT ".repeat(n));
        assert_eq!(msg(nots(10_000)), "search criteria nested too deeply");
        assert!(matches!(ok(&nots(100)), Command::Search { .. }));
        let ors = format!("a SEARCH {}SEEN{}", "OR ".repeat(50), " DRAFT".repeat(50));
        assert!(matches!(ok(&ors), Command::Search { .. }));
        all_bad(
            ErrorKind::Syntax,
            r#"a SEARCH
            a SEARCH ()
            a SEARCH (ALL
            a SEARCH ALL  SEEN
            a SEARCH OR SEEN
            a SEARCH SINCE 30-Feb-2020
            a SEARCH SINCE 1-Feb-20
            a SEARCH SINCE 123-Feb-2020
            a SEARCH SINCE "1-Feb-2020
            a SEARCH SINCE 1-Feb-2020"
            a SEARCH LARGER 4294967296
            a SEARCH LARGER x
            a SEARCH KEYWORD \Seen
            a SEARCH MODSEQ "/flags/x" bogus 1
            a SEARCH MODSEQ 9223372036854775808
            a SEARCH HEADER x
            a SEARCH 0
            a SEARCH $
            a SEARCH CHARSET UTF-8
            a SEARCH RETURN (MIN) ALL"#,
        );
    }
}
