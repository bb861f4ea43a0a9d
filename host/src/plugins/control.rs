//! The `control` WIT interface (see `wit/control.wit`).

use super::bindings::rumble::plugin::control;
use super::host::HostState;

impl control::Host for HostState {}
