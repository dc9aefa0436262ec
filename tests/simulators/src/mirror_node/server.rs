//! The HTTP server: configuration knobs, request counters, rate limiting, fault injection, churn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{BackgroundServer, FaultPlan, FaultStats, PeakRate, TokenBucket};

use super::query::LimitConfig;
use super::routes::{RouteState, error_response, router};
use super::state::SharedState;

/// When balances churn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChurnTrigger {
    /// After every `n`-th request that reached a route (not rate limited, not failed).
    EveryRequests(u64),
    /// On a timer, independent of traffic.
    Interval(Duration),
}

/// Balance churn: moves between random holders, then a new snapshot with a later timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChurnConfig {
    pub trigger: ChurnTrigger,
    /// Transfers per token per churn.
    pub moves: usize,
}

/// Behaviour knobs of a [`MirrorNodeSimulator`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Added to every response, including 429s and injected errors (it models the network).
    pub latency: Duration,
    /// Requests per second; above it the reply is 429. `None` = unlimited.
    pub rate_limit: Option<f64>,
    /// Token-bucket capacity; `None` = rate/10 (at least 1), i.e. only short bursts are allowed.
    pub burst: Option<f64>,
    /// Share of requests (0.0–1.0) answered 503, drawn from an RNG seeded with `seed`.
    pub error_ratio: f64,
    /// Failures a test switches on and off while the simulator runs (keep a clone).
    pub faults: Faults,
    pub churn: Option<ChurnConfig>,
    /// Seeds the fault-injection and churn RNG.
    pub seed: u64,
    /// `response.limit.default` / `max`.
    pub limits: LimitConfig,
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
            burst: None,
            error_ratio: 0.0,
            faults: Faults::default(),
            churn: None,
            seed: 0,
            limits: LimitConfig::default(),
            fault_plan: None,
        }
    }
}

/// Switches a test steers at run time. An outage makes the simulator answer every request with
/// one error status, e.g. 503, or 404 for a token the mirror node no longer knows. A hold stalls
/// balance pages until released (token lookups still answer, so new jobs can be validated), so a
/// test can look at a job that is part way through.
/// Unlike `error_ratio` it is steered at run time and deterministic. Clones share the switch:
/// put one in [`SimulatorConfig::faults`] and keep the other.
#[derive(Clone, Default)]
pub struct Faults(Arc<Switches>);

#[derive(Default)]
struct Switches {
    outage: Mutex<Option<Outage>>,
    /// `Some(pass)`: the next `pass` balance pages go through, later ones wait for a release.
    hold: tokio::sync::watch::Sender<Option<u64>>,
}

#[derive(Debug, Clone, Copy)]
struct Outage {
    status: StatusCode,
    /// Requests still served normally before the outage starts.
    pass: u64,
}

impl Faults {
    /// From now on every request is answered `status` (with the mirror node's error body) until
    /// [`Faults::clear`]. Panics if `status` is not a valid HTTP status.
    pub fn fail_all(&self, status: u16) {
        self.fail_after(0, status);
    }

    /// The next `pass` requests are served normally, then every request is answered `status`
    /// until [`Faults::clear`].
    pub fn fail_after(&self, pass: u64, status: u16) {
        let status = StatusCode::from_u16(status).expect("a valid HTTP status");
        *self.0.outage.lock().expect("faults lock poisoned") = Some(Outage { status, pass });
    }

    /// Back to normal service.
    pub fn clear(&self) {
        *self.0.outage.lock().expect("faults lock poisoned") = None;
    }

    /// The next `pass` requests for balance pages (`/api/v1/tokens/{id}/balances`) are served,
    /// then every later one waits (before its latency and rate limit) until [`Faults::release`].
    /// Other routes are never held.
    pub fn hold_after(&self, pass: u64) {
        self.0.hold.send_replace(Some(pass));
    }

    /// Lets every held request, and every later one, through.
    pub fn release(&self) {
        self.0.hold.send_replace(None);
    }

    /// How many balance pages the hold still lets through (`Some(0)`: every
    /// new one waits); none when nothing is held.
    pub fn hold_passes_left(&self) -> Option<u64> {
        *self.0.hold.borrow()
    }

    /// Returns when this request may proceed (consumes one `pass` of a hold).
    async fn pass_hold(&self) {
        let mut changes = self.0.hold.subscribe();
        loop {
            let mut go = false;
            self.0.hold.send_if_modified(|hold| {
                match hold {
                    None => go = true,
                    Some(0) => {}
                    Some(pass) => {
                        *pass -= 1;
                        go = true;
                    }
                }
                false
            });
            if go || changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The status to answer this request with, if the switch is on (consumes one `pass`).
    fn next(&self) -> Option<StatusCode> {
        let mut outage = self.0.outage.lock().expect("faults lock poisoned");
        let outage = outage.as_mut()?;
        if outage.pass > 0 {
            outage.pass -= 1;
            return None;
        }
        Some(outage.status)
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let outage = *self.0.outage.lock().expect("faults lock poisoned");
        let hold = *self.0.hold.borrow();
        f.debug_struct("Faults")
            .field("outage", &outage)
            .field("hold", &hold)
            .finish()
    }
}

/// Two configs are equal only when they share the same switch.
impl PartialEq for Faults {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
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
    /// Injected error replies: 503s drawn by `error_ratio`, and those a [`Faults`] switch set.
    pub injected_errors: AtomicU64,
    /// Churn rounds applied.
    pub churns: AtomicU64,
    /// Most requests received within one wall-clock second since start.
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
    pub fn injected_errors(&self) -> u64 {
        self.injected_errors.load(Ordering::Relaxed)
    }
    pub fn churns(&self) -> u64 {
        self.churns.load(Ordering::Relaxed)
    }
    /// Most requests received within one wall-clock second since start.
    pub fn peak_per_second(&self) -> u64 {
        self.peak.peak()
    }

    fn count_request(&self, second: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.peak.record(second);
    }
}

struct Shared {
    config: SimulatorConfig,
    state: SharedState,
    stats: Arc<SimulatorStats>,
    bucket: Option<Mutex<TokenBucket>>,
    rng: Mutex<StdRng>,
    started: Instant,
}

impl Shared {
    fn churn(&self) {
        let Some(churn) = self.config.churn else {
            return;
        };
        let mut rng = self.rng.lock().expect("rng lock poisoned");
        let mut state = self.state.write().expect("state lock poisoned");
        let at = state.churn(&mut *rng, churn.moves);
        self.stats.churns.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(snapshot = at, "balances churned");
    }
}

/// The Hedera mirror-node REST simulator.
pub struct MirrorNodeSimulator;

impl MirrorNodeSimulator {
    /// Binds 127.0.0.1 (port from the config, 0 = any) and serves until the returned handle is
    /// shut down or dropped. Must be called within a tokio runtime.
    pub async fn start(
        config: SimulatorConfig,
        state: SharedState,
    ) -> anyhow::Result<RunningSimulator> {
        let bucket = config.rate_limit.map(|rate| {
            let burst = config.burst.unwrap_or(TokenBucket::default_burst(rate));
            Mutex::new(TokenBucket::new(rate, burst))
        });
        let stats = Arc::new(SimulatorStats::default());
        let shared = Arc::new(Shared {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            bucket,
            stats: Arc::clone(&stats),
            state: Arc::clone(&state),
            started: Instant::now(),
            config,
        });
        let app = router(Arc::new(RouteState {
            state: Arc::clone(&state),
            limits: shared.config.limits,
        }))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            behaviour,
        ));
        let fault_stats = Arc::new(FaultStats::default());
        let app = match shared.config.fault_plan.clone() {
            Some(plan) => plan.layer(app, Arc::clone(&fault_stats)),
            None => app,
        };

        let mut server = BackgroundServer::start(shared.config.port, app, "mirror-node").await?;
        if let Some(ChurnConfig {
            trigger: ChurnTrigger::Interval(period),
            ..
        }) = shared.config.churn
        {
            let shared = Arc::clone(&shared);
            server.attach(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(period);
                ticker.tick().await; // the first tick is immediate
                loop {
                    ticker.tick().await;
                    shared.churn();
                }
            }));
        }
        Ok(RunningSimulator::new(state, stats, fault_stats, server))
    }
}

/// Middleware applying the knobs, in this order: count, hold (balance pages), latency, rate
/// limit, fault injection, route, churn.
async fn behaviour(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared
        .stats
        .count_request(shared.started.elapsed().as_secs());
    if request.uri().path().ends_with("/balances") {
        shared.config.faults.pass_hold().await;
    }
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    if let Some(bucket) = &shared.bucket {
        let allowed = bucket.lock().expect("bucket lock poisoned").try_take();
        if !allowed {
            shared.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                vec!["Too Many Requests".to_owned()],
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
    }
    if let Some(status) = shared.config.faults.next() {
        shared.stats.injected_errors.fetch_add(1, Ordering::Relaxed);
        let message = match status {
            // What the routes themselves answer for an unknown token or path.
            StatusCode::NOT_FOUND => "Not found",
            other => other.canonical_reason().unwrap_or("Error"),
        };
        return error_response(status, vec![message.to_owned()]);
    }
    if shared.config.error_ratio > 0.0 {
        let fail = shared
            .rng
            .lock()
            .expect("rng lock poisoned")
            .random_bool(shared.config.error_ratio.clamp(0.0, 1.0));
        if fail {
            shared.stats.injected_errors.fetch_add(1, Ordering::Relaxed);
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                vec!["Service Unavailable".to_owned()],
            );
        }
    }
    let response = next.run(request).await;
    let served = shared.stats.served.fetch_add(1, Ordering::Relaxed) + 1;
    // Churn after answering, so the page just served was consistent with itself and the next
    // request sees a changed ledger.
    if let Some(ChurnConfig {
        trigger: ChurnTrigger::EveryRequests(every),
        ..
    }) = shared.config.churn
        && every > 0
        && served % every == 0
    {
        shared.churn();
    }
    response
}

/// A started mirror-node simulator (see [`crate::common::RunningSimulator`]).
pub type RunningSimulator = crate::common::RunningSimulator<SharedState, SimulatorStats>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_switch_passes_then_fails_until_cleared_and_clones_share_it() {
        let faults = Faults::default();
        let kept = faults.clone();
        assert_eq!(faults.next(), None, "off by default");
        kept.fail_after(2, 404);
        assert_eq!(faults.next(), None);
        assert_eq!(faults.next(), None);
        assert_eq!(faults.next(), Some(StatusCode::NOT_FOUND));
        assert_eq!(faults.next(), Some(StatusCode::NOT_FOUND));
        kept.fail_all(503);
        assert_eq!(faults.next(), Some(StatusCode::SERVICE_UNAVAILABLE));
        kept.clear();
        assert_eq!(faults.next(), None);
        assert_eq!(faults, kept);
        assert_ne!(faults, Faults::default());
    }

    #[tokio::test]
    async fn a_hold_passes_then_stalls_requests_until_released() {
        let faults = Faults::default();
        faults.pass_hold().await;
        faults.hold_after(1);
        assert_eq!(faults.hold_passes_left(), Some(1));
        faults.pass_hold().await;
        assert_eq!(faults.hold_passes_left(), Some(0));
        let mut held = tokio::spawn({
            let faults = faults.clone();
            async move { faults.pass_hold().await }
        });
        // Not done after the stalled request has had every chance to run.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(
            futures_util::poll!(&mut held).is_pending(),
            "the request past the pass is held"
        );
        faults.release();
        held.await.unwrap();
        faults.pass_hold().await;
    }
}
