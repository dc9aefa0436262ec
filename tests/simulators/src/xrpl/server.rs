//! The HTTP server: `POST /` JSON-RPC, configuration knobs, counters, load behaviour and ledger
//! closing with churn.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::rpc::{CallContext, RpcError, ServerKind, dispatch};
use super::state::SharedState;
use crate::common::{BackgroundServer, FaultPlan, FaultStats, PeakRate, TokenBucket};

/// Clio's warning on every reply it serves from its own database.
const CLIO_WARNING: &str = "This is a clio server. clio only serves validated data. If you want to talk to rippled, include 'ledger_index':'current' in your request";

/// When the tip ledger closes (a new validated ledger appears, then churn applies to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerTrigger {
    /// After every `n`-th request that was answered (not refused for load).
    EveryRequests(u64),
    /// On a timer, independent of traffic (mainnet closes every 3–4 s).
    Interval(Duration),
}

/// Closing ledgers with balance churn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerAdvance {
    pub trigger: LedgerTrigger,
    /// Random transfers per closed ledger (see [`super::XrplLedgerState::churn`]).
    pub churn_moves: usize,
}

/// Load limiting. rippled charges each client and, as the balance runs low, first adds
/// `"warning": "load"` to results, then refuses: over JSON-RPC with HTTP 503, or with the
/// `slowDown` error. The simulator uses a token bucket for the charge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadConfig {
    /// Sustained requests per second.
    pub rate: f64,
    /// Bucket capacity; `None` = rate/10 (at least 1).
    pub burst: Option<f64>,
    /// Answered requests carry `"warning": "load"` once the bucket is below this share
    /// (0.0–1.0) of its capacity.
    pub warn_below: f64,
    /// Share (0.0–1.0) of refused requests answered with HTTP 503; the others get a 200 with
    /// the `slowDown` error.
    pub refuse_with_503: f64,
}

impl LoadConfig {
    pub fn new(rate: f64) -> Self {
        Self {
            rate,
            burst: None,
            warn_below: 0.5,
            refuse_with_503: 0.5,
        }
    }
}

/// What a disabled method answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledMethodError {
    /// `unknownCmd` (32, "Unknown method."): what rippled and Clio answer for a method they do
    /// not serve.
    UnknownCmd,
    /// `notSupported` (75, "Operation not supported.").
    NotSupported,
}

/// Behaviour knobs of an [`XrplSimulator`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Response time of every request, refusals included: a reply leaves no earlier than
    /// `latency` after its request arrived, and the simulator's own work (reading the ledger,
    /// rendering and serializing the reply) happens within that time, so a client sees the
    /// same round trip for a 400-line page as for `server_info` (the simulator's CPU cost does
    /// not add to what benchmarks measure against `latency`).
    pub latency: Duration,
    pub load: Option<LoadConfig>,
    pub ledger_advance: Option<LedgerAdvance>,
    pub kind: ServerKind,
    /// Methods answered with `disabled_method_error`, e.g. `gateway_balances`.
    pub disabled_methods: BTreeSet<String>,
    pub disabled_method_error: DisabledMethodError,
    /// Every n-th `nfts_by_issuer` call gets an empty page that still carries a marker, like a
    /// Clio page whose window of its NFT index held only NFTs minted after the requested ledger:
    /// the marker moves past that window (never repeating the one sent), and the next page goes
    /// on at the next NFT.
    pub nft_empty_page_every: Option<u64>,
    /// Seeds the load-refusal and churn RNG.
    pub seed: u64,
    /// Seeded random upstream faults (429s, 5xx, resets, truncated bodies, latency spikes),
    /// drawn before everything else.
    pub fault_plan: Option<FaultPlan>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            latency: Duration::ZERO,
            load: None,
            ledger_advance: None,
            kind: ServerKind::Clio,
            disabled_methods: BTreeSet::new(),
            disabled_method_error: DisabledMethodError::UnknownCmd,
            nft_empty_page_every: None,
            seed: 0,
            fault_plan: None,
        }
    }
}

/// Counters readable while the simulator runs.
#[derive(Debug, Default)]
pub struct SimulatorStats {
    /// Every request received.
    pub requests: AtomicU64,
    /// Requests answered with a JSON-RPC result (success or error).
    pub served: AtomicU64,
    /// HTTP 503 refusals.
    pub http_503: AtomicU64,
    /// Results carrying `"warning": "load"`.
    pub load_warnings: AtomicU64,
    /// `slowDown` refusals.
    pub slow_downs: AtomicU64,
    /// Answers with an error result (slowDown excluded).
    pub rpc_errors: AtomicU64,
    /// Ledgers closed by the server (not by tests).
    pub ledgers_closed: AtomicU64,
    per_method: Mutex<BTreeMap<String, u64>>,
    peak: PeakRate,
}

impl SimulatorStats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
    pub fn http_503(&self) -> u64 {
        self.http_503.load(Ordering::Relaxed)
    }
    pub fn load_warnings(&self) -> u64 {
        self.load_warnings.load(Ordering::Relaxed)
    }
    pub fn slow_downs(&self) -> u64 {
        self.slow_downs.load(Ordering::Relaxed)
    }
    pub fn rpc_errors(&self) -> u64 {
        self.rpc_errors.load(Ordering::Relaxed)
    }
    pub fn ledgers_closed(&self) -> u64 {
        self.ledgers_closed.load(Ordering::Relaxed)
    }
    /// Answered calls per method name.
    pub fn served_per_method(&self) -> BTreeMap<String, u64> {
        self.per_method.lock().expect("stats lock poisoned").clone()
    }
    pub fn peak_per_second(&self) -> u64 {
        self.peak.peak()
    }
}

struct Shared {
    config: SimulatorConfig,
    state: SharedState,
    stats: Arc<SimulatorStats>,
    bucket: Option<Mutex<TokenBucket>>,
    rng: Mutex<StdRng>,
    started: Instant,
    nft_calls: AtomicU64,
}

impl Shared {
    fn close_ledger(&self) {
        let Some(advance) = self.config.ledger_advance else {
            return;
        };
        let mut rng = self.rng.lock().expect("rng lock poisoned");
        let mut state = self.state.write().expect("state lock poisoned");
        let index = state.advance_ledger();
        state.churn(&mut *rng, advance.churn_moves);
        self.stats.ledgers_closed.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(ledger = index, "ledger closed");
    }
}

/// How the load limiter treats one request.
enum Load {
    Fine,
    Warn,
    Refuse503,
    RefuseSlowDown,
}

/// The rippled/Clio JSON-RPC simulator.
pub struct XrplSimulator;

impl XrplSimulator {
    /// Binds 127.0.0.1 (port from the config, 0 = any) and serves until the returned handle is
    /// shut down or dropped. Must be called within a tokio runtime.
    pub async fn start(
        config: SimulatorConfig,
        state: SharedState,
    ) -> anyhow::Result<RunningSimulator> {
        let bucket = config.load.map(|load| {
            let burst = load.burst.unwrap_or(TokenBucket::default_burst(load.rate));
            Mutex::new(TokenBucket::new(load.rate, burst))
        });
        let stats = Arc::new(SimulatorStats::default());
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            bucket,
            stats: Arc::clone(&stats),
            state: Arc::clone(&state),
            started: Instant::now(),
            nft_calls: AtomicU64::new(0),
            config,
        });
        let app = Router::new()
            .route("/", post(json_rpc))
            .with_state(Arc::clone(&shared));
        let fault_stats = Arc::new(FaultStats::default());
        let app = match shared.config.fault_plan.clone() {
            Some(plan) => plan.layer(app, Arc::clone(&fault_stats)),
            None => app,
        };
        let mut server = BackgroundServer::start(shared.config.port, app, "xrpl").await?;
        if let Some(LedgerAdvance {
            trigger: LedgerTrigger::Interval(period),
            ..
        }) = shared.config.ledger_advance
        {
            let shared = Arc::clone(&shared);
            server.attach(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(period);
                ticker.tick().await; // the first tick is immediate
                loop {
                    ticker.tick().await;
                    shared.close_ledger();
                }
            }));
        }
        Ok(RunningSimulator::new(state, stats, fault_stats, server))
    }
}

fn judge_load(shared: &Shared) -> Load {
    let (Some(bucket), Some(load)) = (&shared.bucket, shared.config.load) else {
        return Load::Fine;
    };
    let mut bucket = bucket.lock().expect("bucket lock poisoned");
    if !bucket.try_take() {
        let refuse_503 = shared
            .rng
            .lock()
            .expect("rng lock poisoned")
            .random_bool(load.refuse_with_503.clamp(0.0, 1.0));
        return if refuse_503 {
            Load::Refuse503
        } else {
            Load::RefuseSlowDown
        };
    }
    if bucket.fill_ratio() < load.warn_below {
        Load::Warn
    } else {
        Load::Fine
    }
}

/// `POST /`: count, load, parse, dispatch, maybe close a ledger, then answer once the configured
/// latency has passed since the request arrived.
async fn json_rpc(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let arrived = Instant::now();
    let response = answer(&shared, &body);
    if !shared.config.latency.is_zero() {
        wait_until(arrived + shared.config.latency).await;
    }
    response
}

/// Waits until `deadline`, to within about 0.1 ms. Tokio's timer works in whole milliseconds and
/// fires up to a millisecond (plus a wake-up) late, which would add over a millisecond to every
/// round trip a client sees; so tokio's timer covers all but the last stretch, and the rest is
/// slept on a blocking thread with the OS's precise timer.
async fn wait_until(deadline: Instant) {
    /// Enough for the tokio timer's rounding and wake-up, so it never overshoots `deadline`.
    const COARSE_MARGIN: Duration = Duration::from_millis(2);
    let now = Instant::now();
    if deadline <= now {
        return;
    }
    if deadline - now > COARSE_MARGIN {
        tokio::time::sleep_until((deadline - COARSE_MARGIN).into()).await;
    }
    let rest = deadline.saturating_duration_since(Instant::now());
    if !rest.is_zero() {
        // A blocking thread: the runtime's workers stay free for other requests.
        let slept = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
        if slept.is_err() {
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

fn answer(shared: &Shared, body: &[u8]) -> Response {
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats.peak.record(shared.started.elapsed().as_secs());
    let load = judge_load(shared);
    if let Load::Refuse503 = load {
        stats.http_503.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "Server is overloaded\r\n",
        )
            .into_response();
    }
    // rippled answers unparsable bodies with a plain-text 400, not a JSON-RPC error.
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "Unable to parse request\r\n").into_response();
    };
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return (StatusCode::BAD_REQUEST, "Null method\r\n").into_response();
    };
    // Like rippled: a missing `params` means no parameters (a flat, WebSocket-style body is not
    // read); anything but an array of one object is a parameter error.
    let params = match request.get("params") {
        None => Ok(Map::new()),
        Some(Value::Array(items)) => match items.as_slice() {
            [] => Ok(Map::new()),
            [Value::Object(params)] => Ok(params.clone()),
            _ => Err(RpcError::invalid_params("Invalid parameters.")),
        },
        Some(_) => Err(RpcError::invalid_params("Invalid parameters.")),
    };

    let outcome = if let Load::RefuseSlowDown = load {
        stats.slow_downs.fetch_add(1, Ordering::Relaxed);
        Err(RpcError::slow_down())
    } else {
        params.clone().and_then(|params| {
            if shared.config.disabled_methods.contains(method) {
                return Err(match shared.config.disabled_method_error {
                    DisabledMethodError::UnknownCmd => RpcError::unknown_cmd(),
                    DisabledMethodError::NotSupported => RpcError::not_supported(),
                });
            }
            let empty_nft_page = method == "nfts_by_issuer"
                && shared.config.nft_empty_page_every.is_some_and(|every| {
                    every > 0
                        && (shared.nft_calls.fetch_add(1, Ordering::Relaxed) + 1)
                            .is_multiple_of(every)
                });
            let context = CallContext {
                kind: shared.config.kind,
                empty_nft_page,
            };
            let state = shared.state.read().expect("state lock poisoned");
            dispatch(&state, context, method, &params)
        })
    };

    let mut envelope = Map::new();
    let result = match outcome {
        Ok(mut result) => {
            *stats
                .per_method
                .lock()
                .expect("stats lock poisoned")
                .entry(method.to_owned())
                .or_insert(0) += 1;
            result.insert("status".into(), json!("success"));
            if let Load::Warn = load {
                stats.load_warnings.fetch_add(1, Ordering::Relaxed);
                result.insert("warning".into(), json!("load"));
            }
            if shared.config.kind == ServerKind::Clio
                && result.get("validated") == Some(&Value::Bool(true))
            {
                envelope.insert(
                    "warnings".into(),
                    json!([{ "id": 2001, "message": CLIO_WARNING }]),
                );
            }
            result
        }
        Err(error) => {
            if error.token != "slowDown" {
                stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
            }
            let mut echoed = params.unwrap_or_default();
            echoed.insert("command".into(), json!(method));
            let mut result = Map::new();
            result.insert("error".into(), json!(error.token));
            result.insert("error_code".into(), json!(error.code));
            result.insert("error_message".into(), json!(error.message));
            result.insert("request".into(), Value::Object(echoed));
            result.insert("status".into(), json!("error"));
            result
        }
    };
    envelope.insert("result".into(), Value::Object(result));
    let served = stats.served.fetch_add(1, Ordering::Relaxed) + 1;
    // Close after answering, so the reply just sent was consistent with itself and the next
    // request sees a new ledger.
    if let Some(LedgerAdvance {
        trigger: LedgerTrigger::EveryRequests(every),
        ..
    }) = shared.config.ledger_advance
        && every > 0
        && served.is_multiple_of(every)
    {
        shared.close_ledger();
    }
    // Serialized here, within the latency window.
    let bytes = serde_json::to_vec(&Value::Object(envelope)).expect("a JSON value serializes");
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A started XRPL simulator (see [`crate::common::RunningSimulator`]); POST
/// JSON-RPC to its `base_url()`.
pub type RunningSimulator = crate::common::RunningSimulator<SharedState, SimulatorStats>;
