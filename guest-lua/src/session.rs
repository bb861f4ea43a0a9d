//! The session object handed to `Rumble.createService` handlers:
//! `session:send/receive/receivebytes/lock/unlock` plus the read-only fields
//! `address`, `protocol` and `port`. The connection itself stays in the host;
//! the guest holds a handle that is only valid while the handler runs.

use mlua::{Function, Lua, Table, Value, Variadic};
use std::cell::RefCell;

use crate::rumble::plugin::session::{Connection, IoError, Peer};
use crate::{error_text, with_state};

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

pub(crate) const METHODS: &str = "rumble.session.methods";

fn io_error_text(e: IoError) -> &'static str {
    match e {
        IoError::Closed => "closed",
        IoError::Timeout => "timeout",
        IoError::TooLong => "line too long",
    }
}

fn with_connection<R>(f: impl FnOnce(&Connection) -> R) -> mlua::Result<R> {
    CONNECTION.with(|c| match c.borrow().as_ref() {
        Some(conn) => Ok(f(conn)),
        None => Err(mlua::Error::runtime("session is closed (used after its handler returned)")),
    })
}

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    // session:send(s1, s2, ...) sends each argument; Rumble's binary form
    // session:send(n, data) (exactly a number then a string) ignores the length.
    methods.set(
        "send",
        lua.create_function(|_, (_this, args): (Value, Variadic<Value>)| {
            let data = send_bytes(&args)?;
            Ok(with_connection(|c| c.send(&data))?.is_ok())
        })?,
    )?;
    add_conversation::<Connection>(lua, &methods)?;
    let meta = lua.create_table()?;
    meta.set("__index", methods)?;
    lua.set_named_registry_value(METHODS, meta)
}

/// What `receive`, `receivebytes`, `lock` and `unlock` call: a script
/// service's connection or a hook's session.
pub(crate) trait Conversation: Sized + 'static {
    /// Run `f` on the current one (an error once its call has returned).
    fn with<R>(f: impl FnOnce(&Self) -> R) -> mlua::Result<R>;
    fn receive_line(&self) -> Result<Vec<u8>, IoError>;
    fn receive_bytes(&self, max: u32) -> Result<Vec<u8>, IoError>;
    fn lock(&self) -> bool;
    fn unlock(&self);
}

impl Conversation for Connection {
    fn with<R>(f: impl FnOnce(&Self) -> R) -> mlua::Result<R> {
        with_connection(f)
    }
    fn receive_line(&self) -> Result<Vec<u8>, IoError> {
        Connection::receive_line(self)
    }
    fn receive_bytes(&self, max: u32) -> Result<Vec<u8>, IoError> {
        Connection::receive_bytes(self, max)
    }
    fn lock(&self) -> bool {
        Connection::lock(self)
    }
    fn unlock(&self) {
        Connection::unlock(self)
    }
}

/// Set `receive`, `receivebytes`, `lock` and `unlock` on `methods`:
/// - `receive()` -> line, length; on timeout or disconnect `"", 0` and the
///   reason, so Rumble-era loops that stop on `""` still stop;
/// - `receivebytes(n)` -> data, length received; `"", -1, reason` on failure;
/// - `lock()` -> true, or `false, "timeout"` when it was not free in time.
pub(crate) fn add_conversation<C: Conversation>(lua: &Lua, methods: &Table) -> mlua::Result<()> {
    methods.set(
        "receive",
        lua.create_function(|lua, _this: Value| {
            Ok(match C::with(|c| c.receive_line())? {
                Ok(line) => (lua.create_string(&line)?, line.len() as i64, None),
                Err(e) => (lua.create_string("")?, 0, Some(io_error_text(e))),
            })
        })?,
    )?;
    methods.set(
        "receivebytes",
        lua.create_function(|lua, (_this, n): (Value, i64)| {
            let max = n.clamp(0, u32::MAX as i64) as u32;
            Ok(match C::with(|c| c.receive_bytes(max))? {
                Ok(data) => (lua.create_string(&data)?, data.len() as i64, None),
                Err(e) => (lua.create_string("")?, -1, Some(io_error_text(e))),
            })
        })?,
    )?;
    methods.set(
        "lock",
        lua.create_function(|_, _this: Value| {
            Ok(match C::with(|c| c.lock())? {
                true => (true, None),
                false => (false, Some("timeout")),
            })
        })?,
    )?;
    methods.set("unlock", lua.create_function(|_, _this: Value| C::with(|c| c.unlock()))?)
}

/// The bytes `session:send(...)` sends: each argument in turn, except that
/// Rumble's binary form `send(n, data)` ignores the length.
pub(crate) fn send_bytes(args: &[Value]) -> mlua::Result<Vec<u8>> {
    let skip_len =
        args.len() == 2 && matches!(args[0], Value::Integer(_) | Value::Number(_)) && matches!(args[1], Value::String(_));
    let mut data = Vec::new();
    for (i, v) in args.iter().enumerate() {
        if i == 0 && skip_len {
            continue;
        }
        match v {
            Value::String(s) => data.extend_from_slice(&s.as_bytes()),
            Value::Integer(n) => data.extend_from_slice(n.to_string().as_bytes()),
            Value::Number(n) => data.extend_from_slice(n.to_string().as_bytes()),
            other => {
                return Err(mlua::Error::runtime(format!("session:send: cannot send a {}", other.type_name())));
            }
        }
    }
    Ok(data)
}

/// Call handler `id` with a fresh session table for `conn`.
pub fn serve(id: u32, conn: Connection, peer: Peer) -> Result<(), String> {
    let (lua, func) = with_state(|s| {
        let key = s.handlers.get(id as usize).ok_or_else(|| format!("no service handler {id}"))?;
        let func: Function = s.lua.registry_value(key).map_err(|e| error_text(&e))?;
        Ok((s.lua.clone(), func))
    })?;
    let session = session_table(&lua, &peer).map_err(|e| error_text(&e))?;
    CONNECTION.with(|c| *c.borrow_mut() = Some(conn));
    let result = func.call::<()>(session).map_err(|e| error_text(&e));
    CONNECTION.with(|c| c.borrow_mut().take());
    result
}

fn session_table(lua: &Lua, peer: &Peer) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("address", peer.address.as_str())?;
    t.set("protocol", peer.protocol.as_str())?;
    t.set("port", peer.port)?;
    t.set("localport", peer.local_port)?;
    let meta: Table = lua.named_registry_value(METHODS)?;
    t.set_metatable(Some(meta))?;
    Ok(t)
}
