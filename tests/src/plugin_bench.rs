//! Hot-swap latency: from a plugin file written into the watched plugins
//! directory to the new version serving.
//!
//! The real registry and watcher, in-process: a `hedera` component is written
//! (temporary file, renamed into place, as the admin API does) over the one
//! serving, and the clock stops when the registry announces the new version
//! and `for_chain` returns it. Every version is a distinct file (the bundled
//! component with another manifest version), so *cold* swaps compile it; the
//! *warm* round writes the same versions again, which the compile cache
//! serves. Both include the watcher's debounce ([`DEFAULT_DEBOUNCE`]), which
//! is a floor of every swap by design.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use snapshot_host::registry::{
    BUNDLED, DEFAULT_DEBOUNCE, PluginAction, PluginChange, PluginRegistry,
};
use snapshot_host::runtime::{CompileCache, EngineOptions, PluginEngine};
use tokio::sync::broadcast;

use crate::plugin_files::{with_version, write_atomically};

/// Longest one swap may take before the bench gives up.
const SWAP_DEADLINE: Duration = Duration::from_secs(120);

/// What [`hot_swap_latency`] measured.
#[derive(Debug, Clone)]
pub struct HotSwapReport {
    /// The watcher's debounce, included in every figure.
    pub debounce: Duration,
    /// Size of the component swapped in.
    pub component_bytes: usize,
    /// File written → new version serving, compiling each version.
    pub cold: Vec<Duration>,
    /// The same, each version's compiled code from the compile cache.
    pub warm: Vec<Duration>,
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn summary(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
    )
}

impl HotSwapReport {
    /// A Markdown table for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Hot swap: `hedera` ({} KiB component) written into the watched plugins directory \
             → the new version serving (`for_chain` returns it). Debounce {} ms included.\n",
            self.component_bytes / 1024,
            self.debounce.as_millis()
        );
        let _ = writeln!(out, "| swap | runs | min ms | median ms | max ms |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        for (name, samples) in [
            ("cold (compiled)", &self.cold),
            ("warm (compile cache)", &self.warm),
        ] {
            let (min, median, max) = summary(samples);
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} |",
                samples.len(),
                ms(min),
                ms(median),
                ms(max)
            );
        }
        out
    }
}

/// Measures `runs` cold and `runs` warm swaps (2 to 9 each).
pub async fn hot_swap_latency(runs: usize) -> anyhow::Result<HotSwapReport> {
    let runs = runs.clamp(2, 9);
    let work = tempfile::tempdir().context("a work directory")?;
    let engine = PluginEngine::new(EngineOptions::default())?;
    let registry = Arc::new(PluginRegistry::new(
        engine,
        Some(CompileCache::new(work.path().join("cache"))),
    ));
    let dir = work.path().join("plugins");
    let _watcher = registry.watch(&dir, DEFAULT_DEBOUNCE).await?;
    let mut changes = registry.subscribe();

    let (_, hedera) = BUNDLED
        .iter()
        .find(|(name, _)| *name == "hedera")
        .ok_or_else(|| anyhow!("no bundled hedera plugin"))?;
    let versions: Vec<(String, Vec<u8>)> = (1..=runs)
        .map(|i| {
            let version = format!("0.1.{i}");
            let bytes = with_version(hedera, &version);
            (version, bytes)
        })
        .collect();
    let target = dir.join("hedera.wasm");
    let mut cold = Vec::new();
    for (version, bytes) in &versions {
        cold.push(swap(&registry, &mut changes, &target, bytes, version).await?);
    }
    let mut warm = Vec::new();
    for (version, bytes) in &versions {
        warm.push(swap(&registry, &mut changes, &target, bytes, version).await?);
    }
    Ok(HotSwapReport {
        debounce: DEFAULT_DEBOUNCE,
        component_bytes: hedera.len(),
        cold,
        warm,
    })
}

/// Writes `bytes` to `target` and waits for `version` to serve.
async fn swap(
    registry: &PluginRegistry,
    changes: &mut broadcast::Receiver<PluginChange>,
    target: &Path,
    bytes: &[u8],
    version: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    write_atomically(target, bytes);
    loop {
        let change = tokio::time::timeout(SWAP_DEADLINE, changes.recv())
            .await
            .map_err(|_| anyhow!("version {version} did not serve within {SWAP_DEADLINE:?}"))??;
        if change.action == PluginAction::Rejected {
            bail!("the registry rejected the file: {:?}", change.reason);
        }
        if change.version.as_deref() == Some(version) {
            break;
        }
    }
    let elapsed = started.elapsed();
    let serving = registry.for_chain("hedera")?;
    if serving.manifest.plugin.version != version {
        bail!(
            "announced {version} but {} serves",
            serving.manifest.plugin.version
        );
    }
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hot_swap_latency_measures_cold_and_warm_swaps() {
        let report = hot_swap_latency(2).await.unwrap();
        assert_eq!((report.cold.len(), report.warm.len()), (2, 2));
        for d in report.cold.iter().chain(&report.warm) {
            assert!(*d >= report.debounce, "{d:?} is under the debounce");
        }
        let table = report.markdown();
        assert!(table.contains("| cold (compiled) | 2 |"), "{table}");
        eprintln!("{table}");
    }
}
