//! The `Mailman` table: domains, accounts, mail and the queue, each call one
//! `mailman` WIT import where the host checks the grant.

use mlua::Lua;

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let mailman = lua.create_table()?;
    lua.globals().set("Mailman", mailman)
}
