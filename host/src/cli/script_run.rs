//! `rumble script run FILE.lua`: run a script in the same sandbox, with the
//! same limits and grants as the server would give it. Prints what it
//! prints; on failure prints the Lua error (with file and line) and exits 1.
//! If the script created services, they serve until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};

use super::ScriptRunArgs;
use crate::config::settings::{TimeUnit, parse_duration, parse_size};
use crate::config::{self, GrantSet, ScriptLimits, ScriptSpec};
use crate::plugins::{Runtime, Script, ScriptInfo, ServerEnv};
use crate::services::ServiceManager;

pub async fn run(args: ScriptRunArgs, config: Option<PathBuf>) -> Result<ExitCode> {
    crate::log::init(crate::log::MIN_LINES, "warn");
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
    let env = Arc::new(ServerEnv {
        config: loaded.map(|l| Arc::new(l.raw)),
        base_dir,
        started: Instant::now(),
        services: services.clone(),
        print_to_stdout: true,
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

fn spec_for(args: &ScriptRunArgs, base_dir: &Path, loaded: Option<&config::Loaded>) -> Result<ScriptSpec> {
    let path = std::path::absolute(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
    let mut limits = match loaded {
        Some(l) => l.settings.script_defaults,
        None => ScriptLimits::default(),
    };
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
        grants.caps.push(cap);
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
