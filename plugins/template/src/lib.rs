//! A template ledger plugin for snapshot-host: a token's holders from a
//! paginated REST API (described in [`api`]).
//!
//! What every plugin does, in the order a reader needs it:
//!
//! 1. `validate_token`: check the id's syntax *before* any request
//!    (`invalid-token`), then ask the ledger about the token (`not-found`
//!    when it does not know it).
//! 2. `fetch_all_token_balances`: pin one point in time, walk every page at
//!    that point, `job::emit` each page's holders, `job::checkpoint` where
//!    the walk is, `job::progress` how far it got; return the pinned point.
//!
//! HTTP goes through the host (`http::send`): it enforces the allow-list,
//! rate limits, retries 429/5xx with backoff and caps response sizes, so the
//! plugin never sleeps or retries on its own.

pub mod api;

use snapshot_plugin_sdk::prelude::*;

use api::{Checkpoint, HoldersPage, TokenReply};

struct Template;

register_plugin!(Template);

impl Plugin for Template {
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> {
        let id = req.token_id.trim();
        api::check_token_id(id).map_err(PluginError::InvalidToken)?;
        let url = api::token_url(&req.endpoint, id);
        let resp = http::send(&Request::get(&url))?;
        match resp.status {
            200 => {}
            404 => {
                return Err(PluginError::NotFound(format!(
                    "token {id} does not exist on {}",
                    req.network
                )));
            }
            status => {
                return Err(PluginError::Upstream(format!(
                    "{url}: HTTP {status}: {}",
                    resp.preview()
                )));
            }
        }
        let token: TokenReply = resp.json(&url)?;
        Ok(TokenInfo {
            token_id: token.id,
            name: token.name,
            symbol: token.symbol,
            decimals: token.decimals,
            kind: TokenKind::Fungible,
            total_supply: token.total_supply,
            attributes: Vec::new(),
        })
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        let id = req.token_id.trim();
        api::check_token_id(id).map_err(PluginError::InvalidToken)?;
        let page_size: u32 = req
            .option("page_size")
            .unwrap_or("100")
            .parse()
            .map_err(|_| PluginError::Internal("option page_size is not a number".into()))?;

        // Resume where an interrupted run stopped, at the point it pinned;
        // else start at the caller's point (or the latest, when none).
        let (mut at, mut cursor, mut rows) = match &req.resume {
            Some(text) => {
                let saved: Checkpoint = job::parse_checkpoint(text)?;
                if saved.token != id {
                    return Err(PluginError::Internal(format!(
                        "the checkpoint is for token {}, not {id}",
                        saved.token
                    )));
                }
                if saved.cursor.is_none() {
                    // Written after the last page: nothing is left to read.
                    return Ok(summary(saved.at, 0));
                }
                (Some(saved.at), saved.cursor, saved.rows)
            }
            None => (req.at.clone(), None, 0),
        };

        let mut emitted = 0;
        loop {
            let url = api::holders_url(
                &req.endpoint,
                id,
                page_size,
                at.as_deref(),
                cursor.as_deref(),
            );
            let resp = http::send(&Request::get(&url))?;
            if resp.status != 200 {
                return Err(PluginError::Upstream(format!(
                    "{url}: HTTP {}: {}",
                    resp.status,
                    resp.preview()
                )));
            }
            let page: HoldersPage = resp.json(&url)?;
            // Every page must come from the pinned point: a page from
            // another point would mix two snapshots.
            match &at {
                None => at = Some(page.at.clone()),
                Some(pinned) if *pinned != page.at => {
                    return Err(PluginError::Upstream(format!(
                        "{url}: the page is at {}, not at the pinned {pinned}",
                        page.at
                    )));
                }
                Some(_) => {}
            }
            let holders: Vec<Holder> = page
                .holders
                .into_iter()
                .map(|h| Holder::new(h.account, h.balance))
                .collect();
            // Returns `cancelled` when the job was cancelled: `?` stops.
            job::emit(&holders)?;
            rows += holders.len() as u64;
            emitted += holders.len() as u64;
            cursor = page.next;

            let pinned = at.clone().unwrap_or_default();
            job::checkpoint_json(&Checkpoint {
                token: id.to_string(),
                at: pinned.clone(),
                cursor: cursor.clone(),
                rows,
            });
            job::progress(rows, page.total);
            if cursor.is_none() {
                job::log(Level::Info, &format!("{rows} holders of {id} at {pinned}"));
                return Ok(summary(pinned, emitted));
            }
        }
    }
}

fn summary(resolved_at: String, holders_emitted: u64) -> FetchSummary {
    FetchSummary {
        resolved_at,
        holders_emitted,
        // Set `Some(TotalCheck::Reported(..))` when the ledger reports its own
        // total for the same point: the host then checks the exact sum.
        total_check: None,
        attributes: Vec::new(),
    }
}
