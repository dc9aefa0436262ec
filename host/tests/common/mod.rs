//! The harness of the service tests: `snapshot-host serve` as a real process
//! on either backend — the embedded SQLite files, or a real `redis-server` of
//! the test's own on a free loopback port — in front of the mirror-node
//! simulator, with minted JWTs and bounded waits (no sleep is used to order
//! anything: every wait polls or reads events until a deadline).

// Each test binary (service, ipfs, ...) uses its own part of this harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ledger_simulators::mirror_node::{
    EntityId, Faults, MirrorNodeSimulator, MirrorState, RunningSimulator, SimulatorConfig,
    format_timestamp,
};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// The same starter the queue and job-store suites use (crate snapshot-tests,
// which depends on this crate, so it cannot be a dev-dependency here).
#[allow(dead_code)]
#[path = "../../../tests/src/ports.rs"]
mod ports;
#[allow(dead_code)]
#[path = "../../../tests/src/redis.rs"]
mod redis;
pub use ports::{await_ready, free_port};
use redis::RedisServer;
pub mod cluster;
// How the build scripts build guest crates, for the guests these tests
// build on demand.
#[path = "../../build/wasm_guests.rs"]
mod wasm_guests;

/// The HS256 secret every server of these tests is started with.
pub const SECRET: &str = "service-test-secret-0123456789abcdef";

/// How long a job may take to reach an expected state, an event to arrive,
/// or `serve` to start listening (debug builds on two busy cores).
const DEADLINE: Duration = Duration::from_secs(90);

/// Where the queue and the job store live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded defaults: SQLite files under the data directory.
    Sqlite,
    /// `REDIS_HOST` set: a real redis-server, one per test.
    Redis,
}

/// What one test deploys on: a data directory (documents, SQLite files,
/// compile cache) and, for [`Backend::Redis`], its own redis-server. Every
/// host a test starts from it shares both, as restarted or scaled-out hosts
/// do.
pub struct Deployment {
    data: tempfile::TempDir,
    redis: Option<RedisServer>,
}

impl Deployment {
    pub fn new(backend: Backend) -> Deployment {
        Deployment {
            data: tempfile::tempdir().unwrap(),
            redis: (backend == Backend::Redis).then(RedisServer::start),
        }
    }

    /// `serve` with the standard test settings.
    pub fn serve(&self, sim: &RunningSimulator) -> Server {
        self.serve_with(sim, &[])
    }

    /// `serve` with the standard test settings plus `env` (an empty value
    /// unsets a setting, as the host reads it).
    pub fn serve_with(&self, sim: &RunningSimulator, env: &[(&str, &str)]) -> Server {
        self.serve_with_args(sim, &[], env)
    }

    /// The data directory every host of this deployment shares (default
    /// plugins directory `plugins/`, compile cache `cache/`).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// [`Deployment::serve_with`] plus command-line `args` after the
    /// standard ones (e.g. another `--rate-limit`).
    pub fn serve_with_args(
        &self,
        sim: &RunningSimulator,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Server {
        let mut cmd = serve_command(self.data.path(), sim, "40:8");
        cmd.args(args);
        if let Some(redis) = &self.redis {
            cmd.env("REDIS_HOST", "127.0.0.1")
                .env("REDIS_PORT", redis.port.to_string());
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        let server = Server::spawn(cmd);
        // It listens only once its queue is connected: by now the SQLite
        // files exist if, and only if, that is the backend it chose.
        assert_eq!(
            self.data.path().join("queue.sqlite3").exists(),
            self.redis.is_none(),
            "serve runs on the intended backend"
        );
        server
    }
}

/// A running `snapshot-host serve`, killed on drop. Its log lines go to the
/// test's output (shown when the test fails) and are kept for
/// [`Server::wait_for_log`].
pub struct Server {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        // Reads the log until the server prints its address, then keeps
        // draining it so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[serve] {line}");
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line.clone());
                if let Some(addr) = line.strip_prefix("snapshot-host listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let base = match rx.recv_timeout(DEADLINE) {
            Ok(base) => base,
            Err(e) => {
                let _ = child.kill();
                panic!("serve did not start listening ({e}): see its log above");
            }
        };
        Server { child, base, log }
    }

    /// The log lines printed so far that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Polls the log until a line contains `needle` (bounded) and returns it.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(line) = self.log_lines(needle).pop() {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "serve never logged {needle:?}: see its log above"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /snapshots/generate/0.0.5000` with `body`.
    pub async fn submit(&self, token: &str, body: Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/snapshots/generate/0.0.5000"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Submits and returns the job id (the submission must be accepted).
    pub async fn submit_job(&self, token: &str, body: Value) -> String {
        let resp = self.submit(token, body).await;
        assert_eq!(resp.status(), 202);
        resp.json::<Value>().await.unwrap()["jobId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `GET /plugins` with `admin` (a token with the admin role): `{name: view}`.
    pub async fn plugins(&self, admin: &str) -> serde_json::Map<String, Value> {
        let resp = self
            .call(reqwest::Method::GET, "/plugins", Some(admin))
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), p.clone()))
            .collect()
    }

    /// A bearer-authenticated request (`token` none: no `Authorization`).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = reqwest::Client::new().request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn status(&self, token: &str, job: &str) -> Value {
        let resp = self
            .call(
                reqwest::Method::GET,
                &format!("/snapshots/{job}"),
                Some(token),
            )
            .await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// The caller's history, first page.
    pub async fn history(&self, token: &str) -> Value {
        let resp = self
            .call(reqwest::Method::GET, "/snapshots", Some(token))
            .await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Polls the job until `reached` holds. Bounded: fails at the deadline,
    /// or at once when the job finished in another state (a finished job
    /// never changes again).
    pub async fn wait_for(
        &self,
        token: &str,
        job: &str,
        reached: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let s = self.status(token, job).await;
            if reached(&s) {
                return s;
            }
            let finished = matches!(
                s["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            );
            assert!(
                !finished,
                "the job finished without reaching the state: {s}"
            );
            assert!(
                Instant::now() < deadline,
                "the job never reached the state: {s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until the job has finished, whichever way.
    pub async fn finished(&self, token: &str, job: &str) -> Value {
        self.wait_for(token, job, |s| {
            matches!(
                s["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
        })
        .await
    }

    pub async fn download(&self, token: &str, job: &str, format: &str) -> Vec<u8> {
        let resp = self
            .call(
                reqwest::Method::GET,
                &format!("/snapshots/{job}/download?format={format}"),
                Some(token),
            )
            .await;
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap().to_vec()
    }

    /// A plain-WebSocket event stream, the token in the query.
    pub async fn events(&self, token: &str) -> Events {
        let url = format!(
            "{}?access_token={token}",
            self.url("/snapshots/ws").replace("http://", "ws://")
        );
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Events(ws)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /snapshots/ws`: `{type, payload}` messages.
pub struct Events(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Events {
    /// The next event (bounded; a closed stream fails the test).
    pub async fn next(&mut self) -> Value {
        let msg = tokio::time::timeout(DEADLINE, self.0.next())
            .await
            .expect("an event within the deadline")
            .expect("the event stream stays open")
            .unwrap();
        serde_json::from_str(&msg.into_text().unwrap()).unwrap()
    }

    /// Every event up to and including the one that finishes `job`
    /// (`snapshots_completed` or `snapshots_failed`).
    pub async fn until_finished(&mut self, job: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let last = event["payload"]["jobId"] == job
                && matches!(
                    event["type"].as_str(),
                    Some("snapshots_completed" | "snapshots_failed")
                );
            events.push(event);
            if last {
                return events;
            }
        }
    }
}

/// The event types of a sequence, in order.
pub fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token over `claims`, signed with [`SECRET`].
pub fn token(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A valid token for `wallet`, for an hour.
pub fn wallet_token(wallet: &str) -> String {
    token(json!({ "sub": wallet, "exp": now() + 3600 }))
}

/// The mirror-node simulator with one token, `0.0.5000`, and its holders.
pub struct Ledger {
    pub sim: RunningSimulator,
    /// The consensus time of the populated balances, to pin snapshots to.
    pub at: String,
    /// The simulator's fault switch.
    pub faults: Faults,
}

impl Ledger {
    pub async fn start(holders: usize, latency_ms: u64) -> Ledger {
        let mut state = MirrorState::new();
        let ts = state.populate(EntityId::new(5_000), holders, 17);
        let faults = Faults::default();
        let sim = MirrorNodeSimulator::start(
            SimulatorConfig {
                latency: Duration::from_millis(latency_ms),
                faults: faults.clone(),
                ..SimulatorConfig::default()
            },
            state.into_shared(),
        )
        .await
        .unwrap();
        Ledger {
            sim,
            at: format_timestamp(ts),
            faults,
        }
    }

    /// The CLI's document for the token at the pinned point.
    pub async fn cli_document(&self) -> Vec<u8> {
        let args = [
            "snapshot".to_string(),
            "0.0.5000".into(),
            "--chain".into(),
            "hedera".into(),
            "--endpoint".into(),
            self.sim.base_url(),
            "--at".into(),
            self.at.clone(),
            "--rate-limit".into(),
            format!("{}=40:8", self.sim.address()),
        ];
        cli_stdout(args.to_vec()).await
    }
}

/// The original library's socket.io client (Node `socket.io-client`), run
/// as it is: it connects to `/snapshots` with `auth: {accessToken}`, prints
/// every `snapshots_events` message as a JSON line and exits after the first
/// `snapshots_completed` / `snapshots_failed` (2 on a connect error, 3 after
/// its own two-minute timeout).
pub struct SocketIoClient {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl SocketIoClient {
    /// Starts the client and waits for its first line (connected or refused).
    pub fn connect(base: &str, token: &str) -> (SocketIoClient, Value) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/socketio-client");
        assert!(
            dir.join("node_modules/socket.io-client").exists(),
            "run `npm ci --prefix tests/socketio-client` first (.ci/run does)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("client.js"))
            .args([base, token])
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the client prints a line").unwrap();
        (
            SocketIoClient { child, lines },
            serde_json::from_str(&first).unwrap(),
        )
    }

    /// Every event the client printed, once it exited (bounded by its own
    /// timeout); the exit code must be 0.
    pub fn events(mut self) -> Vec<Value> {
        let events: Vec<Value> = self
            .lines
            .by_ref()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "client exited with {status}: {events:?}");
        events
    }

    /// The exit code (after a refused connection).
    pub fn exit_code(mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }
}

impl Drop for SocketIoClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The `serve` process's id (for `/proc/<pid>/...` readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `serve` process's resident memory now (`VmRSS` of
    /// `/proc/<pid>/status`), in bytes.
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("serve is running");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("/proc/<pid>/status has VmRSS");
        kib * 1024
    }
}

/// A local HTTP server that answers every request with `status` and
/// `body`, and counts the requests: an endpoint a test wants to know was
/// (or was not) reached.
pub struct CountingServer {
    pub base: String,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingServer {
    pub async fn start(status: u16, body: &'static str) -> Self {
        use std::sync::atomic::Ordering;
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (status, body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        CountingServer { base, hits }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `snapshot-host serve` on a free loopback port with `data_dir`, upstream
/// limit `rate_limit` (`RPS:CONCURRENCY`) for `sim`, which is the Hedera
/// endpoint, short queue heartbeat and orphan timeouts, and nothing from the
/// caller's environment (a `REDIS_HOST` there would silently switch
/// backends). Callers add their own arguments and settings.
pub fn serve_command(data_dir: &Path, sim: &RunningSimulator, rate_limit: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snapshot-host"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--rate-limit", &format!("{}={rate_limit}", sim.address())]);
    for (name, _) in std::env::vars() {
        if ["JWT_", "REDIS_", "SNAPSHOT_", "IPFS_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            cmd.env_remove(name);
        }
    }
    cmd.env("JWT_SECRET", SECRET)
        .env("SNAPSHOT_ENDPOINT_HEDERA", sim.base_url())
        .env("SNAPSHOT_QUEUE_HEARTBEAT_SECS", "1")
        .env("SNAPSHOT_QUEUE_ORPHAN_TIMEOUT_SECS", "2")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs the `snapshot-host` binary with `args` (off the async threads) and
/// returns its standard output; fails the test with its standard error if
/// it does not exit 0.
pub async fn cli_stdout(args: Vec<String>) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snapshot-host"));
    cmd.args(args);
    stdout_of(cmd).await
}

/// Runs `cmd` to its end off the async threads and returns its standard
/// output; fails the test with its standard error if it does not exit 0.
pub async fn stdout_of(mut cmd: Command) -> Vec<u8> {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Builds a guest crate of this repository (`crate_dir`, relative to the
/// repository root) for wasm32-wasip2 the way `host/build/wasm_guests.rs`
/// and `tests/build.rs` do — release, the guests' own target directory
/// `target/wasm-guests`, a cleaned environment so this build's flags do not
/// leak into the wasm one — and returns the component's bytes (`artifact`
/// is the `.wasm` file name). Host tests cannot see `tests/build.rs`'s
/// outputs (crate snapshot-tests depends on this one), so they build here;
/// cargo finds the build fresh when the guests were built before. Read at
/// once, so a concurrent rebuild cannot be read half-written later.
pub fn guest_wasm(crate_dir: &str, artifact: &str) -> Vec<u8> {
    let wasm = guest_component(&workspace_root().join(crate_dir), artifact);
    std::fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()))
}

/// Builds the guest crate in `crate_dir` with the command PLUGINS.md gives
/// (`cargo build --target wasm32-wasip2 --release`, from inside the folder)
/// in the guests' target directory, and returns the component's path.
pub fn guest_component(crate_dir: &Path, artifact: &str) -> PathBuf {
    // One nested build at a time within a test binary.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let target_dir = wasm_guests::target_dir(&workspace_root());
    let out = wasm_guests::cargo_build(crate_dir, &target_dir)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {} for wasm32-wasip2 failed:\n{}",
        crate_dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join(artifact);
    assert!(wasm.exists(), "{} was not produced", wasm.display());
    wasm
}

/// The workspace's top folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fault tests: a Redis deployment whose redis-server can be killed and
/// started again mid-run without losing a write.
impl Deployment {
    /// A [`Backend::Redis`] deployment whose redis-server persists every
    /// write before acknowledging it (append-only file, fsync always).
    pub fn with_persistent_redis() -> Deployment {
        Deployment {
            data: tempfile::tempdir().unwrap(),
            redis: Some(RedisServer::start_persistent()),
        }
    }

    /// Kills the deployment's redis-server (SIGKILL).
    pub fn stop_redis(&mut self) {
        self.redis.as_mut().expect("a Redis deployment").stop();
    }

    /// Starts the redis-server again on the same port and data.
    pub fn start_redis_again(&mut self) {
        self.redis
            .as_mut()
            .expect("a Redis deployment")
            .start_again();
    }
}
