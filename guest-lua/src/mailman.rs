//! The `Mailman` table: domains, accounts, mail and the queue, each call one
//! `mailman` WIT import where the host checks the grant. Arguments are
//! checked here first, with Lua's own wording (`bad argument #1 to
//! 'readMail' (number expected, got nil)`). Messages are parsed here, with
//! mail-parser, so the script's CPU budget pays for it.

use mlua::{Lua, MultiValue, Table, Value};

use crate::api::host_error;
use crate::rumble::plugin::mailman::{self, Account, AccountKey, AccountUpdate, FolderKey, Letter, LetterSummary, QueueItem};
use crate::rumble::plugin::types::Error as HostError;

mod message;

/// Rumble's \Seen bit (flags are Rumble's values).
const SEEN: i64 = 0x20;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.set("accountExists", lua.create_function(|_, a: MultiValue| account_exists(&a, "accountExists", mailman::account_exists))?)?;
    t.set("addressExists", lua.create_function(|_, a: MultiValue| account_exists(&a, "addressExists", mailman::address_exists))?)?;
    t.set("createDomain", lua.create_function(|_, a: MultiValue| create_domain(&a))?)?;
    t.set("deleteDomain", lua.create_function(|_, a: MultiValue| delete_domain(&a))?)?;
    t.set("updateDomain", lua.create_function(|_, a: MultiValue| update_domain(&a))?)?;
    t.set("listDomains", lua.create_function(|lua, ()| list_domains(lua))?)?;
    t.set("listAccounts", lua.create_function(|lua, a: MultiValue| list_accounts(lua, &a))?)?;
    t.set("readAccount", lua.create_function(|lua, a: MultiValue| read_account(lua, &a))?)?;
    t.set("saveAccount", lua.create_function(|_, a: MultiValue| save_account(&a))?)?;
    t.set("deleteAccount", lua.create_function(|_, a: MultiValue| delete_account(&a))?)?;
    t.set("listFolders", lua.create_function(|lua, a: MultiValue| list_folders(lua, &a))?)?;
    t.set("listHeaders", lua.create_function(|lua, a: MultiValue| list_headers(lua, &a))?)?;
    t.set("readMail", lua.create_function(|lua, a: MultiValue| read_mail(lua, &a))?)?;
    t.set("deleteMail", lua.create_function(|lua, a: MultiValue| delete_mail(lua, &a))?)?;
    t.set("sendMail", lua.create_function(|lua, a: MultiValue| send_mail(lua, &a))?)?;
    t.set("getQueue", lua.create_function(|lua, ()| get_queue(lua))?)?;
    lua.globals().set("Mailman", t)
}

// ---- arguments ----

/// Lua's wording for a bad argument (luaL_argerror).
fn bad_argument(n: usize, function: &str, problem: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{function}' ({problem})"))
}

fn arg(args: &MultiValue, n: usize) -> &Value {
    args.get(n - 1).unwrap_or(&Value::Nil)
}

/// Lua's type name for messages ("no value" past the last argument, as luaL_typeerror).
fn type_of(args: &MultiValue, n: usize) -> &'static str {
    if n > args.len() { "no value" } else { arg(args, n).type_name() }
}

/// luaL_checkstring: a string, or a number as its text.
fn string_arg(args: &MultiValue, n: usize, function: &str) -> mlua::Result<String> {
    match arg(args, n) {
        Value::String(s) => Ok(s.to_str()?.to_string()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Number(f) => Ok(f.to_string()),
        _ => Err(bad_argument(n, function, &format!("string expected, got {}", type_of(args, n)))),
    }
}

fn opt_string_arg(args: &MultiValue, n: usize, function: &str) -> mlua::Result<Option<String>> {
    match arg(args, n) {
        Value::Nil => Ok(None),
        _ => string_arg(args, n, function).map(Some),
    }
}

/// luaL_checkinteger: an integer, or a float with an integer value.
fn integer_arg(args: &MultiValue, n: usize, function: &str) -> mlua::Result<i64> {
    match arg(args, n) {
        Value::Integer(i) => Ok(*i),
        Value::Number(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        Value::Number(_) => Err(bad_argument(n, function, "number has no integer representation")),
        _ => Err(bad_argument(n, function, &format!("number expected, got {}", type_of(args, n)))),
    }
}

fn opt_integer_arg(args: &MultiValue, n: usize, function: &str) -> mlua::Result<Option<i64>> {
    match arg(args, n) {
        Value::Nil => Ok(None),
        _ => integer_arg(args, n, function).map(Some),
    }
}

/// `f(uid)` or `f(domain, user)`, Rumble's two ways of naming an account.
fn account_key(args: &MultiValue, function: &str) -> mlua::Result<AccountKey> {
    match arg(args, 1) {
        Value::Integer(_) | Value::Number(_) => Ok(AccountKey::Uid(integer_arg(args, 1, function)?)),
        Value::String(_) => Ok(AccountKey::Address((string_arg(args, 1, function)?, string_arg(args, 2, function)?))),
        _ => Err(bad_argument(1, function, &format!("number or string expected, got {}", type_of(args, 1)))),
    }
}

// ---- results ----

/// A `not-found` answer is `nil, message` (Rumble returned nothing); any
/// other host error is raised.
fn nil_if_not_found<T>(result: Result<T, HostError>) -> mlua::Result<Result<T, String>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(HostError::NotFound(what)) => Ok(Err(format!("not found: {what}"))),
        Err(e) => Err(host_error(e)),
    }
}

fn nil_with(lua: &Lua, message: String) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_iter([Value::Nil, Value::String(lua.create_string(message)?)]))
}

fn one(value: impl mlua::IntoLua, lua: &Lua) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_iter([value.into_lua(lua)?]))
}

fn account_table(lua: &Lua, a: Account) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("id", a.id)?;
    t.set("name", a.name)?;
    t.set("domain", a.domain)?;
    t.set("password", a.password)?;
    t.set("type", a.kind)?;
    t.set("arguments", a.arguments)?;
    Ok(t)
}

// ---- addresses and domains ----

fn account_exists(
    args: &MultiValue,
    function: &str,
    call: fn(&str, &str) -> Result<bool, HostError>,
) -> mlua::Result<bool> {
    let (domain, user) = (string_arg(args, 1, function)?, string_arg(args, 2, function)?);
    call(&domain, &user).map_err(host_error)
}

fn create_domain(args: &MultiValue) -> mlua::Result<bool> {
    let f = "createDomain";
    let domain = string_arg(args, 1, f)?;
    let path = opt_string_arg(args, 2, f)?;
    let flags = opt_integer_arg(args, 3, f)?;
    mailman::create_domain(&domain, path.as_deref(), flags).map_err(host_error)
}

fn delete_domain(args: &MultiValue) -> mlua::Result<bool> {
    mailman::delete_domain(&string_arg(args, 1, "deleteDomain")?).map_err(host_error)
}

fn update_domain(args: &MultiValue) -> mlua::Result<bool> {
    let f = "updateDomain";
    let (old, new) = (string_arg(args, 1, f)?, string_arg(args, 2, f)?);
    let path = opt_string_arg(args, 3, f)?;
    let flags = opt_integer_arg(args, 4, f)?;
    mailman::update_domain(&old, &new, path.as_deref(), flags).map_err(host_error)
}

/// `{ ["example.com"] = {path=..., flags=...}, ... }`, as Rumble.
fn list_domains(lua: &Lua) -> mlua::Result<Table> {
    let out = lua.create_table()?;
    for d in mailman::list_domains().map_err(host_error)? {
        let t = lua.create_table()?;
        t.set("path", d.path)?;
        t.set("flags", d.flags)?;
        out.set(d.name, t)?;
    }
    Ok(out)
}

// ---- accounts ----

fn list_accounts(lua: &Lua, args: &MultiValue) -> mlua::Result<Table> {
    let accounts = mailman::list_accounts(&string_arg(args, 1, "listAccounts")?).map_err(host_error)?;
    lua.create_sequence_from(accounts.into_iter().map(|a| account_table(lua, a)).collect::<mlua::Result<Vec<_>>>()?)
}

fn read_account(lua: &Lua, args: &MultiValue) -> mlua::Result<Option<Table>> {
    let key = account_key(args, "readAccount")?;
    mailman::read_account(&key).map_err(host_error)?.map(|a| account_table(lua, a)).transpose()
}

fn delete_account(args: &MultiValue) -> mlua::Result<bool> {
    mailman::delete_account(&account_key(args, "deleteAccount")?).map_err(host_error)
}

/// `saveAccount(t)`: name, domain and type are required; password and
/// arguments default to "". `t.id` (non-zero) updates that account.
/// `t.password` is taken as a hash when it is one (64 hex digits, or an
/// argon2 string read back from readAccount) unless `t.plain` is true;
/// otherwise it is a password, hashed by the host with argon2id.
fn save_account(args: &MultiValue) -> mlua::Result<bool> {
    let f = "saveAccount";
    let Value::Table(t) = arg(args, 1) else {
        return Err(bad_argument(1, f, &format!("table expected, got {}", type_of(args, 1))));
    };
    let field = |name: &str, required: bool| -> mlua::Result<String> {
        match t.get::<Value>(name)? {
            Value::String(s) => Ok(s.to_str()?.to_string()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Nil if !required => Ok(String::new()),
            other => Err(bad_argument(1, f, &format!("field '{name}': string expected, got {}", other.type_name()))),
        }
    };
    let id = match t.get::<Value>("id")? {
        Value::Nil => None,
        Value::Integer(0) => None,
        Value::Integer(i) => Some(i),
        Value::Number(n) if n.fract() == 0.0 && n != 0.0 => Some(n as i64),
        other => return Err(bad_argument(1, f, &format!("field 'id': integer expected, got {}", other.type_name()))),
    };
    let plain = match t.get::<Value>("plain")? {
        Value::Nil => false,
        Value::Boolean(b) => b,
        other => return Err(bad_argument(1, f, &format!("field 'plain': boolean expected, got {}", other.type_name()))),
    };
    let update = AccountUpdate {
        id,
        name: field("name", true)?,
        domain: field("domain", true)?,
        kind: field("type", true)?,
        password: field("password", false)?,
        plain,
        arguments: field("arguments", false)?,
    };
    mailman::save_account(&update).map_err(host_error)
}

// ---- mail ----

/// `{[0]="INBOX", [id]=name, ...}`, as Rumble.
fn list_folders(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let uid = integer_arg(args, 1, "listFolders")?;
    let folders = match nil_if_not_found(mailman::list_folders(uid))? {
        Ok(f) => f,
        Err(message) => return nil_with(lua, message),
    };
    let t = lua.create_table()?;
    for (id, name) in folders {
        t.raw_set(id, name)?;
    }
    one(t, lua)
}

/// The folder argument: a folder id (0 = INBOX, the default) or a name.
fn folder_key(args: &MultiValue, function: &str) -> mlua::Result<FolderKey> {
    match arg(args, 2) {
        Value::Nil => Ok(FolderKey::Id(0)),
        Value::String(s) => Ok(FolderKey::Name(s.to_str()?.to_string())),
        _ => Ok(FolderKey::Id(integer_arg(args, 2, function)?)),
    }
}

fn list_headers(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let f = "listHeaders";
    let uid = integer_arg(args, 1, f)?;
    let folder = folder_key(args, f)?;
    let letters = match nil_if_not_found(mailman::list_headers(uid, &folder))? {
        Ok(l) => l,
        Err(message) => return nil_with(lua, message),
    };
    let rows = letters.into_iter().map(|l| summary_table(lua, l)).collect::<mlua::Result<Vec<_>>>()?;
    one(lua.create_sequence_from(rows)?, lua)
}

/// Header fields by lower-case name, then the letter's own fields (so a
/// header called "Size" cannot hide the real size).
fn summary_table(lua: &Lua, l: LetterSummary) -> mlua::Result<Table> {
    let t = message::header_fields(lua, &l.header)?;
    set_letter_fields(&t, l.id, l.file, l.size, l.sent, l.flags)?;
    Ok(t)
}

/// The fields every letter table has, set after its headers so a header
/// cannot hide them.
fn set_letter_fields(t: &Table, id: i64, file: String, size: i64, sent: i64, flags: i64) -> mlua::Result<()> {
    t.set("id", id)?;
    t.set("file", file)?;
    t.set("size", size)?;
    t.set("sent", sent)?;
    t.set("flags", flags)?;
    t.set("read", flags & SEEN != 0)
}

fn read_mail(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let f = "readMail";
    let (uid, id) = (integer_arg(args, 1, f)?, integer_arg(args, 2, f)?);
    match nil_if_not_found(mailman::read_mail(uid, id))? {
        Ok(Some(letter)) => one(letter_table(lua, letter)?, lua),
        Ok(None) => one(Value::Nil, lua),
        Err(message) => nil_with(lua, message),
    }
}

fn letter_table(lua: &Lua, l: Letter) -> mlua::Result<Table> {
    let t = message::parse(lua, &l.message)?;
    set_letter_fields(&t, l.id, l.file, l.size, l.sent, l.flags)?;
    Ok(t)
}

fn delete_mail(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let f = "deleteMail";
    let (uid, id) = (integer_arg(args, 1, f)?, integer_arg(args, 2, f)?);
    match nil_if_not_found(mailman::delete_mail(uid, id))? {
        Ok(deleted) => one(deleted, lua),
        Err(message) => nil_with(lua, message),
    }
}

// ---- sending and the queue ----

/// `sendMail(from, to, message)`: `to` is an address or a list of them,
/// bare or in <brackets>. The queue id once the message is durably queued;
/// `nil, reason` for a bad address or message; a missing grant is an error.
fn send_mail(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let f = "sendMail";
    let sender = string_arg(args, 1, f)?;
    let recipients = recipient_list(args, f)?;
    let Value::String(message) = arg(args, 3) else {
        return Err(bad_argument(3, f, &format!("string expected, got {}", type_of(args, 3))));
    };
    match mailman::send_mail(&sender, &recipients, &message.as_bytes()) {
        Ok(id) => one(id, lua),
        Err(HostError::Invalid(why)) => nil_with(lua, why),
        Err(e) => Err(host_error(e)),
    }
}

fn recipient_list(args: &MultiValue, function: &str) -> mlua::Result<Vec<String>> {
    match arg(args, 2) {
        Value::Table(t) => t
            .sequence_values::<Value>()
            .enumerate()
            .map(|(i, v)| match v? {
                Value::String(s) => Ok(s.to_str()?.to_string()),
                other => Err(bad_argument(2, function, &format!("recipient {}: string expected, got {}", i + 1, other.type_name()))),
            })
            .collect(),
        Value::String(_) => Ok(vec![string_arg(args, 2, function)?]),
        _ => Err(bad_argument(2, function, &format!("string or table expected, got {}", type_of(args, 2)))),
    }
}

fn get_queue(lua: &Lua) -> mlua::Result<Table> {
    let rows = mailman::get_queue().map_err(host_error)?;
    lua.create_sequence_from(rows.into_iter().map(|r| queue_table(lua, r)).collect::<mlua::Result<Vec<_>>>()?)
}

fn queue_table(lua: &Lua, r: QueueItem) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("id", r.id)?;
    t.set("file", r.file)?;
    t.set("time", r.time)?;
    t.set("sender", r.sender)?;
    t.set("recipient", r.recipient)?;
    t.set("loops", r.loops)?;
    Ok(t)
}
