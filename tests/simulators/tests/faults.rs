//! The shared fault layer as a client sees it, on each of the three simulators: every fault kind
//! at probability 1 does exactly what its documentation says, on the wire, and is counted.

use std::time::{Duration, Instant};

use ledger_simulators::faults::{FaultPlan, FaultStats};
use ledger_simulators::{horizon, mirror_node, xrpl};

/// A plan injecting only `kind` (a [`FaultPlan`] key), always.
fn always(kind: &str) -> FaultPlan {
    format!("seed=1,{kind}=1,spike-ms=300,retry-after=2")
        .parse()
        .unwrap()
}

/// A mirror-node simulator with one token and `plan`; the URL of its token route.
async fn mirror(plan: FaultPlan) -> (mirror_node::RunningSimulator, String) {
    let mut state = mirror_node::MirrorState::new();
    state.populate(mirror_node::EntityId::new(5000), 50, 1);
    mirror_on(state.into_shared(), plan).await
}

/// A mirror-node simulator over `state` with `plan`; the URL of token 0.0.5000.
async fn mirror_on(
    state: mirror_node::SharedState,
    plan: FaultPlan,
) -> (mirror_node::RunningSimulator, String) {
    let sim = mirror_node::MirrorNodeSimulator::start(
        mirror_node::SimulatorConfig {
            fault_plan: Some(plan),
            ..Default::default()
        },
        state,
    )
    .await
    .unwrap();
    let url = format!("{}/api/v1/tokens/0.0.5000", sim.base_url());
    (sim, url)
}

fn count(stats: &FaultStats, kind: &str) -> u64 {
    stats
        .by_kind()
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| *n)
        .unwrap()
}

#[tokio::test]
async fn rate_limits_come_with_and_without_retry_after_and_server_errors_are_5xx() {
    for (kind, status, retry_after) in [
        ("429ra", 429, Some("2")),
        ("429", 429, None),
        ("5xx", 0, None),
    ] {
        let (sim, url) = mirror(always(kind)).await;
        for _ in 0..8 {
            let reply = reqwest::get(&url).await.unwrap();
            if status == 0 {
                assert!(
                    [500, 502, 503, 504].contains(&reply.status().as_u16()),
                    "{kind}: {}",
                    reply.status()
                );
            } else {
                assert_eq!(reply.status().as_u16(), status, "{kind}");
            }
            assert_eq!(
                reply
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                retry_after,
                "{kind}"
            );
        }
        assert_eq!(count(sim.fault_stats(), kind), 8, "{kind}");
        assert_eq!(sim.fault_stats().total(), 8, "{kind}: no other kind");
        assert_eq!(sim.stats().served(), 0, "{kind}: no route was reached");
    }
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_reply() {
    let (sim, url) = mirror(always("reset")).await;
    let error = reqwest::get(&url).await.expect_err("no reply at all");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    assert_eq!(count(sim.fault_stats(), "reset"), 1);
}

#[tokio::test]
async fn a_truncated_body_ends_before_its_content_length() {
    let (sim, url) = mirror(always("truncate")).await;
    let reply = reqwest::get(&url).await.expect("the head arrives");
    assert_eq!(reply.status(), 200);
    let promised = reply.content_length().expect("a Content-Length");
    assert!(promised > 100, "the real reply's length: {promised}");
    let error = reply.bytes().await.expect_err("the body is cut short");
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(count(sim.fault_stats(), "truncate"), 1);
}

#[tokio::test]
async fn a_cut_reply_is_well_formed_http_carrying_malformed_json() {
    let mut state = mirror_node::MirrorState::new();
    state.populate(mirror_node::EntityId::new(5000), 50, 1);
    let state = state.into_shared();
    let (clean, url) = mirror_on(state.clone(), FaultPlan::default()).await;
    let whole = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    let (sim, url) = mirror_on(state, always("cut")).await;
    let reply = reqwest::get(&url).await.unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.bytes().await.expect("the whole (short) body arrives");
    assert_eq!(body.len(), whole.len() / 2);
    assert_eq!(body[..], whole[..body.len()], "a prefix of the real reply");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    assert_eq!(count(sim.fault_stats(), "cut"), 1);
    // Errors are never cut (only a 200 is), nor counted.
    let missing = format!("{}/api/v1/tokens/0.0.9", sim.base_url());
    let reply = reqwest::get(&missing).await.unwrap();
    assert_eq!(reply.status(), 404);
    serde_json::from_slice::<serde_json::Value>(&reply.bytes().await.unwrap()).unwrap();
    assert_eq!(count(sim.fault_stats(), "cut"), 1);
    drop(clean);
}

#[tokio::test]
async fn a_latency_spike_delays_the_real_reply() {
    let (sim, url) = mirror(always("spike")).await;
    let started = Instant::now();
    let reply = reqwest::get(&url).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    reply.json::<serde_json::Value>().await.unwrap();
    assert_eq!(count(sim.fault_stats(), "spike"), 1);
    assert_eq!(sim.stats().served(), 1);
}

#[tokio::test]
async fn the_xrpl_and_horizon_simulators_inject_the_same_faults() {
    let plan: FaultPlan = "seed=9,429ra=0.2,429=0.2,5xx=0.2,reset=0.2,truncate=0.2"
        .parse()
        .unwrap();
    let mut ledger = xrpl::XrplLedgerState::new();
    let issuer = ledger.new_issuer();
    ledger.populate_trust_lines(issuer, "USD", 20, 1).unwrap();
    let xrpl = xrpl::XrplSimulator::start(
        xrpl::SimulatorConfig {
            fault_plan: Some(plan.clone()),
            ..Default::default()
        },
        ledger.into_shared(),
    )
    .await
    .unwrap();
    let mut stellar = horizon::HorizonState::new();
    let asset = stellar.new_asset("USDC");
    stellar.populate(&asset, 20, 1);
    let horizon = horizon::HorizonSimulator::start(
        horizon::SimulatorConfig {
            fault_plan: Some(plan),
            ..Default::default()
        },
        stellar.into_shared(),
    )
    .await
    .unwrap();

    let client = reqwest::Client::new();
    let mut answered = 0;
    for _ in 0..60 {
        let reply = client
            .post(xrpl.base_url())
            .json(&serde_json::json!({"method": "server_info", "params": [{}]}))
            .send()
            .await;
        if let Ok(reply) = reply
            && reply.status() == 200
            && reply.bytes().await.is_ok()
        {
            answered += 1;
        }
        let _ = client.get(format!("{}/", horizon.base_url())).send().await;
    }
    assert_eq!(answered, 0, "every request met a fault");
    for stats in [xrpl.fault_stats(), horizon.fault_stats()] {
        assert_eq!(stats.total(), 60, "{stats}");
        for kind in ["429ra", "429", "5xx", "reset", "truncate"] {
            assert!(count(stats, kind) > 0, "{kind}: {stats}");
        }
    }
}
