//! A loaded script: its spec and grants, and a pool of instances of the Lua
//! guest that all ran its top level. Calls take an idle instance (or make
//! one, up to the script's instance limit), run under a CPU budget and a
//! memory limit, and give the instance back.
//!
//! An instance is not kept forever: it is replaced by a freshly loaded one
//! after `calls` calls (default 1, so every connection starts from the
//! script's loaded state and no client sees what the last one left in a
//! global), after a Lua memory error, when it sat idle longer than
//! [`MAX_IDLE`], and whenever it trapped (CPU budget, memory, too many open
//! files). Replacements are loaded in the background, so the next call
//! usually finds one ready.
//!
//! Every call runs on the guest runtime ([`super::guest_runtime`]): its own
//! low-priority threads, so guest code never takes a protocol session's
//! worker; and each script's CPU use across all its calls is held to its
//! share ([`CpuShare`]).

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use wasmtime::component::ResourceTable;
use wasmtime::Store;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::bindings::{Peer, Plugin, ScriptConfig};
use super::folders::script_folder;
use super::host::{Budget, CpuShare, HostState, MemoryLimiter};
use super::script_log::ScriptLog;
use super::session::ConnectionState;
use super::{LogStdout, Runtime};
use crate::config::ScriptSpec;
use crate::services::ServiceStats;

/// An idle instance older than this is replaced rather than used.
pub const MAX_IDLE: Duration = Duration::from_secs(300);

/// Resource-table entries an instance needs besides open files: its
/// preopened folders, stdio streams, the connection, a read stream or two.
const TABLE_OVERHEAD: usize = 12;

/// What every script shares about the server.
pub struct ServerEnv {
    /// The parsed rumble.conf, for `Rumble.readConfig` (none for a bare `script run`).
    pub config: Option<Arc<crate::config::RawConfig>>,
    /// The settings rumble.conf gave (none for a bare `script run`).
    pub settings: Option<Arc<crate::config::Settings>>,
    /// rumble.conf itself, for `Rumble.reloadConfiguration`.
    pub config_path: Option<PathBuf>,
    /// rumble.conf's folder: relative paths in scripts resolve against it.
    pub base_dir: PathBuf,
    pub started: Instant,
    pub services: Arc<crate::services::ServiceManager>,
    /// The store `Mailman.*` and `kv.*` go through (none for a bare `script run`).
    pub store: Option<crate::store::Store>,
    /// Every loaded script, in LoadScript order, for `Rumble.listModules`.
    pub scripts: Mutex<Vec<Weak<Script>>>,
    /// The hooks scripts registered; protocols fire their points into it.
    pub hooks: Arc<super::HookRegistry>,
    /// `print` to the terminal (`rumble script run`) instead of the log.
    pub print_to_stdout: bool,
    /// The protocols' contexts, for `Rumble.reloadConfiguration`.
    pub live: Arc<crate::live::LiveContexts>,
}

impl ServerEnv {
    /// An environment with no config, store or settings: `rumble script run`
    /// without a config, the benchmarks and the tests fill in what they need.
    pub fn new(base_dir: PathBuf, services: Arc<crate::services::ServiceManager>, print_to_stdout: bool) -> ServerEnv {
        ServerEnv {
            config: None,
            settings: None,
            config_path: None,
            base_dir,
            started: Instant::now(),
            services,
            store: None,
            scripts: Mutex::new(Vec::new()),
            hooks: super::HookRegistry::new(),
            print_to_stdout,
            live: Arc::default(),
        }
    }
}

/// Where a script may read its own folder: the whole folder, or nothing but
/// its source (handed over by the host) when the folder also holds secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderAccess {
    Readable,
    /// The folder holds something no script may read (named for the log).
    Confined(String),
}

/// A script's identity and rights, shared by its instances.
pub struct ScriptInfo {
    pub spec: ScriptSpec,
    pub env: Arc<ServerEnv>,
    pub args: Vec<String>,
    pub folder: FolderAccess,
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
    /// Every instance stayed busy for this long.
    NoInstance(Duration),
}

#[derive(Debug)]
pub enum StopReason {
    CpuBudget { limit_ms: u128 },
    OutOfMemory { limit_bytes: u64 },
    TooManyFiles { limit: u32 },
    Trap(String),
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The script wrote this text: one cleaned, bounded line, like its prints.
            ScriptError::Lua(msg) => write!(f, "{}", crate::log::clean(msg, crate::log::MAX_LINE)),
            ScriptError::Stopped(StopReason::CpuBudget { limit_ms }) => {
                write!(f, "stopped: used its CPU budget of {limit_ms} ms")
            }
            ScriptError::Stopped(StopReason::OutOfMemory { limit_bytes }) => {
                write!(f, "stopped: out of memory (limit {} MiB)", limit_bytes >> 20)
            }
            ScriptError::Stopped(StopReason::TooManyFiles { limit }) => {
                write!(f, "stopped: too many open files (limit {limit})")
            }
            ScriptError::Stopped(StopReason::Trap(msg)) => {
                write!(f, "stopped: {}", crate::log::clean(msg, crate::log::MAX_LINE))
            }
            ScriptError::Host(e) => write!(f, "host error: {e:#}"),
            ScriptError::NoInstance(wait) => write!(f, "no free instance within {} ms", wait.as_millis()),
        }
    }
}

impl std::error::Error for ScriptError {}

struct Instance {
    store: Store<HostState>,
    plugin: Plugin,
    /// Calls served so far.
    calls: u32,
    idle_since: Instant,
}

pub struct Script {
    pub info: Arc<ScriptInfo>,
    runtime: Arc<Runtime>,
    source: Vec<u8>,
    idle: Mutex<Vec<Instance>>,
    /// One permit per live instance: busy ones and those being loaded.
    permits: Arc<Semaphore>,
    /// Everything the script writes to the log goes through here.
    pub log: Arc<ScriptLog>,
    /// The script's CPU share across all its instances.
    share: Arc<CpuShare>,
    /// Replacements being loaded in the background, and the signal that one
    /// is ready (or failed): a call waits for it rather than load its own.
    refilling: std::sync::atomic::AtomicUsize,
    refilled: tokio::sync::Notify,
    me: Weak<Script>,
    /// Calls, Lua errors and stopped instances, for `Rumble.listModules`.
    pub stats: ScriptStats,
    /// What the script registered (`service echo:2580`, `hook smtp ...`).
    pub registered: Mutex<Vec<String>>,
}

/// Counts of a script's calls (service connections, evals; not the loads of
/// its top level).
#[derive(Default)]
pub struct ScriptStats {
    pub calls: std::sync::atomic::AtomicU64,
    /// Calls that ended in a Lua error.
    pub errors: std::sync::atomic::AtomicU64,
    /// Calls whose instance was stopped (CPU budget, memory, files, trap).
    pub stops: std::sync::atomic::AtomicU64,
}

impl Script {
    /// Read the script and run its top level in a first instance, which
    /// registers its services; then keep that instance for later calls.
    pub async fn load(runtime: Arc<Runtime>, info: ScriptInfo) -> Result<Arc<Script>, ScriptError> {
        let source = std::fs::read(&info.spec.path).map_err(|e| {
            ScriptError::Host(anyhow::anyhow!("cannot read {}: {e}", info.spec.path.display()))
        })?;
        let limits = info.spec.limits;
        let script = Arc::new_cyclic(|me| Script {
            log: Arc::new(ScriptLog::new(&info.spec.name, limits.log_rate)),
            share: Arc::new(CpuShare::new(limits.cpu_share_permille)),
            info: Arc::new(info),
            runtime,
            source,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(limits.instances.max(1) as usize)),
            refilling: std::sync::atomic::AtomicUsize::new(0),
            refilled: tokio::sync::Notify::new(),
            me: me.clone(),
            stats: ScriptStats::default(),
            registered: Mutex::new(Vec::new()),
        });
        if let FolderAccess::Confined(what) = &script.info.folder {
            tracing::warn!(
                target: "lua",
                "script \"{}\" is confined to its own file: its folder {} also holds {what}; \
                 put scripts in folders of their own (plugins/<name>/)",
                script.name(),
                script_folder(&script.info.spec).display()
            );
        }
        let me = script.clone();
        on_guest(async move {
            let permit = me.permits.clone().acquire_owned().await.expect("semaphore is never closed");
            let instance = me.instantiate(true).await?;
            me.release(instance);
            drop(permit);
            Ok(())
        })
        .await?;
        script.spawn_log_reporter();
        Ok(script)
    }

    pub fn name(&self) -> &str {
        &self.info.spec.name
    }

    /// Remember something the script registered, for `Rumble.listModules`.
    pub fn note_registered(&self, what: String) {
        self.registered.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    }

    /// Evaluate `code` in an instance and return its result as text.
    pub async fn eval(&self, code: &str) -> Result<String, ScriptError> {
        let me = self.upgrade()?;
        let code = code.to_string();
        on_guest(async move {
            let _permit = me.permits.acquire().await.expect("semaphore is never closed");
            let mut inst = me.checkout().await?;
            me.arm_budget(&mut inst.store);
            let result = inst.plugin.call_eval(&mut inst.store, &code).await;
            me.finish(inst, result)
        })
        .await
    }

    /// Run service handler `handler` for one accepted connection.
    pub async fn serve(
        &self,
        handler: u32,
        stream: TcpStream,
        service_lock: Arc<tokio::sync::Mutex<()>>,
        stats: Arc<ServiceStats>,
    ) -> Result<(), ScriptError> {
        let me = self.upgrade()?;
        on_guest(async move {
            let peer = peer_of(&stream);
            let _permit = me.permits.acquire().await.expect("semaphore is never closed");
            let mut inst = me.checkout().await?;
            let limits = &me.info.spec.limits;
            let conn = ConnectionState::new(stream, limits.session_timeout, limits.first_read, service_lock, stats);
            let conn = inst.store.data_mut().table.push(conn).map_err(|e| ScriptError::Host(e.into()))?;
            me.arm_budget(&mut inst.store);
            let result = inst.plugin.call_serve(&mut inst.store, handler, conn, &peer).await;
            me.finish(inst, result)
        })
        .await
    }

    /// Run hook handler `handler` at the point `call`; its verdict and what
    /// it sent. Waits at most the script's `hook-wait` for an instance.
    ///
    /// With a free instance at hand the call runs on the calling task (the
    /// protocol session's) until it finishes or really runs at an epoch
    /// tick (`Budget::ticked`); waits in host calls (store, DNS, the client)
    /// are plain awaits there. Most hooks finish so, and skip the thread
    /// hops to the guest threads and back that otherwise cost more than the
    /// hook. A call that runs moves to the guest threads (low priority, the
    /// CPU share), so a hook never holds a protocol worker for more than
    /// two [`super::engine::TICK`]s of CPU; a script over its share starts
    /// there.
    pub(super) async fn run_hook(
        &self,
        handler: u32,
        call: &crate::hooks::HookCall<'_>,
        may_add_headers: bool,
        link: super::hook_io::HookLink,
    ) -> Result<(crate::hooks::Verdict, Vec<u8>), ScriptError> {
        let me = self.upgrade()?;
        let input = super::hooks::HookInput::new(call, me.info.spec.limits.body_limit, may_add_headers, link.clone());
        // A script over its CPU share waits on the guest threads, not here.
        let ready = match me.share.overdraft() {
            Some(_) => None,
            None => me.permits.clone().try_acquire_owned().ok().and_then(|p| Some((p, me.take_idle()?))),
        };
        let ticked = ready.as_ref().map(|(_, inst)| inst.store.data().budget.ticked.clone());
        let mut work = Box::pin(hook_call(me, handler, input, link, ready));
        if let Some(ticked) = ticked {
            use std::task::Poll;
            let here = std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(Some(result)),
                Poll::Pending if ticked.load(Ordering::Relaxed) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            });
            if let Some(result) = here.await {
                return result;
            }
        }
        on_guest(work).await
    }

    /// An idle instance that is not too old, without waiting.
    fn take_idle(&self) -> Option<Instance> {
        loop {
            let inst = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if inst.idle_since.elapsed() <= MAX_IDLE {
                return Some(inst);
            }
        }
    }

    fn upgrade(&self) -> Result<Arc<Script>, ScriptError> {
        self.me.upgrade().ok_or_else(|| ScriptError::Host(anyhow::anyhow!("script is shutting down")))
    }

    /// An idle instance that is not too old, one being loaded in the
    /// background, or a fresh one.
    async fn checkout(&self) -> Result<Instance, ScriptError> {
        loop {
            let refilled = self.refilled.notified();
            tokio::pin!(refilled);
            refilled.as_mut().enable();
            if let Some(inst) = self.take_idle() {
                return Ok(inst);
            }
            if self.refilling.load(Ordering::Acquire) == 0 {
                return self.instantiate(false).await;
            }
            refilled.await;
        }
    }

    fn release(&self, mut inst: Instance) {
        inst.idle_since = Instant::now();
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(inst);
    }

    /// After a call that went well: keep the instance for another call, or
    /// replace it once it served its `calls`.
    fn recycle(&self, mut inst: Instance) {
        inst.calls += 1;
        if inst.calls < self.info.spec.limits.calls {
            self.release(inst);
        } else {
            drop(inst);
            self.refill();
        }
    }

    /// Load a replacement in the background, once an instance slot is free
    /// and if nothing is idle by then: the next call need not wait for a
    /// top level. (The slot is usually the one the caller is about to give
    /// back, so the task waits for it rather than try once.)
    fn refill(&self) {
        let Some(me) = self.me.upgrade() else { return };
        super::guest_runtime().spawn(async move {
            let Ok(permit) = me.permits.clone().acquire_owned().await else { return };
            if !me.idle.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
                return;
            }
            me.refilling.fetch_add(1, Ordering::AcqRel);
            match me.instantiate(false).await {
                Ok(inst) => me.release(inst),
                Err(e) => tracing::debug!(target: "lua", "script \"{}\": no spare instance: {e}", me.name()),
            }
            me.refilling.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
            me.refilled.notify_waiters();
        });
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
        let mut inst = Instance { store, plugin, calls: 0, idle_since: Instant::now() };
        let config = self.script_config(first);
        self.arm_budget(&mut inst.store);
        inst.store.data_mut().loading = true;
        let result = inst.plugin.call_load(&mut inst.store, &config).await;
        inst.store.data_mut().loading = false;
        inst.store.data_mut().budget.pause();
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
            wasi.stdout(LogStdout::new(self.log.clone())).stderr(LogStdout::new(self.log.clone()));
        }
        // The WASI view of the file system: the script's folder read-only
        // (unless it holds secrets), and the granted folders; nothing else
        // exists inside the sandbox.
        if self.info.folder == FolderAccess::Readable {
            let script_dir = script_folder(spec);
            wasi.preopened_dir(&script_dir, script_dir.display().to_string(), FsPerms::ReadOnly)?;
        }
        for dir in spec.grants.read_paths() {
            preopen_if_present(&mut wasi, dir, FsPerms::ReadOnly)?;
        }
        for dir in spec.grants.write_paths() {
            preopen_if_present(&mut wasi, dir, FsPerms::ReadWrite)?;
        }
        // Every open file, folder and stream is an entry in the table: its
        // size is the instance's descriptor limit. A full table traps, and
        // the trapped instance (with all it held) is dropped.
        let mut table = ResourceTable::new();
        let preopens = 1 + spec.grants.read_paths().len() + spec.grants.write_paths().len();
        table.set_max_capacity(spec.limits.open_files as usize + preopens + TABLE_OVERHEAD);
        let state = HostState {
            wasi: wasi.build(),
            table,
            limiter: MemoryLimiter { max_bytes: spec.limits.memory as usize, refused: false },
            budget: Budget::new(self.share.clone()),
            info: self.info.clone(),
            log: self.log.clone(),
            script: self.me.clone(),
            loading: false,
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| ctx.data_mut().budget.on_tick());
        Ok(store)
    }

    fn script_config(&self, first: bool) -> ScriptConfig {
        let spec = &self.info.spec;
        let paths = |v: Vec<&std::path::Path>| v.iter().map(|p| p.display().to_string()).collect();
        let script_dir = match self.info.folder {
            FolderAccess::Readable => script_folder(spec).display().to_string(),
            FolderAccess::Confined(_) => String::new(),
        };
        ScriptConfig {
            name: spec.name.clone(),
            chunk_name: spec.path_written.clone(),
            source: self.source.clone(),
            first,
            // Lua's own limit at half the hard one: most out-of-memory cases
            // then become catchable Lua errors instead of traps.
            memory_soft_limit: spec.limits.memory / 2,
            base_dir: self.info.env.base_dir.display().to_string(),
            script_dir,
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

    /// Give the instance back (or replace it) and map the result. A trapped
    /// instance, or one whose Lua state ran out of memory, is dropped.
    fn finish<T>(&self, inst: Instance, result: wasmtime::Result<Result<T, String>>) -> Result<T, ScriptError> {
        self.finish_call(inst, result, true)
    }

    /// `finish`, where `counted` says whether the call counts toward the
    /// instance's `calls`.
    fn finish_call<T>(&self, mut inst: Instance, result: wasmtime::Result<Result<T, String>>, counted: bool) -> Result<T, ScriptError> {
        inst.store.data_mut().budget.pause();
        self.count(&result);
        match result {
            Ok(Ok(v)) => {
                if counted {
                    self.recycle(inst);
                } else {
                    self.release(inst);
                }
                Ok(v)
            }
            Ok(Err(msg)) => {
                if is_memory_error(&msg) {
                    drop(inst);
                    self.refill();
                } else {
                    self.recycle(inst);
                }
                Err(ScriptError::Lua(msg))
            }
            Err(trap) => {
                let err = self.stop_reason(&inst, trap);
                drop(inst);
                self.refill();
                Err(err)
            }
        }
    }

    fn count<T>(&self, result: &wasmtime::Result<Result<T, String>>) {
        let stats = &self.stats;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => _ = stats.errors.fetch_add(1, Ordering::Relaxed),
            Err(_) => _ = stats.stops.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Why the instance stopped. The caller drops it.
    fn stop_reason(&self, inst: &Instance, trap: wasmtime::Error) -> ScriptError {
        let state = inst.store.data();
        let limits = &self.info.spec.limits;
        let text = format!("{trap:#}");
        let reason = if state.budget.exhausted {
            StopReason::CpuBudget { limit_ms: limits.cpu.as_millis() }
        } else if state.limiter.refused {
            StopReason::OutOfMemory { limit_bytes: limits.memory }
        } else if text.contains("resource table has no free keys") {
            StopReason::TooManyFiles { limit: limits.open_files }
        } else {
            StopReason::Trap(text)
        };
        let err = ScriptError::Stopped(reason);
        tracing::error!(target: "lua", "script \"{}\" {err}; its instance was discarded", self.name());
        err
    }

    /// Count of suppressed log lines, reported even when the script went quiet.
    fn spawn_log_reporter(&self) {
        let me = self.me.clone();
        super::guest_runtime().spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                match me.upgrade() {
                    Some(script) => script.log.flush_report(),
                    None => return,
                }
            }
        });
    }
}

/// Lua reports its allocator refusing as "not enough memory". A state that
/// hit it (or ran `collectgarbage("stop")` until it did) is not trusted with
/// another call.
fn is_memory_error(msg: &str) -> bool {
    msg.contains("not enough memory")
}

/// Run `work` on the guest runtime and wait for it here.
/// The body of [`Script::run_hook`]: with `ready` (a permit and an idle
/// instance) it never waits before the guest runs.
async fn hook_call(
    me: Arc<Script>,
    handler: u32,
    input: super::hooks::HookInput,
    link: super::hook_io::HookLink,
    ready: Option<(tokio::sync::OwnedSemaphorePermit, Instance)>,
) -> Result<(crate::hooks::Verdict, Vec<u8>), ScriptError> {
    let (_permit, mut inst) = match ready {
        Some(ready) => ready,
        None => {
            let wait = me.info.spec.limits.hook_wait;
            let Ok(permit) = tokio::time::timeout(wait, me.permits.clone().acquire_owned()).await else {
                return Err(ScriptError::NoInstance(wait));
            };
            (permit.expect("semaphore is never closed"), me.checkout().await?)
        }
    };
    let table = &mut inst.store.data_mut().table;
    let session = table.push(input.session).map_err(|e| ScriptError::Host(e.into()))?;
    let message = match input.message {
        Some(m) => Some(table.push(m).map_err(|e| ScriptError::Host(e.into()))?),
        None => None,
    };
    me.arm_budget(&mut inst.store);
    let result = inst.plugin.call_run_hook(&mut inst.store, handler, session, &input.facts, input.command.as_ref(), message).await;
    // The service lock never outlives the call, whatever the guest did.
    link.unlock();
    // Hook calls do not count toward `calls`: they are many per connection,
    // and what a hook keeps in globals stays within its own script.
    let verdict = me.finish_call(inst, result, false)?;
    let sent = std::mem::take(&mut *input.sent.lock().unwrap_or_else(|e| e.into_inner()));
    Ok((super::hooks::verdict(verdict), sent))
}

async fn on_guest<T: Send + 'static>(
    work: impl Future<Output = Result<T, ScriptError>> + Send + 'static,
) -> Result<T, ScriptError> {
    match super::guest_runtime().spawn(work).await {
        Ok(result) => result,
        Err(e) => Err(ScriptError::Host(anyhow::anyhow!("script call failed: {e}"))),
    }
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
