//! Files: `io`, `dofile`/`loadfile`/`require`, `os.remove`/`os.rename` and
//! Rumble's `file.stat`/`file.exists`, confined to the script's grants.
//!
//! The host is the wall: it preopens only the script's own folder (read-only)
//! and the folders granted with `files.read`/`files.write`, so the WASI layer
//! cannot reach anything else. The checks here exist to give the script a
//! clear "permission denied" naming the grant it lacks, instead of a bare
//! "No such file", and to resolve relative paths against rumble.conf's folder
//! as the original Rumble resolved them against its own.

use mlua::{Lua, Table, Value};

use crate::ScriptConfig;
use crate::rumble::plugin::log::{self, Level};

/// What this instance may touch, as absolute lexically normalised folders.
#[derive(Clone)]
struct Roots {
    base: String,
    read: Vec<String>,
    write: Vec<String>,
}

impl Roots {
    fn from_config(cfg: &ScriptConfig) -> Roots {
        let base = normalize("/", &cfg.base_dir);
        let mut read: Vec<String> = cfg.read_roots.iter().map(|r| normalize(&base, r)).collect();
        // An empty script_dir: the host confined the script to its own file
        // (its folder holds secrets), so the folder is not a root.
        if !cfg.script_dir.is_empty() {
            read.push(normalize(&base, &cfg.script_dir));
        }
        let write: Vec<String> = cfg.write_roots.iter().map(|r| normalize(&base, r)).collect();
        Roots { base, read, write }
    }

    /// The absolute path for `path`, or the denial message.
    fn resolve(&self, path: &str, for_write: bool) -> Result<String, String> {
        let abs = normalize(&self.base, path);
        let allowed = if for_write {
            self.write.iter().any(|r| is_under(&abs, r))
        } else {
            self.read.iter().chain(&self.write).any(|r| is_under(&abs, r))
        };
        if allowed {
            return Ok(abs);
        }
        let cap = if for_write { "files.write" } else { "files.read" };
        let msg = format!("permission denied: {cap} {abs} (script \"{}\")", crate::script_name());
        log::write(Level::Warn, &msg);
        Err(msg)
    }
}

/// Join `path` onto `base` unless absolute, and fold `.`/`..` lexically, so
/// `../` cannot climb out of a granted folder in the check above.
fn normalize(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{base}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn is_under(path: &str, root: &str) -> bool {
    root == "/" || path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
}

/// Lua that wraps the file functions of the standard library around `resolve`.
const PRELUDE: &str = r#"
local resolve = ...
local function for_write(mode) return type(mode) == "string" and mode:find("[wa+]") ~= nil end
local io_open, io_lines, io_input, io_output = io.open, io.lines, io.input, io.output
local lua_dofile, lua_loadfile, os_remove, os_rename = dofile, loadfile, os.remove, os.rename
io.open = function(path, mode)
  local p, err = resolve(path, for_write(mode))
  if not p then return nil, err, 13 end
  return io_open(p, mode)
end
io.lines = function(path, ...)
  if path == nil then return io_lines(nil, ...) end
  local p, err = resolve(path, false)
  if not p then error(err, 2) end
  return io_lines(p, ...)
end
io.input = function(f)
  if type(f) == "string" then f = assert(resolve(f, false)) end
  return io_input(f)
end
io.output = function(f)
  if type(f) == "string" then f = assert(resolve(f, true)) end
  return io_output(f)
end
io.popen = function() error("io.popen is not available in a script", 2) end
dofile = function(path)
  if path == nil then error("dofile needs a file name in a script", 2) end
  local p, err = resolve(path, false)
  if not p then error(err, 2) end
  return lua_dofile(p)
end
loadfile = function(path, ...)
  if path == nil then return nil, "loadfile needs a file name in a script" end
  local p, err = resolve(path, false)
  if not p then return nil, err end
  return lua_loadfile(p, ...)
end
os.remove = function(path)
  local p, err = resolve(path, true)
  if not p then return nil, err, 13 end
  return os_remove(p)
end
os.rename = function(from, to)
  local a, err = resolve(from, true)
  if not a then return nil, err, 13 end
  local b, err2 = resolve(to, true)
  if not b then return nil, err2, 13 end
  return os_rename(a, b)
end
"#;

pub fn install(lua: &Lua, cfg: &ScriptConfig) -> mlua::Result<()> {
    let roots = Roots::from_config(cfg);
    let package: Table = lua.globals().get("package")?;
    if cfg.script_dir.is_empty() {
        package.set("path", "")?;
    } else {
        let dir = normalize(&roots.base, &cfg.script_dir);
        package.set("path", format!("{dir}/?.lua;{dir}/?/init.lua"))?;
    }
    package.set("cpath", "")?;

    let r = roots.clone();
    let resolve = lua.create_function(move |_, (path, write): (String, Option<bool>)| {
        Ok(match r.resolve(&path, write.unwrap_or(false)) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        })
    })?;
    lua.load(PRELUDE).set_name("=sandbox").call::<()>(resolve)?;
    install_file_table(lua, roots)
}

/// Rumble's `file.stat(path)` and `file.exists(path)`.
fn install_file_table(lua: &Lua, roots: Roots) -> mlua::Result<()> {
    let file = lua.create_table()?;
    let r = roots.clone();
    file.set(
        "stat",
        lua.create_function(move |lua, path: String| {
            let abs = match r.resolve(&path, false) {
                Ok(p) => p,
                Err(e) => return Ok((Value::Nil, Some(e))),
            };
            match std::fs::metadata(&abs) {
                Ok(md) => Ok((Value::Table(stat_table(lua, &md)?), None)),
                Err(e) => Ok((Value::Nil, Some(format!("{path}: {e}")))),
            }
        })?,
    )?;
    file.set(
        "exists",
        lua.create_function(move |_, path: String| {
            Ok(match roots.resolve(&path, false) {
                Ok(abs) => (std::fs::metadata(abs).is_ok(), None),
                Err(e) => (false, Some(e)),
            })
        })?,
    )?;
    lua.globals().set("file", file)
}

fn stat_table(lua: &Lua, md: &std::fs::Metadata) -> mlua::Result<Table> {
    let epoch = |t: std::io::Result<std::time::SystemTime>| -> i64 {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64)
    };
    // WASI has no permission bits; report the file type as st_mode would.
    let mode: i64 = if md.is_dir() { 0o040755 } else { 0o100644 };
    let t = lua.create_table()?;
    t.set("size", md.len() as i64)?;
    t.set("modified", epoch(md.modified()))?;
    t.set("accessed", epoch(md.accessed()))?;
    t.set("created", epoch(md.created().or_else(|_| md.modified())))?;
    t.set("mode", mode)?;
    Ok(t)
}
