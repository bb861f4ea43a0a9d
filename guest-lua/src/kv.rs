//! The `kv` table: the script's own key-value store in the server's store.
//! Values are strings (numbers are stored as their text); keys are strings
//! (or numbers, as text). No grant: the host keys everything by the
//! script's name.

use mlua::{Lua, Value};

use crate::api::host_error;
use crate::network::type_name;
use crate::rumble::plugin::kv;
use crate::rumble::plugin::types::Error as HostError;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set("get", lua.create_function(get)?)?;
    t.set("set", lua.create_function(set)?)?;
    t.set("incr", lua.create_function(incr)?)?;
    t.set("delete", lua.create_function(delete)?)?;
    lua.globals().set("kv", t)
}

fn bad(n: u32, function: &str, problem: String) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{function}' ({problem})"))
}

/// A string or a number, as its bytes (numbers converted as Lua's own
/// `lua_tolstring` does, so `kv.set(k, 1.5)` stores "1.5").
fn text_arg(lua: &Lua, v: &Value, n: u32, function: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone())? {
            Some(s) => Ok(s.as_bytes().to_vec()),
            None => Err(bad(n, function, "string expected, got number".into())),
        },
        other => Err(bad(n, function, format!("string expected, got {}", type_name(other)))),
    }
}

fn key_arg(lua: &Lua, v: &Value, function: &str) -> mlua::Result<String> {
    String::from_utf8(text_arg(lua, v, 1, function)?).map_err(|_| bad(1, function, "the key is not UTF-8 text".into()))
}

/// A whole number from `v`, or None for nil.
fn integer_arg(v: &Value, n: u32, function: &str, what: &str) -> mlua::Result<Option<i64>> {
    match v {
        Value::Nil => Ok(None),
        Value::Integer(i) => Ok(Some(*i)),
        Value::Number(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Some(*f as i64)),
        other => Err(bad(n, function, format!("{what}: a whole number expected, got {}", type_name(other)))),
    }
}

/// A time to live in seconds: nil (for ever) or at least 1.
fn ttl_arg(v: &Value, n: u32, function: &str) -> mlua::Result<Option<u64>> {
    match integer_arg(v, n, function, "ttl")? {
        None => Ok(None),
        Some(t) if t >= 1 => Ok(Some(t as u64)),
        Some(t) => Err(bad(n, function, format!("ttl: at least 1 second expected, got {t}"))),
    }
}

/// A store failure reads on its own (`the key-value store of script "x" is full (1048576 bytes)`).
fn kv_error(e: HostError) -> mlua::Error {
    match e {
        HostError::Failed(m) => mlua::Error::runtime(m),
        other => host_error(other),
    }
}

/// `kv.get(key)`: the value, or nil.
fn get(lua: &Lua, key: Value) -> mlua::Result<Option<mlua::LuaString>> {
    let value = kv::get(&key_arg(lua, &key, "get")?).map_err(kv_error)?;
    value.map(|v| lua.create_string(v)).transpose()
}

/// `kv.set(key, value[, ttl])`: true.
fn set(lua: &Lua, (key, value, ttl): (Value, Value, Value)) -> mlua::Result<bool> {
    let key = key_arg(lua, &key, "set")?;
    let value = text_arg(lua, &value, 2, "set")?;
    let ttl = ttl_arg(&ttl, 3, "set")?;
    kv::set(&key, &value, ttl).map_err(kv_error)?;
    Ok(true)
}

/// `kv.incr(key[, by[, ttl]])`: the new value (by defaults to 1).
fn incr(lua: &Lua, (key, by, ttl): (Value, Value, Value)) -> mlua::Result<i64> {
    let key = key_arg(lua, &key, "incr")?;
    let by = integer_arg(&by, 2, "incr", "by")?.unwrap_or(1);
    let ttl = ttl_arg(&ttl, 3, "incr")?;
    kv::incr(&key, by, ttl).map_err(kv_error)
}

/// `kv.delete(key)`: whether a live entry was there.
fn delete(lua: &Lua, key: Value) -> mlua::Result<bool> {
    kv::delete(&key_arg(lua, &key, "delete")?).map_err(kv_error)
}
