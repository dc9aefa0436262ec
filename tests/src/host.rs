//! The real host, in-process, wired the way the CLI wires it: bundled
//! plugins, the HTTP gateway with its limits, and `take_snapshot`.

use std::sync::Arc;

use snapshot_host::config::{RateLimitOverride, net_config};
use snapshot_host::jobs::{
    CollectingSink, SnapshotError, SnapshotSpec, TakenSnapshot, take_snapshot,
};
use snapshot_host::net::{HostLimit, HttpGateway, NetConfig};
use snapshot_host::registry::PluginRegistry;
use snapshot_host::runtime::{EngineOptions, LoadedPlugin, PluginEngine};

/// A host with the bundled plugins and one upstream limit.
pub struct TestHost {
    pub registry: PluginRegistry,
    pub gateway: Arc<HttpGateway>,
}

impl TestHost {
    /// A host whose requests to `authority` (`127.0.0.1:PORT`) are limited to
    /// `rps` requests/s and `concurrency` in flight.
    pub async fn new(authority: &str, rps: u32, concurrency: u32) -> TestHost {
        Self::with_net(authority, rps, concurrency, |_| {}).await
    }

    /// Like [`TestHost::new`], letting the test adjust the gateway settings.
    pub async fn with_net(
        authority: &str,
        rps: u32,
        concurrency: u32,
        adjust: impl FnOnce(&mut NetConfig),
    ) -> TestHost {
        let engine = PluginEngine::new(EngineOptions::default()).expect("engine");
        let registry = PluginRegistry::new(engine, None);
        registry.load_bundled().await.expect("bundled plugins load");
        let overrides = [RateLimitOverride {
            host: authority.to_string(),
            limit: HostLimit {
                requests_per_second: rps,
                max_concurrency: concurrency,
            },
        }];
        let plugins: Vec<Arc<LoadedPlugin>> =
            registry.list().into_iter().map(|r| r.plugin).collect();
        let mut net = net_config(plugins.iter().map(|p| &p.manifest), &overrides);
        adjust(&mut net);
        TestHost {
            registry,
            gateway: HttpGateway::new(net),
        }
    }

    /// Takes a snapshot of `chain` into a fresh sink.
    pub async fn snapshot(
        &self,
        chain: &str,
        spec: &SnapshotSpec,
    ) -> Result<TakenSnapshot, SnapshotError> {
        let plugin = self.registry.for_chain(chain).expect("plugin for chain");
        let sink = Arc::new(CollectingSink::new(plugin.id()));
        take_snapshot(plugin, spec, &self.gateway, sink).await
    }

    /// Takes a snapshot into `sink` (to cancel or resume it).
    pub async fn snapshot_into(
        &self,
        chain: &str,
        spec: &SnapshotSpec,
        sink: Arc<CollectingSink>,
    ) -> Result<TakenSnapshot, SnapshotError> {
        let plugin = self.registry.for_chain(chain).expect("plugin for chain");
        take_snapshot(plugin, spec, &self.gateway, sink).await
    }
}

/// The document as JSON bytes.
pub fn json_bytes(taken: &TakenSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    taken.document.write_json(&mut out).expect("write json");
    out
}
