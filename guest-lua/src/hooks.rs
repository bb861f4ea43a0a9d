//! `Rumble.setHook` and the hook calls: the session table a hook gets
//! (fields plus `send`, `set`, `get`), the `cmd` table, the `msg` object of
//! `message` hooks, and the mapping of a hook's return values to a verdict.

use std::cell::RefCell;

use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};

use crate::api::host_error;
use crate::session::{Conversation, add_conversation};
use crate::rumble::plugin::hooks::{
    self, CommandFacts, HookSession, Message, Note, Reply, SessionFacts, Verdict,
};
use crate::{error_text, with_state};

thread_local! {
    /// The connection of the hook running now; gone once it returns.
    static SESSION: RefCell<Option<HookSession>> = const { RefCell::new(None) };
    /// The message of the `message` hook running now.
    static MESSAGE: RefCell<Option<Message>> = const { RefCell::new(None) };
    /// The table constructors of [`TABLES_LUA`], made once per instance.
    static TABLES: RefCell<Option<Tables>> = const { RefCell::new(None) };
}

/// The argument tables of a hook call, built by Lua's own table
/// constructors: one protected call per table, sized once, instead of a
/// protected `set` per field (which made up most of a short hook's cost).
/// `setmetatable` is captured before any script runs.
const TABLES_LUA: &str = r#"
local setmetatable, session_methods, message_methods = setmetatable, ...
local function session(address, protocol, port, localport, service, tls, helo, user, sender, recipients)
  return setmetatable({address = address, protocol = protocol, port = port, localport = localport,
    service = service, tls = tls, helo = helo, user = user, sender = sender, recipients = recipients},
    session_methods)
end
local function command(verb, args, address, params, mailbox, tag, code, text)
  return {verb = verb, args = args, address = address, params = params, mailbox = mailbox, tag = tag,
    code = code, text = text}
end
local function message(size, recipient, uid)
  return setmetatable({size = size, recipient = recipient, uid = uid}, message_methods)
end
return session, command, message
"#;

struct Tables {
    session: Function,
    command: Function,
    message: Function,
}

const HOOK_METHODS: &str = "rumble.hook.session";
const MESSAGE_METHODS: &str = "rumble.hook.message";

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let rumble: Table = lua.globals().get("Rumble")?;
    rumble.set("setHook", lua.create_function(set_hook)?)?;
    install_session_methods(lua)?;
    install_message_methods(lua)?;
    let (session, command, message) = lua
        .load(TABLES_LUA)
        .set_name("=hook tables")
        .call::<(Function, Function, Function)>((
            lua.named_registry_value::<Table>(HOOK_METHODS)?,
            lua.named_registry_value::<Table>(MESSAGE_METHODS)?,
        ))?;
    TABLES.with(|t| *t.borrow_mut() = Some(Tables { session, command, message }));
    Ok(())
}

/// The method tables whose functions get plain errors (see lib.rs).
pub fn method_tables(lua: &Lua) -> mlua::Result<Vec<Table>> {
    let mut tables = Vec::new();
    for name in [HOOK_METHODS, MESSAGE_METHODS] {
        let meta: Table = lua.named_registry_value(name)?;
        tables.push(meta.get("__index")?);
    }
    Ok(tables)
}

/// `Rumble.setHook(fn, service, when[, verb])`: true once registered (in
/// the script's first instance), false in the others, which only keep the
/// function so its id is the same everywhere.
fn set_hook(lua: &Lua, (func, service, when, verb): (Value, Value, Value, Value)) -> mlua::Result<bool> {
    let Value::Function(func) = func else {
        return Err(bad_argument(1, &format!("function expected, got {}", func.type_name())));
    };
    let service = name_argument(lua, 2, service)?.ok_or_else(|| bad_argument(2, "string expected, got nil"))?;
    let when = name_argument(lua, 3, when)?.ok_or_else(|| bad_argument(3, "string expected, got nil"))?;
    let verb = name_argument(lua, 4, verb)?;
    let key = lua.create_registry_value(func)?;
    let (id, first) = with_state(|s| {
        s.hooks.push(key);
        Ok(((s.hooks.len() - 1) as u32, s.first))
    })
    .map_err(mlua::Error::runtime)?;
    if !first {
        return Ok(false);
    }
    hooks::set_hook(id, &service, &when, verb.as_deref()).map_err(host_error)?;
    Ok(true)
}

fn name_argument(lua: &Lua, n: u32, v: Value) -> mlua::Result<Option<String>> {
    match v {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.to_str()?.to_ascii_lowercase())),
        other => {
            let _ = lua;
            Err(bad_argument(n, &format!("string expected, got {}", other.type_name())))
        }
    }
}

fn bad_argument(n: u32, problem: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to 'setHook' ({problem})"))
}

/// Run hook `id` and turn what it returned into a verdict.
pub fn run(
    id: u32,
    session: HookSession,
    facts: SessionFacts,
    command: Option<CommandFacts>,
    msg: Option<Message>,
) -> Result<Verdict, String> {
    let (lua, func) = with_state(|s| {
        let key = s.hooks.get(id as usize).ok_or_else(|| format!("no hook handler {id}"))?;
        let func: Function = s.lua.registry_value(key).map_err(|e| error_text(&e))?;
        Ok((s.lua.clone(), func))
    })?;
    let args = hook_arguments(&lua, &facts, command.as_ref(), msg.as_ref()).map_err(|e| error_text(&e))?;
    SESSION.with(|c| *c.borrow_mut() = Some(session));
    MESSAGE.with(|c| *c.borrow_mut() = msg);
    let result = func.call::<MultiValue>(args);
    SESSION.with(|c| c.borrow_mut().take());
    MESSAGE.with(|c| c.borrow_mut().take());
    let values = result.map_err(|e| error_text(&e))?;
    verdict(&lua, values)
}

fn hook_arguments(lua: &Lua, facts: &SessionFacts, command: Option<&CommandFacts>, msg: Option<&Message>) -> mlua::Result<MultiValue> {
    TABLES.with(|tables| {
        let tables = tables.borrow();
        let tables = tables.as_ref().ok_or_else(|| mlua::Error::runtime("hook tables not installed"))?;
        let mut args = MultiValue::with_capacity(3);
        args.push_back(session_table(lua, tables, facts)?);
        if let Some(cmd) = command {
            args.push_back(command_table(lua, tables, cmd)?);
        }
        if let Some(msg) = msg {
            args.push_back(message_table(tables, msg)?);
        }
        Ok(args)
    })
}

fn session_table(lua: &Lua, tables: &Tables, f: &SessionFacts) -> mlua::Result<Value> {
    let recipients = lua.create_sequence_from(f.recipients.iter().map(String::as_str))?;
    tables.session.call((
        f.address.as_str(),
        f.protocol.as_str(),
        f.port,
        f.local_port,
        f.service.as_str(),
        f.tls,
        f.helo.as_deref(),
        f.user.as_deref(),
        f.sender.as_deref(),
        recipients,
    ))
}

fn command_table(lua: &Lua, tables: &Tables, c: &CommandFacts) -> mlua::Result<Value> {
    let params = lua.create_table_with_capacity(0, c.params.len())?;
    for (name, value) in &c.params {
        params.raw_set(name.as_str(), value.as_str())?;
    }
    let (code, text) = match &c.reply {
        Some(reply) => (Some(reply.code), Some(reply.text.as_str())),
        None => (None, None),
    };
    tables.command.call((
        c.verb.as_str(),
        c.args.as_str(),
        c.address.as_deref(),
        params,
        c.mailbox.as_deref(),
        c.tag.as_deref(),
        code,
        text,
    ))
}

fn message_table(tables: &Tables, msg: &Message) -> mlua::Result<Value> {
    let (recipient, uid) = msg.delivery().unzip();
    tables.message.call((msg.size(), recipient, uid))
}

fn with_session<R>(f: impl FnOnce(&HookSession) -> R) -> mlua::Result<R> {
    SESSION.with(|c| match c.borrow().as_ref() {
        Some(s) => Ok(f(s)),
        None => Err(mlua::Error::runtime("session is closed (used after its hook returned)")),
    })
}

fn with_message<R>(f: impl FnOnce(&Message) -> R) -> mlua::Result<R> {
    MESSAGE.with(|c| match c.borrow().as_ref() {
        Some(m) => Ok(f(m)),
        None => Err(mlua::Error::runtime("message is gone (used after its hook returned)")),
    })
}

impl Conversation for HookSession {
    fn with<R>(f: impl FnOnce(&Self) -> R) -> mlua::Result<R> {
        with_session(f)
    }
    fn receive_line(&self) -> Result<Vec<u8>, crate::rumble::plugin::session::IoError> {
        HookSession::receive_line(self)
    }
    fn receive_bytes(&self, max: u32) -> Result<Vec<u8>, crate::rumble::plugin::session::IoError> {
        HookSession::receive_bytes(self, max)
    }
    fn lock(&self) -> bool {
        HookSession::lock(self)
    }
    fn unlock(&self) {
        HookSession::unlock(self)
    }
}

fn install_session_methods(lua: &Lua) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    methods.set(
        "send",
        lua.create_function(|_, (_this, args): (Value, Variadic<Value>)| {
            let data = crate::session::send_bytes(&args)?;
            with_session(|s| s.send(&data))?.map_err(host_error)?;
            Ok(true)
        })?,
    )?;
    methods.set(
        "set",
        lua.create_function(|_, (_this, key, value): (Value, String, Value)| {
            let note = to_note(&value)?;
            with_session(|s| s.set(&key, note.as_ref()))?.map_err(host_error)
        })?,
    )?;
    methods.set(
        "get",
        lua.create_function(|lua, (_this, key): (Value, String)| {
            Ok(match with_session(|s| s.get(&key))? {
                None => Value::Nil,
                Some(Note::Text(t)) => Value::String(lua.create_string(t)?),
                Some(Note::Integer(i)) => Value::Integer(i),
                Some(Note::Number(n)) => Value::Number(n),
                Some(Note::Boolean(b)) => Value::Boolean(b),
            })
        })?,
    )?;
    // receive, receivebytes and lock answer as in a createService handler.
    add_conversation::<HookSession>(lua, &methods)?;
    let meta = lua.create_table()?;
    meta.set("__index", methods)?;
    lua.set_named_registry_value(HOOK_METHODS, meta)
}

fn to_note(value: &Value) -> mlua::Result<Option<Note>> {
    Ok(match value {
        Value::Nil => None,
        Value::String(s) => Some(Note::Text(s.as_bytes().to_vec())),
        Value::Integer(i) => Some(Note::Integer(*i)),
        Value::Number(n) => Some(Note::Number(*n)),
        Value::Boolean(b) => Some(Note::Boolean(*b)),
        other => {
            return Err(mlua::Error::runtime(format!(
                "session:set: a {} cannot be kept (string, number or boolean)",
                other.type_name()
            )));
        }
    })
}

fn install_message_methods(lua: &Lua) -> mlua::Result<()> {
    let methods = lua.create_table()?;
    methods.set(
        "header",
        lua.create_function(|_, (_this, name): (Value, String)| with_message(|m| m.header(&name)))?,
    )?;
    methods.set(
        "headers",
        lua.create_function(|lua, _this: Value| {
            let list = lua.create_table()?;
            for (i, (name, value)) in with_message(|m| m.headers())?.into_iter().enumerate() {
                let pair = lua.create_table()?;
                pair.set(1, name.as_str())?;
                pair.set(2, value.as_str())?;
                pair.set("name", name)?;
                pair.set("value", value)?;
                list.raw_set(i + 1, pair)?;
            }
            Ok(list)
        })?,
    )?;
    methods.set(
        "body",
        lua.create_function(|lua, (_this, max): (Value, Option<i64>)| {
            let max = max.map(|m| m.max(0) as u64);
            lua.create_string(with_message(|m| m.body(max))?)
        })?,
    )?;
    methods.set(
        "addFlag",
        lua.create_function(|_, (_this, flag): (Value, String)| {
            with_message(|m| m.add_flag(&flag))?.map_err(host_error)?;
            Ok(true)
        })?,
    )?;
    methods.set(
        "addHeader",
        lua.create_function(|_, (_this, name, value): (Value, String, String)| {
            with_message(|m| m.add_header(&name, &value))?.map_err(host_error)?;
            Ok(true)
        })?,
    )?;
    let meta = lua.create_table()?;
    meta.set("__index", methods)?;
    lua.set_named_registry_value(MESSAGE_METHODS, meta)
}

/// What the hook returned, as Rumble read it: nothing, true or "okay" go
/// on; false or "failure" close; "ignore" means the script answered; 1, 2
/// and 3 are Rumble's numeric OKAY, FAILURE and IGNORE; a status code (and
/// text) is the answer.
fn verdict(lua: &Lua, values: MultiValue) -> Result<Verdict, String> {
    let mut values = values.into_iter();
    let first = values.next().unwrap_or(Value::Nil);
    let second = values.next().unwrap_or(Value::Nil);
    let code = match &first {
        Value::Nil | Value::Boolean(true) => return Ok(Verdict::Okay),
        Value::Boolean(false) => return Ok(Verdict::Failure),
        Value::String(s) => match s.to_str().map(|s| s.to_ascii_lowercase()).as_deref() {
            Ok("okay") => return Ok(Verdict::Okay),
            Ok("failure") => return Ok(Verdict::Failure),
            Ok("ignore") => return Ok(Verdict::Ignore),
            Ok("discard") => return Ok(Verdict::Discard),
            Ok("folder") => {
                return match second {
                    Value::String(name) if !name.as_bytes().is_empty() => Ok(Verdict::Folder(name.to_string_lossy())),
                    other => Err(format!("hook returned \"folder\" without a folder name (got {})", other.type_name())),
                };
            }
            _ => s.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()),
        },
        Value::Integer(i) => Some(*i),
        Value::Number(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    };
    let text = match second {
        Value::Nil => String::new(),
        other => crate::display(lua, other),
    };
    match code {
        Some(1) => Ok(Verdict::Okay),
        Some(2) => Ok(Verdict::Failure),
        Some(3) => Ok(Verdict::Ignore),
        Some(code @ 200..=599) => Ok(Verdict::Reply(Reply { code: code as u16, text })),
        _ => Err(format!(
            "hook returned {}: expected nothing, true, false, \"okay\", \"failure\", \"ignore\", a status code 200-599, or (deliver hooks) \"folder\", name or \"discard\"",
            crate::display(lua, first)
        )),
    }
}
