//! The walks, the sum check and both exports against the in-memory server.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use snapshot_plugin_sdk::{
    FetchSummary, PluginError, ReportedTotal, SnapshotRequest, TokenKind, TotalCheck,
};

use super::fake::{FakeNft, FakeXrpl, ISSUER, Line, holder};
use super::*;
use crate::exports;

/// Equality through `Debug` (the WIT types do not implement `PartialEq`).
macro_rules! same {
    ($a:expr, $b:expr $(, $($msg:tt)+)?) => {
        assert_eq!(format!("{:?}", $a), format!("{:?}", $b) $(, $($msg)+)?)
    };
}

const URL: &str = "http://xrpl.test/";
const USD_HEX: &str = "0000000000000000000000005553440000000000";

fn request(token: &str) -> SnapshotRequest {
    SnapshotRequest {
        token_id: token.into(),
        network: "testnet".into(),
        endpoint: URL.into(),
        at: None,
        min_balance: None,
        resume: None,
        options: Vec::new(),
    }
}

fn usd() -> String {
    format!("USD.{ISSUER}")
}

fn fetch(fake: &mut FakeXrpl, req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
    exports::fetch_all_token_balances(fake, req)
}

/// account → (balance, attributes) of what was emitted.
fn emitted(fake: &FakeXrpl) -> BTreeMap<String, (String, Vec<(String, String)>)> {
    let mut out = BTreeMap::new();
    for h in &fake.emitted {
        let old = out.insert(h.account.clone(), (h.balance.clone(), h.attributes.clone()));
        assert!(
            old.is_none() || old == Some((h.balance.clone(), h.attributes.clone())),
            "{} emitted twice with different data",
            h.account
        );
    }
    out
}

fn balances(fake: &FakeXrpl) -> BTreeMap<String, String> {
    emitted(fake)
        .into_iter()
        .map(|(a, (b, _))| (a, b))
        .collect()
}

/// `n` holders of USD with balances 1..=n, plus noise lines of other
/// currencies, zero and positive balances.
fn busy_issuer(n: usize) -> FakeXrpl {
    let mut f = FakeXrpl::new();
    for i in 0..n {
        f.lines
            .push(Line::new(holder(i), "USD", &format!("-{}", i + 1)));
        f.lines.push(Line::new(holder(i), "EUR", "-7"));
        if i % 5 == 0 {
            f.lines.push(Line::new(holder(n + i), "USD", "0"));
        }
    }
    f
}

#[test]
fn a_trust_line_walk_follows_markers_through_empty_pages() {
    let mut f = busy_issuer(50);
    f.page_size = 7;
    f.leading_empty_pages = 3;
    let s = fetch(&mut f, &request(&usd())).unwrap();
    let expected: BTreeMap<String, String> =
        (0..50).map(|i| (holder(i), (i + 1).to_string())).collect();
    assert_eq!(balances(&f), expected);
    assert_eq!(s.holders_emitted, 50);
    assert_eq!(f.emitted.len(), 50);
    // 3 empty pages + ceil(110 lines / 7).
    assert_eq!(f.count("account_lines"), 3 + 110usize.div_ceil(7));
    assert_eq!(f.checkpoints.len(), f.count("account_lines"));
    assert_eq!(*f.progress.last().unwrap(), 50);
}

#[test]
fn a_page_of_only_other_currencies_does_not_end_the_walk() {
    let mut f = FakeXrpl::new();
    f.page_size = 2;
    for i in 0..6 {
        f.lines.push(Line::new(holder(i), "EUR", "-1"));
    }
    f.lines.push(Line::new(holder(6), "USD", "-3"));
    fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(balances(&f), BTreeMap::from([(holder(6), "3".to_string())]));
}

#[test]
fn every_later_page_is_pinned_to_the_first_replys_ledger() {
    let mut f = busy_issuer(30);
    f.page_size = 4;
    f.advancing = true;
    let first = f.validated;
    let s = fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(s.resolved_at, first.to_string());
    let sent = f.ledgers_sent("account_lines");
    assert!(sent.len() > 10);
    assert_eq!(sent[0], json!("validated"));
    for (i, l) in sent.iter().enumerate().skip(1) {
        assert_eq!(
            *l,
            json!(first),
            "page {i} must name the pinned ledger as an integer"
        );
    }
    assert_eq!(f.ledgers_sent("gateway_balances"), vec![json!(first)]);
    assert!(f.validated > first + 10, "the network moved on meanwhile");
    assert!(
        s.attributes
            .contains(&("ledger_hash".into(), FakeXrpl::hash_of(first)))
    );
}

#[test]
fn a_page_from_another_ledger_fails_loudly() {
    let mut f = busy_issuer(10);
    f.page_size = 4;
    let stale = json!({"result": {"account": ISSUER, "lines": [], "marker": "pos:8",
        "ledger_index": f.validated - 1, "validated": true, "status": "success"}});
    // The second account_lines reply comes from another ledger.
    let first_page = json!({"result": {"account": ISSUER, "lines": [], "marker": "pos:4",
        "ledger_index": f.validated, "validated": true, "status": "success"}});
    f.script.push_back(("account_lines", first_page));
    f.script.push_back(("account_lines", stale));
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    assert!(
        matches!(&e, PluginError::Upstream(m) if m.contains("inconsistent snapshot")),
        "{e:?}"
    );
}

#[test]
fn a_reply_without_a_ledger_index_cannot_be_pinned() {
    let mut f = FakeXrpl::new();
    f.script.push_back((
        "account_lines",
        json!({"result": {"account": ISSUER, "lines": [], "ledger_current_index": 5,
            "validated": false, "status": "success"}}),
    ));
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    assert!(
        matches!(&e, PluginError::Upstream(m) if m.contains("cannot be pinned")),
        "{e:?}"
    );
}

#[test]
fn a_repeated_marker_is_refused_instead_of_looping() {
    let mut f = FakeXrpl::new();
    let page = |m: &str| {
        json!({"result": {"account": ISSUER, "lines": [], "marker": m,
            "ledger_index": 90000000u32, "validated": true, "status": "success"}})
    };
    f.script.push_back(("account_lines", page("A")));
    f.script.push_back(("account_lines", page("A")));
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    assert!(
        matches!(&e, PluginError::Upstream(m) if m.contains("refusing to loop")),
        "{e:?}"
    );
}

#[test]
fn other_currencies_of_the_same_issuer_are_excluded_and_both_spellings_match() {
    let mut f = FakeXrpl::new();
    f.lines = vec![
        Line::new(holder(0), "USD", "-10"),
        Line::new(holder(1), USD_HEX, "-20"),
        Line::new(holder(2), "usd", "-30"),
        Line::new(holder(3), "EUR", "-40"),
        Line::new(holder(4), "015841551A748AD2C1F76FF6ECB0CCCD00000000", "-50"),
    ];
    for token in [usd(), format!("{USD_HEX}.{ISSUER}")] {
        let mut f2 = FakeXrpl::new();
        f2.lines = f.lines.clone();
        let s = fetch(&mut f2, &request(&token)).unwrap();
        assert_eq!(
            balances(&f2),
            BTreeMap::from([(holder(0), "10".into()), (holder(1), "20".into())]),
            "{token}"
        );
        // The sum check matches the currency in either spelling too.
        same!(
            s.total_check,
            Some(TotalCheck::Reported(ReportedTotal {
                value: "30".into(),
                significant_digits: 16,
                source: "gateway_balances.obligations".into()
            }))
        );
    }
    let mut f3 = FakeXrpl::new();
    f3.lines = f.lines.clone();
    fetch(
        &mut f3,
        &request(&format!(
            "015841551a748ad2c1f76ff6ecb0cccd00000000.{ISSUER}"
        )),
    )
    .unwrap();
    assert_eq!(balances(&f3), BTreeMap::from([(holder(4), "50".into())]));
}

#[test]
fn exponent_amounts_pass_through_exactly() {
    let mut f = FakeXrpl::new();
    f.lines = vec![
        Line::new(holder(0), "USD", "-5444166510000000e-26"),
        Line::new(holder(1), "USD", "-9999999999999999e80"),
        Line::new(holder(2), "USD", "-1e-96"),
        Line::new(holder(3), "USD", "-0.3488146605801446"),
    ];
    let s = fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(
        balances(&f),
        BTreeMap::from([
            (holder(0), "5444166510000000e-26".into()),
            (holder(1), "9999999999999999e80".into()),
            (holder(2), "1e-96".into()),
            (holder(3), "0.3488146605801446".into()),
        ])
    );
    let Some(TotalCheck::Reported(t)) = s.total_check else {
        panic!("{:?}", s.total_check)
    };
    // The fake sums exactly; the plugin passes the text on untouched.
    assert!(t.value.starts_with("999999999999999900000"), "{}", t.value);
}

#[test]
fn negative_lines_are_holdings_and_zero_or_positive_lines_are_skipped() {
    let mut f = FakeXrpl::new();
    f.lines = vec![
        Line::new(holder(0), "USD", "-481.992867407479"),
        Line::new(holder(1), "USD", "0"),
        Line::new(holder(2), "USD", "-0"),
        Line::new(holder(3), "USD", "5"),
        Line::new(holder(4), "USD", "0.0000"),
    ];
    let s = fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(
        balances(&f),
        BTreeMap::from([(holder(0), "481.992867407479".into())])
    );
    assert_eq!(s.holders_emitted, 1);
}

#[test]
fn a_malformed_balance_fails_upstream_naming_the_value() {
    let mut f = FakeXrpl::new();
    f.lines = vec![Line::new(holder(0), "USD", "-1,5")];
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    assert!(
        matches!(&e, PluginError::Upstream(m) if m.contains("\"-1,5\"") && m.contains(&holder(0))),
        "{e:?}"
    );
}

#[test]
fn frozen_and_authorized_lines_carry_attributes() {
    let mut f = FakeXrpl::new();
    let mut frozen = Line::new(holder(0), "USD", "-2");
    frozen.freeze = true;
    let mut auth = Line::new(holder(1), "USD", "-3");
    auth.authorized = true;
    f.lines = vec![frozen, auth, Line::new(holder(2), "USD", "-4")];
    let s = fetch(&mut f, &request(&usd())).unwrap();
    let e = emitted(&f);
    assert_eq!(e[&holder(0)].1, vec![("freeze".into(), "true".into())]);
    assert_eq!(e[&holder(1)].1, vec![("authorized".into(), "true".into())]);
    assert!(e[&holder(2)].1.is_empty());
    // gateway_balances leaves the frozen line out of obligations; the
    // reported total adds it back so it matches every holder.
    same!(
        s.total_check,
        Some(TotalCheck::Reported(ReportedTotal {
            value: "9".into(),
            significant_digits: 16,
            source: "gateway_balances.obligations+frozen_balances".into()
        }))
    );
}

#[test]
fn slow_down_is_retried_after_a_throttle() {
    let mut f = busy_issuer(3);
    let busy = json!({"result": {"error": "slowDown", "error_message": "You are placing too much load on the server.", "status": "error"}});
    let too_busy = json!({"result": {"error": "tooBusy", "status": "error"}});
    f.script.push_back(("account_lines", busy.clone()));
    f.script.push_back(("account_lines", too_busy));
    f.script.push_back(("account_lines", busy));
    fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(f.throttles, 3);
    assert_eq!(f.count("account_lines"), 4, "the same request, sent again");
    assert_eq!(balances(&f).len(), 3);
    let sent: Vec<_> = f
        .requests
        .iter()
        .filter(|(m, _)| m == "account_lines")
        .map(|(_, p)| p.clone())
        .collect();
    assert!(sent.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_server_that_stays_busy_is_rate_limited() {
    let mut f = busy_issuer(3);
    for _ in 0..21 {
        f.script.push_back((
            "account_lines",
            json!({"result": {"error": "slowDown", "status": "error"}}),
        ));
    }
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    same!(e, PluginError::RateLimited(BUSY_WAIT_MS));
    assert_eq!(f.count("account_lines"), 21);
    assert!(f.emitted.is_empty());
}

#[test]
fn a_load_warning_throttles_and_keeps_the_page() {
    let mut f = FakeXrpl::new();
    f.script.push_back((
        "account_lines",
        json!({"result": {"account": ISSUER, "lines": [
            {"account": holder(0), "balance": "-12", "currency": "USD", "limit": "0", "limit_peer": "100"}
        ], "ledger_index": 90000000u32, "validated": true, "status": "success", "warning": "load"}}),
    ));
    fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(f.throttles, 1);
    assert_eq!(f.count("account_lines"), 1);
    assert_eq!(balances(&f), BTreeMap::from([(holder(0), "12".into())]));
    assert_eq!(f.warnings.len(), 1);
}

#[test]
fn other_server_errors_are_upstream_with_the_message() {
    let mut f = FakeXrpl::new();
    f.script.push_back((
        "account_lines",
        json!({"result": {"error": "noNetwork", "error_message": "Not synced to the network.", "status": "error"}}),
    ));
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    same!(
        e,
        PluginError::Upstream("account_lines: noNetwork (Not synced to the network.)".into())
    );
}

#[test]
fn an_unknown_issuer_is_not_found() {
    let mut f = FakeXrpl::new();
    f.issuer_exists = false;
    let e = fetch(&mut f, &request(&usd())).unwrap_err();
    assert!(matches!(e, PluginError::NotFound(_)), "{e:?}");
    let e = exports::validate_token(&mut f, &request(&usd())).unwrap_err();
    assert!(
        matches!(&e, PluginError::NotFound(m) if m.contains(ISSUER)),
        "{e:?}"
    );
}

#[test]
fn resuming_from_any_checkpoint_gives_the_same_holders_at_the_same_ledger() {
    let mut full = busy_issuer(40);
    full.page_size = 6;
    full.leading_empty_pages = 2;
    let s = fetch(&mut full, &request(&usd())).unwrap();
    let pinned = full.validated;
    for (n, cp) in full.checkpoints.iter().enumerate() {
        let parsed: Checkpoint = serde_json::from_str(cp).unwrap();
        assert_eq!(parsed.ledger_index, pinned);
        let mut resumed = busy_issuer(40);
        resumed.page_size = 6;
        resumed.leading_empty_pages = 2;
        // The network moved on since the interruption.
        resumed.validated = pinned + 500;
        resumed.emitted = full.emitted[..parsed.emitted as usize].to_vec();
        let mut req = request(&usd());
        req.resume = Some(cp.clone());
        let r = fetch(&mut resumed, &req).unwrap();
        assert_eq!(r.resolved_at, pinned.to_string(), "checkpoint {n}");
        same!(r.total_check, s.total_check, "checkpoint {n}");
        assert_eq!(balances(&resumed), balances(&full), "checkpoint {n}");
        assert!(
            resumed
                .ledgers_sent("account_lines")
                .iter()
                .all(|l| *l == json!(pinned))
        );
        assert_eq!(
            resumed.count("account_lines"),
            full.checkpoints.len() - n - 1,
            "no page is read twice"
        );
    }
}

#[test]
fn a_checkpoint_of_another_token_is_refused() {
    let mut f = busy_issuer(3);
    fetch(&mut f, &request(&usd())).unwrap();
    let mut req = request(&format!("EUR.{ISSUER}"));
    req.resume = Some(f.checkpoints[0].clone());
    let e = fetch(&mut FakeXrpl::new(), &req).unwrap_err();
    assert!(matches!(e, PluginError::Internal(_)), "{e:?}");
}

#[test]
fn a_historical_snapshot_reads_that_ledger_everywhere() {
    let mut f = busy_issuer(12);
    f.page_size = 5;
    let mut req = request(&usd());
    req.at = Some("89999000".into());
    let s = fetch(&mut f, &req).unwrap();
    assert_eq!(s.resolved_at, "89999000");
    for method in ["account_lines", "gateway_balances"] {
        assert!(
            f.ledgers_sent(method).iter().all(|l| *l == json!(89999000)),
            "{method}"
        );
    }
    req.at = Some("100".into());
    let e = fetch(&mut FakeXrpl::new(), &req).unwrap_err();
    assert!(
        matches!(&e, PluginError::NotFound(m) if m.contains("ledger 100")),
        "{e:?}"
    );
}

#[test]
fn malformed_input_is_refused_before_any_request() {
    for (token, at) in [
        ("USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wr", None),
        ("XRP.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq", None),
        ("mpt:1234", None),
        ("nft:rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq:x", None),
        ("USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq", Some("validated")),
        ("USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq", Some("0")),
        ("USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq", Some("4294967296")),
    ] {
        let mut f = FakeXrpl::new();
        let mut req = request(token);
        req.at = at.map(str::to_string);
        let e = exports::validate_token(&mut f, &req).unwrap_err();
        assert!(matches!(e, PluginError::InvalidToken(_)), "{token}: {e:?}");
        let e = fetch(&mut f, &req).unwrap_err();
        assert!(matches!(e, PluginError::InvalidToken(_)), "{token}: {e:?}");
        assert!(f.requests.is_empty(), "{token}");
    }
}

#[test]
fn an_issued_token_validates_to_its_canonical_id() {
    let mut f = FakeXrpl::new();
    let info = exports::validate_token(&mut f, &request(&format!("{USD_HEX}.{ISSUER}"))).unwrap();
    assert_eq!(info.token_id, usd());
    assert_eq!((info.name.as_str(), info.symbol.as_str()), ("USD", "USD"));
    assert_eq!(info.decimals, 0);
    assert_eq!(info.kind, TokenKind::Fungible);
    assert!(
        info.attributes
            .contains(&("currency_hex".into(), USD_HEX.into()))
    );
    assert!(
        info.attributes
            .contains(&("issuer_require_auth".into(), "true".into()))
    );
    assert_eq!(f.ledgers_sent("account_info"), vec![json!("validated")]);
}

#[test]
fn the_sum_check_is_unavailable_when_the_server_cannot_answer() {
    for code in ["unknownCmd", "notSupported", "noPermission"] {
        let mut f = busy_issuer(2);
        f.script.push_back((
            "gateway_balances",
            json!({"result": {"error": code, "status": "error"}}),
        ));
        let s = fetch(&mut f, &request(&usd())).unwrap();
        assert!(
            matches!(&s.total_check, Some(TotalCheck::Unavailable(m)) if m.contains(code)),
            "{:?}",
            s.total_check
        );
        assert_eq!(balances(&f).len(), 2, "holders are kept");
    }
}

#[test]
fn an_absent_currency_is_zero_without_holders_and_unavailable_with_them() {
    let mut f = FakeXrpl::new();
    f.lines = vec![Line::new(holder(0), "EUR", "-1")];
    let s = fetch(&mut f, &request(&usd())).unwrap();
    same!(
        s.total_check,
        Some(TotalCheck::Reported(ReportedTotal {
            value: "0".into(),
            significant_digits: 16,
            source: "gateway_balances.obligations".into()
        }))
    );
    let mut f = busy_issuer(2);
    f.script.push_back((
        "gateway_balances",
        json!({"result": {"account": ISSUER, "obligations": {"EUR": "14"},
            "ledger_index": 90000000u32, "validated": true, "status": "success"}}),
    ));
    let s = fetch(&mut f, &request(&usd())).unwrap();
    assert!(
        matches!(&s.total_check, Some(TotalCheck::Unavailable(m)) if m.contains("no obligations in USD")),
        "{:?}",
        s.total_check
    );
}

fn mpt_id() -> String {
    // Sequence 1, issuer ISSUER's account id.
    let issuer = crate::token_id::Address::parse(ISSUER).unwrap();
    let mut hex = "00000001".to_string();
    for b in issuer.account_id() {
        hex.push_str(&format!("{b:02X}"));
    }
    hex
}

#[test]
fn mpt_holders_are_read_from_clio_with_the_issuance_total() {
    let mut f = FakeXrpl::new();
    f.page_size = 3;
    f.leading_empty_pages = 1;
    f.mptokens = vec![
        (holder(0), "100".into(), 0),
        (holder(1), "0".into(), 0),
        (holder(2), "18446744073709551615".into(), MPTOKEN_LOCKED),
        (holder(3), "5".into(), MPTOKEN_AUTHORIZED),
        (holder(4), "7".into(), 0),
    ];
    f.mpt_issuance = Some(
        json!({"LedgerEntryType": "MPTokenIssuance", "Issuer": ISSUER,
        "AssetScale": 2, "OutstandingAmount": "112", "MaximumAmount": "1000", "Flags": 0x22}),
    );
    let token = format!("mpt:{}", mpt_id().to_lowercase());
    let s = fetch(&mut f, &request(&token));
    // 18446744073709551615 + ... does not match 112: the walk is still exact
    // and the host records the failed check; here only the plumbing is
    // checked.
    let s = s.unwrap();
    assert_eq!(
        balances(&f),
        BTreeMap::from([
            (holder(0), "100".into()),
            (holder(2), "18446744073709551615".into()),
            (holder(3), "5".into()),
            (holder(4), "7".into()),
        ])
    );
    let e = emitted(&f);
    assert_eq!(e[&holder(2)].1, vec![("locked".into(), "true".into())]);
    assert_eq!(e[&holder(3)].1, vec![("authorized".into(), "true".into())]);
    same!(
        s.total_check,
        Some(TotalCheck::Reported(ReportedTotal {
            value: "112".into(),
            significant_digits: 0,
            source: "ledger_entry.MPTokenIssuance.OutstandingAmount".into()
        }))
    );
    let pinned = json!(f.validated);
    let sent = f.ledgers_sent("mpt_holders");
    assert_eq!(sent[0], json!("validated"));
    assert!(sent[1..].iter().all(|l| *l == pinned));
    assert_eq!(f.ledgers_sent("ledger_entry"), vec![pinned]);
    assert!(
        f.requests
            .iter()
            .filter(|(m, _)| m == "mpt_holders")
            .all(|(_, p)| p["limit"] == json!(100) && p["mpt_issuance_id"] == json!(mpt_id()))
    );

    let info = exports::validate_token(&mut f, &request(&token)).unwrap();
    assert_eq!(info.token_id, format!("mpt:{}", mpt_id()));
    assert_eq!(info.decimals, 2);
    assert_eq!(info.total_supply.as_deref(), Some("112"));
    assert!(info.attributes.contains(&("issuer".into(), ISSUER.into())));
    assert!(
        info.attributes
            .contains(&("can_transfer".into(), "true".into()))
    );
}

#[test]
fn an_mpt_without_ledger_entry_support_falls_back_to_mpt_holders() {
    let mut f = FakeXrpl::new();
    f.mptokens = vec![(holder(0), "1".into(), 0)];
    f.script.push_back((
        "ledger_entry",
        json!({"result": {"error": "invalidParams", "status": "error"}}),
    ));
    let info = exports::validate_token(&mut f, &request(&format!("mpt:{}", mpt_id()))).unwrap();
    assert_eq!(info.decimals, 0);
    assert!(
        info.attributes
            .iter()
            .any(|(k, v)| k == "asset_scale" && v.starts_with("unknown"))
    );
    // And an issuance the server does not know is not found.
    let e = exports::validate_token(&mut FakeXrpl::new(), &request(&format!("mpt:{}", mpt_id())))
        .unwrap_err();
    assert!(matches!(e, PluginError::NotFound(_)), "{e:?}");
}

fn nft(i: usize, owner: usize, taxon: u32, burned: bool) -> FakeNft {
    FakeNft {
        id: format!("00080000{:056x}", i),
        owner: holder(owner),
        taxon,
        burned,
    }
}

#[test]
fn nft_holders_are_one_entry_per_nft_and_burned_ones_are_skipped() {
    let mut f = FakeXrpl::new();
    f.page_size = 2;
    f.leading_empty_pages = 2;
    f.nfts = vec![
        nft(1, 0, 7, false),
        nft(2, 0, 7, false),
        nft(3, 1, 7, true),
        nft(4, 1, 8, false),
        nft(5, 2, 7, false),
    ];
    let s = fetch(&mut f, &request(&format!("nft:{ISSUER}"))).unwrap();
    let ids: Vec<(String, String, String)> = f
        .emitted
        .iter()
        .map(|h| {
            (
                h.account.clone(),
                h.balance.clone(),
                h.entry_id.clone().unwrap(),
            )
        })
        .collect();
    let id = |i: usize| format!("00080000{:056X}", i);
    assert_eq!(
        ids,
        vec![
            (holder(0), "1".into(), id(1)),
            (holder(0), "1".into(), id(2)),
            (holder(1), "1".into(), id(4)),
            (holder(2), "1".into(), id(5)),
        ]
    );
    assert_eq!(s.holders_emitted, 4);
    assert!(s.total_check.is_none());
    let sent = f.ledgers_sent("nfts_by_issuer");
    assert_eq!(sent.len(), 2 + 3);
    assert!(sent[1..].iter().all(|l| *l == json!(f.validated)));

    let mut f = FakeXrpl::new();
    f.nfts = vec![nft(1, 0, 7, false), nft(4, 1, 8, false)];
    fetch(&mut f, &request(&format!("nft:{ISSUER}:8"))).unwrap();
    assert_eq!(f.emitted.len(), 1);
    assert_eq!(f.emitted[0].account, holder(1));
    assert!(f.requests.iter().all(|(_, p)| p["nft_taxon"] == json!(8)));
}

#[test]
fn an_nft_collection_without_nfts_is_not_found() {
    let mut f = FakeXrpl::new();
    f.nfts = vec![nft(1, 0, 7, false)];
    let info = exports::validate_token(&mut f, &request(&format!("nft:{ISSUER}:7"))).unwrap();
    assert_eq!(info.kind, TokenKind::NonFungible);
    assert_eq!(info.token_id, format!("nft:{ISSUER}:7"));
    assert_eq!(f.requests[0].1["limit"], json!(1));
    let e = exports::validate_token(&mut f, &request(&format!("nft:{ISSUER}:9"))).unwrap_err();
    assert!(
        matches!(&e, PluginError::NotFound(m) if m.contains("taxon 9")),
        "{e:?}"
    );
}

#[test]
fn checkpoints_name_the_ledger_marker_and_counts() {
    let mut f = busy_issuer(5);
    f.page_size = 3;
    fetch(&mut f, &request(&usd())).unwrap();
    let first: Value = serde_json::from_str(&f.checkpoints[0]).unwrap();
    assert_eq!(first["v"], json!(1));
    assert_eq!(first["token"], json!(usd()));
    assert_eq!(first["kind"], json!("trust_lines"));
    assert_eq!(first["ledger_index"], json!(f.validated));
    assert_eq!(first["marker"], json!("pos:3"));
    assert_eq!(first["done"], json!(false));
    let last: Checkpoint = serde_json::from_str(f.checkpoints.last().unwrap()).unwrap();
    assert!(last.done && last.marker.is_none());
    assert_eq!(last.emitted, 5);
}

#[test]
fn the_next_page_and_the_sum_check_leave_before_the_page_in_hand_is_emitted() {
    let mut f = busy_issuer(30);
    f.page_size = 4;
    let s = fetch(&mut f, &request(&usd())).unwrap();
    assert_eq!(balances(&f).len(), 30);
    let pages = f.count("account_lines");
    let methods: Vec<&str> = f.requests.iter().map(|(m, _)| m.as_str()).collect();
    // The first page pins the ledger; its successor and the sum check are on their way before
    // its holders are emitted.
    assert_eq!(
        methods[..3],
        ["account_lines", "account_lines", "gateway_balances"]
    );
    assert_eq!(f.count("gateway_balances"), 1);
    assert_eq!(f.ledgers_sent("gateway_balances"), vec![json!(f.validated)]);
    assert_eq!(f.requests_at_emit.len(), pages);
    for (page, sent) in f.requests_at_emit.iter().enumerate() {
        // Page `page` (0-based) is emitted with page `page + 1` requested (but for the last).
        let asked = (page + 2).min(pages) + 1;
        assert_eq!(*sent, asked, "requests sent when page {page} was emitted");
    }
    assert!(matches!(s.total_check, Some(TotalCheck::Reported(_))));
}
