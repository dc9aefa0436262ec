//! The two exports over a [`Host`]: request checking, then [`info`] or
//! [`walk`].
//!
//! Everything the caller wrote (token id, `at`, options, the resume state) is
//! checked here before the first request, so a malformed token id is an
//! `invalid-token` that cost no upstream call.

use snapshot_plugin_sdk::{FetchSummary, PluginError, SnapshotRequest, TokenInfo};

use crate::info;
use crate::token_id::TokenId;
use crate::walk::{self, Checkpoint, Host, Options};

/// The token id of the request, parsed and checked.
pub fn token_id(req: &SnapshotRequest) -> Result<TokenId, PluginError> {
    TokenId::parse(&req.token_id).map_err(PluginError::InvalidToken)
}

/// The ledger index of `at`: a positive 32-bit decimal number.
pub fn parse_at(at: &str) -> Result<u32, PluginError> {
    let t = at.trim();
    let bad = || {
        PluginError::InvalidToken(format!(
            "at {at:?}: expected an XRPL ledger index, a whole number from 1 to 4294967295 \
             (e.g. 95348091)"
        ))
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match t.parse::<u32>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(n) => Ok(n),
    }
}

fn at(req: &SnapshotRequest) -> Result<Option<u32>, PluginError> {
    req.at.as_deref().map(parse_at).transpose()
}

/// Options from the request (`plugin.toml` `[config]` keys).
pub fn options(req: &SnapshotRequest) -> Result<Options, PluginError> {
    let mut o = Options::default();
    let number = |key: &str, min: u32, max: u32| -> Result<Option<u32>, PluginError> {
        match req.option(key) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(PluginError::Internal(format!(
                    "option {key}={v:?} must be a whole number from {min} to {max}"
                ))),
            },
        }
    };
    if let Some(n) = number("account_lines_limit", 10, 400)? {
        o.lines_limit = n;
    }
    if let Some(n) = number("clio_limit", 1, 100)? {
        o.clio_limit = n;
    }
    if let Some(n) = number("busy_retries", 0, 1000)? {
        o.busy_retries = n;
    }
    Ok(o)
}

/// `validate-token`.
pub fn validate_token(
    host: &mut dyn Host,
    req: &SnapshotRequest,
) -> Result<TokenInfo, PluginError> {
    let token = token_id(req)?;
    let at = at(req)?;
    let opts = options(req)?;
    info::validate(host, &req.endpoint, &token, at, &opts)
}

/// `fetch-all-token-balances`.
pub fn fetch_all_token_balances(
    host: &mut dyn Host,
    req: &SnapshotRequest,
) -> Result<FetchSummary, PluginError> {
    let token = token_id(req)?;
    let at = at(req)?;
    let opts = options(req)?;
    let resume = match &req.resume {
        Some(state) => Some(
            serde_json::from_str::<Checkpoint>(state)
                .map_err(|e| PluginError::Internal(format!("unreadable checkpoint: {e}")))?,
        ),
        None => None,
    };
    walk::fetch(host, &req.endpoint, &token, at, resume, &opts)
}
