//! The loaded plugins, and which one handles a chain.
//!
//! Bundled plugins are compiled into the binary (see `build.rs`); a plugins
//! directory adds or overrides them with `.wasm` files, while the host runs
//! ([`watch`]: add, replace, remove) and through the admin API
//! ([`PluginRegistry::install`], [`PluginRegistry::uninstall`]). Each entry is
//! an immutable [`LoadedPlugin`] behind an `Arc`: replacing a plugin swaps
//! the entry under a lock, so a job that took the old `Arc` (the worker takes
//! it once, when the job starts) finishes on the version it started with, and
//! the next job gets the new one.
//!
//! Rules for the directory, so the watcher, the admin API and a restart agree:
//!
//! - every `*.wasm` file (not starting with `.`) is a plugin; its manifest
//!   names it, whatever the file is called (the API writes `<name>.wasm`);
//! - a new or changed file is validated and compiled off the async threads;
//!   a file that fails (not a component, another world, an import the host
//!   lacks, a bad manifest, a capability the operator does not grant, a name
//!   or chain another file or plugin already has) is rejected with a logged
//!   reason, and whatever served before keeps serving;
//! - a removed file unloads its plugin; a bundled plugin it had overridden
//!   serves again;
//! - every change is a [`PluginChange`]: a log line, and an event for
//!   [`PluginRegistry::subscribe`]rs (the admins' WebSocket).

pub mod watch;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, anyhow};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::runtime::manifest::is_valid_plugin_name;
use crate::runtime::plugin::LoadError;
use crate::runtime::{CompileCache, LoadedPlugin, PluginEngine, PluginGrants};

pub use watch::{DEFAULT_DEBOUNCE, PluginWatcher};

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

/// What happened to a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginAction {
    /// A plugin name nothing served before now serves.
    Added,
    /// A new version (or another file) replaced the one serving.
    Replaced,
    /// A file's plugin was unloaded; nothing serves its name now.
    Removed,
    /// A file's plugin was unloaded; the bundled one serves again.
    Restored,
    /// A file could not be loaded; whatever served before still does.
    Rejected,
}

/// One change of the registry: a log line and an event for admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginChange {
    pub action: PluginAction,
    /// The plugin concerned (for a rejection: the one that stays live from
    /// that file, if any).
    pub name: Option<String>,
    /// The version serving now (none after a removal or a rejection).
    pub version: Option<String>,
    pub sha256: Option<String>,
    /// The version that served before.
    pub previous_version: Option<String>,
    pub previous_sha256: Option<String>,
    /// The file in the plugins directory the change came from.
    pub file: Option<String>,
    /// Why a file was rejected.
    pub reason: Option<String>,
}

impl PluginChange {
    fn new(action: PluginAction, file: Option<&Path>) -> Self {
        PluginChange {
            action,
            name: None,
            version: None,
            sha256: None,
            previous_version: None,
            previous_sha256: None,
            file: file.map(file_name),
            reason: None,
        }
    }

    fn now(mut self, plugin: &LoadedPlugin) -> Self {
        self.name = Some(plugin.name().to_string());
        self.version = Some(plugin.manifest.plugin.version.clone());
        self.sha256 = Some(plugin.sha256.clone());
        self
    }

    fn before(mut self, plugin: Option<&LoadedPlugin>) -> Self {
        if let Some(plugin) = plugin {
            self.name = Some(plugin.name().to_string());
            self.previous_version = Some(plugin.manifest.plugin.version.clone());
            self.previous_sha256 = Some(plugin.sha256.clone());
        }
        self
    }

    fn log(&self) {
        let name = self.name.as_deref().unwrap_or("-");
        let version = self.version.as_deref().unwrap_or("-");
        let previous = self.previous_version.as_deref().unwrap_or("-");
        let file = self.file.as_deref().unwrap_or("-");
        match self.action {
            PluginAction::Rejected => tracing::warn!(
                file,
                plugin = name,
                reason = self.reason.as_deref().unwrap_or(""),
                "plugin file rejected; the previous version (if any) stays live"
            ),
            action => tracing::info!(
                ?action,
                plugin = name,
                version,
                previous,
                sha256 = self.sha256.as_deref().unwrap_or("-"),
                file,
                "plugin changed"
            ),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Why the admin API could not install a plugin. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The name in the path is not a plugin name (or tries to be a path).
    #[error("invalid plugin name {0:?}: 1-64 characters of a-z, 0-9 and -")]
    BadName(String),
    /// The component failed validation (the reason says which step).
    #[error("{0}")]
    Invalid(String),
    /// The component's manifest names another plugin.
    #[error("the component's plugin.toml names plugin {found:?}, not {expected:?}")]
    NameMismatch { expected: String, found: String },
    /// It conflicts with what is loaded (another file has the name, another
    /// plugin the chain).
    #[error("{0}")]
    Conflict(String),
    /// The host has no plugins directory to keep it in.
    #[error("this host has no plugins directory")]
    NoDirectory,
    /// Writing the file failed.
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// Why the admin API could not remove a plugin. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error("invalid plugin name {0:?}: 1-64 characters of a-z, 0-9 and -")]
    BadName(String),
    #[error("no plugin {0} is loaded from the plugins directory")]
    NotFound(String),
    #[error("plugin {0} is bundled in the binary; only a file overriding it can be removed")]
    Bundled(String),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// What a `.wasm` file in the plugins directory last was.
#[derive(Clone, Debug)]
struct FileRecord {
    /// sha256 of the bytes last seen (loaded or rejected), so an unchanged
    /// file is not loaded (or rejected) again.
    sha256: String,
    /// The plugin this file provides (kept when a newer version of the file
    /// is rejected: the old version stays live).
    provides: Option<String>,
}

#[derive(Default)]
struct Inner {
    active: BTreeMap<String, RegisteredPlugin>,
    bundled: BTreeMap<String, Arc<LoadedPlugin>>,
    files: BTreeMap<PathBuf, FileRecord>,
}

impl Inner {
    /// Why `plugin` (from the file at `path`) may not be registered, if it
    /// may not.
    fn conflict(&self, path: &Path, plugin: &LoadedPlugin) -> Option<String> {
        let name = plugin.name();
        if let Some((other, _)) = self
            .files
            .iter()
            .find(|(p, r)| p.as_path() != path && r.provides.as_deref() == Some(name))
        {
            return Some(format!(
                "plugin {name} is already loaded from {}; remove that file first",
                file_name(other)
            ));
        }
        let replaced_here = self.files.get(path).and_then(|r| r.provides.as_deref());
        for entry in self.active.values() {
            let other = entry.plugin.name();
            if other == name || Some(other) == replaced_here {
                continue;
            }
            let chains = &entry.plugin.manifest.plugin.chains;
            if let Some(chain) = plugin
                .manifest
                .plugin
                .chains
                .iter()
                .find(|c| chains.contains(c))
            {
                return Some(format!(
                    "chain {chain} is already handled by plugin {other}; a plugin replacing it \
                     must be named {other}"
                ));
            }
        }
        None
    }

    /// Registers `plugin` from `path` (conflicts checked by the caller).
    fn register_file(
        &mut self,
        path: &Path,
        sha256: String,
        plugin: Arc<LoadedPlugin>,
    ) -> Vec<PluginChange> {
        let mut changes = Vec::new();
        let name = plugin.name().to_string();
        let previous_name = self.files.get(path).and_then(|r| r.provides.clone());
        if let Some(previous) = previous_name.filter(|p| *p != name) {
            // The file now holds another plugin: the one it held goes.
            changes.extend(self.unload(path, &previous));
        }
        let previous = self.active.get(&name).map(|e| e.plugin.clone());
        let action = if previous.is_some() {
            PluginAction::Replaced
        } else {
            PluginAction::Added
        };
        changes.push(
            PluginChange::new(action, Some(path))
                .before(previous.as_deref())
                .now(&plugin),
        );
        self.active.insert(
            name.clone(),
            RegisteredPlugin {
                plugin,
                origin: PluginOrigin::File(path.to_path_buf()),
            },
        );
        self.files.insert(
            path.to_path_buf(),
            FileRecord {
                sha256,
                provides: Some(name),
            },
        );
        changes
    }

    /// Unloads plugin `name` if the file at `path` is what serves it.
    fn unload(&mut self, path: &Path, name: &str) -> Option<PluginChange> {
        let entry = self.active.get(name)?;
        if entry.origin != PluginOrigin::File(path.to_path_buf()) {
            return None;
        }
        let previous = entry.plugin.clone();
        let change = match self.bundled.get(name) {
            Some(bundled) => {
                let bundled = bundled.clone();
                self.active.insert(
                    name.to_string(),
                    RegisteredPlugin {
                        plugin: bundled.clone(),
                        origin: PluginOrigin::Bundled,
                    },
                );
                PluginChange::new(PluginAction::Restored, Some(path))
                    .before(Some(&previous))
                    .now(&bundled)
            }
            None => {
                self.active.remove(name);
                PluginChange::new(PluginAction::Removed, Some(path)).before(Some(&previous))
            }
        };
        Some(change)
    }

    /// Forgets the file at `path`, unloading what it provided.
    fn remove_file(&mut self, path: &Path) -> Option<PluginChange> {
        let record = self.files.remove(path)?;
        self.unload(path, record.provides.as_deref()?)
    }
}

/// Called with every active plugin after each change (e.g. to give the
/// gateway the plugins' rate limits).
type ChangeHook = Box<dyn Fn(&[Arc<LoadedPlugin>]) + Send + Sync>;

/// The set of loaded plugins, by name.
pub struct PluginRegistry {
    engine: Arc<PluginEngine>,
    cache: Option<CompileCache>,
    grants: PluginGrants,
    inner: RwLock<Inner>,
    dir: RwLock<Option<PathBuf>>,
    /// Serialises changes that come through the plugins directory (the
    /// watcher's reloads, the admin API's installs and removals), so a file
    /// the API just wrote is never loaded twice.
    update: tokio::sync::Mutex<()>,
    changes: broadcast::Sender<PluginChange>,
    hooks: RwLock<Vec<ChangeHook>>,
}

impl PluginRegistry {
    /// A registry compiling with `engine`, caching compiled code in `cache`,
    /// granting every plugin what its manifest asks (no operator config).
    pub fn new(engine: Arc<PluginEngine>, cache: Option<CompileCache>) -> Self {
        PluginRegistry {
            engine,
            cache,
            grants: PluginGrants::none(),
            inner: RwLock::new(Inner::default()),
            dir: RwLock::new(None),
            update: tokio::sync::Mutex::new(()),
            changes: broadcast::channel(256).0,
            hooks: RwLock::new(Vec::new()),
        }
    }

    /// The same registry, loading plugins with the operator's `grants`.
    /// Set before anything is loaded.
    pub fn with_grants(mut self, grants: PluginGrants) -> Self {
        self.grants = grants;
        self
    }

    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    /// The operator's grants plugins are loaded with.
    pub fn grants(&self) -> &PluginGrants {
        &self.grants
    }

    /// The directory plugins are watched in and installed to, if any.
    pub fn plugins_dir(&self) -> Option<PathBuf> {
        self.dir.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets the plugins directory [`PluginRegistry::sync_dir`] and the admin
    /// API use ([`PluginRegistry::watch`] sets it too).
    pub fn set_plugins_dir(&self, dir: impl Into<PathBuf>) {
        *self.dir.write().unwrap_or_else(|e| e.into_inner()) = Some(dir.into());
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PluginChange> {
        self.changes.subscribe()
    }

    /// Calls `hook` with every active plugin now and after every change,
    /// before the change is announced.
    pub fn on_change(&self, hook: impl Fn(&[Arc<LoadedPlugin>]) + Send + Sync + 'static) {
        hook(&self.active_plugins());
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    fn active_plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.list().into_iter().map(|r| r.plugin).collect()
    }

    /// Runs the hooks, then logs and announces `changes`.
    fn announce(&self, changes: &[PluginChange]) {
        if changes.is_empty() {
            return;
        }
        if changes.iter().any(|c| c.action != PluginAction::Rejected) {
            let plugins = self.active_plugins();
            for hook in self.hooks.read().unwrap_or_else(|e| e.into_inner()).iter() {
                hook(&plugins);
            }
        }
        for change in changes {
            change.log();
            // No subscriber is not an error.
            let _ = self.changes.send(change.clone());
        }
    }

    /// Validates and compiles `bytes` on a blocking thread, with the
    /// operator's grant for the plugin the manifest names.
    async fn compile(&self, bytes: Vec<u8>) -> Result<Arc<LoadedPlugin>, LoadError> {
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        let grants = self.grants.clone();
        let plugin = tokio::task::spawn_blocking(move || {
            LoadedPlugin::load_granted(&engine, &bytes, cache.as_ref(), &grants)
        })
        .await
        .map_err(|e| LoadError::Compile(format!("compiler thread failed: {e}")))??;
        tracing::debug!(plugin = %plugin.id(), sha256 = %plugin.sha256, load_ms = plugin.load_time.as_millis() as u64, cache = ?plugin.cache_outcome, "plugin compiled");
        Ok(Arc::new(plugin))
    }

    /// Loads every bundled plugin (a file loaded earlier keeps overriding
    /// its bundled namesake).
    pub async fn load_bundled(&self) -> anyhow::Result<()> {
        let mut changes = Vec::new();
        for (name, bytes) in BUNDLED {
            let plugin = self
                .compile(bytes.to_vec())
                .await
                .with_context(|| format!("loading bundled plugin {name}"))?;
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            inner
                .bundled
                .insert(plugin.name().to_string(), plugin.clone());
            if !inner.active.contains_key(plugin.name()) {
                changes.push(PluginChange::new(PluginAction::Added, None).now(&plugin));
                inner.active.insert(
                    plugin.name().to_string(),
                    RegisteredPlugin {
                        plugin,
                        origin: PluginOrigin::Bundled,
                    },
                );
            }
        }
        self.announce(&changes);
        Ok(())
    }

    /// Loads every `*.wasm` in `dir` (sorted by file name), overriding
    /// bundled plugins of the same name. Strict, for one-off commands: the
    /// first bad file stops the load with its path and reason. (`serve`
    /// uses [`PluginRegistry::watch`], which rejects a bad file and goes on.)
    pub async fn load_dir(&self, dir: &Path) -> anyhow::Result<Vec<Arc<LoadedPlugin>>> {
        let files = list_plugin_files(dir)
            .with_context(|| format!("reading plugins directory {}", dir.display()))?;
        let mut loaded = Vec::new();
        for path in files {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let plugin = self
                .compile(bytes)
                .await
                .with_context(|| format!("loading plugin {}", path.display()))?;
            let changes = {
                let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
                if let Some(reason) = inner.conflict(&path, &plugin) {
                    return Err(anyhow!("loading plugin {}: {reason}", path.display()));
                }
                inner.register_file(&path, sha256, plugin.clone())
            };
            self.announce(&changes);
            loaded.push(plugin);
        }
        Ok(loaded)
    }

    /// Brings the registry in line with the plugins directory: loads new and
    /// changed files, rejects bad ones (the previous version stays live),
    /// unloads plugins whose file is gone. Returns (and announces) what
    /// changed. Without a plugins directory, nothing.
    pub async fn sync_dir(&self) -> Vec<PluginChange> {
        let Some(dir) = self.plugins_dir() else {
            return Vec::new();
        };
        let _serialised = self.update.lock().await;
        let listing = match list_plugin_files(&dir) {
            Ok(files) => files,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "cannot read the plugins directory: {e}");
                return Vec::new();
            }
        };
        let mut changes = Vec::new();
        for path in &listing {
            let bytes = match tokio::fs::read(path).await {
                Ok(bytes) => bytes,
                // Gone since the listing: the next pass sees it missing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::warn!(file = %path.display(), "cannot read plugin file: {e}");
                    continue;
                }
            };
            let sha256 = hex::encode(Sha256::digest(&bytes));
            let known = {
                let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
                inner.files.get(path).is_some_and(|r| r.sha256 == sha256)
            };
            if known {
                continue;
            }
            let compiled = self.compile(bytes).await;
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            let outcome = compiled.map_err(|e| e.to_string()).and_then(|plugin| {
                match inner.conflict(path, &plugin) {
                    Some(reason) => Err(reason),
                    None => Ok(plugin),
                }
            });
            match outcome {
                Ok(plugin) => changes.extend(inner.register_file(path, sha256, plugin)),
                Err(reason) => {
                    let record = inner.files.entry(path.clone()).or_insert(FileRecord {
                        sha256: String::new(),
                        provides: None,
                    });
                    record.sha256 = sha256;
                    let mut change = PluginChange::new(PluginAction::Rejected, Some(path));
                    change.name = record.provides.clone();
                    change.reason = Some(reason);
                    changes.push(change);
                }
            }
        }
        {
            let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<PathBuf> = inner
                .files
                .keys()
                .filter(|p| !listing.contains(p))
                .cloned()
                .collect();
            for path in gone {
                changes.extend(inner.remove_file(&path));
            }
        }
        self.announce(&changes);
        changes
    }

    /// Installs component `bytes` as plugin `name` (the admin API's PUT):
    /// validates and compiles it exactly as the watcher would, checks that
    /// its manifest names `name`, writes it atomically to
    /// `<plugins dir>/<name>.wasm` (so it survives a restart, and the watcher
    /// finds it already loaded), and swaps it in. On any error nothing has
    /// changed.
    pub async fn install(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<(RegisteredPlugin, Vec<PluginChange>), InstallError> {
        if !is_valid_plugin_name(name) {
            return Err(InstallError::BadName(name.to_string()));
        }
        let dir = self.plugins_dir().ok_or(InstallError::NoDirectory)?;
        let _serialised = self.update.lock().await;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let plugin = match self.compile(bytes.clone()).await {
            Ok(plugin) => plugin,
            Err(e) => {
                tracing::warn!(plugin = name, reason = %e, "plugin upload rejected");
                return Err(InstallError::Invalid(e.to_string()));
            }
        };
        if plugin.name() != name {
            return Err(InstallError::NameMismatch {
                expected: name.to_string(),
                found: plugin.name().to_string(),
            });
        }
        let path = dir.join(format!("{name}.wasm"));
        if let Some(reason) = self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .conflict(&path, &plugin)
        {
            return Err(InstallError::Conflict(reason));
        }
        let write_dir = dir.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&write_dir, &target, &bytes))
            .await
            .map_err(|e| anyhow!("writer thread failed: {e}"))??;
        let changes = self
            .inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .register_file(&path, sha256, plugin.clone());
        self.announce(&changes);
        Ok((
            RegisteredPlugin {
                plugin,
                origin: PluginOrigin::File(path),
            },
            changes,
        ))
    }

    /// Removes plugin `name`'s file from the plugins directory and unloads
    /// it (the admin API's DELETE); a bundled plugin of that name serves
    /// again. Running jobs finish on the version they hold.
    pub async fn uninstall(&self, name: &str) -> Result<PluginChange, UninstallError> {
        if !is_valid_plugin_name(name) {
            return Err(UninstallError::BadName(name.to_string()));
        }
        let _serialised = self.update.lock().await;
        let path = {
            let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
            match inner.active.get(name).map(|e| &e.origin) {
                Some(PluginOrigin::File(path)) => path.clone(),
                Some(PluginOrigin::Bundled) => return Err(UninstallError::Bundled(name.into())),
                None => return Err(UninstallError::NotFound(name.into())),
            }
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow!("removing {}: {e}", path.display()).into()),
        }
        let change = self
            .inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove_file(&path)
            .ok_or_else(|| UninstallError::NotFound(name.into()))?;
        self.announce(std::slice::from_ref(&change));
        Ok(change)
    }

    /// The plugin that snapshots `chain`.
    pub fn for_chain(&self, chain: &str) -> anyhow::Result<Arc<LoadedPlugin>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .active
            .values()
            .find(|p| p.plugin.manifest.plugin.chains.iter().any(|c| c == chain))
            .map(|p| p.plugin.clone())
            .ok_or_else(|| {
                let known: Vec<String> = inner
                    .active
                    .values()
                    .flat_map(|p| p.plugin.manifest.plugin.chains.clone())
                    .collect();
                anyhow!(
                    "no plugin handles chain `{chain}` (known chains: {})",
                    known.join(", ")
                )
            })
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<RegisteredPlugin> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .get(name)
            .cloned()
    }

    /// Every registered plugin, by name.
    pub fn list(&self) -> Vec<RegisteredPlugin> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .active
            .values()
            .cloned()
            .collect()
    }
}

/// The plugin files of `dir`: `*.wasm`, not hidden (temporary files start
/// with `.`), regular files, sorted.
fn list_plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .map(|e| e.path())
        .filter(|p| is_plugin_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `path` names a plugin file: `*.wasm`, not hidden.
pub(crate) fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
}

/// Writes `bytes` to `target` through a hidden temporary file in `dir`
/// (synced, then renamed), so the watcher never sees a partial file.
fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".upload-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", target.display()))?;
    tmp.persist(target)
        .map_err(|e| anyhow!("writing {}: {}", target.display(), e.error))?;
    Ok(())
}
