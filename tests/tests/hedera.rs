//! The Hedera plugin, in the real sandbox, against the mirror-node simulator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ledger_simulators::mirror_node::{
    ChurnConfig, ChurnTrigger, EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator,
    SimulatorConfig, TokenRecord, format_timestamp, parse_timestamp,
};
use snapshot_host::jobs::{CollectingSink, SnapshotError, SnapshotSpec, TakenSnapshot};
use snapshot_tests::host::{TestHost, json_bytes};

const TOKEN: u64 = 5_000;

async fn simulator(state: MirrorState, config: SimulatorConfig) -> RunningSimulator {
    MirrorNodeSimulator::start(config, state.into_shared())
        .await
        .expect("simulator starts")
}

async fn host_for(sim: &RunningSimulator) -> TestHost {
    TestHost::new(&sim.address().to_string(), 500, 16).await
}

fn spec(sim: &RunningSimulator, token: &str) -> SnapshotSpec {
    SnapshotSpec {
        token_id: token.to_string(),
        endpoint: Some(sim.base_url()),
        ..SnapshotSpec::default()
    }
}

/// `account → balance` of the document.
fn holders(taken: &TakenSnapshot) -> BTreeMap<String, String> {
    taken
        .document
        .holders()
        .map(|h| (h.account.to_string(), h.balance.to_string()))
        .collect()
}

/// The non-zero balances the simulator held at `resolved_at`.
fn expected_at(sim: &RunningSimulator, token: u64, resolved_at: &str) -> BTreeMap<String, String> {
    let at = parse_timestamp(resolved_at).expect("resolved_at is secs.nanos");
    sim.state()
        .read()
        .unwrap()
        .balances_at(EntityId::new(token), at)
        .into_iter()
        .filter(|(_, b)| *b != 0)
        .map(|(a, b)| (format!("0.0.{a}"), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_snapshot_equals_the_simulator_state_at_resolved_at_while_balances_churn() {
    let mut state = MirrorState::new();
    let first_snapshot = state.populate(EntityId::new(TOKEN), 3_000, 7);
    let config = SimulatorConfig {
        churn: Some(ChurnConfig {
            trigger: ChurnTrigger::EveryRequests(2),
            moves: 25,
        }),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("hedera", &spec(&sim, "0.0.5000"))
        .await
        .unwrap();

    assert!(
        sim.stats().churns() > 10,
        "balances must churn during the run"
    );
    let resolved = &taken.document.meta().resolved_at;
    assert_eq!(
        resolved,
        &format_timestamp(first_snapshot),
        "pinned to the snapshot that existed at the start"
    );
    let expected = expected_at(&sim, TOKEN, resolved);
    assert_eq!(holders(&taken), expected);
    let live: BTreeMap<String, String> = sim
        .state()
        .read()
        .unwrap()
        .live_balances(EntityId::new(TOKEN))
        .into_iter()
        .filter(|(_, b)| *b != 0)
        .map(|(a, b)| (format!("0.0.{a}"), b.to_string()))
        .collect();
    assert_ne!(
        holders(&taken),
        live,
        "the live table moved on; the snapshot did not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_above_2_pow_53_are_exact_and_sorted_exactly() {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(TOKEN), 500, 11);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("hedera", &spec(&sim, "0.0.5000"))
        .await
        .unwrap();

    let doc = &taken.document;
    let top: Vec<_> = doc.holders().take(2).collect();
    assert_eq!(top[0].balance.to_string(), i64::MAX.to_string());
    let balances: Vec<String> = doc.holders().map(|h| h.balance.to_string()).collect();
    assert!(balances.contains(&(2u64.pow(53) + 1).to_string()));
    let expected = expected_at(&sim, TOKEN, &doc.meta().resolved_at);
    assert_eq!(holders(&taken), expected);
    // Exact total: the sum of i64 values as an integer, no float anywhere.
    let total: i128 = expected.values().map(|b| b.parse::<i128>().unwrap()).sum();
    assert_eq!(doc.total_balance().to_string(), total.to_string());
    let json = String::from_utf8(json_bytes(&taken)).unwrap();
    assert!(json.contains("\"balance\":\"9223372036854775807\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nft_holders_are_counted_and_the_document_says_non_fungible() {
    let mut state = MirrorState::new();
    let nft = EntityId::new(7_000);
    state.add_token(TokenRecord::non_fungible(nft, "ART"));
    for (account, count) in [(1_001, 3), (1_002, 1), (1_003, 0), (1_004, 7)] {
        state.add_account(EntityId::new(account), None);
        state.set_balance(nft, EntityId::new(account), count);
    }
    state.take_snapshot_now();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("hedera", &spec(&sim, "0.0.7000"))
        .await
        .unwrap();

    let doc = &taken.document;
    assert_eq!(doc.meta().token.kind.as_str(), "non_fungible");
    assert_eq!(doc.meta().token.decimals, 0);
    let got: Vec<(String, String)> = doc
        .holders()
        .map(|h| (h.account.to_string(), h.balance.to_string()))
        .collect();
    assert_eq!(
        got,
        [("0.0.1004", "7"), ("0.0.1001", "3"), ("0.0.1002", "1")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(doc.total_balance().to_string(), "11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_token_is_not_found_before_any_balance_page_is_fetched() {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(TOKEN), 10, 1);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let err = host
        .snapshot("hedera", &spec(&sim, "0.0.999999"))
        .await
        .err()
        .expect("unknown token fails");

    assert!(
        matches!(&err, SnapshotError::BadInput(m) if m.contains("not found")),
        "{err}"
    );
    assert_eq!(sim.stats().requests(), 1, "only the token-info request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_token_ids_are_rejected_before_any_request() {
    let sim = simulator(MirrorState::new(), SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    for bad in [
        "",
        "0.0",
        "0.0.x",
        "1.2.3.4",
        "0.0.-5",
        "abc",
        "0x00000000000000000000000000000000000003e8",
    ] {
        let err = host
            .snapshot("hedera", &spec(&sim, bad))
            .await
            .err()
            .expect("bad id fails");
        assert!(
            matches!(&err, SnapshotError::BadInput(m) if m.contains("invalid token id") && m.contains("shard.realm.num")),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(sim.stats().requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_historical_snapshot_reads_the_balances_of_that_time() {
    let mut state = MirrorState::new();
    let token = EntityId::new(TOKEN);
    let old = state.populate(token, 300, 3);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9);
    let newer = state.churn(&mut rng, 50);
    assert!(newer > old);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    for at in [format_timestamp(old), format_timestamp(old + 1)] {
        let mut s = spec(&sim, "0.0.5000");
        s.at = Some(at);
        let taken = host.snapshot("hedera", &s).await.unwrap();
        assert_eq!(taken.document.meta().resolved_at, format_timestamp(old));
        assert_eq!(
            holders(&taken),
            expected_at(&sim, TOKEN, &format_timestamp(old))
        );
    }
    let latest = host
        .snapshot("hedera", &spec(&sim, "0.0.5000"))
        .await
        .unwrap();
    assert_eq!(latest.document.meta().resolved_at, format_timestamp(newer));
    assert_ne!(
        holders(&latest),
        expected_at(&sim, TOKEN, &format_timestamp(old))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_to_the_same_result() {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(TOKEN), 1_500, 5);
    let config = SimulatorConfig {
        rate_limit: Some(40.0),
        burst: Some(4.0),
        error_ratio: 0.1,
        seed: 42,
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    // The host is allowed more than the simulator accepts, so 429s happen.
    let host = TestHost::with_net(&sim.address().to_string(), 200, 16, |net| {
        net.retry.max_attempts = 8;
        net.retry.base_delay = Duration::from_millis(20);
    })
    .await;

    let taken = host
        .snapshot("hedera", &spec(&sim, "0.0.5000"))
        .await
        .unwrap();

    assert!(
        sim.stats().rate_limited() > 0,
        "the simulator refused some requests"
    );
    assert!(
        sim.stats().injected_errors() > 0,
        "the simulator failed some requests"
    );
    let expected = expected_at(&sim, TOKEN, &taken.document.meta().resolved_at);
    assert_eq!(holders(&taken), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_resumed_from_its_checkpoint_gives_identical_bytes() {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(TOKEN), 4_000, 21);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let uninterrupted = json_bytes(
        &host
            .snapshot("hedera", &spec(&sim, "0.0.5000"))
            .await
            .unwrap(),
    );

    let sink = Arc::new(CollectingSink::new("hedera"));
    let flag = sink.cancel_flag();
    // Cancel once, the first time 1,000 holders are in after the plugin
    // reported progress (it does right after each checkpoint; the callback
    // also runs after every emit, with the last report's `done`).
    let armed = std::sync::atomic::AtomicBool::new(true);
    let sink = Arc::new(Arc::try_unwrap(sink).ok().unwrap().with_progress(Box::new(
        move |holders, done, _| {
            if done > 0 && holders >= 1_000 && armed.swap(false, Ordering::SeqCst) {
                flag.store(true, Ordering::SeqCst);
            }
        },
    )));
    let err = host
        .snapshot_into("hedera", &spec(&sim, "0.0.5000"), sink.clone())
        .await
        .err()
        .expect("the run is cancelled");
    assert!(err.to_string().contains("cancelled"), "{err}");
    let checkpoint = sink.last_checkpoint().expect("a checkpoint was recorded");

    // Resume: same sink (what was emitted is kept), the last checkpoint.
    let resumed_sink = Arc::new(CollectingSink::new("hedera"));
    let mut s = spec(&sim, "0.0.5000");
    s.resume = Some(checkpoint);
    let resumed = host.snapshot_into("hedera", &s, resumed_sink).await;
    // A resume alone only re-reads what was left: it must not be complete...
    let partial = resumed.unwrap();
    assert!(partial.document.holder_count() < holders_count(&uninterrupted));
    // ...and together with the holders emitted before the stop it is exact.
    sink.cancel_flag().store(false, Ordering::SeqCst);
    let mut s = spec(&sim, "0.0.5000");
    s.resume = sink.last_checkpoint();
    let finished = host.snapshot_into("hedera", &s, sink).await.unwrap();
    assert!(
        json_bytes(&finished) == uninterrupted,
        "the resumed document differs from the uninterrupted one"
    );
}

fn holders_count(json: &[u8]) -> usize {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    v["holder_count"].as_u64().unwrap() as usize
}
