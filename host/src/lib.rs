//! Rumble in Rust: a mail server whose Lua scripts each run in their own
//! WebAssembly sandbox. The binary (`main.rs`) is a thin CLI over these
//! modules; see ARCHITECTURE.md for the map.

pub mod cli;
pub mod config;
pub mod hooks;
pub mod imap;
pub mod lineio;
pub mod live;
pub mod log;
pub mod mailman;
pub mod login;
pub mod plugins;
pub mod process;
pub mod pop3;
pub mod sasl;
pub mod services;
pub mod smtp;
pub mod store;
pub mod stream;
pub mod tls;

/// The version in Rumble's `x.yy.zzzz` form, as `Rumble.serverInfo().version`.
pub fn rumble_version() -> String {
    let v = |s: &str| s.parse::<u32>().unwrap_or(0);
    format!(
        "{}.{:02}.{:04}",
        v(env!("CARGO_PKG_VERSION_MAJOR")),
        v(env!("CARGO_PKG_VERSION_MINOR")),
        v(env!("CARGO_PKG_VERSION_PATCH"))
    )
}
