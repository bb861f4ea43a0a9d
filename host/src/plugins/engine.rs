//! The one wasmtime `Engine` and the one compiled guest component all scripts
//! share, plus the epoch ticker that drives CPU budgets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The Lua guest, built by host/build.rs from guest-lua/.
pub static GUEST_WASM: &[u8] = include_bytes!(env!("RUMBLE_GUEST_WASM"));

/// One epoch tick. A running script yields to the scheduler every tick and
/// its CPU budget is counted in ticks.
pub const TICK: Duration = Duration::from_millis(5);

pub fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Lua's setjmp/longjmp is compiled to Wasm exceptions.
    config.wasm_exceptions(true);
    // Epochs, not fuel: ~10% overhead instead of ~20%, and they let a busy
    // script yield instead of pinning a tokio worker.
    config.epoch_interruption(true);
    // Profiling aid: `RUMBLE_PERFMAP=1 perf record ...` can name JIT-compiled
    // guest functions (see bench/README.md).
    if std::env::var_os("RUMBLE_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Ok(Engine::new(&config)?)
}

/// Increments the engine's epoch every `TICK` until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("rumble-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The compiled guest. JIT-compiling it costs about half a second, so the
/// result is cached in `cache_dir`, keyed by the guest's hash and everything
/// about the engine that compiled code depends on; loading it back takes ~1 ms.
pub fn load_component(engine: &Engine, cache_dir: Option<&Path>) -> Result<Component> {
    let Some(dir) = cache_dir else {
        return Ok(Component::new(engine, GUEST_WASM)?);
    };
    let path = cache_path(engine, dir);
    if path.exists() {
        // SAFETY: the file is ours: written below from this binary's own
        // guest by this engine configuration, into the server's cache folder.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(target: "core", "ignoring unusable compiled guest {}: {e}", path.display()),
        }
    }
    let compiled = engine.precompile_component(GUEST_WASM)?;
    if let Err(e) = write_atomically(&path, &compiled) {
        tracing::warn!(target: "core", "cannot cache the compiled guest in {}: {e:#}", dir.display());
    }
    // SAFETY: produced just above by this engine.
    Ok(unsafe { Component::deserialize(engine, &compiled)? })
}

fn cache_path(engine: &Engine, dir: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let guest = Sha256::digest(GUEST_WASM);
    dir.join(format!("guest-{}-{:016x}.cwasm", hex::encode(&guest[..8]), compat.finish()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("cache path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}
