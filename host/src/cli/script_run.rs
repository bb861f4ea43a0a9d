//! `rumble script run FILE.lua`: run a script in the same sandbox, with the
//! same limits and grants as the server would give it. Prints what it
//! prints; on failure prints the Lua error (with file and line) and exits 1.
//! If the script created services, they serve until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};

use super::ScriptRunArgs;
use crate::config::settings::{TimeUnit, parse_duration, parse_size};
use crate::config::{self, GrantSet, ScriptLimits, ScriptSpec};
use crate::plugins::{Runtime, Script, ScriptInfo, ServerEnv};
use crate::services::ServiceManager;

/// What `rumble script run` was asked for, with the options written after
/// FILE.lua taken out of the script's arguments.
struct Request {
    file: PathBuf,
    args: Vec<String>,
    grants: Vec<String>,
    cpu_limit: Option<String>,
    memory_limit: Option<String>,
    config: Option<PathBuf>,
}

pub async fn run(args: ScriptRunArgs, config: Option<PathBuf>) -> Result<ExitCode> {
    crate::log::init(crate::log::MIN_LINES, "warn");
    let args = split_command(args, config)?;
    let config = args.config.clone();
    let loaded = match &config {
        Some(path) => Some(config::load(path, &super::exec_dir()).map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let base_dir = match &config {
        Some(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => std::env::current_dir().context("current folder")?,
    };
    let base_dir = std::path::absolute(&base_dir).unwrap_or(base_dir);
    let spec = spec_for(&args, &base_dir, loaded.as_ref())?;
    let bind = loaded.as_ref().map(|l| l.settings.bind_to_address);
    let services = ServiceManager::new(bind.unwrap_or([127, 0, 0, 1].into()));
    // With a config the script gets the server's store, so `kv.*`,
    // `Mailman.*` and the other store-backed calls behave as served.
    let store = match &loaded {
        Some(l) => Some(super::open_store(&l.settings).await?),
        None => None,
    };
    let env = Arc::new(ServerEnv {
        store,
        config_path: config.clone(),
        settings: loaded.as_ref().map(|l| Arc::new(l.settings.clone())),
        config: loaded.map(|l| Arc::new(l.raw)),
        ..ServerEnv::new(base_dir, services.clone(), true)
    });
    let runtime = Runtime::new(super::default_cache_dir().as_deref())?;
    let info = ScriptInfo { spec, env, args: args.args.clone(), folder: crate::plugins::FolderAccess::Readable };
    let script = match Script::load(runtime, info).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if !services.list().is_empty() {
        eprintln!("serving {} service(s) of {}; Ctrl-C to stop", services.list().len(), script.name());
        let _ = tokio::signal::ctrl_c().await;
        services.shutdown(std::time::Duration::from_secs(2)).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Picks our options out of the words after FILE.lua, so they work in any
/// position; `--` ends them, and words that are none of them are the
/// script's (`f.lua -x` passes `-x`, `f.lua -- --grant x` passes both).
fn split_command(cli: ScriptRunArgs, config: Option<PathBuf>) -> Result<Request> {
    let mut words = cli.command.into_iter();
    let file = words.next().ok_or_else(|| anyhow!("script run: FILE.lua is missing"))?;
    let mut req = Request {
        file: PathBuf::from(file),
        args: Vec::new(),
        grants: cli.grants,
        cpu_limit: cli.cpu_limit,
        memory_limit: cli.memory_limit,
        config,
    };
    while let Some(word) = words.next() {
        if word == "--" {
            req.args.extend(words);
            break;
        }
        if !req.take_option(&word, &mut words)? {
            req.args.push(word);
        }
    }
    Ok(req)
}

impl Request {
    /// Applies `word` if it is one of our options, with its value after `=`
    /// or in the next word. False if it is not ours.
    fn take_option(&mut self, word: &str, rest: &mut impl Iterator<Item = String>) -> Result<bool> {
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (word, None),
        };
        if !matches!(name, "--grant" | "--cpu-limit" | "--memory-limit" | "--config") {
            return Ok(false);
        }
        let Some(value) = inline.or_else(|| rest.next()) else {
            bail!("{name} needs a value");
        };
        match name {
            "--grant" => self.grants.push(value),
            "--cpu-limit" => self.cpu_limit = Some(value),
            "--memory-limit" => self.memory_limit = Some(value),
            _ => self.config = Some(PathBuf::from(value)),
        }
        Ok(true)
    }
}

/// A CPU share no single script can use up (64 cores, the most `ScriptCPUShare` takes).
const NO_SHARE_LIMIT: u32 = 64_000;

fn spec_for(args: &Request, base_dir: &Path, loaded: Option<&config::Loaded>) -> Result<ScriptSpec> {
    let path = std::path::absolute(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
    let mut limits = match loaded {
        Some(l) => l.settings.script_defaults,
        None => ScriptLimits::default(),
    };
    // No CPU share here: there is no server beside the script to protect,
    // and a plugin author timing their code wants all of a core.
    limits.cpu_share_permille = NO_SHARE_LIMIT;
    if let Some(cpu) = &args.cpu_limit {
        limits.cpu = parse_duration(cpu, TimeUnit::Millis).ok_or_else(|| anyhow!("--cpu-limit: expected a duration like 500ms or 2s, got {cpu:?}"))?;
    }
    if let Some(mem) = &args.memory_limit {
        limits.memory = parse_size(mem).ok_or_else(|| anyhow!("--memory-limit: expected a size like 32M, got {mem:?}"))?;
    }
    let mut grants = GrantSet::default();
    for g in &args.grants {
        let words: Vec<&str> = g.split_whitespace().collect();
        let cap = config::parse_capability(&words, base_dir).map_err(|e| anyhow!("--grant {g:?}: {e}"))?;
        grants.add(cap);
    }
    Ok(ScriptSpec {
        name,
        path_written: args.file.display().to_string(),
        path,
        line: 0,
        grants,
        limits,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, ScriptCommand};

    fn parse(words: &[&str]) -> Request {
        let cli = Cli::try_parse_from(["rumble", "script", "run"].iter().chain(words)).expect("parses");
        match cli.command {
            Some(Command::Script(ScriptCommand::Run(args))) => split_command(args, cli.config).expect("splits"),
            _ => panic!("not script run"),
        }
    }

    #[test]
    fn options_before_and_after_the_file_are_ours() {
        let r = parse(&["--grant", "log.read", "f.lua", "a", "--grant", "dns", "b", "--cpu-limit=2s", "--config", "x.conf"]);
        assert_eq!(r.file, PathBuf::from("f.lua"));
        assert_eq!(r.args, ["a", "b"]);
        assert_eq!(r.grants, ["log.read", "dns"]);
        assert_eq!(r.cpu_limit.as_deref(), Some("2s"));
        assert_eq!(r.config, Some(PathBuf::from("x.conf")));
    }

    #[test]
    fn everything_after_double_dash_and_unknown_words_go_to_the_script() {
        let r = parse(&["f.lua", "-x", "--memory-limit", "8M", "--", "--grant", "x", "--"]);
        assert_eq!(r.args, ["-x", "--grant", "x", "--"]);
        assert_eq!(r.memory_limit.as_deref(), Some("8M"));
        assert!(r.grants.is_empty());
        let r = parse(&["f.lua", "--", "--grant", "x"]);
        assert_eq!(r.args, ["--grant", "x"]);
        assert!(r.grants.is_empty());
    }

    #[test]
    fn an_option_without_its_value_is_an_error() {
        let cli = Cli::try_parse_from(["rumble", "script", "run", "f.lua", "--grant"]).expect("parses");
        let Some(Command::Script(ScriptCommand::Run(args))) = cli.command else { panic!() };
        let err = split_command(args, None).err().expect("an error");
        assert_eq!(err.to_string(), "--grant needs a value");
    }
}
