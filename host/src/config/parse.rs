//! The raw `rumble.conf` format: `Key Value` lines, `#` comments and `<if>` blocks.
//!
//! This layer knows nothing about what the directives mean; it turns the file into an
//! ordered list of [`Entry`] values (only lines from active branches) that
//! [`super::settings`] then validates. Keeping the raw list matters because Lua's
//! `Rumble.readConfig(key)` returns raw values, and because repeated directives
//! (`LoadScript`, `Grant`, ...) are honoured in file order.
//!
//! Differences from the original C loader (on purpose):
//! - a `#` inside a value is part of the value (passwords may contain `#`);
//! - lines may be up to 64 KiB instead of 511 characters, and longer lines are an error
//!   instead of being cut silently;
//! - malformed `<if>` structure and bad conditions are errors with file and line;
//! - `compare()` with `>`, `<`, `>=`, `<=` needs integers (the original used `atoi`, so
//!   `abc` silently became 0); `=` and `!=` compare strings exactly (case-sensitive).

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Longest accepted line, in bytes, without its line terminator.
pub const MAX_LINE: usize = 64 * 1024;

/// One `Key Value` line from an active branch of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, lower-cased (keys are case-insensitive).
    pub key: String,
    /// The value as written, trimmed; `""` when the line has only a key.
    pub value: String,
    /// 1-based line number; 0 for built-in keys.
    pub line: usize,
}

/// A parsed config file: entries in file order plus built-in keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConfig {
    /// The file the entries came from, as given to the parser (used in messages).
    pub file: PathBuf,
    /// Entries from active branches, in file order, duplicates included.
    pub entries: Vec<Entry>,
    /// `Comment` lines from active branches, `(line, text)`, for the caller to log.
    pub comments: Vec<(usize, String)>,
    /// Built-in keys (`unix`, `config-dir`, `execpath`, ...), all with line 0. They are
    /// consulted after `entries`, so a file entry with the same key wins.
    pub builtins: Vec<Entry>,
}

impl RawConfig {
    /// An empty config for `file`, holding only the built-in keys.
    pub fn new(file: &Path, execpath: &Path) -> RawConfig {
        RawConfig {
            file: file.to_path_buf(),
            entries: Vec::new(),
            comments: Vec::new(),
            builtins: builtins(&config_dir_of(file), execpath),
        }
    }

    /// Value of the first entry for `key` (case-insensitive), else the built-in.
    /// This is what Lua's `Rumble.readConfig(key)` returns.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_entry(key).map(|e| e.value.as_str())
    }

    /// The first entry for `key` (case-insensitive), else the built-in (line 0).
    pub fn get_entry(&self, key: &str) -> Option<&Entry> {
        self.get_all(key).next().or_else(|| {
            self.builtins
                .iter()
                .find(|e| e.key.eq_ignore_ascii_case(key))
        })
    }

    /// Every file entry for `key` (case-insensitive), in file order. Built-ins are not
    /// included: this is for repeated directives such as `LoadScript` and `Grant`.
    pub fn get_all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Entry> + use<'a> {
        let key = key.to_ascii_lowercase();
        self.entries.iter().filter(move |e| e.key == key)
    }

    /// Folder of the config file; relative paths in the file are relative to it.
    pub fn config_dir(&self) -> PathBuf {
        config_dir_of(&self.file)
    }

    /// Resolves a path written in the file against [`RawConfig::config_dir`].
    pub fn resolve(&self, written: &str) -> PathBuf {
        resolve_in(&self.config_dir(), written)
    }
}

/// Joins `written` to `base` unless it is absolute.
pub fn resolve_in(base: &Path, written: &str) -> PathBuf {
    let p = Path::new(written);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Folder holding `file`; `.` when the file name has no folder part, so that the
/// `config-dir` built-in is never empty (an empty value would make `defined()` false).
fn config_dir_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The built-in keys. Rumble only ever runs on UNIX-like systems here, so `windows`
/// and `cygwin` are always empty.
fn builtins(config_dir: &Path, execpath: &Path) -> Vec<Entry> {
    let flag = |on: bool| if on { "1" } else { "" };
    let is64 = cfg!(target_pointer_width = "64");
    let pairs = [
        ("windows", flag(false).to_string()),
        ("unix", flag(true).to_string()),
        ("linux", flag(cfg!(target_os = "linux")).to_string()),
        ("cygwin", flag(false).to_string()),
        ("x64", flag(is64).to_string()),
        ("x86", flag(!is64).to_string()),
        ("architecture", if is64 { "64" } else { "32" }.to_string()),
        ("config-dir", config_dir.display().to_string()),
        ("execpath", execpath.display().to_string()),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| Entry {
            key: k.to_string(),
            value: v,
            line: 0,
        })
        .collect()
}

/// An error in a config file. Displays as `file:line: message`, or `file: message`
/// when no line applies (e.g. the file cannot be read).
#[derive(Debug, Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line, when the error belongs to one.
    pub line: Option<usize>,
    /// What went wrong.
    #[source]
    pub kind: ErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.kind),
            None => write!(f, "{}: {}", self.file.display(), self.kind),
        }
    }
}

impl ConfigError {
    /// An error at `line` of `file`.
    pub fn at(file: &Path, line: usize, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            kind,
        }
    }

    /// An error about the whole of `file`.
    pub fn whole_file(file: &Path, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            kind,
        }
    }
}

/// The kinds of [`ConfigError`], so callers and tests can tell them apart.
#[derive(Debug, Error)]
pub enum ErrorKind {
    /// The file could not be read.
    #[error("cannot read the config file: {0}")]
    Read(#[source] std::io::Error),
    /// A line is longer than [`MAX_LINE`] bytes.
    #[error("line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A line is not valid UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// Malformed `<if>` block structure or condition.
    #[error("{0}")]
    Conditional(String),
    /// A known directive has a value of the wrong shape.
    #[error("{directive}: expected {expected}, got \"{value}\"")]
    BadValue {
        directive: String,
        value: String,
        expected: String,
    },
    /// A known directive is used wrongly in a way not covered by `BadValue`.
    #[error("{directive}: {message}")]
    Invalid { directive: String, message: String },
    /// Two `LoadScript` lines give scripts the same name.
    #[error(
        "LoadScript: script name \"{name}\" ({path}) is already used by the LoadScript on line \
         {first_line} ({first_path}); give one a name of its own (LoadScript PATH NAME)"
    )]
    DuplicateScript {
        name: String,
        path: String,
        first_line: usize,
        first_path: String,
    },
}

/// Reads and parses `path`. `execpath` is the folder of the running executable (the
/// `execpath` built-in); it is passed in so tests stay deterministic.
///
/// # Errors
/// The file cannot be read (no line), or see [`parse_str`].
pub fn parse_file(path: &Path, execpath: &Path) -> Result<RawConfig, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError::whole_file(path, ErrorKind::Read(e)))?;
    parse_bytes(&bytes, path, execpath)
}

/// Parses config text; `file` names it in messages and sets `config-dir`.
///
/// # Errors
/// A line over [`MAX_LINE`] bytes or not UTF-8, malformed `<if>` structure, a bad
/// condition, or a numeric `compare()` on a non-integer; all with file and line.
pub fn parse_str(text: &str, file: &Path, execpath: &Path) -> Result<RawConfig, ConfigError> {
    parse_bytes(text.as_bytes(), file, execpath)
}

/// Parses raw bytes line by line, so non-UTF-8 can be reported with its line number.
fn parse_bytes(bytes: &[u8], file: &Path, execpath: &Path) -> Result<RawConfig, ConfigError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut parser = Parser {
        cfg: RawConfig::new(file, execpath),
        stack: Vec::new(),
    };
    for (idx, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        let text = decode_line(raw_line).map_err(|k| parser.err(line_no, k))?;
        parser.line(line_no, text)?;
    }
    parser.finish()
}

/// Checks length and encoding of one line.
fn decode_line(raw: &[u8]) -> Result<&str, ErrorKind> {
    if raw.len() > MAX_LINE {
        return Err(ErrorKind::LineTooLong);
    }
    std::str::from_utf8(raw).map_err(|_| ErrorKind::NotUtf8)
}

/// One open `<if>` block.
#[derive(Debug)]
struct Frame {
    /// Line of the `<if>`.
    line: usize,
    /// Whether the enclosing block is active (if not, nothing in here is).
    parent_active: bool,
    /// Whether some branch of this block has already been chosen.
    taken: bool,
    /// Whether the current branch is active.
    active: bool,
    /// Line of this block's `<else>`, once seen.
    else_line: Option<usize>,
}

/// Parser state: the config built so far (conditions may look at it) and open blocks.
struct Parser {
    cfg: RawConfig,
    stack: Vec<Frame>,
}

/// A recognised `<...>` tag.
#[derive(Debug, PartialEq, Eq)]
enum Tag<'a> {
    If(&'a str),
    ElseIf(&'a str),
    Else,
    EndIf,
}

impl Parser {
    fn err(&self, line: usize, kind: ErrorKind) -> ConfigError {
        ConfigError::at(&self.cfg.file, line, kind)
    }

    fn cond_err(&self, line: usize, msg: String) -> ConfigError {
        self.err(line, ErrorKind::Conditional(msg))
    }

    fn active(&self) -> bool {
        self.stack.last().is_none_or(|f| f.active)
    }

    /// Handles one decoded line.
    fn line(&mut self, line: usize, text: &str) -> Result<(), ConfigError> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        if trimmed.starts_with('<') {
            let tag = parse_tag(trimmed).map_err(|m| self.cond_err(line, m))?;
            return self.tag(line, &tag);
        }
        if self.active() {
            self.entry(line, trimmed);
        }
        Ok(())
    }

    /// Stores a `Key Value` line, or collects it when it is a `Comment`.
    fn entry(&mut self, line: usize, trimmed: &str) {
        let (key, value) = match trimmed.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => (trimmed, ""),
        };
        let key = key.to_ascii_lowercase();
        if key == "comment" {
            self.cfg.comments.push((line, value.to_string()));
        } else {
            self.cfg.entries.push(Entry {
                key,
                value: value.to_string(),
                line,
            });
        }
    }

    fn tag(&mut self, line: usize, tag: &Tag<'_>) -> Result<(), ConfigError> {
        match tag {
            Tag::If(cond) => self.open_if(line, cond),
            Tag::ElseIf(cond) => self.else_if(line, cond),
            Tag::Else => self.else_(line),
            Tag::EndIf => self.end_if(line),
        }
    }

    /// `<if X>`: the condition is checked for syntax always, but only evaluated when the
    /// enclosing block is active (so skipped branches may mention undefined keys).
    fn open_if(&mut self, line: usize, cond: &str) -> Result<(), ConfigError> {
        let parent_active = self.active();
        let holds = self.check(line, cond, parent_active)?;
        self.stack.push(Frame {
            line,
            parent_active,
            taken: holds,
            active: holds,
            else_line: None,
        });
        Ok(())
    }

    fn else_if(&mut self, line: usize, cond: &str) -> Result<(), ConfigError> {
        let Some(frame) = self.stack.last() else {
            return Err(self.cond_err(line, "<else-if> without <if>".into()));
        };
        if let Some(else_line) = frame.else_line {
            let msg = format!("<else-if> after <else> (the <else> is on line {else_line})");
            return Err(self.cond_err(line, msg));
        }
        let needed = frame.parent_active && !frame.taken;
        let holds = self.check(line, cond, needed)?;
        if let Some(frame) = self.stack.last_mut() {
            frame.active = holds;
            frame.taken |= holds;
        }
        Ok(())
    }

    fn else_(&mut self, line: usize) -> Result<(), ConfigError> {
        let Some(frame) = self.stack.last() else {
            return Err(self.cond_err(line, "<else> without <if>".into()));
        };
        if let Some(else_line) = frame.else_line {
            let if_line = frame.line;
            let msg = format!(
                "second <else> for the <if> on line {if_line} (first <else> on line {else_line})"
            );
            return Err(self.cond_err(line, msg));
        }
        if let Some(frame) = self.stack.last_mut() {
            frame.active = frame.parent_active && !frame.taken;
            frame.taken = true;
            frame.else_line = Some(line);
        }
        Ok(())
    }

    fn end_if(&mut self, line: usize) -> Result<(), ConfigError> {
        match self.stack.pop() {
            Some(_) => Ok(()),
            None => Err(self.cond_err(line, "</if> without <if>".into())),
        }
    }

    /// Parses `cond` and, when `evaluate` is set, evaluates it.
    fn check(&self, line: usize, cond: &str, evaluate: bool) -> Result<bool, ConfigError> {
        let cond = Condition::parse(cond).map_err(|m| self.cond_err(line, m))?;
        if !evaluate {
            return Ok(false);
        }
        cond.eval(&self.cfg).map_err(|m| self.cond_err(line, m))
    }

    /// At end of input every block must be closed; reports the innermost open `<if>`.
    fn finish(self) -> Result<RawConfig, ConfigError> {
        match self.stack.last() {
            None => Ok(self.cfg),
            Some(frame) => {
                Err(self.cond_err(frame.line, "<if> is never closed (missing </if>)".into()))
            }
        }
    }
}

/// Recognises `<if X>`, `<else-if X>` (also `<elseif X>`, `<else if X>`), `<else>` and
/// `</if>`, case-insensitively and with free whitespace inside the brackets.
fn parse_tag(trimmed: &str) -> Result<Tag<'_>, String> {
    let inner = trimmed
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .ok_or_else(|| {
            format!(
                "unterminated tag {trimmed:?} (expected <if ...>, <else-if ...>, <else> or </if>)"
            )
        })?
        .trim();
    if let Some(rest) = inner.strip_prefix('/') {
        if rest.trim().eq_ignore_ascii_case("if") {
            return Ok(Tag::EndIf);
        }
        return Err(format!("unknown closing tag {trimmed:?} (expected </if>)"));
    }
    let word_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(inner.len());
    let (word, rest) = (
        inner[..word_len].to_ascii_lowercase(),
        inner[word_len..].trim(),
    );
    classify_tag(&word, rest).ok_or_else(|| {
        format!("unknown tag {trimmed:?} (expected <if ...>, <else-if ...>, <else> or </if>)")
    })
}

/// Maps a tag word and the rest of the tag to a [`Tag`].
fn classify_tag<'a>(word: &str, rest: &'a str) -> Option<Tag<'a>> {
    match word {
        "if" => Some(Tag::If(rest)),
        "else-if" | "elseif" => Some(Tag::ElseIf(rest)),
        "else" if rest.is_empty() => Some(Tag::Else),
        "else" => after_word(rest, "if").map(Tag::ElseIf),
        _ => None,
    }
}

/// When `s` starts with the word `word` (case-insensitive), the text after it.
fn after_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let rest = &s[word.len()..];
    let boundary = rest.starts_with(|c: char| c.is_whitespace() || c == '(');
    (head.eq_ignore_ascii_case(word) && boundary).then(|| rest.trim())
}

/// Comparison operators of `compare()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    /// Longest operators first, so `>=` is not read as `>`. `==` is accepted as `=`.
    const TABLE: [(&'static str, Op); 7] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
        }
    }
}

/// A parsed `<if>` condition.
#[derive(Debug, PartialEq, Eq)]
enum Condition {
    Compare { key: String, op: Op, value: String },
    Defined(String),
    Exists(String),
}

impl Condition {
    /// Parses `name(args)`.
    fn parse(text: &str) -> Result<Condition, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(
                "missing condition (expected compare(...), defined(...) or exists(...))".into(),
            );
        }
        let (name, args) = split_call(text)?;
        match name.to_ascii_lowercase().as_str() {
            "compare" => parse_compare(args),
            "defined" => single_key("defined", args).map(Condition::Defined),
            "exists" => parse_exists(args),
            _ => Err(format!(
                "unknown condition function \"{name}\" (expected compare, defined or exists)"
            )),
        }
    }

    fn eval(&self, cfg: &RawConfig) -> Result<bool, String> {
        match self {
            Condition::Defined(key) => Ok(cfg.get(key).is_some_and(|v| !v.is_empty())),
            Condition::Exists(path) => Ok(cfg.resolve(path).exists()),
            Condition::Compare { key, op, value } => eval_compare(cfg, key, *op, value),
        }
    }
}

/// Splits `name(args)` into name and args.
fn split_call(text: &str) -> Result<(&str, &str), String> {
    let bad = || format!("malformed condition {text:?} (expected name(arguments))");
    let open = text.find('(').ok_or_else(bad)?;
    let args = text[open + 1..].strip_suffix(')').ok_or_else(bad)?;
    Ok((text[..open].trim(), args.trim()))
}

/// A single key argument, as for `defined(key)`.
fn single_key(func: &str, args: &str) -> Result<String, String> {
    if args.is_empty() || args.contains(char::is_whitespace) {
        return Err(format!("{func}() takes exactly one key, got {args:?}"));
    }
    Ok(args.to_ascii_lowercase())
}

/// `exists(path)`; surrounding double quotes are removed so paths with spaces work.
fn parse_exists(args: &str) -> Result<Condition, String> {
    let path = args
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(args);
    if path.is_empty() {
        return Err("exists() needs a path".into());
    }
    Ok(Condition::Exists(path.to_string()))
}

/// `compare(key op value)`: the key runs up to whitespace or an operator character.
fn parse_compare(args: &str) -> Result<Condition, String> {
    let key_end = args
        .find(|c: char| c.is_whitespace() || "=!<>".contains(c))
        .unwrap_or(args.len());
    let key = &args[..key_end];
    let rest = args[key_end..].trim_start();
    let found = Op::TABLE.iter().find(|(sym, _)| rest.starts_with(sym));
    match (key.is_empty(), found) {
        (false, Some((sym, op))) => Ok(Condition::Compare {
            key: key.to_ascii_lowercase(),
            op: *op,
            value: rest[sym.len()..].trim().to_string(),
        }),
        _ => Err(format!(
            "compare() expects \"key op value\" with op one of = != > < >= <=, got {args:?}"
        )),
    }
}

/// Evaluates a comparison against the keys seen so far (and built-ins).
fn eval_compare(cfg: &RawConfig, key: &str, op: Op, value: &str) -> Result<bool, String> {
    let actual = cfg.get(key);
    match op {
        Op::Eq => Ok(actual.unwrap_or("") == value),
        Op::Ne => Ok(actual.unwrap_or("") != value),
        _ => {
            let Some(actual) = actual else {
                return Err(format!(
                    "compare({key} {} {value}): \"{key}\" is not defined",
                    op.symbol()
                ));
            };
            let left = int_operand(key, op, value, actual)?;
            let right = int_operand(key, op, value, value)?;
            Ok(match op {
                Op::Gt => left > right,
                Op::Lt => left < right,
                Op::Ge => left >= right,
                _ => left <= right,
            })
        }
    }
}

/// One integer operand of a numeric comparison, with a message naming the comparison.
fn int_operand(key: &str, op: Op, value: &str, operand: &str) -> Result<i64, String> {
    operand.trim().parse::<i64>().map_err(|_| {
        format!(
            "compare({key} {} {value}): \"{operand}\" is not an integer (> < >= <= compare numbers)",
            op.symbol()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RawConfig, ConfigError> {
        parse_str(
            text,
            Path::new("/etc/rumble/rumble.conf"),
            Path::new("/opt/rumble"),
        )
    }

    fn ok(text: &str) -> RawConfig {
        match parse(text) {
            Ok(cfg) => cfg,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(cfg) => panic!("expected an error, got {:?}", cfg.entries),
            Err(e) => e.to_string(),
        }
    }

    fn keys(cfg: &RawConfig) -> Vec<(&str, &str)> {
        cfg.entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect()
    }

    #[test]
    fn key_value_lines_are_split_and_trimmed() {
        let cfg = ok(
            "ServerName   mail.example.org  \n\tSMTPPort\t25\n   Indented   Value With  Spaces \n",
        );
        assert_eq!(
            keys(&cfg),
            vec![
                ("servername", "mail.example.org"),
                ("smtpport", "25"),
                ("indented", "Value With  Spaces")
            ]
        );
        assert_eq!(cfg.entries[1].line, 2);
        assert_eq!(cfg.entries[2].line, 3);
    }

    #[test]
    fn keys_are_case_insensitive_values_keep_case() {
        let cfg = ok("SeRvErNaMe Mail.Example.ORG\n");
        assert_eq!(cfg.get("servername"), Some("Mail.Example.ORG"));
        assert_eq!(cfg.get("SERVERNAME"), Some("Mail.Example.ORG"));
        assert_eq!(cfg.entries[0].key, "servername");
    }

    #[test]
    fn key_without_value_has_empty_value() {
        let cfg = ok("RunAs\nRunAsGroup   \n");
        assert_eq!(keys(&cfg), vec![("runas", ""), ("runasgroup", "")]);
        assert_eq!(cfg.get("runas"), Some(""));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_hash_in_value_is_kept() {
        let cfg = ok("# a comment\n\n   # indented comment\nMySQLPass se#cret # not a comment\r\n");
        assert_eq!(keys(&cfg), vec![("mysqlpass", "se#cret # not a comment")]);
        assert_eq!(cfg.entries[0].line, 4);
    }

    #[test]
    fn crlf_and_bom_are_handled() {
        let cfg = ok("\u{feff}ServerName a\r\nSMTPPort 25\r\n");
        assert_eq!(keys(&cfg), vec![("servername", "a"), ("smtpport", "25")]);
    }

    #[test]
    fn first_occurrence_wins_and_get_all_keeps_order() {
        let cfg = ok(
            "LoadScript a.lua\nSMTPPort 25\nloadscript b.lua\nSMTPPort 2525\nLOADSCRIPT c.lua\n",
        );
        assert_eq!(cfg.get("smtpport"), Some("25"));
        assert_eq!(cfg.get_entry("SMTPPort").map(|e| e.line), Some(2));
        let all: Vec<(&str, usize)> = cfg
            .get_all("LoadScript")
            .map(|e| (e.value.as_str(), e.line))
            .collect();
        assert_eq!(all, vec![("a.lua", 1), ("b.lua", 3), ("c.lua", 5)]);
    }

    #[test]
    fn builtins_are_available_and_file_entries_win() {
        let cfg = ok("");
        assert_eq!(cfg.get("unix"), Some("1"));
        assert_eq!(cfg.get("windows"), Some(""));
        assert_eq!(cfg.get("cygwin"), Some(""));
        assert_eq!(
            cfg.get("linux"),
            Some(if cfg!(target_os = "linux") { "1" } else { "" })
        );
        let is64 = cfg!(target_pointer_width = "64");
        assert_eq!(cfg.get("x64"), Some(if is64 { "1" } else { "" }));
        assert_eq!(cfg.get("x86"), Some(if is64 { "" } else { "1" }));
        assert_eq!(
            cfg.get("architecture"),
            Some(if is64 { "64" } else { "32" })
        );
        assert_eq!(cfg.get("config-dir"), Some("/etc/rumble"));
        assert_eq!(cfg.get("EXECPATH"), Some("/opt/rumble"));
        assert_eq!(cfg.get_entry("unix").map(|e| e.line), Some(0));
        assert_eq!(cfg.get_all("unix").count(), 0);
        assert_eq!(cfg.get("nothing"), None);

        let cfg = ok("Unix no\n");
        assert_eq!(cfg.get("unix"), Some("no"));
    }

    #[test]
    fn config_dir_of_a_bare_file_name_is_dot() {
        let cfg =
            parse_str("", Path::new("rumble.conf"), Path::new("/x")).map_err(|e| e.to_string());
        assert_eq!(
            cfg.map(|c| (c.config_dir(), c.get("config-dir").map(String::from))),
            Ok((PathBuf::from("."), Some(".".to_string())))
        );
    }

    #[test]
    fn resolve_keeps_absolute_and_joins_relative() {
        let cfg = ok("");
        assert_eq!(cfg.resolve("db"), PathBuf::from("/etc/rumble/db"));
        assert_eq!(cfg.resolve("/var/db"), PathBuf::from("/var/db"));
    }

    #[test]
    fn comment_directive_is_collected_not_stored() {
        let cfg = ok(
            "Comment hello world\nServerName x\n<if defined(nope)>\nComment hidden\n<else>\ncomment  shown # here\n</if>\nComment\n",
        );
        assert_eq!(
            cfg.comments,
            vec![
                (1, "hello world".to_string()),
                (6, "shown # here".to_string()),
                (8, String::new())
            ]
        );
        assert_eq!(keys(&cfg), vec![("servername", "x")]);
    }

    #[test]
    fn if_defined_takes_branch_only_for_non_empty_value() {
        let text = "Empty\nFull yes\n<if defined(empty)>\nA 1\n</if>\n<if defined(FULL)>\nB 1\n</if>\n<if defined(missing)>\nC 1\n</if>\n";
        let cfg = ok(text);
        assert_eq!(cfg.get("a"), None);
        assert_eq!(cfg.get("b"), Some("1"));
        assert_eq!(cfg.get("c"), None);
    }

    #[test]
    fn if_defined_sees_builtins() {
        let cfg = ok("<if defined(unix)>\nA 1\n</if>\n<if defined(windows)>\nB 1\n</if>\n");
        assert_eq!(cfg.get("a"), Some("1"));
        assert_eq!(cfg.get("b"), None);
    }

    #[test]
    fn conditions_only_see_keys_from_active_lines() {
        let text =
            "<if defined(windows)>\nHidden 1\n</if>\n<if defined(hidden)>\nA 1\n</if>\nLater 1\n";
        let cfg = ok(text);
        assert_eq!(cfg.get("hidden"), None);
        assert_eq!(cfg.get("a"), None);
        // A key defined after the condition is not visible to it.
        let cfg = ok("<if defined(later)>\nA 1\n</if>\nLater 1\n");
        assert_eq!(cfg.get("a"), None);
    }

    #[test]
    fn tags_are_case_and_whitespace_insensitive() {
        let text = "SMTPPort 2525\n< IF compare(SMTPPort >= 1024) >\nA 1\n<  /  If >\n<If Defined( unix )>\nB 1\n</IF>\n";
        let cfg = ok(text);
        assert_eq!(cfg.get("a"), Some("1"));
        assert_eq!(cfg.get("b"), Some("1"));
    }

    #[test]
    fn else_branch_runs_when_if_is_false() {
        let cfg = ok("<if defined(windows)>\nA 1\n<else>\nA 2\n</if>\n");
        assert_eq!(keys(&cfg), vec![("a", "2")]);
        let cfg = ok("<if defined(unix)>\nA 1\n<else>\nA 2\n</if>\n");
        assert_eq!(keys(&cfg), vec![("a", "1")]);
    }

    #[test]
    fn else_if_chain_takes_first_true_branch_only() {
        let text = "N 2\n<if compare(n = 1)>\nPick one\n<else-if compare(n = 2)>\nPick two\n<else-if compare(n >= 2)>\nPick also\n<else>\nPick else\n</if>\n";
        assert_eq!(
            ok(text)
                .get_all("pick")
                .map(|e| e.value.as_str())
                .collect::<Vec<_>>(),
            vec!["two"]
        );
        let text = "N 9\n<if compare(n = 1)>\nPick one\n<elseif compare(n = 2)>\nPick two\n<else if compare(n < 0)>\nPick neg\n<else>\nPick else\n</if>\n";
        assert_eq!(
            ok(text)
                .get_all("pick")
                .map(|e| e.value.as_str())
                .collect::<Vec<_>>(),
            vec!["else"]
        );
    }

    #[test]
    fn nested_blocks_respect_outer_state() {
        let text = "\
<if defined(unix)>
  Outer 1
  <if defined(windows)>
    Inner win
  <else-if defined(unix)>
    Inner unix
  </if>
<else>
  <if defined(unix)>
    Never 1
  <else>
    Never 2
  </if>
</if>
<if defined(windows)>
  <if defined(unix)>
    Never 3
  </if>
<else>
  Last 1
</if>
";
        let cfg = ok(text);
        assert_eq!(
            keys(&cfg),
            vec![("outer", "1"), ("inner", "unix"), ("last", "1")]
        );
    }

    #[test]
    fn compare_numeric_operators() {
        let cases = [
            ("P 2525", "p > 1024", true),
            ("P 25", "p > 1024", false),
            ("P 25", "p < 1024", true),
            ("P 1024", "p >= 1024", true),
            ("P 1024", "p <= 1024", true),
            ("P 1025", "p <= 1024", false),
            ("P -5", "p < 0", true),
            ("P 07", "p = 7", false),
            ("P 07", "p >= 7", true),
        ];
        for (def, cond, want) in cases {
            let cfg = ok(&format!("{def}\n<if compare({cond})>\nHit 1\n</if>\n"));
            assert_eq!(cfg.get("hit").is_some(), want, "{def} / {cond}");
        }
    }

    #[test]
    fn compare_string_operators_are_exact() {
        let cases = [
            ("DatabaseEngine sqlite", "databaseengine = sqlite", true),
            ("DatabaseEngine SQLite", "databaseengine = sqlite", false),
            ("DatabaseEngine mysql", "databaseengine != sqlite", true),
            ("DatabaseEngine mysql", "DatabaseEngine == mysql", true),
            ("X", "x = ", true),
            ("Y 1", "missing = ", true),
            ("Y 1", "missing != 1", true),
            ("Y 1", "architecture=64", cfg!(target_pointer_width = "64")),
        ];
        for (def, cond, want) in cases {
            let cfg = ok(&format!("{def}\n<if compare({cond})>\nHit 1\n</if>\n"));
            assert_eq!(cfg.get("hit").is_some(), want, "{def} / {cond}");
        }
    }

    #[test]
    fn compare_with_non_integer_operand_is_error() {
        assert_eq!(
            err("SMTPPort abc\n\n<if compare(SMTPPort >= 1024)>\n</if>\n"),
            "/etc/rumble/rumble.conf:3: compare(smtpport >= 1024): \"abc\" is not an integer (> < >= <= compare numbers)"
        );
        assert_eq!(
            err("SMTPPort 25\n<if compare(SMTPPort > lots)>\n</if>\n"),
            "/etc/rumble/rumble.conf:2: compare(smtpport > lots): \"lots\" is not an integer (> < >= <= compare numbers)"
        );
        assert_eq!(
            err("<if compare(nothing > 1)>\n</if>\n"),
            "/etc/rumble/rumble.conf:1: compare(nothing > 1): \"nothing\" is not defined"
        );
    }

    #[test]
    fn conditions_in_skipped_branches_are_not_evaluated_but_are_checked() {
        // Evaluation error in a skipped branch: fine.
        let cfg = ok("<if defined(windows)>\n<if compare(nothing > 1)>\n</if>\n</if>\n");
        assert!(cfg.entries.is_empty());
        // Unknown function in a skipped branch: still an error.
        assert_eq!(
            err("<if defined(windows)>\n<if bogus(x)>\n</if>\n</if>\n"),
            "/etc/rumble/rumble.conf:2: unknown condition function \"bogus\" (expected compare, defined or exists)"
        );
        // Else-if after a taken branch is not evaluated either.
        let cfg = ok("<if defined(unix)>\nA 1\n<else-if compare(nothing > 1)>\nA 2\n</if>\n");
        assert_eq!(keys(&cfg), vec![("a", "1")]);
    }

    #[test]
    fn malformed_conditions_are_errors() {
        let f = "/etc/rumble/rumble.conf";
        assert_eq!(
            err("<if>\n</if>\n"),
            format!(
                "{f}:1: missing condition (expected compare(...), defined(...) or exists(...))"
            )
        );
        assert_eq!(
            err("<if defined>\n</if>\n"),
            format!("{f}:1: malformed condition \"defined\" (expected name(arguments))")
        );
        assert_eq!(
            err("<if defined(a>\n</if>\n"),
            format!("{f}:1: malformed condition \"defined(a\" (expected name(arguments))")
        );
        assert_eq!(
            err("<if defined()>\n</if>\n"),
            format!("{f}:1: defined() takes exactly one key, got \"\"")
        );
        assert_eq!(
            err("<if defined(a b)>\n</if>\n"),
            format!("{f}:1: defined() takes exactly one key, got \"a b\"")
        );
        assert_eq!(
            err("<if exists()>\n</if>\n"),
            format!("{f}:1: exists() needs a path")
        );
        assert_eq!(
            err("<if compare(a ~ b)>\n</if>\n"),
            format!(
                "{f}:1: compare() expects \"key op value\" with op one of = != > < >= <=, got \"a ~ b\""
            )
        );
        assert_eq!(
            err("<if compare(= b)>\n</if>\n"),
            format!(
                "{f}:1: compare() expects \"key op value\" with op one of = != > < >= <=, got \"= b\""
            )
        );
    }

    #[test]
    fn unknown_tags_are_errors() {
        let f = "/etc/rumble/rumble.conf";
        assert_eq!(
            err("<ifdef x>\n"),
            format!(
                "{f}:1: unknown tag \"<ifdef x>\" (expected <if ...>, <else-if ...>, <else> or </if>)"
            )
        );
        assert_eq!(
            err("<if defined(a)>\n</endif>\n"),
            format!("{f}:2: unknown closing tag \"</endif>\" (expected </if>)")
        );
        assert_eq!(
            err("<if defined(a)\n"),
            format!(
                "{f}:1: unterminated tag \"<if defined(a)\" (expected <if ...>, <else-if ...>, <else> or </if>)"
            )
        );
        assert_eq!(
            err("<if defined(a)>\n<else x>\n</if>\n"),
            format!(
                "{f}:2: unknown tag \"<else x>\" (expected <if ...>, <else-if ...>, <else> or </if>)"
            )
        );
    }

    #[test]
    fn exists_resolves_relative_to_config_dir() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = match dir {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        std::fs::write(dir.path().join("present.txt"), "x").ok();
        std::fs::create_dir(dir.path().join("sub dir")).ok();
        let file = dir.path().join("rumble.conf");
        let text = "<if exists(present.txt)>\nA 1\n</if>\n<if exists(absent.txt)>\nB 1\n</if>\n\
                    <if exists(\"sub dir\")>\nC 1\n</if>\n";
        let absolute = format!(
            "<if exists({})>\nD 1\n</if>\n",
            dir.path().join("present.txt").display()
        );
        let cfg = parse_str(&format!("{text}{absolute}"), &file, Path::new("/x"))
            .map_err(|e| e.to_string());
        let cfg = match cfg {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(keys(&cfg), vec![("a", "1"), ("c", "1"), ("d", "1")]);
    }

    #[test]
    fn unbalanced_blocks_are_errors_with_lines() {
        let f = "/etc/rumble/rumble.conf";
        assert_eq!(err("A 1\n</if>\n"), format!("{f}:2: </if> without <if>"));
        assert_eq!(err("\n<else>\n"), format!("{f}:2: <else> without <if>"));
        assert_eq!(
            err("<else-if defined(a)>\n"),
            format!("{f}:1: <else-if> without <if>")
        );
        assert_eq!(
            err("<if defined(a)>\n<else>\n<else-if defined(b)>\n</if>\n"),
            format!("{f}:3: <else-if> after <else> (the <else> is on line 2)")
        );
        assert_eq!(
            err("<if defined(a)>\n<else>\n<else>\n</if>\n"),
            format!("{f}:3: second <else> for the <if> on line 1 (first <else> on line 2)")
        );
        assert_eq!(
            err("<if defined(a)>\n<if defined(b)>\n</if>\nA 1\n"),
            format!("{f}:1: <if> is never closed (missing </if>)")
        );
        assert_eq!(
            err("<if defined(a)>\n</if>\n<if defined(b)>\n  <if defined(c)>\n"),
            format!("{f}:4: <if> is never closed (missing </if>)")
        );
        assert_eq!(
            err("<if defined(a)>\n</if>\n</if>\n"),
            format!("{f}:3: </if> without <if>")
        );
    }

    #[test]
    fn long_lines_are_rejected() {
        let long = format!("Key {}\n", "x".repeat(MAX_LINE));
        assert_eq!(
            err(&format!("A 1\n{long}")),
            "/etc/rumble/rumble.conf:2: line is longer than 65536 bytes"
        );
        let fits = format!("Key {}\n", "x".repeat(MAX_LINE - 4));
        assert_eq!(ok(&fits).get("key").map(str::len), Some(MAX_LINE - 4));
    }

    #[test]
    fn non_utf8_is_rejected_with_line() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let file = dir.path().join("rumble.conf");
        std::fs::write(&file, b"ServerName a\n# ok\nServerName \xff\xfe\n").ok();
        let e = parse_file(&file, Path::new("/x")).map(|c| c.entries);
        let msg = e.map_err(|e| e.to_string());
        assert_eq!(
            msg,
            Err(format!("{}:3: line is not valid UTF-8", file.display()))
        );
    }

    #[test]
    fn parse_file_reads_and_reports_missing_files() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let file = dir.path().join("rumble.conf");
        std::fs::write(&file, "ServerName mail.example\n").ok();
        let cfg = parse_file(&file, Path::new("/opt/x")).map_err(|e| e.to_string());
        let cfg = match cfg {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(cfg.get("servername"), Some("mail.example"));
        assert_eq!(
            cfg.get("config-dir").map(String::from),
            Some(dir.path().display().to_string())
        );
        assert_eq!(cfg.file, file);

        let missing = dir.path().join("missing.conf");
        let e = match parse_file(&missing, Path::new("/x")) {
            Ok(_) => panic!("no error"),
            Err(e) => e,
        };
        assert!(matches!(e.kind, ErrorKind::Read(_)));
        assert_eq!(e.line, None);
        assert!(
            e.to_string().starts_with(&format!(
                "{}: cannot read the config file: ",
                missing.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn error_display_forms() {
        let e = ConfigError::at(
            Path::new("rumble.conf"),
            12,
            ErrorKind::BadValue {
                directive: "SMTPPort".into(),
                value: "abc".into(),
                expected: "a port number 1-65535".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "rumble.conf:12: SMTPPort: expected a port number 1-65535, got \"abc\""
        );
        let e = ConfigError::whole_file(Path::new("rumble.conf"), ErrorKind::LineTooLong);
        assert_eq!(
            e.to_string(),
            "rumble.conf: line is longer than 65536 bytes"
        );
    }
}
