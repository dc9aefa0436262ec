//! The sandbox holds: a plugin that spins, hoards memory, overflows its
//! stack, panics, floods `emit`, reaches for a host it was not granted or
//! for WASI files, environment and sockets fails *its* job with a clear
//! reason, and the host (and the very same loaded plugin) carries on.
//!
//! Every test runs the `misbehaving` guest (tests/plugins/misbehaving), built
//! for wasm32-wasip2 by `build.rs`. Nothing here sleeps to synchronise; every
//! wait is bounded by a timeout.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use snapshot_host::jobs::{CollectingSink, SnapshotError, SnapshotSpec, take_snapshot};
use snapshot_host::net::{AnyHostGrant, HttpGateway, NetConfig};
use snapshot_host::runtime::bindings::{FetchSummary, PluginError, SnapshotRequest};
use snapshot_host::runtime::state::JobContext;
use snapshot_host::runtime::{
    CallLimits, JobSink, LoadedPlugin, LogLevel, PluginEngine, PluginFailure, SinkError,
};
use snapshot_host::snapshot::EmittedHolder;
use snapshot_tests::guests;
use tokio::sync::Notify;

/// The default endpoint in the guest's plugin.toml (nothing listens there).
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:1";

/// Upper bound of any single test step; a hang fails instead of blocking CI.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The misbehaving plugin, compiled once per test binary (compiling is the
/// slow part; every call still gets a fresh store).
fn plugin() -> Arc<LoadedPlugin> {
    static LOADED: OnceLock<(Arc<PluginEngine>, Arc<LoadedPlugin>)> = OnceLock::new();
    LOADED.get_or_init(guests::load_misbehaving).1.clone()
}

/// The manifest's limits (32 MiB, CPU from plugin.toml) with a short CPU
/// budget so that runaway guests are stopped quickly.
fn limits(plugin: &LoadedPlugin, cpu: Duration) -> CallLimits {
    CallLimits {
        cpu,
        ..CallLimits::from_manifest(&plugin.manifest, Duration::from_secs(30))
    }
}

fn quick_limits(plugin: &LoadedPlugin) -> CallLimits {
    limits(plugin, Duration::from_millis(400))
}

fn request(token_id: &str) -> SnapshotRequest {
    SnapshotRequest {
        token_id: token_id.to_string(),
        network: "local".into(),
        endpoint: DEFAULT_ENDPOINT.into(),
        at: None,
        min_balance: None,
        resume: None,
        options: Vec::new(),
    }
}

/// A job context with only the manifest's egress rules and `sink`.
fn job(plugin: &LoadedPlugin, sink: Arc<dyn JobSink>) -> JobContext {
    JobContext {
        plugin_id: plugin.id(),
        gateway: HttpGateway::new(NetConfig::default()),
        egress: Arc::new(
            plugin
                .manifest
                .egress_policy(AnyHostGrant::NotGranted)
                .expect("the guest's allowed_hosts parse"),
        ),
        sink,
        max_emit_batch: 100_000,
    }
}

async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(STEP_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {STEP_TIMEOUT:?}"))
}

/// Runs `fetch-all-token-balances` for `req`; returns the outcome and the
/// sink that collected the holders.
async fn fetch_request(
    plugin: &LoadedPlugin,
    limits: &CallLimits,
    req: SnapshotRequest,
) -> (Result<FetchSummary, PluginFailure>, Arc<CollectingSink>) {
    let sink = Arc::new(CollectingSink::new(plugin.id()));
    let outcome = bounded(
        &format!("fetching `{}`", req.token_id),
        plugin.fetch_all_token_balances(job(plugin, sink.clone()), limits, &req),
    )
    .await;
    (outcome, sink)
}

async fn fetch(
    plugin: &LoadedPlugin,
    limits: &CallLimits,
    token_id: &str,
) -> (Result<FetchSummary, PluginFailure>, Arc<CollectingSink>) {
    fetch_request(plugin, limits, request(token_id)).await
}

/// The same loaded plugin still answers a well-behaved call.
async fn assert_still_serves(plugin: &LoadedPlugin) {
    let (outcome, sink) = fetch(plugin, &quick_limits(plugin), "ok").await;
    let summary = outcome.expect("an `ok` call after a failure succeeds");
    assert_eq!(summary.holders_emitted, 3);
    assert_eq!(sink.take_holders().len_accounts(), 3);
}

fn attribute<'a>(summary: &'a FetchSummary, key: &str) -> &'a str {
    summary
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no attribute {key} in {:?}", summary.attributes))
}

/// A local HTTP server that counts the requests it receives.
struct CountingServer {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl CountingServer {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "hello from the test server"
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        CountingServer { base, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A sink that also wakes the test when the guest logs `line`.
struct SignallingSink {
    inner: CollectingSink,
    line: &'static str,
    seen: Notify,
}

#[async_trait]
impl JobSink for SignallingSink {
    async fn emit(&self, holders: Vec<EmittedHolder>) -> Result<(), SinkError> {
        self.inner.emit(holders).await
    }
    async fn checkpoint(&self, state: String) -> Result<(), SinkError> {
        self.inner.checkpoint(state).await
    }
    fn progress(&self, done: u64, total: Option<u64>) {
        self.inner.progress(done, total)
    }
    fn log(&self, level: LogLevel, message: &str) {
        if message == self.line {
            // `notify_one` keeps the permit if nobody waits yet.
            self.seen.notify_one();
        }
        self.inner.log(level, message)
    }
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_cpu_deadline() {
    let plugin = plugin();
    let limits = limits(&plugin, Duration::from_millis(300));
    let started = Instant::now();
    let (outcome, _) = fetch(&plugin, &limits, "loop").await;
    let elapsed = started.elapsed();

    match outcome {
        Err(PluginFailure::Limit { plugin: id, reason }) => {
            assert_eq!(id, "misbehaving@0.1.0");
            assert!(reason.contains("CPU time limit"), "{reason}");
            assert!(reason.contains("300ms"), "{reason}");
        }
        other => panic!("expected a CPU limit, got {other:?}"),
    }
    assert!(
        elapsed < limits.wall,
        "stopped by the CPU deadline, not the wall clock ({elapsed:?})"
    );
    assert_still_serves(&plugin).await;
}

#[tokio::test]
async fn a_call_past_its_wall_clock_bound_times_out_and_may_be_retried() {
    let plugin = plugin();
    let limits = CallLimits {
        wall: Duration::from_millis(300),
        ..limits(&plugin, Duration::from_secs(30))
    };
    let (outcome, _) = fetch(&plugin, &limits, "loop").await;

    let failure = outcome.expect_err("a spinning guest cannot finish");
    assert!(
        matches!(failure, PluginFailure::Timeout { elapsed, .. } if elapsed == limits.wall),
        "{failure:?}"
    );
    assert!(failure.is_retryable());
    assert_still_serves(&plugin).await;
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_cap_and_the_host_survives() {
    let plugin = plugin();
    let limits = quick_limits(&plugin);
    assert_eq!(limits.memory_bytes, 32 << 20, "plugin.toml memory_mb");
    let (outcome, _) = fetch(&plugin, &limits, "memory").await;

    match outcome {
        Err(failure @ PluginFailure::Limit { .. }) => {
            let text = failure.to_string();
            assert!(
                text.starts_with("plugin misbehaving@0.1.0 stopped: memory limit of 32 MiB"),
                "{text}"
            );
            assert!(!failure.is_retryable());
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert_still_serves(&plugin).await;
}

#[tokio::test]
async fn unbounded_recursion_traps_without_crashing_the_host() {
    let plugin = plugin();
    let (outcome, _) = fetch(&plugin, &quick_limits(&plugin), "stack").await;

    match outcome {
        Err(failure @ PluginFailure::Trap { .. }) => {
            let text = failure.to_string();
            assert!(
                text.starts_with("plugin misbehaving@0.1.0 crashed: "),
                "{text}"
            );
            assert!(
                text.contains("call stack exhausted") || text.contains("out of bounds"),
                "the reason names the stack overflow: {text}"
            );
            assert!(!failure.is_retryable());
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_still_serves(&plugin).await;
}

#[tokio::test]
async fn a_guest_panic_becomes_a_job_error_with_its_message() {
    let plugin = plugin();
    let (outcome, _) = fetch(&plugin, &quick_limits(&plugin), "panic").await;

    match outcome {
        Err(failure @ PluginFailure::Trap { .. }) => {
            let text = failure.to_string();
            assert!(
                text.starts_with("plugin misbehaving@0.1.0 crashed: "),
                "{text}"
            );
            assert!(text.contains("boom from the plugin"), "{text}");
            assert!(!failure.is_retryable());
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_still_serves(&plugin).await;
}

/// Room for the 200 000 holders in guest memory, so it is the batch cap,
/// not the memory cap, that refuses them.
fn huge_emit_limits(plugin: &LoadedPlugin) -> CallLimits {
    CallLimits {
        memory_bytes: 256 << 20,
        ..limits(plugin, Duration::from_secs(10))
    }
}

#[tokio::test]
async fn a_huge_emit_batch_is_refused() {
    let plugin = plugin();
    let (outcome, sink) = fetch(&plugin, &huge_emit_limits(&plugin), "huge-emit").await;

    let failure = outcome.expect_err("the batch is over the cap");
    assert!(
        matches!(
            failure,
            PluginFailure::Trap { .. } | PluginFailure::Limit { .. }
        ),
        "{failure:?}"
    );
    assert!(!failure.is_retryable());
    assert!(
        sink.take_holders().is_empty(),
        "nothing of the refused batch is kept"
    );
    assert_still_serves(&plugin).await;
}

#[tokio::test]
async fn a_refused_emit_batch_says_why() {
    let plugin = plugin();
    let (outcome, _) = fetch(&plugin, &huge_emit_limits(&plugin), "huge-emit").await;

    let text = outcome.expect_err("the batch is over the cap").to_string();
    assert!(
        text.contains("emit of 200000 holders exceeds the limit of 100000 per call"),
        "{text}"
    );
}

#[tokio::test]
async fn egress_to_a_host_not_in_the_allow_list_is_denied_and_names_the_rule_to_add() {
    let server = CountingServer::start().await;
    let plugin = plugin();
    let gateway = HttpGateway::new(NetConfig::default());
    let spec = SnapshotSpec {
        token_id: format!("egress:{}/secret", server.base),
        ..SnapshotSpec::default()
    };
    let sink = Arc::new(CollectingSink::new(plugin.id()));
    let outcome = bounded("the snapshot", take_snapshot(plugin, &spec, &gateway, sink)).await;

    let failure = match outcome {
        Err(SnapshotError::Plugin(failure)) => failure,
        Err(other) => panic!("expected a plugin failure, got {other:?}"),
        Ok(_) => panic!("the request to {} was let through", server.base),
    };
    let Some(PluginError::Denied(message)) = failure.plugin_error() else {
        panic!("expected plugin-error::denied, got {failure:?}");
    };
    assert!(
        message.contains(&format!(
            "{} is not in the allowed hosts of plugin misbehaving; to allow it add \"{}\" to allowed_hosts",
            server.base, server.base
        )),
        "{message}"
    );
    assert!(
        message.contains("\"http://127.0.0.1:1\" (from plugin.toml allowed_hosts)"),
        "the near miss on the same host is named: {message}"
    );
    assert!(!failure.is_retryable());
    assert_eq!(server.hits(), 0, "no request reached the server");
}

#[tokio::test]
async fn egress_to_the_configured_endpoint_is_allowed() {
    let server = CountingServer::start().await;
    let plugin = plugin();
    let gateway = HttpGateway::new(NetConfig::default());
    let spec = SnapshotSpec {
        token_id: format!("egress:{}/hello", server.base),
        endpoint: Some(server.base.clone()),
        ..SnapshotSpec::default()
    };
    let sink = Arc::new(CollectingSink::new(plugin.id()));
    let taken = bounded("the snapshot", take_snapshot(plugin, &spec, &gateway, sink))
        .await
        .expect("the configured endpoint is allowed");

    let attributes = &taken.document.meta().attributes;
    assert_eq!(attributes.get("status").map(String::as_str), Some("200"));
    assert_eq!(
        attributes.get("body").map(String::as_str),
        Some("hello from the test server")
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_guest_has_no_files_environment_or_sockets() {
    let plugin = plugin();
    let limits = quick_limits(&plugin);

    let (files, _) = fetch(&plugin, &limits, "wasi-fs").await;
    let files = files.expect("no file can be listed or read");
    for key in ["read_dir(/)", "read(/etc/passwd)", "read_dir(.)"] {
        assert!(!attribute(&files, key).is_empty(), "{key} failed silently");
    }

    let (env, _) = fetch(&plugin, &limits, "wasi-env").await;
    env.expect("the environment is empty");

    // A real listener: were the sandbox leaky, the guest's connect would
    // complete and leave a connection in its backlog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut req = request("wasi-net");
    req.options.push(("addr".into(), addr.clone()));
    let (net, _) = fetch_request(&plugin, &limits, req).await;
    let net = net.unwrap_or_else(|e| panic!("connecting to {addr} must fail: {e}"));
    assert!(!attribute(&net, "connect").is_empty());
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the listener: {other:?}"),
    }
}

/// A single-threaded runtime: the other jobs can only finish if the
/// spinning guest really yields to them.
#[tokio::test(flavor = "current_thread")]
async fn other_jobs_keep_running_while_one_plugin_spins() {
    let plugin = plugin();
    let spin_sink = Arc::new(SignallingSink {
        inner: CollectingSink::new(plugin.id()),
        line: "spinning now",
        seen: Notify::new(),
    });
    let spinner = {
        let plugin = plugin.clone();
        let job = job(&plugin, spin_sink.clone());
        let limits = limits(&plugin, Duration::from_secs(3));
        tokio::spawn(async move {
            plugin
                .fetch_all_token_balances(job, &limits, &request("loop"))
                .await
        })
    };
    bounded("the spinner starting", spin_sink.seen.notified()).await;

    let others: Vec<_> = ["ok", "slow-ok", "ok", "slow-ok"]
        .into_iter()
        .map(|token| {
            let plugin = plugin.clone();
            tokio::spawn(async move {
                let limits = limits(&plugin, Duration::from_secs(2));
                (token, fetch(&plugin, &limits, token).await)
            })
        })
        .collect();
    for other in others {
        let (token, (outcome, sink)) = bounded("a well-behaved job", other).await.unwrap();
        let summary = outcome.unwrap_or_else(|e| panic!("`{token}` failed: {e}"));
        assert_eq!(summary.holders_emitted, 3, "{token}");
        assert_eq!(sink.take_holders().len_accounts(), 3, "{token}");
    }
    assert!(
        !spinner.is_finished(),
        "the well-behaved jobs finished while the spinner was still spinning"
    );

    let spun = bounded("the spinner", spinner).await.unwrap();
    assert!(
        matches!(&spun, Err(PluginFailure::Limit { reason, .. }) if reason.contains("CPU time limit")),
        "{spun:?}"
    );
}

/// Two spinning guests on one thread each get about half of it, so each
/// needs twice its CPU budget in wall time before its deadline.
#[tokio::test(flavor = "current_thread")]
async fn a_guest_is_charged_only_for_its_own_cpu_time() {
    let plugin = plugin();
    let budget = Duration::from_secs(1);
    let started = Instant::now();
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let plugin = plugin.clone();
            tokio::spawn(async move { fetch(&plugin, &limits(&plugin, budget), "loop").await.0 })
        })
        .collect();
    for spinner in spinners {
        let outcome = bounded("a spinner", spinner).await.unwrap();
        assert!(
            matches!(&outcome, Err(PluginFailure::Limit { .. })),
            "{outcome:?}"
        );
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= budget * 2 * 9 / 10,
        "two guests sharing one thread used up {budget:?} of CPU each in {elapsed:?}"
    );
}

#[tokio::test]
async fn a_fresh_store_per_call_starts_from_clean_memory() {
    let plugin = plugin();
    let limits = quick_limits(&plugin);
    for call in 1..=3 {
        let (outcome, _) = fetch(&plugin, &limits, "counter").await;
        let summary = outcome.expect("counter");
        assert_eq!(
            attribute(&summary, "count"),
            "1",
            "call {call} saw state left by an earlier call"
        );
    }
    // Also after a call that died holding 32 MiB.
    let (bomb, _) = fetch(&plugin, &limits, "memory").await;
    assert!(matches!(bomb, Err(PluginFailure::Limit { .. })), "{bomb:?}");
    let (outcome, _) = fetch(&plugin, &limits, "counter").await;
    assert_eq!(attribute(&outcome.expect("counter"), "count"), "1");
}

#[tokio::test]
async fn an_invalid_token_is_refused_by_validation_as_bad_input() {
    let plugin = plugin();
    let gateway = HttpGateway::new(NetConfig::default());
    let spec = SnapshotSpec {
        token_id: "invalid".into(),
        ..SnapshotSpec::default()
    };
    let sink = Arc::new(CollectingSink::new(plugin.id()));
    let outcome = bounded("the snapshot", take_snapshot(plugin, &spec, &gateway, sink)).await;
    match outcome {
        Err(SnapshotError::BadInput(message)) => {
            assert!(message.starts_with("invalid token id: "), "{message}")
        }
        Err(other) => panic!("expected bad input, got {other:?}"),
        Ok(_) => panic!("`invalid` was accepted"),
    }
}
