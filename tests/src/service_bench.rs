//! The "service under load" section of the benchmark: many concurrent jobs and many WebSocket
//! subscribers on one `snapshot-host serve`.
//!
//! The server is the real `serve`: the bench binary starts itself again as a separate process
//! whose `main` is [`snapshot_host::cli::main`] (the function the `snapshot-host` binary runs,
//! compiled into the same release build), with `serve` arguments and environment, so it has its
//! own runtime, its own file descriptors and a resident set of its own to measure. It runs on
//! embedded defaults (SQLite queue and job store, local documents) in a fresh data directory,
//! against the in-process mirror-node simulator.
//!
//! The load: `subscribers` plain WebSocket clients on `GET /snapshots/ws?access_token=…`,
//! spread evenly over `wallets` wallets; then `jobs` `POST /snapshots/generate/{tokenId}` sent
//! at once, job `k` by wallet `k mod wallets` on token `k mod tokens`. Every job's events fan
//! out to the subscribers of its wallet.
//!
//! What is measured:
//! - **jobs/minute**: jobs completed ÷ (first POST sent → last final event received by its last
//!   subscriber);
//! - **event delivery latency**: payloads carry no timestamp, but the job record does, stamped
//!   by the host just before it publishes the event (`createdAt` for `snapshots_waiting`,
//!   `startedAt` for `_active`, `completedAt` for `_completed`/`_failed`; all three read back
//!   through `GET /snapshots/{jobId}` after the run). Latency = the subscriber's wall clock at
//!   receipt − that stamp. Both processes read the same system clock; the host's stamps are
//!   whole milliseconds (truncated), so each sample is overstated by 0–1 ms;
//! - **fan-out spread**: for one event of one job, first → last receipt among the wallet's
//!   subscribers (monotonic clock, all subscribers live in the bench process);
//! - **delivered vs expected**: every subscriber must get `_waiting`, `_active` and the final
//!   event of every job of its wallet exactly once, in that order, no event of another wallet,
//!   and all subscribers of a wallet the same sequence (progress included);
//! - the host's resident set (idle, with the subscribers connected, peak) and CPU time, from
//!   `/proc`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use futures::StreamExt as _;
use ledger_simulators::mirror_node::{
    EntityId, MirrorNodeSimulator, MirrorState, SimulatorConfig, TokenRecord,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

/// Set in the environment of the child process: it then runs `snapshot-host` instead of the
/// bench.
pub const SERVE_CHILD_ENV: &str = "SNAPSHOT_BENCH_SERVE_CHILD";

/// The HS256 secret the bench's server verifies tokens with.
const SECRET: &str = "service-bench-secret-0123456789abcdef";

/// First token id; the others follow.
const FIRST_TOKEN: u64 = 5000;
/// Wallet `i` is `0.0.(FIRST_WALLET + i)`.
const FIRST_WALLET: u64 = 200_000;
/// Seed of the simulated holder sets.
const SEED: u64 = 7;
/// WebSocket handshakes in flight at once while the subscribers connect.
const CONNECTS_IN_FLIGHT: usize = 64;

/// When this process was started as the bench's server, runs `snapshot-host` (its arguments
/// are `serve …`) and exits with its code; otherwise returns at once. Call it first in `main`.
pub fn serve_if_child() {
    if std::env::var_os(SERVE_CHILD_ENV).is_some() {
        // Only success matters to the bench (a failure is reported from the server's output).
        let ok = snapshot_host::cli::main() == std::process::ExitCode::SUCCESS;
        std::process::exit(if ok { 0 } else { 1 });
    }
}

/// The shape of the load.
#[derive(Clone, Debug)]
pub struct ServiceBenchConfig {
    /// Jobs submitted at once.
    pub jobs: usize,
    /// WebSocket subscribers.
    pub subscribers: usize,
    /// Wallets the subscribers and jobs are spread over.
    pub wallets: usize,
    /// Distinct tokens the jobs snapshot.
    pub tokens: usize,
    /// Accounts per token (about 10% hold a zero balance and are not holders).
    pub accounts_per_token: usize,
    /// Simulated latency of every mirror-node reply.
    pub latency: Duration,
    /// `SNAPSHOT_QUEUE_CONCURRENCY`: jobs the host runs at once.
    pub queue_concurrency: usize,
    /// `--rate-limit` for the simulator: requests/s and requests in flight.
    pub upstream_rps: u32,
    pub upstream_in_flight: u32,
    /// Give up waiting for the jobs after this long.
    pub deadline: Duration,
}

impl Default for ServiceBenchConfig {
    fn default() -> Self {
        ServiceBenchConfig {
            jobs: 100,
            subscribers: 1000,
            wallets: 100,
            tokens: 4,
            accounts_per_token: 2000,
            latency: Duration::from_millis(60),
            queue_concurrency: 16,
            upstream_rps: 5000,
            upstream_in_flight: 256,
            deadline: Duration::from_secs(600),
        }
    }
}

impl ServiceBenchConfig {
    fn wallet_of_subscriber(&self, s: usize) -> usize {
        s % self.wallets
    }

    fn wallet_of_job(&self, k: usize) -> usize {
        k % self.wallets
    }

    fn token_of_job(&self, k: usize) -> usize {
        k % self.tokens
    }
}

/// The section's result: the configuration and what was measured (or why it could not be).
#[derive(Debug)]
pub struct ServiceBenchResult {
    pub config: ServiceBenchConfig,
    pub outcome: Result<ServiceRun, String>,
}

/// Percentiles of a set of samples, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Summary {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        // Nearest rank.
        let rank = |q: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        Summary {
            count: v.len(),
            p50: rank(0.5),
            p99: rank(0.99),
            max: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// Counts of one event type across all subscribers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Delivery {
    /// (subscriber, job) pairs that should have received it.
    pub expected: usize,
    /// Pairs that received it at least once.
    pub delivered: usize,
    /// Receipts beyond the first.
    pub duplicates: usize,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct ServiceRun {
    pub expected_holders: Vec<usize>,
    pub fd_limit: (u64, u64),
    /// `/proc/loadavg`'s 1-minute figure before the run: other work on the machine.
    pub load_average: Option<String>,
    pub fd_raised: bool,
    /// Spawn → "listening" (cold plugin compile included).
    pub startup: Duration,
    pub connected: usize,
    pub connect_failures: Vec<String>,
    /// All subscribers connected, handshakes `CONNECTS_IN_FLIGHT` at a time.
    pub connect_wall: Duration,
    /// One handshake each, ms.
    pub handshake: Summary,
    /// POST → 202, ms.
    pub submit: Summary,
    pub submit_failures: Vec<String>,
    pub jobs_submitted: usize,
    pub jobs_completed: usize,
    pub jobs_failed: usize,
    pub jobs_unfinished: usize,
    /// Completed jobs whose holder count differs from the simulator's.
    pub wrong_holder_counts: usize,
    /// Jobs that needed more than one attempt.
    pub retried_jobs: usize,
    /// First POST sent → last final event received by its last subscriber.
    pub wall: Duration,
    /// Everything arrived before the deadline.
    pub finished: bool,
    /// min `createdAt` → max `completedAt`, as the host stamped them.
    pub host_span: Duration,
    /// `startedAt − createdAt`, ms.
    pub queue_wait: Summary,
    /// `completedAt − startedAt`, ms.
    pub run_time: Summary,
    /// Host stamp → receipt, ms, per event type.
    pub latency_waiting: Summary,
    pub latency_active: Summary,
    pub latency_final: Summary,
    /// `_active` and the final events: the headline figure.
    pub latency: Summary,
    /// `snapshots_waiting` receipt − the submitter's 202 (may be negative), ms.
    pub waiting_after_202: Summary,
    /// First → last receipt of one event among a wallet's subscribers, ms.
    pub spread: Summary,
    pub waiting: Delivery,
    pub active: Delivery,
    pub finals: Delivery,
    pub progress_received: usize,
    /// Final events whose `holderCount` differs from the simulator's.
    pub wrong_final_payloads: usize,
    /// Events of a job after its final event, or `_active` before `_waiting`.
    pub out_of_order: usize,
    /// Events of another wallet's jobs (must be 0).
    pub foreign_events: usize,
    /// Messages that were not `{type, payload: {jobId}}` JSON.
    pub unparsable: usize,
    /// Wallets whose subscribers all received the same sequence of events.
    pub consistent_wallets: usize,
    pub wallets_with_subscribers: usize,
    pub events_received: usize,
    /// Subscribers whose connection ended (closed or errored) before the run did.
    pub dropped_subscribers: Vec<String>,
    /// Host resident set, KiB.
    pub rss_idle_kib: Option<u64>,
    pub rss_connected_kib: Option<u64>,
    pub rss_peak_kib: Option<u64>,
    /// CPU seconds from the first POST to the last final event.
    pub host_cpu: Option<f64>,
    pub bench_cpu: Option<f64>,
    pub upstream_requests: u64,
    pub upstream_peak_per_second: u64,
    pub upstream_rate_limited: u64,
    /// Warning and error lines the host logged.
    pub host_warnings: usize,
    pub host_warning_samples: Vec<String>,
}

/// Runs the section; never panics on a failed run (the error is the outcome).
pub async fn run(config: ServiceBenchConfig) -> ServiceBenchResult {
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("snapshot-bench-service-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let outcome = run_in(&config, &data_dir)
        .await
        .map_err(|e| format!("{e:#}"));
    let _ = std::fs::remove_dir_all(&data_dir);
    ServiceBenchResult { config, outcome }
}

async fn run_in(
    config: &ServiceBenchConfig,
    data_dir: &std::path::Path,
) -> anyhow::Result<ServiceRun> {
    if config.jobs == 0 || config.subscribers == 0 || config.wallets == 0 || config.tokens == 0 {
        bail!("jobs, subscribers, wallets and tokens must all be at least 1");
    }
    let mut out = ServiceRun {
        load_average: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string)),
        ..ServiceRun::default()
    };
    // Each process holds one socket per subscriber, plus REST, upstream and database files.
    let needed =
        (config.subscribers + config.jobs + config.upstream_in_flight as usize + 256) as u64;
    (out.fd_limit, out.fd_raised) = ensure_fd_limit(needed)?;

    // The ledger: `tokens` tokens with disjoint holder sets. The tokens are created first so
    // that every account number comes after every token id.
    let mut state = MirrorState::new();
    let tokens: Vec<EntityId> = (0..config.tokens)
        .map(|i| EntityId::new(FIRST_TOKEN + i as u64))
        .collect();
    for &token in &tokens {
        let mut record = TokenRecord::fungible(token, "SIM", 6);
        record.created_timestamp = state.next_timestamp();
        record.valid_from = record.created_timestamp;
        state.add_token(record);
    }
    let mut latest = 0;
    for (i, &token) in tokens.iter().enumerate() {
        latest = state.populate(token, config.accounts_per_token, SEED + i as u64);
    }
    out.expected_holders = tokens
        .iter()
        .map(|&t| {
            state
                .balances_at(t, latest)
                .values()
                .filter(|b| **b > 0)
                .count()
        })
        .collect();
    let sim = MirrorNodeSimulator::start(
        SimulatorConfig {
            latency: config.latency,
            ..SimulatorConfig::default()
        },
        state.into_shared(),
    )
    .await?;

    let server = {
        let (config, data_dir) = (config.clone(), data_dir.to_path_buf());
        let (address, base_url) = (sim.address().to_string(), sim.base_url());
        tokio::task::spawn_blocking(move || Server::start(&config, &data_dir, &address, &base_url))
            .await
            .context("starting the server")??
    };
    out.startup = server.startup;
    tokio::time::sleep(Duration::from_millis(500)).await;
    out.rss_idle_kib = proc_status_kib(server.pid, "VmRSS");

    let result = load(config, &server, &tokens, &mut out).await;

    out.rss_peak_kib = proc_status_kib(server.pid, "VmHWM");
    let log = server.stop();
    out.host_warnings = log.warnings;
    out.host_warning_samples = log.samples;
    out.upstream_requests = sim.stats().requests();
    out.upstream_peak_per_second = sim.stats().peak_per_second();
    out.upstream_rate_limited = sim.stats().rate_limited();
    sim.shutdown().await;
    result.map(|()| out).map_err(|e| {
        if log.tail.is_empty() {
            e
        } else {
            e.context(format!("the server's last lines:\n{}", log.tail.join("\n")))
        }
    })
}

/// One subscriber's connection, before it is read.
type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One message as a subscriber received it.
struct Received {
    at: Instant,
    /// Wall clock at receipt, µs since the Unix epoch.
    wall_us: u64,
    text: String,
}

struct SubscriberLog {
    wallet: usize,
    events: Vec<Received>,
    /// Why the connection ended before the run did, if it did.
    ended: Option<String>,
}

/// What the host's job record says about one job.
#[derive(Default, Clone)]
struct JobTimes {
    status: String,
    created_ms: Option<i64>,
    started_ms: Option<i64>,
    completed_ms: Option<i64>,
    holder_count: Option<u64>,
    attempts: u64,
}

async fn load(
    config: &ServiceBenchConfig,
    server: &Server,
    tokens: &[EntityId],
    out: &mut ServiceRun,
) -> anyhow::Result<()> {
    let exp = now_us() / 1_000_000 + 3600;
    let jwts: Vec<String> = (0..config.wallets)
        .map(|w| wallet_token(&wallet_id(w), exp))
        .collect::<anyhow::Result<_>>()?;

    // --- subscribers
    let ws_base = server.base.replacen("http://", "ws://", 1);
    let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let connect_started = Instant::now();
    let mut connecting = Vec::new();
    for s in 0..config.subscribers {
        let url = format!(
            "{ws_base}/snapshots/ws?access_token={}",
            jwts[config.wallet_of_subscriber(s)]
        );
        let gate = gate.clone();
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let socket = tokio_tungstenite::connect_async(url).await;
            (t.elapsed(), socket.map(|(socket, _)| socket))
        }));
    }
    let mut sockets: Vec<(usize, Socket)> = Vec::new();
    let mut handshakes = Vec::new();
    for (s, task) in connecting.into_iter().enumerate() {
        match task.await {
            Ok((took, Ok(socket))) => {
                handshakes.push(took.as_secs_f64() * 1e3);
                sockets.push((config.wallet_of_subscriber(s), socket));
            }
            Ok((_, Err(e))) => out.connect_failures.push(e.to_string()),
            Err(e) => out.connect_failures.push(e.to_string()),
        }
    }
    out.connect_wall = connect_started.elapsed();
    out.handshake = Summary::of(&handshakes);
    out.connected = sockets.len();
    if sockets.is_empty() {
        bail!(
            "no subscriber could connect: {}",
            out.connect_failures.first().map_or("", String::as_str)
        );
    }

    let subscriber_wallets: Vec<usize> = sockets.iter().map(|(w, _)| *w).collect();
    let finals_seen = Arc::new(AtomicUsize::new(0));
    let final_arrived = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|(wallet, socket)| {
            tokio::spawn(read_events(
                wallet,
                socket,
                stop_rx.clone(),
                finals_seen.clone(),
                final_arrived.clone(),
            ))
        })
        .collect();
    // The server subscribes a connection to the event bus right after the handshake; give
    // every connection time to get there before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    out.rss_connected_kib = proc_status_kib(server.pid, "VmRSS");

    // --- jobs, all at once
    let client = reqwest::Client::new();
    let host_cpu_before = proc_cpu_seconds(Some(server.pid));
    let bench_cpu_before = proc_cpu_seconds(None);
    let load_started = Instant::now();
    let submitting: Vec<_> = (0..config.jobs)
        .map(|k| {
            let url = format!(
                "{}/snapshots/generate/{}",
                server.base,
                tokens[config.token_of_job(k)]
            );
            let (client, jwt) = (client.clone(), jwts[config.wallet_of_job(k)].clone());
            tokio::spawn(async move {
                let t = Instant::now();
                let reply = async {
                    let resp = client
                        .post(url)
                        .bearer_auth(jwt)
                        .header("content-type", "application/json")
                        .body(r#"{"chain":"hedera"}"#)
                        .send()
                        .await?;
                    let status = resp.status();
                    let body = resp.bytes().await?;
                    let accepted = Instant::now();
                    let took = accepted - t;
                    if status != 202 {
                        bail!("{status}: {}", String::from_utf8_lossy(&body));
                    }
                    let v: Value = serde_json::from_slice(&body)?;
                    let id = v["jobId"]
                        .as_str()
                        .ok_or_else(|| anyhow!("no jobId in {v}"))?;
                    Ok((id.to_string(), took, accepted))
                };
                reply.await
            })
        })
        .collect();
    let mut job_ids: Vec<Option<String>> = Vec::new();
    let mut accepted_at: HashMap<String, Instant> = HashMap::new();
    let mut submits = Vec::new();
    for task in submitting {
        match task.await.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok((id, took, accepted)) => {
                submits.push(took.as_secs_f64() * 1e3);
                accepted_at.insert(id.clone(), accepted);
                job_ids.push(Some(id));
            }
            Err(e) => {
                out.submit_failures.push(format!("{e:#}"));
                job_ids.push(None);
            }
        }
    }
    out.submit = Summary::of(&submits);
    out.jobs_submitted = job_ids.iter().flatten().count();

    // Wait until every subscriber has every final event of its wallet's accepted jobs.
    let mut accepted_per_wallet = vec![0usize; config.wallets];
    for (k, id) in job_ids.iter().enumerate() {
        if id.is_some() {
            accepted_per_wallet[config.wallet_of_job(k)] += 1;
        }
    }
    let expected_finals: usize = subscriber_wallets
        .iter()
        .map(|w| accepted_per_wallet[*w])
        .sum();
    out.finished = tokio::time::timeout(config.deadline, async {
        // A final that arrives between the check and the wait leaves a permit: none is missed.
        while finals_seen.load(Ordering::SeqCst) < expected_finals {
            final_arrived.notified().await;
        }
    })
    .await
    .is_ok();
    let host_cpu_after = proc_cpu_seconds(Some(server.pid));
    let bench_cpu_after = proc_cpu_seconds(None);
    let _ = stop_tx.send(true);
    let mut logs = Vec::new();
    for reader in readers {
        logs.push(reader.await.context("a subscriber task")?);
    }

    // --- the host's records of the jobs
    let mut times: HashMap<String, JobTimes> = HashMap::new();
    for (k, id) in job_ids.iter().enumerate() {
        let Some(id) = id else { continue };
        let jwt = &jwts[config.wallet_of_job(k)];
        let record: Value = async {
            let resp = client
                .get(format!("{}/snapshots/{id}", server.base))
                .bearer_auth(jwt)
                .send()
                .await?;
            anyhow::Ok(serde_json::from_slice(&resp.bytes().await?)?)
        }
        .await
        .with_context(|| format!("reading job {id}"))?;
        times.insert(
            id.clone(),
            JobTimes {
                status: record["status"].as_str().unwrap_or("?").to_string(),
                created_ms: record["createdAt"].as_i64(),
                started_ms: record["startedAt"].as_i64(),
                completed_ms: record["completedAt"].as_i64(),
                holder_count: record["holderCount"].as_u64(),
                attempts: record["attempts"].as_u64().unwrap_or(0),
            },
        );
    }

    analyse(
        config,
        &job_ids,
        &times,
        &accepted_at,
        &logs,
        load_started,
        out,
    );
    out.host_cpu = host_cpu_after.zip(host_cpu_before).map(|(a, b)| a - b);
    out.bench_cpu = bench_cpu_after.zip(bench_cpu_before).map(|(a, b)| a - b);
    Ok(())
}

async fn read_events(
    wallet: usize,
    mut socket: Socket,
    mut stop: watch::Receiver<bool>,
    finals_seen: Arc<AtomicUsize>,
    final_arrived: Arc<Notify>,
) -> SubscriberLog {
    let mut events = Vec::new();
    let mut finals = HashSet::new();
    let ended = loop {
        tokio::select! {
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let (at, wall_us) = (Instant::now(), now_us());
                    let text = text.to_string();
                    if (text.contains("\"snapshots_completed\"") || text.contains("\"snapshots_failed\""))
                        && let Some(id) = job_id_of(&text)
                        && finals.insert(id)
                    {
                        finals_seen.fetch_add(1, Ordering::SeqCst);
                        final_arrived.notify_one();
                    }
                    events.push(Received { at, wall_us, text });
                }
                Some(Ok(Message::Close(frame))) => break Some(format!("closed by the server: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Some(e.to_string()),
                None => break Some("connection ended".to_string()),
            },
            _ = stop.changed() => break None,
        }
    };
    let _ = socket.close(None).await;
    SubscriberLog {
        wallet,
        events,
        ended,
    }
}

/// `a − b` in milliseconds, negative when `a` came first.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b {
        (a - b).as_secs_f64() * 1e3
    } else {
        -((b - a).as_secs_f64() * 1e3)
    }
}

fn job_id_of(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    v["payload"]["jobId"].as_str().map(str::to_string)
}

/// Turns the subscribers' logs and the job records into the figures.
fn analyse(
    config: &ServiceBenchConfig,
    job_ids: &[Option<String>],
    times: &HashMap<String, JobTimes>,
    accepted_at: &HashMap<String, Instant>,
    logs: &[SubscriberLog],
    load_started: Instant,
    out: &mut ServiceRun,
) {
    // job id → (wallet, token index)
    let jobs: HashMap<&str, (usize, usize)> = job_ids
        .iter()
        .enumerate()
        .filter_map(|(k, id)| {
            id.as_deref()
                .map(|id| (id, (config.wallet_of_job(k), config.token_of_job(k))))
        })
        .collect();
    let mut jobs_of_wallet: HashMap<usize, Vec<&str>> = HashMap::new();
    for (id, (w, _)) in &jobs {
        jobs_of_wallet.entry(*w).or_default().push(id);
    }

    for t in times.values() {
        match t.status.as_str() {
            "completed" => out.jobs_completed += 1,
            "failed" | "cancelled" => out.jobs_failed += 1,
            _ => out.jobs_unfinished += 1,
        }
        if t.attempts > 1 {
            out.retried_jobs += 1;
        }
    }
    for (id, (_, token)) in &jobs {
        if let Some(t) = times.get(*id)
            && t.status == "completed"
            && t.holder_count != Some(out.expected_holders[*token] as u64)
        {
            out.wrong_holder_counts += 1;
        }
    }
    let created = times.values().filter_map(|t| t.created_ms).min();
    let completed = times.values().filter_map(|t| t.completed_ms).max();
    if let (Some(a), Some(b)) = (created, completed) {
        out.host_span = Duration::from_millis((b - a).max(0) as u64);
    }
    let waits: Vec<f64> = times
        .values()
        .filter_map(|t| Some((t.started_ms? - t.created_ms?) as f64))
        .collect();
    let runs: Vec<f64> = times
        .values()
        .filter_map(|t| Some((t.completed_ms? - t.started_ms?) as f64))
        .collect();
    out.queue_wait = Summary::of(&waits);
    out.run_time = Summary::of(&runs);

    let (mut lat_w, mut lat_a, mut lat_f) = (Vec::new(), Vec::new(), Vec::new());
    let mut after_202 = Vec::new();
    // (job, kind, progress) → receipts, for the spread.
    let mut receipts: HashMap<(String, String, i64), Vec<Instant>> = HashMap::new();
    let mut last_final: Option<Instant> = None;
    let mut sequences: BTreeMap<usize, Vec<Vec<&str>>> = BTreeMap::new();

    for log in logs {
        out.events_received += log.events.len();
        if let Some(why) = &log.ended {
            out.dropped_subscribers.push(why.clone());
        }
        let own: HashSet<&str> = jobs_of_wallet
            .get(&log.wallet)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        // job → (waiting, active, final) receipts
        let mut seen: HashMap<String, [usize; 3]> = HashMap::new();
        let mut finished: HashSet<String> = HashSet::new();
        for e in &log.events {
            let Ok(v) = serde_json::from_str::<Value>(&e.text) else {
                out.unparsable += 1;
                continue;
            };
            let (Some(kind), Some(job)) = (v["type"].as_str(), v["payload"]["jobId"].as_str())
            else {
                out.unparsable += 1;
                continue;
            };
            if !own.contains(job) {
                out.foreign_events += 1;
                continue;
            }
            if finished.contains(job) {
                out.out_of_order += 1;
            }
            let t = times.get(job);
            let latency = |stamp: Option<i64>| stamp.map(|ms| e.wall_us as f64 / 1e3 - ms as f64);
            let counts = seen.entry(job.to_string()).or_default();
            match kind {
                "snapshots_waiting" => {
                    counts[0] += 1;
                    lat_w.extend(latency(t.and_then(|t| t.created_ms)));
                    if let Some(accepted) = accepted_at.get(job) {
                        after_202.push(signed_ms(e.at, *accepted));
                    }
                }
                "snapshots_active" => {
                    if counts[0] == 0 {
                        out.out_of_order += 1;
                    }
                    counts[1] += 1;
                    lat_a.extend(latency(t.and_then(|t| t.started_ms)));
                }
                "snapshots_completed" | "snapshots_failed" => {
                    counts[2] += 1;
                    finished.insert(job.to_string());
                    lat_f.extend(latency(t.and_then(|t| t.completed_ms)));
                    last_final = last_final.max(Some(e.at));
                    let token = jobs[job].1;
                    if kind == "snapshots_completed"
                        && v["payload"]["holderCount"].as_u64()
                            != Some(out.expected_holders[token] as u64)
                    {
                        out.wrong_final_payloads += 1;
                    }
                }
                "snapshots_progress" => out.progress_received += 1,
                _ => out.unparsable += 1,
            }
            let progress = v["payload"]["progress"].as_i64().unwrap_or(-1);
            receipts
                .entry((job.to_string(), kind.to_string(), progress))
                .or_default()
                .push(e.at);
        }
        for job in &own {
            let c = seen.get(*job).copied().unwrap_or_default();
            for (d, n) in [
                (&mut out.waiting, c[0]),
                (&mut out.active, c[1]),
                (&mut out.finals, c[2]),
            ] {
                d.expected += 1;
                d.delivered += usize::from(n > 0);
                d.duplicates += n.saturating_sub(1);
            }
        }
        sequences
            .entry(log.wallet)
            .or_default()
            .push(log.events.iter().map(|e| e.text.as_str()).collect());
    }
    out.wallets_with_subscribers = sequences.len();
    out.consistent_wallets = sequences
        .values()
        .filter(|seqs| seqs.windows(2).all(|w| w[0] == w[1]))
        .count();
    let subscribers_of: HashMap<usize, usize> =
        sequences.iter().map(|(w, seqs)| (*w, seqs.len())).collect();
    let spreads: Vec<f64> = receipts
        .iter()
        .filter(|((job, _, _), at)| {
            jobs.get(job.as_str())
                .is_some_and(|(w, _)| subscribers_of.get(w).copied().unwrap_or(0) == at.len())
                && at.len() > 1
        })
        .map(|(_, at)| {
            let (min, max) = (at.iter().min().unwrap(), at.iter().max().unwrap());
            (*max - *min).as_secs_f64() * 1e3
        })
        .collect();
    out.spread = Summary::of(&spreads);
    out.latency_waiting = Summary::of(&lat_w);
    out.latency_active = Summary::of(&lat_a);
    out.latency_final = Summary::of(&lat_f);
    out.waiting_after_202 = Summary::of(&after_202);
    let headline: Vec<f64> = lat_a.iter().chain(&lat_f).copied().collect();
    out.latency = Summary::of(&headline);
    out.wall = last_final.map_or(load_started.elapsed(), |t| t - load_started);
}

// ---------------------------------------------------------------------------
// The server process

struct Server {
    child: Child,
    pid: u32,
    base: String,
    startup: Duration,
    log: Arc<Mutex<ServerLog>>,
}

#[derive(Default, Clone)]
struct ServerLog {
    tail: VecDeque<String>,
    warnings: usize,
    samples: Vec<String>,
}

/// What the server logged, once it has stopped.
struct StoppedLog {
    tail: Vec<String>,
    warnings: usize,
    samples: Vec<String>,
}

impl Server {
    /// Starts `snapshot-host serve` (this executable in server mode) and waits until it
    /// listens.
    fn start(
        config: &ServiceBenchConfig,
        data_dir: &std::path::Path,
        upstream: &str,
        upstream_url: &str,
    ) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("locating the bench executable")?;
        let mut command = Command::new(exe);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args([
                "--rate-limit",
                &format!(
                    "{upstream}={}:{}",
                    config.upstream_rps, config.upstream_in_flight
                ),
            ])
            // Only the settings below: nothing from the caller's environment (REDIS_HOST,
            // JWT_PUBLIC_KEY, …) changes what is measured.
            .env_clear()
            .env(SERVE_CHILD_ENV, "1")
            .env("JWT_SECRET", SECRET)
            .env("SNAPSHOT_ENDPOINT_HEDERA", upstream_url)
            .env(
                "SNAPSHOT_QUEUE_CONCURRENCY",
                config.queue_concurrency.to_string(),
            )
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(tmp) = std::env::var_os("TMPDIR") {
            command.env("TMPDIR", tmp);
        }
        let started = Instant::now();
        let mut child = command.spawn().context("starting the server process")?;
        let pid = child.id();
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("snapshot-host listening on ") {
                        let _ = tx.send(addr.trim().to_string());
                        continue;
                    }
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    if line.contains("WARN") || line.contains("ERROR") {
                        log.warnings += 1;
                        if log.samples.len() < 3 {
                            log.samples.push(line.clone());
                        }
                    }
                    log.tail.push_back(line);
                    if log.tail.len() > 20 {
                        log.tail.pop_front();
                    }
                }
            });
        }
        let mut server = Server {
            child,
            pid,
            base: String::new(),
            startup: Duration::ZERO,
            log,
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => {
                server.base = base;
                server.startup = started.elapsed();
                Ok(server)
            }
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                let tail = server.stop().tail.join("\n");
                bail!(
                    "the server did not start listening (exit status {status:?}); its output:\n{tail}"
                )
            }
        }
    }

    /// Kills the server (its jobs are finished; nothing is left to shut down cleanly) and
    /// returns what it logged.
    fn stop(mut self) -> StoppedLog {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        StoppedLog {
            tail: log.tail.into_iter().collect(),
            warnings: log.warnings,
            samples: log.samples,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Helpers

fn wallet_id(w: usize) -> String {
    format!("0.0.{}", FIRST_WALLET + w as u64)
}

fn wallet_token(wallet: &str, exp: u64) -> anyhow::Result<String> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": wallet, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .context("signing a JWT")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Makes sure this process (and the server, which inherits it) may open `needed` files:
/// raises the soft limit up to the hard one when it is lower. Returns the limit in force
/// (soft, hard) and whether it was raised.
fn ensure_fd_limit(needed: u64) -> anyhow::Result<((u64, u64), bool)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        bail!(
            "reading the open-file limit: {}",
            std::io::Error::last_os_error()
        );
    }
    // `rlim_t` is u64 on Linux but not everywhere.
    #[allow(clippy::unnecessary_cast)]
    let (soft, hard) = (limit.rlim_cur as u64, limit.rlim_max as u64);
    if soft >= needed {
        return Ok(((soft, hard), false));
    }
    if hard < needed {
        bail!(
            "the open-file limit is {soft} (hard limit {hard}); this section needs about {needed} \
             descriptors in each process. Raise it (`ulimit -n {needed}` as a user allowed to) \
             or pass fewer --subscribers"
        );
    }
    limit.rlim_cur = needed as libc::rlim_t;
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        bail!(
            "raising the open-file limit from {soft} to {needed}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(((needed, hard), true))
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// User + system CPU seconds of a process (this one when `None`), from `/proc/PID/stat`.
fn proc_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_string(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

// ---------------------------------------------------------------------------
// The report

fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.0} ms")
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count_line(d: &Delivery) -> String {
    let lost = d.expected - d.delivered.min(d.expected);
    format!(
        "{} / {}{}{}",
        thousands(d.delivered),
        thousands(d.expected),
        if lost > 0 {
            format!(" — **{lost} LOST**")
        } else {
            String::new()
        },
        if d.duplicates > 0 {
            format!(", {} duplicates", d.duplicates)
        } else {
            String::new()
        }
    )
}

impl ServiceBenchResult {
    /// One line for the bench's progress output.
    pub fn one_line(&self) -> String {
        match &self.outcome {
            Ok(r) => format!(
                "{} jobs completed in {:.1} s = {:.0} jobs/min; delivery p50 {} p99 {}; final \
                 events {}/{}",
                r.jobs_completed,
                r.wall.as_secs_f64(),
                r.jobs_per_minute(),
                ms(r.latency.p50),
                ms(r.latency.p99),
                r.finals.delivered,
                r.finals.expected
            ),
            Err(e) => format!("FAILED: {e}"),
        }
    }

    /// The "Service under load" section of BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let w = &mut s;
        let per_wallet = c.subscribers as f64 / c.wallets as f64;
        let _ = writeln!(w, "## Service under load\n");
        let _ = writeln!(
            w,
            "`tests/src/service_bench.rs`: the real `snapshot-host serve` in a process of its own \
             (the bench executable starts itself again with `serve …` arguments and runs \
             `snapshot_host::cli::main`, the whole `main` of the `snapshot-host` binary, from the \
             same release build), on embedded defaults: SQLite queue and job store and local \
             documents in a fresh data directory, `JWT_SECRET` (HS256), \
             `SNAPSHOT_QUEUE_CONCURRENCY={conc}` (the default is 2; with 100 jobs queued an \
             operator raises it). Upstream is the mirror-node simulator, in the bench process, with \
             {lat} ms of latency per reply and no rate limit of its own, and the host runs with \
             `--rate-limit 127.0.0.1:PORT={rps}:{inflight}`, so the upstream limit is not what is \
             measured here (the sections above measure it). The ledger holds {tokens} tokens of \
             {accounts} accounts ({holders} holders).\n",
            conc = c.queue_concurrency,
            lat = c.latency.as_millis(),
            rps = c.upstream_rps,
            inflight = c.upstream_in_flight,
            tokens = c.tokens,
            accounts = thousands(c.accounts_per_token),
            holders = match &self.outcome {
                Ok(r) => r
                    .expected_holders
                    .iter()
                    .map(|h| thousands(*h))
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(_) => "?".into(),
            },
        );
        let _ = writeln!(
            w,
            "The load: {subs} plain WebSocket clients (`GET /snapshots/ws?access_token=…`) spread \
             evenly over {wallets} wallets — {per_wallet:.0} per wallet, like an account open in \
             several tabs, devices or back-end listeners — connect first; then {jobs} jobs are \
             POSTed at once (`/snapshots/generate/{{tokenId}}` with `{{\"chain\":\"hedera\"}}`), job \
             *k* by wallet *k* mod {wallets} on token *k* mod {tokens}, so the events of each job \
             go to the {per_wallet:.0} subscribers of its wallet. The server hands every event to \
             every connection, which keeps its own wallet's (`host/src/api/ws.rs`), so its work per \
             event grows with all {subs} subscribers, not with the {per_wallet:.0} who get it. \
             **One machine, shared:** the host, the simulator and the {subs} clients run on the \
             same {cores} cores, so the figures are a floor for a host with a machine to itself.\n",
            subs = thousands(c.subscribers),
            wallets = c.wallets,
            jobs = c.jobs,
            tokens = c.tokens,
            cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        let r = match &self.outcome {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(w, "**FAILED:** {e}\n");
                return s;
            }
        };
        if !r.finished {
            let _ = writeln!(
                w,
                "**INCOMPLETE:** not every final event arrived within {} s; the figures below \
                 cover what did.\n",
                c.deadline.as_secs()
            );
        }

        let _ = writeln!(w, "| figure | value |");
        let _ = writeln!(w, "|---|---|");
        let _ = writeln!(
            w,
            "| **Jobs/minute** | **{:.0}** ({} jobs completed in {}) |",
            r.jobs_per_minute(),
            r.jobs_completed,
            secs(r.wall),
        );
        let _ = writeln!(
            w,
            "| **Event delivery p50 / p99 / max** | **{} / {} / {}** ({} deliveries of \
             `snapshots_active` and `_completed`) |",
            ms(r.latency.p50),
            ms(r.latency.p99),
            ms(r.latency.max),
            r.latency.count
        );
        let _ = writeln!(
            w,
            "| **Final events delivered / expected** | **{}** |",
            count_line(&r.finals)
        );
        let _ = writeln!(
            w,
            "| `snapshots_waiting` delivered / expected | {} |",
            count_line(&r.waiting)
        );
        let _ = writeln!(
            w,
            "| `snapshots_active` delivered / expected | {} |",
            count_line(&r.active)
        );
        let _ = writeln!(
            w,
            "| `snapshots_progress` received | {} |",
            thousands(r.progress_received)
        );
        let _ = writeln!(
            w,
            "| Subscribers of a wallet that got the identical sequence | {}/{} wallets; {} events \
             of another wallet's jobs; {} out of order; {} final payloads with a wrong holder \
             count; {} unparsable |",
            r.consistent_wallets,
            r.wallets_with_subscribers,
            r.foreign_events,
            r.out_of_order,
            r.wrong_final_payloads,
            r.unparsable
        );
        let _ = writeln!(
            w,
            "| Jobs | {} submitted, {} completed, {} failed, {} unfinished; holder count right in \
             {}/{}{} |",
            r.jobs_submitted,
            r.jobs_completed,
            r.jobs_failed,
            r.jobs_unfinished,
            r.jobs_completed - r.wrong_holder_counts.min(r.jobs_completed),
            r.jobs_completed,
            if r.retried_jobs > 0 {
                format!("; {} needed a retry", r.retried_jobs)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            w,
            "| Fan-out spread p50 / p99 / max | {} / {} / {} ({} events) |",
            ms(r.spread.p50),
            ms(r.spread.p99),
            ms(r.spread.max),
            r.spread.count
        );
        let _ = writeln!(
            w,
            "| POST → 202 p50 / p99 / max | {} / {} / {}{} |",
            ms(r.submit.p50),
            ms(r.submit.p99),
            ms(r.submit.max),
            if r.submit_failures.is_empty() {
                String::new()
            } else {
                format!(
                    "; **{} refused**, e.g. {}",
                    r.submit_failures.len(),
                    r.submit_failures[0]
                )
            }
        );
        let _ = writeln!(
            w,
            "| Queue wait / run time per job, p50 (max) | {} ({}) / {} ({}) |",
            ms(r.queue_wait.p50),
            ms(r.queue_wait.max),
            ms(r.run_time.p50),
            ms(r.run_time.max)
        );
        let _ = writeln!(
            w,
            "| Subscribers connected | {} of {} in {} ({} handshakes at a time; handshake p50 / \
             p99 {} / {}); {} dropped during the run |",
            thousands(r.connected),
            thousands(c.subscribers),
            secs(r.connect_wall),
            CONNECTS_IN_FLIGHT,
            ms(r.handshake.p50),
            ms(r.handshake.p99),
            r.dropped_subscribers.len()
        );
        let _ = writeln!(
            w,
            "| Host resident set: idle / {} subscribers / peak | {} / {} / {} |",
            thousands(r.connected),
            mib(r.rss_idle_kib),
            mib(r.rss_connected_kib),
            mib(r.rss_peak_kib)
        );
        let wall = r.wall.as_secs_f64().max(f64::MIN_POSITIVE);
        let cpu = |c: Option<f64>| {
            c.map_or_else(
                || "n/a".into(),
                |c| format!("{c:.1} s ({:.2} cores)", c / wall),
            )
        };
        let _ = writeln!(
            w,
            "| CPU time during the load: host / bench (simulator + clients) | {} / {} |",
            cpu(r.host_cpu),
            cpu(r.bench_cpu),
        );
        let _ = writeln!(
            w,
            "| Upstream requests | {} (peak {}/s, {} × 429) |",
            thousands(r.upstream_requests as usize),
            r.upstream_peak_per_second,
            r.upstream_rate_limited
        );
        let _ = writeln!(
            w,
            "| Host start (spawn → listening, plugins compiled cold) | {} |",
            secs(r.startup)
        );
        let _ = writeln!(
            w,
            "| Open-file limit | {} (hard {}){} |",
            r.fd_limit.0,
            r.fd_limit.1,
            if r.fd_raised {
                "; the bench raised the soft limit"
            } else {
                ""
            }
        );
        let _ = writeln!(
            w,
            "| Machine load average (1 min) when the section started | {} |\n",
            r.load_average.as_deref().unwrap_or("n/a")
        );

        let _ = writeln!(
            w,
            "Delivery latency per event type (host stamp → subscriber):\n"
        );
        let _ = writeln!(w, "| event | host stamp | deliveries | p50 | p99 | max |");
        let _ = writeln!(w, "|---|---|--:|--:|--:|--:|");
        for (name, stamp, l) in [
            (
                "`snapshots_active`",
                "`startedAt`, set in the store update that marks the job active",
                &r.latency_active,
            ),
            (
                "`snapshots_completed`",
                "`completedAt`, set in the store update that marks the job done",
                &r.latency_final,
            ),
            (
                "`snapshots_waiting`",
                "`createdAt`, set *before* the job is stored and queued",
                &r.latency_waiting,
            ),
        ] {
            let _ = writeln!(
                w,
                "| {name} | {stamp} | {} | {} | {} | {} |",
                thousands(l.count),
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            );
        }
        let _ = writeln!(w);

        let _ = writeln!(
            w,
            "What the figures mean:\n\n\
             - *Jobs/minute*: completed jobs ÷ the time from the first POST to the moment the \
             last subscriber had the last final event — validation, queueing, the walks, the \
             documents and the delivery all inside. The host's own stamps (first `createdAt` → \
             last `completedAt`) span {}.\n\
             - *Event delivery*: event payloads carry no timestamp, but the job record does, \
             stamped by the host just before it publishes the event; after the run the bench \
             reads the records (`GET /snapshots/{{jobId}}`) and subtracts each stamp from the \
             subscriber's wall clock at receipt (one clock: same machine). A sample therefore \
             holds the commit of the store write that follows the stamp, the event bus, the \
             WebSocket write and the client's read; stamps are whole milliseconds, so a sample \
             can be up to 1 ms high. The headline uses `_active` and `_completed`, whose stamp \
             is taken right before publishing. `snapshots_waiting` is stamped before the job \
             is stored and queued, so its row also holds those writes while {} POSTs contend \
             for the database; measured instead against the submitter's own reply, it reaches \
             the subscribers {} after the 202 at p50 ({} at p99; negative = before). Progress \
             events have no stamp: they are counted, not timed.\n\
             - *Delivered / expected*: (subscriber, job) pairs — every subscriber must get each \
             state event of every job of its wallet, exactly once, in order; a lost event \
             shows as a shortfall, a re-sent one as a duplicate. *Identical sequence*: all the \
             subscribers of a wallet received the same messages, progress included, in the \
             same order.\n\
             - *Fan-out spread*: for one event, first → last receipt among the wallet's \
             {per_wallet:.0} subscribers, on the bench's monotonic clock.\n\
             - *Queue wait* `startedAt − createdAt` (at most {} jobs run at once; the rest wait \
             for a slot), *run time* `completedAt − startedAt`.\n\
             - *Resident set*: `VmRSS` of the host process after start and with the subscribers \
             connected, and its peak (`VmHWM`), from `/proc`. *CPU time*: user + system, from \
             `/proc/PID/stat`, over the same interval as jobs/minute.\n",
            secs(r.host_span),
            c.jobs,
            ms(r.waiting_after_202.p50),
            ms(r.waiting_after_202.p99),
            c.queue_concurrency,
        );
        if r.host_warnings > 0 {
            let _ = writeln!(
                w,
                "The host logged {} warning or error lines, e.g.:\n\n```text\n{}\n```\n",
                r.host_warnings,
                r.host_warning_samples.join("\n")
            );
        }
        if let Some(first) = r.dropped_subscribers.first() {
            let _ = writeln!(
                w,
                "**{} subscribers lost their connection during the run**, e.g.: {first}\n",
                r.dropped_subscribers.len()
            );
        }
        if let Some(first) = r.connect_failures.first() {
            let _ = writeln!(
                w,
                "**{} subscribers could not connect**, e.g.: {first}\n",
                r.connect_failures.len()
            );
        }
        s
    }
}

impl ServiceRun {
    pub fn jobs_per_minute(&self) -> f64 {
        self.jobs_completed as f64 * 60.0 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}
