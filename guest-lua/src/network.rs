//! The `network` table: DNS lookups through the host's resolver (grant
//! `dns`). A failed lookup is an empty answer, never an error; a bad
//! argument or a missing grant is a Lua error.

use mlua::{Lua, Table, Value};

use crate::api::host_error;
use crate::rumble::plugin::network;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set("getHostByName", lua.create_function(get_host_by_name)?)?;
    t.set("getMX", lua.create_function(get_mx)?)?;
    t.set("getTXT", lua.create_function(get_txt)?)?;
    lua.globals().set("network", t)
}

/// The type as Lua's `type()` names it (mlua says "integer" for some
/// numbers); shared by the network, kv and control argument checks.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) | Value::Number(_) => "number",
        other => other.type_name(),
    }
}

/// A name argument: a string (in Lua's own wording when it is not).
pub(crate) fn name_arg(v: &Value, function: &str) -> mlua::Result<String> {
    match v {
        Value::String(s) => Ok(s.to_str()?.to_string()),
        other => Err(mlua::Error::runtime(format!(
            "bad argument #1 to '{function}' (string expected, got {})",
            type_name(other)
        ))),
    }
}

/// `network.getHostByName(host)`: the first IPv4 address (nil if none), as
/// Rumble; then every A and AAAA address.
fn get_host_by_name(lua: &Lua, host: Value) -> mlua::Result<(Option<String>, Table)> {
    let addrs = network::get_host_by_name(&name_arg(&host, "getHostByName")?).map_err(host_error)?;
    let first_v4 = addrs.iter().find(|a| !a.contains(':')).cloned();
    Ok((first_v4, lua.create_sequence_from(addrs)?))
}

/// `network.getMX(domain)`: `{ {preference=, host=}, ... }` by preference.
fn get_mx(lua: &Lua, domain: Value) -> mlua::Result<Table> {
    let records = network::get_mx(&name_arg(&domain, "getMX")?).map_err(host_error)?;
    let out = lua.create_table()?;
    for (i, mx) in records.into_iter().enumerate() {
        let t = lua.create_table()?;
        t.set("preference", mx.preference)?;
        t.set("host", mx.host)?;
        out.raw_set(i + 1, t)?;
    }
    Ok(out)
}

/// `network.getTXT(name)`: one string per TXT record (its strings joined).
fn get_txt(lua: &Lua, name: Value) -> mlua::Result<Table> {
    let records = network::get_txt(&name_arg(&name, "getTXT")?).map_err(host_error)?;
    let strings = records.into_iter().map(|r| lua.create_string(r)).collect::<mlua::Result<Vec<_>>>()?;
    lua.create_sequence_from(strings)
}
