//! The `kv` table: the script's own key-value store in the server's store.

use mlua::Lua;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let kv = lua.create_table()?;
    lua.globals().set("kv", kv)
}
