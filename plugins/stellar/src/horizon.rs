//! Horizon's replies: the HAL shapes this plugin reads, problem documents,
//! and the headers that say which ledger a reply came from and how much of
//! the rate limit is left.
//!
//! Only the fields the plugin uses are declared, all others are ignored, so
//! a newer Horizon adding fields does not break parsing. Amounts stay text
//! here; [`crate::amount`] reads them exactly.

use serde::Deserialize;

/// `GET /`.
#[derive(Debug, Deserialize)]
pub struct Root {
    /// Latest ledger ingested into Horizon's history tables.
    pub history_latest_ledger: Option<u32>,
    /// Latest ledger Horizon's state (accounts, trust lines) reflects.
    #[serde(default)]
    pub ingest_latest_ledger: Option<u32>,
    #[serde(default)]
    pub network_passphrase: Option<String>,
}

impl Root {
    /// The ledger the accounts state was at.
    pub fn ledger(&self) -> Option<u32> {
        self.ingest_latest_ledger.or(self.history_latest_ledger)
    }
}

/// A HAL collection page: `{"_links": {...}, "_embedded": {"records": [...]}}`.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(rename = "_embedded")]
    pub embedded: Embedded<T>,
}

#[derive(Debug, Deserialize)]
pub struct Embedded<T> {
    pub records: Vec<T>,
}

/// One record of `GET /accounts?asset=...`.
#[derive(Debug, Deserialize)]
pub struct AccountRecord {
    pub account_id: String,
    /// The cursor that continues after this record (the account id).
    #[serde(default)]
    pub paging_token: Option<String>,
    pub balances: Vec<BalanceEntry>,
}

/// One entry of an account's `balances`: a trust line, the native balance
/// (last), or liquidity-pool shares.
#[derive(Debug, Deserialize)]
pub struct BalanceEntry {
    pub balance: String,
    pub asset_type: String,
    #[serde(default)]
    pub asset_code: Option<String>,
    #[serde(default)]
    pub asset_issuer: Option<String>,
    #[serde(default)]
    pub is_authorized: Option<bool>,
    #[serde(default)]
    pub is_authorized_to_maintain_liabilities: Option<bool>,
    #[serde(default)]
    pub is_clawback_enabled: Option<bool>,
}

impl BalanceEntry {
    /// The holder attributes this entry carries (flags Horizon reported).
    pub fn attributes(&self) -> Vec<(String, String)> {
        [
            ("is_authorized", self.is_authorized),
            (
                "is_authorized_to_maintain_liabilities",
                self.is_authorized_to_maintain_liabilities,
            ),
            ("is_clawback_enabled", self.is_clawback_enabled),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
        .collect()
    }
}

/// One record of `GET /assets?asset_code=..&asset_issuer=..`.
#[derive(Debug, Deserialize)]
pub struct AssetRecord {
    pub asset_type: String,
    pub asset_code: String,
    pub asset_issuer: String,
    /// Trust lines by authorization state.
    #[serde(default)]
    pub accounts: Option<AssetAccounts>,
    /// Amounts held in trust lines, by authorization state.
    #[serde(default)]
    pub balances: Option<AssetBalances>,
    #[serde(default)]
    pub claimable_balances_amount: Option<String>,
    #[serde(default)]
    pub liquidity_pools_amount: Option<String>,
    #[serde(default)]
    pub contracts_amount: Option<String>,
    #[serde(default)]
    pub flags: Option<AssetFlags>,
    /// Deprecated by Horizon (authorized trust lines only); read when
    /// `accounts` is absent.
    #[serde(default)]
    pub num_accounts: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct AssetAccounts {
    #[serde(default)]
    pub authorized: u64,
    #[serde(default)]
    pub authorized_to_maintain_liabilities: u64,
    #[serde(default)]
    pub unauthorized: u64,
}

#[derive(Debug, Deserialize)]
pub struct AssetBalances {
    pub authorized: String,
    pub authorized_to_maintain_liabilities: String,
    pub unauthorized: String,
}

#[derive(Debug, Deserialize)]
pub struct AssetFlags {
    #[serde(default)]
    pub auth_required: bool,
    #[serde(default)]
    pub auth_revocable: bool,
    #[serde(default)]
    pub auth_immutable: bool,
    #[serde(default)]
    pub auth_clawback_enabled: bool,
}

impl AssetRecord {
    /// Trust lines of the asset: every account `/accounts?asset=` lists.
    pub fn trust_lines(&self) -> Option<u64> {
        match &self.accounts {
            Some(a) => Some(a.authorized + a.authorized_to_maintain_liabilities + a.unauthorized),
            None => self.num_accounts,
        }
    }
}

/// An RFC 7807 problem document, Horizon's error body
/// (`application/problem+json`).
#[derive(Debug, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub extras: Option<serde_json::Value>,
}

/// A readable summary of an error body: the problem's title, detail and
/// `extras.reason` / `extras.invalid_field`, or the start of the body.
pub fn error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<Problem>(body) {
        Ok(p) if !p.title.is_empty() || !p.detail.is_empty() => {
            let mut text = p.title;
            if !p.detail.is_empty() {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(p.detail.trim());
            }
            if let Some(extras) = &p.extras {
                let field = extras.get("invalid_field").and_then(|v| v.as_str());
                let reason = extras.get("reason").and_then(|v| v.as_str());
                match (field, reason) {
                    (Some(f), Some(r)) => text.push_str(&format!(" ({f}: {r})")),
                    (None, Some(r)) => text.push_str(&format!(" ({r})")),
                    (Some(f), None) => text.push_str(&format!(" ({f})")),
                    (None, None) => {}
                }
            }
            text
        }
        _ => {
            let body = String::from_utf8_lossy(body);
            let cut: String = body.chars().take(200).collect();
            if cut.len() < body.len() {
                format!("{cut}…")
            } else {
                cut
            }
        }
    }
}

/// The value of header `name` (lower case) in `headers`.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// `Latest-Ledger`: the ledger Horizon served this reply from (it sets the
/// header on every endpoint).
pub fn latest_ledger(headers: &[(String, String)]) -> Option<u32> {
    header(headers, "latest-ledger").and_then(|v| v.parse().ok())
}

/// Horizon's `X-RateLimit-*` headers. Horizon limits per IP with GCRA: the
/// budget refills continuously, and `reset` is the number of seconds until
/// it is full again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_secs: Option<u64>,
}

impl RateLimit {
    pub fn from_headers(headers: &[(String, String)]) -> RateLimit {
        let number = |name| header(headers, name).and_then(|v| v.parse().ok());
        RateLimit {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset_secs: number("x-ratelimit-reset"),
        }
    }

    /// How long to hold the next request when at most `low_water` requests
    /// remain: the time the server takes to grant one more, which under GCRA
    /// is `reset / (limit - remaining)` (the refill time of every used
    /// request, divided by their number). `None`: no pause needed (plenty
    /// left, headers absent, or `low_water` 0).
    pub fn pause_ms(&self, low_water: u64) -> Option<u32> {
        let (limit, remaining, reset) = (self.limit?, self.remaining?, self.reset_secs?);
        if low_water == 0 || remaining > low_water || reset == 0 {
            return None;
        }
        let used = limit.saturating_sub(remaining).max(1);
        let ms = reset.saturating_mul(1000) / used;
        (ms > 0).then(|| u32::try_from(ms).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `/accounts?asset=` page in the shape Horizon documents: HAL links,
    /// a trust line of the asset, another asset, pool shares and the native
    /// balance last.
    const ACCOUNTS_PAGE: &str = r#"{
      "_links": {
        "self": {"href": "https://horizon.stellar.org/accounts?asset=USDC%3AGA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN&cursor=&limit=2&order=asc"},
        "next": {"href": "https://horizon.stellar.org/accounts?asset=USDC%3AGA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN&cursor=GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H&limit=2&order=asc"},
        "prev": {"href": "https://horizon.stellar.org/accounts?asset=USDC%3AGA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN&cursor=GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H&limit=2&order=desc"}
      },
      "_embedded": {"records": [{
        "_links": {"self": {"href": "https://horizon.stellar.org/accounts/GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H"},
                   "transactions": {"href": "https://horizon.stellar.org/accounts/GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H/transactions{?cursor,limit,order}", "templated": true}},
        "id": "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H",
        "account_id": "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H",
        "sequence": "120192344791990273",
        "sequence_ledger": 50876891,
        "sequence_time": "1709577017",
        "subentry_count": 3,
        "last_modified_ledger": 50876891,
        "last_modified_time": "2024-03-04T18:30:17Z",
        "thresholds": {"low_threshold": 0, "med_threshold": 0, "high_threshold": 0},
        "flags": {"auth_required": false, "auth_revocable": false, "auth_immutable": false, "auth_clawback_enabled": false},
        "balances": [
          {"balance": "922337203685.4775807", "limit": "922337203685.4775807", "buying_liabilities": "0.0000000",
           "selling_liabilities": "0.0000000", "last_modified_ledger": 50876891, "is_authorized": true,
           "is_authorized_to_maintain_liabilities": true, "asset_type": "credit_alphanum4", "asset_code": "USDC",
           "asset_issuer": "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"},
          {"balance": "5.0000000", "liquidity_pool_id": "abcdef", "limit": "922337203685.4775807",
           "last_modified_ledger": 50876000, "is_authorized": false, "is_authorized_to_maintain_liabilities": false,
           "asset_type": "liquidity_pool_shares"},
          {"balance": "10000.0000000", "buying_liabilities": "0.0000000", "selling_liabilities": "0.0000000", "asset_type": "native"}
        ],
        "signers": [{"weight": 1, "key": "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H", "type": "ed25519_public_key"}],
        "data": {},
        "num_sponsoring": 0,
        "num_sponsored": 0,
        "paging_token": "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H"
      }]}
    }"#;

    const ASSETS_PAGE: &str = r#"{
      "_links": {"self": {"href": "https://horizon.stellar.org/assets?asset_code=USDC&asset_issuer=GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN&cursor=&limit=10&order=asc"},
                 "next": {"href": "https://horizon.stellar.org/assets?cursor=USDC_GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN_credit_alphanum4&limit=10&order=asc"},
                 "prev": {"href": "https://horizon.stellar.org/assets?cursor=USDC_GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN_credit_alphanum4&limit=10&order=desc"}},
      "_embedded": {"records": [{
        "_links": {"toml": {"href": "https://www.centre.io/.well-known/stellar.toml"}},
        "asset_type": "credit_alphanum4",
        "asset_code": "USDC",
        "asset_issuer": "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
        "paging_token": "USDC_GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN_credit_alphanum4",
        "contract_id": "CCW67TSZV3SSS2HXMBQ5JFGCKJNXKZM7UQUWUZPUTHXSTZLEO7SJMI75",
        "num_claimable_balances": 12,
        "num_liquidity_pools": 3,
        "num_contracts": 40,
        "accounts": {"authorized": 1500, "authorized_to_maintain_liabilities": 2, "unauthorized": 5},
        "claimable_balances_amount": "10.0000000",
        "liquidity_pools_amount": "2000.5000000",
        "contracts_amount": "0.0000001",
        "balances": {"authorized": "123456.7890123", "authorized_to_maintain_liabilities": "1.0000000", "unauthorized": "0.0000000"},
        "flags": {"auth_required": false, "auth_revocable": true, "auth_immutable": false, "auth_clawback_enabled": true}
      }]}
    }"#;

    #[test]
    fn an_accounts_page_parses_with_every_balance_kind() {
        let page: Page<AccountRecord> = serde_json::from_str(ACCOUNTS_PAGE).unwrap();
        let rec = &page.embedded.records[0];
        assert_eq!(
            rec.account_id,
            "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H"
        );
        assert_eq!(rec.paging_token.as_deref(), Some(rec.account_id.as_str()));
        assert_eq!(rec.balances.len(), 3);
        assert_eq!(rec.balances[0].balance, "922337203685.4775807");
        assert_eq!(
            rec.balances[0].attributes(),
            [
                ("is_authorized".to_string(), "true".to_string()),
                (
                    "is_authorized_to_maintain_liabilities".to_string(),
                    "true".to_string()
                ),
            ]
        );
        assert_eq!(rec.balances[1].asset_type, "liquidity_pool_shares");
        assert_eq!(rec.balances[1].asset_code, None);
        assert_eq!(rec.balances[2].asset_type, "native");
        assert!(rec.balances[2].attributes().is_empty());
    }

    #[test]
    fn an_assets_page_parses_with_its_totals() {
        let page: Page<AssetRecord> = serde_json::from_str(ASSETS_PAGE).unwrap();
        let a = &page.embedded.records[0];
        assert_eq!(a.asset_code, "USDC");
        assert_eq!(a.trust_lines(), Some(1507));
        assert_eq!(a.balances.as_ref().unwrap().authorized, "123456.7890123");
        assert!(a.flags.as_ref().unwrap().auth_clawback_enabled);
        assert_eq!(a.contracts_amount.as_deref(), Some("0.0000001"));
    }

    #[test]
    fn an_empty_collection_parses() {
        let page: Page<AssetRecord> = serde_json::from_str(
            r#"{"_links":{"self":{"href":"x"},"next":{"href":"y"},"prev":{"href":"z"}},"_embedded":{"records":[]}}"#,
        )
        .unwrap();
        assert!(page.embedded.records.is_empty());
    }

    #[test]
    fn problem_documents_are_summarised_with_their_extras() {
        let body = br#"{"type":"https://stellar.org/horizon-errors/bad_request","title":"Bad Request","status":400,
            "detail":"The request you sent was invalid in some way.","extras":{"invalid_field":"asset","reason":"Asset code length is invalid"}}"#;
        assert_eq!(
            error_text(body),
            "Bad Request: The request you sent was invalid in some way. (asset: Asset code length is invalid)"
        );
        assert_eq!(
            error_text(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_latest_ledger_header_is_read() {
        assert_eq!(
            latest_ledger(&headers(&[("latest-ledger", "50876891")])),
            Some(50876891)
        );
        assert_eq!(latest_ledger(&headers(&[])), None);
        assert_eq!(latest_ledger(&headers(&[("latest-ledger", "x")])), None);
    }

    #[test]
    fn a_low_rate_limit_budget_asks_for_the_refill_time_of_one_request() {
        let rl = RateLimit::from_headers(&headers(&[
            ("x-ratelimit-limit", "3600"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset", "3580"),
        ]));
        assert_eq!(rl.remaining, Some(4));
        // 3596 used requests refill in 3580 s: about one per second.
        assert_eq!(rl.pause_ms(5), Some(995));
        assert_eq!(rl.pause_ms(3), None, "above the low-water mark");
        assert_eq!(rl.pause_ms(0), None, "disabled");
        let plenty = RateLimit::from_headers(&headers(&[
            ("x-ratelimit-limit", "3600"),
            ("x-ratelimit-remaining", "3599"),
            ("x-ratelimit-reset", "1"),
        ]));
        assert_eq!(plenty.pause_ms(5), None);
        assert_eq!(RateLimit::default().pause_ms(5), None, "no headers");
        let empty = RateLimit::from_headers(&headers(&[
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2"),
        ]));
        assert_eq!(empty.pause_ms(5), Some(200));
    }
}
