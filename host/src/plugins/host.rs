//! `HostState`: what one script instance's `Store` carries, and the WIT
//! imports. Each import that needs a grant checks it first thing and answers
//! `denied` naming the capability; every denial is logged with the script.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{ResourceLimiter, Result, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::rumble::plugin::{log, server, session, types};
use super::bindings::{HostError, IoError, Level, ServerInfo};
use super::script::{Script, ScriptInfo};
use super::script_log::ScriptLog;
use super::token_bucket::TokenBucket;
use super::session::ConnectionState;

pub struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub budget: Budget,
    pub info: Arc<ScriptInfo>,
    /// The script's log (cleaned, rate-limited), shared by its instances.
    pub log: Arc<ScriptLog>,
    /// For `create-service`, which hands the script itself to the listener.
    pub script: Weak<Script>,
    /// The script's top level is running (hooks register only then).
    pub loading: bool,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// CPU budget of the current call: the time the guest spent running.
///
/// Running time is measured in segments: a segment starts when a call
/// begins, when a waiting host call (session I/O, the service lock) returns,
/// or when the guest resumes after a scheduler yield; it ends at the next of
/// those or at an epoch tick. So time spent waiting for a client, or waiting
/// for the scheduler on a busy machine, is not charged to the script.
pub struct Budget {
    limit: Duration,
    used: Duration,
    /// When the current segment started, in ns since `clock_base()`. Shared
    /// with the yield future, which stamps it when the guest resumes.
    running_since: Arc<AtomicU64>,
    pub exhausted: bool,
    /// The script's share across all its calls; every segment is charged to it.
    share: Arc<CpuShare>,
    /// Set at the first epoch tick by which the call has really run: half a
    /// tick without a break, or a whole tick in all. A call started on a
    /// protocol worker then moves to the guest threads.
    pub ticked: Arc<AtomicBool>,
}

fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    clock_base().elapsed().as_nanos() as u64
}

impl Budget {
    pub fn new(share: Arc<CpuShare>) -> Budget {
        Budget {
            limit: Duration::ZERO,
            used: Duration::ZERO,
            running_since: Arc::new(AtomicU64::new(now_ns())),
            exhausted: false,
            share,
            ticked: Arc::default(),
        }
    }

    pub fn reset(&mut self, limit: Duration) {
        self.limit = limit;
        self.used = Duration::ZERO;
        self.exhausted = false;
        self.ticked.store(false, Ordering::Relaxed);
        self.resume();
    }

    /// The guest stops running (a waiting host call, or a tick): the
    /// segment it ran, now charged.
    pub fn pause(&mut self) -> Duration {
        let now = now_ns();
        let since = self.running_since.swap(now, Ordering::Relaxed);
        let ran = Duration::from_nanos(now.saturating_sub(since));
        self.used += ran;
        self.share.charge(ran);
        ran
    }

    /// The guest runs again.
    pub fn resume(&self) {
        self.running_since.store(now_ns(), Ordering::Relaxed);
    }

    /// Called at each epoch tick the guest sees: stop it if it used up its
    /// budget; else, if it has really run since the call or the last wait
    /// (see `ticked`), let other tasks run and start a new segment after.
    /// A tick that passed while the guest waited (a store or DNS call, the
    /// scheduler of a busy server) is no reason to move the call: most
    /// ticks a short hook sees are such, and moving costs more than it.
    pub fn on_tick(&mut self) -> Result<UpdateDeadline> {
        let segment = self.pause();
        if self.used > self.limit {
            self.exhausted = true;
            return Err(wasmtime::Error::msg("CPU budget exhausted"));
        }
        if segment < super::engine::TICK / 2 && self.used < super::engine::TICK {
            return Ok(UpdateDeadline::Continue(1));
        }
        self.ticked.store(true, Ordering::Relaxed);
        let (since, share) = (self.running_since.clone(), self.share.clone());
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                // Over its share, the script waits until it is back under;
                // either way other tasks run before it resumes.
                match share.overdraft() {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => tokio::task::yield_now().await,
                }
                since.store(now_ns(), Ordering::Relaxed);
            }),
        ))
    }
}

/// A script's CPU share: a bucket of CPU time that fills at `permille`
/// thousandths of a core and holds at most [`CpuShare::BURST`] worth of it.
/// Every running segment of every instance of the script is taken from it;
/// when it is empty, the script's instances sleep at their next tick until
/// it is back above zero. So one script's load, however many sessions keep
/// it busy, costs the machine at most its share.
pub struct CpuShare(Mutex<TokenBucket>);

impl CpuShare {
    /// Time that fills a full bucket: a script may burst this long at 100%.
    const BURST: Duration = Duration::from_millis(200);

    /// `permille` thousandths of a core; tokens are nanoseconds of CPU.
    pub fn new(permille: u32) -> CpuShare {
        let fraction = f64::from(permille.max(1)) / 1000.0;
        CpuShare(Mutex::new(TokenBucket::new(fraction * 1e9, Self::BURST.as_nanos() as f64 * fraction)))
    }

    pub fn charge(&self, ran: Duration) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).spend(ran.as_nanos() as f64);
    }

    /// How long to wait until the balance is back to zero, if it is owed.
    pub fn overdraft(&self) -> Option<Duration> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).debt()
    }
}

/// The hard memory limit of an instance. Remembers that it refused a grow, so
/// the trap that follows can be reported as "out of memory".
pub struct MemoryLimiter {
    pub max_bytes: usize,
    pub refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        let ok = desired <= self.max_bytes;
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

impl HostState {
    /// Log (within the script's log rate) and build the `denied` error.
    pub(super) fn deny(&self, capability: String) -> HostError {
        self.log.denial(&capability);
        HostError::Denied(capability)
    }

    fn log_line(&self, level: Level, text: &str) {
        self.log.write(level, text);
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn print(&mut self, text: String) -> Result<()> {
        if self.info.env.print_to_stdout {
            println!("{text}");
        } else {
            self.log_line(Level::Info, &text);
        }
        Ok(())
    }

    async fn write(&mut self, level: Level, text: String) -> Result<()> {
        // Under `rumble script run` warnings and dprint go to stderr as the
        // script wrote them (lua.c prints "Lua warning: ..." bare).
        if self.info.env.print_to_stdout {
            eprintln!("{text}");
        } else {
            self.log_line(level, &text);
        }
        Ok(())
    }

    async fn recent(&mut self) -> Result<Result<Vec<String>, HostError>> {
        if !self.info.spec.grants.allows_log_read() {
            return Ok(Err(self.deny("log.read".into())));
        }
        Ok(Ok(crate::log::ring().recent()))
    }
}

impl server::Host for HostState {
    async fn read_config(&mut self, key: String) -> Result<Result<Option<String>, HostError>> {
        let key = key.to_ascii_lowercase();
        if !self.info.spec.grants.allows_config_read(&key) {
            return Ok(Err(self.deny(format!("config.read {key}"))));
        }
        let env = &self.info.env;
        let value = env.config.as_ref().and_then(|raw| raw.get(&key)).filter(|v| !v.is_empty());
        Ok(Ok(value.map(str::to_string)))
    }

    async fn info(&mut self) -> Result<ServerInfo> {
        let env = &self.info.env;
        Ok(ServerInfo {
            version: crate::rumble_version(),
            path: env.base_dir.display().to_string(),
            uptime: env.started.elapsed().as_secs(),
            os: std::env::consts::OS.replace("linux", "Linux"),
            arch: usize::BITS,
        })
    }

    async fn create_service(&mut self, handler: u32, port: u16, threads: u32) -> Result<Result<bool, HostError>> {
        if !self.info.spec.grants.allows_listen(port) {
            return Ok(Err(self.deny(format!("listen {port}"))));
        }
        let Some(script) = self.script.upgrade() else {
            return Ok(Err(HostError::Failed("script is shutting down".into())));
        };
        let env = self.info.env.clone();
        self.budget.pause();
        let started = env.services.start_script_service(script, handler, port, threads).await;
        self.budget.resume();
        Ok(Ok(started))
    }
}

impl session::Host for HostState {}

impl session::HostConnection for HostState {
    async fn send(&mut self, conn: Resource<ConnectionState>, data: Vec<u8>) -> Result<Result<(), IoError>> {
        self.budget.pause();
        let result = self.table.get_mut(&conn)?.send(&data).await;
        self.budget.resume();
        Ok(result)
    }

    async fn receive_line(&mut self, conn: Resource<ConnectionState>) -> Result<Result<Vec<u8>, IoError>> {
        self.budget.pause();
        let result = self.table.get_mut(&conn)?.receive_line().await;
        self.budget.resume();
        Ok(result)
    }

    async fn receive_bytes(&mut self, conn: Resource<ConnectionState>, max: u32) -> Result<Result<Vec<u8>, IoError>> {
        self.budget.pause();
        let result = self.table.get_mut(&conn)?.receive_bytes(max).await;
        self.budget.resume();
        Ok(result)
    }

    async fn lock(&mut self, conn: Resource<ConnectionState>) -> Result<bool> {
        self.budget.pause();
        let got = self.table.get_mut(&conn)?.lock().await;
        self.budget.resume();
        Ok(got)
    }

    async fn unlock(&mut self, conn: Resource<ConnectionState>) -> Result<()> {
        self.table.get_mut(&conn)?.unlock();
        Ok(())
    }

    async fn drop(&mut self, conn: Resource<ConnectionState>) -> Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}
