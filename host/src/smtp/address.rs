//! SMTP envelope addresses: the `<...>` paths of `MAIL FROM:` and `RCPT TO:`.
//!
//! Grammar: RFC 5321 §4.1.2 (Path, Mailbox, Local-part, Domain,
//! address-literal), extended by RFC 6531 §3.3 (SMTPUTF8: UTF-8 in atoms,
//! quoted strings and domain labels). Pure parsing, no I/O, no policy: the
//! relay decision is made elsewhere on the final domain only.
//!
//! Deliberate decisions (each documented where it is implemented):
//! - `MAIL FROM:<>` (the null reverse-path, RFC 5321 §4.5.5) is accepted:
//!   bounces must get through (the original server rejected them, §7 #10).
//! - `RCPT TO:<postmaster>` without a domain is accepted, case-insensitively
//!   (RFC 5321 §4.1.1.3, §4.5.1).
//! - Source routes are accepted and dropped (RFC 5321 §4.1.2, Appendix C).
//! - `%` and `!` are ordinary atext: `user%other@host` is the mailbox
//!   `user%other` at `host`, never a relay instruction.
//! - One space before `<` is tolerated (`MAIL FROM: <a@b>` is common).
//! - Local parts are strict RFC 5321 dot-strings or quoted strings: no
//!   leading, trailing or doubled dots outside quotes.

use std::fmt::{self, Write as _};
use std::net::Ipv6Addr;

/// Maximum local-part length in octets, as sent (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Maximum domain length in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Maximum path length in octets, including the angle brackets and any source
/// route (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;
/// Maximum DNS label length (RFC 1035 §2.3.4). Only checked on ASCII labels:
/// the length limit of a U-label applies to its A-label form, which needs
/// IDNA to compute.
const MAX_LABEL: usize = 63;

/// A mailbox `local@domain`.
///
/// `local` holds the local part *decoded*: without the surrounding quotes and
/// backslash escapes of a quoted string (`"a\"b"` is stored as `a"b`). Its case
/// is preserved because local parts are case-sensitive (RFC 5321 §2.4).
/// `domain` holds the domain as sent, including the brackets of an address
/// literal (`[192.0.2.1]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    pub local: String,
    pub domain: String,
}

impl Mailbox {
    /// The domain lower-cased for comparisons and lookups: domains are
    /// case-insensitive (RFC 5321 §2.4); Unicode lower-casing also folds the
    /// case of U-labels.
    pub fn domain_lower(&self) -> String {
        self.domain.to_lowercase()
    }

    /// True when both parts are ASCII, so the mailbox needs no SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }

    /// True when the domain is an address literal such as `[192.0.2.1]`.
    pub fn is_address_literal(&self) -> bool {
        self.domain.starts_with('[')
    }
}

/// Writes `local@domain`, quoting the local part only when it is not a valid
/// dot-string: RFC 5321 §4.1.2 says to use the form with the least quoting.
impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(&self.local) {
            f.write_str(&self.local)?;
        } else {
            write_quoted(&self.local, f)?;
        }
        write!(f, "@{}", self.domain)
    }
}

fn write_quoted(local: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_char('"')?;
    for ch in local.chars() {
        if ch == '"' || ch == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(ch)?;
    }
    f.write_char('"')
}

/// The argument of `MAIL FROM:` (RFC 5321 §4.1.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null sender used by bounces and other notifications
    /// (RFC 5321 §4.5.5). Must be accepted.
    Null,
    Mailbox(Mailbox),
}

impl ReversePath {
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }
}

/// Writes the path with its angle brackets, e.g. for `Return-Path:`.
impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The argument of `RCPT TO:` (RFC 5321 §4.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<postmaster>` without a domain, matched case-insensitively; it means
    /// the postmaster of the receiving server (RFC 5321 §4.5.1).
    Postmaster,
    Mailbox(Mailbox),
}

impl ForwardPath {
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// Which envelope address failed, so that the reply carries the right
/// enhanced status code (RFC 3463: X.1.7 sender, X.1.3 recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRole {
    Sender,
    Recipient,
}

/// Why a path or mailbox was rejected. The `Display` text is the detail shown
/// in the SMTP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("path must be enclosed in angle brackets")]
    MissingAngleBrackets,
    #[error("missing closing angle bracket")]
    UnterminatedPath,
    #[error("empty path not allowed")]
    EmptyPath,
    #[error("invalid source route")]
    InvalidSourceRoute,
    #[error("invalid local part")]
    InvalidLocalPart,
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("missing @domain")]
    MissingDomain,
    #[error("invalid domain")]
    InvalidDomain,
    #[error("invalid address literal")]
    InvalidAddressLiteral,
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    #[error("domain longer than 255 octets")]
    DomainTooLong,
    #[error("path longer than 256 octets")]
    PathTooLong,
    #[error("unexpected characters after the path")]
    TrailingJunk,
    #[error("non-ASCII address requires SMTPUTF8")]
    Utf8Required,
}

impl AddressError {
    /// The SMTP reply: code, enhanced status code and text.
    ///
    /// Non-ASCII without SMTPUTF8 gets 553 5.6.7 ("Non-ASCII addresses not
    /// permitted for that sender/recipient", RFC 6531); every syntax problem
    /// gets 501 (RFC 5321 §4.5.3.1.10 also uses "501 Path too long") with
    /// 5.1.7 for the sender or 5.1.3 for a recipient (RFC 3463 §3.2).
    pub fn reply(&self, role: AddressRole) -> (u16, &'static str, String) {
        if *self == AddressError::Utf8Required {
            return (
                553,
                "5.6.7",
                "SMTPUTF8 required for this address".to_owned(),
            );
        }
        let (status, text) = match role {
            AddressRole::Sender => ("5.1.7", "Bad sender address syntax"),
            AddressRole::Recipient => ("5.1.3", "Bad recipient address syntax"),
        };
        (501, status, format!("{text}: {self}"))
    }
}

/// Parses a reverse-path (`<>` or `<mailbox>`, possibly with a source route)
/// at the start of `text`, which is what follows `MAIL FROM:`.
///
/// Returns the path and the rest of the line with leading spaces removed (the
/// ESMTP parameters). `utf8` allows non-ASCII in the address (SMTPUTF8).
pub fn parse_reverse_path(text: &str, utf8: bool) -> Result<(ReversePath, &str), AddressError> {
    let (target, rest) = parse_path(text, utf8)?;
    let path = match target {
        Target::Null => ReversePath::Null,
        Target::Mailbox(m) => ReversePath::Mailbox(m),
        // `<postmaster>` is only special as a recipient.
        Target::Postmaster => return Err(AddressError::MissingDomain),
    };
    Ok((path, rest))
}

/// Parses a forward-path (`<postmaster>` or `<mailbox>`, possibly with a
/// source route) at the start of `text`, which is what follows `RCPT TO:`.
/// Returns the path and the rest of the line as [`parse_reverse_path`] does.
pub fn parse_forward_path(text: &str, utf8: bool) -> Result<(ForwardPath, &str), AddressError> {
    let (target, rest) = parse_path(text, utf8)?;
    let path = match target {
        Target::Null => return Err(AddressError::EmptyPath),
        Target::Postmaster => ForwardPath::Postmaster,
        Target::Mailbox(m) => ForwardPath::Mailbox(m),
    };
    Ok((path, rest))
}

/// Parses a bare `local@domain` that must fill all of `text` (no brackets),
/// e.g. a configured address or an xtext-decoded `AUTH=` value.
pub fn parse_mailbox(text: &str, utf8: bool) -> Result<Mailbox, AddressError> {
    let mut c = Cursor::new(text);
    let local = local_part(&mut c, utf8)?;
    if !c.eat('@') {
        return Err(AddressError::MissingDomain);
    }
    let domain = domain(&mut c, utf8)?;
    match c.peek() {
        None => Ok(Mailbox { local, domain }),
        Some(_) => Err(AddressError::InvalidDomain),
    }
}

/// True when all of `text` is a syntactically valid domain or address literal
/// (RFC 5321 §4.1.2). Useful for an optional strict check of HELO/EHLO names.
pub fn is_valid_domain(text: &str, utf8: bool) -> bool {
    let mut c = Cursor::new(text);
    domain(&mut c, utf8).is_ok() && c.peek().is_none()
}

/// What a path names before the caller decides which forms its verb allows.
enum Target {
    Null,
    Postmaster,
    Mailbox(Mailbox),
}

/// Path = "<" [ A-d-l ":" ] Mailbox ">"  (RFC 5321 §4.1.2), plus `<>` and
/// `<postmaster>`.
fn parse_path(text: &str, utf8: bool) -> Result<(Target, &str), AddressError> {
    // Tolerate one space before "<": `MAIL FROM: <a@b>` is a common client
    // bug that RFC 5321 §4.1.1.2 does not allow but that loses nothing.
    let text = text.strip_prefix(' ').unwrap_or(text);
    let mut c = Cursor::new(text);
    if !c.eat('<') {
        return Err(AddressError::MissingAngleBrackets);
    }
    let target = if c.eat('>') {
        Target::Null
    } else {
        path_body(&mut c, utf8)?
    };
    if c.pos > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    let rest = c.rest();
    if rest.is_empty() || rest.starts_with(' ') {
        Ok((target, rest.trim_start_matches(' ')))
    } else {
        Err(AddressError::TrailingJunk)
    }
}

/// Everything between "<" and ">" of a non-empty path; consumes the ">".
fn path_body(c: &mut Cursor<'_>, utf8: bool) -> Result<Target, AddressError> {
    // RFC 5321 §4.1.2 / Appendix C: a source route MUST be accepted, SHOULD
    // NOT be generated, and its hosts MAY be ignored. We drop it and deliver
    // to the final mailbox only.
    let routed = c.peek() == Some('@');
    if routed {
        source_route(c, utf8)?;
    }
    let local = local_part(c, utf8)?;
    match c.bump() {
        Some('@') => {}
        Some('>') if !routed && local.eq_ignore_ascii_case("postmaster") => {
            return Ok(Target::Postmaster);
        }
        Some('>') => return Err(AddressError::MissingDomain),
        None => return Err(AddressError::UnterminatedPath),
        Some(_) => return Err(AddressError::InvalidLocalPart),
    }
    let domain = domain(c, utf8)?;
    match c.bump() {
        Some('>') => Ok(Target::Mailbox(Mailbox { local, domain })),
        None => Err(AddressError::UnterminatedPath),
        Some(_) => Err(AddressError::InvalidDomain),
    }
}

/// A-d-l = At-domain *( "," At-domain ), followed by ":". Validated, then
/// thrown away.
fn source_route(c: &mut Cursor<'_>, utf8: bool) -> Result<(), AddressError> {
    loop {
        if !c.eat('@') {
            return Err(AddressError::InvalidSourceRoute);
        }
        domain(c, utf8).map_err(|e| match e {
            AddressError::Utf8Required => e,
            _ => AddressError::InvalidSourceRoute,
        })?;
        if c.eat(':') {
            return Ok(());
        }
        if !c.eat(',') {
            return Err(AddressError::InvalidSourceRoute);
        }
    }
}

/// Local-part = Dot-string / Quoted-string. Returns the decoded local part;
/// the 64-octet limit applies to the form as sent.
fn local_part(c: &mut Cursor<'_>, utf8: bool) -> Result<String, AddressError> {
    let start = c.pos;
    let local = if c.peek() == Some('"') {
        quoted_string(c, utf8)?
    } else {
        dot_string(c, utf8)?
    };
    if c.pos - start > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    Ok(local)
}

/// Dot-string = Atom *("." Atom). Empty atoms (leading, trailing or doubled
/// dots) are rejected as RFC 5321 requires.
fn dot_string(c: &mut Cursor<'_>, utf8: bool) -> Result<String, AddressError> {
    let start = c.pos;
    loop {
        atom(c, utf8)?;
        if !c.eat('.') {
            return Ok(c.since(start).to_owned());
        }
    }
}

/// Atom = 1*atext, with UTF8-non-ascii under SMTPUTF8 (RFC 6531 §3.3).
fn atom(c: &mut Cursor<'_>, utf8: bool) -> Result<(), AddressError> {
    let start = c.pos;
    while let Some(ch) = c.peek() {
        if !ch.is_ascii() {
            allow_non_ascii(utf8)?;
        } else if !is_atext(ch) {
            break;
        }
        c.bump();
    }
    if c.pos == start {
        Err(AddressError::InvalidLocalPart)
    } else {
        Ok(())
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`, where quoted-pairSMTP is a
/// backslash followed by printable ASCII or space (RFC 5321 §4.1.2) and
/// qtextSMTP also admits UTF-8 under SMTPUTF8 (RFC 6531 §3.3).
fn quoted_string(c: &mut Cursor<'_>, utf8: bool) -> Result<String, AddressError> {
    c.bump(); // the opening quote
    let mut local = String::new();
    loop {
        match c.bump() {
            None => return Err(AddressError::UnterminatedQuote),
            Some('"') => return Ok(local),
            Some('\\') => match c.bump() {
                Some(ch @ ' '..='~') => local.push(ch),
                None => return Err(AddressError::UnterminatedQuote),
                Some(_) => return Err(AddressError::InvalidLocalPart),
            },
            Some(ch) if !ch.is_ascii() => {
                allow_non_ascii(utf8)?;
                local.push(ch);
            }
            Some(ch @ (' ' | '!' | '#'..='[' | ']'..='~')) => local.push(ch),
            Some(_) => return Err(AddressError::InvalidLocalPart),
        }
    }
}

/// Domain / address-literal; returns the text as sent and enforces the
/// 255-octet limit.
fn domain(c: &mut Cursor<'_>, utf8: bool) -> Result<String, AddressError> {
    let start = c.pos;
    if c.peek() == Some('[') {
        address_literal(c)?;
    } else {
        dotted_domain(c, utf8)?;
    }
    let domain = c.since(start);
    if domain.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong);
    }
    Ok(domain.to_owned())
}

/// Domain = sub-domain *("." sub-domain). A trailing dot is not allowed.
fn dotted_domain(c: &mut Cursor<'_>, utf8: bool) -> Result<(), AddressError> {
    loop {
        label(c, utf8)?;
        if !c.eat('.') {
            return Ok(());
        }
    }
}

/// sub-domain = Let-dig [Ldh-str], or a U-label under SMTPUTF8
/// (RFC 6531 §3.3). U-labels are not IDNA-validated here: that needs tables
/// this crate does not carry, and DNS resolution rejects what does not exist.
fn label(c: &mut Cursor<'_>, utf8: bool) -> Result<(), AddressError> {
    let start = c.pos;
    while let Some(ch) = c.peek() {
        if !ch.is_ascii() {
            allow_non_ascii(utf8)?;
        } else if !(ch.is_ascii_alphanumeric() || ch == '-') {
            break;
        }
        c.bump();
    }
    let label = c.since(start);
    let ok = !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && (!label.is_ascii() || label.len() <= MAX_LABEL);
    if ok {
        Ok(())
    } else {
        Err(AddressError::InvalidDomain)
    }
}

/// `address-literal = "[" ( IPv4 / "IPv6:" IPv6 / General ) "]"`
/// (RFC 5321 §4.1.3). The "IPv6" tag is matched case-insensitively, as ABNF
/// string literals are.
fn address_literal(c: &mut Cursor<'_>) -> Result<(), AddressError> {
    c.bump(); // "["
    let start = c.pos;
    while c.peek().is_some_and(is_dcontent) {
        c.bump();
    }
    let inner = c.since(start);
    if c.eat(']') && valid_literal(inner) {
        Ok(())
    } else {
        Err(AddressError::InvalidAddressLiteral)
    }
}

fn valid_literal(inner: &str) -> bool {
    match inner.split_once(':') {
        None => is_ipv4_literal(inner),
        Some((tag, addr)) if tag.eq_ignore_ascii_case("IPv6") => addr.parse::<Ipv6Addr>().is_ok(),
        // General-address-literal = Standardized-tag ":" 1*dcontent. Tags
        // must be IANA-registered; none but IPv6 exists, but the syntax is
        // legal, so it parses and the relay/delivery policy decides.
        Some((tag, addr)) => is_ldh_str(tag) && !addr.is_empty(),
    }
}

/// IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT up to 255.
fn is_ipv4_literal(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
fn is_ldh_str(text: &str) -> bool {
    !text.is_empty()
        && !text.ends_with('-')
        && text
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

/// `dcontent = %d33-90 / %d94-126`: printable ASCII except `[`, `\`, `]`.
fn is_dcontent(ch: char) -> bool {
    matches!(ch, '!'..='Z' | '^'..='~')
}

/// atext (RFC 5322 §3.2.3, used by RFC 5321 §4.1.2). `%` and `!` are here:
/// they are plain characters, not routing syntax.
fn is_atext(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(ch)
}

/// True when `local` can be written without quotes (every atom non-empty and
/// made of atext or, for SMTPUTF8 addresses, non-ASCII characters).
fn is_dot_string(local: &str) -> bool {
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.chars().all(|ch| !ch.is_ascii() || is_atext(ch)))
}

fn allow_non_ascii(utf8: bool) -> Result<(), AddressError> {
    if utf8 {
        Ok(())
    } else {
        Err(AddressError::Utf8Required)
    }
}

/// A position in a `&str`, moving one `char` at a time.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.pos += ch.len_utf8();
        Some(ch)
    }

    fn eat(&mut self, want: char) -> bool {
        let hit = self.peek() == Some(want);
        if hit {
            self.pos += want.len_utf8();
        }
        hit
    }

    fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.pos]
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    fn rev(text: &str) -> Result<(ReversePath, &str), AddressError> {
        parse_reverse_path(text, false)
    }

    fn fwd(text: &str) -> Result<(ForwardPath, &str), AddressError> {
        parse_forward_path(text, false)
    }

    fn fwd_mb(text: &str) -> Mailbox {
        match fwd(text) {
            Ok((ForwardPath::Mailbox(m), "")) => m,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn simple_mailbox() {
        assert_eq!(
            rev("<a@b.example>"),
            Ok((ReversePath::Mailbox(mb("a", "b.example")), ""))
        );
        assert_eq!(
            fwd_mb("<John.Doe@Example.ORG>"),
            mb("John.Doe", "Example.ORG")
        );
    }

    #[test]
    fn null_sender_is_accepted() {
        assert_eq!(rev("<>"), Ok((ReversePath::Null, "")));
        assert_eq!(rev("<> SIZE=10"), Ok((ReversePath::Null, "SIZE=10")));
        assert_eq!(rev(" <>"), Ok((ReversePath::Null, "")));
    }

    #[test]
    fn null_recipient_is_rejected() {
        assert_eq!(fwd("<>"), Err(AddressError::EmptyPath));
    }

    #[test]
    fn postmaster_without_domain() {
        assert_eq!(fwd("<postmaster>"), Ok((ForwardPath::Postmaster, "")));
        assert_eq!(fwd("<PostMaster>"), Ok((ForwardPath::Postmaster, "")));
        assert_eq!(
            fwd("<POSTMASTER> NOTIFY=NEVER"),
            Ok((ForwardPath::Postmaster, "NOTIFY=NEVER"))
        );
        // With a domain it is an ordinary mailbox.
        assert_eq!(
            fwd_mb("<Postmaster@x.example>"),
            mb("Postmaster", "x.example")
        );
    }

    #[test]
    fn postmaster_is_not_a_sender_and_other_bare_names_fail() {
        assert_eq!(rev("<postmaster>"), Err(AddressError::MissingDomain));
        assert_eq!(fwd("<webmaster>"), Err(AddressError::MissingDomain));
        assert_eq!(
            fwd("<@a.example:postmaster>"),
            Err(AddressError::MissingDomain)
        );
    }

    #[test]
    fn source_route_is_dropped() {
        assert_eq!(
            fwd_mb("<@a.example,@b.example:user@d.example>"),
            mb("user", "d.example")
        );
        assert_eq!(
            fwd_mb("<@a.example:user@d.example>"),
            mb("user", "d.example")
        );
        assert_eq!(
            rev("<@[192.0.2.1]:u@d.example> BODY=8BITMIME"),
            Ok((ReversePath::Mailbox(mb("u", "d.example")), "BODY=8BITMIME"))
        );
    }

    #[test]
    fn bad_source_routes() {
        for bad in [
            "<@a.example user@d.example>",
            "<@a.example,user@d.example>",
            "<@:user@d.example>",
            "<@a..example:user@d.example>",
            "<@a.example,:user@d.example>",
            "<@a.example,b.example:user@d.example>",
        ] {
            assert_eq!(fwd(bad), Err(AddressError::InvalidSourceRoute), "{bad}");
        }
    }

    #[test]
    fn quoted_local_parts() {
        assert_eq!(
            fwd_mb("<\"john doe\"@example.org>"),
            mb("john doe", "example.org")
        );
        assert_eq!(fwd_mb(r#"<"a\"b"@x>"#), mb("a\"b", "x"));
        assert_eq!(fwd_mb(r#"<"a\\b"@x>"#), mb("a\\b", "x"));
        assert_eq!(fwd_mb(r#"<"a>b"@x>"#), mb("a>b", "x"));
        assert_eq!(fwd_mb(r#"<"plain"@x>"#), mb("plain", "x"));
        assert_eq!(fwd_mb(r#"<""@x>"#), mb("", "x"));
        assert_eq!(fwd_mb(r#"<"a..b."@x>"#), mb("a..b.", "x"));
    }

    #[test]
    fn bad_quoted_local_parts() {
        assert_eq!(fwd(r#"<"abc@x>"#), Err(AddressError::UnterminatedQuote));
        assert_eq!(fwd(r#"<"abc\"#), Err(AddressError::UnterminatedQuote));
        assert_eq!(fwd("<\"a\tb\"@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<\"a\\\tb\"@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd(r#"<"a"b@x>"#), Err(AddressError::InvalidLocalPart));
    }

    #[test]
    fn percent_and_bang_are_kept_literally() {
        assert_eq!(
            fwd_mb("<user%other.example@relay.example>"),
            mb("user%other.example", "relay.example")
        );
        assert_eq!(
            fwd_mb("<host!user@relay.example>"),
            mb("host!user", "relay.example")
        );
        assert_eq!(fwd_mb("<a+tag@x.example>"), mb("a+tag", "x.example"));
        assert_eq!(
            fwd_mb("<{weird}~'#$&*/=?^_`|@x>"),
            mb("{weird}~'#$&*/=?^_`|", "x")
        );
    }

    #[test]
    fn dot_string_rules() {
        assert_eq!(fwd("<.a@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<a.@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<a..b@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<a b@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<(c)a@x>"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<@x>"), Err(AddressError::InvalidSourceRoute));
    }

    #[test]
    fn domains() {
        assert_eq!(fwd_mb("<a@localhost>"), mb("a", "localhost"));
        assert_eq!(fwd_mb("<a@x-y.3com.example>"), mb("a", "x-y.3com.example"));
        assert_eq!(fwd("<a@-x.example>"), Err(AddressError::InvalidDomain));
        assert_eq!(fwd("<a@x-.example>"), Err(AddressError::InvalidDomain));
        assert_eq!(fwd("<a@x..example>"), Err(AddressError::InvalidDomain));
        assert_eq!(fwd("<a@x.example.>"), Err(AddressError::InvalidDomain));
        assert_eq!(
            fwd("<a@under_score.example>"),
            Err(AddressError::InvalidDomain)
        );
        assert_eq!(fwd("<a@>"), Err(AddressError::InvalidDomain));
        assert_eq!(fwd("<a@b c>"), Err(AddressError::InvalidDomain));
        let label63 = "l".repeat(63);
        assert_eq!(
            fwd_mb(&format!("<a@{label63}.example>")).domain,
            format!("{label63}.example")
        );
        assert_eq!(
            fwd(&format!("<a@{label63}l.example>")),
            Err(AddressError::InvalidDomain)
        );
    }

    #[test]
    fn address_literals() {
        assert_eq!(fwd_mb("<a@[192.0.2.1]>"), mb("a", "[192.0.2.1]"));
        assert_eq!(
            fwd_mb("<a@[IPv6:2001:db8::1]>"),
            mb("a", "[IPv6:2001:db8::1]")
        );
        assert_eq!(fwd_mb("<a@[ipv6:::1]>"), mb("a", "[ipv6:::1]"));
        assert_eq!(
            fwd_mb("<a@[IPv6:::ffff:192.0.2.1]>"),
            mb("a", "[IPv6:::ffff:192.0.2.1]")
        );
        assert_eq!(fwd_mb("<a@[x-tag:anything]>"), mb("a", "[x-tag:anything]"));
        assert!(fwd_mb("<a@[10.0.0.1]>").is_address_literal());
        assert!(!fwd_mb("<a@b>").is_address_literal());
    }

    #[test]
    fn bad_address_literals() {
        for bad in [
            "<a@[256.0.0.1]>",
            "<a@[1.2.3]>",
            "<a@[1.2.3.4.5]>",
            "<a@[1.2.3.1234]>",
            "<a@[1.2.3.]>",
            "<a@[IPv6:2001:db8::g]>",
            "<a@[IPv6:1.2.3.4]>",
            "<a@[192.0.2.1>",
            "<a@[]>",
            "<a@[bad-:x]>",
            "<a@[tag:]>",
            "<a@[1.2.3.4\\]>",
        ] {
            assert_eq!(fwd(bad), Err(AddressError::InvalidAddressLiteral), "{bad}");
        }
    }

    #[test]
    fn angle_brackets_and_spacing() {
        assert_eq!(fwd("a@b"), Err(AddressError::MissingAngleBrackets));
        assert_eq!(fwd(""), Err(AddressError::MissingAngleBrackets));
        assert_eq!(fwd("  <a@b>"), Err(AddressError::MissingAngleBrackets));
        assert_eq!(fwd("<a@b"), Err(AddressError::UnterminatedPath));
        assert_eq!(fwd("<a"), Err(AddressError::UnterminatedPath));
        assert_eq!(fwd("<"), Err(AddressError::InvalidLocalPart));
        assert_eq!(fwd("<a@b>x"), Err(AddressError::TrailingJunk));
        assert_eq!(rev("<>x"), Err(AddressError::TrailingJunk));
        assert_eq!(fwd(" <a@b>"), Ok((ForwardPath::Mailbox(mb("a", "b")), "")));
        assert_eq!(
            fwd("<a@b>   X=1  Y"),
            Ok((ForwardPath::Mailbox(mb("a", "b")), "X=1  Y"))
        );
    }

    #[test]
    fn length_limits() {
        let l64 = "l".repeat(64);
        assert_eq!(fwd_mb(&format!("<{l64}@x>")).local, l64);
        assert_eq!(
            fwd(&format!("<{l64}l@x>")),
            Err(AddressError::LocalPartTooLong)
        );
        // The limit counts the quotes and escapes as sent.
        let q62 = "q".repeat(62);
        assert_eq!(fwd_mb(&format!("<\"{q62}\"@x>")).local, q62);
        assert_eq!(
            fwd(&format!("<\"{q62}q\"@x>")),
            Err(AddressError::LocalPartTooLong)
        );

        let label = "d".repeat(63);
        let d255 = format!("{label}.{label}.{label}.{}", "d".repeat(63)); // 4*63+3 = 255
        assert_eq!(d255.len(), 255);
        // A 255-octet domain is a valid domain but cannot fit in a 256-octet path.
        assert_eq!(
            parse_mailbox(&format!("a@{d255}"), false),
            Ok(mb("a", &d255))
        );
        assert_eq!(fwd(&format!("<a@{d255}>")), Err(AddressError::PathTooLong));
        assert_eq!(
            fwd(&format!("<a@{d255}d>")),
            Err(AddressError::InvalidDomain)
        ); // label 64
        let d257 = format!("d.{d255}");
        assert_eq!(
            parse_mailbox(&format!("a@{d257}"), false),
            Err(AddressError::DomainTooLong)
        );
        assert_eq!(
            fwd(&format!("<a@{d257}>")),
            Err(AddressError::DomainTooLong)
        );

        // Path: "<" + 64 + "@" + domain + ">" ; 256 fits, 257 does not.
        let dom189 = format!("{label}.{label}.{}", "d".repeat(61)); // 63+1+63+1+61 = 189
        assert_eq!(dom189.len(), 189);
        let path256 = format!("<{l64}@{dom189}>");
        assert_eq!(path256.len(), 256);
        assert!(fwd(&path256).is_ok());
        let path257 = format!("<{l64}@{label}.{label}.{}>", "d".repeat(62));
        assert_eq!(path257.len(), 257);
        assert_eq!(fwd(&path257), Err(AddressError::PathTooLong));
        // A route counts towards the path length.
        let routed = format!("<@{label}.{label}:a@{label}.{label}.{label}>");
        assert!(routed.len() > 256);
        assert_eq!(fwd(&routed), Err(AddressError::PathTooLong));
    }

    #[test]
    fn smtputf8_off_rejects_non_ascii() {
        assert_eq!(fwd("<jöe@example.org>"), Err(AddressError::Utf8Required));
        assert_eq!(fwd("<joe@exämple.org>"), Err(AddressError::Utf8Required));
        assert_eq!(
            fwd("<\"jö e\"@example.org>"),
            Err(AddressError::Utf8Required)
        );
        assert_eq!(fwd("<@exämple.org:joe@x>"), Err(AddressError::Utf8Required));
        assert_eq!(rev("<pelé@example.com>"), Err(AddressError::Utf8Required));
    }

    #[test]
    fn smtputf8_on_accepts_non_ascii() {
        let (p, rest) = parse_forward_path("<jöe@exämple.org> X", true).unwrap();
        assert_eq!(p, ForwardPath::Mailbox(mb("jöe", "exämple.org")));
        assert_eq!(rest, "X");
        let (p, _) = parse_reverse_path("<用户@例子.广告>", true).unwrap();
        assert_eq!(p, ReversePath::Mailbox(mb("用户", "例子.广告")));
        let (p, _) = parse_forward_path("<\"jö e\"@x>", true).unwrap();
        assert_eq!(p, ForwardPath::Mailbox(mb("jö e", "x")));
        // Escaping a non-ASCII character is not in the grammar.
        assert_eq!(
            parse_forward_path("<\"\\ö\"@x>", true),
            Err(AddressError::InvalidLocalPart)
        );
        // A long U-label is not held to the 63-octet ASCII label limit...
        let u_label = "ü".repeat(40); // 80 octets
        assert!(parse_forward_path(&format!("<a@{u_label}.example>"), true).is_ok());
        // ...but octets, not characters, count for the local part.
        let local = "ü".repeat(33); // 66 octets
        assert_eq!(
            parse_forward_path(&format!("<{local}@x>"), true),
            Err(AddressError::LocalPartTooLong)
        );
    }

    #[test]
    fn display_quotes_only_when_needed() {
        assert_eq!(mb("a.b", "x").to_string(), "a.b@x");
        assert_eq!(mb("john doe", "x").to_string(), "\"john doe\"@x");
        assert_eq!(mb("a\"b", "x").to_string(), r#""a\"b"@x"#);
        assert_eq!(mb("a\\b", "x").to_string(), r#""a\\b"@x"#);
        assert_eq!(mb("a..b", "x").to_string(), "\"a..b\"@x");
        assert_eq!(mb(".a", "x").to_string(), "\".a\"@x");
        assert_eq!(mb("", "x").to_string(), "\"\"@x");
        assert_eq!(mb("user%host", "x").to_string(), "user%host@x");
        assert_eq!(mb("jöe", "exämple.org").to_string(), "jöe@exämple.org");
        assert_eq!(mb("a", "[192.0.2.1]").to_string(), "a@[192.0.2.1]");
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        for local in ["a", "john doe", "a\"b", "a\\b", "x..y", "", "q@r", "p<q>"] {
            let m = mb(local, "example.org");
            let text = format!("<{m}>");
            assert_eq!(fwd_mb(&text), m, "{text}");
        }
    }

    #[test]
    fn path_display() {
        assert_eq!(ReversePath::Null.to_string(), "<>");
        assert_eq!(ReversePath::Mailbox(mb("a", "b")).to_string(), "<a@b>");
        assert_eq!(ForwardPath::Postmaster.to_string(), "<postmaster>");
        assert_eq!(
            ForwardPath::Mailbox(mb("a b", "c")).to_string(),
            "<\"a b\"@c>"
        );
        assert_eq!(ReversePath::Null.mailbox(), None);
        assert_eq!(
            ForwardPath::Mailbox(mb("a", "b")).mailbox(),
            Some(&mb("a", "b"))
        );
    }

    #[test]
    fn domain_lower_and_ascii() {
        assert_eq!(mb("A", "Example.ORG").domain_lower(), "example.org");
        assert_eq!(mb("A", "ÜBER.Example").domain_lower(), "über.example");
        assert_eq!(
            mb("A", "[IPv6:2001:DB8::1]").domain_lower(),
            "[ipv6:2001:db8::1]"
        );
        assert!(mb("a", "b").is_ascii());
        assert!(!mb("ä", "b").is_ascii());
        assert!(!mb("a", "ö").is_ascii());
    }

    #[test]
    fn bare_mailbox_and_domain_helpers() {
        assert_eq!(
            parse_mailbox("a@b.example", false),
            Ok(mb("a", "b.example"))
        );
        assert_eq!(parse_mailbox("\"x y\"@b", false), Ok(mb("x y", "b")));
        assert_eq!(parse_mailbox("a", false), Err(AddressError::MissingDomain));
        assert_eq!(
            parse_mailbox("a@b>", false),
            Err(AddressError::InvalidDomain)
        );
        assert_eq!(
            parse_mailbox("<a@b>", false),
            Err(AddressError::InvalidLocalPart)
        );
        assert!(is_valid_domain("mail.example.org", false));
        assert!(is_valid_domain("[192.0.2.1]", false));
        assert!(is_valid_domain("[IPv6:::1]", false));
        assert!(!is_valid_domain("my_host", false));
        assert!(!is_valid_domain("host.", false));
        assert!(!is_valid_domain("", false));
        assert!(!is_valid_domain("bücher.example", false));
        assert!(is_valid_domain("bücher.example", true));
    }

    #[test]
    fn replies() {
        assert_eq!(
            AddressError::InvalidDomain.reply(AddressRole::Sender),
            (
                501,
                "5.1.7",
                "Bad sender address syntax: invalid domain".to_owned()
            )
        );
        assert_eq!(
            AddressError::MissingAngleBrackets.reply(AddressRole::Recipient),
            (
                501,
                "5.1.3",
                "Bad recipient address syntax: path must be enclosed in angle brackets".to_owned()
            )
        );
        for role in [AddressRole::Sender, AddressRole::Recipient] {
            assert_eq!(
                AddressError::Utf8Required.reply(role),
                (
                    553,
                    "5.6.7",
                    "SMTPUTF8 required for this address".to_owned()
                )
            );
        }
        assert_eq!(
            AddressError::PathTooLong.reply(AddressRole::Recipient).2,
            "Bad recipient address syntax: path longer than 256 octets"
        );
    }
}
