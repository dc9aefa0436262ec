//! snapshot-host: exact, consistent, point-in-time token-holder snapshots
//! through WebAssembly ledger plugins.
//!
//! The data path, one straight walk:
//! token id → [`registry`] picks the plugin → [`runtime`] runs it in a fresh
//! sandboxed store → the plugin's HTTP goes through [`net`] → emitted holders
//! become a [`snapshot::CanonicalSnapshot`] → JSON/CSV bytes.

pub mod api;
pub mod artifacts;
pub mod cli;
pub mod config;
pub mod jobs;
pub mod kit;
pub mod net;
pub mod registry;
pub mod runtime;
pub mod service;
pub mod snapshot;
