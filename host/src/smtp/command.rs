//! SMTP command-line parsing (RFC 5321 §4.1) with the ESMTP parameters of
//! SIZE (RFC 1870), 8BITMIME/BINARYMIME (RFC 6152, RFC 3030), SMTPUTF8
//! (RFC 6531), AUTH (RFC 4954) and DSN (RFC 3461), plus BDAT (RFC 3030).
//!
//! [`parse`] turns one line (without its CRLF) into a [`Command`]; it knows
//! nothing of session state, so "is this verb allowed now" stays with the
//! caller.
//!
//! Tolerated sloppiness (nothing is lost by accepting it):
//! - trailing spaces and tabs at the end of the line (`QUIT `);
//! - extra spaces between the verb and its argument, and between ESMTP
//!   parameters (`MAIL  FROM:<a@b>  SIZE=1`);
//! - one space between `FROM:`/`TO:` and `<` (see the address module);
//! - HELO/EHLO words after the first are ignored (`EHLO host (comment)`);
//! - NOOP ignores its argument, as RFC 5321 §4.1.1.9 says.
//!
//! Not tolerated: a missing `<...>` around addresses, a tab as the verb
//! separator, control characters, invalid UTF-8 anywhere.

use super::address::{self, AddressError, AddressRole, ForwardPath, ReversePath};

/// Maximum command line length including CRLF (RFC 5321 §4.5.3.1.4). Applies
/// to every verb except MAIL and RCPT, including AUTH: RFC 4954 §4 says a
/// client MUST NOT send an initial response that would exceed it.
pub const MAX_COMMAND_LINE: usize = 512;

/// Maximum MAIL/RCPT line length including CRLF. RFC 5321 §4.5.3.1.4 lets
/// extensions raise the limit for their parameters; the increases defined by
/// the extensions we parse (SIZE 26 octets, ENVID 100, AUTH 500, ORCPT 500,
/// plus BODY/RET/NOTIFY/SMTPUTF8 keywords and longer UTF-8 addresses) add up
/// to about 1200, so 2048 leaves room without allowing unbounded lines.
pub const MAX_MAIL_RCPT_LINE: usize = 2048;

/// Longest AUTH mechanism name (RFC 4422 §3.1: 1 to 20 characters).
const MAX_MECHANISM: usize = 20;
/// Longest ENVID value (RFC 3461 §4.4).
const MAX_ENVID: usize = 100;
/// Longest ORCPT value (RFC 3461 §4.2).
const MAX_ORCPT: usize = 500;
/// SIZE values are 1*20DIGIT (RFC 1870's size-value); BDAT's chunk-size
/// (RFC 3030 §2) has no stated bound, and 20 digits already cover u64.
const MAX_SIZE_DIGITS: usize = 20;

/// One parsed SMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// HELO with the client's domain or address literal, as given.
    Helo(String),
    /// EHLO with the client's domain or address literal, as given.
    Ehlo(String),
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    Rcpt {
        to: ForwardPath,
        params: RcptParams,
    },
    Data,
    /// BDAT chunk (RFC 3030 §2): `size` octets follow the command line.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    /// VRFY with its argument as given (a user name or mailbox).
    Vrfy(String),
    /// EXPN with its argument as given (a list name).
    Expn(String),
    Help(Option<String>),
    StartTls,
    /// AUTH (RFC 4954 §4). `mechanism` is upper-cased; `initial` is the
    /// base64 initial response as sent (`=` means an empty response).
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

impl Command {
    /// The verb in upper case, for logs and hook names.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }
}

/// `BODY=` (RFC 6152 §2, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// `RET=` (RFC 3461 §4.3): return the full message or only its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Hdrs,
}

/// `NOTIFY=` (RFC 3461 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    Never,
    On {
        success: bool,
        failure: bool,
        delay: bool,
    },
}

/// ESMTP parameters of MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// Declared message size in octets (RFC 1870).
    pub size: Option<u64>,
    pub body: Option<Body>,
    /// The SMTPUTF8 keyword was given (RFC 6531 §3.4).
    pub smtputf8: bool,
    /// `AUTH=` value, still xtext-encoded (`<>` or an addr-spec; RFC 4954 §5).
    pub auth: Option<String>,
    pub ret: Option<Ret>,
    /// `ENVID=` value, still xtext-encoded (RFC 3461 §4.4).
    pub envid: Option<String>,
}

/// ESMTP parameters of RCPT TO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    pub notify: Option<Notify>,
    /// `ORCPT=` value as sent, `addr-type;xtext` (RFC 3461 §4.2).
    pub orcpt: Option<String>,
}

/// Why a command line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("line too long")]
    LineTooLong,
    #[error("command unrecognized")]
    UnknownCommand,
    #[error("{0}")]
    Syntax(&'static str),
    #[error("unsupported parameter {0}")]
    UnsupportedParameter(String),
    #[error("parameter {0} given twice")]
    DuplicateParameter(String),
    #[error("{key}: {reason}")]
    InvalidParameter {
        key: &'static str,
        reason: &'static str,
    },
    #[error("sender address: {0}")]
    Sender(AddressError),
    #[error("recipient address: {0}")]
    Recipient(AddressError),
}

const SYNTAX_TEXT: &str = "Syntax error in parameters or arguments";

impl CommandError {
    /// The SMTP reply: code, enhanced status code (RFC 3463) and text.
    ///
    /// 500 for unrecognized commands and over-long lines (RFC 5321
    /// §4.5.3.1.10: "500 Line too long"), 501 for bad arguments, 555 for
    /// MAIL/RCPT parameters we do not implement (RFC 5321 §4.1.1.11). Address
    /// errors keep their own sender/recipient codes.
    pub fn reply(&self) -> (u16, &'static str, String) {
        match self {
            CommandError::LineTooLong => (500, "5.5.2", "Line too long".to_owned()),
            CommandError::UnknownCommand => (500, "5.5.1", "Command unrecognized".to_owned()),
            CommandError::Syntax(_) | CommandError::InvalidParameter { .. } => {
                (501, "5.5.4", format!("{SYNTAX_TEXT}: {self}"))
            }
            CommandError::UnsupportedParameter(key) => {
                (555, "5.5.4", format!("Unsupported parameter: {key}"))
            }
            CommandError::DuplicateParameter(key) => (
                555,
                "5.5.4",
                format!("Unsupported parameter: {key} given twice"),
            ),
            CommandError::Sender(e) => e.reply(AddressRole::Sender),
            CommandError::Recipient(e) => e.reply(AddressRole::Recipient),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth,
}

const VERBS: [(&[u8], Verb); 14] = [
    (b"HELO", Verb::Helo),
    (b"EHLO", Verb::Ehlo),
    (b"MAIL", Verb::Mail),
    (b"RCPT", Verb::Rcpt),
    (b"DATA", Verb::Data),
    (b"BDAT", Verb::Bdat),
    (b"RSET", Verb::Rset),
    (b"NOOP", Verb::Noop),
    (b"QUIT", Verb::Quit),
    (b"VRFY", Verb::Vrfy),
    (b"EXPN", Verb::Expn),
    (b"HELP", Verb::Help),
    (b"STARTTLS", Verb::StartTls),
    (b"AUTH", Verb::Auth),
];

impl Verb {
    /// Verbs are case-insensitive (RFC 5321 §2.4).
    fn from_bytes(word: &[u8]) -> Option<Verb> {
        VERBS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, verb)| verb)
    }

    fn max_line(self) -> usize {
        match self {
            Verb::Mail | Verb::Rcpt => MAX_MAIL_RCPT_LINE,
            _ => MAX_COMMAND_LINE,
        }
    }
}

/// Parses one command line, given without its CRLF.
///
/// `utf8_allowed` says whether non-ASCII is acceptable: for MAIL pass whether
/// SMTPUTF8 is advertised (the MAIL line must then also carry the SMTPUTF8
/// keyword for a non-ASCII sender); for RCPT pass whether the current
/// transaction's MAIL had SMTPUTF8; for the other verbs, whether SMTPUTF8 is
/// advertised. Without it, a non-ASCII address gives 553 5.6.7 and any other
/// non-ASCII text a 501 syntax error.
pub fn parse(line: &[u8], utf8_allowed: bool) -> Result<Command, CommandError> {
    let trimmed = trim_end(line);
    let (word, arg) = match trimmed.iter().position(|&b| b == b' ') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (trimmed, &trimmed[trimmed.len()..]),
    };
    let verb = Verb::from_bytes(word);
    // The limits count the CRLF the caller has already removed.
    if line.len() + 2 > verb.map_or(MAX_COMMAND_LINE, Verb::max_line) {
        return Err(CommandError::LineTooLong);
    }
    let verb = verb.ok_or(CommandError::UnknownCommand)?;
    let arg = decode_argument(arg)?;
    dispatch(verb, arg, utf8_allowed)
}

fn dispatch(verb: Verb, arg: &str, utf8: bool) -> Result<Command, CommandError> {
    match verb {
        Verb::Helo => Ok(Command::Helo(helo_domain(arg, utf8)?)),
        Verb::Ehlo => Ok(Command::Ehlo(helo_domain(arg, utf8)?)),
        Verb::Mail => parse_mail(arg, utf8),
        Verb::Rcpt => parse_rcpt(arg, utf8),
        Verb::Data => no_argument(arg, Command::Data),
        Verb::Bdat => parse_bdat(arg),
        Verb::Rset => no_argument(arg, Command::Rset),
        Verb::Noop => Ok(Command::Noop),
        Verb::Quit => no_argument(arg, Command::Quit),
        Verb::Vrfy => Ok(Command::Vrfy(required_text(arg, utf8)?)),
        Verb::Expn => Ok(Command::Expn(required_text(arg, utf8)?)),
        Verb::Help => parse_help(arg, utf8),
        Verb::StartTls => no_argument(arg, Command::StartTls),
        Verb::Auth => parse_auth(arg),
    }
}

/// Strips trailing SP and HTAB: some clients send `QUIT ` and nothing is
/// gained by refusing it.
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &line[..end]
}

/// The argument as text: valid UTF-8, no control characters (RFC 5321 §4.1.1
/// commands are printable text), leading spaces removed.
fn decode_argument(arg: &[u8]) -> Result<&str, CommandError> {
    let text = std::str::from_utf8(arg).map_err(|_| CommandError::Syntax("invalid UTF-8"))?;
    if text.chars().any(char::is_control) {
        return Err(CommandError::Syntax("control characters are not allowed"));
    }
    Ok(text.trim_start_matches(' '))
}

fn require_ascii(text: &str, utf8: bool) -> Result<(), CommandError> {
    if utf8 || text.is_ascii() {
        Ok(())
    } else {
        Err(CommandError::Syntax("non-ASCII text requires SMTPUTF8"))
    }
}

fn no_argument(arg: &str, command: Command) -> Result<Command, CommandError> {
    if arg.is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Syntax("this command takes no argument"))
    }
}

/// HELO/EHLO argument (RFC 5321 §4.1.1.1): the first word, kept as given.
/// It is not validated as a domain because real clients send bare host
/// names; a strict check, if wanted, is [`address::is_valid_domain`].
fn helo_domain(arg: &str, utf8: bool) -> Result<String, CommandError> {
    let word = arg.split(' ').next().unwrap_or_default();
    if word.is_empty() {
        return Err(CommandError::Syntax(
            "a domain or address literal is required",
        ));
    }
    require_ascii(word, utf8)?;
    Ok(word.to_owned())
}

/// VRFY/EXPN argument (RFC 5321 §4.1.1.6, §4.1.1.7), kept as given.
fn required_text(arg: &str, utf8: bool) -> Result<String, CommandError> {
    if arg.is_empty() {
        return Err(CommandError::Syntax("an argument is required"));
    }
    require_ascii(arg, utf8)?;
    Ok(arg.to_owned())
}

fn parse_help(arg: &str, utf8: bool) -> Result<Command, CommandError> {
    if arg.is_empty() {
        return Ok(Command::Help(None));
    }
    require_ascii(arg, utf8)?;
    Ok(Command::Help(Some(arg.to_owned())))
}

/// Strips a case-insensitive ASCII keyword such as `FROM:`.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| &text[keyword.len()..])
}

/// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
fn parse_mail(arg: &str, utf8: bool) -> Result<Command, CommandError> {
    let path =
        strip_keyword(arg, "FROM:").ok_or(CommandError::Syntax("expected FROM:<address>"))?;
    let (from, rest) = address::parse_reverse_path(path, utf8).map_err(CommandError::Sender)?;
    let params = parse_mail_params(rest, utf8)?;
    // RFC 6531 §3.4: a non-ASCII sender needs SMTPUTF8 on this very MAIL.
    // (Non-ASCII parameter values need no check: every MAIL parameter we
    // accept is ASCII-only by its own grammar.)
    if !params.smtputf8 && from.mailbox().is_some_and(|m| !m.is_ascii()) {
        return Err(CommandError::Sender(AddressError::Utf8Required));
    }
    Ok(Command::Mail { from, params })
}

/// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
fn parse_rcpt(arg: &str, utf8: bool) -> Result<Command, CommandError> {
    let path = strip_keyword(arg, "TO:").ok_or(CommandError::Syntax("expected TO:<address>"))?;
    let (to, rest) = address::parse_forward_path(path, utf8).map_err(CommandError::Recipient)?;
    require_ascii(rest, utf8)?;
    let params = parse_rcpt_params(rest)?;
    Ok(Command::Rcpt { to, params })
}

/// Splits `KEY[=VALUE]` tokens (RFC 5321 §4.1.2 Mail-parameters). Keys are
/// upper-cased (they are case-insensitive); a repeated key is an error.
fn split_params(rest: &str) -> Result<Vec<(String, Option<&str>)>, CommandError> {
    let mut params: Vec<(String, Option<&str>)> = Vec::new();
    for token in rest.split(' ').filter(|t| !t.is_empty()) {
        let (key, value) = parse_param(token)?;
        if params.iter().any(|(seen, _)| *seen == key) {
            return Err(CommandError::DuplicateParameter(key));
        }
        params.push((key, value));
    }
    Ok(params)
}

/// esmtp-param = esmtp-keyword ["=" esmtp-value]
fn parse_param(token: &str) -> Result<(String, Option<&str>), CommandError> {
    let (key, value) = match token.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => (token, None),
    };
    if !is_esmtp_keyword(key) {
        return Err(CommandError::Syntax("malformed ESMTP parameter"));
    }
    if value.is_some_and(|v| !is_esmtp_value(v)) {
        return Err(CommandError::Syntax("malformed ESMTP parameter value"));
    }
    Ok((key.to_ascii_uppercase(), value))
}

/// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
fn is_esmtp_keyword(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under SMTPUTF8
/// (RFC 6531 §3.3); the ASCII-only check is done by the caller.
fn is_esmtp_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_ascii() || (c.is_ascii_graphic() && c != '='))
}

fn parse_mail_params(rest: &str, utf8: bool) -> Result<MailParams, CommandError> {
    let mut params = MailParams::default();
    for (key, value) in split_params(rest)? {
        apply_mail_param(&mut params, key, value, utf8)?;
    }
    Ok(params)
}

fn apply_mail_param(
    params: &mut MailParams,
    key: String,
    value: Option<&str>,
    utf8: bool,
) -> Result<(), CommandError> {
    match key.as_str() {
        "SIZE" => params.size = Some(decimal("SIZE", value)?),
        "BODY" => params.body = Some(parse_body(value)?),
        // Only valid when we advertise it (RFC 6531 §3.4).
        "SMTPUTF8" if utf8 => params.smtputf8 = flag("SMTPUTF8", value)?,
        "AUTH" => params.auth = Some(xtext_value("AUTH", value, usize::MAX)?),
        "RET" => params.ret = Some(parse_ret(value)?),
        "ENVID" => params.envid = Some(xtext_value("ENVID", value, MAX_ENVID)?),
        _ => return Err(CommandError::UnsupportedParameter(key)),
    }
    Ok(())
}

fn parse_rcpt_params(rest: &str) -> Result<RcptParams, CommandError> {
    let mut params = RcptParams::default();
    for (key, value) in split_params(rest)? {
        match key.as_str() {
            "NOTIFY" => params.notify = Some(parse_notify(value)?),
            "ORCPT" => params.orcpt = Some(parse_orcpt(value)?),
            _ => return Err(CommandError::UnsupportedParameter(key)),
        }
    }
    Ok(params)
}

fn invalid(key: &'static str, reason: &'static str) -> CommandError {
    CommandError::InvalidParameter { key, reason }
}

fn required<'a>(key: &'static str, value: Option<&'a str>) -> Result<&'a str, CommandError> {
    value.ok_or(invalid(key, "a value is required"))
}

/// A keyword that must not carry a value.
fn flag(key: &'static str, value: Option<&str>) -> Result<bool, CommandError> {
    match value {
        None => Ok(true),
        Some(_) => Err(invalid(key, "takes no value")),
    }
}

/// 1*20DIGIT as u64. Checked digit by digit because `u64::from_str` would
/// also accept a leading "+".
fn parse_decimal(text: &str) -> Option<u64> {
    let digits_ok =
        (1..=MAX_SIZE_DIGITS).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if digits_ok { text.parse().ok() } else { None }
}

fn decimal(key: &'static str, value: Option<&str>) -> Result<u64, CommandError> {
    parse_decimal(required(key, value)?)
        .ok_or(invalid(key, "must be a decimal number of at most 2^64-1"))
}

fn parse_body(value: Option<&str>) -> Result<Body, CommandError> {
    let value = required("BODY", value)?;
    [
        ("7BIT", Body::SevenBit),
        ("8BITMIME", Body::EightBitMime),
        ("BINARYMIME", Body::BinaryMime),
    ]
    .into_iter()
    .find(|(name, _)| name.eq_ignore_ascii_case(value))
    .map(|(_, body)| body)
    .ok_or(invalid("BODY", "must be 7BIT, 8BITMIME or BINARYMIME"))
}

fn parse_ret(value: Option<&str>) -> Result<Ret, CommandError> {
    let value = required("RET", value)?;
    if value.eq_ignore_ascii_case("FULL") {
        Ok(Ret::Full)
    } else if value.eq_ignore_ascii_case("HDRS") {
        Ok(Ret::Hdrs)
    } else {
        Err(invalid("RET", "must be FULL or HDRS"))
    }
}

/// NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )  (RFC 3461 §4.1)
fn parse_notify(value: Option<&str>) -> Result<Notify, CommandError> {
    let value = required("NOTIFY", value)?;
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::Never);
    }
    let (mut success, mut failure, mut delay) = (false, false, false);
    for item in value.split(',') {
        let slot = match item.to_ascii_uppercase().as_str() {
            "SUCCESS" => &mut success,
            "FAILURE" => &mut failure,
            "DELAY" => &mut delay,
            _ => {
                return Err(invalid(
                    "NOTIFY",
                    "must be NEVER or a list of SUCCESS, FAILURE, DELAY",
                ));
            }
        };
        *slot = true;
    }
    Ok(Notify::On {
        success,
        failure,
        delay,
    })
}

/// ORCPT = addr-type ";" xtext  (RFC 3461 §4.2). Kept as sent. The value
/// after ";" is only checked to be present: the RFC 6533 "utf-8" type uses
/// its own encoding.
fn parse_orcpt(value: Option<&str>) -> Result<String, CommandError> {
    let value = required("ORCPT", value)?;
    let well_formed = value.split_once(';').is_some_and(|(kind, addr)| {
        is_esmtp_keyword(kind)
            && !addr.is_empty()
            && (!kind.eq_ignore_ascii_case("rfc822") || is_xtext(addr))
    });
    if !well_formed {
        return Err(invalid("ORCPT", "must be addr-type;address"));
    }
    if value.len() > MAX_ORCPT {
        return Err(invalid("ORCPT", "longer than 500 characters"));
    }
    Ok(value.to_owned())
}

fn xtext_value(key: &'static str, value: Option<&str>, max: usize) -> Result<String, CommandError> {
    let value = required(key, value)?;
    if !is_xtext(value) {
        return Err(invalid(key, "must be xtext"));
    }
    if value.len() > max {
        return Err(invalid(key, "too long"));
    }
    Ok(value.to_owned())
}

/// xtext = *( xchar / hexchar ), xchar = "!".."~" except "+" and "=",
/// hexchar = "+" two upper-case hex digits (RFC 3461 §4).
fn is_xtext(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(|&b| is_upper_hex(b))) =>
            {
                i += 3
            }
            b'+' | b'=' => return false,
            b'!'..=b'~' => i += 1,
            _ => return false,
        }
    }
    true
}

fn is_upper_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'A'..=b'F')
}

/// Decodes xtext (`+2B` → `+`), e.g. to read `AUTH=` or `ENVID=`. Returns
/// `None` for malformed xtext or when the result is not UTF-8.
pub fn decode_xtext(text: &str) -> Option<String> {
    if !is_xtext(text) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `BDAT chunk-size [LAST]` (RFC 3030 §2).
fn parse_bdat(arg: &str) -> Result<Command, CommandError> {
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .ok_or(CommandError::Syntax("BDAT requires a chunk size"))?;
    let size = parse_decimal(size).ok_or(CommandError::Syntax("invalid BDAT chunk size"))?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case("LAST") => true,
        Some(_) => {
            return Err(CommandError::Syntax(
                "expected LAST after the BDAT chunk size",
            ));
        }
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax("too many BDAT arguments"));
    }
    Ok(Command::Bdat { size, last })
}

/// `AUTH mechanism [initial-response]` (RFC 4954 §4).
fn parse_auth(arg: &str) -> Result<Command, CommandError> {
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let mechanism = words
        .next()
        .ok_or(CommandError::Syntax("AUTH requires a mechanism"))?;
    if !is_mechanism(mechanism) {
        return Err(CommandError::Syntax("invalid SASL mechanism name"));
    }
    let initial = words.next();
    if initial.is_some_and(|i| !is_initial_response(i)) {
        return Err(CommandError::Syntax("initial response must be base64 or ="));
    }
    if words.next().is_some() {
        return Err(CommandError::Syntax("too many AUTH arguments"));
    }
    Ok(Command::Auth {
        mechanism: mechanism.to_ascii_uppercase(),
        initial: initial.map(str::to_owned),
    })
}

/// sasl-mech = 1*20 (UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 §3.1),
/// accepted in any case since clients differ.
fn is_mechanism(name: &str) -> bool {
    (1..=MAX_MECHANISM).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// initial-response = base64 / "=" (RFC 4954 §4). Only the alphabet is
/// checked here; decoding happens in the authentication code.
fn is_initial_response(text: &str) -> bool {
    text == "="
        || text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use address::Mailbox;

    fn p(line: &str) -> Result<Command, CommandError> {
        parse(line.as_bytes(), false)
    }

    fn p8(line: &str) -> Result<Command, CommandError> {
        parse(line.as_bytes(), true)
    }

    fn mb(local: &str, domain: &str) -> Mailbox {
        Mailbox {
            local: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    fn mail(local: &str, domain: &str, params: MailParams) -> Command {
        Command::Mail {
            from: ReversePath::Mailbox(mb(local, domain)),
            params,
        }
    }

    fn rcpt(local: &str, domain: &str, params: RcptParams) -> Command {
        Command::Rcpt {
            to: ForwardPath::Mailbox(mb(local, domain)),
            params,
        }
    }

    fn syntax(detail: &'static str) -> Result<Command, CommandError> {
        Err(CommandError::Syntax(detail))
    }

    #[test]
    fn helo_and_ehlo() {
        assert_eq!(
            p("HELO mail.example.org"),
            Ok(Command::Helo("mail.example.org".into()))
        );
        assert_eq!(
            p("ehlo Mail.Example.ORG"),
            Ok(Command::Ehlo("Mail.Example.ORG".into()))
        );
        assert_eq!(
            p("EhLo [192.0.2.1]"),
            Ok(Command::Ehlo("[192.0.2.1]".into()))
        );
        assert_eq!(
            p("EHLO [IPv6:2001:db8::1]"),
            Ok(Command::Ehlo("[IPv6:2001:db8::1]".into()))
        );
        assert_eq!(
            p("EHLO   spaced.example  "),
            Ok(Command::Ehlo("spaced.example".into()))
        );
        assert_eq!(
            p("EHLO host.example (comment)"),
            Ok(Command::Ehlo("host.example".into()))
        );
        assert_eq!(p("EHLO my_pc"), Ok(Command::Ehlo("my_pc".into())));
    }

    #[test]
    fn helo_needs_an_argument() {
        let missing = syntax("a domain or address literal is required");
        assert_eq!(p("HELO"), missing);
        assert_eq!(p("EHLO"), missing);
        assert_eq!(p("EHLO "), missing);
        assert_eq!(
            p("EHLO bücher.example"),
            syntax("non-ASCII text requires SMTPUTF8")
        );
        assert_eq!(
            p8("EHLO bücher.example"),
            Ok(Command::Ehlo("bücher.example".into()))
        );
    }

    #[test]
    fn verbs_are_case_insensitive() {
        for line in ["DATA", "data", "DaTa"] {
            assert_eq!(p(line), Ok(Command::Data));
        }
        assert_eq!(p("rset"), Ok(Command::Rset));
        assert_eq!(p("Quit"), Ok(Command::Quit));
        assert_eq!(p("starttls"), Ok(Command::StartTls));
        assert_eq!(p("noop"), Ok(Command::Noop));
    }

    #[test]
    fn argumentless_commands() {
        assert_eq!(p("DATA "), Ok(Command::Data));
        assert_eq!(p("QUIT\t"), Ok(Command::Quit));
        let no_arg = syntax("this command takes no argument");
        assert_eq!(p("DATA now"), no_arg);
        assert_eq!(p("RSET x"), no_arg);
        assert_eq!(p("QUIT bye"), no_arg);
        assert_eq!(p("STARTTLS x"), no_arg);
        assert_eq!(p("NOOP anything at all"), Ok(Command::Noop));
    }

    #[test]
    fn vrfy_expn_help() {
        assert_eq!(p("VRFY Smith"), Ok(Command::Vrfy("Smith".into())));
        assert_eq!(
            p("VRFY <a@b.example>"),
            Ok(Command::Vrfy("<a@b.example>".into()))
        );
        assert_eq!(
            p("EXPN Example-People"),
            Ok(Command::Expn("Example-People".into()))
        );
        assert_eq!(
            p("vrfy  John Smith "),
            Ok(Command::Vrfy("John Smith".into()))
        );
        assert_eq!(p("VRFY"), syntax("an argument is required"));
        assert_eq!(p("EXPN"), syntax("an argument is required"));
        assert_eq!(p("HELP"), Ok(Command::Help(None)));
        assert_eq!(p("HELP MAIL"), Ok(Command::Help(Some("MAIL".into()))));
        assert_eq!(p("VRFY jöe"), syntax("non-ASCII text requires SMTPUTF8"));
        assert_eq!(p8("VRFY jöe"), Ok(Command::Vrfy("jöe".into())));
    }

    #[test]
    fn unknown_and_malformed_lines() {
        assert_eq!(p("FOO bar"), Err(CommandError::UnknownCommand));
        assert_eq!(p(""), Err(CommandError::UnknownCommand));
        assert_eq!(p(" DATA"), Err(CommandError::UnknownCommand));
        assert_eq!(p("MAILFROM:<a@b>"), Err(CommandError::UnknownCommand));
        assert_eq!(p("MAIL\tFROM:<a@b>"), Err(CommandError::UnknownCommand));
        assert_eq!(p("ETRN x"), Err(CommandError::UnknownCommand));
        assert_eq!(
            parse(b"\x16\x03\x01\x02\x00", false),
            Err(CommandError::UnknownCommand)
        );
        assert_eq!(parse(b"HELO caf\xe9", false), syntax("invalid UTF-8"));
        assert_eq!(
            parse(b"HELO a\x00b", false),
            syntax("control characters are not allowed")
        );
        assert_eq!(
            parse(b"VRFY a\rb", false),
            syntax("control characters are not allowed")
        );
    }

    #[test]
    fn mail_from_forms() {
        let plain = Ok(mail("a", "b.example", MailParams::default()));
        assert_eq!(p("MAIL FROM:<a@b.example>"), plain);
        assert_eq!(p("mail from:<a@b.example>"), plain);
        assert_eq!(p("Mail From:<a@b.example>"), plain);
        assert_eq!(p("MAIL FROM: <a@b.example>"), plain);
        assert_eq!(p("MAIL  FROM:<a@b.example>  "), plain);
        assert_eq!(
            p("MAIL FROM:  <a@b.example>"),
            Err(CommandError::Sender(AddressError::MissingAngleBrackets))
        );
        assert_eq!(
            p("MAIL FROM:a@b.example"),
            Err(CommandError::Sender(AddressError::MissingAngleBrackets))
        );
        assert_eq!(
            p("MAIL FROM <a@b.example>"),
            syntax("expected FROM:<address>")
        );
        assert_eq!(
            p("MAIL TO:<a@b.example>"),
            syntax("expected FROM:<address>")
        );
        assert_eq!(p("MAIL"), syntax("expected FROM:<address>"));
    }

    #[test]
    fn null_sender() {
        let null = Ok(Command::Mail {
            from: ReversePath::Null,
            params: MailParams::default(),
        });
        assert_eq!(p("MAIL FROM:<>"), null);
        assert_eq!(p("MAIL FROM: <>"), null);
        assert_eq!(
            p("MAIL FROM:<> SIZE=1000 BODY=8BITMIME"),
            Ok(Command::Mail {
                from: ReversePath::Null,
                params: MailParams {
                    size: Some(1000),
                    body: Some(Body::EightBitMime),
                    ..Default::default()
                },
            })
        );
    }

    #[test]
    fn rcpt_to_forms() {
        let plain = Ok(rcpt("u", "d.example", RcptParams::default()));
        assert_eq!(p("RCPT TO:<u@d.example>"), plain);
        assert_eq!(p("rcpt to:<u@d.example>"), plain);
        assert_eq!(p("RCPT TO: <u@d.example>"), plain);
        assert_eq!(p("RCPT TO:<@relay.example:u@d.example>"), plain);
        assert_eq!(p("RCPT TO:<@r1.example,@r2.example:u@d.example>"), plain);
        assert_eq!(
            p("RCPT TO:<postmaster>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default()
            })
        );
        assert_eq!(
            p("RCPT TO:<PostMaster>"),
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default()
            })
        );
        assert_eq!(
            p("RCPT TO:<>"),
            Err(CommandError::Recipient(AddressError::EmptyPath))
        );
        assert_eq!(
            p("RCPT FROM:<u@d.example>"),
            syntax("expected TO:<address>")
        );
        assert_eq!(
            p("RCPT TO:<u@d.example"),
            Err(CommandError::Recipient(AddressError::UnterminatedPath))
        );
    }

    #[test]
    fn addresses_pass_through() {
        assert_eq!(
            p("RCPT TO:<\"john doe\"@example.org>"),
            Ok(rcpt("john doe", "example.org", RcptParams::default()))
        );
        assert_eq!(
            p(r#"RCPT TO:<"a\"b"@x>"#),
            Ok(rcpt("a\"b", "x", RcptParams::default()))
        );
        assert_eq!(
            p("RCPT TO:<user%other@relay.example>"),
            Ok(rcpt("user%other", "relay.example", RcptParams::default()))
        );
        assert_eq!(
            p("RCPT TO:<a@[192.0.2.1]>"),
            Ok(rcpt("a", "[192.0.2.1]", RcptParams::default()))
        );
        assert_eq!(
            p("MAIL FROM:<a@[IPv6:2001:db8::1]>"),
            Ok(mail("a", "[IPv6:2001:db8::1]", MailParams::default()))
        );
    }

    #[test]
    fn smtputf8_mail() {
        let utf8 = MailParams {
            smtputf8: true,
            ..Default::default()
        };
        assert_eq!(
            p8("MAIL FROM:<jöe@exämple.org> SMTPUTF8"),
            Ok(mail("jöe", "exämple.org", utf8.clone()))
        );
        assert_eq!(p8("MAIL FROM:<a@b> smtputf8"), Ok(mail("a", "b", utf8)));
        // Advertised, but this MAIL did not ask for it.
        assert_eq!(
            p8("MAIL FROM:<jöe@example.org>"),
            Err(CommandError::Sender(AddressError::Utf8Required))
        );
        // Not advertised at all.
        assert_eq!(
            p("MAIL FROM:<jöe@example.org> SMTPUTF8"),
            Err(CommandError::Sender(AddressError::Utf8Required))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SMTPUTF8"),
            Err(CommandError::UnsupportedParameter("SMTPUTF8".into()))
        );
        assert_eq!(
            p8("MAIL FROM:<a@b> SMTPUTF8=yes"),
            Err(CommandError::InvalidParameter {
                key: "SMTPUTF8",
                reason: "takes no value"
            })
        );
        assert_eq!(
            p8("MAIL FROM:<a@b> SMTPUTF8 AUTH=ü"),
            Err(CommandError::InvalidParameter {
                key: "AUTH",
                reason: "must be xtext"
            })
        );
        assert_eq!(
            p("MAIL FROM:<a@b> AUTH=ü"),
            Err(CommandError::InvalidParameter {
                key: "AUTH",
                reason: "must be xtext"
            })
        );
        assert_eq!(
            p("MAIL FROM:<jöe@example.org>").map_err(|e| e.reply()),
            Err((
                553,
                "5.6.7",
                "SMTPUTF8 required for this address".to_owned()
            ))
        );
    }

    #[test]
    fn smtputf8_rcpt() {
        assert_eq!(
            p("RCPT TO:<jöe@example.org>"),
            Err(CommandError::Recipient(AddressError::Utf8Required))
        );
        assert_eq!(
            p8("RCPT TO:<jöe@example.org>"),
            Ok(rcpt("jöe", "example.org", RcptParams::default()))
        );
        assert_eq!(
            p("RCPT TO:<a@b> ORCPT=utf-8;jöe"),
            syntax("non-ASCII text requires SMTPUTF8")
        );
        assert_eq!(
            p8("RCPT TO:<a@b> ORCPT=utf-8;jöe"),
            Ok(rcpt(
                "a",
                "b",
                RcptParams {
                    orcpt: Some("utf-8;jöe".into()),
                    ..Default::default()
                }
            ))
        );
    }

    #[test]
    fn mail_parameters() {
        assert_eq!(
            p("MAIL FROM:<a@b> size=12345 body=binarymime RET=hdrs ENVID=QQ314159 AUTH=<>"),
            Ok(mail(
                "a",
                "b",
                MailParams {
                    size: Some(12345),
                    body: Some(Body::BinaryMime),
                    smtputf8: false,
                    auth: Some("<>".into()),
                    ret: Some(Ret::Hdrs),
                    envid: Some("QQ314159".into()),
                }
            ))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> BODY=7BIT RET=FULL AUTH=e+3Dmc2@example.com"),
            Ok(mail(
                "a",
                "b",
                MailParams {
                    body: Some(Body::SevenBit),
                    ret: Some(Ret::Full),
                    auth: Some("e+3Dmc2@example.com".into()),
                    ..Default::default()
                }
            ))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=18446744073709551615").map(|c| match c {
                Command::Mail { params, .. } => params.size,
                _ => None,
            }),
            Ok(Some(u64::MAX))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=0"),
            Ok(mail(
                "a",
                "b",
                MailParams {
                    size: Some(0),
                    ..Default::default()
                }
            ))
        );
    }

    #[test]
    fn bad_size() {
        let bad = Err(CommandError::InvalidParameter {
            key: "SIZE",
            reason: "must be a decimal number of at most 2^64-1",
        });
        for line in [
            "MAIL FROM:<a@b> SIZE=abc",
            "MAIL FROM:<a@b> SIZE=-1",
            "MAIL FROM:<a@b> SIZE=+5",
            "MAIL FROM:<a@b> SIZE=1.5",
            "MAIL FROM:<a@b> SIZE=18446744073709551616",
            "MAIL FROM:<a@b> SIZE=000000000000000000001",
        ] {
            assert_eq!(p(line), bad, "{line}");
        }
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE"),
            Err(CommandError::InvalidParameter {
                key: "SIZE",
                reason: "a value is required"
            })
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE="),
            syntax("malformed ESMTP parameter value")
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=abc").unwrap_err().reply(),
            (501, "5.5.4", "Syntax error in parameters or arguments: SIZE: must be a decimal number of at most 2^64-1".to_owned())
        );
    }

    #[test]
    fn bad_parameter_values() {
        let cases: [(&str, &'static str, &'static str); 7] = [
            (
                "MAIL FROM:<a@b> BODY=9BIT",
                "BODY",
                "must be 7BIT, 8BITMIME or BINARYMIME",
            ),
            ("MAIL FROM:<a@b> RET=ALL", "RET", "must be FULL or HDRS"),
            ("MAIL FROM:<a@b> ENVID=a+zz", "ENVID", "must be xtext"),
            ("MAIL FROM:<a@b> AUTH=a+2b", "AUTH", "must be xtext"),
            (
                "RCPT TO:<a@b> NOTIFY=SUCCESS,NEVER",
                "NOTIFY",
                "must be NEVER or a list of SUCCESS, FAILURE, DELAY",
            ),
            ("RCPT TO:<a@b> NOTIFY=", "", ""),
            (
                "RCPT TO:<a@b> ORCPT=rfc822",
                "ORCPT",
                "must be addr-type;address",
            ),
        ];
        for (line, key, reason) in cases {
            let want = if key.is_empty() {
                CommandError::Syntax("malformed ESMTP parameter value")
            } else {
                CommandError::InvalidParameter { key, reason }
            };
            assert_eq!(p(line), Err(want), "{line}");
        }
        let long_envid = format!("MAIL FROM:<a@b> ENVID={}", "x".repeat(101));
        assert_eq!(
            p(&long_envid),
            Err(CommandError::InvalidParameter {
                key: "ENVID",
                reason: "too long"
            })
        );
        let ok_envid = format!("MAIL FROM:<a@b> ENVID={}", "x".repeat(100));
        assert!(p(&ok_envid).is_ok());
        let long_orcpt = format!("RCPT TO:<a@b> ORCPT=rfc822;{}", "x".repeat(494));
        assert_eq!(
            p(&long_orcpt),
            Err(CommandError::InvalidParameter {
                key: "ORCPT",
                reason: "longer than 500 characters"
            })
        );
    }

    #[test]
    fn unknown_and_duplicate_parameters() {
        assert_eq!(
            p("MAIL FROM:<a@b> FOO=bar"),
            Err(CommandError::UnsupportedParameter("FOO".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> xverp"),
            Err(CommandError::UnsupportedParameter("XVERP".into()))
        );
        assert_eq!(
            p("RCPT TO:<a@b> SIZE=1"),
            Err(CommandError::UnsupportedParameter("SIZE".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> NOTIFY=NEVER"),
            Err(CommandError::UnsupportedParameter("NOTIFY".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=1 size=2"),
            Err(CommandError::DuplicateParameter("SIZE".into()))
        );
        assert_eq!(
            p("RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=DELAY"),
            Err(CommandError::DuplicateParameter("NOTIFY".into()))
        );
        assert_eq!(
            p("MAIL FROM:<a@b> FOO").unwrap_err().reply(),
            (555, "5.5.4", "Unsupported parameter: FOO".to_owned())
        );
        assert_eq!(
            p("MAIL FROM:<a@b> BODY=7BIT BODY=7BIT")
                .unwrap_err()
                .reply(),
            (
                555,
                "5.5.4",
                "Unsupported parameter: BODY given twice".to_owned()
            )
        );
    }

    #[test]
    fn malformed_parameter_tokens() {
        assert_eq!(p("MAIL FROM:<a@b> =x"), syntax("malformed ESMTP parameter"));
        assert_eq!(p("MAIL FROM:<a@b> -X"), syntax("malformed ESMTP parameter"));
        assert_eq!(
            p("MAIL FROM:<a@b> X_Y"),
            syntax("malformed ESMTP parameter")
        );
        assert_eq!(
            p("MAIL FROM:<a@b> SIZE=1=2"),
            syntax("malformed ESMTP parameter value")
        );
        assert_eq!(
            p("MAIL FROM:<a@b>SIZE=1"),
            Err(CommandError::Sender(AddressError::TrailingJunk))
        );
    }

    #[test]
    fn rcpt_parameters() {
        let on = |success, failure, delay| {
            Some(Notify::On {
                success,
                failure,
                delay,
            })
        };
        let notify = |line: &str| match p(line) {
            Ok(Command::Rcpt { params, .. }) => params.notify,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(notify("RCPT TO:<a@b> NOTIFY=NEVER"), Some(Notify::Never));
        assert_eq!(notify("RCPT TO:<a@b> notify=never"), Some(Notify::Never));
        assert_eq!(
            notify("RCPT TO:<a@b> NOTIFY=SUCCESS"),
            on(true, false, false)
        );
        assert_eq!(
            notify("RCPT TO:<a@b> NOTIFY=failure,delay"),
            on(false, true, true)
        );
        assert_eq!(
            notify("RCPT TO:<a@b> NOTIFY=DELAY,SUCCESS,FAILURE"),
            on(true, true, true)
        );
        assert_eq!(notify("RCPT TO:<a@b>"), None);
        assert_eq!(
            p("RCPT TO:<a@b> NOTIFY=FAILURE ORCPT=rfc822;Bob+40example.org"),
            Ok(rcpt(
                "a",
                "b",
                RcptParams {
                    notify: on(false, true, false),
                    orcpt: Some("rfc822;Bob+40example.org".into())
                }
            ))
        );
        assert_eq!(
            p("RCPT TO:<a@b> NOTIFY=SUCCESS,,DELAY"),
            Err(CommandError::InvalidParameter {
                key: "NOTIFY",
                reason: "must be NEVER or a list of SUCCESS, FAILURE, DELAY"
            })
        );
    }

    #[test]
    fn bdat() {
        assert_eq!(
            p("BDAT 1000"),
            Ok(Command::Bdat {
                size: 1000,
                last: false
            })
        );
        assert_eq!(
            p("BDAT 0 LAST"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            p("bdat 42 last"),
            Ok(Command::Bdat {
                size: 42,
                last: true
            })
        );
        assert_eq!(
            p("BDAT  7  LAST "),
            Ok(Command::Bdat {
                size: 7,
                last: true
            })
        );
        assert_eq!(p("BDAT"), syntax("BDAT requires a chunk size"));
        assert_eq!(p("BDAT x"), syntax("invalid BDAT chunk size"));
        assert_eq!(p("BDAT -1"), syntax("invalid BDAT chunk size"));
        assert_eq!(
            p("BDAT 18446744073709551616"),
            syntax("invalid BDAT chunk size")
        );
        assert_eq!(
            p("BDAT 1 FIRST"),
            syntax("expected LAST after the BDAT chunk size")
        );
        assert_eq!(p("BDAT 1 LAST x"), syntax("too many BDAT arguments"));
    }

    #[test]
    fn auth() {
        assert_eq!(
            p("AUTH PLAIN"),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: None
            })
        );
        assert_eq!(
            p("auth plain AHRlc3QAMTIzNA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AHRlc3QAMTIzNA==".into())
            })
        );
        assert_eq!(
            p("AUTH EXTERNAL ="),
            Ok(Command::Auth {
                mechanism: "EXTERNAL".into(),
                initial: Some("=".into())
            })
        );
        assert_eq!(
            p("AUTH CRAM-MD5"),
            Ok(Command::Auth {
                mechanism: "CRAM-MD5".into(),
                initial: None
            })
        );
        assert_eq!(p("AUTH"), syntax("AUTH requires a mechanism"));
        assert_eq!(p("AUTH PL@IN"), syntax("invalid SASL mechanism name"));
        assert_eq!(
            p(&format!("AUTH {}", "M".repeat(21))),
            syntax("invalid SASL mechanism name")
        );
        assert_eq!(
            p("AUTH PLAIN abc!"),
            syntax("initial response must be base64 or =")
        );
        assert_eq!(p("AUTH PLAIN abc def"), syntax("too many AUTH arguments"));
    }

    #[test]
    fn line_limits() {
        // 510 octets + CRLF = 512: accepted; one more is too long.
        let ok = format!("VRFY {}", "x".repeat(505));
        assert_eq!(ok.len(), 510);
        assert_eq!(p(&ok), Ok(Command::Vrfy("x".repeat(505))));
        let long = format!("VRFY {}", "x".repeat(506));
        assert_eq!(p(&long), Err(CommandError::LineTooLong));
        assert_eq!(p(&"x".repeat(511)), Err(CommandError::LineTooLong));
        assert_eq!(
            p(&format!("NOOP {}", " ".repeat(506))),
            Err(CommandError::LineTooLong)
        );
        // MAIL/RCPT get MAX_MAIL_RCPT_LINE.
        let pad = |base: &str, total: usize| {
            format!("{base} ENVID={}", "e".repeat(total - base.len() - 7))
        };
        let mail_ok = pad("MAIL FROM:<a@b>", MAX_MAIL_RCPT_LINE - 2);
        assert_eq!(mail_ok.len(), 2046);
        assert_eq!(
            p(&mail_ok),
            Err(CommandError::InvalidParameter {
                key: "ENVID",
                reason: "too long"
            })
        );
        let mail_long = pad("MAIL FROM:<a@b>", MAX_MAIL_RCPT_LINE - 1);
        assert_eq!(p(&mail_long), Err(CommandError::LineTooLong));
        let orcpt = format!(
            "RCPT TO:<a@b> ORCPT=rfc822;{} NOTIFY=SUCCESS,FAILURE,DELAY",
            "o".repeat(493)
        );
        assert!(orcpt.len() > MAX_COMMAND_LINE);
        assert!(matches!(p(&orcpt), Ok(Command::Rcpt { .. })));
        assert_eq!(
            CommandError::LineTooLong.reply(),
            (500, "5.5.2", "Line too long".to_owned())
        );
    }

    #[test]
    fn replies() {
        assert_eq!(
            CommandError::UnknownCommand.reply(),
            (500, "5.5.1", "Command unrecognized".to_owned())
        );
        assert_eq!(
            p("DATA x").unwrap_err().reply(),
            (
                501,
                "5.5.4",
                "Syntax error in parameters or arguments: this command takes no argument"
                    .to_owned()
            )
        );
        assert_eq!(
            p("MAIL FROM:<a@@b>").unwrap_err().reply(),
            (
                501,
                "5.1.7",
                "Bad sender address syntax: invalid domain".to_owned()
            )
        );
        assert_eq!(
            p("RCPT TO:<a b@c>").unwrap_err().reply(),
            (
                501,
                "5.1.3",
                "Bad recipient address syntax: invalid local part".to_owned()
            )
        );
        assert_eq!(
            p("RCPT TO:<jö@c>").unwrap_err().reply(),
            (
                553,
                "5.6.7",
                "SMTPUTF8 required for this address".to_owned()
            )
        );
    }

    #[test]
    fn xtext_decoding() {
        assert_eq!(
            decode_xtext("e+3Dmc2@example.com"),
            Some("e=mc2@example.com".into())
        );
        assert_eq!(decode_xtext("<>"), Some("<>".into()));
        assert_eq!(decode_xtext("a+2Bb"), Some("a+b".into()));
        assert_eq!(decode_xtext("a+2b"), None);
        assert_eq!(decode_xtext("a+2"), None);
        assert_eq!(decode_xtext("a=b"), None);
        assert_eq!(decode_xtext("a b"), None);
        assert_eq!(decode_xtext("+C3+A9"), Some("é".into()));
        assert_eq!(decode_xtext("+FF"), None);
    }

    #[test]
    fn verb_names() {
        assert_eq!(p("MAIL FROM:<>").map(|c| c.verb()), Ok("MAIL"));
        assert_eq!(p("starttls").map(|c| c.verb()), Ok("STARTTLS"));
        assert_eq!(p("BDAT 1").map(|c| c.verb()), Ok("BDAT"));
    }
}
