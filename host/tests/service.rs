//! `snapshot-host serve` as operators run it: the real binary on embedded
//! defaults (SQLite queue and store under a temporary data directory),
//! against the mirror-node simulator, called over real sockets.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ledger_simulators::mirror_node::{
    EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator, SimulatorConfig, format_timestamp,
};
use serde_json::{Value, json};

const SECRET: &str = "service-test-secret-0123456789abcdef";

/// A running `snapshot-host serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, sim: &RunningSimulator) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--rate-limit", &format!("{}=40:8", sim.address())])
            .env("JWT_SECRET", SECRET)
            .env("SNAPSHOT_ENDPOINT_HEDERA", sim.base_url())
            .env("SNAPSHOT_QUEUE_HEARTBEAT_SECS", "1")
            .env("SNAPSHOT_QUEUE_ORPHAN_TIMEOUT_SECS", "2")
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_HOST")
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        // The server prints its address once it listens.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("snapshot-host listening on ") {
                break addr.trim().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn wallet_token(wallet: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    token(json!({ "sub": wallet, "exp": exp }))
}

async fn simulator(holders: usize, latency_ms: u64) -> (RunningSimulator, String) {
    let mut state = MirrorState::new();
    let ts = state.populate(EntityId::new(5_000), holders, 17);
    let sim = MirrorNodeSimulator::start(
        SimulatorConfig {
            latency: Duration::from_millis(latency_ms),
            ..SimulatorConfig::default()
        },
        state.into_shared(),
    )
    .await
    .unwrap();
    (sim, format_timestamp(ts))
}

async fn submit(base: &str, token: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/snapshots/generate/0.0.5000"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn status(base: &str, token: &str, job: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}/snapshots/{job}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the job until `done` holds (bounded: the job either gets there or
/// the test fails).
async fn wait_for(base: &str, token: &str, job: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let s = status(base, token, job).await;
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached the state: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn download(base: &str, token: &str, job: &str, format: &str) -> Vec<u8> {
    let resp = reqwest::Client::new()
        .get(format!("{base}/snapshots/{job}/download?format={format}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap().to_vec()
}

/// The CLI's document for the same token and pinned point.
async fn cli_document(sim: &RunningSimulator, at: &str) -> Vec<u8> {
    let args = [
        "snapshot".to_string(),
        "0.0.5000".into(),
        "--chain".into(),
        "hedera".into(),
        "--endpoint".into(),
        sim.base_url(),
        "--at".into(),
        at.into(),
        "--rate-limit".into(),
        format!("{}=40:8", sim.address()),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_completes_with_the_clis_document_and_streams_its_events_in_order() {
    let (sim, at) = simulator(2_000, 0).await;
    let data = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let alice = wallet_token("0.0.1001");

    // The WebSocket client connects first, with the token in the query.
    let ws_url = format!(
        "{}/snapshots/ws?access_token={alice}",
        server.base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();

    let resp = submit(&server.base, &alice, json!({ "chain": "hedera", "at": at })).await;
    assert_eq!(resp.status(), 202);
    let job = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut kinds = Vec::new();
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(60), ws.next())
        .await
        .expect("events keep coming")
    {
        let text = msg.unwrap().into_text().unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["payload"]["jobId"], job.as_str());
        let kind = event["type"].as_str().unwrap().to_string();
        kinds.push(kind.clone());
        if kind == "snapshots_completed" {
            assert_eq!(event["payload"]["status"], "completed");
            assert_eq!(event["payload"]["progress"], 100);
            break;
        }
    }
    assert_eq!(kinds.first().map(String::as_str), Some("snapshots_waiting"));
    assert_eq!(kinds.get(1).map(String::as_str), Some("snapshots_active"));
    assert!(
        kinds[2..kinds.len() - 1]
            .iter()
            .all(|k| k == "snapshots_progress"),
        "{kinds:?}"
    );

    let done = status(&server.base, &alice, &job).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["resolvedAt"], at.as_str());
    let json = download(&server.base, &alice, &job, "json").await;
    assert!(
        json == cli_document(&sim, &at).await,
        "service and CLI documents differ"
    );
    let csv = download(&server.base, &alice, &job, "csv").await;
    assert!(csv.starts_with(b"rank,account,balance,balance_formatted,share\n"));

    // Another wallet sees nothing of it.
    let bob = wallet_token("0.0.2002");
    let other = reqwest::Client::new()
        .get(format!("{}/snapshots/{job}", server.base))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let history: Value = reqwest::Client::new()
        .get(format!("{}/snapshots", server.base))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_mid_job_resumes_after_restart_with_identical_bytes() {
    // Slow enough that the kill lands mid-walk: 6,000 accounts, 25 ms per
    // page, 40 pages/s.
    let (sim, at) = simulator(6_000, 25).await;
    let data = tempfile::tempdir().unwrap();
    let alice = wallet_token("0.0.1001");
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let job = submit(&server.base, &alice, json!({ "at": at }))
        .await
        .json::<Value>()
        .await
        .unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(&server.base, &alice, &job, |s| {
        s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
    })
    .await;
    let requests_before = sim.stats().requests();
    server.kill();

    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let done = wait_for(&server.base, &alice, &job, |s| s["status"] == "completed").await;
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    let json = download(&server.base, &alice, &job, "json").await;
    assert!(
        json == cli_document(&sim, &at).await,
        "the resumed document differs"
    );
    assert!(sim.stats().requests() > requests_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_bad_bodies_and_bad_credentials_are_refused_before_anything_is_queued() {
    let (sim, _) = simulator(50, 0).await;
    let data = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let alice = wallet_token("0.0.1001");
    let client = reqwest::Client::new();
    let post = |path: &str, auth: Option<String>, body: &'static str| {
        let mut r = client
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = auth {
            r = r.bearer_auth(t);
        }
        r.send()
    };

    let r = post("/snapshots/generate/0.0.x", Some(alice.clone()), "")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("shard.realm.num"),
        "{body}"
    );
    let r = post(
        "/snapshots/generate/0.0.999999",
        Some(alice.clone()),
        r#"{"chain":"hedera"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        "/snapshots/generate/0.0.5000",
        Some(alice.clone()),
        r#"{"chian":"hedera"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "unknown fields are refused");
    let huge: &'static str =
        Box::leak(format!("{{\"at\":\"{}\"}}", "9".repeat(100_000)).into_boxed_str());
    let r = post("/snapshots/generate/0.0.5000", Some(alice.clone()), huge)
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["connection"],
        "close",
        "the unread body makes the connection unusable; the client must not reuse it"
    );

    let expired = token(json!({ "sub": "0.0.1001", "exp": 1_000_000 }));
    let none_alg = {
        use base64::Engine;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b.encode(r#"{"sub":"0.0.1001","exp":9999999999}"#)
        )
    };
    for bad in [
        None,
        Some(expired),
        Some(none_alg),
        Some("garbage".to_string()),
    ] {
        let r = post("/snapshots/generate/0.0.5000", bad.clone(), "")
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad:?}");
    }

    let history: Value = client
        .get(format!("{}/snapshots", server.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"], json!([]), "nothing was queued");
    assert_eq!(
        client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("snapshot_plugin_load_seconds{plugin=\"hedera@0.1.0\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_stops_and_says_so() {
    let (sim, at) = simulator(6_000, 25).await;
    let data = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let alice = wallet_token("0.0.1001");
    let job = submit(&server.base, &alice, json!({ "at": at }))
        .await
        .json::<Value>()
        .await
        .unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for(&server.base, &alice, &job, |s| s["status"] == "active").await;
    let r = reqwest::Client::new()
        .delete(format!("{}/snapshots/{job}", server.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let done = wait_for(&server.base, &alice, &job, |s| s["status"] == "cancelled").await;
    assert_eq!(done["error"], "cancelled");
    let r = reqwest::Client::new()
        .get(format!("{}/snapshots/{job}/download", server.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
}

/// The original library's socket.io client (Node `socket.io-client`), run
/// as it is: it connects to `/snapshots` with `auth: {accessToken}` and
/// prints every `snapshots_events` message.
fn socketio_client(base: &str, token: &str) -> Child {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/socketio-client");
    assert!(
        dir.join("node_modules/socket.io-client").exists(),
        "run `npm ci --prefix tests/socketio-client` first (.ci/run does)"
    );
    Command::new("node")
        .arg(dir.join("client.js"))
        .args([base, token])
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_socketio_client_receives_its_jobs_events_and_only_those() {
    let (sim, at) = simulator(3_000, 0).await;
    let data = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let alice = wallet_token("0.0.1001");

    let mut client = socketio_client(&server.base, &alice);
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    // Submit only once the client is connected, so it sees every event.
    let first = tokio::task::block_in_place(|| lines.next().unwrap().unwrap());
    assert_eq!(first, r#"{"connected":true}"#);

    // Bob's job must not reach Alice's client.
    let bob = wallet_token("0.0.2002");
    assert_eq!(
        submit(&server.base, &bob, json!({ "at": at }))
            .await
            .status(),
        202
    );
    let resp = submit(&server.base, &alice, json!({ "at": at })).await;
    let job = resp.json::<Value>().await.unwrap()["jobId"]
        .as_str()
        .unwrap()
        .to_string();

    let events: Vec<Value> = tokio::task::block_in_place(|| {
        lines
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect()
    });
    let status = client.wait().unwrap();
    assert!(status.success(), "client exited with {status}: {events:?}");
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        events.iter().all(|e| e["payload"]["jobId"] == job.as_str()),
        "{events:?}"
    );
    assert_eq!(kinds.first(), Some(&"snapshots_waiting"));
    assert_eq!(kinds.get(1), Some(&"snapshots_active"));
    assert_eq!(kinds.last(), Some(&"snapshots_completed"));
    let done = events.last().unwrap();
    assert_eq!(done["payload"]["status"], "completed");
    assert_eq!(done["payload"]["jobName"], "generate_snapshot");
    assert_eq!(done["payload"]["snapshotId"], "0.0.5000");

    // A client without a valid token is refused at the handshake.
    let mut refused = socketio_client(&server.base, "not-a-jwt");
    let out = BufReader::new(refused.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert!(out.contains("connect_error"), "{out}");
    assert_eq!(refused.wait().unwrap().code(), Some(2));
}
