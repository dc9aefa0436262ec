//! The Stellar plugin — written only against the public plugin SDK and not bundled into the host
//! binary — loaded from a plugins directory the way `--plugins-dir` loads it, run in the real
//! sandbox through the real host path, against the Horizon simulator.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ledger_simulators::horizon::{
    Asset, Authorization, HorizonSimulator, HorizonState, LedgerAdvance, LedgerTrigger,
    RateLimitConfig, RunningSimulator, SimulatorConfig, TrustLine, format_stroops,
};
use snapshot_host::config::{RateLimitOverride, net_config};
use snapshot_host::jobs::{CollectingSink, SnapshotError, SnapshotSpec, TakenSnapshot};
use snapshot_host::net::{HostLimit, HttpGateway, NetConfig};
use snapshot_host::registry::{PluginOrigin, PluginRegistry};
use snapshot_host::runtime::{CompileCache, EngineOptions, LoadedPlugin, PluginEngine};
use snapshot_tests::guests::STELLAR_WASM;
use snapshot_tests::host::{TestHost, json_bytes};

/// A host wired like `snapshot --plugins-dir DIR`: the bundled plugins, then every `.wasm` of a
/// directory holding only the Stellar plugin, the gateway built from all their manifests plus a
/// limit for the simulator.
struct PluginsDirHost {
    host: TestHost,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for PluginsDirHost {
    type Target = TestHost;
    fn deref(&self) -> &TestHost {
        &self.host
    }
}

async fn registry_with_plugins_dir(dir: &Path) -> PluginRegistry {
    let engine = PluginEngine::new(EngineOptions::default()).expect("engine");
    // A compile cache, as `serve` and `snapshot` have: every test after the first loads the
    // compiled components instead of compiling them again.
    let cache =
        CompileCache::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("stellar-component-cache"));
    let registry = PluginRegistry::new(engine, Some(cache));
    registry.load_bundled().await.expect("bundled plugins load");
    registry
        .load_dir(dir)
        .await
        .expect("the plugins directory loads");
    registry
}

async fn host_with(
    sim: &RunningSimulator,
    rps: u32,
    adjust: impl FnOnce(&mut NetConfig),
) -> PluginsDirHost {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(STELLAR_WASM, dir.path().join("stellar.wasm")).expect("copy the plugin");
    let registry = registry_with_plugins_dir(dir.path()).await;
    let overrides = [RateLimitOverride {
        host: sim.address().to_string(),
        limit: HostLimit {
            requests_per_second: rps,
            max_concurrency: 4,
        },
    }];
    let plugins: Vec<Arc<LoadedPlugin>> = registry.list().into_iter().map(|r| r.plugin).collect();
    let mut net = net_config(plugins.iter().map(|p| &p.manifest), &overrides);
    adjust(&mut net);
    PluginsDirHost {
        host: TestHost {
            registry,
            gateway: HttpGateway::new(net),
        },
        _dir: dir,
    }
}

async fn host_for(sim: &RunningSimulator) -> PluginsDirHost {
    host_with(sim, 500, |_| {}).await
}

async fn simulator(state: HorizonState, config: SimulatorConfig) -> RunningSimulator {
    HorizonSimulator::start(config, state.into_shared())
        .await
        .expect("simulator starts")
}

fn spec(sim: &RunningSimulator, token: &str) -> SnapshotSpec {
    SnapshotSpec {
        token_id: token.to_string(),
        endpoint: Some(sim.base_url()),
        ..SnapshotSpec::default()
    }
}

fn with_option(mut s: SnapshotSpec, key: &str, value: &str) -> SnapshotSpec {
    s.options.push((key.to_string(), value.to_string()));
    s
}

/// `account → balance` of the document.
fn holders(taken: &TakenSnapshot) -> BTreeMap<String, String> {
    taken
        .document
        .holders()
        .map(|h| (h.account.to_string(), h.balance.to_string()))
        .collect()
}

/// The simulator's non-zero balances of `asset`, as the document writes them (the exact decimal,
/// trailing zeros trimmed by the canonical amount).
fn expected(sim: &RunningSimulator, asset: &Asset) -> BTreeMap<String, String> {
    sim.state()
        .read()
        .unwrap()
        .holders(asset)
        .into_iter()
        .map(|(a, b)| (a, canonical(&format_stroops(i128::from(b)))))
        .collect()
}

/// `123.4500000` → `123.45`, `5.0000000` → `5`.
fn canonical(seven_places: &str) -> String {
    let trimmed = seven_places.trim_end_matches('0');
    trimmed.trim_end_matches('.').to_string()
}

fn attribute<'t>(taken: &'t TakenSnapshot, key: &str) -> Option<&'t str> {
    taken
        .document
        .meta()
        .attributes
        .get(key)
        .map(String::as_str)
}

fn populated(holders: usize, seed: u64) -> (HorizonState, Asset) {
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    state.populate(&asset, holders, seed);
    (state, asset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_comes_from_the_plugins_directory_not_from_the_binary() {
    let engine = PluginEngine::new(EngineOptions::default()).expect("engine");
    let bundled_only = PluginRegistry::new(engine, None);
    bundled_only.load_bundled().await.unwrap();
    assert!(
        bundled_only.for_chain("stellar").is_err(),
        "stellar must not be bundled into the binary"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(STELLAR_WASM, dir.path().join("stellar.wasm")).unwrap();
    let registry = registry_with_plugins_dir(dir.path()).await;
    let plugin = registry
        .for_chain("stellar")
        .expect("loaded from the directory");
    assert_eq!(plugin.name(), "stellar");
    let entry = registry
        .list()
        .into_iter()
        .find(|r| r.plugin.name() == "stellar")
        .unwrap();
    assert_eq!(
        entry.origin,
        PluginOrigin::File(dir.path().join("stellar.wasm"))
    );
    let manifest = &plugin.manifest;
    assert_eq!(manifest.default_network(), Some("mainnet"));
    assert_eq!(
        manifest.endpoint_of("testnet"),
        Some("https://horizon-testnet.stellar.org")
    );
    assert_eq!(manifest.config["page_size"].default, "200");
    assert!(manifest.plugin.token_id_syntax.contains("CODE:ISSUER"));
    assert!(manifest.plugin.token_id_syntax.contains("CONSISTENCY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_seven_decimal_amounts_survive_end_to_end() {
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    let amounts = [
        (1i64, "0.0000001"),
        (i64::MAX, "922337203685.4775807"),
        (10_000_000, "1"),
        (1_234_567_890, "123.456789"),
        (9_007_199_254_740_993, "900719925.4740993"),
    ];
    let mut accounts = Vec::new();
    for (stroops, _) in amounts {
        let id = state.new_account();
        state.set_balance(&id, &asset, stroops);
        accounts.push(id);
    }
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    let got = holders(&taken);
    for (id, (_, text)) in accounts.iter().zip(amounts) {
        assert_eq!(got[id], text, "{id}");
    }
    let doc = &taken.document;
    assert_eq!(doc.meta().chain, "stellar");
    assert_eq!(doc.meta().token_id, asset.to_string());
    assert_eq!(doc.meta().token.symbol, "USDC");
    assert_eq!(doc.meta().token.decimals, 0);
    // The exact sum, far beyond int64 stroops and beyond an f64's 53 bits.
    assert_eq!(doc.total_balance().to_string(), "923237923735.4084691");
    let json = String::from_utf8(json_bytes(&taken)).unwrap();
    assert!(json.contains(r#""balance":"922337203685.4775807""#));
    assert!(json.contains(r#""balance":"0.0000001""#));
    assert!(json.contains(r#""sum_check":"passed""#), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_page_walk_follows_the_cursor_and_returns_every_holder_once() {
    let (state, asset) = populated(1_050, 7);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    assert_eq!(holders(&taken), expected(&sim, &asset));
    assert_eq!(
        sim.stats().served_route("accounts"),
        7,
        "6 pages of at most 200 and the empty page that ends the walk"
    );
    assert_eq!(taken.holders_emitted as usize, expected(&sim, &asset).len());

    // A smaller page size walks the same holders in more pages.
    let before = sim.stats().served_route("accounts");
    let small = host
        .snapshot(
            "stellar",
            &with_option(spec(&sim, &asset.to_string()), "page_size", "100"),
        )
        .await
        .unwrap();
    assert_eq!(sim.stats().served_route("accounts") - before, 12);
    assert_eq!(json_bytes(&small), json_bytes(&taken));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_assets_of_the_same_account_and_zero_balances_are_excluded() {
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    let same_code_other_issuer = state.new_asset("USDC");
    let other_code_same_issuer = state.add_asset("EURC", &asset.issuer);
    let long_code = state.add_asset("USDCLONG", &asset.issuer);
    let (a, b, zero, only_decoys) = (
        state.new_account(),
        state.new_account(),
        state.new_account(),
        state.new_account(),
    );
    state.set_balance(&a, &asset, 50_000_000);
    state.set_balance(&a, &same_code_other_issuer, 7_000_000_000);
    state.set_balance(&a, &other_code_same_issuer, 8_000_000_000);
    state.set_balance(&a, &long_code, 9_000_000_000);
    state.set_balance(&b, &asset, 1);
    state.set_balance(&zero, &asset, 0);
    state.set_balance(&zero, &other_code_same_issuer, 100);
    state.set_balance(&only_decoys, &same_code_other_issuer, 100);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    let got: Vec<(String, String)> = holders(&taken).into_iter().collect();
    let mut want = vec![(a, "5".to_string()), (b, "0.0000001".to_string())];
    want.sort();
    assert_eq!(got, want, "only the USDC of this issuer, zero is no holder");
    assert_eq!(taken.document.holder_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_line_flags_are_carried_as_holder_attributes() {
    let mut state = HorizonState::new();
    let asset = state.new_asset("AQUA1");
    let (frozen, clawable) = (state.new_account(), state.new_account());
    state.set_trust_line(
        &frozen,
        &asset,
        TrustLine {
            authorization: Authorization::Unauthorized,
            ..TrustLine::authorized(30_000_000)
        },
    );
    state.set_trust_line(
        &clawable,
        &asset,
        TrustLine {
            clawback_enabled: true,
            ..TrustLine::authorized(20_000_000)
        },
    );
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    let json: serde_json::Value = serde_json::from_slice(&json_bytes(&taken)).unwrap();
    let by_account: BTreeMap<&str, &serde_json::Value> = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["account"].as_str().unwrap(), &h["attributes"]))
        .collect();
    assert_eq!(by_account[frozen.as_str()]["is_authorized"], "false");
    assert_eq!(
        by_account[frozen.as_str()]["is_authorized_to_maintain_liabilities"],
        "false"
    );
    assert_eq!(by_account[clawable.as_str()]["is_authorized"], "true");
    assert_eq!(by_account[clawable.as_str()]["is_clawback_enabled"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_asset_is_not_found_before_any_account_page() {
    let (state, asset) = populated(10, 1);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let unknown = format!("NOPE:{}", asset.issuer);

    let err = host
        .snapshot("stellar", &spec(&sim, &unknown))
        .await
        .err()
        .expect("unknown asset fails");

    assert!(
        matches!(&err, SnapshotError::BadInput(m) if m.contains("not found") && m.contains("NOPE")),
        "{err}"
    );
    assert_eq!(sim.stats().requests(), 1, "only the /assets request");
    assert_eq!(sim.stats().served_route("assets"), 1);
    assert_eq!(sim.stats().served_route("accounts"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_asset_ids_are_rejected_before_any_request() {
    let (state, asset) = populated(3, 1);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let issuer = &asset.issuer;
    let last = issuer.chars().last().unwrap();
    let bad_checksum = format!(
        "USDC:{}{}",
        &issuer[..55],
        if last == 'A' { 'B' } else { 'A' }
    );
    for (bad, why) in [
        (bad_checksum.as_str(), "checksum"),
        (&format!("TOOLONGCODE13:{issuer}"), "13 characters"),
        (&format!("US_D:{issuer}"), "not a letter or digit"),
        (&format!(":{issuer}"), "asset code is empty"),
        ("USDC", "no `:`"),
        ("USDC:GABC", "4 characters"),
        (&format!("USDC:S{}", &issuer[1..]), "secret seed"),
        (&format!("USDC:{}", issuer.to_lowercase()), "start with `G`"),
        ("native", "native asset"),
        ("", "empty"),
    ] {
        let err = host
            .snapshot("stellar", &spec(&sim, bad))
            .await
            .err()
            .expect("a malformed id fails");
        assert!(
            matches!(&err, SnapshotError::BadInput(m)
                if m.contains("invalid token id") && m.contains(why) && m.contains("CODE:ISSUER")),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(sim.stats().requests(), 0, "no request for a malformed id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_in_time_is_refused_because_horizon_cannot_pin_accounts() {
    let (state, asset) = populated(3, 1);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let mut s = spec(&sim, &asset.to_string());
    s.at = Some("50000000".into());

    let err = host.snapshot("stellar", &s).await.err().expect("refused");

    assert!(
        matches!(&err, SnapshotError::BadInput(m) if m.contains("past point in time")),
        "{err}"
    );
    assert_eq!(sim.stats().requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_within_one_ledger_is_single_ledger_and_sum_checked() {
    let (state, asset) = populated(600, 4);
    let ledger = state.ledger();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    assert_eq!(taken.document.meta().resolved_at, ledger.to_string());
    assert_eq!(attribute(&taken, "consistency"), Some("single-ledger"));
    assert_eq!(
        attribute(&taken, "ledger_first"),
        Some(ledger.to_string().as_str())
    );
    assert_eq!(attribute(&taken, "sum_check"), Some("passed"));
    assert_eq!(
        attribute(&taken, "claimable_balances_amount"),
        Some("0.0000000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledgers_closing_during_the_walk_are_reported_not_hidden() {
    let (state, asset) = populated(1_000, 5);
    let start = state.ledger();
    let config = SimulatorConfig {
        ledger_advance: Some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(2),
            churn: Some((asset.clone(), 20)),
        }),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("stellar", &spec(&sim, &asset.to_string()))
        .await
        .unwrap();

    assert!(sim.stats().ledgers_closed() >= 3);
    assert_eq!(attribute(&taken, "consistency"), Some("ledger-range"));
    let first: u32 = attribute(&taken, "ledger_first").unwrap().parse().unwrap();
    let last: u32 = attribute(&taken, "ledger_last").unwrap().parse().unwrap();
    assert!(start <= first && first < last, "{start} {first}..{last}");
    assert_eq!(taken.document.meta().resolved_at, last.to_string());
    assert_eq!(attribute(&taken, "sum_check"), Some("unavailable"));
    assert!(
        attribute(&taken, "sum_check_reason")
            .unwrap()
            .contains("across ledgers")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_honoured_and_give_the_same_result() {
    let (state, asset) = populated(1_200, 9);
    let reference = {
        let sim = simulator(state.clone(), SimulatorConfig::default()).await;
        let host = host_for(&sim).await;
        let taken = host
            .snapshot("stellar", &spec(&sim, &asset.to_string()))
            .await
            .unwrap();
        json_bytes(&taken)
    };

    // A small bucket, a host allowed far more, and the plugin's header pacing off: the walk runs
    // into 429s, which the host retries after Retry-After.
    let config = SimulatorConfig {
        rate_limit: Some(RateLimitConfig {
            rate: 20.0,
            burst: 2.0,
        }),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_with(&sim, 500, |net| {
        net.retry.max_attempts = 10;
        net.retry.max_retry_after = Duration::from_millis(100);
    })
    .await;
    let taken = host
        .snapshot(
            "stellar",
            &with_option(spec(&sim, &asset.to_string()), "rate_limit_low_water", "0"),
        )
        .await
        .unwrap();

    assert!(
        sim.stats().rate_limited() > 0,
        "the simulator refused some requests"
    );
    assert_eq!(
        json_bytes(&taken),
        reference,
        "the same document as without limits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_ratelimit_headers_slow_the_walk_before_the_server_refuses() {
    let (state, asset) = populated(1_200, 9);
    let config = SimulatorConfig {
        rate_limit: Some(RateLimitConfig {
            rate: 20.0,
            burst: 8.0,
        }),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot(
            "stellar",
            &with_option(spec(&sim, &asset.to_string()), "rate_limit_low_water", "3"),
        )
        .await
        .unwrap();

    assert_eq!(holders(&taken), expected(&sim, &asset));
    assert!(
        sim.stats().served() > 8,
        "more requests than the bucket holds"
    );
    assert_eq!(
        sim.stats().rate_limited(),
        0,
        "the plugin paced itself from X-RateLimit-Remaining / -Reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_resumed_from_its_checkpoint_gives_identical_bytes() {
    let (state, asset) = populated(2_000, 21);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let token = asset.to_string();
    let uninterrupted = json_bytes(&host.snapshot("stellar", &spec(&sim, &token)).await.unwrap());

    // Cancel once, the first time 600 holders are in.
    let sink = CollectingSink::new("stellar");
    let flag = sink.cancel_flag();
    let armed = AtomicBool::new(true);
    let sink = Arc::new(sink.with_progress(Box::new(move |holders, _, _| {
        if holders >= 600 && armed.swap(false, Ordering::SeqCst) {
            flag.store(true, Ordering::SeqCst);
        }
    })));
    let err = host
        .snapshot_into("stellar", &spec(&sim, &token), sink.clone())
        .await
        .err()
        .expect("the run is cancelled");
    assert!(err.to_string().contains("cancelled"), "{err}");
    let checkpoint = sink.last_checkpoint().expect("a checkpoint was recorded");
    let cp: serde_json::Value = serde_json::from_str(&checkpoint).unwrap();
    assert!(cp["cursor"].is_string(), "{cp}");

    // A resume alone reads only what was left...
    let mut s = spec(&sim, &token);
    s.resume = Some(checkpoint);
    let partial = host
        .snapshot_into("stellar", &s, Arc::new(CollectingSink::new("stellar")))
        .await
        .unwrap();
    assert!(partial.document.holder_count() < expected(&sim, &asset).len());
    // ...and with the holders emitted before the stop it is exact, to the byte.
    sink.cancel_flag().store(false, Ordering::SeqCst);
    let mut s = spec(&sim, &token);
    s.resume = sink.last_checkpoint();
    let finished = host.snapshot_into("stellar", &s, sink).await.unwrap();
    assert!(
        json_bytes(&finished) == uninterrupted,
        "the resumed document differs from the uninterrupted one"
    );
}
