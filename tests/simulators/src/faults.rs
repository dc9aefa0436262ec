//! Seeded random upstream faults, one layer shared by every simulator.
//!
//! Real ledger APIs sit behind gateways and networks that misbehave now and then: a 429 with or
//! without `Retry-After`, a 5xx, a connection dropped without a reply, a body cut short, a reply
//! that takes far longer than usual. A [`FaultPlan`] gives each of these a probability; the
//! simulators wrap their whole router in [`FaultPlan::layer`], which draws one outcome per
//! request from an RNG seeded with [`FaultPlan::seed`] and counts every fault it injects in
//! [`FaultStats`], so a test can assert the faults really happened.
//!
//! The faults are transport- and gateway-level, the same for every ledger, so they are decided
//! before the simulator's own behaviour (its latency, rate limit and routes) and their replies
//! are plain text, as a proxy in front of the API would send them:
//!
//! | kind | what the client sees |
//! |---|---|
//! | `429ra` | `429 Too Many Requests` with `Retry-After` ([`FaultPlan::retry_after_secs`]) |
//! | `429` | `429 Too Many Requests` without `Retry-After` |
//! | `5xx` | `500`, `502`, `503` or `504` |
//! | `reset` | the connection closes without any reply |
//! | `truncate` | the real reply's head, with its full `Content-Length`, then half of the body and the connection closes |
//! | `cut` | a `200` whose JSON body is cut in half, with a `Content-Length` that matches what is sent: well-formed HTTP carrying malformed JSON |
//! | `spike` | the real reply, after an extra [`FaultPlan::spike`] |
//!
//! Every kind but `cut` is a transport or status failure that a client's retry loop recognises.
//! `cut` is bad upstream *content*: only the reader of the JSON can tell, so a plugin must report
//! it as a transient upstream error (retried, never turned into a document).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Probabilities (each 0.0–1.0, drawn per request, summing to at most 1.0) of each fault kind.
/// Parse one from `kind=p,...` text (see [`FaultPlan::from_str`]) for the simulator binaries'
/// `--faults` flag.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Seeds the RNG that draws the faults.
    pub seed: u64,
    /// `429` with `Retry-After`.
    pub rate_limited_with_retry_after: f64,
    /// `429` without `Retry-After`.
    pub rate_limited_bare: f64,
    /// `500`/`502`/`503`/`504`.
    pub server_error: f64,
    /// Connection closed without a reply.
    pub reset: f64,
    /// Body shorter than its `Content-Length`, then the connection closes.
    pub truncated: f64,
    /// `200` with cut-short JSON and a matching `Content-Length`.
    pub cut_json: f64,
    /// The reply comes [`FaultPlan::spike`] late.
    pub latency_spike: f64,
    /// How late a latency spike is.
    pub spike: Duration,
    /// The `Retry-After` of `429ra` replies, in seconds.
    pub retry_after_secs: u64,
}

impl Default for FaultPlan {
    /// No faults at all.
    fn default() -> Self {
        FaultPlan {
            seed: 0,
            rate_limited_with_retry_after: 0.0,
            rate_limited_bare: 0.0,
            server_error: 0.0,
            reset: 0.0,
            truncated: 0.0,
            cut_json: 0.0,
            latency_spike: 0.0,
            spike: Duration::from_millis(500),
            retry_after_secs: 1,
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RetryAfter,
    Bare429,
    ServerError,
    Reset,
    Truncated,
    CutJson,
    Spike,
}

impl FaultPlan {
    /// Every kind of fault at the rates of an unreliable public endpoint: 10 % 429 (half with
    /// `Retry-After`), 5 % 5xx, 2 % connection resets, 2 % truncated bodies and 3 % latency
    /// spikes of 400 ms. No `cut` JSON (set [`FaultPlan::cut_json`] for that).
    pub fn unreliable(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            rate_limited_with_retry_after: 0.05,
            rate_limited_bare: 0.05,
            server_error: 0.05,
            reset: 0.02,
            truncated: 0.02,
            cut_json: 0.0,
            latency_spike: 0.03,
            spike: Duration::from_millis(400),
            retry_after_secs: 1,
        }
    }

    /// The kinds in drawing order with their probabilities.
    fn odds(&self) -> [(Fault, f64); 7] {
        [
            (Fault::RetryAfter, self.rate_limited_with_retry_after),
            (Fault::Bare429, self.rate_limited_bare),
            (Fault::ServerError, self.server_error),
            (Fault::Reset, self.reset),
            (Fault::Truncated, self.truncated),
            (Fault::CutJson, self.cut_json),
            (Fault::Spike, self.latency_spike),
        ]
    }

    /// Checks every probability is within 0.0–1.0 and they sum to at most 1.0.
    pub fn validate(&self) -> Result<(), String> {
        let mut total = 0.0;
        for (kind, p) in self.odds() {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{kind:?}: probability {p} is not within 0.0-1.0"));
            }
            total += p;
        }
        if total > 1.0 + 1e-9 {
            return Err(format!("the probabilities sum to {total}, more than 1.0"));
        }
        Ok(())
    }

    /// Wraps `router` so every request first goes through this plan, counting in `stats`.
    pub fn layer(self, router: Router, stats: Arc<FaultStats>) -> Router {
        let injector = Arc::new(Injector {
            rng: Mutex::new(StdRng::seed_from_u64(self.seed)),
            plan: self,
            stats,
        });
        router.layer(middleware::from_fn_with_state(injector, inject))
    }
}

/// `seed=7,429ra=0.05,429=0.05,5xx=0.05,reset=0.02,truncate=0.02,cut=0.01,spike=0.03,
/// spike-ms=400,retry-after=1`; every key is optional (absent = no such fault), `none` is the
/// empty plan.
impl FromStr for FaultPlan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut plan = FaultPlan::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if item == "none" {
                continue;
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected key=value"))?;
            let probability = || {
                value
                    .parse::<f64>()
                    .map_err(|e| format!("{key}: {value:?} is not a probability ({e})"))
            };
            let integer = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{key}: {value:?} is not a whole number ({e})"))
            };
            match key {
                "seed" => plan.seed = integer()?,
                "429ra" => plan.rate_limited_with_retry_after = probability()?,
                "429" => plan.rate_limited_bare = probability()?,
                "5xx" => plan.server_error = probability()?,
                "reset" => plan.reset = probability()?,
                "truncate" => plan.truncated = probability()?,
                "cut" => plan.cut_json = probability()?,
                "spike" => plan.latency_spike = probability()?,
                "spike-ms" => plan.spike = Duration::from_millis(integer()?),
                "retry-after" => plan.retry_after_secs = integer()?,
                other => {
                    return Err(format!(
                        "unknown fault {other:?} (known: seed, 429ra, 429, 5xx, reset, truncate, \
                         cut, spike, spike-ms, retry-after)"
                    ));
                }
            }
        }
        plan.validate()?;
        Ok(plan)
    }
}

/// How many faults of each kind a simulator injected.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Requests the plan was drawn for (faulty or not).
    pub requests: AtomicU64,
    /// `429` with `Retry-After`.
    pub rate_limited_with_retry_after: AtomicU64,
    /// `429` without `Retry-After`.
    pub rate_limited_bare: AtomicU64,
    /// 5xx replies.
    pub server_errors: AtomicU64,
    /// Connections closed without a reply.
    pub resets: AtomicU64,
    /// Bodies cut short of their `Content-Length`.
    pub truncated: AtomicU64,
    /// `200` replies with cut-short JSON.
    pub cut_json: AtomicU64,
    /// Replies delayed by a spike.
    pub latency_spikes: AtomicU64,
}

impl FaultStats {
    fn counter(&self, fault: Fault) -> &AtomicU64 {
        match fault {
            Fault::RetryAfter => &self.rate_limited_with_retry_after,
            Fault::Bare429 => &self.rate_limited_bare,
            Fault::ServerError => &self.server_errors,
            Fault::Reset => &self.resets,
            Fault::Truncated => &self.truncated,
            Fault::CutJson => &self.cut_json,
            Fault::Spike => &self.latency_spikes,
        }
    }

    /// Each kind's count, by the names [`FaultPlan::from_str`] reads.
    pub fn by_kind(&self) -> [(&'static str, u64); 7] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("429ra", get(&self.rate_limited_with_retry_after)),
            ("429", get(&self.rate_limited_bare)),
            ("5xx", get(&self.server_errors)),
            ("reset", get(&self.resets)),
            ("truncate", get(&self.truncated)),
            ("cut", get(&self.cut_json)),
            ("spike", get(&self.latency_spikes)),
        ]
    }

    /// Faults of every kind.
    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .by_kind()
            .iter()
            .map(|(kind, n)| format!("{kind}={n}"))
            .collect();
        write!(
            f,
            "{} in {} requests",
            parts.join(" "),
            self.requests.load(Ordering::Relaxed)
        )
    }
}

struct Injector {
    plan: FaultPlan,
    stats: Arc<FaultStats>,
    rng: Mutex<StdRng>,
}

impl Injector {
    /// One draw: the fault for this request, if any (and for a 5xx, which status).
    fn draw(&self) -> Option<(Fault, StatusCode)> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut rng = self.rng.lock().expect("fault rng lock poisoned");
        let mut roll: f64 = rng.random();
        for (fault, p) in self.plan.odds() {
            if roll < p {
                const SERVER_ERRORS: [StatusCode; 4] = [
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::BAD_GATEWAY,
                    StatusCode::SERVICE_UNAVAILABLE,
                    StatusCode::GATEWAY_TIMEOUT,
                ];
                let status = SERVER_ERRORS[rng.random_range(0..SERVER_ERRORS.len())];
                return Some((fault, status));
            }
            roll -= p;
        }
        None
    }
}

/// The middleware: draws, counts, and answers or alters the reply.
async fn inject(State(injector): State<Arc<Injector>>, request: Request, next: Next) -> Response {
    let Some((fault, status)) = injector.draw() else {
        return next.run(request).await;
    };
    // A cut is counted below, only if the reply was a 200 that could be cut.
    if fault != Fault::CutJson {
        injector
            .stats
            .counter(fault)
            .fetch_add(1, Ordering::Relaxed);
    }
    match fault {
        Fault::RetryAfter => {
            let mut response = too_many_requests();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(injector.plan.retry_after_secs),
            );
            response
        }
        Fault::Bare429 => too_many_requests(),
        Fault::ServerError => (
            status,
            [(header::CONTENT_TYPE, "text/plain")],
            status.canonical_reason().unwrap_or("Server Error"),
        )
            .into_response(),
        Fault::Reset => {
            // A body that fails before its first byte: the server drops the connection
            // without sending the reply.
            Response::new(Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection reset",
                ))
            })))
        }
        Fault::Truncated => {
            let (mut parts, bytes) = collect(next.run(request).await).await;
            let half = bytes.slice(..bytes.len() / 2);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            // The error comes one poll after the half: the server writes out what it has
            // whenever the body is not ready, so the head and the half reach the client
            // before the connection closes (an error in the same poll would drop them too).
            let half = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(half)]);
            let cut = futures_util::stream::once(async {
                tokio::task::yield_now().await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "injected truncated body",
                ))
            });
            Response::from_parts(parts, Body::from_stream(half.chain(cut)))
        }
        Fault::CutJson => {
            let (mut parts, bytes) = collect(next.run(request).await).await;
            if parts.status == StatusCode::OK && bytes.len() >= 2 {
                injector
                    .stats
                    .counter(fault)
                    .fetch_add(1, Ordering::Relaxed);
                let half = bytes.slice(..bytes.len() / 2);
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
                Response::from_parts(parts, Body::from(half))
            } else {
                Response::from_parts(parts, Body::from(bytes))
            }
        }
        Fault::Spike => {
            tokio::time::sleep(injector.plan.spike).await;
            next.run(request).await
        }
    }
}

fn too_many_requests() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "text/plain")],
        "Too Many Requests",
    )
        .into_response()
}

/// A reply's head and whole body (the simulators' bodies are small and in memory).
async fn collect(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_parses_from_text_and_refuses_nonsense() {
        let plan: FaultPlan = "seed=7,429ra=0.05,429=0.05,5xx=0.05,reset=0.02,truncate=0.02,\
                               cut=0.01,spike=0.03,spike-ms=250,retry-after=2"
            .parse()
            .unwrap();
        assert_eq!(plan.seed, 7);
        assert_eq!(plan.rate_limited_with_retry_after, 0.05);
        assert_eq!(plan.cut_json, 0.01);
        assert_eq!(plan.spike, Duration::from_millis(250));
        assert_eq!(plan.retry_after_secs, 2);
        assert_eq!("none".parse::<FaultPlan>().unwrap(), FaultPlan::default());
        assert!("reset=2".parse::<FaultPlan>().is_err());
        assert!("reset=0.6,5xx=0.6".parse::<FaultPlan>().is_err());
        assert!("gremlins=0.1".parse::<FaultPlan>().is_err());
        assert!("reset".parse::<FaultPlan>().is_err());
        FaultPlan::unreliable(1).validate().unwrap();
    }

    #[test]
    fn the_same_seed_draws_the_same_faults_at_about_the_planned_rates() {
        let draws = |seed| {
            let injector = Injector {
                plan: FaultPlan::unreliable(seed),
                stats: Arc::default(),
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
            };
            (0..20_000).map(|_| injector.draw()).collect::<Vec<_>>()
        };
        let first = draws(3);
        assert_eq!(first, draws(3));
        assert_ne!(first, draws(4));
        let share = |kind| {
            first
                .iter()
                .filter(|d| d.map(|(f, _)| f) == Some(kind))
                .count() as f64
                / first.len() as f64
        };
        assert!((share(Fault::ServerError) - 0.05).abs() < 0.01);
        assert!((share(Fault::Reset) - 0.02).abs() < 0.005);
        assert_eq!(share(Fault::CutJson), 0.0);
        let clean = first.iter().filter(|d| d.is_none()).count() as f64 / first.len() as f64;
        assert!((clean - 0.78).abs() < 0.02, "{clean}");
    }
}
