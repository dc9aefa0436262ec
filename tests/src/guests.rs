//! The guest plugins `build.rs` compiles for wasm32-wasip2 and the tests load
//! from files: the test-only `misbehaving` one, and the Stellar plugin, which
//! is not bundled into the host binary.

use std::sync::Arc;

use snapshot_host::runtime::{EngineOptions, LoadedPlugin, PluginEngine};

/// Path of the built `misbehaving` component (tests/plugins/misbehaving).
pub const MISBEHAVING_WASM: &str = env!("MISBEHAVING_WASM");

/// The bytes of the `misbehaving` component.
pub fn misbehaving_bytes() -> Vec<u8> {
    std::fs::read(MISBEHAVING_WASM)
        .unwrap_or_else(|e| panic!("reading the misbehaving guest {MISBEHAVING_WASM}: {e}"))
}

/// A fresh engine with the misbehaving plugin compiled and linked into it.
pub fn load_misbehaving() -> (Arc<PluginEngine>, Arc<LoadedPlugin>) {
    let engine = PluginEngine::new(EngineOptions::default()).expect("creating the plugin engine");
    let plugin = LoadedPlugin::load(&engine, &misbehaving_bytes())
        .unwrap_or_else(|e| panic!("loading the misbehaving guest: {e}"));
    (engine, Arc::new(plugin))
}

/// Path of the built `stellar` component (plugins/stellar), not bundled into
/// the host: tests drop it into a plugins directory.
pub const STELLAR_WASM: &str = env!("STELLAR_WASM");

/// The bytes of the `stellar` component.
pub fn stellar_bytes() -> Vec<u8> {
    std::fs::read(STELLAR_WASM)
        .unwrap_or_else(|e| panic!("reading the stellar plugin {STELLAR_WASM}: {e}"))
}
