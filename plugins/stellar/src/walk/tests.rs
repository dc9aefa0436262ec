//! The walk against an in-memory Horizon answering the URLs it builds.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use snapshot_plugin_sdk::SnapshotRequest;

use super::*;
use crate::exports;

const ISSUER_KEY: [u8; 32] = [7; 32];
const OTHER_ISSUER_KEY: [u8; 32] = [9; 32];

fn issuer() -> String {
    AccountId::from_public_key(ISSUER_KEY).to_string()
}

fn other_issuer() -> String {
    AccountId::from_public_key(OTHER_ISSUER_KEY).to_string()
}

fn usdc() -> AssetId {
    AssetId::parse(&format!("USDC:{}", issuer())).unwrap()
}

/// A scattered, deterministic account id for `i`.
fn account(i: u64) -> String {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    key[8..16].copy_from_slice(&i.to_be_bytes());
    AccountId::from_public_key(key).to_string()
}

fn trust_line(code: &str, issuer: &str, stroops: i64) -> Value {
    json!({
        "balance": amount::format_stroops(stroops),
        "limit": "922337203685.4775807",
        "buying_liabilities": "0.0000000",
        "selling_liabilities": "0.0000000",
        "last_modified_ledger": 100,
        "is_authorized": true,
        "is_authorized_to_maintain_liabilities": true,
        "asset_type": if code.len() <= 4 { "credit_alphanum4" } else { "credit_alphanum12" },
        "asset_code": code,
        "asset_issuer": issuer,
    })
}

fn native(stroops: i64) -> Value {
    json!({"balance": amount::format_stroops(stroops), "buying_liabilities": "0.0000000",
           "selling_liabilities": "0.0000000", "asset_type": "native"})
}

/// An in-memory Horizon for one asset.
struct FakeHorizon {
    asset: AssetId,
    known: bool,
    /// account id → balances array.
    accounts: BTreeMap<String, Vec<Value>>,
    ledger: u32,
    /// The ledger advances after every `n` requests.
    advance_every: Option<u64>,
    ledger_header: bool,
    /// `(limit, remaining, reset)` sent on every reply.
    rate_limit: Option<(u64, u64, u64)>,
    /// Answer every page as if there were no cursor.
    ignore_cursor: bool,
    requests: Vec<String>,
    emitted: Vec<Holder>,
    checkpoints: Vec<String>,
    throttles: Vec<(String, Option<u32>)>,
    warnings: Vec<String>,
}

impl FakeHorizon {
    fn new(holders: impl IntoIterator<Item = (String, Vec<Value>)>) -> Self {
        FakeHorizon {
            asset: usdc(),
            known: true,
            accounts: holders.into_iter().collect(),
            ledger: 50_000_000,
            advance_every: None,
            ledger_header: true,
            rate_limit: None,
            ignore_cursor: false,
            requests: Vec::new(),
            emitted: Vec::new(),
            checkpoints: Vec::new(),
            throttles: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// `n` holders of USDC with varied balances, zeros, decoy trust lines
    /// (same code of another issuer, another code of the same issuer) and
    /// the extreme amounts.
    fn populated(n: u64) -> Self {
        let iss = issuer();
        let other = other_issuer();
        let holders = (0..n).map(|i| {
            let stroops = match i {
                0 => 1,
                1 => i64::MAX,
                _ if i % 11 == 0 => 0,
                _ => (i as i64) * 1_234_567,
            };
            let mut balances = Vec::new();
            if i % 3 == 0 {
                balances.push(trust_line("USDC", &other, 999_999_999));
            }
            balances.push(trust_line("USDC", &iss, stroops));
            if i % 5 == 0 {
                balances.push(trust_line("EURC", &iss, 42));
            }
            balances.push(native(10_000_000_000));
            (account(i), balances)
        });
        FakeHorizon::new(holders)
    }

    fn holding(&self, balances: &[Value]) -> Option<String> {
        balances
            .iter()
            .find(|b| {
                b["asset_code"] == self.asset.code() && b["asset_issuer"] == self.asset.issuer()
            })
            .map(|b| b["balance"].as_str().unwrap().to_string())
    }

    /// account → balance of every non-zero holder.
    fn expected(&self) -> BTreeMap<String, String> {
        self.accounts
            .iter()
            .filter_map(|(a, b)| self.holding(b).map(|h| (a.clone(), h)))
            .filter(|(_, h)| amount::parse_stroops(h).unwrap() > 0)
            .collect()
    }

    fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![(
            "content-type".to_string(),
            "application/hal+json; charset=utf-8".to_string(),
        )];
        if self.ledger_header {
            h.push(("latest-ledger".into(), self.ledger.to_string()));
        }
        if let Some((l, r, s)) = self.rate_limit {
            h.push(("x-ratelimit-limit".into(), l.to_string()));
            h.push(("x-ratelimit-remaining".into(), r.to_string()));
            h.push(("x-ratelimit-reset".into(), s.to_string()));
        }
        h
    }

    fn answer(&self, url: &str) -> (u16, Value) {
        let (path, query) = url
            .strip_prefix("http://horizon")
            .unwrap()
            .split_once('?')
            .unwrap_or((url.strip_prefix("http://horizon").unwrap(), ""));
        let params: BTreeMap<&str, &str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap())
            .collect();
        match path {
            "/" => (
                200,
                json!({"history_latest_ledger": self.ledger, "ingest_latest_ledger": self.ledger,
                       "network_passphrase": "Public Global Stellar Network ; September 2015"}),
            ),
            "/assets" => {
                let matches = self.known
                    && params.get("asset_code") == Some(&self.asset.code())
                    && params.get("asset_issuer") == Some(&self.asset.issuer());
                let records = if matches {
                    let lines: Vec<i64> = self
                        .accounts
                        .values()
                        .filter_map(|b| self.holding(b))
                        .map(|h| amount::parse_stroops(&h).unwrap())
                        .collect();
                    let total: i128 = lines.iter().map(|s| i128::from(*s)).sum();
                    vec![json!({
                        "asset_type": self.asset.asset_type(), "asset_code": self.asset.code(),
                        "asset_issuer": self.asset.issuer(),
                        "accounts": {"authorized": lines.len(), "authorized_to_maintain_liabilities": 0, "unauthorized": 0},
                        "balances": {"authorized": amount::format_wide(total),
                                     "authorized_to_maintain_liabilities": "0.0000000", "unauthorized": "0.0000000"},
                        "claimable_balances_amount": "1.5000000", "liquidity_pools_amount": "0.0000000",
                        "contracts_amount": "0.0000000",
                        "flags": {"auth_required": false, "auth_revocable": false, "auth_immutable": false, "auth_clawback_enabled": false}
                    })]
                } else {
                    vec![]
                };
                (
                    200,
                    json!({"_links": {}, "_embedded": {"records": records}}),
                )
            }
            "/accounts" => {
                assert_eq!(params["asset"], self.asset.to_string());
                assert_eq!(params["order"], "asc");
                let limit: usize = params["limit"].parse().unwrap();
                let cursor = if self.ignore_cursor {
                    None
                } else {
                    params.get("cursor").map(|c| c.to_string())
                };
                let records: Vec<Value> = self
                    .accounts
                    .iter()
                    .filter(|(a, b)| {
                        self.holding(b).is_some() && cursor.as_ref().is_none_or(|c| *a > c)
                    })
                    .take(limit)
                    .map(|(a, b)| json!({"id": a, "account_id": a, "paging_token": a, "balances": b}))
                    .collect();
                (
                    200,
                    json!({"_links": {}, "_embedded": {"records": records}}),
                )
            }
            other => panic!("unexpected path {other}"),
        }
    }

    fn account_pages(&self) -> usize {
        self.requests
            .iter()
            .filter(|u| u.contains("/accounts?"))
            .count()
    }
}

impl Host for FakeHorizon {
    fn get(&mut self, url: &str) -> Result<Response, PluginError> {
        self.requests.push(url.to_string());
        let (status, body) = self.answer(url);
        let resp = Response {
            status,
            headers: self.headers(),
            body: serde_json::to_vec(&body).unwrap(),
        };
        if let Some(n) = self.advance_every
            && (self.requests.len() as u64).is_multiple_of(n)
        {
            self.ledger += 1;
        }
        Ok(resp)
    }
    fn throttle(&mut self, url: &str, retry_after_ms: Option<u32>) {
        self.throttles.push((url.to_string(), retry_after_ms));
    }
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
        self.emitted.extend_from_slice(holders);
        Ok(())
    }
    fn checkpoint(&mut self, state: &str) {
        self.checkpoints.push(state.to_string());
    }
    fn progress(&mut self, _: u64, _: Option<u64>) {}
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}

fn emitted_map(h: &[Holder]) -> BTreeMap<String, String> {
    h.iter()
        .map(|h| (h.account.clone(), h.balance.clone()))
        .collect()
}

fn run(h: &mut FakeHorizon, opts: &Options) -> Result<FetchSummary, PluginError> {
    let asset = h.asset.clone();
    fetch(h, "http://horizon", "mainnet", &asset, None, opts)
}

fn attr<'a>(summary: &'a FetchSummary, key: &str) -> Option<&'a str> {
    summary
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_walk_follows_the_cursor_and_emits_every_holder_once_exactly() {
    let mut h = FakeHorizon::populated(450);
    let summary = run(&mut h, &Options::default()).unwrap();

    assert_eq!(h.emitted.len(), h.expected().len(), "no duplicates");
    assert_eq!(emitted_map(&h.emitted), h.expected());
    assert_eq!(h.account_pages(), 4, "3 pages of 200 and the empty one");
    let got = emitted_map(&h.emitted);
    assert_eq!(got[&account(0)], "0.0000001");
    assert_eq!(got[&account(1)], "922337203685.4775807");
    assert!(
        !got.contains_key(&account(11)),
        "a zero balance is no holder"
    );
    assert_eq!(summary.resolved_at, "50000000");
    assert_eq!(summary.holders_emitted, h.emitted.len() as u64);
    // Flags travel as holder attributes.
    assert!(
        h.emitted[0]
            .attributes
            .contains(&("is_authorized".to_string(), "true".to_string()))
    );
}

#[test]
fn the_page_size_option_sets_the_limit() {
    let mut h = FakeHorizon::populated(120);
    let opts = Options {
        page_size: 50,
        ..Options::default()
    };
    run(&mut h, &opts).unwrap();
    assert_eq!(emitted_map(&h.emitted), h.expected());
    assert_eq!(h.account_pages(), 4);
    assert!(h.requests.iter().any(|u| u.contains("limit=50")));
}

#[test]
fn resuming_from_any_checkpoint_gives_the_same_holders_and_summary() {
    let opts = Options {
        page_size: 40,
        ..Options::default()
    };
    let mut full = FakeHorizon::populated(300);
    let uninterrupted = run(&mut full, &opts).unwrap();
    assert!(full.checkpoints.len() >= 7);
    for cp in &full.checkpoints {
        let cp: Checkpoint = serde_json::from_str(cp).unwrap();
        let mut resumed = FakeHorizon::populated(300);
        let asset = resumed.asset.clone();
        let before = full
            .emitted
            .iter()
            .take(cp.holders_emitted as usize)
            .cloned();
        resumed.emitted.extend(before);
        let summary = fetch(
            &mut resumed,
            "http://horizon",
            "mainnet",
            &asset,
            Some(cp.clone()),
            &opts,
        )
        .unwrap();
        assert_eq!(emitted_map(&resumed.emitted), resumed.expected());
        assert_eq!(format!("{summary:?}"), format!("{uninterrupted:?}"));
        let first = &resumed.requests[0];
        assert!(
            first.contains(&format!("cursor={}", cp.cursor.unwrap())),
            "continues after the checkpoint: {first}"
        );
    }
}

#[test]
fn a_checkpoint_of_another_asset_is_refused() {
    let mut h = FakeHorizon::populated(10);
    let mut cp = Checkpoint::fresh(&usdc(), Some(1), Some(10));
    cp.asset = format!("EURC:{}", issuer());
    let err = fetch(
        &mut h,
        "http://horizon",
        "mainnet",
        &usdc(),
        Some(cp),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PluginError::Internal(m) if m.contains("EURC")));
}

#[test]
fn pages_from_one_ledger_are_single_ledger_and_ask_for_a_sum_check() {
    let mut h = FakeHorizon::populated(250);
    let s = run(&mut h, &Options::default()).unwrap();
    assert_eq!(attr(&s, "consistency"), Some("single-ledger"));
    assert_eq!(attr(&s, "ledger_first"), Some("50000000"));
    assert_eq!(attr(&s, "ledger_last"), Some("50000000"));
    assert_eq!(attr(&s, "claimable_balances_amount"), Some("1.5000000"));
    let total: i128 = h
        .expected()
        .values()
        .map(|b| i128::from(amount::parse_stroops(b).unwrap()))
        .sum();
    match s.total_check {
        Some(TotalCheck::Reported(r)) => {
            assert_eq!(r.value, amount::format_wide(total));
            assert_eq!(r.significant_digits, 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(h.warnings.is_empty());
}

#[test]
fn ledgers_closing_during_the_walk_are_reported_not_hidden() {
    let mut h = FakeHorizon::populated(450);
    h.advance_every = Some(2);
    let s = run(&mut h, &Options::default()).unwrap();
    assert_eq!(attr(&s, "consistency"), Some("ledger-range"));
    let first: u32 = attr(&s, "ledger_first").unwrap().parse().unwrap();
    let last: u32 = attr(&s, "ledger_last").unwrap().parse().unwrap();
    assert!(first < last, "{first}..{last}");
    assert_eq!(s.resolved_at, last.to_string(), "the last ledger read");
    assert!(
        matches!(&s.total_check, Some(TotalCheck::Unavailable(m)) if m.contains("across ledgers")),
        "{:?}",
        s.total_check
    );
    assert_eq!(h.warnings.len(), 1);
}

#[test]
fn without_latest_ledger_headers_the_root_ledgers_bound_the_walk() {
    let mut h = FakeHorizon::populated(250);
    h.ledger_header = false;
    h.advance_every = Some(3);
    let s = run(&mut h, &Options::default()).unwrap();
    assert_eq!(attr(&s, "consistency"), Some("ledger-range"));
    assert_eq!(attr(&s, "ledger_first"), Some("50000000"));
    let root_calls = h
        .requests
        .iter()
        .filter(|u| u.ends_with("horizon/"))
        .count();
    assert_eq!(root_calls, 2, "before and after the walk");
    // Requests: root, assets, 3 pages (the ledger closes after the third),
    // root (answered at 50000001), assets.
    assert_eq!(attr(&s, "ledger_last"), Some("50000001"));
    assert_eq!(s.resolved_at, "50000001");
}

#[test]
fn a_server_that_ignores_the_cursor_fails_instead_of_looping() {
    let mut h = FakeHorizon::populated(450);
    h.ignore_cursor = true;
    let err = run(&mut h, &Options::default()).unwrap_err();
    assert!(
        matches!(&err, PluginError::Upstream(m) if m.contains("refusing to loop")),
        "{err:?}"
    );
}

#[test]
fn an_account_without_the_asset_in_its_balances_is_an_upstream_error() {
    let records = json!({"_embedded": {"records": [
        {"account_id": account(1), "paging_token": account(1), "balances": [native(5)]}
    ]}});
    let page: Page<AccountRecord> = serde_json::from_value(records).unwrap();
    let err =
        read_records(&page.embedded.records, &usdc(), None, "u", &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, PluginError::Upstream(m) if m.contains("no balance entry")),
        "{err:?}"
    );
}

#[test]
fn malformed_amounts_and_account_ids_in_a_page_are_upstream_errors() {
    for (account_id, balance, why) in [
        (account(1), "1.00000001", "8 decimal places"),
        (account(1), "-5.0000000", "not a Stellar amount"),
        ("GABC".to_string(), "1.0000000", "bad account id"),
    ] {
        let mut line = trust_line("USDC", &issuer(), 1);
        line["balance"] = json!(balance);
        let records = json!({"_embedded": {"records": [
            {"account_id": account_id, "paging_token": account_id, "balances": [line]}
        ]}});
        let page: Page<AccountRecord> = serde_json::from_value(records).unwrap();
        let err =
            read_records(&page.embedded.records, &usdc(), None, "u", &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, PluginError::Upstream(m) if m.contains(why)),
            "{err:?}"
        );
    }
}

#[test]
fn an_unknown_asset_is_not_found_after_one_request() {
    let mut h = FakeHorizon::populated(10);
    h.known = false;
    let err = validate(
        &mut h,
        "http://horizon",
        "testnet",
        &usdc(),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PluginError::NotFound(m) if m.contains("testnet")),
        "{err:?}"
    );
    assert_eq!(h.requests.len(), 1);
}

#[test]
fn validation_reports_the_asset_and_its_supply() {
    let mut h = FakeHorizon::populated(30);
    let info = validate(
        &mut h,
        "http://horizon",
        "mainnet",
        &usdc(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(info.token_id, usdc().to_string());
    assert_eq!(info.symbol, "USDC");
    assert_eq!(info.decimals, 0);
    let in_lines: i128 = h
        .expected()
        .values()
        .map(|b| i128::from(amount::parse_stroops(b).unwrap()))
        .sum();
    // Trust lines plus the 1.5 in claimable balances.
    assert_eq!(
        info.total_supply,
        Some(amount::format_wide(in_lines + 15_000_000))
    );
    assert!(
        info.attributes
            .contains(&("asset_type".to_string(), "credit_alphanum4".to_string()))
    );
}

#[test]
fn a_low_rate_limit_budget_slows_the_host_down() {
    let mut h = FakeHorizon::populated(50);
    h.rate_limit = Some((100, 3, 10));
    run(&mut h, &Options::default()).unwrap();
    assert!(!h.throttles.is_empty());
    // 97 used requests refill in 10 s.
    assert!(h.throttles.iter().all(|(_, ms)| *ms == Some(103)));

    let mut quiet = FakeHorizon::populated(50);
    quiet.rate_limit = Some((100, 3, 10));
    let opts = Options {
        low_water: 0,
        ..Options::default()
    };
    run(&mut quiet, &opts).unwrap();
    assert!(quiet.throttles.is_empty(), "low water 0 turns pacing off");

    let mut plenty = FakeHorizon::populated(50);
    plenty.rate_limit = Some((100, 90, 10));
    run(&mut plenty, &Options::default()).unwrap();
    assert!(plenty.throttles.is_empty());
}

fn request(token: &str) -> SnapshotRequest {
    SnapshotRequest {
        token_id: token.to_string(),
        network: "mainnet".into(),
        endpoint: "http://horizon/".into(),
        at: None,
        min_balance: None,
        resume: None,
        options: vec![
            ("page_size".into(), "200".into()),
            ("rate_limit_low_water".into(), "5".into()),
        ],
    }
}

#[test]
fn malformed_token_ids_are_refused_before_any_request() {
    let good_issuer = issuer();
    let mut bad_checksum = good_issuer.clone();
    bad_checksum.replace_range(55.., if good_issuer.ends_with('A') { "B" } else { "A" });
    for bad in [
        String::new(),
        "USDC".to_string(),
        format!("USDC:{bad_checksum}"),
        format!("TOOLONGCODE13:{good_issuer}"),
        format!("US$:{good_issuer}"),
        "native".to_string(),
    ] {
        let mut h = FakeHorizon::populated(5);
        let err = exports::fetch_all_token_balances(&mut h, &request(&bad)).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidToken(m) if m.contains("CODE:ISSUER")),
            "{bad:?}: {err:?}"
        );
        let err = exports::validate_token(&mut h, &request(&bad)).unwrap_err();
        assert!(matches!(err, PluginError::InvalidToken(_)), "{bad:?}");
        assert!(h.requests.is_empty(), "{bad:?}: {:?}", h.requests);
    }
}

#[test]
fn a_point_in_time_is_refused_rather_than_ignored() {
    let mut h = FakeHorizon::populated(5);
    let mut req = request(&usdc().to_string());
    req.at = Some("50000000".into());
    let err = exports::fetch_all_token_balances(&mut h, &req).unwrap_err();
    assert!(
        matches!(&err, PluginError::InvalidToken(m) if m.contains("past point in time")),
        "{err:?}"
    );
    assert!(h.requests.is_empty());
}

#[test]
fn options_out_of_range_are_refused() {
    for (key, value) in [
        ("page_size", "0"),
        ("page_size", "201"),
        ("page_size", "ten"),
        ("rate_limit_low_water", "-1"),
    ] {
        let mut req = request(&usdc().to_string());
        req.options = vec![(key.into(), value.into())];
        let err = exports::options(&req).unwrap_err();
        assert!(
            matches!(&err, PluginError::Internal(m) if m.contains(key)),
            "{err:?}"
        );
    }
}

#[test]
fn the_exports_walk_the_endpoint_without_its_trailing_slash() {
    let mut h = FakeHorizon::populated(20);
    let s = exports::fetch_all_token_balances(&mut h, &request(&usdc().to_string())).unwrap();
    assert_eq!(emitted_map(&h.emitted), h.expected());
    assert_eq!(s.resolved_at, "50000000");
    assert!(h.requests.iter().all(|u| !u.contains("//accounts")));
}
