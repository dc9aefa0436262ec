//! The component's exports, wired to the host imports.

use snapshot_plugin_sdk::prelude::*;

use crate::fetch::{self, Checkpoint, WalkOptions};
use crate::mirror::{TokenReply, error_text};
use crate::pin;
use crate::token_id::EntityId;

struct Hedera;

register_plugin!(Hedera);

/// The host's imports as the walk's [`fetch::Host`].
struct Imports;

impl fetch::Host for Imports {
    fn start(&mut self, url: &str) -> u64 {
        http::start(&Request::get(url))
    }
    fn wait_any(&mut self) -> Vec<(u64, fetch::Reply)> {
        http::wait_any()
            .into_iter()
            .map(|(h, r)| (h, r.map(|resp| (resp.status, resp.body))))
            .collect()
    }
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
        job::emit(holders)
    }
    fn checkpoint(&mut self, state: &str) {
        job::checkpoint(state)
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        job::progress(done, total)
    }
}

fn base_url(req: &SnapshotRequest) -> &str {
    req.endpoint.trim_end_matches('/')
}

fn token_id(req: &SnapshotRequest) -> Result<EntityId, PluginError> {
    EntityId::parse(req.token_id.trim()).map_err(PluginError::InvalidToken)
}

fn walk_options(req: &SnapshotRequest) -> Result<WalkOptions, PluginError> {
    let mut opts = WalkOptions::default();
    if let Some(v) = req.option("shards") {
        opts.shards = v
            .parse()
            .map_err(|_| PluginError::Internal(format!("option shards={v} is not a number")))?;
    }
    if let Some(v) = req.option("page_size") {
        opts.page_size = v
            .parse()
            .map_err(|_| PluginError::Internal(format!("option page_size={v} is not a number")))?;
    }
    // Only a plain integer can be pushed down; the host filters exactly anyway.
    opts.min_balance = req.min_balance.as_deref().and_then(|m| m.parse().ok());
    Ok(opts)
}

impl Plugin for Hedera {
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> {
        let token = token_id(req)?;
        if let Some(at) = &req.at {
            pin::parse_at(at).map_err(PluginError::InvalidToken)?;
        }
        let url = format!("{}/api/v1/tokens/{token}", base_url(req));
        let resp = http::send(&Request::get(&url))?;
        match resp.status {
            200 => {}
            404 => {
                return Err(PluginError::NotFound(format!(
                    "token {token} does not exist on {}",
                    req.network
                )));
            }
            400 => {
                return Err(PluginError::InvalidToken(format!(
                    "{token}: {}",
                    error_text(&resp.body)
                )));
            }
            s => {
                return Err(PluginError::Upstream(format!(
                    "{url}: HTTP {s}: {}",
                    error_text(&resp.body)
                )));
            }
        }
        let t: TokenReply = resp.json(&url)?;
        let decimals = t.decimals.parse::<u32>().map_err(|_| {
            PluginError::Upstream(format!("{url}: decimals {:?} is not a number", t.decimals))
        })?;
        let kind = match t.kind.as_str() {
            "FUNGIBLE_COMMON" => TokenKind::Fungible,
            "NON_FUNGIBLE_UNIQUE" => TokenKind::NonFungible,
            other => {
                return Err(PluginError::Upstream(format!(
                    "{url}: unknown token type {other}"
                )));
            }
        };
        let mut attributes = vec![("type".to_string(), t.kind.clone())];
        if let Some(d) = t.deleted {
            attributes.push(("deleted".into(), d.to_string()));
        }
        if let Some(p) = t.pause_status {
            attributes.push(("pause_status".into(), p));
        }
        if let Some(tr) = t.treasury_account_id {
            attributes.push(("treasury_account_id".into(), tr));
        }
        Ok(TokenInfo {
            token_id: token.to_string(),
            name: t.name.unwrap_or_default(),
            symbol: t.symbol.unwrap_or_default(),
            decimals,
            kind,
            total_supply: t.total_supply,
            attributes,
        })
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        let token = token_id(req)?;
        let opts = walk_options(req)?;
        let resume = match &req.resume {
            Some(state) => Some(job::parse_checkpoint::<Checkpoint>(state)?),
            None => None,
        };
        let pinned = match &req.at {
            Some(at) => pin::parse_at(at).map_err(PluginError::InvalidToken)?,
            None => pin::now(),
        };
        let result = fetch::walk(&mut Imports, base_url(req), token, &pinned, resume, &opts)?;
        Ok(FetchSummary {
            resolved_at: result.resolved_at,
            holders_emitted: result.rows,
            // The token route's total supply is today's, not the pinned
            // snapshot's, so it cannot check a historical sum.
            total_check: None,
            // Nothing time-dependent here: the document must be identical
            // for identical holders (the wall-clock pin is not part of it).
            attributes: Vec::new(),
        })
    }
}
