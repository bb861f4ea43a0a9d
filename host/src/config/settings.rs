//! Typed, validated settings built from a [`RawConfig`].
//!
//! Rules: unknown directives are warnings (a typo should not stop a mail server that
//! was running fine, but the operator must see it); a known directive with a bad value
//! is an error naming file, line, directive and value (guessing would hide a mistake).
//! For directives that may appear once, the first occurrence wins, as in the original;
//! later ones get a warning, since "a later line overrides" is the usual expectation.
//!
//! Relative paths (DataFolder, StorageFolder, CacheFolder, TLSCertificate, TLSKey,
//! LoadScript, LoadModule and `files.*` grants) are resolved against the config file's
//! folder, not the executable's folder as in the original.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::grants::{ALL_SERVICES, CapabilityError, GrantSet, try_parse_capability};
use super::parse::{ConfigError, Entry, ErrorKind, RawConfig};
use crate::hooks::Protocol;

/// A non-fatal problem in the config. Displays as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and what happens instead.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// `DatabaseEngine`: which store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseEngine {
    /// Embedded SQLite in `DataFolder` (the default).
    Sqlite,
    /// MySQL, using the `MySQL*` settings.
    Mysql,
    /// PostgreSQL, using the `PostgreSQL*` settings (several nodes may share it).
    Postgresql,
}

/// `MessageStore`: where message bodies are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStore {
    Folder,
    Database,
}

/// A password from rumble.conf: shown as `<redacted>` by `{:?}`, so it
/// cannot reach a log through a settings dump.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The password itself, for the one place that sends it (the connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `PostgreSQLHost`, `PostgreSQLPort`, `PostgreSQLUser`, `PostgreSQLPass`,
/// `PostgreSQLDB`, `PostgreSQLConnections`: the database of `DatabaseEngine
/// postgresql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// `PostgreSQLHost`, default `localhost`; a path (`/run/postgresql`) is
    /// a folder holding the server's Unix socket.
    pub host: String,
    /// `PostgreSQLPort`, default 5432.
    pub port: u16,
    /// `PostgreSQLUser`, default `rumble`.
    pub user: String,
    /// `PostgreSQLPass`, default empty (peer or trust authentication).
    pub password: Secret,
    /// `PostgreSQLDB`, default `rumble`.
    pub database: String,
    /// `PostgreSQLConnections`: pool size 1-1000, default 20.
    pub connections: u32,
}

/// `MySQLHost`, `MySQLPort`, `MySQLUser`, `MySQLPass`, `MySQLDB`, `MySQLConnections`.
/// Kept even when SQLite is used, so a config round-trips.
#[derive(Clone, PartialEq, Eq)]
pub struct MySqlSettings {
    /// `MySQLHost`, default `localhost`.
    pub host: String,
    /// `MySQLPort`, default 3306.
    pub port: u16,
    /// `MySQLUser`, default `root`.
    pub user: String,
    /// `MySQLPass`, default empty (the sample's `somepassword` is not a sane default).
    pub password: String,
    /// `MySQLDB`, default `rumble`.
    pub database: String,
    /// `MySQLConnections`: pool size 1-1000, default 20.
    pub connections: u32,
}

/// Hides the password so settings can be logged with `{:?}`.
impl fmt::Debug for MySqlSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("connections", &self.connections)
            .finish()
    }
}

/// One protocol listener: `Enable<X> 0|1` and `<X>Port N`. All are off by default,
/// as in the original (an absent `Enable*` means disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub enabled: bool,
    pub port: u16,
}

/// A `LoadModule` line. Native modules are not supported; they are kept so the
/// caller can report them, and each one produces a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub path_written: String,
    pub path: PathBuf,
    pub line: usize,
}

/// `MaxConnectionsPerIP` when the config does not say.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 50;
/// `MaxSMTPSessions`, `MaxPOP3Sessions`, `MaxIMAPSessions` when the config
/// does not say (IMAP clients keep several sessions each).
pub const DEFAULT_MAX_SMTP_SESSIONS: u32 = 250;
pub const DEFAULT_MAX_POP3_SESSIONS: u32 = 250;
pub const DEFAULT_MAX_IMAP_SESSIONS: u32 = 500;

/// Resource limits for one script's sandbox instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLimits {
    /// CPU budget per call into the script (`ScriptCPULimit`, default 1s).
    pub cpu: Duration,
    /// Memory per instance in bytes (`ScriptMemoryLimit`, default 64M, 8M-4G).
    pub memory: u64,
    /// Instances in the script's pool (`ScriptInstances`, default 8, 1-1024).
    pub instances: u32,
    /// Idle limit for a session served by a script (`ScriptSessionTimeout`, default 30s).
    pub session_timeout: Duration,
    /// How long the first read of a script session waits (`ScriptFirstReadTimeout`,
    /// default 10s): a client that sends nothing does not hold an instance for long.
    pub first_read: Duration,
    /// Files, directories and streams one instance may hold open (`ScriptOpenFiles`,
    /// default 16).
    pub open_files: u32,
    /// Calls one instance serves before a freshly loaded one replaces it
    /// (`ScriptCallsPerInstance`, default 1: every connection starts from the
    /// script's loaded state; more is the opt-in to keep globals between calls).
    pub calls: u32,
    /// CPU the script may use across all its calls, in thousandths of a core
    /// (`ScriptCPUShare`, default 0.5 = 500).
    pub cpu_share_permille: u32,
    /// Log lines per second the script may write (`ScriptLogRate`, default 50).
    pub log_rate: u32,
    /// What a hook that fails (error, stopped, no instance in time) answers
    /// (`ScriptOnError continue|tempfail`, default continue).
    pub on_error: OnError,
    /// How long a hook waits for a free instance (`ScriptHookWait`, default 5s).
    pub hook_wait: Duration,
    /// Most bytes of a message `msg:body()` hands a hook (`ScriptBodyLimit`, default 1M).
    pub body_limit: u64,
    /// Bytes (keys plus values) the script's `kv` store may hold
    /// (`ScriptKVBytes`, default 1M, 1K-1G).
    pub kv_bytes: u64,
}

/// A failed hook's fail-safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// As if the hook had said "okay": mail keeps flowing.
    Continue,
    /// The protocol's temporary failure: the client retries later.
    TempFail,
}

impl Default for ScriptLimits {
    fn default() -> ScriptLimits {
        ScriptLimits {
            cpu: Duration::from_secs(1),
            memory: 64 * MIB,
            instances: 8,
            session_timeout: Duration::from_secs(30),
            first_read: Duration::from_secs(10),
            open_files: 16,
            calls: 1,
            cpu_share_permille: 500,
            log_rate: 50,
            on_error: OnError::Continue,
            hook_wait: Duration::from_secs(5),
            body_limit: MIB,
            kv_bytes: MIB,
        }
    }
}

/// A `LoadScript` with its grants and limits resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    /// `LoadScript PATH NAME`'s NAME, else the file stem of the path
    /// (`greylist` for `plugins/greylist/greylist.lua`); unique.
    pub name: String,
    /// The path as written in the config (grants may name the script by it).
    pub path_written: String,
    /// The path resolved against the config folder.
    pub path: PathBuf,
    /// Line of the `LoadScript`.
    pub line: usize,
    /// What the script may do (default: nothing).
    pub grants: GrantSet,
    /// Defaults from `Script*` directives, then `ScriptLimit` overrides.
    pub limits: ScriptLimits,
}

/// Every directive of `rumble.conf`, typed. See [`from_raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Folder of the config file (base of relative paths).
    pub config_dir: PathBuf,
    /// `ServerName`: greeting and Received host name; default `localhost`.
    pub server_name: String,
    /// `RunAs`: user to switch to after binding; empty or absent = no switch.
    pub run_as: Option<String>,
    /// `RunAsGroup`: group to switch to (before RunAs); empty or absent = no switch.
    pub run_as_group: Option<String>,
    /// `DatabaseEngine`: sqlite (default), mysql or postgresql.
    pub database_engine: DatabaseEngine,
    /// `MessageStore`: where message bodies are kept, `folder`
    /// (StorageFolder; the default with SQLite) or `database` (the default
    /// with PostgreSQL, so nodes need no shared folder). None: the default.
    pub message_store: Option<MessageStore>,
    /// `DataFolder`: SQLite files; default `db`, resolved.
    pub data_folder: PathBuf,
    /// `MySQL*` connection settings.
    pub mysql: MySqlSettings,
    /// `PostgreSQL*` connection settings.
    pub postgresql: PostgresSettings,
    /// `StorageFolder`: spool and default letter store; default `storage`, resolved.
    pub storage_folder: PathBuf,
    /// `ForceIPv4`: listen and connect over IPv4 only.
    pub force_ipv4: bool,
    /// `BindToAddress`: listen address of every service; default `0.0.0.0`.
    pub bind_to_address: IpAddr,
    /// `OutgoingBindToAddress`: source address for outbound SMTP; absent = any.
    pub outgoing_bind_to_address: Option<IpAddr>,
    /// `EnableSMTP`/`SMTPPort` (25): MX service.
    pub smtp: Listener,
    /// `EnableSubmission`/`SubmissionPort` (587): authenticated submission with STARTTLS.
    pub submission: Listener,
    /// `EnableSMTPS`/`SMTPSPort` (465): submission over implicit TLS.
    pub smtps: Listener,
    /// `EnablePOP3`/`POP3Port` (110).
    pub pop3: Listener,
    /// `EnablePOP3S`/`POP3SPort` (995): POP3 over implicit TLS.
    pub pop3s: Listener,
    /// `EnableIMAP4`/`IMAP4Port` (143).
    pub imap4: Listener,
    /// `EnableIMAPS`/`IMAPSPort` (993): IMAP over implicit TLS.
    pub imaps: Listener,
    /// `MessageSizeLimit` in bytes (default 104857600); 0 = unlimited.
    pub message_size_limit: u64,
    /// `EnforceFQDN`: HELO/EHLO must name a fully-qualified host.
    pub enforce_fqdn: bool,
    /// `MaxConnectionsPerIP`: SMTP/POP3/IMAP sessions one client address may
    /// hold at once, per service; default 50, 0 = no limit.
    pub max_connections_per_ip: u32,
    /// `EnforceSenderLogin` (default on): an authenticated client may only
    /// send as its own address, an alias that reaches it, or `<>`.
    pub enforce_sender_login: bool,
    /// `SMTPTimeout`: how long an SMTP client may take to send a command
    /// line or the next block of a message; default 300 s (RFC 5321
    /// §4.5.3.2's minimum). Lower it only to shed slow clients (or in tests).
    pub smtp_timeout: Duration,
    /// `POP3Timeout`: idle time before a POP3 session is closed; default
    /// 600 s (RFC 1939 §3's minimum).
    pub pop3_timeout: Duration,
    /// `IMAPTimeout`: idle time before an IMAP session is logged out;
    /// default 1800 s (RFC 3501 §5.4's minimum).
    pub imap_timeout: Duration,
    /// `PreLoginTimeout`: the read timeout before SMTP's HELO/EHLO and
    /// before a POP3/IMAP login, when shorter than the protocol's own;
    /// default 30 s. Idle strangers cannot hold session slots for long.
    pub pre_login_timeout: Duration,
    /// `MaxSMTPSessions` (default 250), `MaxPOP3Sessions` (250),
    /// `MaxIMAPSessions` (500): sessions per listener at once; past the
    /// cap a client is told "too many connections" at once.
    pub max_smtp_sessions: u32,
    pub max_pop3_sessions: u32,
    pub max_imap_sessions: u32,
    /// `IgnoreMX`: MX host names to skip, lower-cased.
    pub ignore_mx: Vec<String>,
    /// `DeliveryAttempts`: tries before bouncing; default 5 (0 also means 5).
    pub delivery_attempts: u32,
    /// `RetryInterval`: wait after a 4xx; default 360s (0 also means 360s).
    pub retry_interval: Duration,
    /// `MaximalQueueLifetime`: how long mail held by a failure of our own
    /// storage stays queued before it bounces; default 5 days (Postfix's
    /// maximal_queue_lifetime).
    pub maximal_queue_lifetime: Duration,
    /// `QueueLeaseTime`: how long a claimed queue row stays its node's
    /// without renewal (10 s-1 h, default 2 min). The mailman renews the
    /// leases of rows it works on; a node that dies loses its rows to the
    /// others this long after.
    pub queue_lease_time: Duration,
    /// `BlockOutgoingMail`: refuse relaying to non-local domains.
    pub block_outgoing_mail: bool,
    /// `DNSServer`: the one DNS server the mailman asks (`ip` or `ip:port`);
    /// absent = the system resolver. Tests point it at their own answers.
    pub dns_server: Option<std::net::SocketAddr>,
    /// `OutgoingSMTPPort`: the port remote MX hosts are contacted on; default 25.
    pub outgoing_smtp_port: u16,
    /// `TLSCertificate`: PEM certificate chain, resolved; needed by STARTTLS and *S ports.
    pub tls_certificate: Option<PathBuf>,
    /// `TLSKey`: PEM private key, resolved (never shown by `config.read` without naming it).
    pub tls_key: Option<PathBuf>,
    /// `AllowPlaintextAuth`: allow AUTH/LOGIN/USER before TLS; default off.
    pub allow_plaintext_auth: bool,
    /// `CacheFolder`: compiled script cache; default `<DataFolder>/cache`.
    pub cache_folder: PathBuf,
    /// `LogLines`: size of the in-memory log ring; default 500, minimum 200.
    pub log_lines: usize,
    /// `ScriptCPULimit`, `ScriptMemoryLimit`, `ScriptInstances`, `ScriptSessionTimeout`.
    pub script_defaults: ScriptLimits,
    /// `LoadScript` lines in file order, with `Grant` and `ScriptLimit` applied.
    pub scripts: Vec<ScriptSpec>,
    /// `LoadModule` lines in file order (not supported; see [`ModuleSpec`]).
    pub modules: Vec<ModuleSpec>,
}

impl Settings {
    /// The script with this name or written path.
    pub fn script(&self, name_or_path: &str) -> Option<&ScriptSpec> {
        self.scripts
            .iter()
            .find(|s| s.name == name_or_path || s.path_written == name_or_path)
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Every known directive, in canonical spelling (used in messages).
const KNOWN: &[&str] = &[
    "ServerName",
    "RunAs",
    "RunAsGroup",
    "DatabaseEngine",
    "MessageStore",
    "DataFolder",
    "MySQLHost",
    "MySQLPort",
    "MySQLUser",
    "MySQLPass",
    "MySQLDB",
    "MySQLConnections",
    "PostgreSQLHost",
    "PostgreSQLPort",
    "PostgreSQLUser",
    "PostgreSQLPass",
    "PostgreSQLDB",
    "PostgreSQLConnections",
    "StorageFolder",
    "ForceIPv4",
    "BindToAddress",
    "OutgoingBindToAddress",
    "EnableSMTP",
    "SMTPPort",
    "MessageSizeLimit",
    "EnforceFQDN",
    "EnablePOP3",
    "POP3Port",
    "EnableIMAP4",
    "IMAP4Port",
    "IgnoreMX",
    "DeliveryAttempts",
    "RetryInterval",
    "MaximalQueueLifetime",
    "QueueLeaseTime",
    "BlockOutgoingMail",
    "LoadScript",
    "LoadModule",
    "Comment",
    "EnableSubmission",
    "SubmissionPort",
    "EnableSMTPS",
    "SMTPSPort",
    "EnablePOP3S",
    "POP3SPort",
    "EnableIMAPS",
    "IMAPSPort",
    "TLSCertificate",
    "TLSKey",
    "AllowPlaintextAuth",
    "CacheFolder",
    "LogLines",
    "ScriptCPULimit",
    "ScriptMemoryLimit",
    "ScriptInstances",
    "ScriptSessionTimeout",
    "ScriptFirstReadTimeout",
    "ScriptOpenFiles",
    "ScriptCallsPerInstance",
    "ScriptCPUShare",
    "ScriptLogRate",
    "ScriptOnError",
    "ScriptHookWait",
    "ScriptBodyLimit",
    "ScriptKVBytes",
    "ScriptLimit",
    "Grant",
    "DNSServer",
    "OutgoingSMTPPort",
    "SMTPTimeout",
    "POP3Timeout",
    "IMAPTimeout",
    "PreLoginTimeout",
    "EnforceSenderLogin",
    "MaxConnectionsPerIP",
    "MaxSMTPSessions",
    "MaxPOP3Sessions",
    "MaxIMAPSessions",
];

/// Directives that may repeat; every occurrence counts.
const REPEATABLE: &[&str] = &["LoadScript", "LoadModule", "Grant", "ScriptLimit"];

const PORT: &str = "a port number 1-65535";
const BOOL: &str = "0 or 1 (or yes/no, true/false, on/off)";
const PATH: &str = "a path";

/// Unit of a bare number in [`parse_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Seconds,
}

/// Parses `500ms`, `2s`, `5m`/`5min`, `1h`, or a bare number in `bare` units.
/// Whole numbers only; the unit is case-insensitive and may follow a space.
pub fn parse_duration(text: &str, bare: TimeUnit) -> Option<Duration> {
    let (n, unit) = split_number(text)?;
    let factor_ms: u64 = match unit.as_str() {
        "" => match bare {
            TimeUnit::Millis => 1,
            TimeUnit::Seconds => 1000,
        },
        "ms" => 1,
        "s" | "sec" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor_ms).map(Duration::from_millis)
}

/// Parses a byte size: `65536`, `512K`, `32M`, `1G` (binary multiples; `KB`/`KiB`
/// spellings and lower case are accepted too).
pub fn parse_size(text: &str) -> Option<u64> {
    let (n, unit) = split_number(text)?;
    let factor = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => KIB,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => GIB,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Splits leading digits from a lower-cased unit.
fn split_number(text: &str) -> Option<(u64, String)> {
    let text = text.trim();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n = text[..end].parse::<u64>().ok()?;
    Some((n, text[end..].trim().to_ascii_lowercase()))
}

/// Accepts 0/1 and the usual words, case-insensitively.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn parse_port(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|p| *p > 0)
}

/// Parses a whole number in `range`.
fn in_range<T: std::str::FromStr + PartialOrd>(
    text: &str,
    range: std::ops::RangeInclusive<T>,
) -> Option<T> {
    text.parse::<T>().ok().filter(|n| range.contains(n))
}

/// Looks up directives and turns bad values into errors.
struct Reader<'a> {
    raw: &'a RawConfig,
}

impl<'a> Reader<'a> {
    /// First file entry for a directive (built-ins are not directives).
    fn entry(&self, name: &str) -> Option<&'a Entry> {
        self.raw.get_all(name).next()
    }

    fn bad(&self, e: &Entry, directive: &str, expected: &str) -> ConfigError {
        self.bad_value(e.line, directive, &e.value, expected)
    }

    fn bad_value(&self, line: usize, directive: &str, value: &str, expected: &str) -> ConfigError {
        ConfigError::at(
            &self.raw.file,
            line,
            ErrorKind::BadValue {
                directive: directive.to_string(),
                value: value.to_string(),
                expected: expected.to_string(),
            },
        )
    }

    fn invalid(&self, line: usize, directive: &str, message: String) -> ConfigError {
        ConfigError::at(
            &self.raw.file,
            line,
            ErrorKind::Invalid {
                directive: directive.to_string(),
                message,
            },
        )
    }

    /// The parsed value of `name`, `None` when absent, an error when `parse` fails.
    fn parsed<T>(
        &self,
        name: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.entry(name) {
            None => Ok(None),
            Some(e) => parse(&e.value)
                .map(Some)
                .ok_or_else(|| self.bad(e, name, expected)),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, ConfigError> {
        Ok(self.parsed(name, BOOL, parse_bool)?.unwrap_or(false))
    }

    fn port(&self, name: &str, default: u16) -> Result<u16, ConfigError> {
        Ok(self.parsed(name, PORT, parse_port)?.unwrap_or(default))
    }

    /// A free-text value; absent gives `default`.
    fn text(&self, name: &str, default: &str) -> String {
        self.entry(name)
            .map_or(default, |e| e.value.as_str())
            .to_string()
    }

    /// A non-empty text value without whitespace.
    fn word(&self, name: &str, expected: &str) -> Result<Option<String>, ConfigError> {
        self.parsed(name, expected, |v| {
            (!v.is_empty() && !v.contains(char::is_whitespace)).then(|| v.to_string())
        })
    }

    /// A user or group name; empty means "not set".
    fn optional_name(&self, name: &str) -> Option<String> {
        self.entry(name)
            .map(|e| e.value.clone())
            .filter(|v| !v.is_empty())
    }

    /// A non-empty path, resolved against the config folder.
    fn path(&self, name: &str) -> Result<Option<PathBuf>, ConfigError> {
        self.parsed(name, PATH, |v| (!v.is_empty()).then(|| self.raw.resolve(v)))
    }

    fn line_of(&self, name: &str) -> Option<usize> {
        self.entry(name).map(|e| e.line)
    }
}

/// Builds [`Settings`] from a parsed file; see the module docs for the rules.
///
/// # Errors
/// The first known directive (in the order the fields are read) with a bad value, a
/// malformed `Grant`/`ScriptLimit`, duplicate script names, listener port clashes or
/// incomplete TLS settings.
pub fn from_raw(raw: &RawConfig) -> Result<(Settings, Vec<Warning>), ConfigError> {
    let r = Reader { raw };
    let mut warnings = check_directives(raw);
    let [smtp, submission, smtps, pop3, pop3s, imap4, imaps] = listeners(&r)?;
    let (tls_certificate, tls_key) = tls(&r)?;
    let data_folder = r.path("DataFolder")?.unwrap_or_else(|| raw.resolve("db"));
    let script_defaults = script_defaults(&r)?;
    let settings = Settings {
        config_dir: raw.config_dir(),
        server_name: server_name(&r)?,
        run_as: r.optional_name("RunAs"),
        run_as_group: r.optional_name("RunAsGroup"),
        database_engine: database_engine(&r)?,
        message_store: r.parsed("MessageStore", "folder or database", parse_message_store)?,
        cache_folder: r
            .path("CacheFolder")?
            .unwrap_or_else(|| data_folder.join("cache")),
        data_folder,
        mysql: mysql(&r)?,
        postgresql: postgresql(&r)?,
        storage_folder: r
            .path("StorageFolder")?
            .unwrap_or_else(|| raw.resolve("storage")),
        force_ipv4: r.flag("ForceIPv4")?,
        bind_to_address: ip(&r, "BindToAddress")?.unwrap_or(IpAddr::from([0, 0, 0, 0])),
        outgoing_bind_to_address: ip(&r, "OutgoingBindToAddress")?,
        smtp,
        submission,
        smtps,
        pop3,
        pop3s,
        imap4,
        imaps,
        message_size_limit: message_size_limit(&r)?,
        enforce_fqdn: r.flag("EnforceFQDN")?,
        smtp_timeout: timeout_secs(&r, "SMTPTimeout", 300)?,
        pop3_timeout: timeout_secs(&r, "POP3Timeout", 600)?,
        imap_timeout: timeout_secs(&r, "IMAPTimeout", 1800)?,
        pre_login_timeout: timeout_secs(&r, "PreLoginTimeout", 30)?,
        max_smtp_sessions: session_cap(&r, "MaxSMTPSessions", DEFAULT_MAX_SMTP_SESSIONS)?,
        max_pop3_sessions: session_cap(&r, "MaxPOP3Sessions", DEFAULT_MAX_POP3_SESSIONS)?,
        max_imap_sessions: session_cap(&r, "MaxIMAPSessions", DEFAULT_MAX_IMAP_SESSIONS)?,
        enforce_sender_login: r.parsed("EnforceSenderLogin", BOOL, parse_bool)?.unwrap_or(true),
        max_connections_per_ip: r.parsed("MaxConnectionsPerIP", "a number of sessions (0 = no limit)", |v| v.parse().ok())?.unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP),
        ignore_mx: ignore_mx(&r),
        delivery_attempts: delivery_attempts(&r)?,
        retry_interval: retry_interval(&r)?,
        maximal_queue_lifetime: maximal_queue_lifetime(&r)?,
        queue_lease_time: queue_lease_time(&r)?,
        block_outgoing_mail: r.flag("BlockOutgoingMail")?,
        dns_server: r.parsed("DNSServer", "an IP address with an optional port, such as 127.0.0.1:53", parse_dns_server)?,
        outgoing_smtp_port: r.port("OutgoingSMTPPort", 25)?,
        tls_certificate,
        tls_key,
        allow_plaintext_auth: r.flag("AllowPlaintextAuth")?,
        log_lines: log_lines(&r)?,
        scripts: scripts(&r, script_defaults, &mut warnings)?,
        modules: modules(raw, &mut warnings),
        script_defaults,
    };
    warnings.sort_by_key(|w| w.line);
    Ok((settings, warnings))
}

/// `ServerName`: one word; `localhost` when absent.
fn server_name(r: &Reader<'_>) -> Result<String, ConfigError> {
    let name = r.word("ServerName", "a host name without spaces")?;
    Ok(name.unwrap_or_else(|| "localhost".into()))
}

fn database_engine(r: &Reader<'_>) -> Result<DatabaseEngine, ConfigError> {
    let engine = r.parsed(
        "DatabaseEngine",
        "sqlite, mysql or postgresql",
        parse_engine,
    )?;
    Ok(engine.unwrap_or(DatabaseEngine::Sqlite))
}

fn parse_dns_server(v: &str) -> Option<std::net::SocketAddr> {
    v.parse().ok().or_else(|| v.parse::<IpAddr>().ok().map(|ip| std::net::SocketAddr::new(ip, 53)))
}

fn ip(r: &Reader<'_>, name: &str) -> Result<Option<IpAddr>, ConfigError> {
    r.parsed(name, "an IP address such as 0.0.0.0 or ::", |v| {
        v.parse().ok()
    })
}

/// `MessageSizeLimit`: bytes, size suffixes allowed; 0 = unlimited; default 100 MiB.
fn message_size_limit(r: &Reader<'_>) -> Result<u64, ConfigError> {
    let expected = "a size in bytes such as 104857600 or 100M (0 = unlimited)";
    Ok(r.parsed("MessageSizeLimit", expected, parse_size)?
        .unwrap_or(100 * MIB))
}

/// `IgnoreMX`: host names compare case-insensitively, so they are lower-cased.
fn ignore_mx(r: &Reader<'_>) -> Vec<String> {
    r.entry("IgnoreMX").map_or_else(Vec::new, |e| {
        e.value
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect()
    })
}

/// `DeliveryAttempts`: 0 means the default 5, as in the original.
fn delivery_attempts(r: &Reader<'_>) -> Result<u32, ConfigError> {
    let n = r.parsed("DeliveryAttempts", "a whole number (0 = 5)", |v| {
        v.parse::<u32>().ok()
    })?;
    Ok(n.filter(|n| *n > 0).unwrap_or(5))
}

/// `SMTPTimeout`, `POP3Timeout`, `IMAPTimeout`, `PreLoginTimeout`: whole seconds.
fn timeout_secs(r: &Reader<'_>, name: &str, default: u64) -> Result<Duration, ConfigError> {
    let secs = r.parsed(name, "a number of seconds from 1 to 3600", |v| {
        v.parse::<u64>().ok().filter(|s| (1..=3600).contains(s))
    })?;
    Ok(Duration::from_secs(secs.unwrap_or(default)))
}

/// `MaxSMTPSessions`, `MaxPOP3Sessions`, `MaxIMAPSessions`.
fn session_cap(r: &Reader<'_>, name: &str, default: u32) -> Result<u32, ConfigError> {
    let cap = r.parsed(name, "a number of sessions from 1 to 100000", |v| {
        v.parse::<u32>().ok().filter(|n| (1..=100_000).contains(n))
    })?;
    Ok(cap.unwrap_or(default))
}

/// `RetryInterval`: a bare number is seconds (original meaning); 0 means 360s.
fn retry_interval(r: &Reader<'_>) -> Result<Duration, ConfigError> {
    let expected = "a number of seconds or a duration such as 90s, 6m or 1h (0 = 360)";
    let d = r.parsed("RetryInterval", expected, |v| {
        parse_duration(v, TimeUnit::Seconds)
    })?;
    Ok(d.filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(360)))
}

/// `MaximalQueueLifetime`: a bare number is seconds, like RetryInterval;
/// 0 means the default, 5 days.
fn maximal_queue_lifetime(r: &Reader<'_>) -> Result<Duration, ConfigError> {
    let expected = "a number of seconds or a duration such as 12h or 5d (0 = 5d)";
    let d = r.parsed("MaximalQueueLifetime", expected, parse_lifetime)?;
    Ok(d.filter(|d| !d.is_zero()).unwrap_or(Duration::from_secs(5 * 86_400)))
}

fn queue_lease_time(r: &Reader<'_>) -> Result<Duration, ConfigError> {
    let expected = "a duration from 10s to 1h, such as 120 or 2m";
    let lease = r.parsed("QueueLeaseTime", expected, |v| {
        parse_duration(v, TimeUnit::Seconds).filter(|d| (Duration::from_secs(10)..=Duration::from_secs(3600)).contains(d))
    })?;
    Ok(lease.unwrap_or(Duration::from_secs(120)))
}

/// A duration in days (`5d`, Postfix's unit for queue lifetimes) or as
/// [`parse_duration`] reads it, bare numbers in seconds.
fn parse_lifetime(v: &str) -> Option<Duration> {
    match split_number(v)? {
        (days, unit) if unit == "d" => days.checked_mul(86_400).map(Duration::from_secs),
        _ => parse_duration(v, TimeUnit::Seconds),
    }
}

/// `LogLines`: at least 200; at most a million, to bound the ring's memory.
fn log_lines(r: &Reader<'_>) -> Result<usize, ConfigError> {
    let expected = "a number of lines 200-1000000";
    let n = r.parsed("LogLines", expected, |v| in_range(v, 200..=1_000_000usize))?;
    Ok(n.unwrap_or(500))
}

fn parse_message_store(v: &str) -> Option<MessageStore> {
    match v.to_ascii_lowercase().as_str() {
        "folder" => Some(MessageStore::Folder),
        "database" => Some(MessageStore::Database),
        _ => None,
    }
}

fn parse_engine(v: &str) -> Option<DatabaseEngine> {
    match v.to_ascii_lowercase().as_str() {
        "sqlite" => Some(DatabaseEngine::Sqlite),
        "mysql" => Some(DatabaseEngine::Mysql),
        "postgresql" => Some(DatabaseEngine::Postgresql),
        _ => None,
    }
}

fn warning(raw: &RawConfig, line: usize, message: String) -> Warning {
    Warning {
        file: raw.file.clone(),
        line,
        message,
    }
}

/// Warns about unknown directives and ignored repeats of single-use directives.
fn check_directives(raw: &RawConfig) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (i, e) in raw.entries.iter().enumerate() {
        let Some(name) = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(&e.key)) else {
            warnings.push(warning(
                raw,
                e.line,
                format!("unknown directive \"{}\" (ignored)", e.key),
            ));
            continue;
        };
        if REPEATABLE.contains(name) {
            continue;
        }
        if let Some(first) = raw.entries[..i].iter().find(|p| p.key == e.key) {
            let msg = format!(
                "{name} is repeated; the first one (line {}) is used and this one is ignored",
                first.line
            );
            warnings.push(warning(raw, e.line, msg));
        }
    }
    warnings
}

fn mysql(r: &Reader<'_>) -> Result<MySqlSettings, ConfigError> {
    Ok(MySqlSettings {
        host: r.text("MySQLHost", "localhost"),
        port: r.port("MySQLPort", 3306)?,
        user: r.text("MySQLUser", "root"),
        password: r.text("MySQLPass", ""),
        database: r.text("MySQLDB", "rumble"),
        connections: r
            .parsed("MySQLConnections", "a number of connections 1-1000", |v| {
                in_range(v, 1..=1000u32)
            })?
            .unwrap_or(20),
    })
}

fn postgresql(r: &Reader<'_>) -> Result<PostgresSettings, ConfigError> {
    Ok(PostgresSettings {
        host: r.text("PostgreSQLHost", "localhost"),
        port: r.port("PostgreSQLPort", 5432)?,
        user: r.text("PostgreSQLUser", "rumble"),
        password: Secret::new(r.text("PostgreSQLPass", "")),
        database: r.text("PostgreSQLDB", "rumble"),
        connections: r
            .parsed("PostgreSQLConnections", "a number of connections 1-1000", |v| in_range(v, 1..=1000u32))?
            .unwrap_or(20),
    })
}

/// Listener table: (service label, enable directive, port directive, default port).
const LISTENERS: [(&str, &str, &str, u16); 7] = [
    ("SMTP", "EnableSMTP", "SMTPPort", 25),
    ("submission", "EnableSubmission", "SubmissionPort", 587),
    ("SMTPS", "EnableSMTPS", "SMTPSPort", 465),
    ("POP3", "EnablePOP3", "POP3Port", 110),
    ("POP3S", "EnablePOP3S", "POP3SPort", 995),
    ("IMAP4", "EnableIMAP4", "IMAP4Port", 143),
    ("IMAPS", "EnableIMAPS", "IMAPSPort", 993),
];

/// Reads all listeners in [`LISTENERS`] order and rejects two enabled ones on one port.
fn listeners(r: &Reader<'_>) -> Result<[Listener; 7], ConfigError> {
    let mut out = [Listener {
        enabled: false,
        port: 0,
    }; 7];
    for (i, (_, enable, port, default)) in LISTENERS.iter().enumerate() {
        out[i] = Listener {
            enabled: r.flag(enable)?,
            port: r.port(port, *default)?,
        };
    }
    for j in 0..out.len() {
        if let Some(i) =
            (0..j).find(|&i| out[i].enabled && out[j].enabled && out[i].port == out[j].port)
        {
            return Err(port_clash(r, i, j, out[j].port));
        }
    }
    Ok(out)
}

/// Error for listener `j` reusing the port of listener `i`.
fn port_clash(r: &Reader<'_>, i: usize, j: usize, port: u16) -> ConfigError {
    let (label_i, _, port_i, _) = LISTENERS[i];
    let (_, enable_j, port_j, _) = LISTENERS[j];
    let line = r
        .line_of(port_j)
        .or_else(|| r.line_of(enable_j))
        .unwrap_or(0);
    let msg = format!(
        "port {port} is also used by {label_i} ({port_i}); each enabled service needs its own port"
    );
    r.invalid(line, port_j, msg)
}

/// `TLSCertificate` and `TLSKey` come as a pair. Without them the server
/// generates a self-signed certificate on first start (see `tls.rs`).
fn tls(r: &Reader<'_>) -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
    let cert = r.path("TLSCertificate")?;
    let key = r.path("TLSKey")?;
    match (
        &cert,
        &key,
        r.line_of("TLSCertificate"),
        r.line_of("TLSKey"),
    ) {
        (Some(_), None, Some(line), _) => {
            return Err(r.invalid(
                line,
                "TLSCertificate",
                "TLSKey is missing; both are needed".into(),
            ));
        }
        (None, Some(_), _, Some(line)) => {
            return Err(r.invalid(
                line,
                "TLSKey",
                "TLSCertificate is missing; both are needed".into(),
            ));
        }
        _ => {}
    }
    Ok((cert, key))
}

/// The script limits, as named in `ScriptLimit` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LimitKind {
    Cpu,
    Memory,
    Instances,
    Timeout,
    FirstRead,
    Files,
    Calls,
    Share,
    LogRate,
    OnError,
    HookWait,
    Body,
    KvBytes,
}

impl LimitKind {
    const ALL: [LimitKind; 13] = [
        LimitKind::Cpu,
        LimitKind::Memory,
        LimitKind::Instances,
        LimitKind::Timeout,
        LimitKind::FirstRead,
        LimitKind::Files,
        LimitKind::Calls,
        LimitKind::Share,
        LimitKind::LogRate,
        LimitKind::OnError,
        LimitKind::HookWait,
        LimitKind::Body,
        LimitKind::KvBytes,
    ];

    fn word(self) -> &'static str {
        match self {
            LimitKind::Cpu => "cpu",
            LimitKind::Memory => "memory",
            LimitKind::Instances => "instances",
            LimitKind::Timeout => "timeout",
            LimitKind::FirstRead => "first-read",
            LimitKind::Files => "files",
            LimitKind::Calls => "calls",
            LimitKind::Share => "share",
            LimitKind::LogRate => "log-rate",
            LimitKind::OnError => "onerror",
            LimitKind::HookWait => "hook-wait",
            LimitKind::Body => "body",
            LimitKind::KvBytes => "kvbytes",
        }
    }

    /// The global directive that sets this limit's default.
    fn directive(self) -> &'static str {
        match self {
            LimitKind::Cpu => "ScriptCPULimit",
            LimitKind::Memory => "ScriptMemoryLimit",
            LimitKind::Instances => "ScriptInstances",
            LimitKind::Timeout => "ScriptSessionTimeout",
            LimitKind::FirstRead => "ScriptFirstReadTimeout",
            LimitKind::Files => "ScriptOpenFiles",
            LimitKind::Calls => "ScriptCallsPerInstance",
            LimitKind::Share => "ScriptCPUShare",
            LimitKind::LogRate => "ScriptLogRate",
            LimitKind::OnError => "ScriptOnError",
            LimitKind::HookWait => "ScriptHookWait",
            LimitKind::Body => "ScriptBodyLimit",
            LimitKind::KvBytes => "ScriptKVBytes",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            LimitKind::Cpu => "a duration such as 500ms, 2s or 1500 (milliseconds), from 1ms to 1h",
            LimitKind::Memory => "a size such as 65536, 512K, 32M or 1G, from 8M to 4G",
            LimitKind::Instances => "a number of instances 1-1024",
            LimitKind::Timeout | LimitKind::FirstRead => {
                "a duration such as 30s, 5m or 30000 (milliseconds), from 1ms to 24h"
            }
            LimitKind::Files => "a number of open files 1-1024",
            LimitKind::Calls => "a number of calls per instance 1-1000000000",
            LimitKind::Share => "a share of one core such as 0.5, 2 or 50%, from 0.01 to 64",
            LimitKind::LogRate => "a number of lines per second 1-100000",
            LimitKind::OnError => "continue or tempfail",
            LimitKind::HookWait => "a duration such as 500ms, 5s or 5000 (milliseconds), from 1ms to 10m",
            LimitKind::Body => "a size such as 65536, 512K or 8M, from 0 to 1G",
            LimitKind::KvBytes => "a size such as 65536, 512K or 1M, from 1K to 1G",
        }
    }

    fn from_word(word: &str) -> Option<LimitKind> {
        LimitKind::ALL
            .into_iter()
            .find(|k| k.word().eq_ignore_ascii_case(word))
    }

    /// Sets this limit in `limits` from `text`; false when `text` is not valid.
    fn apply(self, limits: &mut ScriptLimits, text: &str) -> bool {
        let ms = |max: Duration| {
            parse_duration(text, TimeUnit::Millis).filter(|d| !d.is_zero() && *d <= max)
        };
        let day = Duration::from_secs(86_400);
        match self {
            LimitKind::Cpu => ms(Duration::from_secs(3600)).map(|d| limits.cpu = d).is_some(),
            LimitKind::Timeout => ms(day).map(|d| limits.session_timeout = d).is_some(),
            LimitKind::FirstRead => ms(day).map(|d| limits.first_read = d).is_some(),
            LimitKind::Memory => parse_size(text)
                .filter(|n| (8 * MIB..=4 * GIB).contains(n))
                .map(|n| limits.memory = n)
                .is_some(),
            LimitKind::Instances => in_range(text, 1..=1024u32).map(|n| limits.instances = n).is_some(),
            LimitKind::Files => in_range(text, 1..=1024u32).map(|n| limits.open_files = n).is_some(),
            LimitKind::Calls => in_range(text, 1..=1_000_000_000u32).map(|n| limits.calls = n).is_some(),
            LimitKind::Share => parse_share(text).map(|n| limits.cpu_share_permille = n).is_some(),
            LimitKind::LogRate => in_range(text, 1..=100_000u32).map(|n| limits.log_rate = n).is_some(),
            LimitKind::OnError => parse_on_error(text).map(|v| limits.on_error = v).is_some(),
            LimitKind::HookWait => ms(Duration::from_secs(600)).map(|d| limits.hook_wait = d).is_some(),
            LimitKind::Body => parse_size(text).filter(|n| *n <= GIB).map(|n| limits.body_limit = n).is_some(),
            LimitKind::KvBytes => parse_size(text)
                .filter(|n| (KIB..=GIB).contains(n))
                .map(|n| limits.kv_bytes = n)
                .is_some(),
        }
    }
}

fn parse_on_error(text: &str) -> Option<OnError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "continue" => Some(OnError::Continue),
        "tempfail" => Some(OnError::TempFail),
        _ => None,
    }
}

/// `0.5`, `2`, `50%` -> thousandths of a core, from 10 (1%) to 64 cores.
fn parse_share(text: &str) -> Option<u32> {
    let text = text.trim();
    let cores = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    let permille = (cores * 1000.0).round();
    (cores.is_finite() && (10.0..=64_000.0).contains(&permille)).then_some(permille as u32)
}

/// The global `Script*` limit directives (see [`LimitKind::directive`]).
fn script_defaults(r: &Reader<'_>) -> Result<ScriptLimits, ConfigError> {
    let mut limits = ScriptLimits::default();
    for kind in LimitKind::ALL {
        if let Some(e) = r.entry(kind.directive())
            && !kind.apply(&mut limits, &e.value)
        {
            return Err(r.bad(e, kind.directive(), kind.expected()));
        }
    }
    Ok(limits)
}

/// `LoadScript` lines, then `Grant` and `ScriptLimit` applied to them.
fn scripts(
    r: &Reader<'_>,
    defaults: ScriptLimits,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ScriptSpec>, ConfigError> {
    let mut specs: Vec<ScriptSpec> = Vec::new();
    for e in r.raw.get_all("LoadScript") {
        let spec = script_spec(r, e, defaults)?;
        if let Some(first) = specs.iter().find(|s| s.name == spec.name) {
            return Err(ConfigError::at(
                &r.raw.file,
                e.line,
                ErrorKind::DuplicateScript {
                    name: spec.name,
                    path: spec.path_written,
                    first_line: first.line,
                    first_path: first.path_written.clone(),
                },
            ));
        }
        specs.push(spec);
    }
    apply_grants(r, &mut specs, warnings)?;
    warnings.extend(unknown_services(r.raw, &specs));
    apply_limits(r, &mut specs, warnings)?;
    Ok(specs)
}

/// One `LoadScript PATH [NAME]` line; without NAME the name is the file
/// stem. A NAME lets two tenants' `filter.lua` coexist.
fn script_spec(r: &Reader<'_>, e: &Entry, limits: ScriptLimits) -> Result<ScriptSpec, ConfigError> {
    const EXPECTED: &str =
        "a script path such as plugins/greylist/greylist.lua (in double quotes if it has spaces), optionally followed by a name";
    let Some((path, words)) = script_path(&e.value) else { return Err(r.bad(e, "LoadScript", EXPECTED)) };
    let (path, name) = match words.as_slice() {
        [] => (path, file_stem(path)),
        [name] => (path, Some(*name)),
        _ => return Err(r.bad(e, "LoadScript", EXPECTED)),
    };
    let Some(name) = name.filter(|_| file_stem(path).is_some()) else {
        return Err(r.bad(e, "LoadScript", EXPECTED));
    };
    if !is_script_name(name) {
        let msg = format!(
            "script name \"{name}\" may hold only letters, digits, '-', '_' and '.' (give one: LoadScript PATH NAME)"
        );
        return Err(r.invalid(e.line, "LoadScript", msg));
    }
    Ok(ScriptSpec {
        name: name.to_string(),
        path_written: path.to_string(),
        path: r.raw.resolve(path),
        line: e.line,
        grants: GrantSet::default(),
        limits,
    })
}

/// `LoadScript`'s path (the first word, or a double-quoted path that may
/// hold spaces) and the words after it.
fn script_path(value: &str) -> Option<(&str, Vec<&str>)> {
    let value = value.trim();
    let (path, rest) = match value.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => value.split_once(char::is_whitespace).unwrap_or((value, "")),
    };
    (!path.is_empty()).then(|| (path, rest.split_whitespace().collect()))
}

fn file_stem(path: &str) -> Option<&str> {
    Path::new(path).file_stem().and_then(|s| s.to_str()).filter(|s| !s.is_empty())
}

/// A directive's spelling in the documentation (`MaxConnectionsPerIP`)
/// for a key as parsed (lower-case); None for an unknown key.
pub fn directive_name(key: &str) -> Option<&'static str> {
    KNOWN.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

/// Script names appear in logs, service names (`name:port`) and `Grant`
/// lines, so they are kept to a plain alphabet.
pub fn is_script_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Index of the script a `Grant`/`ScriptLimit` names, by name or written path.
fn find_script(specs: &[ScriptSpec], which: &str) -> Option<usize> {
    specs
        .iter()
        .position(|s| s.name == which || s.path_written == which)
}

/// `Grant <script> <capability> [args...]`. Capability syntax is checked even when the
/// script is unknown, so a typo does not hide until the script is enabled.
fn apply_grants(
    r: &Reader<'_>,
    specs: &mut [ScriptSpec],
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let base = r.raw.config_dir();
    for e in r.raw.get_all("Grant") {
        let words: Vec<&str> = e.value.split_whitespace().collect();
        let [script, cap_words @ ..] = words.as_slice() else {
            return Err(r.invalid(
                e.line,
                "Grant",
                "expected \"Grant <script> <capability> [args...]\"".into(),
            ));
        };
        let cap = match try_parse_capability(cap_words, &base) {
            Ok(cap) => Some(cap),
            Err(CapabilityError::Unknown(name)) => {
                let msg = format!(
                    "unknown capability \"{name}\" for script \"{script}\" (ignored: default deny)"
                );
                warnings.push(warning(r.raw, e.line, msg));
                None
            }
            Err(CapabilityError::Missing) => {
                return Err(r.invalid(
                    e.line,
                    "Grant",
                    "expected \"Grant <script> <capability> [args...]\"".into(),
                ));
            }
            Err(CapabilityError::Invalid(msg)) => return Err(r.invalid(e.line, "Grant", msg)),
        };
        match (find_script(specs, script), cap) {
            (None, _) => warnings.push(unknown_script(r.raw, e.line, "Grant", script)),
            (Some(i), Some(cap)) => specs[i].grants.add(cap),
            (Some(_), None) => {}
        }
    }
    Ok(())
}

/// `services.control` names no service will carry: a typo, or a script's
/// service (`NAME:PORT`) it may not create. A warning: the grant opens
/// calls but starts nothing, so a server that ran fine keeps running.
fn unknown_services(raw: &RawConfig, specs: &[ScriptSpec]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for e in raw.get_all("Grant") {
        let words: Vec<&str> = e.value.split_whitespace().collect();
        let [script, cap, services @ ..] = words.as_slice() else { continue };
        if !cap.eq_ignore_ascii_case("services.control") {
            continue;
        }
        for service in services.iter().filter(|s| !service_may_exist(specs, s)) {
            let msg = format!(
                "services.control for script \"{script}\": no service will be named \"{service}\" \
                 (known: {}, or a script's NAME:PORT with \"listen PORT\" granted)",
                Protocol::SERVICES
            );
            warnings.push(warning(raw, e.line, msg));
        }
    }
    warnings
}

/// A protocol service, or a loaded script's `NAME:PORT` (what `Rumble.createService` names it).
fn service_may_exist(specs: &[ScriptSpec], service: &str) -> bool {
    let service = service.to_ascii_lowercase();
    if service == ALL_SERVICES || Protocol::of_service(&service).is_some() {
        return true;
    }
    let Some((name, port)) = service.rsplit_once(':') else { return false };
    let port = port.parse::<u16>().unwrap_or(0);
    specs.iter().any(|s| s.name.eq_ignore_ascii_case(name) && s.grants.allows_listen(port))
}

fn unknown_script(raw: &RawConfig, line: usize, directive: &str, script: &str) -> Warning {
    warning(
        raw,
        line,
        format!("{directive} for script \"{script}\" that no LoadScript names (ignored)"),
    )
}

/// `ScriptLimit <script> <cpu|memory|instances|timeout> <value>`; first one wins per
/// script and limit, like every single-use directive.
fn apply_limits(
    r: &Reader<'_>,
    specs: &mut [ScriptSpec],
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let mut seen: Vec<(usize, LimitKind, usize)> = Vec::new();
    for e in r.raw.get_all("ScriptLimit") {
        let (script, kind, value) = limit_words(r, e)?;
        let mut limits = ScriptLimits::default();
        if !kind.apply(&mut limits, value) {
            return Err(r.bad_value(e.line, "ScriptLimit", value, kind.expected()));
        }
        let Some(i) = find_script(specs, script) else {
            warnings.push(unknown_script(r.raw, e.line, "ScriptLimit", script));
            continue;
        };
        if let Some((_, _, first)) = seen.iter().find(|(s, k, _)| *s == i && *k == kind) {
            let msg = format!(
                "ScriptLimit: script \"{script}\" already has a {} limit on line {first}; this one is ignored",
                kind.word()
            );
            warnings.push(warning(r.raw, e.line, msg));
            continue;
        }
        kind.apply(&mut specs[i].limits, value);
        seen.push((i, kind, e.line));
    }
    Ok(())
}

/// Splits a `ScriptLimit` value into script, limit kind and value.
fn limit_words<'e>(
    r: &Reader<'_>,
    e: &'e Entry,
) -> Result<(&'e str, LimitKind, &'e str), ConfigError> {
    let words: Vec<&str> = e.value.split_whitespace().collect();
    let [script, kind, value] = words.as_slice() else {
        let msg =
            "expected \"ScriptLimit <script> <limit> <value>\"".to_string();
        return Err(r.invalid(e.line, "ScriptLimit", msg));
    };
    let Some(kind) = LimitKind::from_word(kind) else {
        let words: Vec<&str> = LimitKind::ALL.iter().map(|k| k.word()).collect();
        let msg = format!("unknown limit \"{kind}\" (expected one of {})", words.join(", "));
        return Err(r.invalid(e.line, "ScriptLimit", msg));
    };
    Ok((script, kind, value))
}

/// `LoadModule` lines, each with a warning since native modules cannot be loaded.
fn modules(raw: &RawConfig, warnings: &mut Vec<Warning>) -> Vec<ModuleSpec> {
    raw.get_all("LoadModule")
        .map(|e| {
            let msg = format!(
                "LoadModule \"{}\": native modules are not supported (ignored)",
                e.value
            );
            warnings.push(warning(raw, e.line, msg));
            ModuleSpec {
                path_written: e.value.clone(),
                path: raw.resolve(&e.value),
                line: e.line,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::grants::Capability;
    use super::super::parse::parse_str;
    use super::*;

    const FILE: &str = "/etc/rumble/rumble.conf";

    fn build(text: &str) -> Result<(Settings, Vec<Warning>), String> {
        let raw = parse_str(text, Path::new(FILE), Path::new("/opt/rumble"))
            .map_err(|e| e.to_string())?;
        from_raw(&raw).map_err(|e| e.to_string())
    }

    /// Settings plus warnings rendered as strings.
    fn ok(text: &str) -> (Settings, Vec<String>) {
        match build(text) {
            Ok((s, w)) => (s, w.iter().map(ToString::to_string).collect()),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn settings(text: &str) -> Settings {
        ok(text).0
    }

    fn err(text: &str) -> String {
        match build(text) {
            Ok((s, _)) => panic!("expected an error for {text:?}, got {s:?}"),
            Err(e) => e,
        }
    }

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn defaults_for_an_empty_file() {
        let (s, w) = ok("");
        assert!(w.is_empty());
        assert_eq!(s.config_dir, p("/etc/rumble"));
        assert_eq!(s.server_name, "localhost");
        assert_eq!((s.run_as, s.run_as_group), (None, None));
        assert_eq!(s.database_engine, DatabaseEngine::Sqlite);
        assert_eq!(s.data_folder, p("/etc/rumble/db"));
        assert_eq!(s.storage_folder, p("/etc/rumble/storage"));
        assert_eq!(s.cache_folder, p("/etc/rumble/db/cache"));
        let m = &s.mysql;
        assert_eq!(
            (
                m.host.as_str(),
                m.port,
                m.user.as_str(),
                m.password.as_str(),
                m.database.as_str(),
                m.connections
            ),
            ("localhost", 3306, "root", "", "rumble", 20)
        );
        assert!(!s.force_ipv4);
        assert_eq!(s.bind_to_address, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(s.outgoing_bind_to_address, None);
        let off = |port| Listener {
            enabled: false,
            port,
        };
        assert_eq!(
            [
                s.smtp,
                s.submission,
                s.smtps,
                s.pop3,
                s.pop3s,
                s.imap4,
                s.imaps
            ],
            [
                off(25),
                off(587),
                off(465),
                off(110),
                off(995),
                off(143),
                off(993)
            ]
        );
        assert_eq!(s.message_size_limit, 104_857_600);
        assert!(!s.enforce_fqdn);
        assert!(s.ignore_mx.is_empty());
        assert_eq!(s.delivery_attempts, 5);
        assert_eq!(s.maximal_queue_lifetime, Duration::from_secs(5 * 86_400));
        assert_eq!(s.retry_interval, Duration::from_secs(360));
        assert_eq!((s.dns_server, s.outgoing_smtp_port), (None, 25));
        assert_eq!(s.smtp_timeout, Duration::from_secs(300));
        assert!(s.enforce_sender_login);
        assert_eq!(s.max_connections_per_ip, 50);
        assert_eq!((s.pop3_timeout, s.imap_timeout, s.pre_login_timeout), (Duration::from_secs(600), Duration::from_secs(1800), Duration::from_secs(30)));
        assert_eq!((s.max_smtp_sessions, s.max_pop3_sessions, s.max_imap_sessions), (250, 250, 500));
        assert!(!s.block_outgoing_mail);
        assert_eq!((s.tls_certificate, s.tls_key), (None, None));
        assert!(!s.allow_plaintext_auth);
        assert_eq!(s.log_lines, 500);
        assert_eq!(
            s.script_defaults,
            ScriptLimits {
                cpu: Duration::from_secs(1),
                memory: 64 * 1024 * 1024,
                instances: 8,
                session_timeout: Duration::from_secs(30),
                ..ScriptLimits::default()
            }
        );
        assert!(s.scripts.is_empty());
        assert!(s.modules.is_empty());
    }

    const FULL: &str = "\
ServerName mail.example.org
RunAs rumble
RunAsGroup mail
DatabaseEngine MySQL
DataFolder /var/lib/rumble
MySQLHost db.local
MySQLPort 3307
MySQLUser mailer
MySQLPass p#ss word
MySQLDB mails
MySQLConnections 7
StorageFolder spool
ForceIPv4 1
BindToAddress ::1
OutgoingBindToAddress 192.0.2.7
EnableSMTP 1
SMTPPort 2525
MessageSizeLimit 10M
EnforceFQDN yes
EnablePOP3 1
POP3Port 1110
EnableIMAP4 true
IMAP4Port 1143
IgnoreMX mx.FakeMX.net  mx.fakemx.com
DeliveryAttempts 9
RetryInterval 90
MaximalQueueLifetime 2d
DNSServer 127.0.0.1:5353
OutgoingSMTPPort 2526
SMTPTimeout 20
POP3Timeout 60
IMAPTimeout 120
PreLoginTimeout 5
MaxSMTPSessions 10
MaxPOP3Sessions 11
MaxIMAPSessions 12
EnforceSenderLogin 0
MaxConnectionsPerIP 7
BlockOutgoingMail on
EnableSubmission 1
SubmissionPort 1587
EnableSMTPS 1
SMTPSPort 1465
EnablePOP3S 1
POP3SPort 1995
EnableIMAPS 1
IMAPSPort 1993
TLSCertificate tls/cert.pem
TLSKey /etc/ssl/key.pem
AllowPlaintextAuth 1
CacheFolder /var/cache/rumble
LogLines 2000
ScriptCPULimit 250ms
ScriptMemoryLimit 128M
ScriptInstances 4
ScriptSessionTimeout 2m
";

    #[test]
    fn every_directive_with_a_good_value() {
        let (s, w) = ok(FULL);
        assert_eq!(w, Vec::<String>::new());
        assert_eq!(s.server_name, "mail.example.org");
        assert_eq!(s.run_as.as_deref(), Some("rumble"));
        assert_eq!(s.run_as_group.as_deref(), Some("mail"));
        assert_eq!(s.database_engine, DatabaseEngine::Mysql);
        assert_eq!(s.data_folder, p("/var/lib/rumble"));
        let m = &s.mysql;
        assert_eq!(
            (
                m.host.as_str(),
                m.port,
                m.user.as_str(),
                m.password.as_str(),
                m.database.as_str(),
                m.connections
            ),
            ("db.local", 3307, "mailer", "p#ss word", "mails", 7)
        );
        assert_eq!(s.storage_folder, p("/etc/rumble/spool"));
        assert!(s.force_ipv4);
        assert_eq!(
            s.bind_to_address,
            "::1"
                .parse::<IpAddr>()
                .ok()
                .unwrap_or(IpAddr::from([0u8; 4]))
        );
        assert_eq!(
            s.outgoing_bind_to_address,
            Some(IpAddr::from([192, 0, 2, 7]))
        );
        let on = |port| Listener {
            enabled: true,
            port,
        };
        assert_eq!(
            [
                s.smtp,
                s.submission,
                s.smtps,
                s.pop3,
                s.pop3s,
                s.imap4,
                s.imaps
            ],
            [
                on(2525),
                on(1587),
                on(1465),
                on(1110),
                on(1995),
                on(1143),
                on(1993)
            ]
        );
        assert_eq!(s.message_size_limit, 10 * 1024 * 1024);
        assert!(s.enforce_fqdn);
        assert_eq!(
            s.ignore_mx,
            vec!["mx.fakemx.net".to_string(), "mx.fakemx.com".to_string()]
        );
        assert_eq!(s.delivery_attempts, 9);
        assert_eq!(s.retry_interval, Duration::from_secs(90));
        assert_eq!(s.maximal_queue_lifetime, Duration::from_secs(2 * 86_400));
        assert_eq!(s.dns_server, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(s.outgoing_smtp_port, 2526);
        assert_eq!(s.smtp_timeout, Duration::from_secs(20));
        assert!(!s.enforce_sender_login);
        assert_eq!(s.max_connections_per_ip, 7);
        assert_eq!((s.pop3_timeout, s.imap_timeout, s.pre_login_timeout), (Duration::from_secs(60), Duration::from_secs(120), Duration::from_secs(5)));
        assert_eq!((s.max_smtp_sessions, s.max_pop3_sessions, s.max_imap_sessions), (10, 11, 12));
        assert_eq!(parse_dns_server("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_dns_server("dns.example"), None);
        assert!(s.block_outgoing_mail);
        assert_eq!(s.tls_certificate, Some(p("/etc/rumble/tls/cert.pem")));
        assert_eq!(s.tls_key, Some(p("/etc/ssl/key.pem")));
        assert!(s.allow_plaintext_auth);
        assert_eq!(s.cache_folder, p("/var/cache/rumble"));
        assert_eq!(s.log_lines, 2000);
        assert_eq!(
            s.script_defaults,
            ScriptLimits {
                cpu: Duration::from_millis(250),
                memory: 128 * 1024 * 1024,
                instances: 4,
                session_timeout: Duration::from_secs(120),
                ..ScriptLimits::default()
            }
        );
    }

    #[test]
    fn every_directive_with_a_bad_value() {
        let cases: &[(&str, &str)] = &[
            (
                "ServerName",
                "ServerName: expected a host name without spaces, got \"\"",
            ),
            (
                "ServerName a b",
                "ServerName: expected a host name without spaces, got \"a b\"",
            ),
            (
                "DatabaseEngine oracle",
                "DatabaseEngine: expected sqlite, mysql or postgresql, got \"oracle\"",
            ),
            ("DataFolder", "DataFolder: expected a path, got \"\""),
            (
                "MySQLPort abc",
                "MySQLPort: expected a port number 1-65535, got \"abc\"",
            ),
            (
                "MySQLConnections 0",
                "MySQLConnections: expected a number of connections 1-1000, got \"0\"",
            ),
            (
                "MySQLConnections 1001",
                "MySQLConnections: expected a number of connections 1-1000, got \"1001\"",
            ),
            ("StorageFolder", "StorageFolder: expected a path, got \"\""),
            (
                "ForceIPv4 2",
                "ForceIPv4: expected 0 or 1 (or yes/no, true/false, on/off), got \"2\"",
            ),
            (
                "BindToAddress 999.1.1.1",
                "BindToAddress: expected an IP address such as 0.0.0.0 or ::, got \"999.1.1.1\"",
            ),
            (
                "BindToAddress localhost",
                "BindToAddress: expected an IP address such as 0.0.0.0 or ::, got \"localhost\"",
            ),
            (
                "OutgoingBindToAddress any",
                "OutgoingBindToAddress: expected an IP address such as 0.0.0.0 or ::, got \"any\"",
            ),
            (
                "EnableSMTP maybe",
                "EnableSMTP: expected 0 or 1 (or yes/no, true/false, on/off), got \"maybe\"",
            ),
            (
                "SMTPPort abc",
                "SMTPPort: expected a port number 1-65535, got \"abc\"",
            ),
            (
                "SMTPPort 0",
                "SMTPPort: expected a port number 1-65535, got \"0\"",
            ),
            (
                "SMTPPort 65536",
                "SMTPPort: expected a port number 1-65535, got \"65536\"",
            ),
            (
                "MessageSizeLimit 10X",
                "MessageSizeLimit: expected a size in bytes such as 104857600 or 100M (0 = unlimited), got \"10X\"",
            ),
            (
                "MessageSizeLimit -1",
                "MessageSizeLimit: expected a size in bytes such as 104857600 or 100M (0 = unlimited), got \"-1\"",
            ),
            (
                "EnforceFQDN 11",
                "EnforceFQDN: expected 0 or 1 (or yes/no, true/false, on/off), got \"11\"",
            ),
            (
                "EnablePOP3 y",
                "EnablePOP3: expected 0 or 1 (or yes/no, true/false, on/off), got \"y\"",
            ),
            (
                "POP3Port pop",
                "POP3Port: expected a port number 1-65535, got \"pop\"",
            ),
            (
                "EnableIMAP4 -1",
                "EnableIMAP4: expected 0 or 1 (or yes/no, true/false, on/off), got \"-1\"",
            ),
            (
                "IMAP4Port 1e3",
                "IMAP4Port: expected a port number 1-65535, got \"1e3\"",
            ),
            (
                "DeliveryAttempts -1",
                "DeliveryAttempts: expected a whole number (0 = 5), got \"-1\"",
            ),
            (
                "DeliveryAttempts five",
                "DeliveryAttempts: expected a whole number (0 = 5), got \"five\"",
            ),
            (
                "RetryInterval soon",
                "RetryInterval: expected a number of seconds or a duration such as 90s, 6m or 1h (0 = 360), got \"soon\"",
            ),
            (
                "BlockOutgoingMail x",
                "BlockOutgoingMail: expected 0 or 1 (or yes/no, true/false, on/off), got \"x\"",
            ),
            (
                "EnableSubmission x",
                "EnableSubmission: expected 0 or 1 (or yes/no, true/false, on/off), got \"x\"",
            ),
            (
                "SubmissionPort x",
                "SubmissionPort: expected a port number 1-65535, got \"x\"",
            ),
            (
                "EnableSMTPS x",
                "EnableSMTPS: expected 0 or 1 (or yes/no, true/false, on/off), got \"x\"",
            ),
            (
                "SMTPSPort x",
                "SMTPSPort: expected a port number 1-65535, got \"x\"",
            ),
            (
                "EnablePOP3S x",
                "EnablePOP3S: expected 0 or 1 (or yes/no, true/false, on/off), got \"x\"",
            ),
            (
                "POP3SPort x",
                "POP3SPort: expected a port number 1-65535, got \"x\"",
            ),
            (
                "EnableIMAPS x",
                "EnableIMAPS: expected 0 or 1 (or yes/no, true/false, on/off), got \"x\"",
            ),
            (
                "IMAPSPort x",
                "IMAPSPort: expected a port number 1-65535, got \"x\"",
            ),
            (
                "TLSCertificate",
                "TLSCertificate: expected a path, got \"\"",
            ),
            ("TLSKey", "TLSKey: expected a path, got \"\""),
            (
                "AllowPlaintextAuth sometimes",
                "AllowPlaintextAuth: expected 0 or 1 (or yes/no, true/false, on/off), got \"sometimes\"",
            ),
            ("CacheFolder", "CacheFolder: expected a path, got \"\""),
            (
                "LogLines 199",
                "LogLines: expected a number of lines 200-1000000, got \"199\"",
            ),
            (
                "LogLines 1000001",
                "LogLines: expected a number of lines 200-1000000, got \"1000001\"",
            ),
            (
                "LogLines many",
                "LogLines: expected a number of lines 200-1000000, got \"many\"",
            ),
            (
                "ScriptCPULimit 0",
                "ScriptCPULimit: expected a duration such as 500ms, 2s or 1500 (milliseconds), from 1ms to 1h, got \"0\"",
            ),
            (
                "ScriptCPULimit 2h",
                "ScriptCPULimit: expected a duration such as 500ms, 2s or 1500 (milliseconds), from 1ms to 1h, got \"2h\"",
            ),
            (
                "ScriptCPULimit 1.5s",
                "ScriptCPULimit: expected a duration such as 500ms, 2s or 1500 (milliseconds), from 1ms to 1h, got \"1.5s\"",
            ),
            (
                "ScriptMemoryLimit 4M",
                "ScriptMemoryLimit: expected a size such as 65536, 512K, 32M or 1G, from 8M to 4G, got \"4M\"",
            ),
            (
                "ScriptMemoryLimit 5G",
                "ScriptMemoryLimit: expected a size such as 65536, 512K, 32M or 1G, from 8M to 4G, got \"5G\"",
            ),
            (
                "ScriptMemoryLimit 1T",
                "ScriptMemoryLimit: expected a size such as 65536, 512K, 32M or 1G, from 8M to 4G, got \"1T\"",
            ),
            (
                "MaxIMAPSessions 0",
                "MaxIMAPSessions: expected a number of sessions from 1 to 100000, got \"0\"",
            ),
            (
                "PreLoginTimeout 30s",
                "PreLoginTimeout: expected a number of seconds from 1 to 3600, got \"30s\"",
            ),
            (
                "ScriptInstances 0",
                "ScriptInstances: expected a number of instances 1-1024, got \"0\"",
            ),
            (
                "ScriptInstances 1025",
                "ScriptInstances: expected a number of instances 1-1024, got \"1025\"",
            ),
            (
                "ScriptSessionTimeout 0s",
                "ScriptSessionTimeout: expected a duration such as 30s, 5m or 30000 (milliseconds), from 1ms to 24h, got \"0s\"",
            ),
            (
                "ScriptSessionTimeout 25h",
                "ScriptSessionTimeout: expected a duration such as 30s, 5m or 30000 (milliseconds), from 1ms to 24h, got \"25h\"",
            ),
            (
                "LoadScript",
                "LoadScript: expected a script path such as plugins/greylist/greylist.lua (in double quotes if it has spaces), optionally followed by a name, got \"\"",
            ),
            (
                "LoadScript /",
                "LoadScript: expected a script path such as plugins/greylist/greylist.lua (in double quotes if it has spaces), optionally followed by a name, got \"/\"",
            ),
        ];
        for (line, msg) in cases {
            // The bad line is the third, after a comment and a good directive.
            let text = format!("# header\nServerName ok\n{line}\n");
            let text = if line.starts_with("ServerName") {
                format!("# header\n\n{line}\n")
            } else {
                text
            };
            assert_eq!(err(&text), format!("{FILE}:3: {msg}"), "{line}");
        }
    }

    #[test]
    fn bool_spellings() {
        for (word, want) in [
            ("1", true),
            ("yes", true),
            ("TRUE", true),
            ("On", true),
            ("0", false),
            ("no", false),
            ("False", false),
            ("OFF", false),
        ] {
            assert_eq!(
                settings(&format!("EnableSMTP {word}\n")).smtp.enabled,
                want,
                "{word}"
            );
            assert_eq!(parse_bool(word), Some(want));
        }
        assert_eq!(parse_bool(""), None);
        assert_eq!(parse_bool("2"), None);
    }

    #[test]
    fn directive_names_are_case_insensitive() {
        let s = settings("enablesmtp 1\nSMTPPORT 2525\nservername X.Example\nsTORAGEfOLDER /s\n");
        assert_eq!(
            s.smtp,
            Listener {
                enabled: true,
                port: 2525
            }
        );
        assert_eq!(s.server_name, "X.Example");
        assert_eq!(s.storage_folder, p("/s"));
    }

    #[test]
    fn first_occurrence_wins_and_repeats_warn() {
        let (s, w) = ok("SMTPPort 2525\nServerName a\nsmtpport 25\nSMTPPort not-checked\n");
        assert_eq!(s.smtp.port, 2525);
        assert_eq!(
            w,
            vec![
                format!(
                    "{FILE}:3: SMTPPort is repeated; the first one (line 1) is used and this one is ignored"
                ),
                format!(
                    "{FILE}:4: SMTPPort is repeated; the first one (line 1) is used and this one is ignored"
                ),
            ]
        );
    }

    #[test]
    fn unknown_directives_warn() {
        let (s, w) = ok("ServerName a\nSMTPPrt 25\n\nFoo bar\nComment not a directive\n");
        assert_eq!(s.server_name, "a");
        assert_eq!(
            w,
            vec![
                format!("{FILE}:2: unknown directive \"smtpprt\" (ignored)"),
                format!("{FILE}:4: unknown directive \"foo\" (ignored)"),
            ]
        );
    }

    #[test]
    fn special_values() {
        let s = settings(
            "DeliveryAttempts 0\nRetryInterval 0\nMessageSizeLimit 0\nRunAs\nRunAsGroup\n",
        );
        assert_eq!(s.delivery_attempts, 5);
        assert_eq!(s.retry_interval, Duration::from_secs(360));
        assert_eq!(s.message_size_limit, 0);
        assert_eq!((s.run_as, s.run_as_group), (None, None));
        let s = settings(
            "RetryInterval 6m\nMessageSizeLimit 2048\nDatabaseEngine PostgreSQL\nDataFolder data\n",
        );
        assert_eq!(s.retry_interval, Duration::from_secs(360));
        assert_eq!(s.message_size_limit, 2048);
        assert_eq!(s.database_engine, DatabaseEngine::Postgresql);
        assert_eq!(s.cache_folder, p("/etc/rumble/data/cache"));
        assert_eq!(
            settings("DatabaseEngine sqlite\n").database_engine,
            DatabaseEngine::Sqlite
        );
    }

    #[test]
    fn directives_follow_conditionals() {
        let s = settings("<if defined(unix)>\nSMTPPort 2525\n<else>\nSMTPPort 25\n</if>\n");
        assert_eq!(s.smtp.port, 2525);
        let (s, w) = ok("<if defined(windows)>\nSMTPPort 1\n</if>\nSMTPPort 26\n");
        assert_eq!((s.smtp.port, w.len()), (26, 0));
    }

    #[test]
    fn mysql_password_is_not_debug_printed() {
        let s = settings("MySQLPass hunter2\n");
        assert_eq!(s.mysql.password, "hunter2");
        let dump = format!("{s:?}");
        assert!(!dump.contains("hunter2"), "{dump}");
        assert!(dump.contains("<redacted>"));
    }

    #[test]
    fn listeners_on_one_port_clash() {
        assert_eq!(
            err("EnableSMTP 1\nSMTPPort 587\nEnableSubmission 1\n"),
            format!(
                "{FILE}:3: SubmissionPort: port 587 is also used by SMTP (SMTPPort); each enabled service needs its own port"
            )
        );
        assert_eq!(
            err("EnablePOP3 1\nEnableIMAP4 1\nIMAP4Port 110\n"),
            format!(
                "{FILE}:3: IMAP4Port: port 110 is also used by POP3 (POP3Port); each enabled service needs its own port"
            )
        );
        // A disabled listener may share a port.
        assert_eq!(
            settings("EnableSMTP 1\nSMTPPort 587\nEnableSubmission 0\n")
                .submission
                .port,
            587
        );
    }

    #[test]
    fn tls_settings_must_be_complete() {
        assert_eq!(
            err("\nTLSCertificate c.pem\n"),
            format!("{FILE}:2: TLSCertificate: TLSKey is missing; both are needed")
        );
        assert_eq!(
            err("TLSKey k.pem\n"),
            format!("{FILE}:1: TLSKey: TLSCertificate is missing; both are needed")
        );
        // Without a certificate, implicit TLS uses a generated self-signed one.
        let s = settings("EnableIMAPS 1\nEnableSMTPS yes\n");
        assert!(s.imaps.enabled && s.smtps.enabled);
        assert_eq!(s.tls_certificate, None);
        let s = settings("EnableIMAPS 1\nTLSCertificate c.pem\nTLSKey k.pem\n");
        assert!(s.imaps.enabled);
        assert_eq!(s.tls_key, Some(p("/etc/rumble/k.pem")));
    }

    #[test]
    fn durations() {
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(parse_duration("500ms", TimeUnit::Millis), ms(500));
        assert_eq!(parse_duration("2s", TimeUnit::Millis), ms(2000));
        assert_eq!(parse_duration("1500", TimeUnit::Millis), ms(1500));
        assert_eq!(parse_duration("1500", TimeUnit::Seconds), ms(1_500_000));
        assert_eq!(parse_duration("3 SEC", TimeUnit::Millis), ms(3000));
        assert_eq!(parse_duration("5m", TimeUnit::Millis), ms(300_000));
        assert_eq!(parse_duration("5min", TimeUnit::Millis), ms(300_000));
        assert_eq!(parse_duration("1h", TimeUnit::Millis), ms(3_600_000));
        assert_eq!(parse_duration("0", TimeUnit::Millis), ms(0));
        for bad in [
            "",
            "s",
            "-1s",
            "1.5s",
            "2d",
            "ms5",
            "99999999999999999999",
            "18446744073709551615h",
        ] {
            assert_eq!(parse_duration(bad, TimeUnit::Millis), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("512K"), Some(512 * 1024));
        assert_eq!(parse_size("32M"), Some(32 * 1024 * 1024));
        assert_eq!(parse_size("32mb"), Some(32 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("7B"), Some(7));
        for bad in ["", "M", "1T", "1.5M", "-1", "K1", "99999999999G"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn load_scripts_in_order_with_names_and_paths() {
        let (s, w) = ok(
            "LoadScript plugins/greylist/greylist.lua\nServerName a\nloadscript /opt/x/admin.lua\nLOADSCRIPT dnsbl\n",
        );
        assert!(w.is_empty());
        let got: Vec<(&str, &str, PathBuf, usize)> = s
            .scripts
            .iter()
            .map(|x| {
                (
                    x.name.as_str(),
                    x.path_written.as_str(),
                    x.path.clone(),
                    x.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "greylist",
                    "plugins/greylist/greylist.lua",
                    p("/etc/rumble/plugins/greylist/greylist.lua"),
                    1
                ),
                ("admin", "/opt/x/admin.lua", p("/opt/x/admin.lua"), 3),
                ("dnsbl", "dnsbl", p("/etc/rumble/dnsbl"), 4),
            ]
        );
        assert!(
            s.scripts
                .iter()
                .all(|x| x.grants == GrantSet::default() && x.limits == ScriptLimits::default())
        );
        assert_eq!(s.script("admin").map(|x| x.line), Some(3));
        assert_eq!(
            s.script("plugins/greylist/greylist.lua").map(|x| x.line),
            Some(1)
        );
        assert_eq!(s.script("nothing"), None);
    }

    #[test]
    fn duplicate_script_names_are_an_error() {
        assert_eq!(
            err("LoadScript a/greylist.lua\n\nLoadScript b/greylist.lua\n"),
            format!(
                "{FILE}:3: LoadScript: script name \"greylist\" (b/greylist.lua) is already used by the LoadScript \
                     on line 1 (a/greylist.lua); give one a name of its own (LoadScript PATH NAME)"
            )
        );
        assert!(
            err("LoadScript x.lua\nLoadScript x.lua\n")
                .starts_with(&format!("{FILE}:2: LoadScript: script name \"x\""))
        );
    }

    #[test]
    fn load_script_takes_an_optional_name() {
        let (s, _) = ok("LoadScript tenants/a/filter.lua filter-a\nLoadScript tenants/b/filter.lua filter-b\n\
                         Grant filter-b dns\nScriptLimit filter-a kvbytes 64K\n");
        let names: Vec<(&str, &str)> = s.scripts.iter().map(|x| (x.name.as_str(), x.path_written.as_str())).collect();
        assert_eq!(names, [("filter-a", "tenants/a/filter.lua"), ("filter-b", "tenants/b/filter.lua")]);
        assert_eq!(s.scripts[0].path, Path::new("/etc/rumble/tenants/a/filter.lua"));
        assert!(s.scripts[1].grants.allows_dns() && !s.scripts[0].grants.allows_dns());
        assert_eq!((s.scripts[0].limits.kv_bytes, s.scripts[1].limits.kv_bytes), (64 * KIB, MIB));
        assert!(
            err("LoadScript a/filter.lua\nLoadScript b/filter.lua filter\n")
                .starts_with(&format!("{FILE}:2: LoadScript: script name \"filter\" (b/filter.lua) is already used by the LoadScript on line 1"))
        );
        assert_eq!(
            err("LoadScript a/filter.lua bad/name\n"),
            format!("{FILE}:1: LoadScript: script name \"bad/name\" may hold only letters, digits, '-', '_' and '.' (give one: LoadScript PATH NAME)")
        );
        assert!(err("LoadScript a.lua b c\n").starts_with(&format!("{FILE}:1: LoadScript: expected a script path")));
        // A path with spaces is written in double quotes.
        let (s, _) = ok("LoadScript \"my plugins/spam check.lua\" spam\nLoadScript \"tenant c/filter.lua\"\n");
        let names: Vec<(&str, &str)> = s.scripts.iter().map(|x| (x.name.as_str(), x.path_written.as_str())).collect();
        assert_eq!(names, [("spam", "my plugins/spam check.lua"), ("filter", "tenant c/filter.lua")]);
        assert!(err("LoadScript \"a b.lua\n").starts_with(&format!("{FILE}:1: LoadScript: expected a script path")));
        assert!(is_script_name("a-b_c.1") && !is_script_name("a b") && !is_script_name("ä") && !is_script_name(""));
    }

    #[test]
    fn kv_bytes_default_and_limit() {
        let (s, _) = ok("ScriptKVBytes 2M\nLoadScript x.lua\n");
        assert_eq!(s.script_defaults.kv_bytes, 2 * MIB);
        assert!(err("ScriptKVBytes 10\n").contains("from 1K to 1G"));
        assert!(err("LoadScript x.lua\nScriptLimit x kvbytes 2G\n").contains("from 1K to 1G"));
    }

    #[test]
    fn load_modules_are_kept_and_warned_about() {
        let (s, w) = ok("LoadModule modules/foreman.so\nLoadModule /usr/lib/rumble/greylist.so\n");
        assert_eq!(
            s.modules,
            vec![
                ModuleSpec {
                    path_written: "modules/foreman.so".into(),
                    path: p("/etc/rumble/modules/foreman.so"),
                    line: 1
                },
                ModuleSpec {
                    path_written: "/usr/lib/rumble/greylist.so".into(),
                    path: p("/usr/lib/rumble/greylist.so"),
                    line: 2
                },
            ]
        );
        assert_eq!(
            w,
            vec![
                format!(
                    "{FILE}:1: LoadModule \"modules/foreman.so\": native modules are not supported (ignored)"
                ),
                format!(
                    "{FILE}:2: LoadModule \"/usr/lib/rumble/greylist.so\": native modules are not supported (ignored)"
                ),
            ]
        );
    }

    const SCRIPTS: &str =
        "LoadScript plugins/greylist/greylist.lua\nLoadScript plugins/admin/admin.lua\n";

    fn grants_of(s: &Settings, name: &str) -> Vec<Capability> {
        s.script(name)
            .map(|x| x.grants.caps.clone())
            .unwrap_or_default()
    }

    #[test]
    fn grants_for_every_capability() {
        let text = format!(
            "{SCRIPTS}\
Grant admin log.read
Grant admin CONFIG.READ
Grant admin config.read ServerName
Grant admin files.read data /srv/x
Grant admin files.write out
Grant admin listen 2580 2581
Grant admin mailman.read *
Grant admin mailman.write Example.org
Grant admin services.control smtp admin:2580
Grant admin hook smtp imap4
Grant admin dns
Grant admin sendmail *
Grant plugins/greylist/greylist.lua hook smtp
"
        );
        let (s, w) = ok(&text);
        assert!(w.is_empty(), "{w:?}");
        let strs = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            grants_of(&s, "admin"),
            vec![
                Capability::LogRead,
                Capability::ConfigRead { keys: vec![] },
                Capability::ConfigRead {
                    keys: strs(&["servername"])
                },
                Capability::FilesRead {
                    paths: vec![p("/etc/rumble/data"), p("/srv/x")]
                },
                Capability::FilesWrite {
                    paths: vec![p("/etc/rumble/out")]
                },
                Capability::Listen {
                    ports: vec![2580, 2581]
                },
                Capability::MailmanRead { domains: strs(&["*"]) },
                Capability::MailmanWrite {
                    domains: strs(&["example.org"])
                },
                Capability::ServicesControl {
                    services: strs(&["smtp", "admin:2580"])
                },
                Capability::Hook {
                    services: strs(&["smtp", "imap4"])
                },
                Capability::Dns,
                Capability::SendMail { domains: strs(&["*"]) },
            ]
        );
        assert_eq!(
            grants_of(&s, "greylist"),
            vec![Capability::Hook {
                services: strs(&["smtp"])
            }]
        );
        let admin = s
            .script("admin")
            .map(|x| x.grants.clone())
            .unwrap_or_default();
        assert!(
            admin.allows_listen(2581)
                && admin.allows_mailman_write("EXAMPLE.org")
                && !admin.allows_mailman_write("b.org")
        );
    }

    #[test]
    fn grant_problems() {
        let bad = |g: &str| err(&format!("{SCRIPTS}{g}\n"));
        assert_eq!(
            bad("Grant admin listen abc"),
            format!("{FILE}:3: Grant: listen: \"abc\" is not a port number 1-65535")
        );
        assert_eq!(
            bad("Grant admin files.read"),
            format!("{FILE}:3: Grant: files.read needs at least one path")
        );
        assert_eq!(
            bad("Grant admin dns now"),
            format!("{FILE}:3: Grant: dns takes no arguments, got \"now\"")
        );
        assert_eq!(
            bad("Grant admin"),
            format!("{FILE}:3: Grant: expected \"Grant <script> <capability> [args...]\"")
        );
        assert_eq!(
            bad("Grant"),
            format!("{FILE}:3: Grant: expected \"Grant <script> <capability> [args...]\"")
        );
        // Bad arguments are an error even for a script that is not loaded.
        assert_eq!(
            bad("Grant ghost listen 0"),
            format!("{FILE}:3: Grant: listen: \"0\" is not a port number 1-65535")
        );
        assert_eq!(
            bad("Grant admin services.control"),
            format!(
                "{FILE}:3: Grant: services.control needs the services it covers; \
                 write \"services.control *\" for all services"
            )
        );
    }

    #[test]
    fn services_control_warns_of_services_nothing_creates() {
        let (s, w) = ok(&format!(
            "{SCRIPTS}Grant admin listen 2580\n\
             Grant admin services.control smtp mailman Admin:2580 smpt admin:2581 greylist:2580\n"
        ));
        let unknown = |name: &str| {
            format!(
                "{FILE}:4: services.control for script \"admin\": no service will be named \"{name}\" \
                 (known: {}, or a script's NAME:PORT with \"listen PORT\" granted)",
                Protocol::SERVICES
            )
        };
        assert_eq!(w, vec![unknown("smpt"), unknown("admin:2581"), unknown("greylist:2580")]);
        // Only a warning: the grant stands.
        assert!(s.script("admin").is_some_and(|a| a.grants.allows_services_control("smpt")));
    }

    #[test]
    fn grant_warnings() {
        let (s, w) = ok(&format!(
            "{SCRIPTS}Grant admin root everything\nGrant ghost dns\nGrant ghost fly\nGrant admin dns\n"
        ));
        assert_eq!(
            w,
            vec![
                format!(
                    "{FILE}:3: unknown capability \"root\" for script \"admin\" (ignored: default deny)"
                ),
                format!("{FILE}:4: Grant for script \"ghost\" that no LoadScript names (ignored)"),
                format!(
                    "{FILE}:5: unknown capability \"fly\" for script \"ghost\" (ignored: default deny)"
                ),
                format!("{FILE}:5: Grant for script \"ghost\" that no LoadScript names (ignored)"),
            ]
        );
        assert_eq!(grants_of(&s, "admin"), vec![Capability::Dns]);
    }

    #[test]
    fn grants_may_precede_load_script() {
        let s = settings("Grant late dns\nLoadScript late.lua\n");
        assert_eq!(grants_of(&s, "late"), vec![Capability::Dns]);
    }

    #[test]
    fn script_limit_overrides_defaults() {
        let text = format!(
            "{SCRIPTS}ScriptCPULimit 2s\nScriptInstances 3\n\
ScriptLimit admin cpu 100ms\nScriptLimit admin MEMORY 16M\nScriptLimit plugins/greylist/greylist.lua instances 64\n\
ScriptLimit admin timeout 5m\n"
        );
        let (s, w) = ok(&text);
        assert!(w.is_empty(), "{w:?}");
        let limits = |n: &str| s.script(n).map(|x| x.limits);
        assert_eq!(
            limits("admin"),
            Some(ScriptLimits {
                cpu: Duration::from_millis(100),
                memory: 16 * 1024 * 1024,
                instances: 3,
                session_timeout: Duration::from_secs(300),
                ..ScriptLimits::default()
            })
        );
        assert_eq!(
            limits("greylist"),
            Some(ScriptLimits {
                cpu: Duration::from_secs(2),
                memory: 64 * 1024 * 1024,
                instances: 64,
                session_timeout: Duration::from_secs(30),
                ..ScriptLimits::default()
            })
        );
    }

    #[test]
    fn containment_limits_have_defaults_and_overrides() {
        let text = format!(
            "{SCRIPTS}ScriptOpenFiles 8\nScriptCPUShare 25%\nScriptLogRate 10\n\
ScriptLimit admin files 64\nScriptLimit admin calls 1000\nScriptLimit admin share 1.5\n\
ScriptLimit admin first-read 500ms\nScriptLimit admin log-rate 200\n"
        );
        let (s, w) = ok(&text);
        assert!(w.is_empty(), "{w:?}");
        let admin = s.script("admin").unwrap().limits;
        assert_eq!(
            (admin.open_files, admin.calls, admin.cpu_share_permille, admin.first_read, admin.log_rate),
            (64, 1000, 1500, Duration::from_millis(500), 200)
        );
        let other = s.script("greylist").unwrap().limits;
        assert_eq!(
            (other.open_files, other.calls, other.cpu_share_permille, other.first_read, other.log_rate),
            (8, 1, 250, Duration::from_secs(10), 10)
        );
        let text = format!("{SCRIPTS}ScriptOnError tempfail\nScriptLimit admin onerror continue\nScriptLimit admin hook-wait 2s\nScriptLimit admin body 64K\n");
        let (s, _) = ok(&text);
        let (admin, other) = (s.script("admin").unwrap().limits, s.script("greylist").unwrap().limits);
        assert_eq!((admin.on_error, admin.hook_wait, admin.body_limit), (OnError::Continue, Duration::from_secs(2), 64 * 1024));
        assert_eq!((other.on_error, other.hook_wait, other.body_limit), (OnError::TempFail, Duration::from_secs(5), 1024 * 1024));
        let bad = |l: &str| err(&format!("{SCRIPTS}{l}\n"));
        assert!(bad("ScriptLimit admin share 0").contains("a share of one core"));
        assert!(bad("ScriptLimit admin share lots").contains("a share of one core"));
        assert!(bad("ScriptLimit admin files 0").contains("open files 1-1024"));
        assert!(bad("ScriptCallsPerInstance 0").contains("calls per instance"));
        assert!(bad("ScriptLimit admin onerror maybe").contains("continue or tempfail"));
        assert!(bad("ScriptOnError sometimes").contains("continue or tempfail"));
        assert!(bad("ScriptLimit admin hook-wait 0").contains("from 1ms to 10m"));
    }

    #[test]
    fn script_limit_problems() {
        let bad = |l: &str| err(&format!("{SCRIPTS}{l}\n"));
        let usage = "expected \"ScriptLimit <script> <limit> <value>\"";
        assert_eq!(
            bad("ScriptLimit admin cpu"),
            format!("{FILE}:3: ScriptLimit: {usage}")
        );
        assert_eq!(
            bad("ScriptLimit admin cpu 1s extra"),
            format!("{FILE}:3: ScriptLimit: {usage}")
        );
        assert_eq!(
            bad("ScriptLimit admin disk 1G"),
            format!(
                "{FILE}:3: ScriptLimit: unknown limit \"disk\" (expected one of cpu, memory, instances, timeout, first-read, files, calls, share, log-rate, onerror, hook-wait, body, kvbytes)"
            )
        );
        assert_eq!(
            bad("ScriptLimit admin memory 1M"),
            format!(
                "{FILE}:3: ScriptLimit: expected a size such as 65536, 512K, 32M or 1G, from 8M to 4G, got \"1M\""
            )
        );
        assert_eq!(
            bad("ScriptLimit admin instances 0"),
            format!("{FILE}:3: ScriptLimit: expected a number of instances 1-1024, got \"0\"")
        );
        assert_eq!(
            bad("ScriptLimit ghost cpu fast"),
            format!(
                "{FILE}:3: ScriptLimit: expected a duration such as 500ms, 2s or 1500 (milliseconds), from 1ms to 1h, got \"fast\""
            )
        );
    }

    #[test]
    fn script_limit_warnings() {
        let (s, w) = ok(&format!(
            "{SCRIPTS}ScriptLimit ghost cpu 1s\nScriptLimit admin cpu 5s\nScriptLimit admin cpu 6s\n"
        ));
        assert_eq!(
            w,
            vec![
                format!(
                    "{FILE}:3: ScriptLimit for script \"ghost\" that no LoadScript names (ignored)"
                ),
                format!(
                    "{FILE}:5: ScriptLimit: script \"admin\" already has a cpu limit on line 4; this one is ignored"
                ),
            ]
        );
        assert_eq!(
            s.script("admin").map(|x| x.limits.cpu),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn warnings_are_sorted_by_line() {
        let (_, w) = ok("LoadModule m.so\nGrant ghost dns\nFoo 1\nLoadScript a.lua\n");
        assert_eq!(
            w,
            vec![
                format!(
                    "{FILE}:1: LoadModule \"m.so\": native modules are not supported (ignored)"
                ),
                format!("{FILE}:2: Grant for script \"ghost\" that no LoadScript names (ignored)"),
                format!("{FILE}:3: unknown directive \"foo\" (ignored)"),
            ]
        );
    }
}
