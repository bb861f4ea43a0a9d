//! The plugin runtime: every `LoadScript` runs real Lua 5.4 inside its own
//! WebAssembly instance(s) of one precompiled guest component, and reaches
//! the server only through the WIT imports in `host.rs`, where its grants
//! are checked.
//!
//! - `engine`: the wasmtime engine, the compiled-guest cache, the epoch ticker.
//! - `script`: a script's instance pool, CPU budget, memory limit, trap handling.
//! - `host`: the per-instance state and the WIT imports (grant checks).
//! - `session`: the connection resource handed to script services.

pub mod bindings;
pub mod engine;
pub mod host;
pub mod script;
pub mod session;

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Result;
use tokio::io::AsyncWrite;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

pub use bindings::PluginPre;
pub use script::{Script, ScriptError, ScriptInfo, ServerEnv, StopReason};

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

/// A script's WASI stdout/stderr (`io.write`) in server mode: each complete
/// line goes to the log, tagged with the script's name.
struct LogStdout {
    name: Arc<str>,
}

impl LogStdout {
    fn new(name: String) -> LogStdout {
        LogStdout { name: name.into() }
    }
}

impl wasmtime_wasi::cli::IsTerminal for LogStdout {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogStdout {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger { name: self.name.clone(), pending: Vec::new() })
    }
}

struct LineLogger {
    name: Arc<str>,
    pending: Vec<u8>,
}

impl LineLogger {
    const MAX_PENDING: usize = 4096;

    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        tracing::info!(target: "lua", "{}: {}", self.name, text);
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            self.emit(i + 1);
        }
        if self.pending.len() > Self::MAX_PENDING {
            let n = self.pending.len();
            self.emit(n);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
