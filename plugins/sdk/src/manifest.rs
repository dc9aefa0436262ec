//! The plugin manifest (`plugin.toml`), embedded in the component.
//!
//! The host reads the same bytes from the component's
//! `snapshot-plugin-manifest` custom section without running the plugin; the
//! guest reads them to answer `describe`.

use serde::Deserialize;

use crate::{NetworkInfo, PluginInfo};

#[derive(Deserialize)]
struct Manifest {
    plugin: PluginSection,
    #[serde(default)]
    networks: Vec<NetworkSection>,
}

#[derive(Deserialize)]
struct PluginSection {
    name: String,
    version: String,
    chains: Vec<String>,
    #[serde(default)]
    token_id_syntax: String,
}

#[derive(Deserialize)]
struct NetworkSection {
    name: String,
    endpoint: String,
}

/// Builds the `describe` answer from the manifest text.
///
/// Panics on a malformed manifest: the host validates the manifest before it
/// ever calls `describe`, so this only fires for a plugin built wrongly.
pub fn plugin_info(manifest_toml: &str) -> PluginInfo {
    let m: Manifest = toml::from_str(manifest_toml).expect("plugin.toml is valid");
    PluginInfo {
        name: m.plugin.name,
        version: m.plugin.version,
        chains: m.plugin.chains,
        networks: m
            .networks
            .into_iter()
            .map(|n| NetworkInfo {
                name: n.name,
                endpoint: n.endpoint,
            })
            .collect(),
        token_id_syntax: m.plugin.token_id_syntax,
    }
}
