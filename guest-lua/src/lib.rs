//! The Lua guest: one Lua 5.4 state per WebAssembly instance, with Rumble's
//! Lua API. Everything that leaves the instance goes through the WIT imports
//! in `../wit/plugin.wit`, where the host checks this script's grants.

// The generated bindings of `run-hook` take 8 arguments and clippy cannot
// be told so at the macro: the lint is off for the crate.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ world: "plugin", path: "../wit" });

mod api;
mod chunks;
mod codec;
mod control;
mod hooks;
mod kv;
mod mailman;
mod network;
mod paths;
mod session;

use mlua::chunk::ChunkMode;
use mlua::{Lua, LuaOptions, StdLib, Value};
use std::cell::RefCell;
use std::ffi::{c_int, c_void};

/// Per-instance state. An instance serves one call at a time, so a
/// thread-local is the whole story.
pub(crate) struct State {
    pub lua: Lua,
    pub name: String,
    pub first: bool,
    /// Functions passed to `Rumble.createService`, in call order. Every
    /// instance runs the same top level, so the n-th call has the same id in
    /// all of them; the host refers to handlers by that id.
    pub handlers: Vec<mlua::RegistryKey>,
    /// Functions passed to `Rumble.setHook`, numbered the same way.
    pub hooks: Vec<mlua::RegistryKey>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Run `f` with the loaded state, or fail if `load` has not run yet.
pub(crate) fn with_state<R>(f: impl FnOnce(&mut State) -> Result<R, String>) -> Result<R, String> {
    STATE.with(|cell| match cell.borrow_mut().as_mut() {
        Some(state) => f(state),
        None => Err("script is not loaded".into()),
    })
}

/// The script's name, for error messages raised inside callbacks.
pub(crate) fn script_name() -> String {
    STATE
        .try_with(|cell| cell.try_borrow().ok().and_then(|s| s.as_ref().map(|s| s.name.clone())))
        .ok()
        .flatten()
        .unwrap_or_default()
}

struct Component;
export!(Component);

impl Guest for Component {
    fn load(cfg: ScriptConfig) -> Result<(), String> {
        let result = load_script(cfg);
        flush_stdout();
        result
    }

    fn serve(handler: u32, conn: Connection, peer: Peer) -> Result<(), String> {
        let result = session::serve(handler, conn, peer);
        flush_stdout();
        result
    }

    fn run_hook(
        handler: u32,
        session: HookSession,
        facts: SessionFacts,
        command: Option<CommandFacts>,
        msg: Option<Message>,
    ) -> Result<Verdict, String> {
        let result = hooks::run(handler, session, facts, command, msg);
        flush_stdout();
        result
    }

    fn eval(code: String) -> Result<String, String> {
        let result = eval(&code);
        flush_stdout();
        result
    }
}

fn load_script(cfg: ScriptConfig) -> Result<(), String> {
    let lua = new_lua(&cfg).map_err(|e| format!("init: {}", error_text(&e)))?;
    let chunk = format!("@{}", cfg.chunk_name);
    let source = cfg.source;
    STATE.with(|cell| {
        *cell.borrow_mut() = Some(State {
            lua: lua.clone(),
            name: cfg.name,
            first: cfg.first,
            handlers: Vec::new(),
            hooks: Vec::new(),
        })
    });
    // Text only, like `load` inside (see chunks.rs): a precompiled script
    // file is refused too.
    lua.load(&source[..])
        .set_name(chunk)
        .set_mode(ChunkMode::Text)
        .exec()
        .map_err(|e| error_text(&e))
}

fn eval(code: &str) -> Result<String, String> {
    let lua = with_state(|s| Ok(s.lua.clone()))?;
    let value: Value = lua
        .load(code)
        .set_name("=eval")
        .set_mode(ChunkMode::Text)
        .eval()
        .map_err(|e| error_text(&e))?;
    Ok(display(&lua, value))
}

/// Pushes out what `io.write` left in C stdio's stdout buffer. The instance
/// never exits, so nothing else would: the end of each call does it, and
/// `print` (which goes around stdio) does it first to keep the order.
pub(crate) fn flush_stdout() {
    unsafe extern "C" {
        static stdout: *mut c_void;
        fn fflush(stream: *mut c_void) -> c_int;
    }
    // SAFETY: wasi-libc's `FILE *const stdout`, set at link time.
    unsafe {
        fflush(stdout);
    }
}

/// Build the Lua state: standard libraries, then the sandbox's adjustments
/// and Rumble's API.
fn new_lua(cfg: &ScriptConfig) -> mlua::Result<Lua> {
    // `debug` is safe here: it can only reach this instance's own memory, and
    // Rumble scripts use `debug.getinfo(1).short_src` to find their folder.
    let libs = StdLib::ALL_SAFE | StdLib::DEBUG;
    let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
    if cfg.memory_soft_limit > 0 {
        lua.set_memory_limit(cfg.memory_soft_limit as usize)?;
    }
    // Before paths: its wrappers call the text-only loaders installed here.
    chunks::install(&lua)?;
    paths::install(&lua, cfg)?;
    api::install(&lua, cfg)?;
    control::install(&lua)?;
    hooks::install(&lua)?;
    mailman::install(&lua)?;
    network::install(&lua)?;
    kv::install(&lua)?;
    session::install(&lua)?;
    plain_errors(&lua)?;
    Ok(lua)
}

/// Wraps a Rust function so its errors reach Lua as plain strings positioned
/// at the caller (`file:line: permission denied: ...`), as Lua's own library
/// functions raise them, instead of mlua's error userdata with a traceback.
const RAISE_PLAIN: &str = r#"
local pcall, error, getinfo, message = pcall, error, debug.getinfo, ...
-- The wrapper tail-calls finish, so level 2 is whoever called the API
-- function: its line, as for Lua's own library functions. Called through
-- pcall (a C function, no line), the line of the pcall is given instead.
local function finish(ok, ...)
  if ok then return ... end
  local caller = getinfo(2, "S")
  error(message((...)), (caller and caller.what == "C") and 3 or 2)
end
return function(f)
  return function(...) return finish(pcall(f, ...)) end
end
"#;

fn plain_errors(lua: &Lua) -> mlua::Result<()> {
    let message = lua.create_function(|lua, v: Value| {
        Ok(match v.as_error() {
            Some(e) => innermost_message(e),
            None => display(lua, v),
        })
    })?;
    let wrap: mlua::Function = lua.load(RAISE_PLAIN).set_name("=sandbox").call(message)?;
    let globals = lua.globals();
    for table in ["Rumble", "file", "Mailman", "network", "kv"] {
        wrap_functions(&globals.get::<mlua::Table>(table)?, &wrap, None)?;
    }
    let string: mlua::Table = globals.get("string")?;
    wrap_functions(&string, &wrap, Some(&["SHA256", "encode64", "decode64"]))?;
    wrap_functions(&globals.get::<mlua::Table>("os")?, &wrap, Some(&["exit", "tmpname", "clock", "setlocale"]))?;
    wrap_functions(&globals, &wrap, Some(&["print"]))?;
    let methods: mlua::Table = lua.named_registry_value::<mlua::Table>(session::METHODS)?.get("__index")?;
    wrap_functions(&methods, &wrap, None)?;
    for methods in hooks::method_tables(lua)? {
        wrap_functions(&methods, &wrap, None)?;
    }
    Ok(())
}

fn wrap_functions(t: &mlua::Table, wrap: &mlua::Function, only: Option<&[&str]>) -> mlua::Result<()> {
    let names: Vec<String> = match only {
        Some(names) => names.iter().map(|n| n.to_string()).collect(),
        None => t.pairs::<String, Value>().filter_map(|kv| kv.ok().map(|(k, _)| k)).collect(),
    };
    for name in names {
        if let Value::Function(f) = t.get::<Value>(name.as_str())? {
            t.set(name, wrap.call::<mlua::Function>(f)?)?;
        }
    }
    Ok(())
}

/// The message of the error that started it all, without tracebacks.
fn innermost_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => innermost_message(cause),
        mlua::Error::WithContext { cause, .. } => innermost_message(cause),
        mlua::Error::RuntimeError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// A Lua error as one readable text: the message first, then where it came from.
pub(crate) fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { traceback, cause } => {
            format!("{}\n{traceback}", error_text(cause))
        }
        mlua::Error::RuntimeError(msg) | mlua::Error::SyntaxError { message: msg, .. } => msg.clone(),
        mlua::Error::MemoryError(msg) => msg.clone(),
        other => other.to_string(),
    }
}

/// `tostring(value)`, as Lua would print it.
pub(crate) fn display(lua: &Lua, value: Value) -> String {
    let tostring: mlua::Function = match lua.globals().get("tostring") {
        Ok(f) => f,
        Err(_) => return format!("{value:?}"),
    };
    match tostring.call::<mlua::LuaString>(value) {
        Ok(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Err(e) => error_text(&e),
    }
}
