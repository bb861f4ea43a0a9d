//! Service control and status functions of the `Rumble` table (grant
//! `services.control SERVICE...|*`). An unknown service is `nil, "no service named ..."`
//! for the control calls (Rumble ignored it silently) and `nil` for the
//! status calls (as Rumble); a missing grant is a Lua error.

use mlua::{Lua, MultiValue, Table, Value};

use crate::api::host_error;
use crate::network::name_arg;
use crate::rumble::plugin::control::{self, Action};
use crate::rumble::plugin::types::Error as HostError;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let rumble: Table = lua.globals().get("Rumble")?;
    for (name, action) in [
        ("startService", Action::Start),
        ("stopService", Action::Stop),
        ("suspendService", Action::Suspend),
        ("resumeService", Action::Resume),
    ] {
        let function = name;
        rumble.set(
            name,
            lua.create_function(move |lua, svc: Value| control_service(lua, function, &svc, action))?,
        )?;
    }
    rumble.set("serviceInfo", lua.create_function(service_info)?)?;
    rumble.set("trafficInfo", lua.create_function(traffic_info)?)?;
    rumble.set("listModules", lua.create_function(list_modules)?)?;
    rumble.set("reloadConfiguration", lua.create_function(reload_configuration)?)?;
    Ok(())
}

/// `true`, or `nil, message` for what the caller may test for (an unknown
/// service, a failed reload); a denial stays a Lua error.
fn ok_or_nil(lua: &Lua, result: Result<Value, HostError>) -> mlua::Result<MultiValue> {
    match result {
        Ok(v) => Ok(MultiValue::from_vec(vec![v])),
        Err(HostError::NotFound(m) | HostError::Failed(m)) => {
            Ok(MultiValue::from_vec(vec![Value::Nil, Value::String(lua.create_string(m)?)]))
        }
        Err(e) => Err(host_error(e)),
    }
}

fn control_service(lua: &Lua, function: &str, svc: &Value, action: Action) -> mlua::Result<MultiValue> {
    let name = name_arg(svc, function)?;
    ok_or_nil(lua, control::control_service(&name, action).map(|()| Value::Boolean(true)))
}

/// `Rumble.serviceInfo(name)`: Rumble's fields, or nil.
fn service_info(lua: &Lua, name: Value) -> mlua::Result<Option<Table>> {
    let Some(info) = control::service_info(&name_arg(&name, "serviceInfo")?).map_err(host_error)? else {
        return Ok(None);
    };
    let t = lua.create_table()?;
    t.set("workers", info.workers)?;
    t.set("busy", info.busy as i64)?;
    t.set("idle", info.idle as i64)?;
    t.set("enabled", info.enabled)?;
    t.set("sessions", info.sessions as i64)?;
    t.set("sent", info.sent as i64)?;
    t.set("received", info.received as i64)?;
    t.set("rejected", info.rejected as i64)?;
    t.set("capabilities", info.capabilities)?;
    Ok(Some(t))
}

/// `Rumble.trafficInfo(name)`: `{ {hits, bytes, rejections}, ... }`, newest
/// hour first, or nil.
fn traffic_info(lua: &Lua, name: Value) -> mlua::Result<Option<Table>> {
    let Some(hours) = control::traffic_info(&name_arg(&name, "trafficInfo")?).map_err(host_error)? else {
        return Ok(None);
    };
    let out = lua.create_table()?;
    for (i, h) in hours.into_iter().enumerate() {
        out.raw_set(i + 1, lua.create_sequence_from([h.hits as i64, h.bytes as i64, h.rejections as i64])?)?;
    }
    Ok(Some(out))
}

/// `Rumble.listModules()`: the loaded scripts. `title` and `author` keep
/// Rumble's module fields for old status pages.
fn list_modules(lua: &Lua, (): ()) -> mlua::Result<Table> {
    let modules = control::list_modules().map_err(host_error)?;
    let out = lua.create_table()?;
    for (i, m) in modules.into_iter().enumerate() {
        let t = lua.create_table()?;
        t.set("title", m.name.as_str())?;
        t.set("name", m.name)?;
        t.set("description", "")?;
        t.set("author", "Unknown")?;
        t.set("file", m.file)?;
        t.set("grants", lua.create_sequence_from(m.grants)?)?;
        t.set("registered", lua.create_sequence_from(m.registered)?)?;
        t.set("calls", m.calls as i64)?;
        t.set("errors", m.errors as i64)?;
        t.set("stops", m.stops as i64)?;
        out.raw_set(i + 1, t)?;
    }
    Ok(out)
}

/// `Rumble.reloadConfiguration()`: `true, {notes}` or `nil, error`.
fn reload_configuration(lua: &Lua, (): ()) -> mlua::Result<MultiValue> {
    match control::reload_configuration() {
        Ok(notes) => Ok(MultiValue::from_vec(vec![Value::Boolean(true), Value::Table(lua.create_sequence_from(notes)?)])),
        Err(e) => ok_or_nil(lua, Err(e)),
    }
}
