//! The XRPL simulator against the recorded rippled/Clio replies in `shared/fixtures/xrpl`, plus
//! the behaviour a snapshot client must cope with: paging through owner directories with other
//! objects, empty pages that carry a marker, ledgers that move between pages, exact exponent
//! amounts, rounded gateway totals and load refusals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ledger_simulators::xrpl::{
    AccountId, DisabledMethodError, LedgerAdvance, LedgerTrigger, LoadConfig, RunningSimulator,
    ServerKind, SimulatorConfig, XrplLedgerState, XrplSimulator, load_account_lines,
};
use serde_json::{Value, json};

fn fixtures_root() -> PathBuf {
    // CI places `shared/` beside the checkout, like /work/shared next to /work/main.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/xrpl")
}

fn fixture(relative: &str) -> Value {
    let path = fixtures_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn start(config: SimulatorConfig, state: XrplLedgerState) -> RunningSimulator {
    XrplSimulator::start(config, state.into_shared())
        .await
        .expect("start simulator")
}

/// POSTs a JSON-RPC body; returns the HTTP status, the raw text and the parsed body (Null when
/// the body is not JSON).
async fn post(sim: &RunningSimulator, body: &Value) -> (u16, String, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/", sim.base_url()))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, value)
}

async fn call(sim: &RunningSimulator, method: &str, params: Value) -> Value {
    let (status, text, body) = post(sim, &json!({ "method": method, "params": [params] })).await;
    assert_eq!(status, 200, "{method}: {text}");
    body["result"].clone()
}

/// The JSON type of a value, for shape comparisons.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys with the same JSON types (values aside); `optional` keys (present on one side only,
/// e.g. `marker` on a non-final page) are ignored.
fn assert_same_shape(ours: &Value, recorded: &Value, optional: &[&str], what: &str) {
    let ours = ours
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    let recorded = recorded.as_object().expect("recorded object");
    let our_keys: BTreeSet<&String> = ours
        .keys()
        .filter(|k| !optional.contains(&k.as_str()))
        .collect();
    let recorded_keys: BTreeSet<&String> = recorded
        .keys()
        .filter(|k| !optional.contains(&k.as_str()))
        .collect();
    assert_eq!(our_keys, recorded_keys, "{what}: keys differ");
    for (key, value) in ours.iter().filter(|(k, _)| recorded.contains_key(*k)) {
        assert_eq!(
            kind(value),
            kind(&recorded[key]),
            "{what}.{key}: type differs"
        );
    }
}

#[test]
fn every_recorded_xrpl_reply_parses() {
    // The two `.trimmed.txt` files are not JSON by design (the docs put a literal
    // "... (trimmed for length) ..." line in them); every `.json` file must parse.
    let mut stack = vec![fixtures_root()];
    let mut parsed = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).expect("read");
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                // Every reply is a result envelope; requests have a method or command.
                assert!(
                    value.get("result").is_some()
                        || value.get("method").is_some()
                        || value.get("command").is_some(),
                    "{}",
                    path.display()
                );
                parsed += 1;
            }
        }
    }
    assert_eq!(parsed, 26, "files under shared/fixtures/xrpl");
}

#[test]
fn every_recorded_address_is_valid_base58check() {
    let text = [
        "xrpl-dev-portal/_api-examples/account_lines/jsonrpc-response.json",
        "xrpl-dev-portal/docs-extracted/gateway_balances/response-jsonrpc.json",
        "xrpl-dev-portal/docs-extracted/mpt_holders/response-jsonrpc.json",
        "xrpl-dev-portal/docs-extracted/nfts_by_issuer/response.json",
    ]
    .map(|f| fixture(f).to_string())
    .join(" ");
    let addresses: BTreeSet<&str> = text
        .split('"')
        .filter(|s| s.starts_with('r') && (25..=35).contains(&s.len()) && !s.contains(' '))
        .collect();
    assert!(addresses.len() > 20);
    for address in addresses {
        let id = AccountId::from_address(address).unwrap_or_else(|| panic!("{address}"));
        assert_eq!(id.to_address(), address);
    }
}

#[tokio::test]
async fn account_lines_reproduces_the_recorded_24_lines() {
    let recorded = fixture("xrpl-dev-portal/_api-examples/account_lines/jsonrpc-response.json");
    let mut state = XrplLedgerState::starting_at(95_348_091, 1);
    load_account_lines(&mut state, &recorded["result"]).expect("seed");
    let sim = start(SimulatorConfig::default(), state).await;
    // The recorded request itself: no ledger_index, so the current ledger, as in the record.
    let request = fixture("xrpl-dev-portal/docs-extracted/account_lines/request-jsonrpc.json");
    let (status, _, body) = post(&sim, &request).await;
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_same_shape(result, &recorded["result"], &[], "account_lines result");
    assert_eq!(result["lines"], recorded["result"]["lines"]);
    assert_eq!(result["ledger_current_index"], json!(95_348_091));
    assert_eq!(result["validated"], json!(false));

    // Pinned to a validated ledger, the envelope has ledger_hash/ledger_index instead.
    let pinned = call(
        &sim,
        "account_lines",
        json!({ "account": recorded["result"]["account"], "ledger_index": "validated" }),
    )
    .await;
    assert_eq!(pinned["lines"], recorded["result"]["lines"]);
    assert_eq!(pinned["ledger_index"], json!(95_348_091));
    assert_eq!(pinned["ledger_hash"].as_str().map(str::len), Some(64));
    assert_eq!(pinned["validated"], json!(true));
}

#[tokio::test]
async fn account_info_has_the_recorded_shape() {
    let recorded = fixture("xrpl-dev-portal/docs-extracted/account_info/response-commandline.json");
    let account = AccountId::from_address("rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn").unwrap();
    let mut state = XrplLedgerState::starting_at(56_843_712, 1);
    state.add_account(account, 9986);
    let sim = start(SimulatorConfig::default(), state).await;
    let result = call(
        &sim,
        "account_info",
        json!({ "account": account.to_address(), "ledger_index": "validated" }),
    )
    .await;
    assert_same_shape(&result, &recorded["result"], &[], "account_info result");
    // RegularKey is set on the recorded account only.
    assert_same_shape(
        &result["account_data"],
        &recorded["result"]["account_data"],
        &["RegularKey"],
        "account_data",
    );
    assert_eq!(result["account_data"]["Balance"], json!("9986"));

    // The recorded request (current ledger) answers ledger_current_index, validated false.
    let request = fixture("xrpl-dev-portal/docs-extracted/account_info/request-jsonrpc.json");
    let (_, _, body) = post(&sim, &request).await;
    assert_eq!(body["result"]["ledger_current_index"], json!(56_843_712));
    assert_eq!(body["result"]["validated"], json!(false));
}

#[tokio::test]
async fn errors_use_the_rippled_envelope() {
    let mut state = XrplLedgerState::starting_at(1000, 1);
    let issuer = state.new_issuer();
    let sim = start(SimulatorConfig::default(), state).await;
    let unknown = AccountId::from_seed(99, 99).to_address();
    let cases = [
        (
            "account_info",
            json!({ "account": unknown }),
            "actNotFound",
            19,
        ),
        (
            "account_lines",
            json!({ "account": "rNotAnAddress" }),
            "actMalformed",
            35,
        ),
        ("account_lines", json!({}), "invalidParams", 31),
        (
            "account_lines",
            json!({ "account": issuer.to_address(), "ledger_index": 999 }),
            "lgrNotFound",
            21,
        ),
        (
            "account_lines",
            json!({ "account": issuer.to_address(), "marker": "nonsense" }),
            "invalidParams",
            31,
        ),
        ("no_such_method", json!({}), "unknownCmd", 32),
        (
            "mpt_holders",
            json!({ "mpt_issuance_id": "05EECEBE97A7D635DE2393068691A015FED5A89AD203F5AA" }),
            "objectNotFound",
            92,
        ),
        (
            "gateway_balances",
            json!({ "account": issuer.to_address(), "hotwallet": ["rBad"] }),
            "invalidHotWallet",
            30,
        ),
    ];
    for (method, params, token, code) in cases {
        let result = call(&sim, method, params.clone()).await;
        assert_eq!(result["status"], json!("error"), "{method} {params}");
        assert_eq!(result["error"], json!(token), "{method} {params}");
        assert_eq!(result["error_code"], json!(code), "{method} {params}");
        assert!(result["error_message"].is_string());
        assert_eq!(result["request"]["command"], json!(method));
    }
    let result = call(&sim, "account_info", json!({ "account": unknown })).await;
    assert_eq!(result["error_message"], json!("Account not found."));
    // The docs' flat nfts_by_issuer request has no `params`: like rippled, that is no
    // parameters at all.
    let (_, _, body) = post(
        &sim,
        &fixture("xrpl-dev-portal/docs-extracted/nfts_by_issuer/request.json"),
    )
    .await;
    assert_eq!(body["result"]["error"], json!("invalidParams"));
}

#[tokio::test]
async fn gateway_balances_has_the_recorded_shape_and_rounds_to_16_digits() {
    let recorded = fixture("xrpl-dev-portal/docs-extracted/gateway_balances/response-jsonrpc.json");
    let request = fixture("xrpl-dev-portal/docs-extracted/gateway_balances/request-jsonrpc.json");
    let params = &request["params"][0];
    let gateway = AccountId::from_address(params["account"].as_str().unwrap()).unwrap();
    let hot: Vec<AccountId> = params["hotwallet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| AccountId::from_address(h.as_str().unwrap()).unwrap())
        .collect();
    let mut state = XrplLedgerState::starting_at(14_483_212, 1);
    state.add_issuer(gateway);
    let (a, b, c) = (
        state.new_account(),
        state.new_account(),
        state.new_account(),
    );
    // 9999999999999999 + 0.9 needs 17 digits: rippled's STAmount rounds the total.
    state
        .add_trust_line(gateway, a, "USD", "-9999999999999999")
        .unwrap();
    state.add_trust_line(gateway, b, "USD", "-0.9").unwrap();
    state
        .add_trust_line(gateway, hot[0], "EUR", "-29826.1965999999")
        .unwrap();
    state
        .add_trust_line(gateway, hot[1], "USD", "-13857.70416")
        .unwrap();
    // The gateway holds someone else's BTC: an asset, in exponent notation.
    state
        .add_trust_line(gateway, c, "BTC", "5444166510000000e-26")
        .unwrap();
    state.add_trust_line(gateway, b, "EUR", "-1").unwrap();
    let exact = state.obligations_exact_at(state.tip(), &gateway);
    // The exact total, hot wallet included; the reply below leaves the hot wallet out.
    assert_eq!(exact["USD"], "10000000000013857.60416");
    let sim = start(SimulatorConfig::default(), state).await;
    let (_, _, body) = post(&sim, &request).await;
    let result = &body["result"];
    assert_same_shape(result, &recorded["result"], &[], "gateway_balances result");
    assert_eq!(result["obligations"]["USD"], json!("1000000000000000e1"));
    assert_eq!(result["obligations"]["EUR"], json!("1"));
    assert_eq!(
        result["balances"][hot[0].to_address()],
        json!([{ "currency": "EUR", "value": "29826.1965999999" }])
    );
    assert_eq!(
        result["assets"][c.to_address()],
        json!([{ "currency": "BTC", "value": "5444166510000000e-26" }])
    );
}

#[tokio::test]
async fn gateway_balances_can_be_disabled() {
    for (error, token, code) in [
        (DisabledMethodError::UnknownCmd, "unknownCmd", 32),
        (DisabledMethodError::NotSupported, "notSupported", 75),
    ] {
        let mut state = XrplLedgerState::starting_at(10, 1);
        let issuer = state.new_issuer();
        let config = SimulatorConfig {
            disabled_methods: BTreeSet::from(["gateway_balances".to_owned()]),
            disabled_method_error: error,
            ..SimulatorConfig::default()
        };
        let sim = start(config, state).await;
        let result = call(
            &sim,
            "gateway_balances",
            json!({ "account": issuer.to_address() }),
        )
        .await;
        assert_eq!(result["error"], json!(token));
        assert_eq!(result["error_code"], json!(code));
        // Other methods are unaffected.
        let info = call(
            &sim,
            "account_info",
            json!({ "account": issuer.to_address() }),
        )
        .await;
        assert_eq!(info["status"], json!("success"));
    }
}

#[tokio::test]
async fn mpt_holders_has_the_recorded_shape_and_pages_by_account() {
    let recorded = fixture("xrpl-dev-portal/docs-extracted/mpt_holders/response-jsonrpc.json");
    let mut state = XrplLedgerState::starting_at(99_563_067, 1);
    let issuer = state.new_issuer();
    let id = state.add_mpt_issuance(issuer, 2);
    for i in 0..120u64 {
        let holder = state.new_account();
        state.set_mpt_holder(id, holder, 100 + i).unwrap();
    }
    let expected = state.mpt_holders_at(state.tip(), &id);
    let sim = start(SimulatorConfig::default(), state).await;
    let (_, _, body) = post(
        &sim,
        &json!({ "method": "mpt_holders", "params": [{ "mpt_issuance_id": id.to_hex(), "ledger_index": "validated" }] }),
    )
    .await;
    assert_eq!(body["warnings"], recorded["warnings"]);
    let first = &body["result"];
    assert_same_shape(
        first,
        &recorded["result"],
        &["marker"],
        "mpt_holders result",
    );
    assert!(first["marker"].is_string());
    assert_same_shape(
        &first["mptokens"][0],
        &recorded["result"]["mptokens"][0],
        &[],
        "mptoken",
    );
    let mut seen = BTreeMap::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let mut params = json!({ "mpt_issuance_id": id.to_hex(), "ledger_index": "validated" });
        if let Some(m) = &marker {
            params["marker"] = json!(m);
        }
        let page = call(&sim, "mpt_holders", params).await;
        pages += 1;
        assert_eq!(page["limit"], json!(50));
        for token in page["mptokens"].as_array().unwrap() {
            seen.insert(
                token["account"].as_str().unwrap().to_owned(),
                token["mpt_amount"].as_str().unwrap().to_owned(),
            );
        }
        match page["marker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
    let capped = call(
        &sim,
        "mpt_holders",
        json!({ "mpt_issuance_id": id.to_hex(), "limit": 1000 }),
    )
    .await;
    assert_eq!(capped["limit"], json!(100));
}

#[tokio::test]
async fn mpt_and_nft_methods_are_clio_only() {
    let sim = start(
        SimulatorConfig {
            kind: ServerKind::Rippled,
            ..SimulatorConfig::default()
        },
        XrplLedgerState::starting_at(5, 1),
    )
    .await;
    for method in ["mpt_holders", "nfts_by_issuer"] {
        let result = call(&sim, method, json!({})).await;
        assert_eq!(result["error"], json!("unknownCmd"));
    }
}

#[tokio::test]
async fn nfts_by_issuer_has_the_recorded_shape_and_keeps_paging_through_empty_pages() {
    let recorded = fixture("xrpl-dev-portal/docs-extracted/nfts_by_issuer/response.json");
    let mut state = XrplLedgerState::starting_at(1534, 1);
    let issuer = state.new_issuer();
    let owners: Vec<AccountId> = (0..5).map(|_| state.new_account()).collect();
    let mut ids = Vec::new();
    for i in 0..130u32 {
        ids.push(state.add_nft(issuer, owners[i as usize % 5], i % 3, 0));
    }
    state.burn_nft(ids[7]).unwrap();
    let expected_counts = state.nft_counts_at(state.tip(), &issuer);
    let sim = start(
        SimulatorConfig {
            nft_empty_page_every: Some(2),
            ..SimulatorConfig::default()
        },
        state,
    )
    .await;
    let (_, _, body) = post(
        &sim,
        &json!({ "method": "nfts_by_issuer", "params": [{ "issuer": issuer.to_address() }] }),
    )
    .await;
    assert_eq!(body["warnings"], recorded["warnings"]);
    assert_same_shape(
        &body["result"],
        &recorded["result"],
        &["marker"],
        "nfts_by_issuer",
    );
    assert_same_shape(
        &body["result"]["nfts"][0],
        &recorded["result"]["nfts"][0],
        &[],
        "nft",
    );

    let mut marker: Option<String> = None;
    let (mut empty_pages, mut all) = (0, Vec::new());
    loop {
        let mut params = json!({ "issuer": issuer.to_address(), "ledger_index": "validated" });
        if let Some(m) = &marker {
            params["marker"] = json!(m);
        }
        let page = call(&sim, "nfts_by_issuer", params).await;
        let nfts = page["nfts"].as_array().unwrap();
        if nfts.is_empty() {
            empty_pages += 1;
            assert!(
                page["marker"].is_string(),
                "an empty page still has a marker"
            );
        }
        all.extend(nfts.iter().cloned());
        match page["marker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    assert!(empty_pages >= 2, "{empty_pages}");
    let unique: BTreeSet<&str> = all.iter().map(|n| n["nft_id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), 130);
    assert_eq!(
        all.iter().filter(|n| n["is_burned"] == json!(true)).count(),
        1
    );
    let mut counts = BTreeMap::new();
    for nft in all.iter().filter(|n| n["is_burned"] == json!(false)) {
        *counts
            .entry(nft["owner"].as_str().unwrap().to_owned())
            .or_insert(0u64) += 1;
    }
    assert_eq!(counts, expected_counts);
    // One taxon only.
    let taxon = call(
        &sim,
        "nfts_by_issuer",
        json!({ "issuer": issuer.to_address(), "nft_taxon": 1, "limit": 100 }),
    )
    .await;
    let nfts = taxon["nfts"].as_array().unwrap();
    assert!(!nfts.is_empty() || taxon["marker"].is_string());
    assert!(nfts.iter().all(|n| n["nft_taxon"] == json!(1)));
}

/// Walks `account_lines` of `account` from the start; returns (pages, holder → balance from the
/// holder's side as the issuer sees it negated, ledger fields seen).
async fn walk_lines(
    sim: &RunningSimulator,
    account: &AccountId,
    ledger: Option<Value>,
    limit: u64,
) -> (Vec<Value>, BTreeMap<String, String>) {
    let mut pages = Vec::new();
    let mut lines = BTreeMap::new();
    let mut marker: Option<String> = None;
    loop {
        let mut params = json!({ "account": account.to_address(), "limit": limit });
        if let Some(ledger) = &ledger {
            params["ledger_index"] = ledger.clone();
        }
        if let Some(m) = &marker {
            params["marker"] = json!(m);
        }
        let page = call(sim, "account_lines", params).await;
        assert_eq!(page["status"], json!("success"), "{page}");
        for line in page["lines"].as_array().unwrap() {
            let balance = line["balance"].as_str().unwrap();
            let amount = ledger_simulators::xrpl::IouAmount::parse(balance).unwrap();
            lines.insert(
                line["account"].as_str().unwrap().to_owned(),
                amount.negated().to_plain_decimal(),
            );
        }
        marker = page["marker"].as_str().map(str::to_owned);
        pages.push(page);
        if marker.is_none() {
            break;
        }
    }
    (pages, lines)
}

#[tokio::test]
async fn account_lines_pages_count_every_directory_object_and_may_be_empty() {
    let mut state = XrplLedgerState::starting_at(500, 7);
    let issuer = state.new_issuer();
    state.populate_trust_lines(issuer, "USD", 95, 7).unwrap();
    state.add_owner_objects(issuer, 40);
    // 25 objects in a row: with limit 10 at least one page holds no line at all.
    state.add_owner_objects_at(issuer, 30, 25);
    let expected = state.holders_at(state.tip(), &issuer, "USD");
    let sim = start(SimulatorConfig::default(), state).await;

    let (pages, lines) = walk_lines(&sim, &issuer, Some(json!("validated")), 10).await;
    assert_eq!(lines, expected);
    assert_eq!(pages.len(), 16, "160 directory objects / 10");
    let empty_with_marker = pages
        .iter()
        .filter(|p| p["lines"].as_array().unwrap().is_empty() && p["marker"].is_string())
        .count();
    assert!(empty_with_marker >= 1);
    assert!(
        pages
            .iter()
            .all(|p| p["lines"].as_array().unwrap().len() <= 10)
    );
    assert!(
        pages
            .iter()
            .any(|p| (1..10).contains(&p["lines"].as_array().unwrap().len())),
        "interleaved objects shorten pages"
    );
    // The issuer has DefaultRipple: its false no_ripple is omitted, the holder's true is shown.
    let line = &pages[0]["lines"][0];
    assert!(line.get("no_ripple").is_none());
    assert!(line.get("freeze_peer").is_none());
}

#[tokio::test]
async fn account_lines_limit_is_clamped_to_10_through_400() {
    let mut state = XrplLedgerState::starting_at(500, 7);
    let issuer = state.new_issuer();
    state.populate_trust_lines(issuer, "USD", 450, 8).unwrap();
    let sim = start(SimulatorConfig::default(), state).await;
    for (asked, used) in [(1, 10), (0, 10), (250, 250), (1000, 400)] {
        let page = call(
            &sim,
            "account_lines",
            json!({ "account": issuer.to_address(), "limit": asked, "ledger_index": "validated" }),
        )
        .await;
        assert_eq!(
            page["lines"].as_array().unwrap().len(),
            used,
            "limit {asked}"
        );
        assert_eq!(page["limit"], json!(used));
    }
    let default = call(
        &sim,
        "account_lines",
        json!({ "account": issuer.to_address() }),
    )
    .await;
    assert_eq!(default["lines"].as_array().unwrap().len(), 200);
    let bad = call(
        &sim,
        "account_lines",
        json!({ "account": issuer.to_address(), "limit": "ten" }),
    )
    .await;
    assert_eq!(bad["error"], json!("invalidParams"));
}

#[tokio::test]
async fn unpinned_paging_sees_a_moving_ledger_and_pinned_paging_does_not() {
    let mut state = XrplLedgerState::starting_at(7_000, 3);
    let issuer = state.new_issuer();
    state.populate_trust_lines(issuer, "EUR", 300, 3).unwrap();
    let pinned = state.tip();
    let expected = state.holders_at(pinned, &issuer, "EUR");
    let sim = start(
        SimulatorConfig {
            ledger_advance: Some(LedgerAdvance {
                trigger: LedgerTrigger::EveryRequests(1),
                churn_moves: 20,
            }),
            ..SimulatorConfig::default()
        },
        state,
    )
    .await;

    // "validated" without pinning: every page comes from a newer ledger.
    let (pages, lines) = walk_lines(&sim, &issuer, Some(json!("validated")), 20).await;
    let indexes: BTreeSet<u64> = pages
        .iter()
        .map(|p| p["ledger_index"].as_u64().unwrap())
        .collect();
    assert!(indexes.len() > 1, "the ledger moved between pages");
    assert_eq!(
        lines.len(),
        expected.len(),
        "markers stay valid across ledgers"
    );
    assert_ne!(lines, expected, "a mix of ledgers is not the snapshot");

    // Pinned: exactly the snapshot, and the same pages every time despite churn.
    let (first, lines) = walk_lines(&sim, &issuer, Some(json!(pinned)), 20).await;
    assert_eq!(lines, expected);
    let (second, _) = walk_lines(&sim, &issuer, Some(json!(pinned)), 20).await;
    assert_eq!(first, second);
    assert!(first.iter().all(|p| p["ledger_index"] == json!(pinned)));
    let hash = {
        let state = sim.state().read().unwrap();
        assert!(state.tip() > pinned + 30);
        assert_eq!(state.holders_at(pinned, &issuer, "EUR"), expected);
        state.ledger(pinned).unwrap().hash_hex()
    };
    let by_hash = call(
        &sim,
        "account_lines",
        json!({ "account": issuer.to_address(), "ledger_hash": hash, "limit": 20 }),
    )
    .await;
    assert_eq!(by_hash["lines"], first[0]["lines"]);
    let ledger = call(&sim, "ledger", json!({ "ledger_index": "validated" })).await;
    assert!(ledger["ledger"]["ledger_index"].is_string());
    assert!(ledger["ledger_index"].as_u64().unwrap() > u64::from(pinned));
}

#[tokio::test]
async fn exponent_amounts_appear_verbatim_in_the_json_text() {
    let mut state = XrplLedgerState::starting_at(10, 1);
    let issuer = state.new_issuer();
    let (tiny, huge, plain) = (
        state.new_account(),
        state.new_account(),
        state.new_account(),
    );
    state.add_trust_line(issuer, tiny, "USD", "-1e-15").unwrap();
    state
        .add_trust_line(issuer, huge, "USD", "-9999999999999999e80")
        .unwrap();
    state
        .add_trust_line(issuer, plain, "USD", "-0.0008744482690504699")
        .unwrap();
    let holders = state.holders_at(state.tip(), &issuer, "USD");
    assert_eq!(holders[&tiny.to_address()], "0.000000000000001");
    assert_eq!(
        holders[&huge.to_address()],
        format!("9999999999999999{}", "0".repeat(80))
    );
    let sim = start(SimulatorConfig::default(), state).await;
    let (_, text, _) = post(
        &sim,
        &json!({ "method": "account_lines", "params": [{ "account": issuer.to_address() }] }),
    )
    .await;
    for expected in [
        r#""balance":"-1000000000000000e-30""#,
        r#""balance":"-9999999999999999e80""#,
        r#""balance":"-0.0008744482690504699""#,
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}

#[tokio::test]
async fn over_the_rate_the_server_warns_then_refuses_with_503_or_slow_down() {
    let mut state = XrplLedgerState::starting_at(10, 1);
    let issuer = state.new_issuer();
    let sim = start(
        SimulatorConfig {
            load: Some(LoadConfig {
                rate: 5.0,
                burst: Some(10.0),
                warn_below: 0.5,
                refuse_with_503: 0.5,
            }),
            seed: 9,
            ..SimulatorConfig::default()
        },
        state,
    )
    .await;
    let (mut ok, mut warned, mut refused_503, mut slow) = (0, 0, 0, 0);
    for _ in 0..60 {
        let (status, text, body) = post(
            &sim,
            &json!({ "method": "account_info", "params": [{ "account": issuer.to_address() }] }),
        )
        .await;
        match status {
            503 => refused_503 += 1,
            200 if body["result"]["error"] == json!("slowDown") => {
                assert_eq!(body["result"]["error_code"], json!(10));
                slow += 1;
            }
            200 => {
                ok += 1;
                if body["result"]["warning"] == json!("load") {
                    warned += 1;
                }
            }
            other => panic!("{other}: {text}"),
        }
    }
    assert!(ok >= 10 && warned >= 1 && refused_503 >= 1 && slow >= 1);
    let stats = sim.stats();
    assert_eq!(stats.requests(), 60);
    assert_eq!(stats.http_503(), refused_503);
    assert_eq!(stats.slow_downs(), slow);
    assert_eq!(stats.load_warnings(), warned);
    assert_eq!(stats.served_per_method()["account_info"], ok);
}

#[tokio::test]
async fn latency_is_added_to_every_reply() {
    let sim = start(
        SimulatorConfig {
            latency: Duration::from_millis(60),
            ..SimulatorConfig::default()
        },
        XrplLedgerState::starting_at(10, 1),
    )
    .await;
    let started = std::time::Instant::now();
    let result = call(&sim, "server_info", json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(result["info"]["validated_ledger"]["seq"], json!(10));
}
