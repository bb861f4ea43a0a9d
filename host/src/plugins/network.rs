//! The `network` WIT interface (see `wit/network.wit`).

use super::bindings::rumble::plugin::network;
use super::host::HostState;

impl network::Host for HostState {}
