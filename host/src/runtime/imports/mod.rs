//! Host side of the WIT imports, one file per interface. Each checks its
//! capability first (the egress policy for `http`), so the denied path is
//! the first thing a reader sees.

pub mod http;
pub mod job;

use crate::runtime::bindings::v0_1::snapshot::plugin::types;
use crate::runtime::state::PluginState;

// `types` holds only types, but bindgen still asks for its (empty) Host.
impl types::Host for PluginState {}
