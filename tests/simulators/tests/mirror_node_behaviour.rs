//! Behaviour beyond the recorded fixtures: limits, full pagination walks, timestamp pinning under
//! churn, rate limiting, fault injection and exact big integers.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger_simulators::mirror_node::{
    ChurnConfig, ChurnTrigger, EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator,
    SimulatorConfig, format_timestamp,
};
use serde_json::Value;

const TOKEN: EntityId = EntityId::new(5000);

async fn start(config: SimulatorConfig, holders: usize) -> (RunningSimulator, u64) {
    let mut state = MirrorState::new();
    let snapshot = state.populate(TOKEN, holders, 11);
    let simulator = MirrorNodeSimulator::start(config, state.into_shared())
        .await
        .expect("start simulator");
    (simulator, snapshot)
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Follows `links.next` from `path` and returns every row (account num → balance) plus the
/// reply timestamps seen and the number of pages.
async fn walk(sim: &RunningSimulator, path: &str) -> (Vec<(u64, i64)>, Vec<Value>, usize) {
    let client = reqwest::Client::new();
    let (mut rows, mut timestamps, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut next = Some(path.to_owned());
    while let Some(path) = next {
        let (status, body) = get_json(&client, &format!("{}{path}", sim.base_url())).await;
        assert_eq!(status, 200, "{path}: {body}");
        pages += 1;
        timestamps.push(body["timestamp"].clone());
        for row in body["balances"].as_array().expect("balances") {
            let account = EntityId::parse(row["account"].as_str().expect("account")).unwrap();
            rows.push((account.num, row["balance"].as_i64().expect("i64 balance")));
        }
        next = body["links"]["next"].as_str().map(str::to_owned);
    }
    (rows, timestamps, pages)
}

fn as_map(rows: &[(u64, i64)]) -> BTreeMap<u64, i64> {
    rows.iter().copied().collect()
}

#[tokio::test]
async fn over_max_limit_is_clamped_and_kept_in_next_link() {
    let (sim, _) = start(SimulatorConfig::default(), 250).await;
    let client = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/tokens/0.0.5000/balances?limit=1000",
        sim.base_url()
    );
    let (status, body) = get_json(&client, &url).await;
    assert_eq!(status, 200);
    assert_eq!(body["balances"].as_array().unwrap().len(), 100);
    let next = body["links"]["next"].as_str().unwrap();
    assert!(next.starts_with("/api/v1/tokens/0.0.5000/balances?limit=1000&account.id=lt:0.0."));
    // The default page size is 25.
    let url = format!("{}/api/v1/tokens/0.0.5000/balances", sim.base_url());
    let (_, body) = get_json(&client, &url).await;
    assert_eq!(body["balances"].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn pagination_walks_whole_dataset_in_both_orders() {
    let (sim, snapshot) = start(SimulatorConfig::default(), 523).await;
    let expected = sim.state().read().unwrap().balances_at(TOKEN, snapshot);
    assert_eq!(expected.len(), 523);
    let pinned = format_timestamp(snapshot);
    for (order, query) in [
        ("asc", format!("order=asc&limit=100&timestamp=lte:{pinned}")),
        ("desc", format!("limit=37&timestamp={pinned}")),
        ("asc", "order=asc&limit=100".to_owned()),
        ("desc", "limit=100".to_owned()),
    ] {
        let (rows, _, pages) =
            walk(&sim, &format!("/api/v1/tokens/0.0.5000/balances?{query}")).await;
        let accounts: Vec<u64> = rows.iter().map(|r| r.0).collect();
        let mut sorted = accounts.clone();
        sorted.sort_unstable();
        if order == "desc" {
            sorted.reverse();
        }
        assert_eq!(accounts, sorted, "{query}: rows out of order");
        assert_eq!(
            as_map(&rows),
            expected,
            "{query}: rows differ from the snapshot"
        );
        assert_eq!(rows.len(), 523, "{query}: duplicates or gaps");
        assert!(pages >= 523_usize.div_ceil(100), "{query}");
    }
}

#[tokio::test]
async fn pinned_pages_stay_identical_while_churn_runs() {
    let config = SimulatorConfig {
        churn: Some(ChurnConfig {
            trigger: ChurnTrigger::EveryRequests(1),
            moves: 5,
        }),
        seed: 9,
        ..SimulatorConfig::default()
    };
    let (sim, snapshot) = start(config, 300).await;
    let expected = sim.state().read().unwrap().balances_at(TOKEN, snapshot);
    let path = format!(
        "/api/v1/tokens/0.0.5000/balances?order=asc&limit=50&timestamp=lte:{}",
        format_timestamp(snapshot)
    );
    let (first, first_timestamps, _) = walk(&sim, &path).await;
    let (second, _, _) = walk(&sim, &path).await;
    assert!(sim.stats().churns() >= 12, "churn did not run");
    assert_eq!(first, second, "pinned walk changed under churn");
    assert_eq!(as_map(&first), expected);
    let pinned = Value::String(format_timestamp(snapshot));
    // Every non-empty page reports the pinned snapshot; the final, empty page reports null.
    assert!(first_timestamps.iter().all(|t| *t == pinned || t.is_null()));
    assert!(first_timestamps.iter().filter(|t| **t == pinned).count() >= 6);

    // Unpinned, the live table moves between pages: the walk matches no single snapshot.
    let (live, _, _) = walk(&sim, "/api/v1/tokens/0.0.5000/balances?order=asc&limit=50").await;
    let total = |m: &BTreeMap<u64, i64>| m.values().map(|&b| i128::from(b)).sum::<i128>();
    assert_ne!(
        total(&as_map(&live)),
        total(&expected),
        "unpinned walk looked consistent"
    );
    // Every churn kept the supply: the newest snapshot still sums to the original total.
    let state = sim.state().read().unwrap();
    let latest = state.latest_snapshot_timestamp().unwrap();
    assert!(latest > snapshot);
    assert_eq!(total(&state.balances_at(TOKEN, latest)), total(&expected));
}

#[tokio::test]
async fn answers_429_above_the_rate() {
    let config = SimulatorConfig {
        rate_limit: Some(4.0),
        ..SimulatorConfig::default()
    };
    let (sim, _) = start(config, 10).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/tokens/0.0.5000/balances", sim.base_url());
    let mut limited = 0;
    for _ in 0..20 {
        let (status, body) = get_json(&client, &url).await;
        if status == 429 {
            limited += 1;
            assert_eq!(
                body,
                serde_json::json!({"_status":{"messages":[{"message":"Too Many Requests"}]}})
            );
        } else {
            assert_eq!(status, 200);
        }
    }
    // 20 back-to-back requests at 4/s with a burst of 1: at most 1 + 4/s × elapsed pass.
    assert!(limited >= 10, "only {limited} refused");
    assert_eq!(sim.stats().rate_limited(), limited);
    assert_eq!(sim.stats().requests(), 20);
    assert!(sim.stats().peak_per_second() >= 10);
    // Pacing below the rate is never refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..3 {
        assert_eq!(get_json(&client, &url).await.0, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn injects_server_errors_and_latency() {
    let config = SimulatorConfig {
        error_ratio: 1.0,
        latency: Duration::from_millis(50),
        ..SimulatorConfig::default()
    };
    let (sim, _) = start(config, 3).await;
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let (status, _) = get_json(&client, &format!("{}/api/v1/tokens/5000", sim.base_url())).await;
    assert_eq!(status, 503);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(sim.stats().injected_errors(), 1);
}

#[tokio::test]
async fn balances_above_2_pow_53_are_exact_in_the_json_text() {
    let (sim, _) = start(SimulatorConfig::default(), 5).await;
    let url = format!(
        "{}/api/v1/tokens/0.0.5000/balances?order=asc",
        sim.base_url()
    );
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(text.contains(r#""balance":9223372036854775807"#), "{text}");
    assert!(text.contains(r#""balance":9007199254740993"#), "{text}");
}

#[tokio::test]
async fn state_changes_are_visible_and_shutdown_stops_serving() {
    let (sim, _) = start(SimulatorConfig::default(), 3).await;
    let account = EntityId::new(42);
    let at = sim
        .state()
        .write()
        .unwrap()
        .set_balance(TOKEN, account, 1234);
    let client = reqwest::Client::new();
    let url = format!(
        "{}/api/v1/tokens/0.0.5000/balances?account.id=42",
        sim.base_url()
    );
    let (_, body) = get_json(&client, &url).await;
    assert_eq!(body["balances"][0]["balance"], 1234);
    assert_eq!(body["timestamp"], format_timestamp(at).as_str());
    let base = sim.base_url();
    sim.shutdown().await;
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/api/v1/tokens/5000"))
            .send()
            .await
            .is_err()
    );
}
