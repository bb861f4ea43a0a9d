//! The `mailman` WIT interface (see `wit/mailman.wit`).

use super::bindings::rumble::plugin::mailman;
use super::host::HostState;

impl mailman::Host for HostState {}
