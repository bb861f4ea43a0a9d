//! Command line: `rumble serve`, `rumble check-config`, `rumble script run`.

mod admin;
mod check;
mod script_run;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rumble", version, about = "Rumble mail server: every Lua script in its own WebAssembly sandbox")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// rumble.conf to use (default: ./rumble.conf, ./config/rumble.conf,
    /// /etc/rumble/rumble.conf). For `script run`: limits, readConfig values
    /// and the base folder come from it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Parse and validate a config; print warnings, scripts and their grants.
    CheckConfig {
        file: PathBuf,
    },
    /// Plugin authors' tools.
    #[command(subcommand)]
    Script(ScriptCommand),
    /// Manage domains in the store.
    Domain {
        #[command(subcommand)]
        command: admin::DomainCommand,
    },
    /// Manage accounts in the store.
    Account {
        #[command(subcommand)]
        command: admin::AccountCommand,
    },
    /// Look at the delivery queue.
    Queue {
        #[command(subcommand)]
        command: admin::QueueCommand,
    },
}

#[derive(Subcommand)]
enum ScriptCommand {
    /// Run a script in the same sandbox the server uses; print what it prints.
    Run(ScriptRunArgs),
}

#[derive(Args)]
pub struct ScriptRunArgs {
    /// The Lua script, then the arguments for its `arg` table. The options
    /// below (and --config) may also come after FILE.lua, up to a `--`;
    /// everything after `--`, and every word that is not one of them, goes
    /// to the script.
    // Taken raw, file included: clap would swallow a `--` right after a
    // separate FILE positional, and once the first script argument is seen
    // it stops recognising options. `script_run::split_command` sorts it out.
    #[arg(
        value_name = "FILE.lua [ARGS]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
    /// Grant a capability, in rumble.conf's syntax: --grant "files.read /srv/data".
    #[arg(long = "grant", value_name = "CAP")]
    grants: Vec<String>,
    /// CPU budget for each call into the script, e.g. 500ms, 2s.
    #[arg(long, value_name = "DURATION")]
    cpu_limit: Option<String>,
    /// Memory limit of the script's instance, e.g. 32M.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None | Some(Command::Serve) => serve::run(cli.config).await,
        Some(Command::CheckConfig { file }) => check::run(&file),
        Some(Command::Script(ScriptCommand::Run(args))) => script_run::run(args, cli.config).await,
        Some(Command::Domain { command }) => admin::domain(cli.config, command).await,
        Some(Command::Account { command }) => admin::account(cli.config, command).await,
        Some(Command::Queue { command }) => admin::queue(cli.config, command).await,
    }
}

/// --config, else the usual places.
fn find_config(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path);
    }
    let candidates = ["rumble.conf", "config/rumble.conf", "/etc/rumble/rumble.conf"];
    for c in candidates {
        if Path::new(c).is_file() {
            return Ok(PathBuf::from(c));
        }
    }
    anyhow::bail!("no config file: pass --config FILE (looked for {})", candidates.join(", "))
}

/// The store `settings` name: embedded SQLite in DataFolder, or a
/// PostgreSQL database. MySQL is refused rather than silently replaced.
async fn open_store(settings: &crate::config::Settings) -> anyhow::Result<crate::store::Store> {
    use crate::config::{DatabaseEngine, MessageStore};
    use crate::store::{Store, blobs::BlobStore};
    match settings.database_engine {
        DatabaseEngine::Sqlite if settings.message_store == Some(MessageStore::Database) => {
            anyhow::bail!("MessageStore database needs DatabaseEngine postgresql; with sqlite bodies are files (MessageStore folder)")
        }
        DatabaseEngine::Sqlite => Ok(Store::open(&settings.data_folder, &settings.storage_folder)?),
        DatabaseEngine::Postgresql => {
            let blobs = match settings.message_store {
                Some(MessageStore::Folder) => BlobStore::Folder,
                _ => BlobStore::Database,
            };
            Ok(Store::open_postgres(&settings.postgresql, &settings.data_folder, &settings.storage_folder, blobs).await?)
        }
        DatabaseEngine::Mysql => {
            anyhow::bail!("DatabaseEngine mysql is not supported by this build; use sqlite (the default) or postgresql")
        }
    }
}

/// The folder the `rumble` executable lives in (Rumble's `execpath`).
fn exec_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where compiled guests are cached when no config says: $RUMBLE_CACHE_DIR,
/// else $XDG_CACHE_HOME/rumble, else ~/.cache/rumble.
fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RUMBLE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("rumble"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/rumble"))
}
