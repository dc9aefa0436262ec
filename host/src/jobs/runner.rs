//! validate-token → fetch-all-token-balances → canonical document.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::net::{HttpGateway, RuleSource};
use crate::runtime::bindings::{
    PluginError, SnapshotRequest, TokenKind as WitTokenKind, TotalCheck as WitTotalCheck,
};
use crate::runtime::plugin::{CallLimits, PluginFailure};
use crate::runtime::state::JobContext;
use crate::runtime::{JobSink, LoadedPlugin};
use crate::snapshot::{
    Amount, CanonicalSnapshot, PluginMeta, SnapshotMeta, TokenKind, TokenMeta, TotalCheck,
    sum_check_attributes,
};

use super::CollectingSink;

/// What the caller asked for.
#[derive(Clone, Debug, Default)]
pub struct SnapshotSpec {
    pub token_id: String,
    /// Network name; the plugin's first network when none.
    pub network: Option<String>,
    /// Overrides the network's default endpoint (and is thereby allowed).
    pub endpoint: Option<String>,
    /// Point in time, in the plugin's syntax.
    pub at: Option<String>,
    /// Smallest balance kept, in the `balance` unit (smallest units).
    pub min_balance: Option<String>,
    /// Plugin options (`plugin.toml` `[config]` keys), over the defaults.
    pub options: Vec<(String, String)>,
    /// The last checkpoint of an interrupted run.
    pub resume: Option<String>,
    /// Wall-clock bound of the fetch.
    pub fetch_timeout: Option<Duration>,
}

/// Why a snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The caller's input is wrong (bad token id, unknown token, network,
    /// min balance ...). Nothing was fetched or nothing will help.
    #[error("{0}")]
    BadInput(String),
    /// The plugin failed or the sandbox stopped it.
    #[error(transparent)]
    Plugin(#[from] PluginFailure),
    /// Anything else on the host side.
    #[error("{0}")]
    Host(String),
}

impl SnapshotError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SnapshotError::Plugin(f) if f.is_retryable())
    }
}

/// A finished snapshot and what produced it.
pub struct TakenSnapshot {
    pub document: CanonicalSnapshot,
    /// Holder entries the plugin emitted (re-emissions included).
    pub holders_emitted: u64,
}

/// The resolved request and the job context for `plugin`.
fn prepare(
    plugin: &LoadedPlugin,
    spec: &SnapshotSpec,
    gateway: &Arc<HttpGateway>,
    sink: Arc<dyn JobSink>,
) -> Result<(SnapshotRequest, JobContext), SnapshotError> {
    let manifest = &plugin.manifest;
    let network = match &spec.network {
        Some(n) => n.clone(),
        None => manifest
            .default_network()
            .ok_or_else(|| {
                SnapshotError::BadInput(format!("plugin {} lists no network", plugin.id()))
            })?
            .to_string(),
    };
    let endpoint = match &spec.endpoint {
        Some(e) => e.clone(),
        None => manifest
            .endpoint_of(&network)
            .ok_or_else(|| {
                let known: Vec<&str> = manifest.networks.iter().map(|n| n.name.as_str()).collect();
                SnapshotError::BadInput(format!(
                    "unknown network `{network}` for {} (known: {}; or pass an endpoint)",
                    plugin.name(),
                    known.join(", ")
                ))
            })?
            .to_string(),
    };
    let endpoint_url = Url::parse(&endpoint)
        .map_err(|e| SnapshotError::BadInput(format!("endpoint `{endpoint}` is not a URL: {e}")))?;
    if !matches!(endpoint_url.scheme(), "http" | "https") {
        return Err(SnapshotError::BadInput(format!(
            "endpoint `{endpoint}` must be an http or https URL"
        )));
    }

    // The plugin's effective allow-list: its manifest, narrowed by the
    // operator's grant (fixed when this version was loaded).
    let mut egress = plugin.capabilities.egress.clone();
    // The endpoint the operator chose is theirs to grant.
    egress
        .allow(
            &endpoint_url.origin().ascii_serialization(),
            RuleSource::ConfiguredEndpoint,
        )
        .map_err(|e| SnapshotError::BadInput(e.to_string()))?;

    if let Some(min) = &spec.min_balance {
        min.parse::<Amount>().map_err(|e| {
            SnapshotError::BadInput(format!("min balance `{min}` is not an exact decimal: {e}"))
        })?;
    }

    // The manifest's config defaults, as the operator's grant set them.
    let mut options: BTreeMap<String, String> = plugin.capabilities.config.clone();
    options.extend(spec.options.iter().cloned());

    let request = SnapshotRequest {
        token_id: spec.token_id.clone(),
        network,
        endpoint: endpoint.trim_end_matches('/').to_string(),
        at: spec.at.clone(),
        min_balance: spec.min_balance.clone(),
        resume: spec.resume.clone(),
        options: options.into_iter().collect(),
    };
    let job = JobContext {
        plugin_id: plugin.id(),
        gateway: gateway.clone(),
        egress: Arc::new(egress),
        sink,
        max_emit_batch: 0,
    };
    Ok((request, job))
}

fn input_or_plugin(failure: PluginFailure) -> SnapshotError {
    match failure.plugin_error() {
        Some(PluginError::InvalidToken(m)) => {
            SnapshotError::BadInput(format!("invalid token id: {m}"))
        }
        Some(PluginError::NotFound(m)) => SnapshotError::BadInput(format!("not found: {m}")),
        _ => SnapshotError::Plugin(failure),
    }
}

/// Checks `spec`'s token with `plugin` without listing holders: the API does
/// this before queueing a job, so a bad token is refused at once.
pub async fn validate_token(
    plugin: &LoadedPlugin,
    spec: &SnapshotSpec,
    gateway: &Arc<HttpGateway>,
) -> Result<crate::runtime::bindings::TokenInfo, SnapshotError> {
    let sink: Arc<dyn JobSink> = Arc::new(CollectingSink::new(plugin.id()));
    let (request, job) = prepare(plugin, spec, gateway, sink)?;
    let limits = CallLimits::for_plugin(plugin, Duration::from_secs(120));
    plugin
        .validate_token(job, &limits, &request)
        .await
        .map_err(input_or_plugin)
}

/// Takes one snapshot with `plugin`, collecting holders in `sink`.
pub async fn take_snapshot(
    plugin: Arc<LoadedPlugin>,
    spec: &SnapshotSpec,
    gateway: &Arc<HttpGateway>,
    sink: Arc<CollectingSink>,
) -> Result<TakenSnapshot, SnapshotError> {
    take_snapshot_observed(plugin, spec, gateway, sink.clone(), sink).await
}

/// Like [`take_snapshot`], with the plugin's calls going to `observer`
/// first, which hands them on to `collector` (e.g. `plugin test`'s trace).
pub async fn take_snapshot_observed(
    plugin: Arc<LoadedPlugin>,
    spec: &SnapshotSpec,
    gateway: &Arc<HttpGateway>,
    collector: Arc<CollectingSink>,
    observer: Arc<dyn JobSink>,
) -> Result<TakenSnapshot, SnapshotError> {
    let (request, job) = prepare(&plugin, spec, gateway, observer)?;
    let validate_limits = CallLimits::for_plugin(&plugin, Duration::from_secs(120));
    let token = plugin
        .validate_token(clone_job(&job), &validate_limits, &request)
        .await
        .map_err(input_or_plugin)?;

    let fetch_limits = CallLimits::for_plugin(
        &plugin,
        spec.fetch_timeout.unwrap_or(Duration::from_secs(24 * 3600)),
    );
    let summary = plugin
        .fetch_all_token_balances(job, &fetch_limits, &request)
        .await
        .map_err(input_or_plugin)?;

    let meta = SnapshotMeta {
        chain: plugin
            .manifest
            .plugin
            .chains
            .first()
            .cloned()
            .unwrap_or_default(),
        network: request.network.clone(),
        token_id: token.token_id.clone(),
        token: TokenMeta {
            name: token.name,
            symbol: token.symbol,
            decimals: token.decimals,
            kind: match token.kind {
                WitTokenKind::Fungible => TokenKind::Fungible,
                WitTokenKind::NonFungible => TokenKind::NonFungible,
            },
            total_supply: token.total_supply,
        },
        resolved_at: summary.resolved_at,
        plugin: PluginMeta {
            name: plugin.manifest.plugin.name.clone(),
            version: plugin.manifest.plugin.version.clone(),
            sha256: plugin.sha256.clone(),
        },
        attributes: summary.attributes.into_iter().collect(),
    };
    let holders = collector.take_holders();
    let mut meta = meta;
    if let Some(check) = summary.total_check {
        // Every holder counts, before any min-balance filter: that is what
        // the ledger's own total covers.
        let all: Amount = holders.iter().map(|h| h.balance).sum();
        meta.attributes
            .extend(sum_check_attributes(&all, &to_total_check(check)));
    }
    let min_balance = spec
        .min_balance
        .as_deref()
        .map(|m| m.parse::<Amount>())
        .transpose()
        .map_err(|e| SnapshotError::BadInput(e.to_string()))?;
    let document = CanonicalSnapshot::build(holders, meta, min_balance);
    Ok(TakenSnapshot {
        document,
        holders_emitted: summary.holders_emitted,
    })
}

fn clone_job(job: &JobContext) -> JobContext {
    JobContext {
        plugin_id: job.plugin_id.clone(),
        gateway: job.gateway.clone(),
        egress: job.egress.clone(),
        sink: job.sink.clone(),
        max_emit_batch: job.max_emit_batch,
    }
}

fn to_total_check(check: WitTotalCheck) -> TotalCheck {
    match check {
        WitTotalCheck::Reported(r) => TotalCheck::Reported {
            value: r.value,
            significant_digits: r.significant_digits,
            source: r.source,
        },
        WitTotalCheck::Unavailable(reason) => TotalCheck::Unavailable(reason),
    }
}
