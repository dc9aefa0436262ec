//! Settings shared by every command: upstream limits and the HTTP gateway,
//! and (in [`plugins`]) the operator's plugin config file.
//!
//! Limits come from four places, most specific first: the operator's
//! command line (`--rate-limit HOST=RPS[:CONCURRENCY]`), the operator's plugin
//! config (`[[plugins.<name>.rate_limits]]`), the plugins' manifests
//! (`[[rate_limits]]`), and the built-in default for any other host. The
//! plugins' part changes as plugins are loaded and unloaded:
//! [`limits_config`] recomputes it and the gateway takes it at run time.

use std::sync::Arc;
use std::time::Duration;

use crate::net::{HostLimit, LimitsConfig, NetConfig, RetryPolicy};
use crate::runtime::{LoadedPlugin, Manifest};

pub mod plugins;

/// One operator rate-limit override, parsed from `HOST=RPS[:CONCURRENCY]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitOverride {
    pub host: String,
    pub limit: HostLimit,
}

impl std::str::FromStr for RateLimitOverride {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{s}`: expected HOST=REQUESTS_PER_SECOND[:MAX_CONCURRENCY]");
        let (host, rest) = s.rsplit_once('=').ok_or_else(usage)?;
        let (rps, conc) = match rest.split_once(':') {
            Some((r, c)) => (r, Some(c)),
            None => (rest, None),
        };
        let requests_per_second: u32 = rps.parse().map_err(|_| usage())?;
        let max_concurrency: u32 = match conc {
            Some(c) => c.parse().map_err(|_| usage())?,
            None => 16,
        };
        if host.is_empty() || requests_per_second == 0 || max_concurrency == 0 {
            return Err(usage());
        }
        Ok(RateLimitOverride {
            host: host.to_string(),
            limit: HostLimit {
                requests_per_second,
                max_concurrency,
            },
        })
    }
}

/// The gateway settings for these plugins and operator overrides.
pub fn net_config<'a>(
    manifests: impl IntoIterator<Item = &'a Manifest>,
    overrides: &[RateLimitOverride],
) -> NetConfig {
    let mut per_host: Vec<(String, HostLimit)> = overrides
        .iter()
        .map(|o| (o.host.clone(), o.limit))
        .collect();
    for m in manifests {
        for (host, limit) in m.rate_limits() {
            if !per_host.iter().any(|(h, _)| h.eq_ignore_ascii_case(&host)) {
                per_host.push((host, limit));
            }
        }
    }
    NetConfig {
        limits: LimitsConfig {
            default: HostLimit::default(),
            per_host,
        },
        retry: RetryPolicy::default(),
        request_timeout: Duration::from_secs(30),
        ..NetConfig::default()
    }
}

/// The per-host limits for the operator's `overrides` and what `plugins`
/// bring (their effective `rate_limits`: manifest, replaced by the operator's
/// grant), over `default`. On a host named twice, the override wins, then
/// the first plugin (by name) naming it.
pub fn limits_config(
    plugins: &[Arc<LoadedPlugin>],
    overrides: &[RateLimitOverride],
    default: HostLimit,
) -> LimitsConfig {
    let mut per_host: Vec<(String, HostLimit)> = overrides
        .iter()
        .map(|o| (o.host.clone(), o.limit))
        .collect();
    for plugin in plugins {
        for (host, limit) in &plugin.capabilities.rate_limits {
            if !per_host.iter().any(|(h, _)| h.eq_ignore_ascii_case(host)) {
                per_host.push((host.clone(), *limit));
            }
        }
    }
    LimitsConfig { default, per_host }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_overrides_parse() {
        let o: RateLimitOverride = "127.0.0.1:5551=50:8".parse().unwrap();
        assert_eq!(o.host, "127.0.0.1:5551");
        assert_eq!(o.limit.requests_per_second, 50);
        assert_eq!(o.limit.max_concurrency, 8);
        let o: RateLimitOverride = "*.example.com=5".parse().unwrap();
        assert_eq!(o.limit.max_concurrency, 16);
        for bad in ["", "host", "host=", "host=0", "host=x", "=5", "h=5:0"] {
            assert!(bad.parse::<RateLimitOverride>().is_err(), "{bad}");
        }
    }
}
