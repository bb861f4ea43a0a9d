//! The `kv` WIT interface (see `wit/kv.wit`).

use super::bindings::rumble::plugin::kv;
use super::host::HostState;

impl kv::Host for HostState {}
