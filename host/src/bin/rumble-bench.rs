//! `rumble-bench`: runtime figures for bench/run.py. Measures, in this
//! process, the compiled-guest load (cold JIT and warm cache), a fresh script
//! instance, a call on a pooled instance, and a host-call round trip from Lua.
//! Prints `name value unit` lines.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use rumble::config::{self, Capability, GrantSet, ScriptLimits, ScriptSpec};
use rumble::plugins::{FolderAccess, Runtime, Script, ScriptInfo, ServerEnv};
use rumble::services::ServiceManager;

#[tokio::main]
async fn main() -> Result<()> {
    let dir = tempfile_dir()?;
    let cache = dir.join("cache");

    let cold = time(|| Runtime::new(Some(&cache)).map(drop))?;
    println!("guest_compile_cold {:.1} ms", ms(cold));
    let warm = best_of(5, || Runtime::new(Some(&cache)).map(drop))?;
    println!("guest_load_cached {:.2} ms", ms(warm));

    let runtime = Runtime::new(Some(&cache))?;
    let script_path = dir.join("bench.lua");
    std::fs::write(&script_path, "local x = 1\n")?;
    let conf = dir.join("rumble.conf");
    let loaded = config::load_str("ServerName bench.test\n", &conf, &dir)?;
    let env = Arc::new(ServerEnv {
        config: Some(Arc::new(loaded.raw)),
        ..ServerEnv::new(dir.clone(), ServiceManager::new([127, 0, 0, 1].into()), true)
    });
    let spec = ScriptSpec {
        name: "bench".into(),
        path_written: script_path.display().to_string(),
        path: script_path.clone(),
        line: 0,
        grants: GrantSet { caps: vec![Capability::ConfigRead { keys: vec![] }] },
        // Reused instances for the call figures; `fresh` below measures the default.
        // No CPU share: the loops below would be throttled to half a core.
        limits: ScriptLimits {
            cpu: Duration::from_secs(60),
            instances: 1,
            calls: 1_000_000_000,
            cpu_share_permille: 64_000,
            ..ScriptLimits::default()
        },
    };
    let info = || ScriptInfo { spec: spec.clone(), env: env.clone(), args: vec![], folder: FolderAccess::Readable };

    // A fresh instance: instantiate + Lua state + standard libraries + top level.
    let n = 300;
    let start = Instant::now();
    for _ in 0..n {
        Script::load(runtime.clone(), info()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("instance_fresh {:.1} us", us(start.elapsed()) / n as f64);

    // A call on a pooled (already loaded) instance.
    let script = Script::load(runtime.clone(), info()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = 5000;
    let start = Instant::now();
    for _ in 0..n {
        script.eval("return 1").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("instance_pooled_call {:.1} us", us(start.elapsed()) / n as f64);

    // The default: every call on a freshly loaded instance (one call each).
    // The replacement loads in the background between calls, as between
    // connections; this loop waits for it, so it is the whole cost.
    let mut fresh_spec = spec.clone();
    fresh_spec.limits.calls = 1;
    let fresh = Script::load(
        runtime.clone(),
        ScriptInfo { spec: fresh_spec, env: env.clone(), args: vec![], folder: FolderAccess::Readable },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = 1000;
    let start = Instant::now();
    for _ in 0..n {
        fresh.eval("return 1").await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("instance_fresh_call {:.1} us", us(start.elapsed()) / n as f64);

    // Host import round trip from Lua, loop cost subtracted.
    let code = r#"
        local n = 200000
        local read, noop = Rumble.readConfig, function(k) return k end
        local t0 = os.clock()
        for i = 1, n do noop("servername") end
        local t1 = os.clock()
        for i = 1, n do read("servername") end
        local t2 = os.clock()
        return string.format("%.0f", ((t2 - t1) - (t1 - t0)) / n * 1e9)
    "#;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let ns: f64 = script.eval(code).await.map_err(|e| anyhow::anyhow!("{e}"))?.parse()?;
        best = best.min(ns);
    }
    println!("host_call_roundtrip {best:.0} ns");
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("rumble-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn time(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn best_of(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        best = best.min(time(&mut f)?);
    }
    Ok(best)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
