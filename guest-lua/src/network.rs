//! The `network` table: DNS lookups through the host's resolver.

use mlua::Lua;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let network = lua.create_table()?;
    lua.globals().set("network", network)
}
