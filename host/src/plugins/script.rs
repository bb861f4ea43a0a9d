//! A loaded script: its spec and grants, and a pool of instances of the Lua
//! guest that all ran its top level. Calls take an idle instance (or make
//! one, up to the script's instance limit), run under a CPU budget and a
//! memory limit, and give the instance back, unless it trapped: then it is
//! dropped and the next call makes a fresh one.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use wasmtime::component::ResourceTable;
use wasmtime::Store;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::bindings::{Peer, Plugin, ScriptConfig};
use super::host::{Budget, HostState, MemoryLimiter};
use super::session::ConnectionState;
use super::{LogStdout, Runtime};
use crate::config::ScriptSpec;
use crate::services::ServiceStats;

/// What every script shares about the server.
pub struct ServerEnv {
    /// The parsed rumble.conf, for `Rumble.readConfig` (none for a bare `script run`).
    pub config: Option<Arc<crate::config::RawConfig>>,
    /// rumble.conf's folder: relative paths in scripts resolve against it.
    pub base_dir: PathBuf,
    pub started: Instant,
    pub services: Arc<crate::services::ServiceManager>,
    /// `print` to the terminal (`rumble script run`) instead of the log.
    pub print_to_stdout: bool,
}

/// A script's identity and rights, shared by its instances.
pub struct ScriptInfo {
    pub spec: ScriptSpec,
    pub env: Arc<ServerEnv>,
    pub args: Vec<String>,
}

/// Why a call into a script failed.
#[derive(Debug)]
pub enum ScriptError {
    /// The script raised a Lua error (or a syntax error); the instance is fine.
    Lua(String),
    /// The instance was stopped and discarded.
    Stopped(StopReason),
    /// The host could not set up or reach the instance.
    Host(anyhow::Error),
}

#[derive(Debug)]
pub enum StopReason {
    CpuBudget { limit_ms: u128 },
    OutOfMemory { limit_bytes: u64 },
    Trap(String),
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Lua(msg) => write!(f, "{msg}"),
            ScriptError::Stopped(StopReason::CpuBudget { limit_ms }) => {
                write!(f, "stopped: used its CPU budget of {limit_ms} ms")
            }
            ScriptError::Stopped(StopReason::OutOfMemory { limit_bytes }) => {
                write!(f, "stopped: out of memory (limit {} MiB)", limit_bytes >> 20)
            }
            ScriptError::Stopped(StopReason::Trap(msg)) => write!(f, "stopped: {msg}"),
            ScriptError::Host(e) => write!(f, "host error: {e:#}"),
        }
    }
}

impl std::error::Error for ScriptError {}

struct Instance {
    store: Store<HostState>,
    plugin: Plugin,
}

pub struct Script {
    pub info: Arc<ScriptInfo>,
    runtime: Arc<Runtime>,
    source: Vec<u8>,
    idle: Mutex<Vec<Instance>>,
    permits: Semaphore,
    me: Weak<Script>,
}

impl Script {
    /// Read the script and run its top level in a first instance, which
    /// registers its services; then keep that instance for later calls.
    pub async fn load(runtime: Arc<Runtime>, info: ScriptInfo) -> Result<Arc<Script>, ScriptError> {
        let source = std::fs::read(&info.spec.path).map_err(|e| {
            ScriptError::Host(anyhow::anyhow!("cannot read {}: {e}", info.spec.path.display()))
        })?;
        let instances = info.spec.limits.instances.max(1) as usize;
        let script = Arc::new_cyclic(|me| Script {
            info: Arc::new(info),
            runtime,
            source,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(instances),
            me: me.clone(),
        });
        let permit = script.permits.acquire().await.expect("semaphore is never closed");
        let instance = script.instantiate(true).await?;
        script.release(instance);
        drop(permit);
        Ok(script)
    }

    pub fn name(&self) -> &str {
        &self.info.spec.name
    }

    /// Evaluate `code` in an instance and return its result as text.
    pub async fn eval(&self, code: &str) -> Result<String, ScriptError> {
        let _permit = self.permits.acquire().await.expect("semaphore is never closed");
        let mut inst = self.checkout().await?;
        self.arm_budget(&mut inst.store);
        let result = inst.plugin.call_eval(&mut inst.store, code).await;
        self.finish(inst, result)
    }

    /// Run service handler `handler` for one accepted connection.
    pub async fn serve(
        &self,
        handler: u32,
        stream: TcpStream,
        service_lock: Arc<tokio::sync::Mutex<()>>,
        stats: Arc<ServiceStats>,
    ) -> Result<(), ScriptError> {
        let peer = peer_of(&stream);
        let _permit = self.permits.acquire().await.expect("semaphore is never closed");
        let mut inst = self.checkout().await?;
        let timeout = self.info.spec.limits.session_timeout;
        let conn = ConnectionState::new(stream, timeout, service_lock, stats);
        let conn = inst.store.data_mut().table.push(conn).map_err(|e| ScriptError::Host(e.into()))?;
        self.arm_budget(&mut inst.store);
        let result = inst.plugin.call_serve(&mut inst.store, handler, conn, &peer).await;
        self.finish(inst, result)
    }

    async fn checkout(&self) -> Result<Instance, ScriptError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(inst) => Ok(inst),
            None => self.instantiate(false).await,
        }
    }

    fn release(&self, inst: Instance) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(inst);
    }

    /// A new instance with the script's top level run in it.
    async fn instantiate(&self, first: bool) -> Result<Instance, ScriptError> {
        let mut store = self.new_store().map_err(ScriptError::Host)?;
        self.arm_budget(&mut store);
        let plugin = self
            .runtime
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| ScriptError::Host(e.into()))?;
        let mut inst = Instance { store, plugin };
        let config = self.script_config(first);
        self.arm_budget(&mut inst.store);
        let result = inst.plugin.call_load(&mut inst.store, &config).await;
        let inst_result = match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(ScriptError::Lua(msg)),
            Err(trap) => Err(self.stop_reason(&inst, trap)),
        };
        inst_result.map(|()| inst)
    }

    fn new_store(&self) -> anyhow::Result<Store<HostState>> {
        let spec = &self.info.spec;
        let mut wasi = WasiCtxBuilder::new();
        if self.info.env.print_to_stdout {
            wasi.inherit_stdout().inherit_stderr();
        } else {
            wasi.stdout(LogStdout::new(spec.name.clone())).stderr(LogStdout::new(spec.name.clone()));
        }
        // The WASI view of the file system: the script's folder read-only,
        // and the granted folders; nothing else exists inside the sandbox.
        let script_dir = script_dir(spec);
        wasi.preopened_dir(&script_dir, script_dir.display().to_string(), FsPerms::ReadOnly)?;
        for dir in spec.grants.read_paths() {
            preopen_if_present(&mut wasi, dir, FsPerms::ReadOnly)?;
        }
        for dir in spec.grants.write_paths() {
            preopen_if_present(&mut wasi, dir, FsPerms::ReadWrite)?;
        }
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter { max_bytes: spec.limits.memory as usize, refused: false },
            budget: Budget::default(),
            info: self.info.clone(),
            script: self.me.clone(),
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| ctx.data_mut().budget.on_tick());
        Ok(store)
    }

    fn script_config(&self, first: bool) -> ScriptConfig {
        let spec = &self.info.spec;
        let paths = |v: Vec<&std::path::Path>| v.iter().map(|p| p.display().to_string()).collect();
        ScriptConfig {
            name: spec.name.clone(),
            chunk_name: spec.path_written.clone(),
            source: self.source.clone(),
            first,
            // Lua's own limit at half the hard one: most out-of-memory cases
            // then become catchable Lua errors instead of traps.
            memory_soft_limit: spec.limits.memory / 2,
            base_dir: self.info.env.base_dir.display().to_string(),
            script_dir: script_dir(spec).display().to_string(),
            read_roots: paths(spec.grants.read_paths()),
            write_roots: paths(spec.grants.write_paths()),
            args: self.info.args.clone(),
        }
    }

    /// A fresh CPU budget for the next call (instantiation included).
    fn arm_budget(&self, store: &mut Store<HostState>) {
        store.data_mut().budget.reset(self.info.spec.limits.cpu);
        store.data_mut().limiter.refused = false;
        store.set_epoch_deadline(1);
    }

    /// Return the instance to the pool unless it trapped, and map the result.
    fn finish<T>(&self, inst: Instance, result: wasmtime::Result<Result<T, String>>) -> Result<T, ScriptError> {
        match result {
            Ok(Ok(v)) => {
                self.release(inst);
                Ok(v)
            }
            Ok(Err(msg)) => {
                self.release(inst);
                Err(ScriptError::Lua(msg))
            }
            Err(trap) => Err(self.stop_reason(&inst, trap)),
        }
    }

    /// Why the instance stopped. The caller drops it.
    fn stop_reason(&self, inst: &Instance, trap: wasmtime::Error) -> ScriptError {
        let state = inst.store.data();
        let limits = &self.info.spec.limits;
        let reason = if state.budget.exhausted {
            StopReason::CpuBudget { limit_ms: limits.cpu.as_millis() }
        } else if state.limiter.refused {
            StopReason::OutOfMemory { limit_bytes: limits.memory }
        } else {
            StopReason::Trap(format!("{trap:#}"))
        };
        let err = ScriptError::Stopped(reason);
        tracing::error!(target: "lua", "script \"{}\" {err}; its instance was discarded", self.name());
        err
    }
}

/// The folder holding the script: always readable, searched by `require`.
fn script_dir(spec: &ScriptSpec) -> PathBuf {
    spec.path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn preopen_if_present(wasi: &mut WasiCtxBuilder, dir: &std::path::Path, perms: FsPerms) -> anyhow::Result<()> {
    if dir.is_dir() {
        wasi.preopened_dir(dir, dir.display().to_string(), perms)?;
    } else {
        tracing::debug!(target: "lua", "granted folder {} does not exist; skipped", dir.display());
    }
    Ok(())
}

fn peer_of(stream: &TcpStream) -> Peer {
    let remote = stream.peer_addr().ok();
    let local_port = stream.local_addr().map(|a| a.port()).unwrap_or(0);
    let ip = remote.map(|a| a.ip().to_canonical());
    Peer {
        address: ip.map(|ip| ip.to_string()).unwrap_or_default(),
        protocol: if matches!(ip, Some(std::net::IpAddr::V6(_))) { "IPv6" } else { "IPv4" }.into(),
        port: remote.map(|a| a.port()).unwrap_or(0),
        local_port,
    }
}
