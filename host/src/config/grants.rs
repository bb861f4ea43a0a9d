//! The capability vocabulary for `Grant <script> <capability> [args...]`.
//!
//! Scripts are denied everything by default; each capability opens one family of
//! host calls. The plugin runtime asks a [`GrantSet`] before every such call, and the
//! admin UI / CLI print grants back with `Display` so operators can audit them.
//!
//! Implications (documented because the checks rely on them): `files.write` also
//! allows reading the same paths (they appear in `write_paths()` only, not in
//! `read_paths()`), and `mailman.write` also allows reading the same domains.
//!
//! Domain-scoped capabilities (`mailman.read`, `mailman.write`, `sendmail`) name
//! their domains, or `*` for every domain: a bare `mailman.read` is refused, so an
//! operator never grants every tenant's mail by leaving a list out. `tenant
//! DOMAIN...` makes the script a tenant's: each of those capabilities then covers
//! only the tenant's domains (the intersection), whatever else was granted.
//! `services.control` likewise names the services it may control, or `*`
//! for every service and the server-wide calls (listModules, reloadConfiguration).
//! Paths are only joined to the config folder here, not canonicalised: confinement
//! (symlinks, `..`) is the file API's job at call time.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Config keys that `config.read` without arguments reveals: server facts a
/// plugin commonly needs and no operator would call secret. Everything else
/// (passwords, keys, operator-defined settings, LoadScript/Grant/ScriptLimit
/// lines) must be named in the grant: an operator who writes a secret into
/// rumble.conf for one script must not hand it to every script.
pub const PUBLIC_KEYS: &[&str] = &[
    "servername",
    "bindtoaddress",
    "smtpport",
    "submissionport",
    "smtpsport",
    "pop3port",
    "pop3sport",
    "imap4port",
    "imapsport",
    "enablesmtp",
    "enablesubmission",
    "enablesmtps",
    "enablepop3",
    "enablepop3s",
    "enableimap4",
    "enableimaps",
    "messagesizelimit",
    "enforcefqdn",
    "blockoutgoingmail",
    "deliveryattempts",
    "retryinterval",
    "smtptimeout",
    "maxconnectionsperip",
    "loglines",
];

/// One thing a script is allowed to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// `log.read`: `Rumble.getLog`.
    LogRead,
    /// `config.read [key ...]`: `Rumble.readConfig`; empty = the [`PUBLIC_KEYS`]
    /// only. Keys are lower-cased. Any other key must be named.
    ConfigRead { keys: Vec<String> },
    /// `files.read PATH...`: read-only access under these paths (resolved).
    FilesRead { paths: Vec<PathBuf> },
    /// `files.write PATH...`: read-write access under these paths (resolved).
    FilesWrite { paths: Vec<PathBuf> },
    /// `listen PORT...`: `Rumble.createService` on these ports.
    Listen { ports: Vec<u16> },
    /// `mailman.read DOMAIN...|*`: read domains/accounts/mail; [`ALL_DOMAINS`] = all.
    MailmanRead { domains: Vec<String> },
    /// `mailman.write DOMAIN...|*`: change domains/accounts/mail (implies read).
    MailmanWrite { domains: Vec<String> },
    /// `services.control SERVICE...|*`: start, stop, suspend, resume and
    /// inspect these services; [`ALL_SERVICES`] = all, plus the server-wide calls.
    ServicesControl { services: Vec<String> },
    /// `hook SERVICE...`: `Rumble.setHook` on these services (e.g. smtp pop3 imap4).
    Hook { services: Vec<String> },
    /// `dns`: DNS lookups.
    Dns,
    /// `sendmail DOMAIN...|*`: `Mailman.sendMail` from senders of these domains
    /// ([`ALL_DOMAINS`] = any).
    SendMail { domains: Vec<String> },
    /// `tenant DOMAIN...`: the script belongs to the tenant owning these domains;
    /// every mailman/sendmail capability it holds is limited to them.
    Tenant { domains: Vec<String> },
}

/// The domain list that means every domain.
pub const ALL_DOMAINS: &str = "*";

/// The service list that means every service.
pub const ALL_SERVICES: &str = "*";

/// Why a capability could not be parsed. The config loader turns `Unknown` into a
/// warning (default deny stays in force) and `Invalid` into an error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CapabilityError {
    /// No words at all.
    #[error("missing capability name")]
    Missing,
    /// The name is not in the vocabulary.
    #[error("unknown capability \"{0}\"")]
    Unknown(String),
    /// The name is known but its arguments are wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Every capability name, for messages.
const NAMES: &str = "log.read, config.read, files.read, files.write, listen, mailman.read, \
                     mailman.write, services.control, hook, dns, sendmail, tenant";

/// Parses `name [args...]` (as split on whitespace); for the CLI's `--grant` option.
/// Relative paths are resolved against `base_dir`.
///
/// # Errors
/// A readable message for a missing or unknown name or bad arguments.
pub fn parse_capability(words: &[&str], base_dir: &Path) -> Result<Capability, String> {
    try_parse_capability(words, base_dir).map_err(|e| match e {
        CapabilityError::Unknown(name) => format!("unknown capability \"{name}\" (known: {NAMES})"),
        other => other.to_string(),
    })
}

/// Like [`parse_capability`] but keeps the error kind, so the config loader can tell
/// an unknown name (warning) from bad arguments (error).
///
/// # Errors
/// [`CapabilityError`] saying which of the three went wrong.
pub fn try_parse_capability(
    words: &[&str],
    base_dir: &Path,
) -> Result<Capability, CapabilityError> {
    let (name, args) = words.split_first().ok_or(CapabilityError::Missing)?;
    let lname = name.to_ascii_lowercase();
    let cap = match lname.as_str() {
        "log.read" => no_args(&lname, args, Capability::LogRead)?,
        "config.read" => Capability::ConfigRead { keys: config_keys(args)? },
        "files.read" => Capability::FilesRead {
            paths: paths(&lname, args, base_dir)?,
        },
        "files.write" => Capability::FilesWrite {
            paths: paths(&lname, args, base_dir)?,
        },
        "listen" => Capability::Listen {
            ports: ports(args)?,
        },
        "mailman.read" => Capability::MailmanRead {
            domains: scope(&lname, args, "domains")?,
        },
        "mailman.write" => Capability::MailmanWrite {
            domains: scope(&lname, args, "domains")?,
        },
        "services.control" => Capability::ServicesControl {
            services: scope(&lname, args, "services")?,
        },
        "hook" => Capability::Hook {
            services: at_least_one(&lname, "service name", lower(args))?,
        },
        "dns" => no_args(&lname, args, Capability::Dns)?,
        "sendmail" => Capability::SendMail {
            domains: scope(&lname, args, "domains")?,
        },
        "tenant" => Capability::Tenant {
            domains: tenant_domains(args)?,
        },
        _ => return Err(CapabilityError::Unknown((*name).to_string())),
    };
    Ok(cap)
}

fn no_args(name: &str, args: &[&str], cap: Capability) -> Result<Capability, CapabilityError> {
    if !args.is_empty() {
        let got = args.join(" ");
        return Err(CapabilityError::Invalid(format!(
            "{name} takes no arguments, got \"{got}\""
        )));
    }
    Ok(cap)
}

fn lower(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_ascii_lowercase()).collect()
}

fn at_least_one<T>(name: &str, what: &str, items: Vec<T>) -> Result<Vec<T>, CapabilityError> {
    if items.is_empty() {
        return Err(CapabilityError::Invalid(format!(
            "{name} needs at least one {what}"
        )));
    }
    Ok(items)
}

/// What a scoped capability covers (`what`: "domains" or "services"): named
/// ones, or `*` alone. Never empty, so leaving the list out grants nothing.
fn scope(name: &str, args: &[&str], what: &str) -> Result<Vec<String>, CapabilityError> {
    let items = lower(args);
    if items.is_empty() {
        return Err(CapabilityError::Invalid(format!(
            "{name} needs the {what} it covers; write \"{name} *\" for all {what}"
        )));
    }
    if items.len() > 1 && items.iter().any(|i| i == "*") {
        return Err(CapabilityError::Invalid(format!(
            "{name}: \"*\" already means all {what}; write it alone"
        )));
    }
    Ok(items)
}

/// A tenant owns named domains; "all domains" is no tenant at all.
fn tenant_domains(args: &[&str]) -> Result<Vec<String>, CapabilityError> {
    let domains = at_least_one("tenant", "domain", lower(args))?;
    if domains.iter().any(|d| d == ALL_DOMAINS) {
        return Err(CapabilityError::Invalid(
            "tenant: name the tenant's domains (\"*\" is not a tenant)".into(),
        ));
    }
    Ok(domains)
}

fn paths(name: &str, args: &[&str], base: &Path) -> Result<Vec<PathBuf>, CapabilityError> {
    let resolved = args
        .iter()
        .map(|a| super::parse::resolve_in(base, a))
        .collect();
    at_least_one(name, "path", resolved)
}

fn ports(args: &[&str]) -> Result<Vec<u16>, CapabilityError> {
    let ports = args
        .iter()
        .map(|a| match a.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(CapabilityError::Invalid(format!(
                "listen: \"{a}\" is not a port number 1-65535"
            ))),
        })
        .collect::<Result<Vec<u16>, _>>()?;
    at_least_one("listen", "port", ports)
}

impl Capability {
    /// The config-syntax name, e.g. `files.read`.
    pub fn name(&self) -> &'static str {
        match self {
            Capability::LogRead => "log.read",
            Capability::ConfigRead { .. } => "config.read",
            Capability::FilesRead { .. } => "files.read",
            Capability::FilesWrite { .. } => "files.write",
            Capability::Listen { .. } => "listen",
            Capability::MailmanRead { .. } => "mailman.read",
            Capability::MailmanWrite { .. } => "mailman.write",
            Capability::ServicesControl { .. } => "services.control",
            Capability::Hook { .. } => "hook",
            Capability::Dns => "dns",
            Capability::SendMail { .. } => "sendmail",
            Capability::Tenant { .. } => "tenant",
        }
    }

    /// The arguments as config words.
    fn args(&self) -> Vec<String> {
        match self {
            Capability::ConfigRead { keys } => keys.clone(),
            Capability::FilesRead { paths } | Capability::FilesWrite { paths } => {
                paths.iter().map(|p| p.display().to_string()).collect()
            }
            Capability::Listen { ports } => ports.iter().map(u16::to_string).collect(),
            Capability::MailmanRead { domains }
            | Capability::MailmanWrite { domains }
            | Capability::SendMail { domains }
            | Capability::Tenant { domains } => domains.clone(),
            Capability::Hook { services } | Capability::ServicesControl { services } => services.clone(),
            Capability::LogRead | Capability::Dns => Vec::new(),
        }
    }
}

/// Writes the capability back in config syntax, e.g. `listen 2580 2581`.
impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        for arg in self.args() {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// Everything one script may do. Empty (the default) denies everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantSet {
    /// Granted capabilities in config order; duplicates are harmless.
    pub caps: Vec<Capability>,
}

/// Whether `domain` is covered by a domain list ([`ALL_DOMAINS`] covers any).
fn domain_allowed(domains: &[String], domain: &str) -> bool {
    domains.iter().any(|d| d == ALL_DOMAINS || d.eq_ignore_ascii_case(domain))
}

impl GrantSet {
    /// Add a granted capability. A second `tenant` line adds its domains to
    /// the first, so a script has one tenant domain list ([`GrantSet::tenant_domains`]).
    pub fn add(&mut self, cap: Capability) {
        if let Capability::Tenant { domains: more } = &cap
            && let Some(Capability::Tenant { domains }) =
                self.caps.iter_mut().find(|c| matches!(c, Capability::Tenant { .. }))
        {
            for d in more {
                if !domains.contains(d) {
                    domains.push(d.clone());
                }
            }
            return;
        }
        self.caps.push(cap);
    }

    /// The tenant's domains, when the script is a tenant's (`tenant DOMAIN...`);
    /// None when it is not, and its grants mean what they say.
    pub fn tenant_domains(&self) -> Option<&[String]> {
        self.caps.iter().find_map(|c| match c {
            Capability::Tenant { domains } => Some(domains.as_slice()),
            _ => None,
        })
    }

    /// Whether the tenant limit (if any) lets the script near `domain`.
    fn within_tenancy(&self, domain: &str) -> bool {
        // Every tenant line limits (intersection), even one pushed directly.
        self.caps.iter().all(|c| match c {
            Capability::Tenant { domains } => domain_allowed(domains, domain),
            _ => true,
        })
    }

    /// Whether any mailman grant was given at all (for calls that list what
    /// the script may see: none at all is a denial, not an empty list).
    pub fn has_mailman_read(&self) -> bool {
        self.caps
            .iter()
            .any(|c| matches!(c, Capability::MailmanRead { .. } | Capability::MailmanWrite { .. }))
    }

    /// `Rumble.getLog`.
    pub fn allows_log_read(&self) -> bool {
        self.caps.contains(&Capability::LogRead)
    }

    /// `Rumble.readConfig(key)`.
    pub fn allows_config_read(&self, key: &str) -> bool {
        self.caps.iter().any(|c| match c {
            Capability::ConfigRead { keys } if keys.is_empty() => is_public(key),
            Capability::ConfigRead { keys } => {
                !SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(key)) && keys.iter().any(|k| k.eq_ignore_ascii_case(key))
            }
            _ => false,
        })
    }

    /// `Rumble.createService` on `port`.
    pub fn allows_listen(&self, port: u16) -> bool {
        self.caps
            .iter()
            .any(|c| matches!(c, Capability::Listen { ports } if ports.contains(&port)))
    }

    /// Paths granted read-only (`files.read`). Paths from `files.write` are readable
    /// too but are listed only by [`GrantSet::write_paths`], so a caller that mounts
    /// both lists never mounts one folder twice with different permissions.
    pub fn read_paths(&self) -> Vec<&Path> {
        self.caps
            .iter()
            .flat_map(|c| match c {
                Capability::FilesRead { paths } => paths.as_slice(),
                _ => &[],
            })
            .map(PathBuf::as_path)
            .collect()
    }

    /// Paths granted read-write (`files.write`).
    pub fn write_paths(&self) -> Vec<&Path> {
        self.caps
            .iter()
            .flat_map(|c| match c {
                Capability::FilesWrite { paths } => paths.as_slice(),
                _ => &[],
            })
            .map(PathBuf::as_path)
            .collect()
    }

    /// Reading mail data of `domain` (write grants include read), within the
    /// tenant's domains.
    pub fn allows_mailman_read(&self, domain: &str) -> bool {
        self.within_tenancy(domain)
            && self.caps.iter().any(|c| match c {
                Capability::MailmanRead { domains } | Capability::MailmanWrite { domains } => {
                    domain_allowed(domains, domain)
                }
                _ => false,
            })
    }

    /// Changing mail data of `domain`, within the tenant's domains.
    pub fn allows_mailman_write(&self, domain: &str) -> bool {
        self.within_tenancy(domain)
            && self.caps.iter().any(|c| matches!(c, Capability::MailmanWrite { domains } if domain_allowed(domains, domain)))
    }

    /// `Rumble.setHook` on `service` (case-insensitive).
    pub fn allows_hook(&self, service: &str) -> bool {
        self.caps.iter().any(|c| match c {
            Capability::Hook { services } => {
                services.iter().any(|s| s.eq_ignore_ascii_case(service))
            }
            _ => false,
        })
    }

    /// DNS lookups.
    pub fn allows_dns(&self) -> bool {
        self.caps.contains(&Capability::Dns)
    }

    /// `Rumble.startService` and the other calls on one named `service`.
    pub fn allows_services_control(&self, service: &str) -> bool {
        self.controlled_services()
            .any(|s| s == ALL_SERVICES || s.eq_ignore_ascii_case(service))
    }

    /// `services.control *`: every service, and the server-wide calls
    /// (listModules reveals every script's grants; reloadConfiguration changes the server).
    pub fn allows_all_services(&self) -> bool {
        self.controlled_services().any(|s| s == ALL_SERVICES)
    }

    fn controlled_services(&self) -> impl Iterator<Item = &String> {
        self.caps.iter().flat_map(|c| match c {
            Capability::ServicesControl { services } => services.as_slice(),
            _ => &[],
        })
    }

    /// `Mailman.sendMail` from a sender of `domain`, within the tenant's domains.
    pub fn allows_sendmail(&self, domain: &str) -> bool {
        self.within_tenancy(domain)
            && self.caps.iter().any(
                |c| matches!(c, Capability::SendMail { domains } if domain_allowed(domains, domain)),
            )
    }
}

/// Whether `config.read` without arguments reveals `key`.
/// Keys no grant reveals: the store's passwords (the database would let a
/// script read every tenant's mail).
pub const SECRET_KEYS: &[&str] = &["postgresqlpass", "mysqlpass"];

fn config_keys(args: &[&str]) -> Result<Vec<String>, CapabilityError> {
    let keys = lower(args);
    match keys.iter().find(|k| SECRET_KEYS.contains(&k.as_str())) {
        Some(secret) => Err(CapabilityError::Invalid(format!("config.read: \"{secret}\" is a password no script may read"))),
        None => Ok(keys),
    }
}

pub fn is_public(key: &str) -> bool {
    PUBLIC_KEYS.iter().any(|s| s.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(line: &str) -> Result<Capability, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_capability(&words, Path::new("/etc/rumble"))
    }

    fn set(lines: &[&str]) -> GrantSet {
        let caps = lines.iter().map(|l| cap(l)).collect::<Result<Vec<_>, _>>();
        match caps {
            Ok(caps) => GrantSet { caps },
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parses_every_capability() {
        let p = |s: &str| PathBuf::from(s);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&str, Capability)> = vec![
            ("log.read", Capability::LogRead),
            ("config.read", Capability::ConfigRead { keys: vec![] }),
            (
                "config.read ServerName SMTPPort",
                Capability::ConfigRead {
                    keys: s(&["servername", "smtpport"]),
                },
            ),
            (
                "files.read data /tmp/x",
                Capability::FilesRead {
                    paths: vec![p("/etc/rumble/data"), p("/tmp/x")],
                },
            ),
            (
                "files.write out",
                Capability::FilesWrite {
                    paths: vec![p("/etc/rumble/out")],
                },
            ),
            (
                "listen 2580 8080",
                Capability::Listen {
                    ports: vec![2580, 8080],
                },
            ),
            ("mailman.read *", Capability::MailmanRead { domains: s(&["*"]) }),
            (
                "mailman.read Example.COM b.org",
                Capability::MailmanRead {
                    domains: s(&["example.com", "b.org"]),
                },
            ),
            (
                "mailman.write a.org",
                Capability::MailmanWrite {
                    domains: s(&["a.org"]),
                },
            ),
            (
                "mailman.write *",
                Capability::MailmanWrite { domains: s(&["*"]) },
            ),
            (
                "services.control SMTP ctl:2580",
                Capability::ServicesControl {
                    services: s(&["smtp", "ctl:2580"]),
                },
            ),
            ("services.control *", Capability::ServicesControl { services: s(&["*"]) }),
            (
                "hook SMTP pop3 imap4",
                Capability::Hook {
                    services: s(&["smtp", "pop3", "imap4"]),
                },
            ),
            ("dns", Capability::Dns),
            ("sendmail *", Capability::SendMail { domains: s(&["*"]) }),
            (
                "tenant Example.com b.org",
                Capability::Tenant {
                    domains: s(&["example.com", "b.org"]),
                },
            ),
            (
                "sendmail A.org",
                Capability::SendMail {
                    domains: s(&["a.org"]),
                },
            ),
        ];
        for (line, want) in cases {
            assert_eq!(cap(line), Ok(want), "{line}");
        }
    }

    #[test]
    fn capability_names_are_case_insensitive() {
        assert_eq!(cap("LOG.Read"), Ok(Capability::LogRead));
        assert_eq!(cap("DNS"), Ok(Capability::Dns));
        assert_eq!(cap("Listen 25"), Ok(Capability::Listen { ports: vec![25] }));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert_eq!(
            cap("listen abc"),
            Err("listen: \"abc\" is not a port number 1-65535".into())
        );
        assert_eq!(
            cap("listen 0"),
            Err("listen: \"0\" is not a port number 1-65535".into())
        );
        assert_eq!(
            cap("listen 70000"),
            Err("listen: \"70000\" is not a port number 1-65535".into())
        );
        assert_eq!(cap("listen"), Err("listen needs at least one port".into()));
        assert_eq!(
            cap("files.read"),
            Err("files.read needs at least one path".into())
        );
        assert_eq!(
            cap("files.write"),
            Err("files.write needs at least one path".into())
        );
        assert_eq!(
            cap("hook"),
            Err("hook needs at least one service name".into())
        );
        assert_eq!(
            cap("log.read everything"),
            Err("log.read takes no arguments, got \"everything\"".into())
        );
        assert_eq!(
            cap("dns 8.8.8.8"),
            Err("dns takes no arguments, got \"8.8.8.8\"".into())
        );
        assert_eq!(cap(""), Err("missing capability name".into()));
    }

    #[test]
    fn unknown_capability_is_distinguished() {
        let words = ["root", "x"];
        assert_eq!(
            try_parse_capability(&words, Path::new("/")),
            Err(CapabilityError::Unknown("root".into()))
        );
        assert_eq!(
            cap("root"),
            Err(format!("unknown capability \"root\" (known: {NAMES})"))
        );
        assert_eq!(
            try_parse_capability(&["listen", "x"], Path::new("/")),
            Err(CapabilityError::Invalid(
                "listen: \"x\" is not a port number 1-65535".into()
            ))
        );
    }

    #[test]
    fn display_round_trips() {
        for line in [
            "log.read",
            "config.read",
            "config.read servername",
            "files.read /a /b",
            "files.write /c",
            "listen 2580 2581",
            "mailman.read *",
            "mailman.write example.com",
            "tenant a.org b.org",
            "services.control smtp pop3",
            "services.control *",
            "hook smtp imap4",
            "dns",
            "sendmail a.org b.org",
        ] {
            let parsed = match cap(line) {
                Ok(c) => c,
                Err(e) => panic!("{e}"),
            };
            assert_eq!(parsed.to_string(), line);
            assert_eq!(cap(&parsed.to_string()), Ok(parsed));
        }
    }

    #[test]
    fn empty_set_denies_everything() {
        let g = GrantSet::default();
        assert!(!g.allows_log_read());
        assert!(!g.allows_config_read("servername"));
        assert!(!g.allows_listen(2580));
        assert!(g.read_paths().is_empty());
        assert!(g.write_paths().is_empty());
        assert!(!g.allows_mailman_read("a.org"));
        assert!(!g.allows_mailman_write("a.org"));
        assert!(!g.allows_hook("smtp"));
        assert!(!g.allows_dns());
        assert!(!g.allows_services_control("smtp"));
        assert!(!g.allows_all_services());
        assert!(!g.allows_sendmail("a.org"));
    }

    #[test]
    fn config_read_without_keys_reveals_only_public_keys() {
        let all = set(&["config.read"]);
        assert!(all.allows_config_read("servername"));
        assert!(all.allows_config_read("SMTPPort"));
        assert!(!all.allows_config_read("mysqlpass"));
        assert!(!all.allows_config_read("MySQLPass"));
        assert!(!all.allows_config_read("tlskey"));
        // Operator-defined settings and the script lines are not public.
        assert!(!all.allows_config_read("weatherapikey"));
        assert!(!all.allows_config_read("loadscript"));
        assert!(!all.allows_config_read("grant"));
        assert!(!all.allows_config_read("datafolder"));
        let some = set(&["config.read ServerName weatherapikey"]);
        assert!(some.allows_config_read("servername"));
        assert!(some.allows_config_read("WeatherAPIKey"));
        assert!(!some.allows_config_read("smtpport"));
        // The store's passwords cannot be granted at all.
        for secret in ["PostgreSQLPass", "mysqlpass"] {
            let err = cap(&format!("config.read ServerName {secret}")).unwrap_err();
            assert!(err.contains("no script may read"), "{err}");
        }
    }

    #[test]
    fn helpers_follow_grants() {
        let g = set(&[
            "log.read",
            "listen 2580",
            "hook smtp",
            "dns",
        ]);
        assert!(g.allows_log_read());
        assert!(g.allows_listen(2580));
        assert!(!g.allows_listen(2581));
        assert!(g.allows_hook("SMTP"));
        assert!(!g.allows_hook("pop3"));
        assert!(g.allows_dns());
    }

    #[test]
    fn services_control_covers_the_named_services() {
        let g = set(&["services.control smtp", "services.control Ctl:2580"]);
        assert!(g.allows_services_control("SMTP") && g.allows_services_control("ctl:2580"));
        assert!(!g.allows_services_control("pop3") && !g.allows_services_control("*"));
        assert!(!g.allows_all_services());
        let all = set(&["services.control *"]);
        assert!(all.allows_services_control("anything") && all.allows_all_services());
    }

    #[test]
    fn all_services_must_be_written_as_a_star() {
        assert_eq!(
            cap("services.control"),
            Err("services.control needs the services it covers; \
                 write \"services.control *\" for all services"
                .into())
        );
        assert_eq!(
            cap("services.control smtp *"),
            Err("services.control: \"*\" already means all services; write it alone".into())
        );
    }

    #[test]
    fn file_grants_split_read_only_and_read_write() {
        let g = set(&["files.read /r", "files.write /w", "files.read /r2"]);
        assert_eq!(g.read_paths(), vec![Path::new("/r"), Path::new("/r2")]);
        assert_eq!(g.write_paths(), vec![Path::new("/w")]);
    }

    #[test]
    fn mailman_domains_limit_access_and_write_implies_read() {
        let g = set(&["mailman.read a.org", "mailman.write b.org"]);
        assert!(g.allows_mailman_read("A.ORG"));
        assert!(g.allows_mailman_read("b.org"));
        assert!(!g.allows_mailman_read("c.org"));
        assert!(!g.allows_mailman_write("a.org"));
        assert!(g.allows_mailman_write("B.org"));
        let all = set(&["mailman.write *"]);
        assert!(all.allows_mailman_read("any.org"));
        assert!(all.allows_mailman_write("any.org"));
        assert!(all.has_mailman_read() && !set(&["sendmail *"]).has_mailman_read());
    }

    #[test]
    fn sendmail_domains() {
        let g = set(&["sendmail a.org"]);
        assert!(g.allows_sendmail("A.org"));
        assert!(!g.allows_sendmail("b.org"));
        assert!(set(&["sendmail *"]).allows_sendmail("b.org"));
    }

    #[test]
    fn all_domains_must_be_written_as_a_star() {
        for name in ["mailman.read", "mailman.write", "sendmail"] {
            let err = cap(name).unwrap_err();
            assert!(err.contains(&format!("write \"{name} *\" for all domains")), "{err}");
            let err = cap(&format!("{name} * a.org")).unwrap_err();
            assert!(err.contains("write it alone"), "{err}");
        }
        assert_eq!(cap("tenant"), Err("tenant needs at least one domain".into()));
        assert!(cap("tenant *").unwrap_err().contains("is not a tenant"));
    }

    #[test]
    fn tenant_limits_every_mailman_grant_to_its_domains() {
        let g = set(&["mailman.write *", "sendmail *", "tenant a.org"]);
        assert_eq!(g.tenant_domains(), Some(&["a.org".to_string()][..]));
        assert!(g.allows_mailman_read("A.org") && g.allows_mailman_write("a.org") && g.allows_sendmail("a.org"));
        assert!(!g.allows_mailman_read("b.org") && !g.allows_mailman_write("b.org") && !g.allows_sendmail("b.org"));
        // The intersection: a tenant does not gain what it was not granted.
        let narrow = set(&["mailman.read a.org", "tenant a.org b.org"]);
        assert!(narrow.allows_mailman_read("a.org") && !narrow.allows_mailman_read("b.org"));
        assert!(!narrow.allows_mailman_write("a.org") && !narrow.allows_sendmail("a.org"));
        assert_eq!(set(&["mailman.read *"]).tenant_domains(), None);
    }

    #[test]
    fn tenant_lines_add_up_to_one_list() {
        let mut g = GrantSet::default();
        for line in ["mailman.read *", "tenant a.org", "tenant b.org a.org"] {
            g.add(cap(line).unwrap());
        }
        let want: Vec<String> = vec!["a.org".into(), "b.org".into()];
        assert_eq!(g.tenant_domains(), Some(want.as_slice()));
        assert!(g.allows_mailman_read("b.org") && !g.allows_mailman_read("c.org"));
        assert_eq!(g.caps.len(), 2);
    }
}
