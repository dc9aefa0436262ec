//! `validate-token` and the holder walk, over a [`Host`].
//!
//! **Validation** asks `GET /assets?asset_code=C&asset_issuer=I`. Horizon
//! answers an unknown asset with an empty collection (not a 404; a 404 is
//! read the same way), which is `not-found`.
//!
//! **The walk** reads `GET /accounts?asset=CODE:ISSUER&limit=200&order=asc`
//! and follows the cursor: each next page asks for `cursor=<paging_token of
//! the last record>` (the account id; Horizon lists accounts in account-id
//! order). The page URL is built from the endpoint, not taken from
//! `_links.next`, so every request stays on the granted origin. The walk
//! ends only on an empty page: a short page does not prove the end. Every
//! record must come after the cursor (strictly ascending), so a server that
//! loops or reorders fails the job instead of duplicating holders. For each
//! account the balance entry whose `asset_code` and `asset_issuer` both match
//! is the holding; other trust lines, pool shares and the native balance are
//! ignored, and zero balances are not holders.
//!
//! **Consistency.** Horizon cannot pin `/accounts` to a past ledger. Each
//! reply says which ledger it was served from (`Latest-Ledger`); the walk
//! records the first and last of them (falling back to `GET /`'s ledger for
//! replies without the header), reports the last as `resolved_at`, and says
//! in the document whether every page came from one ledger
//! (`consistency = single-ledger`) or not (`ledger-range`). Only in the
//! first case, and only when Horizon's asset totals were read at that same
//! ledger, is a sum check against them requested.
//!
//! **Rate limits.** The host retries 429s and honours `Retry-After`. On top
//! of that, when `X-RateLimit-Remaining` falls to the low-water mark the
//! walk asks the host to hold the next request for the time the server needs
//! to grant one more (see [`RateLimit::pause_ms`]), so a long walk slows down
//! before it is refused.
//!
//! **Durability.** After every page the holders are emitted, then the cursor
//! is checkpointed (with the ledgers seen so far); a resumed run continues
//! after that cursor.

use serde::{Deserialize, Serialize};
use snapshot_plugin_sdk::http::Response;
use snapshot_plugin_sdk::{
    FetchSummary, Holder, PluginError, ReportedTotal, TokenInfo, TokenKind, TotalCheck,
};

use crate::amount;
use crate::asset::AssetId;
use crate::horizon::{
    AccountRecord, AssetRecord, Page, RateLimit, Root, error_text, latest_ledger,
};
use crate::strkey::AccountId;

/// What the walk needs from the host; the plugin wires it to the WIT
/// imports, tests to an in-memory Horizon.
pub trait Host {
    /// Sends `GET url`.
    fn get(&mut self, url: &str) -> Result<Response, PluginError>;
    /// Asks the host to hold requests to `url`'s upstream for a while.
    fn throttle(&mut self, url: &str, retry_after_ms: Option<u32>);
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError>;
    fn checkpoint(&mut self, state: &str);
    fn progress(&mut self, done: u64, total: Option<u64>);
    /// A warning for the job log.
    fn warn(&mut self, message: &str);
}

/// Tunables, from the request options (`plugin.toml` `[config]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `limit` of an `/accounts` page (Horizon allows 1..=200).
    pub page_size: u32,
    /// Pause before the next request once this few remain (0 = never).
    pub low_water: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_size: 200,
            low_water: 5,
        }
    }
}

/// The resumable state, recorded after every page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Format version of this state.
    pub v: u32,
    /// The asset, `CODE:ISSUER`.
    pub asset: String,
    /// The last account read; the next page starts after it.
    pub cursor: Option<String>,
    /// `GET /`'s ledger when the walk started (lower bound for pages
    /// without a `Latest-Ledger` header).
    pub start_ledger: Option<u32>,
    /// Lowest and highest `Latest-Ledger` of the pages read.
    pub first_ledger: Option<u32>,
    pub last_ledger: Option<u32>,
    /// Pages that came without a `Latest-Ledger` header.
    pub pages_without_ledger: u64,
    /// Trust lines Horizon counted at the start (the progress total).
    pub trust_lines: Option<u64>,
    pub pages: u64,
    pub accounts_read: u64,
    pub holders_emitted: u64,
}

impl Checkpoint {
    fn fresh(asset: &AssetId, start_ledger: Option<u32>, trust_lines: Option<u64>) -> Self {
        Checkpoint {
            v: 1,
            asset: asset.to_string(),
            cursor: None,
            start_ledger,
            first_ledger: None,
            last_ledger: None,
            pages_without_ledger: 0,
            trust_lines,
            pages: 0,
            accounts_read: 0,
            holders_emitted: 0,
        }
    }

    fn note_ledger(&mut self, ledger: Option<u32>) {
        match ledger {
            Some(l) => {
                self.first_ledger = Some(self.first_ledger.map_or(l, |f| f.min(l)));
                self.last_ledger = Some(self.last_ledger.map_or(l, |f| f.max(l)));
            }
            None => self.pages_without_ledger += 1,
        }
    }

    fn progress_total(&self) -> Option<u64> {
        self.trust_lines.map(|t| t.max(self.accounts_read))
    }
}

/// Sends a GET and, from the reply's `X-RateLimit-*` headers, slows the host
/// down when the remaining budget is low.
fn get(host: &mut dyn Host, url: &str, opts: &Options) -> Result<Response, PluginError> {
    let resp = host.get(url)?;
    if let Some(ms) = RateLimit::from_headers(&resp.headers).pause_ms(opts.low_water) {
        host.throttle(url, Some(ms));
    }
    Ok(resp)
}

fn unexpected(url: &str, resp: &Response) -> PluginError {
    PluginError::Upstream(format!(
        "{url}: HTTP {}: {}",
        resp.status,
        error_text(&resp.body)
    ))
}

/// `GET /`: the ledger Horizon's state is at.
fn root(host: &mut dyn Host, base: &str, opts: &Options) -> Result<Root, PluginError> {
    let url = format!("{base}/");
    let resp = get(host, &url, opts)?;
    if resp.status != 200 {
        return Err(unexpected(&url, &resp));
    }
    resp.json(&url)
}

/// The asset's statistics record (none when Horizon does not know the
/// asset) and the ledger they are from.
fn asset_record(
    host: &mut dyn Host,
    base: &str,
    asset: &AssetId,
    opts: &Options,
) -> Result<(Option<AssetRecord>, Option<u32>), PluginError> {
    let url = format!(
        "{base}/assets?asset_code={}&asset_issuer={}",
        asset.code(),
        asset.issuer()
    );
    let resp = get(host, &url, opts)?;
    let ledger = latest_ledger(&resp.headers);
    match resp.status {
        200 => {}
        404 => return Ok((None, ledger)),
        400 => {
            return Err(PluginError::InvalidToken(format!(
                "Horizon refused asset {asset}: {}",
                error_text(&resp.body)
            )));
        }
        _ => return Err(unexpected(&url, &resp)),
    }
    let page: Page<AssetRecord> = resp.json(&url)?;
    // The filter is exact, but do not trust it blindly: codes are
    // case-sensitive and a record of another asset must not be used.
    let record = page.embedded.records.into_iter().find(|r| {
        r.asset_code == asset.code()
            && r.asset_issuer == asset.issuer()
            && r.asset_type == asset.asset_type()
    });
    Ok((record, ledger))
}

fn not_found(asset: &AssetId, network: &str) -> PluginError {
    PluginError::NotFound(format!(
        "asset {asset} does not exist on Stellar {network}: Horizon lists no such asset \
         (no account has a trust line to it)"
    ))
}

/// `validate-token`: what Horizon says about the asset.
pub fn validate(
    host: &mut dyn Host,
    base: &str,
    network: &str,
    asset: &AssetId,
    opts: &Options,
) -> Result<TokenInfo, PluginError> {
    let (record, _) = asset_record(host, base, asset, opts)?;
    let record = record.ok_or_else(|| not_found(asset, network))?;
    let mut attributes = vec![
        ("asset_type".to_string(), record.asset_type.clone()),
        ("issuer".to_string(), record.asset_issuer.clone()),
    ];
    if let Some(f) = &record.flags {
        for (k, v) in [
            ("auth_required", f.auth_required),
            ("auth_revocable", f.auth_revocable),
            ("auth_immutable", f.auth_immutable),
            ("auth_clawback_enabled", f.auth_clawback_enabled),
        ] {
            attributes.push((k.to_string(), v.to_string()));
        }
    }
    if let Some(n) = record.trust_lines() {
        attributes.push(("trust_lines".to_string(), n.to_string()));
    }
    for (k, v) in outside_accounts(&record)? {
        attributes.push((k, v));
    }
    Ok(TokenInfo {
        token_id: asset.to_string(),
        // Horizon has no asset name (the issuer's stellar.toml may).
        name: String::new(),
        symbol: asset.code().to_string(),
        // Balances are emitted as whole-unit decimals with 7 places.
        decimals: 0,
        kind: TokenKind::Fungible,
        total_supply: supply(&record)?,
        attributes,
    })
}

/// Amounts of the asset held outside accounts (not in a snapshot of
/// holders), normalised to 7 places.
fn outside_accounts(record: &AssetRecord) -> Result<Vec<(String, String)>, PluginError> {
    let mut out = Vec::new();
    for (k, v) in [
        (
            "claimable_balances_amount",
            &record.claimable_balances_amount,
        ),
        ("liquidity_pools_amount", &record.liquidity_pools_amount),
        ("contracts_amount", &record.contracts_amount),
    ] {
        if let Some(v) = v {
            out.push((k.to_string(), horizon_amount(v, k)?));
        }
    }
    Ok(out)
}

fn horizon_amount(text: &str, what: &str) -> Result<String, PluginError> {
    stroops(text, what).map(amount::format_wide)
}

/// A total from Horizon's asset statistics (may exceed int64).
fn stroops(text: &str, what: &str) -> Result<i128, PluginError> {
    amount::parse_wide(text).map_err(|e| PluginError::Upstream(format!("asset {what}: {e}")))
}

/// Sum of the trust-line balances Horizon reports for the asset.
fn trust_line_total(record: &AssetRecord) -> Result<Option<i128>, PluginError> {
    let Some(b) = &record.balances else {
        return Ok(None);
    };
    Ok(Some(
        stroops(&b.authorized, "balances.authorized")?
            + stroops(
                &b.authorized_to_maintain_liabilities,
                "balances.authorized_to_maintain_liabilities",
            )?
            + stroops(&b.unauthorized, "balances.unauthorized")?,
    ))
}

/// Everything issued and not burned that Horizon can see: trust lines,
/// claimable balances, liquidity pools and contracts.
fn supply(record: &AssetRecord) -> Result<Option<String>, PluginError> {
    let Some(mut total) = trust_line_total(record)? else {
        return Ok(None);
    };
    for (v, what) in [
        (
            &record.claimable_balances_amount,
            "claimable_balances_amount",
        ),
        (&record.liquidity_pools_amount, "liquidity_pools_amount"),
        (&record.contracts_amount, "contracts_amount"),
    ] {
        if let Some(v) = v {
            total += stroops(v, what)?;
        }
    }
    Ok(Some(amount::format_wide(total)))
}

fn page_url(base: &str, asset: &AssetId, cursor: Option<&str>, opts: &Options) -> String {
    let mut url = format!(
        "{base}/accounts?asset={asset}&limit={}&order=asc",
        opts.page_size.clamp(1, 200)
    );
    if let Some(c) = cursor {
        url.push_str("&cursor=");
        url.push_str(c);
    }
    url
}

/// Reads one page's records into holders; returns the new cursor.
fn read_records(
    records: &[AccountRecord],
    asset: &AssetId,
    after: Option<&str>,
    url: &str,
    holders: &mut Vec<Holder>,
) -> Result<String, PluginError> {
    let bad = |m: String| PluginError::Upstream(format!("{url}: {m}"));
    let mut last = after.map(str::to_string);
    for rec in records {
        AccountId::parse(&rec.account_id).map_err(|e| bad(format!("bad account id: {e}")))?;
        if last
            .as_deref()
            .is_some_and(|l| rec.account_id.as_str() <= l)
        {
            return Err(bad(format!(
                "account {} does not come after {}: the server repeats or reorders accounts; \
                 refusing to loop",
                rec.account_id,
                last.unwrap_or_default()
            )));
        }
        let entry = rec
            .balances
            .iter()
            .find(|b| {
                b.asset_code.as_deref() == Some(asset.code())
                    && b.asset_issuer.as_deref() == Some(asset.issuer())
            })
            .ok_or_else(|| {
                bad(format!(
                    "account {} is listed as holding {asset} but has no balance entry for it",
                    rec.account_id
                ))
            })?;
        let stroops = amount::parse_stroops(&entry.balance)
            .map_err(|e| bad(format!("balance of {}: {e}", rec.account_id)))?;
        if stroops > 0 {
            holders.push(Holder {
                account: rec.account_id.clone(),
                balance: amount::format_stroops(stroops),
                entry_id: None,
                attributes: entry.attributes(),
            });
        }
        // The cursor Horizon gave for this record; for accounts it is the
        // account id, which is also what it orders by.
        let token = rec.paging_token.as_deref().unwrap_or(&rec.account_id);
        if token != rec.account_id {
            return Err(bad(format!(
                "paging_token {token:?} of account {} is not its account id",
                rec.account_id
            )));
        }
        last = Some(rec.account_id.clone());
    }
    Ok(last.expect("called with at least one record"))
}

/// `fetch-all-token-balances`: every holder of `asset`, streamed through the
/// host, from a fresh start or from `resume`.
pub fn fetch(
    host: &mut dyn Host,
    base: &str,
    network: &str,
    asset: &AssetId,
    resume: Option<Checkpoint>,
    opts: &Options,
) -> Result<FetchSummary, PluginError> {
    let mut cp = match resume {
        Some(cp) => {
            if cp.v != 1 || cp.asset != asset.to_string() {
                return Err(PluginError::Internal(format!(
                    "the checkpoint is for asset {} (v{}), not {asset}",
                    cp.asset, cp.v
                )));
            }
            cp
        }
        None => {
            let start = root(host, base, opts)?;
            let (record, _) = asset_record(host, base, asset, opts)?;
            let record = record.ok_or_else(|| not_found(asset, network))?;
            Checkpoint::fresh(asset, start.ledger(), record.trust_lines())
        }
    };
    host.progress(cp.accounts_read, cp.progress_total());

    loop {
        let url = page_url(base, asset, cp.cursor.as_deref(), opts);
        let resp = get(host, &url, opts)?;
        match resp.status {
            200 => {}
            404 => return Err(not_found(asset, network)),
            _ => return Err(unexpected(&url, &resp)),
        }
        let ledger = latest_ledger(&resp.headers);
        let page: Page<AccountRecord> = resp.json(&url)?;
        cp.note_ledger(ledger);
        let records = page.embedded.records;
        if records.is_empty() {
            break;
        }
        let mut holders = Vec::new();
        let cursor = read_records(&records, asset, cp.cursor.as_deref(), &url, &mut holders)?;
        cp.cursor = Some(cursor);
        cp.pages += 1;
        cp.accounts_read += records.len() as u64;
        cp.holders_emitted += holders.len() as u64;
        host.emit(&holders)?;
        host.checkpoint(&serde_json::to_string(&cp).expect("a checkpoint serializes"));
        host.progress(cp.accounts_read, cp.progress_total());
    }

    // Which ledgers the pages came from; pages without the header widen the
    // range to what `GET /` said before and after the walk.
    let (mut first, mut last) = (cp.first_ledger, cp.last_ledger);
    if cp.pages_without_ledger > 0 {
        let end = root(host, base, opts)?.ledger();
        first = min_some(first, cp.start_ledger);
        last = max_some(last, end);
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err(PluginError::Upstream(format!(
            "{base}: Horizon reported no ledger (no Latest-Ledger header, no \
             history_latest_ledger), so the snapshot cannot say when it was taken"
        )));
    };
    let single = cp.pages_without_ledger == 0 && first == last;

    // Horizon's own totals, now, for the sum check and the amounts outside
    // accounts.
    let (record, record_ledger) = asset_record(host, base, asset, opts)?;
    let mut attributes = vec![
        (
            "consistency".to_string(),
            if single {
                "single-ledger"
            } else {
                "ledger-range"
            }
            .to_string(),
        ),
        ("ledger_first".to_string(), first.to_string()),
        ("ledger_last".to_string(), last.to_string()),
    ];
    let total_check = match &record {
        None => TotalCheck::Unavailable(format!(
            "Horizon no longer lists asset {asset} at the end of the walk"
        )),
        Some(record) => {
            attributes.extend(outside_accounts(record)?);
            match (single, record_ledger, trust_line_total(record)?) {
                (_, _, None) => TotalCheck::Unavailable(
                    "Horizon's asset record has no balances totals".to_string(),
                ),
                (false, _, _) => TotalCheck::Unavailable(format!(
                    "the account pages were read across ledgers {first}..{last} (Horizon cannot \
                     pin /accounts to one ledger), so no ledger total matches them"
                )),
                (true, Some(l), Some(total)) if l == last => TotalCheck::Reported(ReportedTotal {
                    value: amount::format_wide(total),
                    significant_digits: 0,
                    source: format!(
                        "horizon /assets balances (authorized + authorized_to_maintain_liabilities \
                         + unauthorized) at ledger {l}"
                    ),
                }),
                (true, l, Some(_)) => TotalCheck::Unavailable(format!(
                    "Horizon's asset totals are from ledger {}, the account pages from ledger {last}",
                    l.map_or("unknown".to_string(), |l| l.to_string())
                )),
            }
        }
    };
    if !single {
        host.warn(&format!(
            "ledgers closed during the walk of {asset}: pages came from ledgers {first}..{last}; \
             Horizon cannot pin /accounts, so balances that moved meanwhile are not from one instant"
        ));
    }
    host.progress(cp.accounts_read, Some(cp.accounts_read));
    Ok(FetchSummary {
        resolved_at: last.to_string(),
        holders_emitted: cp.holders_emitted,
        total_check: Some(total_check),
        attributes,
    })
}

fn min_some(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_some(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
