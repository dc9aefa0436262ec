//! The two exports as plain functions of a request and a [`Host`]: request
//! checking, then [`walk::validate`] or [`walk::fetch`].
//!
//! Everything the caller wrote (token id, `at`, options, the resume state) is
//! checked here before the first request, so a malformed token id is an
//! `invalid-token` that cost no upstream call.

use snapshot_plugin_sdk::{FetchSummary, PluginError, SnapshotRequest, TokenInfo};

use crate::asset::AssetId;
use crate::walk::{self, Checkpoint, Host, Options};

/// The asset of the request, parsed and checked.
pub fn asset(req: &SnapshotRequest) -> Result<AssetId, PluginError> {
    AssetId::parse(&req.token_id).map_err(PluginError::InvalidToken)
}

/// Horizon serves only the current state of accounts: a point in time
/// cannot be honoured, so it is refused rather than silently ignored.
fn refuse_at(req: &SnapshotRequest) -> Result<(), PluginError> {
    match &req.at {
        None => Ok(()),
        Some(at) => Err(PluginError::InvalidToken(format!(
            "at {at:?}: Stellar snapshots cannot be taken at a past point in time (Horizon has no \
             historical query for accounts); omit `at` to snapshot the current ledger"
        ))),
    }
}

/// Options from the request (`plugin.toml` `[config]` keys).
pub fn options(req: &SnapshotRequest) -> Result<Options, PluginError> {
    let mut o = Options::default();
    let number = |key: &str, min: u64, max: u64| -> Result<Option<u64>, PluginError> {
        match req.option(key) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(PluginError::Internal(format!(
                    "option {key}={v:?} must be a whole number from {min} to {max}"
                ))),
            },
        }
    };
    if let Some(n) = number("page_size", 1, 200)? {
        o.page_size = n as u32;
    }
    if let Some(n) = number("rate_limit_low_water", 0, 1_000_000)? {
        o.low_water = n;
    }
    Ok(o)
}

fn base(req: &SnapshotRequest) -> &str {
    req.endpoint.trim_end_matches('/')
}

/// `validate-token`.
pub fn validate_token(
    host: &mut dyn Host,
    req: &SnapshotRequest,
) -> Result<TokenInfo, PluginError> {
    let asset = asset(req)?;
    refuse_at(req)?;
    let opts = options(req)?;
    walk::validate(host, base(req), &req.network, &asset, &opts)
}

/// `fetch-all-token-balances`.
pub fn fetch_all_token_balances(
    host: &mut dyn Host,
    req: &SnapshotRequest,
) -> Result<FetchSummary, PluginError> {
    let asset = asset(req)?;
    refuse_at(req)?;
    let opts = options(req)?;
    let resume = match &req.resume {
        Some(state) => Some(
            serde_json::from_str::<Checkpoint>(state)
                .map_err(|e| PluginError::Internal(format!("unreadable checkpoint: {e}")))?,
        ),
        None => None,
    };
    walk::fetch(host, base(req), &req.network, &asset, resume, &opts)
}
