//! Service control and status functions of the `Rumble` table.

use mlua::{Lua, Table};

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let _rumble: Table = lua.globals().get("Rumble")?;
    Ok(())
}
