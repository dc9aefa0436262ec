//! The Horizon simulator over HTTP: the documented shapes of `/`, `/assets` and
//! `/accounts?asset=`, cursor paging through `_links.next`, problem documents, the
//! `Latest-Ledger` and `X-RateLimit-*` headers and 429s.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger_simulators::horizon::{
    Asset, HorizonSimulator, HorizonState, LedgerAdvance, LedgerTrigger, RateLimitConfig,
    RunningSimulator, SimulatorConfig, format_stroops,
};
use serde_json::Value;

async fn start(config: SimulatorConfig, holders: usize) -> (RunningSimulator, Asset) {
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    state.populate(&asset, holders, 11);
    let sim = HorizonSimulator::start(config, state.into_shared())
        .await
        .expect("start simulator");
    (sim, asset)
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn get(url: &str) -> Reply {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Reply {
        status,
        headers,
        body: response.json().await.expect("JSON body"),
    }
}

fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_root_reports_the_latest_ledger_and_the_network() {
    let (sim, _) = start(SimulatorConfig::default(), 1).await;
    let reply = get(&format!("{}/", sim.base_url())).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["history_latest_ledger"], 50_000_000);
    assert_eq!(
        reply.body["network_passphrase"],
        "Public Global Stellar Network ; September 2015"
    );
    assert_eq!(header(&reply, "latest-ledger"), Some("50000000"));
    assert!(
        header(&reply, "content-type")
            .unwrap()
            .starts_with("application/hal+json")
    );
}

#[tokio::test]
async fn following_next_links_walks_every_trust_line_once_in_account_order() {
    let (sim, asset) = start(SimulatorConfig::default(), 450).await;
    let mut url = format!(
        "{}/accounts?asset={asset}&limit=200&order=asc",
        sim.base_url()
    );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut order = Vec::new();
    let mut pages = 0;
    loop {
        let reply = get(&url).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        pages += 1;
        let records = reply.body["_embedded"]["records"].as_array().unwrap();
        if records.is_empty() {
            break;
        }
        for r in records {
            let id = r["account_id"].as_str().unwrap().to_string();
            assert_eq!(r["paging_token"], id.as_str());
            let line = r["balances"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["asset_code"] == "USDC" && b["asset_issuer"] == asset.issuer.as_str())
                .expect("the trust line");
            let last = r["balances"].as_array().unwrap().last().unwrap();
            assert_eq!(last["asset_type"], "native", "native balance last");
            assert!(
                seen.insert(id.clone(), line["balance"].as_str().unwrap().into())
                    .is_none()
            );
            order.push(id);
        }
        url = reply.body["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .to_string();
    }
    assert_eq!(pages, 4, "3 pages of at most 200, then an empty one");
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let expected: BTreeMap<String, String> = sim
        .state()
        .read()
        .unwrap()
        .trust_lines(&asset)
        .into_iter()
        .map(|(a, b)| (a, format_stroops(i128::from(b))))
        .collect();
    assert_eq!(
        seen, expected,
        "zero balances included, exact 7-decimal text"
    );
    assert!(expected.values().any(|b| b == "0.0000000"));
}

#[tokio::test]
async fn an_unknown_asset_is_an_empty_collection_and_an_unknown_route_a_problem() {
    let (sim, asset) = start(SimulatorConfig::default(), 5).await;
    let known = get(&format!(
        "{}/assets?asset_code=USDC&asset_issuer={}",
        sim.base_url(),
        asset.issuer
    ))
    .await;
    let records = known.body["_embedded"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["asset_type"], "credit_alphanum4");
    assert_eq!(records[0]["accounts"]["authorized"], 5);

    let unknown = get(&format!(
        "{}/assets?asset_code=NOPE&asset_issuer={}",
        sim.base_url(),
        asset.issuer
    ))
    .await;
    assert_eq!(unknown.status, 200);
    assert!(
        unknown.body["_embedded"]["records"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let missing = get(&format!("{}/no/such/route", sim.base_url())).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["type"],
        "https://stellar.org/horizon-errors/not_found"
    );
    assert!(
        header(&missing, "content-type")
            .unwrap()
            .starts_with("application/problem+json")
    );
    let account = get(&format!(
        "{}/accounts/GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
        sim.base_url()
    ))
    .await;
    assert_eq!(account.status, 404);
}

#[tokio::test]
async fn bad_parameters_are_400_problems_naming_the_field() {
    let (sim, asset) = start(SimulatorConfig::default(), 5).await;
    let base = sim.base_url();
    for (path, field) in [
        (format!("/accounts?asset={asset}&limit=201"), "limit"),
        (format!("/accounts?asset={asset}&limit=0"), "limit"),
        (format!("/accounts?asset={asset}&order=up"), "order"),
        ("/accounts?asset=native".to_string(), "asset"),
        ("/accounts?asset=USDC:GABC".to_string(), "asset"),
        ("/accounts?asset=TOOLONGCODE13:GABC".to_string(), "asset"),
        ("/assets?asset_issuer=GABC".to_string(), "asset_issuer"),
    ] {
        let reply = get(&format!("{base}{path}")).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.body["extras"]["invalid_field"], field, "{path}");
    }
    let no_filter = get(&format!("{base}/accounts")).await;
    assert_eq!(no_filter.status, 400);
}

#[tokio::test]
async fn the_rate_limit_is_reported_in_headers_and_refusals_carry_retry_after() {
    let config = SimulatorConfig {
        rate_limit: Some(RateLimitConfig {
            rate: 1.0,
            burst: 3.0,
        }),
        ..SimulatorConfig::default()
    };
    let (sim, _) = start(config, 5).await;
    let url = format!("{}/", sim.base_url());
    let first = get(&url).await;
    assert_eq!(first.status, 200);
    assert_eq!(header(&first, "x-ratelimit-limit"), Some("3"));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("2"));
    assert_eq!(header(&first, "x-ratelimit-reset"), Some("1"));
    get(&url).await;
    get(&url).await;
    let refused = get(&url).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.body["type"],
        "https://stellar.org/horizon-errors/rate_limit_exceeded"
    );
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(sim.stats().rate_limited(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get(&url).await.status, 200, "the bucket refills");
}

#[tokio::test]
async fn closing_ledgers_move_balances_and_the_latest_ledger_header() {
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    state.populate(&asset, 50, 3);
    let config = SimulatorConfig {
        ledger_advance: Some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(1),
            churn: Some((asset.clone(), 10)),
        }),
        ..SimulatorConfig::default()
    };
    let sim = HorizonSimulator::start(config, state.into_shared())
        .await
        .unwrap();
    let before = sim.state().read().unwrap().trust_lines(&asset);
    let url = format!("{}/accounts?asset={asset}&limit=5", sim.base_url());
    let a = get(&url).await;
    let b = get(&url).await;
    assert_eq!(header(&a, "latest-ledger"), Some("50000000"));
    assert_eq!(header(&b, "latest-ledger"), Some("50000001"));
    assert_eq!(sim.stats().ledgers_closed(), 2);
    let after = sim.state().read().unwrap().trust_lines(&asset);
    assert_ne!(before, after);
    let total = |m: &BTreeMap<String, i64>| m.values().map(|b| i128::from(*b)).sum::<i128>();
    assert_eq!(total(&before), total(&after), "transfers keep the supply");
}
