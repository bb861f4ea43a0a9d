//! POP3 commands (RFC 1939, CAPA from RFC 2449, STLS from RFC 2595, AUTH
//! from RFC 5034): keywords are case-insensitive, arguments are separated by
//! single spaces, message numbers are 1-based decimals.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    User(String),
    Pass(String),
    /// AUTH with no mechanism lists them (RFC 1734 clients still ask).
    Auth { mechanism: Option<String>, initial: Option<String> },
    Stls,
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top { msg: u32, lines: u32 },
    Dele(u32),
    Rset,
    Noop,
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command")]
    Unknown,
    #[error("{0}")]
    Syntax(&'static str),
}

/// Longest command line (RFC 2449 §4: 255 octets including CRLF).
pub const MAX_LINE: usize = 255;

pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::Syntax("not UTF-8"))?;
    let (keyword, rest) = match line.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (line, None),
    };
    let args: Vec<&str> = rest.map(|r| r.split(' ').filter(|a| !a.is_empty()).collect()).unwrap_or_default();
    match keyword.to_ascii_uppercase().as_str() {
        "CAPA" => none(&args, Command::Capa),
        "USER" => one_word(&args, "USER needs a name").map(Command::User),
        // The password is the rest of the line: it may contain spaces.
        "PASS" => rest.filter(|r| !r.is_empty()).map(|r| Command::Pass(r.to_string())).ok_or(CommandError::Syntax("PASS needs a password")),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth { mechanism: None, initial: None }),
            [m] => Ok(Command::Auth { mechanism: Some(m.to_ascii_uppercase()), initial: None }),
            [m, i] => Ok(Command::Auth { mechanism: Some(m.to_ascii_uppercase()), initial: Some(i.to_string()) }),
            _ => Err(CommandError::Syntax("AUTH takes a mechanism and an initial response")),
        },
        "STLS" => none(&args, Command::Stls),
        "STAT" => none(&args, Command::Stat),
        "LIST" => optional_number(&args).map(Command::List),
        "UIDL" => optional_number(&args).map(Command::Uidl),
        "RETR" => number_arg(&args).map(Command::Retr),
        "DELE" => number_arg(&args).map(Command::Dele),
        "TOP" => match args.as_slice() {
            [m, n] => Ok(Command::Top { msg: number(m)?, lines: count(n)? }),
            _ => Err(CommandError::Syntax("TOP needs a message number and a line count")),
        },
        "RSET" => none(&args, Command::Rset),
        "NOOP" => none(&args, Command::Noop),
        "QUIT" => none(&args, Command::Quit),
        _ => Err(CommandError::Unknown),
    }
}

fn none(args: &[&str], cmd: Command) -> Result<Command, CommandError> {
    if args.is_empty() { Ok(cmd) } else { Err(CommandError::Syntax("no arguments expected")) }
}

fn one_word(args: &[&str], missing: &'static str) -> Result<String, CommandError> {
    match args {
        [w] => Ok(w.to_string()),
        [] => Err(CommandError::Syntax(missing)),
        _ => Err(CommandError::Syntax("too many arguments")),
    }
}

fn optional_number(args: &[&str]) -> Result<Option<u32>, CommandError> {
    match args {
        [] => Ok(None),
        [n] => number(n).map(Some),
        _ => Err(CommandError::Syntax("too many arguments")),
    }
}

fn number_arg(args: &[&str]) -> Result<u32, CommandError> {
    match args {
        [n] => number(n),
        _ => Err(CommandError::Syntax("a message number is required")),
    }
}

/// A message number: 1 or more.
fn number(text: &str) -> Result<u32, CommandError> {
    match count(text)? {
        0 => Err(CommandError::Syntax("message numbers start at 1")),
        n => Ok(n),
    }
}

fn count(text: &str) -> Result<u32, CommandError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CommandError::Syntax("expected a number"));
    }
    text.parse().map_err(|_| CommandError::Syntax("number too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(b"capa"), Ok(Command::Capa));
        assert_eq!(parse(b"USER ann@example.org"), Ok(Command::User("ann@example.org".into())));
        assert_eq!(parse(b"PASS two words"), Ok(Command::Pass("two words".into())));
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"list 3"), Ok(Command::List(Some(3))));
        assert_eq!(parse(b"UIDL 1"), Ok(Command::Uidl(Some(1))));
        assert_eq!(parse(b"TOP 2 0"), Ok(Command::Top { msg: 2, lines: 0 }));
        assert_eq!(parse(b"AUTH PLAIN AGEAYg=="), Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial: Some("AGEAYg==".into()) }));
        assert_eq!(parse(b"AUTH"), Ok(Command::Auth { mechanism: None, initial: None }));
        assert_eq!(parse(b"stls"), Ok(Command::Stls));
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(parse(b"XYZZY"), Err(CommandError::Unknown));
        assert!(matches!(parse(b"RETR"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"RETR 0"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"RETR -1"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"DELE 99999999999"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"STAT now"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"PASS"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"TOP 1"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse(b"USER \xff"), Err(CommandError::Syntax(_))));
    }
}
