//! The loaded plugins, and which one handles a chain.
//!
//! Bundled plugins are compiled into the binary (see `build.rs`); a plugins
//! directory adds or overrides them with `.wasm` files. Each entry is an
//! immutable [`LoadedPlugin`] behind an `Arc`: replacing a plugin swaps the
//! entry, and jobs holding the old `Arc` finish on the version they started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, anyhow};

use crate::runtime::plugin::LoadError;
use crate::runtime::{CompileCache, LoadedPlugin, PluginEngine};

/// The plugins compiled into this binary: `(name, component bytes)`.
pub const BUNDLED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));

/// Where a loaded plugin came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginOrigin {
    Bundled,
    File(PathBuf),
}

/// One registry entry.
#[derive(Clone, Debug)]
pub struct RegisteredPlugin {
    pub plugin: Arc<LoadedPlugin>,
    pub origin: PluginOrigin,
}

/// The set of loaded plugins, by name.
pub struct PluginRegistry {
    engine: Arc<PluginEngine>,
    cache: Option<CompileCache>,
    plugins: RwLock<BTreeMap<String, RegisteredPlugin>>,
}

impl PluginRegistry {
    /// A registry compiling with `engine`, caching compiled code in `cache`.
    pub fn new(engine: Arc<PluginEngine>, cache: Option<CompileCache>) -> Self {
        PluginRegistry {
            engine,
            cache,
            plugins: RwLock::new(BTreeMap::new()),
        }
    }

    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    /// Loads every bundled plugin.
    pub async fn load_bundled(&self) -> anyhow::Result<()> {
        for (name, bytes) in BUNDLED {
            self.load_bytes(bytes.to_vec(), PluginOrigin::Bundled)
                .await
                .with_context(|| format!("loading bundled plugin {name}"))?;
        }
        Ok(())
    }

    /// Loads every `*.wasm` in `dir` (sorted by file name), overriding
    /// bundled plugins of the same name. The first bad file stops the load
    /// with its path and reason.
    pub async fn load_dir(&self, dir: &Path) -> anyhow::Result<Vec<Arc<LoadedPlugin>>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading plugins directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        files.sort();
        let mut loaded = Vec::new();
        for path in files {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let plugin = self
                .load_bytes(bytes, PluginOrigin::File(path.clone()))
                .await
                .with_context(|| format!("loading plugin {}", path.display()))?;
            loaded.push(plugin);
        }
        Ok(loaded)
    }

    /// Validates, compiles (on a blocking thread) and registers a component,
    /// replacing any plugin of the same name.
    pub async fn load_bytes(
        &self,
        bytes: Vec<u8>,
        origin: PluginOrigin,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        let plugin = tokio::task::spawn_blocking(move || {
            LoadedPlugin::load_cached(&engine, &bytes, cache.as_ref())
        })
        .await
        .map_err(|e| LoadError::Compile(format!("compiler thread failed: {e}")))??;
        let plugin = Arc::new(plugin);
        let entry = RegisteredPlugin {
            plugin: plugin.clone(),
            origin,
        };
        self.plugins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.name().to_string(), entry);
        tracing::info!(plugin = %plugin.id(), sha256 = %plugin.sha256, load_ms = plugin.load_time.as_millis() as u64, "plugin loaded");
        Ok(plugin)
    }

    /// The plugin that snapshots `chain`.
    pub fn for_chain(&self, chain: &str) -> anyhow::Result<Arc<LoadedPlugin>> {
        let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        plugins
            .values()
            .find(|p| p.plugin.manifest.plugin.chains.iter().any(|c| c == chain))
            .map(|p| p.plugin.clone())
            .ok_or_else(|| {
                let known: Vec<String> = plugins
                    .values()
                    .flat_map(|p| p.plugin.manifest.plugin.chains.clone())
                    .collect();
                anyhow!(
                    "no plugin handles chain `{chain}` (known chains: {})",
                    known.join(", ")
                )
            })
    }

    /// Every registered plugin, by name.
    pub fn list(&self) -> Vec<RegisteredPlugin> {
        self.plugins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
