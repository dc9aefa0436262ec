//! Hot loading: the plugins directory is watched, and one reload task brings
//! the registry in line with it after every burst of changes.
//!
//! ```text
//! notify (inotify) thread ──► unbounded channel ──► reload task:
//!     wait for an event → debounce (until quiet, capped) → PluginRegistry::sync_dir
//! ```
//!
//! The task does not interpret events: any event on a `*.wasm` file (or on
//! the directory) just schedules a full comparison of the directory with what
//! is loaded (file sha256 against the loaded one). A lost, merged or
//! reordered event therefore costs nothing, a file copied in several writes
//! is read once it has settled, and a file written and renamed into place
//! (as the admin API does) is seen once, whole. Compiling happens on blocking
//! threads; the swap is one map update under a lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{PluginRegistry, is_plugin_file};

/// How long the directory must be quiet before a reload: long enough for a
/// copy in several writes to finish, short next to a compile.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// A burst of changes never delays a reload by more than this many debounce
/// periods (a file rewritten in a loop still gets loaded).
const MAX_DEBOUNCE_PERIODS: u32 = 10;

/// The running watcher; dropping it stops watching.
pub struct PluginWatcher {
    dir: PathBuf,
    _watcher: notify::RecommendedWatcher,
    task: JoinHandle<()>,
}

impl PluginWatcher {
    /// The watched directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for PluginWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginWatcher")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl PluginRegistry {
    /// Makes `dir` the plugins directory (creating it), starts watching it,
    /// loads what it holds now (a bad file is rejected and logged, not
    /// fatal), and keeps the registry in line with it until the returned
    /// watcher is dropped.
    pub async fn watch(
        self: &Arc<Self>,
        dir: impl Into<PathBuf>,
        debounce: Duration,
    ) -> anyhow::Result<PluginWatcher> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating plugins directory {}", dir.display()))?;
        self.set_plugins_dir(&dir);

        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let watched = dir.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) => {
                    if event
                        .paths
                        .iter()
                        .any(|p| is_plugin_file(p) || p == &watched)
                    {
                        // The task is gone only while shutting down.
                        let _ = tx.send(());
                    }
                }
                Err(e) => tracing::warn!("watching the plugins directory: {e}"),
            })
            .context("starting the plugins directory watcher")?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching plugins directory {}", dir.display()))?;

        // Watching first, then the initial load: a file arriving in between
        // is picked up by the first reload.
        self.sync_dir().await;
        let task = tokio::spawn(reload_loop(self.clone(), rx, debounce));
        tracing::info!(dir = %dir.display(), "watching the plugins directory");
        Ok(PluginWatcher {
            dir,
            _watcher: watcher,
            task,
        })
    }
}

/// The one reload task.
async fn reload_loop(
    registry: Arc<PluginRegistry>,
    mut events: mpsc::UnboundedReceiver<()>,
    debounce: Duration,
) {
    while events.recv().await.is_some() {
        let mut periods = 1;
        loop {
            match tokio::time::timeout(debounce, events.recv()).await {
                Ok(Some(())) if periods < MAX_DEBOUNCE_PERIODS => periods += 1,
                Ok(Some(())) => break,
                Ok(None) => return,
                Err(_quiet) => break,
            }
        }
        registry.sync_dir().await;
    }
}
