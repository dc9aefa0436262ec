//! The fault suite: `snapshot-host serve` (the real binary, real queue and
//! store, real redis-server and IPFS node) while things break under it, and
//! every job still ends with the bytes of an undisturbed run.
//!
//! - the host SIGKILLed at seeded points of a snapshot, on both backends;
//! - the ledger APIs (the simulators' shared fault layer) answering 429s with
//!   and without `Retry-After`, 5xx, dropped connections, truncated bodies,
//!   malformed JSON and latency spikes;
//! - Redis killed and restarted mid-run; the IPFS node stopped mid-run.
//!
//! Random choices come from one seed, printed by every test; rerun with
//! `FAULTS_SEED=<n> cargo test -p snapshot-host --test faults` to explore
//! others or replay a failure.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Backend, Deployment, Ledger, Server, wallet_token};
use ledger_simulators::faults::{FaultPlan, FaultStats};
use ledger_simulators::mirror_node::{
    EntityId, Faults, MirrorNodeSimulator, MirrorState, SimulatorConfig, format_timestamp,
};
use ledger_simulators::xrpl::{self, XrplLedgerState, XrplSimulator};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use common::{await_ready, free_port};

#[allow(dead_code)]
#[path = "../../tests/src/ipfs.rs"]
mod ipfs;
use ipfs::IpfsDaemon;

/// The seed when `FAULTS_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_126;

/// How long any one wait of this suite may take (debug builds, two busy
/// cores, retries with backoff).
const DEADLINE: Duration = Duration::from_secs(120);

/// The suite's seed (`FAULTS_SEED`, else [`DEFAULT_SEED`]), printed so a
/// failure can be replayed.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("FAULTS_SEED")
        .ok()
        .map(|s| s.trim().parse().expect("FAULTS_SEED is a whole number"))
        .unwrap_or(DEFAULT_SEED);
    eprintln!("{test}: FAULTS_SEED={seed}");
    seed
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `serve` on the deployment, in front of `ledger` (blocking start-up).
fn serve(deployment: &Deployment, ledger: &Ledger, env: &[(&str, &str)]) -> Server {
    tokio::task::block_in_place(|| deployment.serve_with(&ledger.sim, env))
}

// ----- SIGKILL at seeded points ----------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_host_sigkilled_at_seeded_points_resumes_every_job_to_identical_bytes() {
    sigkill_trials(Backend::Sqlite, 6, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_host_sigkilled_at_seeded_points_resumes_every_job_to_identical_bytes() {
    sigkill_trials(Backend::Redis, 6, 2).await
}

/// `trials` jobs on one deployment; each gets its host SIGKILLed once the
/// simulator has seen a seeded number of the walk's upstream requests (from
/// none at all to the whole walk), then a new host on the same data (and
/// Redis) finishes it. Every document hashes as the CLI's uninterrupted run.
async fn sigkill_trials(backend: Backend, trials: usize, stream: u64) {
    let seed = seed(&format!("sigkill {backend:?}"));
    let mut rng = StdRng::seed_from_u64(seed ^ stream);
    // 4,000 accounts, 20 ms per request: about 45 requests over a second or
    // two, so most kill points land mid-walk.
    let ledger = Ledger::start(4_000, 20).await;
    let before = ledger.sim.stats().requests();
    let reference = ledger.cli_document().await;
    let walk = ledger.sim.stats().requests() - before;
    let want = sha256_hex(&reference);
    eprintln!("an uninterrupted run: {walk} upstream requests, sha256 {want}");

    let deployment = Deployment::new(backend);
    let alice = wallet_token("0.0.1001");
    let mut server = serve(&deployment, &ledger, &[]);
    let mut jobs = Vec::new();
    for trial in 0..trials {
        let kill_after = rng.random_range(0..=walk);
        eprintln!("trial {trial}: SIGKILL after {kill_after} of {walk} upstream requests");
        let start = ledger.sim.stats().requests();
        let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
        until_requests_or_finished(&ledger, &server, &alice, &job, start + kill_after).await;
        server.kill();

        server = serve(&deployment, &ledger, &[]);
        let done = server.finished(&alice, &job).await;
        assert_eq!(done["status"], "completed", "trial {trial}: {done}");
        let doc = server.download(&alice, &job, "json").await;
        assert_eq!(
            sha256_hex(&doc),
            want,
            "trial {trial} (kill after {kill_after} requests): the document differs"
        );
        jobs.push(job);
    }
    // Nothing was lost on the way: every job is still there, completed,
    // with the same bytes, after all those restarts.
    let history = server.history(&alice).await;
    let listed: BTreeSet<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["jobId"].as_str())
        .collect();
    for job in &jobs {
        assert!(listed.contains(job.as_str()), "{job} is in the history");
        assert_eq!(server.status(&alice, job).await["status"], "completed");
        assert_eq!(
            sha256_hex(&server.download(&alice, job, "json").await),
            want
        );
    }
}

/// Waits until the simulator has received `target` requests in all, or the
/// job finished (a kill point past the walk's end).
async fn until_requests_or_finished(
    ledger: &Ledger,
    server: &Server,
    token: &str,
    job: &str,
    target: u64,
) {
    let deadline = Instant::now() + DEADLINE;
    let mut polls = 0u64;
    while ledger.sim.stats().requests() < target {
        polls += 1;
        if polls.is_multiple_of(20) {
            let status = server.status(token, job).await;
            if matches!(status["status"].as_str(), Some("completed" | "failed")) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the job never made progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ----- unreliable upstreams --------------------------------------------------

/// Every fault kind, at the suite's rates: 10 % 429 (half with
/// `Retry-After`), 5 % 5xx, 3 % resets, 3 % truncated bodies, 1 % 200s with
/// cut-short JSON, 3 % latency spikes.
fn unreliable(seed: u64) -> FaultPlan {
    FaultPlan {
        reset: 0.03,
        truncated: 0.03,
        cut_json: 0.01,
        ..FaultPlan::unreliable(seed)
    }
}

/// Asserts the simulator injected every kind of fault the plan makes likely
/// for the requests it saw: a kind expected at least 5 times (p × requests ≥
/// 5) is missing with probability below e⁻⁵ ≈ 0.7 % for a given seed, and
/// the walk must have been long enough for the frequent kinds to count.
fn assert_every_fault_kind(stats: &FaultStats, plan: &FaultPlan) {
    eprintln!("faults injected: {stats}");
    let requests = stats.requests.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let planned = [
        ("429ra", plan.rate_limited_with_retry_after),
        ("429", plan.rate_limited_bare),
        ("5xx", plan.server_error),
        ("reset", plan.reset),
        ("truncate", plan.truncated),
        ("cut", plan.cut_json),
        ("spike", plan.latency_spike),
    ];
    assert!(
        requests * plan.server_error >= 5.0,
        "too short a walk to exercise the faults ({stats})"
    );
    for ((kind, count), (planned_kind, p)) in stats.by_kind().iter().zip(planned) {
        assert_eq!(*kind, planned_kind);
        if p * requests >= 5.0 {
            assert!(
                *count > 0,
                "no {kind} fault was injected ({stats}); expected about {:.0}",
                p * requests
            );
        }
    }
}

/// The settings of a host facing unreliable upstreams: small pages (many
/// requests, so every fault kind occurs) and enough job-level retries for
/// the rare request that fails all of the gateway's attempts.
const UNRELIABLE_ENV: &[(&str, &str)] = &[("SNAPSHOT_MAX_RETRIES", "10")];

/// Submits a snapshot of any token (`Server::submit_job` is Hedera's).
async fn submit(server: &Server, token: &str, id: &str, body: Value) -> String {
    let resp = reqwest::Client::new()
        .post(server.url(&format!("/snapshots/generate/{id}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body["jobId"].as_str().unwrap().to_string()
}

/// Accounts of a document, checked to be unique.
fn unique_accounts(doc: &Value) -> BTreeSet<String> {
    let holders = doc["holders"].as_array().unwrap();
    let accounts: BTreeSet<String> = holders
        .iter()
        .map(|h| h["account"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(accounts.len(), holders.len(), "no holder is listed twice");
    assert_eq!(doc["holder_count"].as_u64(), Some(holders.len() as u64));
    accounts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedera_through_an_unreliable_mirror_node_gives_the_fault_free_document() {
    let seed = seed("hedera faults");
    let token = EntityId::new(5_000);
    let mut state = MirrorState::new();
    let ts = state.populate(token, 3_000, 17);
    let expected: BTreeSet<(String, String)> = state
        .balances_at(token, ts)
        .into_iter()
        .filter(|(_, balance)| *balance > 0)
        .map(|(account, balance)| {
            (
                EntityId::from_encoded(account).to_string(),
                balance.to_string(),
            )
        })
        .collect();
    let shared = state.into_shared();
    let clean = Ledger {
        sim: MirrorNodeSimulator::start(SimulatorConfig::default(), shared.clone())
            .await
            .unwrap(),
        at: format_timestamp(ts),
        faults: Faults::default(),
    };
    let plan = unreliable(seed);
    let faulty = Ledger {
        sim: MirrorNodeSimulator::start(
            SimulatorConfig {
                latency: Duration::from_millis(5),
                fault_plan: Some(plan.clone()),
                ..SimulatorConfig::default()
            },
            shared,
        )
        .await
        .unwrap(),
        at: clean.at.clone(),
        faults: Faults::default(),
    };
    let reference = clean.cli_document().await;

    let deployment = Deployment::new(Backend::Sqlite);
    let mut env = UNRELIABLE_ENV.to_vec();
    // 25 holders a page: 120 pages and more, so every fault kind shows up.
    env.push(("SNAPSHOT_BATCH_SIZE", "25"));
    let server = serve(&deployment, &faulty, &env);
    let alice = wallet_token("0.0.1001");
    let job = server.submit_job(&alice, json!({ "at": faulty.at })).await;
    let done = finished_within(&server, &alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let doc = server.download(&alice, &job, "json").await;
    let parsed: Value = serde_json::from_slice(&doc).unwrap();
    unique_accounts(&parsed);
    let got: BTreeSet<(String, String)> = parsed["holders"]
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
    assert_eq!(got, expected, "exactly the ledger's holders and balances");
    assert!(
        doc == reference,
        "the document differs from a fault-free run"
    );
    assert_every_fault_kind(faulty.sim.fault_stats(), &plan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrpl_through_an_unreliable_rippled_gives_the_fault_free_document() {
    let seed = seed("xrpl faults");
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 2_000, 7)
        .expect("lines");
    state.add_owner_objects(issuer, 200);
    let pinned = state.tip();
    let expected: BTreeSet<String> = state
        .positive_holders_at(pinned, &issuer, "USD")
        .into_keys()
        .collect();
    let shared = state.into_shared();
    let clean = XrplSimulator::start(xrpl::SimulatorConfig::default(), shared.clone())
        .await
        .unwrap();
    let plan = unreliable(seed ^ 0x5852_504c);
    let faulty = XrplSimulator::start(
        xrpl::SimulatorConfig {
            latency: Duration::from_millis(5),
            fault_plan: Some(plan.clone()),
            ..xrpl::SimulatorConfig::default()
        },
        shared,
    )
    .await
    .unwrap();
    let token_id = format!("USD.{}", issuer.to_address());

    // The fault-free document, from the CLI.
    let args = vec![
        "snapshot".to_string(),
        token_id.clone(),
        "--chain".into(),
        "xrpl".into(),
        "--endpoint".into(),
        clean.base_url(),
        "--at".into(),
        pinned.to_string(),
    ];
    let reference = common::cli_stdout(args).await;

    // The service, on the faulty one, with 20 lines a page (100+ requests).
    let deployment = Deployment::new(Backend::Sqlite);
    let plugin_config = deployment.data_dir().join("plugins.toml");
    std::fs::write(
        &plugin_config,
        "[plugins.xrpl]\nconfig = { account_lines_limit = \"20\" }\n",
    )
    .unwrap();
    let unused_mirror = Ledger::start(1, 0).await;
    let args = [
        "--rate-limit".to_string(),
        format!("{}=40:8", faulty.address()),
        "--plugin-config".into(),
        plugin_config.display().to_string(),
    ];
    let mut env = UNRELIABLE_ENV.to_vec();
    let endpoint = faulty.base_url();
    env.push(("SNAPSHOT_ENDPOINT_XRPL", endpoint.as_str()));
    let server =
        tokio::task::block_in_place(|| deployment.serve_with_args(&unused_mirror.sim, &args, &env));
    let alice = wallet_token("0.0.1001");
    let job = submit(
        &server,
        &alice,
        &token_id,
        json!({ "chain": "xrpl", "at": pinned.to_string() }),
    )
    .await;
    let done = finished_within(&server, &alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let doc = server.download(&alice, &job, "json").await;
    let parsed: Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(
        unique_accounts(&parsed),
        expected,
        "exactly the ledger's holders"
    );
    assert!(
        doc == reference,
        "the document differs from a fault-free run"
    );
    assert_every_fault_kind(faulty.fault_stats(), &plan);
}

/// Polls until the job finished, whichever way, within [`DEADLINE`] (job
/// retries back off for seconds).
async fn finished_within(server: &Server, token: &str, job: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = server.status(token, job).await;
        if matches!(
            status["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the job never finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ----- Redis and IPFS going away -----------------------------------------------

/// Polls `GET /readyz` until its status is `want`.
async fn until_ready_is(server: &Server, want: u16) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = reqwest::get(server.url("/readyz"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered {want} (last {status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_loses_no_job_and_changes_no_byte() {
    let ledger = Ledger::start(4_000, 20).await;
    let want = sha256_hex(&ledger.cli_document().await);
    let mut deployment = Deployment::with_persistent_redis();
    let server = serve(&deployment, &ledger, &[]);
    let alice = wallet_token("0.0.1001");
    let bob = wallet_token("0.0.2002");
    let mut jobs = Vec::new();
    for (n, wallet) in [&alice, &bob, &alice].into_iter().enumerate() {
        let job = server.submit_job(wallet, json!({ "at": ledger.at })).await;
        jobs.push((wallet, job));
        if n == 0 {
            server
                .wait_for(&alice, &jobs[0].1, |s| {
                    s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
                })
                .await;
        }
    }

    // Redis dies mid-walk (SIGKILL: only what it synced survives) and the
    // host notices; then it comes back on the same port.
    tokio::task::block_in_place(|| deployment.stop_redis());
    until_ready_is(&server, 503).await;
    tokio::task::block_in_place(|| deployment.start_redis_again());
    until_ready_is(&server, 200).await;

    for (wallet, job) in &jobs {
        let done = finished_within(&server, wallet, job).await;
        assert_eq!(done["status"], "completed", "{done}");
        let doc = server.download(wallet, job, "json").await;
        assert_eq!(sha256_hex(&doc), want, "{job}: the document differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipfs_stopped_mid_run_loses_no_job_and_pins_the_same_cids_once_back() {
    let mut daemon = tokio::task::block_in_place(IpfsDaemon::start);
    let ledger = Ledger::start(3_000, 20).await;
    let reference = ledger.cli_document().await;
    let deployment = Deployment::new(Backend::Sqlite);
    let api = daemon.api_url();
    let env = [
        ("IPFS_API_URL", api.as_str()),
        ("SNAPSHOT_IPFS_RETRY_MAX_SECS", "1"),
    ];
    let server = serve(&deployment, &ledger, &env);
    let alice = wallet_token("0.0.1001");
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(server.submit_job(&alice, json!({ "at": ledger.at })).await);
    }
    server
        .wait_for(&alice, &jobs[0], |s| {
            s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
        })
        .await;
    tokio::task::block_in_place(|| daemon.stop());

    // Every job completes from the local store, with the CLI's bytes, under
    // the CID IPFS will give them.
    let mut cids = Vec::new();
    for job in &jobs {
        let done = finished_within(&server, &alice, job).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert!(
            matches!(done["ipfsStatus"].as_str(), Some("pending" | "pinned")),
            "{done}"
        );
        let doc = server.download(&alice, job, "json").await;
        assert!(doc == reference, "{job}: the document differs");
        cids.push((
            done["ipfsCid"].as_str().unwrap().to_string(),
            done["csvCid"].as_str().unwrap().to_string(),
        ));
    }
    assert!(
        cids.windows(2).all(|w| w[0] == w[1]),
        "same bytes, same CIDs: {cids:?}"
    );

    // The node comes back: every owed upload lands, under the same CIDs.
    tokio::task::block_in_place(|| daemon.start_again());
    let deadline = Instant::now() + DEADLINE;
    for (job, (json_cid, csv_cid)) in jobs.iter().zip(&cids) {
        loop {
            let status = server.status(&alice, job).await;
            if status["ipfsStatus"] == "pinned" {
                assert_eq!(status["ipfsCid"], json_cid.as_str(), "{status}");
                assert_eq!(status["csvCid"], csv_cid.as_str(), "{status}");
                break;
            }
            assert!(Instant::now() < deadline, "never pinned: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let node = snapshot_host::artifacts::KuboClient::new(
        snapshot_host::artifacts::KuboConfig::new(&daemon.api_url()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        node.cat(&cids[0].0.parse().unwrap()).await.unwrap(),
        reference
    );
}
