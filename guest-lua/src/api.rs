//! Rumble's Lua API that is not about files or sessions: the `string`
//! additions, `print`, `warn`, `os.clock`, `os.setlocale`, and the `Rumble`
//! table.

use std::cell::RefCell;

use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};

use crate::rumble::plugin::log::{self, Level};
use crate::rumble::plugin::server;
use crate::rumble::plugin::types::Error as HostError;
use crate::{ScriptConfig, codec, display, flush_stdout, with_state};

pub fn install(lua: &Lua, cfg: &ScriptConfig) -> mlua::Result<()> {
    install_string(lua)?;
    install_base(lua, cfg)?;
    install_warnings(lua);
    install_rumble(lua)
}

/// A host error as a Lua error. `denied` names the capability and the script.
pub fn host_error(e: HostError) -> mlua::Error {
    mlua::Error::runtime(match e {
        HostError::Denied(cap) => format!("permission denied: {cap} (script \"{}\")", crate::script_name()),
        HostError::NotFound(m) => format!("not found: {m}"),
        HostError::Invalid(m) => format!("invalid argument: {m}"),
        HostError::Failed(m) => m,
    })
}

fn install_string(lua: &Lua) -> mlua::Result<()> {
    let string: Table = lua.globals().get("string")?;
    string.set(
        "SHA256",
        lua.create_function(|_, s: mlua::LuaString| Ok(codec::sha256_hex(&s.as_bytes())))?,
    )?;
    string.set(
        "encode64",
        lua.create_function(|_, s: mlua::LuaString| Ok(codec::encode64(&s.as_bytes())))?,
    )?;
    string.set(
        "decode64",
        lua.create_function(|lua, s: mlua::LuaString| match codec::decode64(&s.as_bytes()) {
            Ok(bytes) => Ok((Value::String(lua.create_string(bytes)?), None)),
            Err(msg) => Ok((Value::Nil, Some(msg))),
        })?,
    )?;
    Ok(())
}

/// `print` goes to the server log (or the terminal under `rumble script run`);
/// `os.exit` must not end the host's instance behind the script's back.
fn install_base(lua: &Lua, cfg: &ScriptConfig) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set(
        "print",
        lua.create_function(|lua, args: Variadic<Value>| {
            let parts: Vec<String> = args.into_iter().map(|v| display(lua, v)).collect();
            // `io.write` output still in stdio's buffer came first.
            flush_stdout();
            log::print(&parts.join("\t"));
            Ok(())
        })?,
    )?;
    let os: Table = globals.get("os")?;
    let start = std::time::Instant::now();
    // WASI has no process CPU clock; time since the instance started is the
    // closest honest answer (the host stops scripts on CPU use anyway).
    os.set("clock", lua.create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))?)?;
    os.set(
        "exit",
        lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
            Err(mlua::Error::runtime("os.exit is not available in a script"))
        })?,
    )?;
    os.set("setlocale", lua.create_function(setlocale)?)?;
    os.set(
        "tmpname",
        lua.create_function(|_, ()| -> mlua::Result<()> {
            Err(mlua::Error::runtime("os.tmpname is not available in a script"))
        })?,
    )?;
    let arg = lua.create_table()?;
    arg.raw_set(0, cfg.chunk_name.as_str())?;
    for (i, a) in cfg.args.iter().enumerate() {
        arg.raw_set(i + 1, a.as_str())?;
    }
    globals.set("arg", arg)?;
    Ok(())
}

/// `os.setlocale`: WASI's libc has only the C locale, yet its setlocale
/// accepts any name without changing anything. Answer as a system with only
/// "C" would: "C" for a query and for "C", "POSIX" and "" (the default
/// locale, C here), fail for any other name.
fn setlocale(lua: &Lua, (locale, category): (Value, Value)) -> mlua::Result<Option<&'static str>> {
    let known = match &locale {
        Value::Nil => true,
        Value::String(s) => matches!(&s.as_bytes()[..], b"C" | b"POSIX" | b""),
        Value::Integer(_) | Value::Number(_) => false,
        other => return Err(bad_argument(1, "setlocale", &format!("string expected, got {}", other.type_name()))),
    };
    check_locale_category(lua, category)?;
    Ok(known.then_some("C"))
}

/// The categories loslib.c accepts (luaL_checkoption, default "all").
fn check_locale_category(lua: &Lua, category: Value) -> mlua::Result<()> {
    let name = match category {
        Value::Nil => return Ok(()),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => display(lua, category),
        other => return Err(bad_argument(2, "setlocale", &format!("string expected, got {}", other.type_name()))),
    };
    match name.as_str() {
        "all" | "collate" | "ctype" | "monetary" | "numeric" | "time" => Ok(()),
        _ => Err(bad_argument(2, "setlocale", &format!("invalid option '{name}'"))),
    }
}

/// Lua's own wording for a bad argument (luaL_argerror).
fn bad_argument(n: u32, function: &str, problem: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{function}' ({problem})"))
}

/// `warn` as lua.c sets it up (lauxlib's warnfoff/warnfon/warnfcont): off
/// until `warn("@on")`, `"@off"` turns it off again, other control messages
/// are ignored. A message, its pieces joined, goes to the log at warn level
/// as `Lua warning: <message>`.
fn install_warnings(lua: &Lua) {
    let warnings = RefCell::new(Warnings::default());
    lua.set_warning_function(move |_, piece, more| {
        if let Some(message) = warnings.borrow_mut().feed(piece, more) {
            log::write(Level::Warn, &format!("Lua warning: {message}"));
        }
        Ok(())
    });
}

#[derive(Default)]
struct Warnings {
    on: bool,
    /// The pieces so far of a message still being written (only while on).
    partial: Option<String>,
}

impl Warnings {
    /// Takes one piece (`more`: another follows); returns a finished message.
    fn feed(&mut self, piece: &str, more: bool) -> Option<String> {
        if let Some(mut message) = self.partial.take() {
            message.push_str(piece);
            return self.hold_or_finish(message, more);
        }
        // As in lauxlib, only a whole one-piece message is a control message,
        // whether warnings are on or off (so warn("x", "@on") turns them on).
        if let Some(control) = piece.strip_prefix('@').filter(|_| !more) {
            match control {
                "on" => self.on = true,
                "off" => self.on = false,
                _ => {}
            }
            return None;
        }
        if !self.on {
            return None;
        }
        self.hold_or_finish(piece.to_string(), more)
    }

    fn hold_or_finish(&mut self, message: String, more: bool) -> Option<String> {
        if more {
            self.partial = Some(message);
            None
        } else {
            Some(message)
        }
    }
}

fn install_rumble(lua: &Lua) -> mlua::Result<()> {
    let rumble = lua.create_table()?;
    rumble.set(
        "readConfig",
        lua.create_function(|_, key: String| server::read_config(&key).map_err(host_error))?,
    )?;
    rumble.set(
        "getLog",
        lua.create_function(|_, ()| log::recent().map_err(host_error))?,
    )?;
    rumble.set("serverInfo", lua.create_function(|lua, ()| server_info(lua))?)?;
    rumble.set(
        "dprint",
        lua.create_function(|lua, v: Value| {
            log::write(Level::Error, &format!("Lua error: {}", display(lua, v)));
            Ok(())
        })?,
    )?;
    rumble.set("createService", lua.create_function(create_service)?)?;
    lua.globals().set("Rumble", rumble)
}

fn server_info(lua: &Lua) -> mlua::Result<Table> {
    let info = server::info();
    let t = lua.create_table()?;
    t.set("version", info.version)?;
    t.set("path", info.path)?;
    t.set("uptime", info.uptime as i64)?;
    t.set("os", info.os)?;
    t.set("arch", info.arch)?;
    Ok(t)
}

/// `Rumble.createService(func, port, threads)`: true once bound, false if
/// the port cannot be bound, nil in every instance but the first.
fn create_service(lua: &Lua, (func, port, threads): (Function, Value, Value)) -> mlua::Result<Option<bool>> {
    let port = whole_number(&port, "port", 1, 65535)?;
    let threads = whole_number(&threads, "threads", 1, 1024)?;
    let key = lua.create_registry_value(func)?;
    let (id, first) = with_state(|s| {
        s.handlers.push(key);
        Ok(((s.handlers.len() - 1) as u32, s.first))
    })
    .map_err(mlua::Error::runtime)?;
    if !first {
        return Ok(None);
    }
    server::create_service(id, port as u16, threads as u32)
        .map(Some)
        .map_err(host_error)
}

fn whole_number(v: &Value, what: &str, min: i64, max: i64) -> mlua::Result<i64> {
    let n = match v {
        Value::Integer(i) => Some(*i),
        Value::Number(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(mlua::Error::runtime(format!(
            "bad argument '{what}' to createService: expected a number from {min} to {max}"
        ))),
    }
}
