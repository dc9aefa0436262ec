//! The WebAssembly plugin runtime.
//!
//! - [`engine::PluginEngine`]: one wasmtime engine (component model, async
//!   host calls, epoch interruption), the linker with our imports, and
//!   compilation.
//! - [`manifest::Manifest`]: the plugin's `plugin.toml`, read from the
//!   component's custom section without running it.
//! - [`plugin::LoadedPlugin`]: a validated, compiled plugin with its cached
//!   `InstancePre`; every call gets a fresh, limited [`state::PluginState`].
//! - [`cache::CompileCache`]: compiled components on disk, keyed by sha256
//!   and the engine's compatibility hash; a bad entry is a miss.
//! - [`capabilities`]: what a plugin may do, its manifest intersected with
//!   the operator's grant.
//! - [`imports`]: the host side of the WIT imports (`http`, `job`), one file
//!   per interface.
//! - [`bindings`]: `bindgen!` output, one module per WIT line.

pub mod bindings;
pub mod cache;
pub mod capabilities;
pub mod cpu;
pub mod engine;
pub mod imports;
pub mod manifest;
pub mod plugin;
pub mod sink;
pub mod state;

pub use cache::{CacheOutcome, CompileCache};
pub use capabilities::{EffectiveCapabilities, PluginGrant, PluginGrants};
pub use engine::{EngineOptions, PluginEngine};
pub use manifest::Manifest;
pub use plugin::{CallLimits, LoadedPlugin, PluginFailure};
pub use sink::{HttpExchange, JobSink, LogLevel, SinkError};
