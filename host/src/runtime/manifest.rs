//! The plugin manifest: `plugin.toml`, embedded in the component.
//!
//! The SDK's `register_plugin!` places the crate's `plugin.toml` in a custom
//! section named [`MANIFEST_SECTION`] of the core module inside the
//! component, so one `.wasm` file carries code and manifest together (a hot
//! reload can never see one without the other) and the host can read it
//! without instantiating untrusted code.

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use crate::net::{AnyHostGrant, EgressPolicy, HostLimit, RuleSource};

/// Name of the custom section holding `plugin.toml`.
pub const MANIFEST_SECTION: &str = "snapshot-plugin-manifest";

/// WIT lines this host serves (major.minor).
pub const SUPPORTED_WIT_LINES: &[&str] = &["0.1"];

/// A parsed and checked `plugin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub plugin: PluginSection,
    #[serde(default)]
    pub networks: Vec<NetworkSection>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSection>,
    #[serde(default)]
    pub limits: LimitsSection,
    /// Documented configuration keys and their defaults (passed to the
    /// plugin as request options).
    #[serde(default)]
    pub config: BTreeMap<String, ConfigKey>,
    /// The line of `plugin.toml` that holds `allowed_hosts`, for messages.
    #[serde(skip)]
    pub allowed_hosts_line: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    pub name: String,
    pub version: String,
    /// The WIT version the plugin was built against, e.g. `0.1.0`.
    pub wit: String,
    pub chains: Vec<String>,
    #[serde(default)]
    pub token_id_syntax: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    pub name: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Origins the plugin may call (deny all when empty).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// Host pattern (`api.example.com`, `*.example.com`, `host:port`).
    pub host: String,
    pub requests_per_second: u32,
    pub max_concurrency: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Linear memory cap in MiB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
    /// Guest CPU time per call in seconds (time waiting on the host is free).
    #[serde(default = "default_cpu_seconds")]
    pub cpu_seconds: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            memory_mb: default_memory_mb(),
            cpu_seconds: default_cpu_seconds(),
        }
    }
}

fn default_memory_mb() -> u64 {
    256
}
fn default_cpu_seconds() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigKey {
    pub default: String,
    #[serde(default)]
    pub help: String,
}

/// Whether `name` is a valid plugin name: 1-64 characters of `a-z`, `0-9`
/// and `-`. Such a name is also a safe file name (`<name>.wasm`): no
/// separator, no `..`, nothing to escape.
pub fn is_valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "the component has no `{MANIFEST_SECTION}` custom section (build it with the plugin SDK's register_plugin!)"
    )]
    Missing,
    #[error("the component holds more than one `{MANIFEST_SECTION}` section")]
    Duplicate,
    #[error("not a WebAssembly component: {0}")]
    NotWasm(String),
    #[error("plugin.toml is not valid: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Reads the manifest embedded in component `bytes`.
    pub fn from_component(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let mut found: Option<&[u8]> = None;
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| ManifestError::NotWasm(e.to_string()))?;
            if let wasmparser::Payload::CustomSection(section) = payload
                && section.name() == MANIFEST_SECTION
            {
                if found.is_some() {
                    return Err(ManifestError::Duplicate);
                }
                found = Some(section.data());
            }
        }
        let data = found.ok_or(ManifestError::Missing)?;
        let text =
            std::str::from_utf8(data).map_err(|_| ManifestError::Invalid("not UTF-8".into()))?;
        Manifest::parse(text)
    }

    /// Parses and checks `plugin.toml` text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut m: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        m.check()?;
        m.allowed_hosts_line = text
            .lines()
            .position(|line| line.trim_start().starts_with("allowed_hosts"))
            .map(|i| i + 1);
        Ok(m)
    }

    fn check(&self) -> Result<(), ManifestError> {
        let bad = |msg: String| Err(ManifestError::Invalid(msg));
        let p = &self.plugin;
        if !is_valid_plugin_name(&p.name) {
            return bad(format!(
                "plugin.name {:?} must be 1-64 characters of a-z, 0-9 and -",
                p.name
            ));
        }
        if p.version.split('.').count() < 3 {
            return bad(format!(
                "plugin.version {:?} is not a semver version",
                p.version
            ));
        }
        if !SUPPORTED_WIT_LINES.contains(&self.wit_line()) {
            return bad(format!(
                "plugin.wit {:?} targets a WIT line this host does not serve (supported: {})",
                p.wit,
                SUPPORTED_WIT_LINES.join(", ")
            ));
        }
        if p.chains.is_empty() {
            return bad("plugin.chains must name at least one chain".into());
        }
        for n in &self.networks {
            if let Err(e) = Url::parse(&n.endpoint) {
                return bad(format!("network {} endpoint {:?}: {e}", n.name, n.endpoint));
            }
        }
        // Syntax only: whether a bare `*` may be used is the operator's
        // decision, taken when the plugin is loaded with its grant (see
        // `runtime::capabilities`).
        if let Err(e) = self.egress_policy(AnyHostGrant::Granted) {
            return bad(e.to_string());
        }
        if self.limits.memory_mb == 0 || self.limits.memory_mb > 4096 {
            return bad(format!(
                "limits.memory_mb = {} must be between 1 and 4096",
                self.limits.memory_mb
            ));
        }
        if self.limits.cpu_seconds == 0 {
            return bad("limits.cpu_seconds must be at least 1".into());
        }
        Ok(())
    }

    /// `major.minor` of the targeted WIT version.
    pub fn wit_line(&self) -> &str {
        let v = self.plugin.wit.as_str();
        match v.match_indices('.').nth(1) {
            Some((i, _)) => &v[..i],
            None => v,
        }
    }

    /// The manifest's `allowed_hosts` as a policy (deny all when empty).
    pub fn egress_policy(
        &self,
        grant: AnyHostGrant,
    ) -> Result<EgressPolicy, crate::net::RuleParseError> {
        EgressPolicy::from_rules(
            self.plugin.name.clone(),
            grant,
            RuleSource::PluginManifest,
            &self.capabilities.allowed_hosts,
        )
    }

    /// Where `allowed_hosts` is written, as a denial names it: e.g.
    /// `allowed_hosts in [capabilities] of hedera's plugin.toml (line 24)`.
    pub fn allowed_hosts_location(&self) -> String {
        let mut place = format!(
            "allowed_hosts in [capabilities] of {}'s plugin.toml",
            self.plugin.name
        );
        if let Some(line) = self.allowed_hosts_line {
            place.push_str(&format!(" (line {line})"));
        }
        place
    }

    /// Whether `allowed_hosts` holds the catch-all `*`.
    pub fn allows_any_host(&self) -> bool {
        self.capabilities
            .allowed_hosts
            .iter()
            .any(|rule| rule.trim() == "*")
    }

    /// Default per-host limits declared by the plugin.
    pub fn rate_limits(&self) -> impl Iterator<Item = (String, HostLimit)> + '_ {
        self.rate_limits.iter().map(|r| {
            (
                r.host.clone(),
                HostLimit {
                    requests_per_second: r.requests_per_second,
                    max_concurrency: r.max_concurrency,
                },
            )
        })
    }

    /// The default endpoint of `network`.
    pub fn endpoint_of(&self, network: &str) -> Option<&str> {
        self.networks
            .iter()
            .find(|n| n.name == network)
            .map(|n| n.endpoint.as_str())
    }

    /// The first network listed, the default one.
    pub fn default_network(&self) -> Option<&str> {
        self.networks.first().map(|n| n.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[plugin]
name = "demo"
version = "0.1.0"
wit = "0.1.0"
chains = ["demo"]

[[networks]]
name = "mainnet"
endpoint = "https://api.example.com"

[capabilities]
allowed_hosts = ["https://api.example.com"]
"#;

    #[test]
    fn a_minimal_manifest_parses_with_default_limits() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.wit_line(), "0.1");
        assert_eq!(m.limits.memory_mb, 256);
        assert_eq!(m.default_network(), Some("mainnet"));
    }

    #[test]
    fn unsupported_wit_lines_and_bad_names_are_refused() {
        let e = Manifest::parse(&GOOD.replace("wit = \"0.1.0\"", "wit = \"0.9.0\"")).unwrap_err();
        assert!(e.to_string().contains("does not serve"), "{e}");
        let e = Manifest::parse(&GOOD.replace("name = \"demo\"", "name = \"../x\"")).unwrap_err();
        assert!(e.to_string().contains("plugin.name"), "{e}");
        let e = Manifest::parse(&GOOD.replace("[capabilities]", "[capabilities]\nfoo = 1"))
            .unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn a_bare_star_parses_and_is_left_to_the_operator_grant() {
        // Refused at load time without a grant: see runtime::capabilities.
        let m = Manifest::parse(&GOOD.replace("[\"https://api.example.com\"]", "[\"*\"]")).unwrap();
        assert!(m.allows_any_host());
        assert_eq!(m.allowed_hosts_line, Some(13));
        assert_eq!(
            m.allowed_hosts_location(),
            "allowed_hosts in [capabilities] of demo's plugin.toml (line 13)"
        );
        let e = Manifest::parse(&GOOD.replace("[\"https://api.example.com\"]", "[\"ftp://x\"]"))
            .unwrap_err();
        assert!(e.to_string().contains("ftp://x"), "{e}");
    }

    #[test]
    fn bytes_that_are_not_a_component_are_refused() {
        assert!(matches!(
            Manifest::from_component(b"not wasm at all"),
            Err(ManifestError::NotWasm(_))
        ));
    }
}
