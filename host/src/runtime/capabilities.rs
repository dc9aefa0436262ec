//! What a plugin may do: what its manifest asks for, intersected with what
//! the operator grants it.
//!
//! The manifest (`plugin.toml`) states what the plugin needs: the hosts it
//! calls, its memory and CPU, its default rate limits and config keys. The
//! operator's plugin config file (`--plugin-config`, parsed in
//! `crate::config::plugins`) may only *narrow* that, with two exceptions the
//! operator states explicitly: `grant_any_host = true` lets a manifest's bare
//! `*` take effect, and per-host rate limits replace the manifest's defaults
//! (limits protect the upstream, which is the operator's business). So:
//!
//! | capability      | effective                                                              |
//! |-----------------|------------------------------------------------------------------------|
//! | allowed hosts   | manifest rules; when the grant lists hosts, a request must match both  |
//! | bare `*`        | refused at load unless the grant says `grant_any_host = true`          |
//! | memory, CPU     | the smaller of manifest and grant                                      |
//! | rate limits     | the grant's for a host it names, else the manifest's                   |
//! | config defaults | the manifest's, overridden by the grant's (declared keys only)         |
//!
//! The result is computed once, when a plugin version is loaded, and lives in
//! [`crate::runtime::LoadedPlugin::capabilities`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::net::{AnyHostGrant, EgressPolicy, HostLimit};
use crate::runtime::manifest::Manifest;

/// How the operator names the plugin config file, for messages about a host
/// started without one.
pub const PLUGIN_CONFIG_HINT: &str =
    "the operator plugin config (--plugin-config FILE or SNAPSHOT_PLUGIN_CONFIG)";

/// Where one plugin's grant is written, so messages can name the line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantLocation {
    /// The plugin the table is for.
    pub plugin: String,
    /// The config file; `None` when the host runs without one.
    pub file: Option<PathBuf>,
    /// Line of the `[plugins.<name>]` table header.
    pub table_line: Option<usize>,
    /// Line of its `allowed_hosts` key.
    pub allowed_hosts_line: Option<usize>,
}

impl GrantLocation {
    fn file_text(&self) -> String {
        match &self.file {
            Some(file) => file.display().to_string(),
            None => PLUGIN_CONFIG_HINT.to_string(),
        }
    }

    fn with_line(text: String, line: Option<usize>) -> String {
        match line {
            Some(line) => format!("{text} (line {line})"),
            None => text,
        }
    }

    /// `[plugins.hedera] in /etc/snapshot/plugins.toml (line 3)`.
    pub fn table(&self) -> String {
        Self::with_line(
            format!("[plugins.{}] in {}", self.plugin, self.file_text()),
            self.table_line,
        )
    }

    /// `allowed_hosts of [plugins.hedera] in /etc/snapshot/plugins.toml (line 4)`.
    pub fn allowed_hosts(&self) -> String {
        Self::with_line(
            format!(
                "allowed_hosts of [plugins.{}] in {}",
                self.plugin,
                self.file_text()
            ),
            self.allowed_hosts_line.or(self.table_line),
        )
    }
}

/// What the operator grants one plugin (a `[plugins.<name>]` table). Every
/// field is optional: an absent one leaves the manifest's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginGrant {
    /// Narrowing list: when set, a request must match a manifest rule *and*
    /// one of these. Empty denies everything but configured endpoints.
    pub allowed_hosts: Option<Vec<String>>,
    /// Lets a manifest's bare `*` take effect.
    pub grant_any_host: bool,
    /// Memory cap in MiB (the smaller of this and the manifest's applies).
    pub memory_mb: Option<u64>,
    /// Guest CPU seconds per call (the smaller applies).
    pub cpu_seconds: Option<u64>,
    /// Per-host limits replacing the manifest's `[[rate_limits]]` for the
    /// same host pattern.
    pub rate_limits: Vec<(String, HostLimit)>,
    /// Config defaults replacing the manifest's `[config]` defaults.
    pub config: BTreeMap<String, String>,
    /// Where this grant is written.
    pub location: GrantLocation,
}

/// Every plugin's grant, from the operator's plugin config file.
#[derive(Debug, Clone, Default)]
pub struct PluginGrants {
    file: Option<PathBuf>,
    plugins: BTreeMap<String, PluginGrant>,
}

impl PluginGrants {
    /// No file: every plugin gets exactly what its manifest asks for (and no
    /// bare `*`).
    pub fn none() -> Self {
        Self::default()
    }

    /// The grants read from `file`.
    pub fn new(file: Option<PathBuf>, plugins: BTreeMap<String, PluginGrant>) -> Self {
        PluginGrants { file, plugins }
    }

    /// The config file, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The plugins with a table in the file.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// The grant of plugin `name` (an empty one, located in the file, when
    /// the file has no table for it).
    pub fn for_plugin(&self, name: &str) -> PluginGrant {
        self.plugins
            .get(name)
            .cloned()
            .unwrap_or_else(|| PluginGrant {
                location: GrantLocation {
                    plugin: name.to_string(),
                    file: self.file.clone(),
                    table_line: None,
                    allowed_hosts_line: None,
                },
                ..PluginGrant::default()
            })
    }
}

/// A plugin that cannot be loaded with the capabilities it asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CapabilityError(pub String);

/// What one loaded plugin version may do: manifest ∩ grant.
#[derive(Debug, Clone)]
pub struct EffectiveCapabilities {
    /// The allow-list every request of the plugin is checked against (the
    /// configured endpoint is added per job).
    pub egress: EgressPolicy,
    /// The manifest's `allowed_hosts`, as written.
    pub manifest_hosts: Vec<String>,
    /// The operator's narrowing list, when there is one.
    pub granted_hosts: Option<Vec<String>>,
    /// Whether the operator granted the bare `*`.
    pub any_host: AnyHostGrant,
    /// Linear memory cap, MiB.
    pub memory_mb: u64,
    /// Guest CPU seconds per call.
    pub cpu_seconds: u64,
    /// Per-host limits this plugin brings to the gateway.
    pub rate_limits: Vec<(String, HostLimit)>,
    /// Config defaults passed to the plugin as options.
    pub config: BTreeMap<String, String>,
}

impl EffectiveCapabilities {
    /// Intersects `manifest` with `grant`. Fails, naming the line to change,
    /// when the manifest needs what the grant does not give (a bare `*`), or
    /// the grant sets a config key the manifest does not declare.
    pub fn resolve(
        manifest: &Manifest,
        grant: &PluginGrant,
    ) -> Result<EffectiveCapabilities, CapabilityError> {
        let name = &manifest.plugin.name;
        let id = format!("{name}@{}", manifest.plugin.version);
        if manifest.allows_any_host() && !grant.grant_any_host {
            return Err(CapabilityError(format!(
                "plugin {id} asks for every host (\"*\" in {}); that takes an explicit operator \
                 grant: add `grant_any_host = true` to {}",
                manifest.allowed_hosts_location(),
                grant.location.table()
            )));
        }
        let any_host = if grant.grant_any_host {
            AnyHostGrant::Granted
        } else {
            AnyHostGrant::NotGranted
        };
        let mut egress = manifest
            .egress_policy(any_host)
            .map_err(|e| CapabilityError(e.to_string()))?
            .located_at(manifest.allowed_hosts_location());
        if let Some(hosts) = &grant.allowed_hosts {
            egress
                .narrow(hosts, grant.location.allowed_hosts())
                .map_err(|e| CapabilityError(e.to_string()))?;
        }

        let mut rate_limits: Vec<(String, HostLimit)> = manifest.rate_limits().collect();
        for (host, limit) in &grant.rate_limits {
            match rate_limits
                .iter_mut()
                .find(|(h, _)| h.eq_ignore_ascii_case(host))
            {
                Some(entry) => entry.1 = *limit,
                None => rate_limits.push((host.clone(), *limit)),
            }
        }

        let mut config: BTreeMap<String, String> = manifest
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.default.clone()))
            .collect();
        for (key, value) in &grant.config {
            if !manifest.config.contains_key(key) {
                let declared: Vec<&str> = manifest.config.keys().map(String::as_str).collect();
                return Err(CapabilityError(format!(
                    "config key `{key}` in {} is not one plugin {id} declares (its plugin.toml \
                     [config] has: {})",
                    grant.location.table(),
                    if declared.is_empty() {
                        "none".to_string()
                    } else {
                        declared.join(", ")
                    }
                )));
            }
            config.insert(key.clone(), value.clone());
        }

        Ok(EffectiveCapabilities {
            egress,
            manifest_hosts: manifest.capabilities.allowed_hosts.clone(),
            granted_hosts: grant.allowed_hosts.clone(),
            any_host,
            memory_mb: grant.memory_mb.map_or(manifest.limits.memory_mb, |m| {
                m.min(manifest.limits.memory_mb)
            }),
            cpu_seconds: grant.cpu_seconds.map_or(manifest.limits.cpu_seconds, |c| {
                c.min(manifest.limits.cpu_seconds)
            }),
            rate_limits,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    const MANIFEST: &str = r#"[plugin]
name = "demo"
version = "0.1.0"
wit = "0.1.0"
chains = ["demo"]

[capabilities]
allowed_hosts = ["https://*.example.com", "http://127.0.0.1:5551"]

[[rate_limits]]
host = "api.example.com"
requests_per_second = 50
max_concurrency = 8

[limits]
memory_mb = 128
cpu_seconds = 30

[config]
shards = { default = "16" }
"#;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text).expect("manifest parses")
    }

    fn grant() -> PluginGrant {
        PluginGrant {
            location: GrantLocation {
                plugin: "demo".into(),
                file: Some(PathBuf::from("/etc/snapshot/plugins.toml")),
                table_line: Some(3),
                allowed_hosts_line: Some(4),
            },
            ..PluginGrant::default()
        }
    }

    fn allows(caps: &EffectiveCapabilities, url: &str) -> bool {
        caps.egress.check(&Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn without_a_grant_the_manifest_applies_as_written() {
        let caps = EffectiveCapabilities::resolve(&manifest(MANIFEST), &grant()).unwrap();
        assert!(allows(&caps, "https://api.example.com/x"));
        assert!(allows(&caps, "http://127.0.0.1:5551/"));
        assert!(!allows(&caps, "https://example.com/"), "apex");
        assert!(!allows(&caps, "https://evil-example.com/"), "lookalike");
        assert!(!allows(&caps, "http://api.example.com/"), "scheme");
        assert!(!allows(&caps, "https://api.example.com:8443/"), "port");
        assert_eq!((caps.memory_mb, caps.cpu_seconds), (128, 30));
        assert_eq!(caps.config["shards"], "16");
        assert_eq!(caps.granted_hosts, None);
    }

    #[test]
    fn a_grant_narrows_hosts_and_caps_limits_but_never_widens_them() {
        let g = PluginGrant {
            allowed_hosts: Some(vec![
                "https://api.example.com".into(),
                "https://elsewhere.org".into(),
            ]),
            memory_mb: Some(512),
            cpu_seconds: Some(5),
            ..grant()
        };
        let caps = EffectiveCapabilities::resolve(&manifest(MANIFEST), &g).unwrap();
        assert!(allows(&caps, "https://api.example.com/x"));
        assert!(
            !allows(&caps, "https://other.example.com/"),
            "narrowed away"
        );
        assert!(!allows(&caps, "http://127.0.0.1:5551/"), "narrowed away");
        assert!(
            !allows(&caps, "https://elsewhere.org/"),
            "not in the manifest"
        );
        assert_eq!(caps.memory_mb, 128, "the manifest's smaller cap stays");
        assert_eq!(caps.cpu_seconds, 5, "the grant's smaller cap applies");

        let err = caps
            .egress
            .check(&Url::parse("https://other.example.com/").unwrap())
            .unwrap_err();
        assert_eq!(
            err.add_to,
            vec![
                "allowed_hosts of [plugins.demo] in /etc/snapshot/plugins.toml (line 4)"
                    .to_string()
            ]
        );
        let err = caps
            .egress
            .check(&Url::parse("https://elsewhere.org/").unwrap())
            .unwrap_err();
        assert_eq!(
            err.add_to,
            vec!["allowed_hosts in [capabilities] of demo's plugin.toml (line 8)".to_string()],
            "the operator list allows it; the manifest is what lacks it"
        );
    }

    #[test]
    fn a_bare_star_needs_grant_any_host_and_the_refusal_names_the_line_to_add() {
        let star = MANIFEST.replace(
            "[\"https://*.example.com\", \"http://127.0.0.1:5551\"]",
            "[\"*\"]",
        );
        let err = EffectiveCapabilities::resolve(&manifest(&star), &grant()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin demo@0.1.0 asks for every host (\"*\" in allowed_hosts in [capabilities] of \
             demo's plugin.toml (line 8)); that takes an explicit operator grant: add \
             `grant_any_host = true` to [plugins.demo] in /etc/snapshot/plugins.toml (line 3)"
        );
        let no_file = PluginGrants::none().for_plugin("demo");
        let err = EffectiveCapabilities::resolve(&manifest(&star), &no_file).unwrap_err();
        assert!(err.to_string().contains(PLUGIN_CONFIG_HINT), "{err}");

        let granted = PluginGrant {
            grant_any_host: true,
            ..grant()
        };
        let caps = EffectiveCapabilities::resolve(&manifest(&star), &granted).unwrap();
        assert!(allows(&caps, "https://anything.org:9/"));
        assert_eq!(caps.any_host, AnyHostGrant::Granted);

        // Granted and narrowed: the operator's list is what applies.
        let narrowed = PluginGrant {
            grant_any_host: true,
            allowed_hosts: Some(vec!["https://only.example.org".into()]),
            ..grant()
        };
        let caps = EffectiveCapabilities::resolve(&manifest(&star), &narrowed).unwrap();
        assert!(allows(&caps, "https://only.example.org/"));
        assert!(!allows(&caps, "https://anything.org/"));
    }

    #[test]
    fn grant_rate_limits_replace_the_manifest_defaults_for_their_host() {
        let g = PluginGrant {
            rate_limits: vec![
                (
                    "API.example.com".into(),
                    HostLimit {
                        requests_per_second: 5,
                        max_concurrency: 2,
                    },
                ),
                (
                    "127.0.0.1:5551".into(),
                    HostLimit {
                        requests_per_second: 7,
                        max_concurrency: 1,
                    },
                ),
            ],
            ..grant()
        };
        let caps = EffectiveCapabilities::resolve(&manifest(MANIFEST), &g).unwrap();
        assert_eq!(
            caps.rate_limits,
            vec![
                (
                    "api.example.com".to_string(),
                    HostLimit {
                        requests_per_second: 5,
                        max_concurrency: 2
                    }
                ),
                (
                    "127.0.0.1:5551".to_string(),
                    HostLimit {
                        requests_per_second: 7,
                        max_concurrency: 1
                    }
                ),
            ]
        );
    }

    #[test]
    fn grant_config_overrides_declared_keys_only() {
        let mut g = grant();
        g.config.insert("shards".into(), "4".into());
        let caps = EffectiveCapabilities::resolve(&manifest(MANIFEST), &g).unwrap();
        assert_eq!(caps.config["shards"], "4");
        g.config.insert("typo".into(), "1".into());
        let err = EffectiveCapabilities::resolve(&manifest(MANIFEST), &g).unwrap_err();
        assert!(
            err.to_string().contains("`typo`") && err.to_string().contains("has: shards"),
            "{err}"
        );
    }
}
