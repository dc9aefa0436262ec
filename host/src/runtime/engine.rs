//! One wasmtime engine for every plugin: compile, link, tick epochs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use crate::runtime::bindings::WIT_VERSION;
use crate::runtime::bindings::v0_1::{LedgerPlugin, LedgerPluginPre};
use crate::runtime::state::PluginState;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How often the epoch advances: the granularity of CPU accounting and
    /// of the guest's cooperative yields to the async runtime.
    pub epoch_tick: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            epoch_tick: Duration::from_millis(10),
        }
    }
}

/// The shared engine and linker. Cheap to share behind an `Arc`.
pub struct PluginEngine {
    engine: Engine,
    linker: Linker<PluginState>,
    ticker_stop: Arc<AtomicBool>,
    pub options: EngineOptions,
}

impl PluginEngine {
    pub fn new(options: EngineOptions) -> anyhow::Result<Arc<Self>> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // Epochs drive both the CPU deadline and the periodic yield that
        // keeps a busy guest from starving other tasks.
        config.epoch_interruption(true);
        let engine =
            Engine::new(&config).map_err(|e| anyhow!("creating the wasmtime engine: {e:#}"))?;

        let linker = host_linker(&engine)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            let tick = options.epoch_tick;
            std::thread::Builder::new()
                .name("wasm-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .context("starting the epoch ticker")?;
        }
        Ok(Arc::new(PluginEngine {
            engine,
            linker,
            ticker_stop,
            options,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles component bytes (CPU-heavy: call from a blocking thread).
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, bytes)
    }

    /// A new linker holding exactly the imports every plugin is linked
    /// against, for tools that need to probe a component's imports one by
    /// one (`plugin check`).
    pub fn host_linker(&self) -> anyhow::Result<Linker<PluginState>> {
        host_linker(&self.engine)
    }

    /// Links a compiled component against our imports once; every call then
    /// instantiates from this without re-resolving imports. Fails when the
    /// component imports something the host does not provide or does not
    /// export the `ledger-plugin` world.
    pub fn prepare(&self, component: &Component) -> wasmtime::Result<LedgerPluginPre<PluginState>> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            wasmtime::format_err!("it imports something this host does not provide: {e:#}")
        })?;
        LedgerPluginPre::new(pre).map_err(|e| {
            wasmtime::format_err!(
                "it does not export the snapshot:plugin@{WIT_VERSION} ledger-plugin world: {e:#}"
            )
        })
    }
}

/// WASI p2 (because std-built guests import it; the context in
/// `PluginState` grants no files, sockets or environment) and the plugin
/// imports of every WIT line served.
fn host_linker(engine: &Engine) -> anyhow::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .map_err(|e| anyhow!("linking WASI: {e:#}"))?;
    LedgerPlugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
        .map_err(|e| anyhow!("linking the plugin imports: {e:#}"))?;
    Ok(linker)
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
