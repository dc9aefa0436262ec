//! [`HttpGateway`]: the one way a plugin's request leaves the host.
//!
//! Every request walks the same line, in this order:
//!
//! 1. parse the URL (http and https only) and the method and headers;
//! 2. check the plugin's [`EgressPolicy`] (before anything touches the network);
//! 3. loop: wait for the host's [`RateLimiter`] → send with a timeout → read the
//!    body under the size cap → classify → on a transient failure record it,
//!    pause the host when the upstream said `Retry-After`, back off, try again.
//!
//! Redirects are never followed: a 3xx goes back to the plugin, whose next
//! request passes the allow-list again, so a redirect cannot escape it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

use super::allowlist::EgressPolicy;
use super::limiter::{LimitsConfig, RateLimiter};
use super::retry::{RetryPolicy, is_retryable_status, parse_retry_after};

/// A request as a plugin states it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS` (any case).
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Request headers. See [`FORBIDDEN_REQUEST_HEADERS`].
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// A `GET` of `url` with no headers.
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// An upstream's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers in the order received; names in lower case.
    pub headers: Vec<(String, String)>,
    /// The whole body (at most [`NetConfig::max_response_bytes`]).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request produced no response for the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The plugin's allow-list does not include the destination; the message
    /// says which rule to add.
    #[error("{0}")]
    Denied(String),
    /// The upstream kept answering 429; try again after this long.
    #[error("rate limited by the upstream; retry after {retry_after_ms} ms")]
    RateLimited {
        /// The upstream's `Retry-After` (capped), or the backoff ceiling when
        /// it gave none.
        retry_after_ms: u32,
    },
    /// Every attempt timed out.
    #[error("{0}")]
    Timeout(String),
    /// The upstream failed (5xx or a broken connection) on every attempt.
    #[error("{0}")]
    Upstream(String),
    /// The response body was larger than the host allows.
    #[error("{0}")]
    TooLarge(String),
    /// The request itself is malformed or not allowed in this form.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl NetError {
    /// Whether trying the whole job again later may help (the queue's retry
    /// decision): yes for rate limits, timeouts and upstream failures.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NetError::RateLimited { .. } | NetError::Timeout(_) | NetError::Upstream(_)
        )
    }
}

/// Headers the host owns. A plugin setting one gets
/// [`NetError::InvalidRequest`] naming it (rejected rather than silently
/// dropped, so the author learns at once): framing headers would let a
/// plugin desynchronise the connection, and `host` would let it address a
/// different virtual host than the allow-list checked.
pub const FORBIDDEN_REQUEST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Methods a plugin may use. CONNECT (tunnels) and TRACE (echoes headers)
/// have no place in reading a ledger.
const ALLOWED_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Every setting of the gateway.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Per-upstream rate and concurrency limits.
    pub limits: LimitsConfig,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// One attempt, from connecting until the last body byte.
    pub request_timeout: Duration,
    /// The largest response body returned to a plugin.
    pub max_response_bytes: usize,
    /// Sent as `User-Agent` unless the plugin sets its own.
    pub user_agent: String,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            limits: LimitsConfig::default(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: default_user_agent(),
        }
    }
}

fn default_user_agent() -> String {
    concat!("snapshot-host/", env!("CARGO_PKG_VERSION")).to_string()
}

/// What one upstream authority has seen, for metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostStats {
    /// `host:port`.
    pub authority: String,
    /// Attempts sent (retries included).
    pub requests_sent: u64,
    /// Responses with a 1xx or 2xx status.
    pub responses_2xx: u64,
    /// Responses with a 3xx status.
    pub responses_3xx: u64,
    /// Responses with a 4xx status (429 included).
    pub responses_4xx: u64,
    /// Responses with a 5xx status.
    pub responses_5xx: u64,
    /// Responses with status 429.
    pub rate_limited: u64,
    /// Attempts that were followed by another attempt.
    pub retries: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Attempts that failed below HTTP (connect, reset, cut-short body).
    pub transport_errors: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

/// The live counters behind [`HostStats`].
#[derive(Debug, Default)]
struct HostCounters {
    requests_sent: AtomicU64,
    responses_2xx: AtomicU64,
    responses_3xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    transport_errors: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    // Relaxed: independent counters read for metrics only.
    counter.fetch_add(by, Ordering::Relaxed);
}

impl HostCounters {
    fn record_status(&self, status: u16) {
        let class = match status {
            0..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        bump(class, 1);
        if status == 429 {
            bump(&self.rate_limited, 1);
        }
    }

    fn snapshot(&self, authority: &str) -> HostStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HostStats {
            authority: authority.to_string(),
            requests_sent: get(&self.requests_sent),
            responses_2xx: get(&self.responses_2xx),
            responses_3xx: get(&self.responses_3xx),
            responses_4xx: get(&self.responses_4xx),
            responses_5xx: get(&self.responses_5xx),
            rate_limited: get(&self.rate_limited),
            retries: get(&self.retries),
            timeouts: get(&self.timeouts),
            transport_errors: get(&self.transport_errors),
            bytes_sent: get(&self.bytes_sent),
            bytes_received: get(&self.bytes_received),
        }
    }
}

/// A request checked and converted once, re-sent as is on every attempt.
struct Prepared {
    method: Method,
    url: Url,
    /// The URL for messages: the password, if any, removed.
    shown: String,
    authority: String,
    headers: HeaderMap,
    body: Option<Bytes>,
}

/// How one attempt failed.
enum AttemptFailure {
    Timeout,
    /// Below HTTP: connect, reset, a body cut short. Worth retrying.
    Transport(String),
    TooLarge(String),
    Invalid(String),
}

/// Why the last attempt was not an answer for the plugin.
enum LastFailure {
    Status { status: u16, body: Vec<u8> },
    Timeout,
    Transport(String),
}

/// The plugins' HTTP client: allow-list, limits, retries, size cap, metrics.
/// One per host process, shared by every job.
pub struct HttpGateway {
    client: reqwest::Client,
    limiter: RateLimiter,
    config: NetConfig,
    counters: Mutex<HashMap<String, Arc<HostCounters>>>,
}

impl std::fmt::Debug for HttpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HttpGateway {
    /// Builds the gateway. An unusable `user_agent` (not a valid header
    /// value) is replaced by the default with a warning rather than failing
    /// start-up over a cosmetic setting.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised, which means the process
    /// cannot make any HTTPS request at all.
    pub fn new(mut config: NetConfig) -> Arc<Self> {
        if HeaderValue::from_str(&config.user_agent).is_err() {
            tracing::warn!(user_agent = %config.user_agent, "invalid user agent; using the default");
            config.user_agent = default_user_agent();
        }
        let client = reqwest::Client::builder()
            // Never follow: the plugin gets the 3xx and its next request is
            // checked against the allow-list like any other.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.request_timeout)
            .build()
            .expect("the HTTP client (TLS backend) must initialise");
        Arc::new(HttpGateway {
            client,
            limiter: RateLimiter::new(config.limits.clone()),
            config,
            counters: Mutex::new(HashMap::new()),
        })
    }

    /// The settings the gateway was built with. The per-host limits may
    /// have changed since: [`HttpGateway::limits`] has those in force.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// The per-host limits in force.
    pub fn limits(&self) -> LimitsConfig {
        self.limiter.config()
    }

    /// Replaces the per-host limits while the host runs (a plugin loaded or
    /// unloaded brings or takes its `[[rate_limits]]`); see
    /// [`RateLimiter::set_config`] for hosts already in use.
    pub fn set_limits(&self, limits: LimitsConfig) {
        self.limiter.set_config(limits);
    }

    /// The shared per-host limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Sends one request on behalf of the plugin whose policy is `policy`.
    ///
    /// Any status that is not retried, or that stops being returned before
    /// the attempts run out, is an `Ok` response: 404 is an answer, not an
    /// error. See the module docs for the order of checks.
    pub async fn send(
        &self,
        policy: &EgressPolicy,
        req: HttpRequest,
    ) -> Result<HttpResponse, NetError> {
        let prepared = prepare(policy, req)?;
        let counters = self.counters_for(&prepared.authority);
        let retry = &self.config.retry;
        let attempts = retry.attempts();
        let mut failures = 0;
        loop {
            // A cluster whose shared limiter (Redis) is away sends nothing
            // unlimited: the request fails as transient and the job retries.
            let permit = self
                .limiter
                .acquire(&prepared.authority)
                .await
                .map_err(|e| {
                    NetError::Upstream(format!("{} {}: {e}", prepared.method, prepared.shown))
                })?;
            let outcome = self.attempt(&prepared, &counters).await;
            // Free the slot before any backoff: waiting is not being in flight.
            drop(permit);
            failures += 1;

            let mut retry_after = None;
            let failure = match outcome {
                Ok(response) if !is_retryable_status(response.status) => return Ok(response),
                Ok(response) => {
                    retry_after = response
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(v, SystemTime::now()))
                        .map(|wait| retry.cap_retry_after(wait));
                    if let Some(wait) = retry_after {
                        // The upstream asked *us* to wait, not this one
                        // request: hold every job's requests to it.
                        self.limiter
                            .pause(&prepared.authority, tokio::time::Instant::now() + wait);
                    }
                    LastFailure::Status {
                        status: response.status,
                        body: response.body,
                    }
                }
                Err(AttemptFailure::TooLarge(message)) => return Err(NetError::TooLarge(message)),
                Err(AttemptFailure::Invalid(message)) => {
                    return Err(NetError::InvalidRequest(message));
                }
                Err(AttemptFailure::Timeout) => {
                    bump(&counters.timeouts, 1);
                    LastFailure::Timeout
                }
                Err(AttemptFailure::Transport(message)) => {
                    bump(&counters.transport_errors, 1);
                    LastFailure::Transport(message)
                }
            };

            if failures >= attempts {
                return Err(self.give_up(&prepared, failure, failures, retry_after));
            }
            bump(&counters.retries, 1);
            let delay = retry.delay(failures, retry_after);
            tracing::debug!(
                method = %prepared.method,
                url = %prepared.shown,
                attempt = failures,
                delay_ms = delay.as_millis() as u64,
                "retrying upstream request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends all requests concurrently (under the same per-host limits) and
    /// returns the results in input order.
    pub async fn send_all(
        &self,
        policy: &EgressPolicy,
        reqs: Vec<HttpRequest>,
    ) -> Vec<Result<HttpResponse, NetError>> {
        futures::future::join_all(reqs.into_iter().map(|req| self.send(policy, req))).await
    }

    /// Pauses every request to the authority of `url` for `retry_after`
    /// (capped at [`RetryPolicy::max_retry_after`]; one second when `None`).
    /// For a plugin that learned from a response body or header that it is
    /// being throttled. Fails only for a URL without an http(s) host.
    ///
    /// This does not consult an allow-list; on a plugin's behalf use
    /// [`HttpGateway::throttle_for`], so a plugin cannot stall hosts it may
    /// not even reach.
    pub fn throttle(&self, url: &str, retry_after: Option<Duration>) -> Result<(), NetError> {
        let url = parse_url(url)?;
        self.pause_for(&authority_of(&url), retry_after);
        Ok(())
    }

    /// [`HttpGateway::throttle`] for a plugin: the URL must pass its policy.
    pub fn throttle_for(
        &self,
        policy: &EgressPolicy,
        url: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), NetError> {
        let url = parse_url(url)?;
        policy
            .check(&url)
            .map_err(|denied| NetError::Denied(denied.to_string()))?;
        self.pause_for(&authority_of(&url), retry_after);
        Ok(())
    }

    fn pause_for(&self, authority: &str, retry_after: Option<Duration>) {
        let wait = self
            .config
            .retry
            .cap_retry_after(retry_after.unwrap_or(Duration::from_secs(1)));
        self.limiter
            .pause(authority, tokio::time::Instant::now() + wait);
    }

    /// Counters of every upstream contacted so far, sorted by authority.
    pub fn stats(&self) -> Vec<HostStats> {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut stats: Vec<_> = counters
            .iter()
            .map(|(authority, c)| c.snapshot(authority))
            .collect();
        stats.sort_by(|a, b| a.authority.cmp(&b.authority));
        stats
    }

    fn counters_for(&self, authority: &str) -> Arc<HostCounters> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        counters.entry(authority.to_string()).or_default().clone()
    }

    /// One attempt: send, then read the body under the cap, all within the
    /// request timeout.
    async fn attempt(
        &self,
        prepared: &Prepared,
        counters: &HostCounters,
    ) -> Result<HttpResponse, AttemptFailure> {
        let mut builder = self
            .client
            .request(prepared.method.clone(), prepared.url.clone())
            .headers(prepared.headers.clone());
        if let Some(body) = &prepared.body {
            builder = builder.body(body.clone());
            bump(&counters.bytes_sent, body.len() as u64);
        }
        bump(&counters.requests_sent, 1);
        let cap = self.config.max_response_bytes;
        let exchange = async {
            let mut response = builder.send().await.map_err(|e| classify(&e, false))?;
            let status = response.status().as_u16();
            counters.record_status(status);
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    // `HeaderName` is lower case already; values may be any
                    // bytes, which a plugin sees as lossy UTF-8.
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_string(), value)
                })
                .collect();
            let too_large = |size: String| {
                AttemptFailure::TooLarge(format!(
                    "{} {} answered {status} with a body of {size}, over the limit of {cap} bytes",
                    prepared.method, prepared.shown
                ))
            };
            // Refuse early when the upstream says up front it is too big.
            let declared = response.content_length();
            if let Some(length) = declared
                && length > cap as u64
            {
                return Err(too_large(format!("{length} bytes")));
            }
            let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize));
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, true))? {
                bump(&counters.bytes_received, chunk.len() as u64);
                if body.len() + chunk.len() > cap {
                    return Err(too_large("more than that".to_string()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        };
        // One deadline for the whole exchange: a server that trickles its
        // body must not hold the slot for ever.
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(AttemptFailure::Timeout),
        }
    }

    /// The error for the plugin once the attempts are used up.
    fn give_up(
        &self,
        prepared: &Prepared,
        failure: LastFailure,
        attempts: u32,
        retry_after: Option<Duration>,
    ) -> NetError {
        let what = format!("{} {}", prepared.method, prepared.shown);
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        match failure {
            LastFailure::Status { status: 429, .. } => {
                let wait = retry_after.unwrap_or_else(|| self.config.retry.ceiling(attempts));
                NetError::RateLimited {
                    retry_after_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
                }
            }
            LastFailure::Status { status, body } => {
                let reason = StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                NetError::Upstream(format!(
                    "{what} answered {status} {reason} after {tries}{}",
                    body_excerpt(&body)
                ))
            }
            LastFailure::Timeout => NetError::Timeout(format!(
                "{what} timed out after {} ms on each of {tries}",
                self.config.request_timeout.as_millis()
            )),
            LastFailure::Transport(message) => {
                NetError::Upstream(format!("{what} failed after {tries}: {message}"))
            }
        }
    }
}

/// The start of an error body, which usually says what went wrong upstream.
fn body_excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else if body.len() > MAX {
        format!(" (body: {text}…)")
    } else {
        format!(" (body: {text})")
    }
}

/// Maps a client error onto what the retry loop needs to know.
fn classify(error: &reqwest::Error, reading_body: bool) -> AttemptFailure {
    if error.is_timeout() {
        return AttemptFailure::Timeout;
    }
    if error.is_builder() {
        return AttemptFailure::Invalid(error_chain(error));
    }
    if reading_body {
        AttemptFailure::Transport(format!(
            "the response body was cut short: {}",
            error_chain(error)
        ))
    } else {
        AttemptFailure::Transport(error_chain(error))
    }
}

/// An error with its causes, which for connection errors hold the useful part
/// ("connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn parse_url(text: &str) -> Result<Url, NetError> {
    let url = Url::parse(text)
        .map_err(|e| NetError::InvalidRequest(format!("the URL {text:?} is not valid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NetError::InvalidRequest(format!(
            "the URL {text:?} must use http or https, not {}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(NetError::InvalidRequest(format!(
            "the URL {text:?} has no host"
        )));
    }
    Ok(url)
}

/// `host:port` with the scheme's default port filled in: the limiter key.
fn authority_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Checks everything that can be checked without the network, policy first.
fn prepare(policy: &EgressPolicy, req: HttpRequest) -> Result<Prepared, NetError> {
    let url = parse_url(&req.url)?;
    policy
        .check(&url)
        .map_err(|denied| NetError::Denied(denied.to_string()))?;

    let method = Method::from_bytes(req.method.trim().to_ascii_uppercase().as_bytes())
        .ok()
        .filter(|m| ALLOWED_METHODS.contains(m))
        .ok_or_else(|| {
            NetError::InvalidRequest(format!(
                "method {:?} is not allowed; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                req.method
            ))
        })?;

    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| NetError::InvalidRequest(format!("header name {name:?} is not valid")))?;
        if FORBIDDEN_REQUEST_HEADERS.contains(&header_name.as_str()) {
            return Err(NetError::InvalidRequest(format!(
                "header {:?} is set by the host and may not be set by a plugin \
                 (not allowed: {})",
                header_name.as_str(),
                FORBIDDEN_REQUEST_HEADERS.join(", ")
            )));
        }
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            NetError::InvalidRequest(format!(
                "the value of header {name:?} is not valid (control characters or non-ASCII)"
            ))
        })?;
        // `append`, not `insert`: repeated headers are legitimate.
        headers.append(header_name, header_value);
    }

    let mut shown_url = url.clone();
    // Never echo a password into logs or plugin-visible messages.
    let _ = shown_url.set_password(None);
    Ok(Prepared {
        authority: authority_of(&url),
        shown: shown_url.to_string(),
        method,
        url,
        headers,
        body: req.body.map(Bytes::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::allowlist::{AnyHostGrant, RuleSource};
    use crate::net::limiter::HostLimit;
    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{any, get};
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the test server observed.
    #[derive(Default)]
    struct Seen {
        arrivals: Mutex<Vec<Instant>>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl Seen {
        fn arrive(&self) {
            self.arrivals.lock().unwrap().push(Instant::now());
        }
        fn hits(&self) -> usize {
            self.arrivals.lock().unwrap().len()
        }
        fn arrivals(&self) -> Vec<Instant> {
            let mut arrivals = self.arrivals.lock().unwrap().clone();
            arrivals.sort();
            arrivals
        }
    }

    type Shared = Arc<Seen>;

    async fn ok(State(seen): State<Shared>) -> &'static str {
        seen.arrive();
        "hello"
    }

    /// Holds the request for a while so overlapping requests can be counted.
    async fn slow(State(seen): State<Shared>, Path(n): Path<u32>) -> String {
        seen.arrive();
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        n.to_string()
    }

    async fn status(State(seen): State<Shared>, Path(code): Path<u16>) -> Response {
        seen.arrive();
        let status = AxumStatus::from_u16(code).unwrap();
        (status, format!("status {code} from the test server")).into_response()
    }

    /// Fails the first time with `code` (and `Retry-After: 1` for 429),
    /// then succeeds.
    async fn flaky(State(seen): State<Shared>, Path(code): Path<u16>) -> Response {
        seen.arrive();
        if seen.hits() == 1 {
            let status = AxumStatus::from_u16(code).unwrap();
            return (status, [("retry-after", "1")], "try later").into_response();
        }
        "recovered".into_response()
    }

    async fn always_429(State(seen): State<Shared>) -> Response {
        seen.arrive();
        (AxumStatus::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
    }

    async fn big(State(seen): State<Shared>) -> Vec<u8> {
        seen.arrive();
        vec![b'x'; 4096]
    }

    /// No Content-Length: the cap must hold while streaming.
    async fn big_stream(State(seen): State<Shared>) -> Body {
        seen.arrive();
        let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 512]));
        Body::from_stream(futures::stream::iter(chunks))
    }

    async fn redirect(State(seen): State<Shared>) -> Response {
        seen.arrive();
        (AxumStatus::FOUND, [("location", "/ok")]).into_response()
    }

    async fn hang(State(seen): State<Shared>) -> &'static str {
        seen.arrive();
        tokio::time::sleep(Duration::from_secs(5)).await;
        "too late"
    }

    /// Echoes the method, one header and the body, and sets a mixed-case header.
    async fn echo(
        State(seen): State<Shared>,
        method: axum::http::Method,
        headers: AxumHeaders,
        body: axum::body::Bytes,
    ) -> Response {
        seen.arrive();
        let token = headers
            .get("x-token")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let reply = format!("{method} {token} {}", String::from_utf8_lossy(&body));
        ([("X-Custom", "Value")], reply).into_response()
    }

    async fn serve() -> (SocketAddr, Shared) {
        let seen = Shared::default();
        let app = Router::new()
            .route("/ok", get(ok))
            .route("/slow/{n}", get(slow))
            .route("/status/{code}", get(status))
            .route("/flaky/{code}", get(flaky))
            .route("/always-429", get(always_429))
            .route("/big", get(big))
            .route("/big-stream", get(big_stream))
            .route("/redirect", get(redirect))
            .route("/hang", get(hang))
            .route("/echo", any(echo))
            .with_state(seen.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, seen)
    }

    /// Millisecond-scale settings so the suite runs in seconds.
    fn config() -> NetConfig {
        NetConfig {
            limits: LimitsConfig {
                default: HostLimit {
                    requests_per_second: 1000,
                    max_concurrency: 16,
                },
                per_host: vec![],
            },
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(2),
                max_delay: Duration::from_millis(10),
                max_retry_after: Duration::from_millis(60),
            },
            request_timeout: Duration::from_secs(5),
            max_response_bytes: 1024,
            user_agent: "snapshot-host-test".into(),
        }
    }

    fn policy_for(addr: SocketAddr) -> EgressPolicy {
        EgressPolicy::from_rules(
            "test",
            AnyHostGrant::NotGranted,
            RuleSource::PluginManifest,
            [format!("http://{addr}")],
        )
        .unwrap()
    }

    fn stats_of(gateway: &HttpGateway, addr: SocketAddr) -> HostStats {
        gateway
            .stats()
            .into_iter()
            .find(|s| s.authority == addr.to_string())
            .expect("stats for the test server")
    }

    #[tokio::test]
    async fn a_request_to_an_allowed_host_gets_the_response() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest {
                    method: "post".into(),
                    url: format!("http://{addr}/echo"),
                    headers: vec![("X-Token".into(), "t1".into())],
                    body: Some(b"payload".to_vec()),
                },
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"POST t1 payload");
        assert!(
            response
                .headers
                .contains(&("x-custom".into(), "Value".into())),
            "names lower case: {:?}",
            response.headers
        );
        assert_eq!(seen.hits(), 1);
        let stats = stats_of(&gateway, addr);
        assert_eq!(stats.requests_sent, 1);
        assert_eq!(stats.responses_2xx, 1);
        assert_eq!(stats.bytes_sent, 7);
        assert_eq!(stats.bytes_received, 15);
    }

    #[tokio::test]
    async fn denied_destinations_never_reach_the_network() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let policy = policy_for(addr);
        let other_port = format!("http://127.0.0.1:{}/ok", addr.port() + 1);
        let cases = [
            (format!("https://{addr}/ok"), format!("https://{addr}")),
            (
                other_port.clone(),
                other_port.trim_end_matches("/ok").to_string(),
            ),
            (
                "http://localhost/ok".to_string(),
                "http://localhost".to_string(),
            ),
            (
                format!("http://{addr}@evil.example/ok"),
                "http://evil.example".to_string(),
            ),
        ];
        for (url, rule) in cases {
            match gateway.send(&policy, HttpRequest::get(&url)).await {
                Err(NetError::Denied(message)) => {
                    assert!(message.contains("plugin test"), "{message}");
                    assert!(message.contains(&format!("add \"{rule}\"")), "{message}");
                }
                other => panic!("{url}: expected Denied, got {other:?}"),
            }
        }
        let empty = EgressPolicy::new("test");
        let result = gateway
            .send(&empty, HttpRequest::get(format!("http://{addr}/ok")))
            .await;
        assert!(matches!(result, Err(NetError::Denied(_))), "{result:?}");
        assert!(
            gateway
                .throttle_for(&empty, &format!("http://{addr}/ok"), None)
                .is_err(),
            "a plugin cannot pause a host it may not reach"
        );
        assert_eq!(seen.hits(), 0);
        assert!(gateway.stats().is_empty());
    }

    #[tokio::test]
    async fn malformed_requests_are_rejected_naming_the_problem() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let policy = policy_for(addr);
        let url = format!("http://{addr}/echo");
        let with = |method: &str, header: (&str, &str)| HttpRequest {
            method: method.into(),
            url: url.clone(),
            headers: vec![(header.0.into(), header.1.into())],
            body: None,
        };
        for (request, needle) in [
            (HttpRequest::get("ftp://example.com/x"), "http or https"),
            (HttpRequest::get("not a url"), "not valid"),
            (with("GET", ("Host", "evil.example")), "\"host\""),
            (with("GET", ("Content-Length", "5")), "\"content-length\""),
            (
                with("GET", ("Transfer-Encoding", "chunked")),
                "\"transfer-encoding\"",
            ),
            (with("GET", ("connection", "close")), "\"connection\""),
            (with("GET", ("bad header", "x")), "header name"),
            (with("GET", ("x-ok", "line\nbreak")), "value of header"),
            (with("CONNECT", ("x-ok", "1")), "method"),
        ] {
            match gateway.send(&policy, request).await {
                Err(NetError::InvalidRequest(message)) => {
                    assert!(message.contains(needle), "{needle}: {message}")
                }
                other => panic!("{needle}: expected InvalidRequest, got {other:?}"),
            }
        }
        assert_eq!(seen.hits(), 0);
    }

    #[tokio::test]
    async fn requests_to_one_host_hold_to_its_rate() {
        let (addr, seen) = serve().await;
        let rps = 40;
        let mut config = config();
        config.limits.per_host = vec![(
            "127.0.0.1".into(),
            HostLimit {
                requests_per_second: rps,
                max_concurrency: 64,
            },
        )];
        let gateway = HttpGateway::new(config);
        let burst = gateway.limiter().limit_of(&addr.to_string()).burst() as usize;
        let n = 24;
        let requests = (0..n)
            .map(|_| HttpRequest::get(format!("http://{addr}/ok")))
            .collect();
        let results = gateway.send_all(&policy_for(addr), requests).await;
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_ok_and(|r| r.status == 200))
        );

        // Judge at the server: between the i-th and j-th arrivals there must be
        // room for the j-i-(burst-1) requests past the burst at `rps`. Slack of
        // two requests covers the client-to-server latency varying on a busy
        // machine; load can only spread arrivals further apart, never closer.
        let arrivals = seen.arrivals();
        assert_eq!(arrivals.len(), n);
        let interval = 1.0 / f64::from(rps);
        for i in 0..n {
            for j in i + 1..n {
                let allowed_early = (j - i).saturating_sub(burst - 1 + 2) as f64 * interval;
                let gap = (arrivals[j] - arrivals[i]).as_secs_f64();
                assert!(
                    gap >= allowed_early,
                    "arrivals {i}..{j} only {gap:.3}s apart, expected ≥ {allowed_early:.3}s"
                );
            }
        }
    }

    #[tokio::test]
    async fn in_flight_requests_are_capped_at_the_server_and_results_keep_their_order() {
        let (addr, seen) = serve().await;
        let mut config = config();
        config.limits.default.max_concurrency = 3;
        let gateway = HttpGateway::new(config);
        let requests = (0..12)
            .map(|i| HttpRequest::get(format!("http://{addr}/slow/{i}")))
            .collect();
        let results = gateway.send_all(&policy_for(addr), requests).await;
        let bodies: Vec<_> = results
            .into_iter()
            .map(|r| String::from_utf8(r.unwrap().body).unwrap())
            .collect();
        let expected: Vec<_> = (0..12).map(|i| i.to_string()).collect();
        assert_eq!(bodies, expected);
        let max = seen.max_in_flight.load(Ordering::SeqCst);
        assert!(max <= 3, "{max} requests in flight at once");
        assert!(max >= 2, "requests should overlap, saw at most {max}");
    }

    #[tokio::test]
    async fn a_429_with_retry_after_pauses_the_host_then_succeeds() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/flaky/429")),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"recovered");
        let arrivals = seen.arrivals();
        assert_eq!(arrivals.len(), 2);
        // Retry-After: 1 s, capped by the test config's 60 ms.
        let gap = arrivals[1] - arrivals[0];
        assert!(gap >= Duration::from_millis(60), "retried after {gap:?}");
        let stats = stats_of(&gateway, addr);
        assert_eq!((stats.rate_limited, stats.retries), (1, 1));
    }

    #[tokio::test]
    async fn a_429_that_persists_becomes_rate_limited_with_the_wait() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let result = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/always-429")),
            )
            .await;
        assert_eq!(result, Err(NetError::RateLimited { retry_after_ms: 60 }));
        assert_eq!(seen.hits(), 3);
    }

    #[tokio::test]
    async fn a_throttle_holds_the_next_request_to_that_host() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let policy = policy_for(addr);
        let url = format!("http://{addr}/ok");
        let start = Instant::now();
        gateway
            .throttle_for(&policy, &url, Some(Duration::from_millis(40)))
            .unwrap();
        gateway.send(&policy, HttpRequest::get(&url)).await.unwrap();
        let arrived = seen.arrivals()[0];
        assert!(arrived - start >= Duration::from_millis(40));
    }

    #[tokio::test]
    async fn a_503_is_retried_then_succeeds() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/flaky/503")),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(seen.hits(), 2);
        let stats = stats_of(&gateway, addr);
        assert_eq!(
            (
                stats.requests_sent,
                stats.responses_5xx,
                stats.responses_2xx,
                stats.retries
            ),
            (2, 1, 1, 1)
        );
    }

    #[tokio::test]
    async fn a_500_that_persists_becomes_upstream_after_max_attempts() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let url = format!("http://{addr}/status/500?page=2");
        let result = gateway
            .send(&policy_for(addr), HttpRequest::get(&url))
            .await;
        let Err(NetError::Upstream(message)) = result else {
            panic!("expected Upstream, got {result:?}");
        };
        assert!(message.contains(&url), "{message}");
        assert!(message.contains("500 Internal Server Error"), "{message}");
        assert!(message.contains("3 attempts"), "{message}");
        assert!(
            message.contains("status 500 from the test server"),
            "{message}"
        );
        assert_eq!(seen.hits(), 3);
    }

    #[tokio::test]
    async fn a_404_is_an_answer_and_is_not_retried() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/status/404")),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(seen.hits(), 1);
        assert_eq!(stats_of(&gateway, addr).responses_4xx, 1);
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_too_large_and_not_retried() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        for path in ["big", "big-stream"] {
            let result = gateway
                .send(
                    &policy_for(addr),
                    HttpRequest::get(format!("http://{addr}/{path}")),
                )
                .await;
            let Err(NetError::TooLarge(message)) = result else {
                panic!("{path}: expected TooLarge, got {result:?}");
            };
            assert!(message.contains("1024 bytes"), "{message}");
        }
        assert_eq!(seen.hits(), 2, "one attempt each");
    }

    #[tokio::test]
    async fn a_redirect_goes_back_to_the_plugin_unfollowed() {
        let (addr, seen) = serve().await;
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/redirect")),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 302);
        assert_eq!(response.header("Location"), Some("/ok"));
        assert_eq!(seen.hits(), 1, "/ok was never requested");
    }

    #[tokio::test]
    async fn timeouts_are_retried_then_reported() {
        let (addr, seen) = serve().await;
        let mut config = config();
        // Long enough for each attempt to reach the server on a busy machine,
        // short next to the 5 s the handler would take.
        config.request_timeout = Duration::from_millis(200);
        let gateway = HttpGateway::new(config);
        let url = format!("http://{addr}/hang");
        let result = gateway
            .send(&policy_for(addr), HttpRequest::get(&url))
            .await;
        let Err(NetError::Timeout(message)) = result else {
            panic!("expected Timeout, got {result:?}");
        };
        assert!(
            message.contains(&url) && message.contains("3 attempts"),
            "{message}"
        );
        let stats = stats_of(&gateway, addr);
        assert_eq!(
            (stats.requests_sent, stats.timeouts, stats.retries),
            (3, 3, 2)
        );
        assert_eq!(seen.hits(), 3, "every attempt reached the server");
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported_as_upstream() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let gateway = HttpGateway::new(config());
        let result = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/")),
            )
            .await;
        let Err(NetError::Upstream(message)) = result else {
            panic!("expected Upstream, got {result:?}");
        };
        assert!(message.contains("after 3 attempts"), "{message}");
        let stats = stats_of(&gateway, addr);
        assert_eq!((stats.transport_errors, stats.retries), (3, 2));
    }

    #[tokio::test]
    async fn a_truncated_body_is_retried() {
        // A raw server: the first connection promises 100 bytes and sends 5.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for connection in 0.. {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await.unwrap();
                let reply: &[u8] = if connection == 0 {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort"
                } else {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nwhole"
                };
                socket.write_all(reply).await.unwrap();
                socket.shutdown().await.unwrap();
            }
        });
        let gateway = HttpGateway::new(config());
        let response = gateway
            .send(
                &policy_for(addr),
                HttpRequest::get(format!("http://{addr}/")),
            )
            .await
            .unwrap();
        assert_eq!(response.body, b"whole");
        let stats = stats_of(&gateway, addr);
        assert_eq!((stats.transport_errors, stats.retries), (1, 1));
    }
}
