//! The plugin runtime: every `LoadScript` runs real Lua 5.4 inside its own
//! WebAssembly instance(s) of one precompiled guest component, and reaches
//! the server only through the WIT imports in `host.rs`, where its grants
//! are checked.
//!
//! - `engine`: the wasmtime engine, the compiled-guest cache, the epoch ticker.
//! - `script`: a script's instance pool, CPU budget, memory limit, trap handling.
//! - `host`: the per-instance state and the WIT imports (grant checks).
//! - `session`: the connection resource handed to script services.
//! - `script_log`: what scripts write to the log (cleaned, rate-limited).
//! - `folders`: which scripts may read their own folder.

pub mod bindings;
mod control;
pub mod engine;
pub mod folders;
mod hook_io;
pub mod hooks;
pub mod host;
mod kv;
mod mailman;
mod network;
pub mod script;
pub mod script_log;
mod token_bucket;
pub mod session;

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use anyhow::Result;
use tokio::io::AsyncWrite;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use bindings::PluginPre;
pub use hooks::HookRegistry;
pub use script::{FolderAccess, Script, ScriptError, ScriptInfo, ServerEnv, StopReason};

use host::HostState;

/// The engine and the linked, pre-instantiated guest shared by all scripts.
pub struct Runtime {
    pub engine: Engine,
    pub pre: PluginPre<HostState>,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Compile (or load from `cache_dir`) the guest and link the imports.
    pub fn new(cache_dir: Option<&Path>) -> Result<Arc<Runtime>> {
        let engine = engine::new_engine()?;
        let component = engine::load_component(&engine, cache_dir)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let pre = PluginPre::new(linker.instantiate_pre(&component)?)?;
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Arc::new(Runtime { engine, pre, _ticker: ticker }))
    }
}

/// Nice value of the guest threads: under CPU contention the kernel gives
/// protocol sessions (nice 0) about 10x the time of guest code (nice 10).
const GUEST_NICE: i32 = 10;

/// The runtime every call into a script runs on: its own worker threads
/// (one per core) at a lower OS priority than the server's, so a script
/// that keeps every instance busy slows other scripts (each held to its
/// CPU share) but not SMTP, POP3 or IMAP, whose sessions run on the main
/// runtime. It lives as long as the process.
pub fn guest_runtime() -> &'static tokio::runtime::Runtime {
    static GUEST: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    GUEST.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("rumble-guest")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .expect("start the guest runtime")
    })
}

/// Lower this thread's scheduling priority (Linux sets nice per thread).
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread; failure leaves the
    // priority as it was, which is only slower for others, not wrong.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, GUEST_NICE);
    }
}

/// A script's WASI stdout/stderr (`io.write`) in server mode: each complete
/// line goes to the script's log.
struct LogStdout {
    log: Arc<script_log::ScriptLog>,
}

impl LogStdout {
    fn new(log: Arc<script_log::ScriptLog>) -> LogStdout {
        LogStdout { log }
    }
}

impl wasmtime_wasi::cli::IsTerminal for LogStdout {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogStdout {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger { log: self.log.clone(), pending: Vec::new(), dropped: 0 })
    }
}

struct LineLogger {
    log: Arc<script_log::ScriptLog>,
    /// The current line, up to `MAX_PENDING` bytes.
    pending: Vec<u8>,
    /// Bytes of the current line beyond `MAX_PENDING`, dropped.
    dropped: usize,
}

impl LineLogger {
    const MAX_PENDING: usize = crate::log::MAX_LINE;

    /// Log the current line (with a note of what was dropped) and start anew.
    fn emit(&mut self) {
        if self.dropped > 0 {
            // Make room for the note within the line limit.
            let keep = Self::MAX_PENDING - 32;
            self.dropped += self.pending.len().saturating_sub(keep);
            self.pending.truncate(keep);
            let text = String::from_utf8_lossy(&self.pending);
            self.log.write(bindings::Level::Info, &format!("{text} [cut {} bytes]", self.dropped));
        } else {
            let text = String::from_utf8_lossy(&self.pending);
            let text = text.trim_end_matches(['\r', '\n']);
            self.log.write(bindings::Level::Info, text);
        }
        self.pending.clear();
        self.dropped = 0;
    }

    /// Keep what fits of `part` (a piece of one line) and count the rest.
    fn keep(&mut self, part: &[u8]) {
        let room = Self::MAX_PENDING.saturating_sub(self.pending.len());
        let take = room.min(part.len());
        self.pending.extend_from_slice(&part[..take]);
        self.dropped += part.len() - take;
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.keep(&rest[..i]);
            self.emit();
            rest = &rest[i + 1..];
        }
        self.keep(rest);
        Poll::Ready(Ok(buf.len()))
    }

    /// Not a line end: wasi-libc flushes after every chunk it writes, so a
    /// long line arrives as many write+flush pairs.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A last line without its newline is logged when the instance goes.
impl Drop for LineLogger {
    fn drop(&mut self) {
        if !self.pending.is_empty() || self.dropped > 0 {
            self.emit();
        }
    }
}
