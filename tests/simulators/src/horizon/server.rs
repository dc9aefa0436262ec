//! The HTTP server: configuration knobs, counters, Horizon's rate limiting and its headers, and
//! ledgers closing (with balance churn) while a walk runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::common::{BackgroundServer, FaultPlan, FaultStats, PeakRate, TokenBucket};

use super::routes::{rate_limit_exceeded, router};
use super::state::{Asset, SharedState};

/// Horizon's per-client rate limit. SDF's public Horizon allows about 3,600 requests an hour per
/// IP with GCRA, which is a token bucket: `rate` requests per second sustained, at most `burst`
/// at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Requests per second.
    pub rate: f64,
    /// Bucket capacity (reported as `X-RateLimit-Limit`).
    pub burst: f64,
}

/// When a ledger closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerTrigger {
    /// After every `n`-th answered request (not refused for the rate limit).
    EveryRequests(u64),
    /// On a timer (mainnet closes a ledger every 5-6 s).
    Interval(Duration),
}

/// Ledgers closing while the simulator runs, optionally moving balances of one asset.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerAdvance {
    pub trigger: LedgerTrigger,
    /// `(asset, transfers per ledger)`: random transfers between its holders.
    pub churn: Option<(Asset, usize)>,
}

/// Behaviour knobs of a [`HorizonSimulator`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Added to every response, 429s included (it models the network).
    pub latency: Duration,
    /// `None` = unlimited, and no `X-RateLimit-*` headers.
    pub rate_limit: Option<RateLimitConfig>,
    pub ledger_advance: Option<LedgerAdvance>,
    /// Seeds the churn RNG.
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
            rate_limit: None,
            ledger_advance: None,
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
    /// Requests that reached a route.
    pub served: AtomicU64,
    /// 429 replies.
    pub rate_limited: AtomicU64,
    /// Ledgers closed by the server.
    pub ledgers_closed: AtomicU64,
    per_route: Mutex<BTreeMap<String, u64>>,
    peak: PeakRate,
}

impl SimulatorStats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }
    pub fn ledgers_closed(&self) -> u64 {
        self.ledgers_closed.load(Ordering::Relaxed)
    }
    /// Answered requests per route: `root`, `assets`, `accounts`, `account`, `not_found`.
    pub fn served_per_route(&self) -> BTreeMap<String, u64> {
        self.per_route.lock().expect("stats lock poisoned").clone()
    }
    /// Answered requests of one route.
    pub fn served_route(&self, route: &str) -> u64 {
        self.served_per_route().get(route).copied().unwrap_or(0)
    }
    pub fn peak_per_second(&self) -> u64 {
        self.peak.peak()
    }
}

pub(super) struct Shared {
    pub(super) config: SimulatorConfig,
    pub(super) state: SharedState,
    stats: Arc<SimulatorStats>,
    bucket: Option<Mutex<TokenBucket>>,
    rng: Mutex<StdRng>,
    started: Instant,
}

impl Shared {
    pub(super) fn count_route(&self, route: &str) {
        *self
            .stats
            .per_route
            .lock()
            .expect("stats lock poisoned")
            .entry(route.to_string())
            .or_insert(0) += 1;
    }

    fn close_ledger(&self) {
        let Some(advance) = &self.config.ledger_advance else {
            return;
        };
        let mut state = self.state.write().expect("state lock poisoned");
        let ledger = match &advance.churn {
            Some((asset, moves)) => {
                let mut rng = self.rng.lock().expect("rng lock poisoned");
                state.churn(&mut rng, asset, *moves)
            }
            None => state.close_ledger(),
        };
        self.stats.ledgers_closed.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(ledger, "ledger closed");
    }
}

/// What the rate limiter says about one request: `X-RateLimit-*` values, and whether it may pass.
struct Budget {
    allowed: bool,
    limit: u64,
    remaining: u64,
    /// Seconds until the bucket is full again.
    reset: u64,
    /// Seconds until one more request is allowed (for `Retry-After`).
    retry_after: u64,
}

fn take_budget(bucket: &Mutex<TokenBucket>, config: RateLimitConfig) -> Budget {
    let mut bucket = bucket.lock().expect("bucket lock poisoned");
    let allowed = bucket.try_take();
    let tokens = bucket.fill_ratio() * config.burst;
    let rate = config.rate.max(f64::MIN_POSITIVE);
    Budget {
        allowed,
        limit: config.burst.floor() as u64,
        remaining: tokens.floor().max(0.0) as u64,
        reset: ((config.burst - tokens).max(0.0) / rate).ceil() as u64,
        retry_after: ((1.0 - tokens).max(0.0) / rate).ceil().max(1.0) as u64,
    }
}

fn set_rate_headers(response: &mut Response, budget: &Budget) {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(budget.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(budget.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(budget.reset));
}

/// The Horizon REST simulator.
pub struct HorizonSimulator;

impl HorizonSimulator {
    /// Binds 127.0.0.1 (port from the config, 0 = any) and serves until the returned handle is
    /// shut down or dropped. Must be called within a tokio runtime.
    pub async fn start(
        config: SimulatorConfig,
        state: SharedState,
    ) -> anyhow::Result<RunningSimulator> {
        let bucket = config
            .rate_limit
            .map(|r| Mutex::new(TokenBucket::new(r.rate, r.burst)));
        let stats = Arc::new(SimulatorStats::default());
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            bucket,
            stats: Arc::clone(&stats),
            state: Arc::clone(&state),
            started: Instant::now(),
            config,
        });
        let app = router(Arc::clone(&shared)).layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            behaviour,
        ));
        let fault_stats = Arc::new(FaultStats::default());
        let app = match shared.config.fault_plan.clone() {
            Some(plan) => plan.layer(app, Arc::clone(&fault_stats)),
            None => app,
        };
        let mut server = BackgroundServer::start(shared.config.port, app, "horizon").await?;
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

/// Middleware applying the knobs, in this order: count, latency, rate limit (429 with
/// `Retry-After`), route, `X-RateLimit-*` headers, ledger close.
async fn behaviour(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats.peak.record(shared.started.elapsed().as_secs());
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let budget = match (&shared.bucket, shared.config.rate_limit) {
        (Some(bucket), Some(config)) => Some(take_budget(bucket, config)),
        _ => None,
    };
    if let Some(budget) = budget.as_ref().filter(|b| !b.allowed) {
        stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut response = rate_limit_exceeded();
        set_rate_headers(&mut response, budget);
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(budget.retry_after));
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(budget) = &budget {
        set_rate_headers(&mut response, budget);
    }
    let served = stats.served.fetch_add(1, Ordering::Relaxed) + 1;
    // Close after answering, so the page just served was read from one ledger and the next
    // request sees the new one.
    if let Some(LedgerAdvance {
        trigger: LedgerTrigger::EveryRequests(every),
        ..
    }) = &shared.config.ledger_advance
        && *every > 0
        && served.is_multiple_of(*every)
    {
        shared.close_ledger();
    }
    response
}

/// A started Horizon simulator (see [`crate::common::RunningSimulator`]).
pub type RunningSimulator = crate::common::RunningSimulator<SharedState, SimulatorStats>;
