//! Text chunks only: `load`, `loadfile`, `dofile` and `require`'s Lua
//! searcher compile source text and refuse precompiled (binary) chunks.
//!
//! Lua does not verify bytecode: a patched binary chunk can read and write
//! instance memory outside Lua's objects, and scripts have no use for it.
//! The stock C functions are replaced, not wrapped: a Lua wrapper keeps the
//! original in an upvalue, where `debug.getupvalue` finds it. These always
//! hand the C loader mode "t"; the mode a script passes only decides whether
//! text is refused too ("b"), with Lua's own message.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use mlua::ffi::{self, lua_State};
use mlua::Lua;
use mlua::chunk::ChunkMode;

const TEXT: *const c_char = c"t".as_ptr();

/// What Lua says when mode "t" meets a binary chunk.
const BINARY_REFUSED: &CStr = c"attempt to load a binary chunk (mode is 't')";

/// lbaselib's stack slot that keeps the reader's last piece alive.
const RESERVED_SLOT: c_int = 5;

/// `dofile` and the searcher, written over the text-only `loadfile`.
const LOADERS: &str = r#"
local loadfile = ...
local error, format, type, package, searchpath = error, string.format, type, package, package.searchpath
dofile = function(filename)
  local f, err = loadfile(filename)
  if not f then error(err, 0) end
  return f()
end
-- loadlib.c's searcher_Lua, messages included.
package.searchers[2] = function(name)
  local path = package.path
  if type(path) ~= "string" and type(path) ~= "number" then
    error("'package.path' must be a string", 0)
  end
  local filename, notfound = searchpath(name, path)
  if not filename then return notfound end
  local f, err = loadfile(filename)
  if not f then
    error(format("error loading module '%s' from file '%s':\n\t%s", name, filename, err), 0)
  end
  return f, filename
end
"#;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    // SAFETY: both follow the lua_CFunction protocol and hold no Rust value
    // that needs dropping across a Lua error.
    let (load, loadfile) = unsafe { (lua.create_c_function(load)?, lua.create_c_function(loadfile)?) };
    let globals = lua.globals();
    globals.set("load", load)?;
    globals.set("loadfile", &loadfile)?;
    lua.load(LOADERS).set_name("=sandbox").set_mode(ChunkMode::Text).call::<()>(loadfile)
}

/// `load(chunk [, chunkname [, mode [, env]]])`, lbaselib's luaB_load with
/// the mode fixed.
unsafe extern "C-unwind" fn load(l: *mut lua_State) -> c_int {
    unsafe {
        let mut len = 0;
        let s = ffi::lua_tolstring(l, 1, &mut len);
        let mode = ffi::luaL_optlstring(l, 3, c"bt".as_ptr(), ptr::null_mut());
        let env = if ffi::lua_isnone(l, 4) != 0 { 0 } else { 4 };
        let status = if !s.is_null() {
            let name = ffi::luaL_optlstring(l, 2, s, ptr::null_mut());
            ffi::luaL_loadbufferx(l, s, len, name, TEXT)
        } else {
            let name = ffi::luaL_optlstring(l, 2, c"=(load)".as_ptr(), ptr::null_mut());
            ffi::luaL_checktype(l, 1, ffi::LUA_TFUNCTION);
            ffi::lua_settop(l, RESERVED_SLOT);
            ffi::lua_load(l, read_from_function, ptr::null_mut(), name, TEXT)
        };
        finish(l, refuse_text_unless_asked(l, status, mode), env)
    }
}

/// `loadfile([filename [, mode [, env]]])`, lbaselib's luaB_loadfile with the
/// mode fixed. (The sandbox's `loadfile` resolves the path, then calls this.)
unsafe extern "C-unwind" fn loadfile(l: *mut lua_State) -> c_int {
    unsafe {
        let fname = ffi::luaL_optlstring(l, 1, ptr::null(), ptr::null_mut());
        let mode = ffi::luaL_optlstring(l, 2, c"bt".as_ptr(), ptr::null_mut());
        let env = if ffi::lua_isnone(l, 3) != 0 { 0 } else { 3 };
        let status = ffi::luaL_loadfilex(l, fname, TEXT);
        finish(l, refuse_text_unless_asked(l, status, mode), env)
    }
}

/// lbaselib's generic_reader: the pieces a reader function returns.
unsafe extern "C-unwind" fn read_from_function(l: *mut lua_State, _: *mut c_void, size: *mut usize) -> *const c_char {
    unsafe {
        ffi::luaL_checkstack(l, 2, c"too many nested functions".as_ptr());
        ffi::lua_pushvalue(l, 1);
        ffi::lua_call(l, 0, 1);
        if ffi::lua_isnil(l, -1) != 0 {
            ffi::lua_pop(l, 1);
            *size = 0;
            return ptr::null();
        }
        if ffi::lua_isstring(l, -1) == 0 {
            ffi::luaL_error(l, c"reader function must return a string".as_ptr());
        }
        ffi::lua_replace(l, RESERVED_SLOT);
        ffi::lua_tolstring(l, RESERVED_SLOT, size)
    }
}

/// The C loader saw mode "t", so it refused binary chunks already. A script
/// mode without 't' (such as "b") refuses text as well, in Lua's words: a
/// chunk that loaded, or failed other than as binary, was text.
unsafe fn refuse_text_unless_asked(l: *mut lua_State, status: c_int, mode: *const c_char) -> c_int {
    unsafe {
        if CStr::from_ptr(mode).to_bytes().contains(&b't') {
            return status;
        }
        let was_text = status == ffi::LUA_OK || (status == ffi::LUA_ERRSYNTAX && !top_is(l, BINARY_REFUSED));
        if !was_text {
            return status;
        }
        ffi::lua_pop(l, 1);
        ffi::lua_pushfstring(l, c"attempt to load a text chunk (mode is '%s')".as_ptr(), mode);
        ffi::LUA_ERRSYNTAX
    }
}

unsafe fn top_is(l: *mut lua_State, text: &CStr) -> bool {
    unsafe {
        let mut len = 0;
        let s = ffi::lua_tolstring(l, -1, &mut len);
        !s.is_null() && std::slice::from_raw_parts(s.cast::<u8>(), len) == text.to_bytes()
    }
}

/// lbaselib's load_aux: the function (with `env` as its first upvalue), or
/// fail plus the message.
unsafe fn finish(l: *mut lua_State, status: c_int, env: c_int) -> c_int {
    unsafe {
        if status != ffi::LUA_OK {
            ffi::lua_pushnil(l);
            ffi::lua_insert(l, -2);
            return 2;
        }
        if env != 0 {
            ffi::lua_pushvalue(l, env);
            if ffi::lua_setupvalue(l, -2, 1).is_null() {
                ffi::lua_pop(l, 1);
            }
        }
        1
    }
}
