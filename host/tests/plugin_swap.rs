//! Plugins swapped under a running `snapshot-host serve` (the real binary,
//! real sockets, real simulators), end to end:
//!
//! - a third chain, Stellar — whose plugin is deliberately not bundled into
//!   the binary — copied into the default plugins directory of a running
//!   host, then serving snapshots equal to the Horizon simulator's state,
//!   without a restart;
//! - a job whose first attempt journaled batches on one build of the Hedera
//!   plugin, retried after the file was replaced by another build, starts
//!   over (journal and checkpoint are private to the build that wrote them)
//!   and finishes with the new build's document, the CLI's bytes.
//!
//! No sleep orders anything: every wait reads events or polls until a
//! deadline.

mod common;

// Shared with the in-process suites (crate snapshot-tests depends on this
// crate, so it cannot be a dev-dependency here).
#[path = "../../tests/src/plugin_files.rs"]
mod plugin_files;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::{Backend, Deployment, Events, Ledger, Server, now, token, wallet_token};
use ledger_simulators::horizon::{
    HorizonSimulator, HorizonState, SimulatorConfig as HorizonConfig, format_stroops,
};
use ledger_simulators::mirror_node::{EntityId, format_timestamp};
use plugin_files::{with_version, write_atomically};
use rand::SeedableRng;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use snapshot_host::registry::BUNDLED;

const STARTING_OVER: &str = "the plugin changed since this job's last attempt; starting it over";

fn admin_token() -> String {
    token(json!({ "sub": "admin-1", "roles": ["admin"], "exp": now() + 3600 }))
}

fn bundled(name: &str) -> Vec<u8> {
    BUNDLED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no bundled {name}"))
        .1
        .to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Stellar plugin's component, built from `plugins/stellar` (this
/// crate's tests cannot see `tests/build.rs`'s `STELLAR_WASM`); from a clean
/// checkout this is the first build, otherwise cargo finds it fresh.
fn stellar_wasm() -> &'static [u8] {
    static BUILT: OnceLock<Vec<u8>> = OnceLock::new();
    BUILT.get_or_init(|| common::guest_wasm("plugins/stellar", "snapshot_plugin_stellar.wasm"))
}

/// The next `plugins_changed` event on an admin's socket.
async fn next_change(events: &mut Events) -> Value {
    loop {
        let event = events.next().await;
        if event["type"] == "plugins_changed" {
            return event["payload"].clone();
        }
    }
}

/// `POST /snapshots/generate/{token_id}` with `body`.
async fn generate(server: &Server, wallet: &str, token_id: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(&format!("/snapshots/generate/{token_id}")))
        .bearer_auth(wallet)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// `123.4500000` → `123.45`, `5.0000000` → `5`: how the document writes an
/// amount of a token with 0 decimals and 7 fraction digits (as
/// `tests/tests/stellar.rs` compares).
fn canonical(seven_places: &str) -> String {
    let trimmed = seven_places.trim_end_matches('0');
    trimmed.trim_end_matches('.').to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_chain_copied_into_the_plugins_directory_serves_without_a_restart() {
    let stellar = tokio::task::spawn_blocking(stellar_wasm).await.unwrap();

    // A Horizon ledger: a multi-page walk (pages of 200), zero balances that
    // are no holders, decoy assets of the same code or issuer, and the
    // extreme amounts.
    let mut state = HorizonState::new();
    let asset = state.new_asset("USDC");
    state.populate(&asset, 1_050, 7);
    let (max, tiny) = (state.new_account(), state.new_account());
    state.set_balance(&max, &asset, i64::MAX);
    state.set_balance(&tiny, &asset, 1);
    let horizon = HorizonSimulator::start(HorizonConfig::default(), state.into_shared())
        .await
        .expect("the Horizon simulator starts");
    let expected: BTreeMap<String, String> = horizon
        .state()
        .read()
        .unwrap()
        .holders(&asset)
        .into_iter()
        .map(|(a, b)| (a, canonical(&format_stroops(i128::from(b)))))
        .collect();
    assert_eq!(expected[&max], "922337203685.4775807");
    assert_eq!(expected[&tiny], "0.0000001");

    // The harness's host needs a mirror node too; this one is not used.
    let ledger = Ledger::start(3, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let server = deployment.serve_with_args(
        &ledger.sim,
        &["--rate-limit".into(), format!("{}=40:8", horizon.address())],
        &[("SNAPSHOT_ENDPOINT_STELLAR", &horizon.base_url())],
    );
    let wallet = wallet_token("0.0.1001");
    let token_id = asset.to_string();

    // No plugin handles the chain yet: refused before anything is queued.
    assert!(!server.plugins(&admin_token()).await.contains_key("stellar"));
    let resp = generate(&server, &wallet, &token_id, json!({ "chain": "stellar" })).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no plugin handles chain `stellar`"),
        "{body}"
    );
    assert_eq!(horizon.stats().requests(), 0, "nothing asked of Horizon");
    assert!(
        server.history(&wallet).await["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing queued"
    );

    // A plain copy into the default plugins directory (`<data-dir>/plugins`),
    // no temporary name: the watcher sees the file created and written, and
    // must end up with the whole file loaded.
    let mut admin_events = server.events(&admin_token()).await;
    let staged = tempfile::tempdir().unwrap();
    let source = staged.path().join("stellar.wasm");
    std::fs::write(&source, stellar).unwrap();
    let plugins_dir = deployment.data_dir().join("plugins");
    assert!(plugins_dir.is_dir(), "serve created its plugins directory");
    std::fs::copy(&source, plugins_dir.join("stellar.wasm")).unwrap();
    let added = loop {
        let change = next_change(&mut admin_events).await;
        assert_eq!(change["name"], "stellar", "{change}");
        match change["action"].as_str() {
            Some("added") => break change,
            // The copy seen half-written: rejected, then the full file loads.
            Some("rejected") => eprintln!("a partial copy was rejected first: {change}"),
            _ => panic!("unexpected change: {change}"),
        }
    };
    let sha = sha256_hex(stellar);
    assert_eq!(added["sha256"], sha.as_str(), "{added}");
    assert_eq!(added["file"], "stellar.wasm", "{added}");
    let listed = server.plugins(&admin_token()).await;
    let view = &listed["stellar"];
    assert_eq!(view["origin"], "file", "{view}");
    assert_eq!(view["file"], "stellar.wasm", "{view}");
    assert_eq!(view["chains"], json!(["stellar"]), "{view}");
    assert_eq!(view["sha256"], sha.as_str(), "{view}");
    assert_eq!(listed["hedera"]["origin"], "bundled", "the others stay");

    // The same request now runs, on the same process, to the simulator's
    // exact state.
    let resp = generate(&server, &wallet, &token_id, json!({ "chain": "stellar" })).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let job = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    let done = server.finished(&wallet, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["chain"], "stellar", "{done}");
    assert_eq!(
        done["plugin"],
        format!("stellar@{}", view["version"].as_str().unwrap())
    );
    assert_eq!(done["pluginSha256"], sha.as_str(), "{done}");
    assert_eq!(done["holderCount"], expected.len(), "{done}");
    let document: Value =
        serde_json::from_slice(&server.download(&wallet, &job, "json").await).unwrap();
    assert_eq!(document["chain"], "stellar");
    assert_eq!(document["token_id"], token_id.as_str());
    assert_eq!(document["plugin"]["name"], "stellar");
    assert_eq!(document["plugin"]["sha256"], sha.as_str());
    let holders: BTreeMap<String, String> = document["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["account"].as_str().unwrap().to_string(),
                h["balance"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(holders.len(), document["holders"].as_array().unwrap().len());
    assert!(
        holders == expected,
        "the document's holders differ from Horizon's"
    );
    assert!(
        horizon.stats().served_route("accounts") >= 6,
        "a multi-page walk"
    );
}

/// `snapshot TOKEN --chain hedera --at AT --plugins-dir DIR`: the CLI's
/// document with the plugins of `plugins_dir`.
async fn cli_document(ledger: &Ledger, at: &str, plugins_dir: &Path, cache: &Path) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snapshot-host"));
    cmd.args(["snapshot", "0.0.5000", "--chain", "hedera", "--endpoint"])
        .arg(ledger.sim.base_url())
        .args(["--at", at, "--rate-limit"])
        .arg(format!("{}=40:8", ledger.sim.address()))
        .arg("--plugins-dir")
        .arg(plugins_dir)
        .env("SNAPSHOT_CACHE_DIR", cache);
    common::stdout_of(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_job_retried_after_its_plugin_was_replaced_starts_over() {
    a_job_retried_after_its_plugin_was_replaced_starts_over(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_job_retried_after_its_plugin_was_replaced_starts_over() {
    a_job_retried_after_its_plugin_was_replaced_starts_over(Backend::Redis).await
}

/// Why starting over is observable: the job is pinned at a point `at` an
/// hour past the mirror node's latest balance file, so the snapshot at `at`
/// is the latest file at or before it. The first attempt resolves the
/// file F1 there and journals batches and checkpoints of it (every page is
/// pinned to F1's time). While the job waits for its retry, the mirror node
/// imports a new file F2, still before `at`. A retry that resumed the old
/// build's checkpoint would finish F1 (resolved at F1's time, F1's balances);
/// one that starts over resolves `at` again and finishes F2 — what the CLI
/// gives for the same `at` with the new build, byte for byte.
async fn a_job_retried_after_its_plugin_was_replaced_starts_over(backend: Backend) {
    // Long enough a walk (~130 pages at the harness's 40 requests/s) that
    // the plugin file is replaced while the first attempt still runs.
    let ledger = Ledger::start(12_000, 25).await;
    let deployment = Deployment::new(backend);
    let first_file = {
        let state = ledger.sim.state().read().unwrap();
        state.latest_snapshot_timestamp().unwrap()
    };
    let at = format_timestamp(first_file + 3_600 * 1_000_000_000);

    let old = with_version(&bundled("hedera"), "0.1.1");
    let new = with_version(&bundled("hedera"), "0.1.2");
    let (old_sha, new_sha) = (sha256_hex(&old), sha256_hex(&new));
    assert_ne!(old_sha, new_sha);
    let plugins_dir = tempfile::tempdir().unwrap();
    let file = plugins_dir.path().join("hedera.wasm");
    write_atomically(&file, &old);

    // Compile the new build into the host's compile cache beforehand (the
    // CLI's engine is the same), so its hot load is quick and lands while
    // the first attempt still runs; the swap itself is untouched.
    let cache = deployment.data_dir().join("cache");
    let warm = tempfile::tempdir().unwrap();
    std::fs::write(warm.path().join("hedera.wasm"), &new).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snapshot-host"));
    cmd.args(["plugin", "list", "--plugins-dir"])
        .arg(warm.path())
        .env("SNAPSHOT_CACHE_DIR", &cache);
    let listed = String::from_utf8(common::stdout_of(cmd).await).unwrap();
    assert!(listed.contains("hedera@0.1.2"), "{listed}");

    let dir = plugins_dir.path().to_str().unwrap();
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(&ledger.sim, &[("SNAPSHOT_PLUGINS_DIR", dir)])
    });
    let hedera = server.plugins(&admin_token()).await["hedera"].clone();
    assert_eq!(hedera["version"], "0.1.1", "{hedera}");
    assert_eq!(hedera["sha256"], old_sha.as_str(), "{hedera}");
    let mut admin_events = server.events(&admin_token()).await;
    let alice = wallet_token("0.0.1001");

    // The first attempt, on 0.1.1, journals batches and checkpoints (the
    // progress moves only when a checkpoint is taken).
    let job = server
        .submit_job(&alice, json!({ "chain": "hedera", "at": at }))
        .await;
    let running = server
        .wait_for(&alice, &job, |s| {
            s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
        })
        .await;
    assert_eq!(running["attempts"], 1, "{running}");
    assert_eq!(running["plugin"], "hedera@0.1.1", "{running}");
    assert_eq!(running["pluginSha256"], old_sha.as_str(), "{running}");

    // The operator replaces the file (temporary name, renamed into place).
    // The running attempt keeps the build it started with. (Replaced now
    // rather than once the job waits: the queue's retry comes a fixed 2 s
    // after the failure, which a hot load must not have to race.)
    write_atomically(&file, &new);
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "replaced", "{change}");
    assert_eq!(change["version"], "0.1.2", "{change}");
    assert_eq!(change["previousVersion"], "0.1.1", "{change}");
    let hedera = server.plugins(&admin_token()).await["hedera"].clone();
    assert_eq!(hedera["sha256"], new_sha.as_str(), "{hedera}");
    let still = server.status(&alice, &job).await;
    eprintln!(
        "the swap landed at {}% of the first attempt",
        still["progress"]
    );
    assert_eq!(
        still["status"], "active",
        "the first attempt must still be running when the swap lands: {still}"
    );

    // The mirror node goes down: the attempt fails after the gateway's own
    // retries and the job waits for the queue's retry, saying why.
    ledger.faults.fail_all(503);
    let retrying = server
        .wait_for(&alice, &job, |s| {
            s["status"] == "waiting" && s["error"].is_string()
        })
        .await;
    // Meanwhile a new balance file arrives, before `at`; then the mirror
    // node is back (within the queue's 2 s backoff).
    let second_file = {
        let mut state = ledger.sim.state().write().unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(99);
        state.churn(&mut rng, 500)
    };
    ledger.faults.clear();
    assert!(
        retrying["error"].as_str().unwrap().contains("503"),
        "{retrying}"
    );
    assert_eq!(retrying["attempts"], 1, "{retrying}");
    assert_eq!(retrying["plugin"], "hedera@0.1.1", "{retrying}");
    assert!(second_file > first_file);
    assert!(format_timestamp(second_file) < at);
    {
        let state = ledger.sim.state().read().unwrap();
        let token = EntityId::new(5_000);
        assert_ne!(
            state.balances_at(token, first_file),
            state.balances_at(token, second_file),
            "the new file moved balances"
        );
    }

    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["attempts"], 2, "one retry, on the new build: {done}");
    assert_eq!(done["plugin"], "hedera@0.1.2", "{done}");
    assert_eq!(done["pluginSha256"], new_sha.as_str(), "{done}");
    assert!(done["error"].is_null(), "{done}");
    assert_eq!(
        done["resolvedAt"],
        format_timestamp(second_file),
        "the retry resolved `at` afresh instead of resuming the old build's checkpoint: {done}"
    );
    let line = server.wait_for_log(STARTING_OVER).await;
    assert!(line.contains(&job), "{line}");
    assert!(line.contains(&old_sha) && line.contains(&new_sha), "{line}");
    assert_eq!(server.log_lines(STARTING_OVER).len(), 1);

    let json = server.download(&alice, &job, "json").await;
    let document: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(document["plugin"]["version"], "0.1.2");
    assert_eq!(document["plugin"]["sha256"], new_sha.as_str());
    // The plugins directory now holds only the new build.
    let cli = cli_document(&ledger, &at, plugins_dir.path(), &cache).await;
    assert!(
        json == cli,
        "the service's document differs from the CLI's with the new build"
    );
}
