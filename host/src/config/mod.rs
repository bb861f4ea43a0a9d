//! `rumble.conf`: the original Rumble syntax and directives plus our own (TLS,
//! submission ports, script grants and limits).
//!
//! - [`parse`]: the raw `Key Value` format with `<if>` blocks, giving a [`RawConfig`];
//!   `raw.get(key)` (lower-case keys, first occurrence wins, built-ins last) is what
//!   Lua's `Rumble.readConfig(key)` returns.
//! - [`settings`]: typed, validated [`Settings`] plus [`Warning`]s.
//! - [`grants`]: the capability vocabulary of `Grant` lines.

pub mod grants;
pub mod parse;
pub mod settings;

use std::path::Path;

pub use grants::{Capability, CapabilityError, GrantSet, parse_capability};
pub use parse::{ConfigError, Entry, ErrorKind, RawConfig, parse_file, parse_str};
pub use settings::{
    DEFAULT_MAX_CONNECTIONS_PER_IP,
    DatabaseEngine, Listener, MessageStore, ModuleSpec, MySqlSettings, OnError, PostgresSettings, ScriptLimits, ScriptSpec, Secret, Settings,
    Warning, from_raw,
};

/// A loaded config: the raw entries (for `Rumble.readConfig`), the typed settings,
/// and the warnings the caller should log (together with `raw.comments`).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub raw: RawConfig,
    pub settings: Settings,
    pub warnings: Vec<Warning>,
}

/// Reads, parses and validates the config file at `path`. `execpath` is the folder of
/// the running executable (the `execpath` built-in key).
///
/// # Errors
/// Any [`ConfigError`] from [`parse_file`] or [`from_raw`].
pub fn load(path: &Path, execpath: &Path) -> Result<Loaded, ConfigError> {
    finish(parse_file(path, execpath)?)
}

/// Like [`load`] for text already in memory; `file` names it in messages and sets
/// the folder relative paths are resolved against. Handy in tests.
///
/// # Errors
/// Any [`ConfigError`] from [`parse_str`] or [`from_raw`].
pub fn load_str(text: &str, file: &Path, execpath: &Path) -> Result<Loaded, ConfigError> {
    finish(parse_str(text, file, execpath)?)
}

fn finish(raw: RawConfig) -> Result<Loaded, ConfigError> {
    let (settings, warnings) = from_raw(&raw)?;
    Ok(Loaded {
        raw,
        settings,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn load_reads_a_file_with_comments_and_warnings() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let file = dir.path().join("rumble.conf");
        let text = "\
# Rumble test config
ServerName Mail.Example.org
Comment starting up
<if compare(architecture >= 32)>
  EnableSMTP 1
  SMTPPort 2525
</if>
LoadScript plugins/admin/admin.lua
Grant admin config.read
Bogus 1
";
        if let Err(e) = std::fs::write(&file, text) {
            panic!("{e}");
        }
        let loaded = match load(&file, Path::new("/opt/rumble")) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(loaded.raw.get("ServerName"), Some("Mail.Example.org"));
        assert_eq!(loaded.raw.get("execpath"), Some("/opt/rumble"));
        assert_eq!(loaded.raw.comments, vec![(3, "starting up".to_string())]);
        assert_eq!(
            loaded.settings.smtp,
            Listener {
                enabled: true,
                port: 2525
            }
        );
        assert_eq!(loaded.settings.data_folder, dir.path().join("db"));
        let admin = loaded
            .settings
            .script("admin")
            .map(|s| (s.path.clone(), s.grants.allows_config_read("smtpport")));
        assert_eq!(
            admin,
            Some((dir.path().join("plugins/admin/admin.lua"), true))
        );
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![format!(
                "{}:10: unknown directive \"bogus\" (ignored)",
                file.display()
            )]
        );
    }

    #[test]
    fn load_reports_errors_with_file_and_line() {
        let missing = PathBuf::from("/nonexistent/rumble.conf");
        let e = load(&missing, Path::new("/x"))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            matches!(&e, Err(m) if m.starts_with("/nonexistent/rumble.conf: cannot read the config file: ")),
            "{e:?}"
        );
        let e = load_str(
            "\n\nSMTPPort abc\n",
            Path::new("rumble.conf"),
            Path::new("/x"),
        )
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("rumble.conf:3: SMTPPort: expected a port number 1-65535, got \"abc\"".to_string())
        );
        let e = load_str(
            "<if defined(a)>\n",
            Path::new("rumble.conf"),
            Path::new("/x"),
        )
        .map(|_| ())
        .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("rumble.conf:1: <if> is never closed (missing </if>)".to_string())
        );
    }
}
