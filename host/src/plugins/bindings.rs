//! Host-side bindings generated from `wit/plugin.wit`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "rumble:plugin/session.connection": super::session::ConnectionState,
        "rumble:plugin/hooks.hook-session": super::hooks::HookSessionState,
        "rumble:plugin/hooks.message": super::hooks::MessageState,
    },
});

pub use self::rumble::plugin::log::Level;
pub use self::rumble::plugin::session::IoError;
pub use self::rumble::plugin::types::{Error as HostError, ServerInfo};
