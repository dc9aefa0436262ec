//! The operator's plugin config file: what each plugin is granted.
//!
//! `serve --plugin-config FILE` (or `SNAPSHOT_PLUGIN_CONFIG`), TOML, one
//! table per plugin name; every key is optional:
//!
//! ```toml
//! [plugins.hedera]
//! # Narrowing: a request must be allowed by the manifest AND by this list
//! # (an empty list denies all but the configured endpoint).
//! allowed_hosts = ["https://mainnet.mirrornode.hedera.com"]
//! # Caps: the smaller of the manifest's and these applies.
//! memory_mb = 128
//! cpu_seconds = 30
//! # Defaults of the manifest's declared [config] keys.
//! config = { shards = "32" }
//!
//! # Per-host limits replacing the manifest's [[rate_limits]] for that host.
//! [[plugins.hedera.rate_limits]]
//! host = "mainnet.mirrornode.hedera.com"
//! requests_per_second = 20
//! max_concurrency = 8
//!
//! [plugins.community]
//! # Lets the manifest's bare "*" take effect (refused without it).
//! grant_any_host = true
//! ```
//!
//! A table may name a plugin that is not loaded (yet): it applies when a
//! plugin of that name is. See `crate::runtime::capabilities` for how a
//! grant meets a manifest. Every error names the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::net::{AllowRule, AnyHostGrant, HostLimit, RuleSource};
use crate::runtime::capabilities::{GrantLocation, PluginGrant, PluginGrants};
use crate::runtime::manifest::is_valid_plugin_name;

/// Why the plugin config file was refused: `file: line N: what`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: line {line}: {message}")]
pub struct PluginConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    plugins: BTreeMap<Spanned<String>, Spanned<GrantDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantDoc {
    allowed_hosts: Option<Spanned<Vec<Spanned<String>>>>,
    grant_any_host: Option<bool>,
    memory_mb: Option<Spanned<u64>>,
    cpu_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    rate_limits: Vec<Spanned<RateLimitDoc>>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitDoc {
    host: String,
    requests_per_second: u32,
    max_concurrency: u32,
}

/// Reads and checks the plugin config file at `path`.
pub fn load(path: &Path) -> Result<PluginGrants, PluginConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| PluginConfigError {
        file: path.display().to_string(),
        line: 0,
        message: format!("cannot read the plugin config: {e}"),
    })?;
    parse(&text, Some(path))
}

/// Parses plugin config `text` (read from `file`, named in messages).
pub fn parse(text: &str, file: Option<&Path>) -> Result<PluginGrants, PluginConfigError> {
    let file_name = file.map_or_else(|| "plugin config".to_string(), |f| f.display().to_string());
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let fail = |offset: usize, message: String| PluginConfigError {
        file: file_name.clone(),
        line: line_of(offset),
        message,
    };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        fail(offset, e.message().trim().to_string())
    })?;

    let mut plugins = BTreeMap::new();
    for (name, grant) in doc.plugins {
        let name_offset = name.span().start;
        let name = name.into_inner();
        if !is_valid_plugin_name(&name) {
            return Err(fail(
                name_offset,
                format!("[plugins.{name}]: a plugin name is 1-64 characters of a-z, 0-9 and -"),
            ));
        }
        let table_line = table_header_line(text, &name).unwrap_or_else(|| line_of(name_offset));
        let grant = grant.into_inner();
        let table = format!("[plugins.{name}]");

        let mut allowed_hosts_line = None;
        let allowed_hosts = match grant.allowed_hosts {
            Some(list) => {
                allowed_hosts_line = Some(line_of(list.span().start));
                let mut rules = Vec::new();
                for rule in list.into_inner() {
                    let offset = rule.span().start;
                    let rule = rule.into_inner();
                    AllowRule::parse(&rule, RuleSource::OperatorConfig, AnyHostGrant::Granted)
                        .map_err(|e| fail(offset, format!("{table} allowed_hosts: {e}")))?;
                    rules.push(rule);
                }
                Some(rules)
            }
            None => None,
        };
        let memory_mb = match grant.memory_mb {
            Some(m) if !(1..=4096).contains(m.get_ref()) => {
                return Err(fail(
                    m.span().start,
                    format!(
                        "{table} memory_mb = {} must be between 1 and 4096",
                        m.get_ref()
                    ),
                ));
            }
            m => m.map(Spanned::into_inner),
        };
        let cpu_seconds = match grant.cpu_seconds {
            Some(c) if *c.get_ref() == 0 => {
                return Err(fail(
                    c.span().start,
                    format!("{table} cpu_seconds must be at least 1"),
                ));
            }
            c => c.map(Spanned::into_inner),
        };
        let mut rate_limits = Vec::new();
        for limit in grant.rate_limits {
            let offset = limit.span().start;
            let limit = limit.into_inner();
            if limit.host.trim().is_empty()
                || limit.requests_per_second == 0
                || limit.max_concurrency == 0
            {
                return Err(fail(
                    offset,
                    format!(
                        "{table} rate_limits: host must be set and requests_per_second and \
                         max_concurrency at least 1"
                    ),
                ));
            }
            rate_limits.push((
                limit.host,
                HostLimit {
                    requests_per_second: limit.requests_per_second,
                    max_concurrency: limit.max_concurrency,
                },
            ));
        }
        plugins.insert(
            name.clone(),
            PluginGrant {
                allowed_hosts,
                grant_any_host: grant.grant_any_host.unwrap_or(false),
                memory_mb,
                cpu_seconds,
                rate_limits,
                config: grant.config,
                location: GrantLocation {
                    plugin: name,
                    file: file.map(Path::to_path_buf),
                    table_line: Some(table_line),
                    allowed_hosts_line,
                },
            },
        );
    }
    Ok(PluginGrants::new(file.map(PathBuf::from), plugins))
}

/// The line of the `[plugins.<name>]` header (quoted or not), if the table
/// is written as one.
fn table_header_line(text: &str, name: &str) -> Option<usize> {
    let plain = format!("[plugins.{name}]");
    let quoted = format!("[plugins.\"{name}\"]");
    text.lines()
        .position(|line| {
            let line: String = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            line == plain || line == quoted
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# operator grants
[plugins.hedera]
allowed_hosts = [
  "https://mainnet.mirrornode.hedera.com",
  "https://*.example.com",
]
memory_mb = 128
config = { shards = "32" }

[[plugins.hedera.rate_limits]]
host = "mainnet.mirrornode.hedera.com"
requests_per_second = 20
max_concurrency = 8

[plugins.community]
grant_any_host = true
cpu_seconds = 5
"#;

    fn path() -> PathBuf {
        PathBuf::from("/etc/snapshot/plugins.toml")
    }

    fn parse_err(text: &str) -> PluginConfigError {
        parse(text, Some(&path())).expect_err("refused")
    }

    #[test]
    fn a_full_file_parses_with_the_lines_of_each_table() {
        let grants = parse(FILE, Some(&path())).unwrap();
        assert_eq!(grants.file(), Some(path().as_path()));
        assert_eq!(grants.names().collect::<Vec<_>>(), ["community", "hedera"]);
        let hedera = grants.for_plugin("hedera");
        assert_eq!(
            hedera.allowed_hosts.as_deref(),
            Some(
                &[
                    "https://mainnet.mirrornode.hedera.com".to_string(),
                    "https://*.example.com".to_string()
                ][..]
            )
        );
        assert_eq!(hedera.memory_mb, Some(128));
        assert_eq!(hedera.cpu_seconds, None);
        assert!(!hedera.grant_any_host);
        assert_eq!(hedera.config["shards"], "32");
        assert_eq!(
            hedera.rate_limits,
            vec![(
                "mainnet.mirrornode.hedera.com".to_string(),
                HostLimit {
                    requests_per_second: 20,
                    max_concurrency: 8
                }
            )]
        );
        assert_eq!(hedera.location.table_line, Some(2));
        assert_eq!(hedera.location.allowed_hosts_line, Some(3));
        assert_eq!(
            hedera.location.allowed_hosts(),
            "allowed_hosts of [plugins.hedera] in /etc/snapshot/plugins.toml (line 3)"
        );
        let community = grants.for_plugin("community");
        assert!(community.grant_any_host);
        assert_eq!(community.cpu_seconds, Some(5));
        assert_eq!(
            community.location.table(),
            "[plugins.community] in /etc/snapshot/plugins.toml (line 15)"
        );
        // A plugin without a table gets nothing more than its manifest.
        let other = grants.for_plugin("xrpl");
        assert_eq!(other.allowed_hosts, None);
        assert!(!other.grant_any_host);
        assert_eq!(
            other.location.table(),
            "[plugins.xrpl] in /etc/snapshot/plugins.toml"
        );
    }

    #[test]
    fn an_empty_file_grants_nothing() {
        let grants = parse("", None).unwrap();
        assert_eq!(grants.names().count(), 0);
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let e = parse_err("[plugins.hedera]\nallowed_hosts = [\n  \"ftp://x\",\n]\n");
        assert_eq!((e.file.as_str(), e.line), ("/etc/snapshot/plugins.toml", 3));
        assert!(e.message.contains("ftp://x"), "{e}");
        assert!(
            e.to_string()
                .starts_with("/etc/snapshot/plugins.toml: line 3: [plugins.hedera] allowed_hosts"),
            "{e}"
        );

        let e = parse_err("[plugins.hedera]\nmemory_mb = 128\nmemroy_mb = 1\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("memroy_mb"), "{e}");

        let e = parse_err("[plugins.hedera]\n\nmemory_mb = 0\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("between 1 and 4096"), "{e}");

        let e = parse_err("[plugins.hedera]\ncpu_seconds = 0\n");
        assert_eq!(e.line, 2, "{e}");

        let e = parse_err("[plugins.\"../evil\"]\n");
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("a-z, 0-9"), "{e}");

        let e = parse_err(
            "[plugins.hedera]\n[[plugins.hedera.rate_limits]]\nhost = \"h\"\nrequests_per_second = 0\nmax_concurrency = 1\n",
        );
        assert_eq!(e.line, 2, "{e}");

        let e = parse_err("[plugins.hedera\n");
        assert_eq!(e.line, 1, "{e}");

        let e = parse_err("[server]\nport = 1\n");
        assert!(e.message.contains("server"), "{e}");

        let e = parse_err("[plugins.hedera]\ngrant_any_host = \"yes\"\n");
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = load(Path::new("/nonexistent/plugins.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/plugins.toml"), "{e}");
    }
}
