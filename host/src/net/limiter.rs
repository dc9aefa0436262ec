//! Per-upstream-host rate and concurrency limits, shared by every job.
//!
//! Upstreams (a mirror node, a rippled server) rate-limit per client, not per
//! job or plugin, so the limiter is keyed by authority (`host:port`) and one
//! [`RateLimiter`] is shared by the whole host behind an `Arc`. Each authority
//! gets, lazily, three things:
//!
//! * a GCRA limiter (governor) for requests per second, with a small burst so
//!   a fresh host is not hit with a full second's worth at once;
//! * a semaphore for the number of requests in flight;
//! * a pause: when an upstream answers 429/503 with `Retry-After`, or a plugin
//!   says it is being throttled, *every* request to that host waits until the
//!   pause ends, not just the one that was told to back off.
//!
//! The limits can change while the host runs ([`RateLimiter::set_config`]): a
//! plugin loaded later brings its `[[rate_limits]]`. A host not contacted yet
//! simply gets the new limit on first use. A host already in use whose limit
//! changed gets a fresh rate limiter and in-flight semaphore (its pause is
//! kept); requests already holding a slot of the old semaphore finish on it,
//! so for as long as they run, up to the old limit's slots may be in flight
//! beside the new ones. That transient is bounded by one request's duration
//! and happens only when a limit really changes.
//!
//! In a cluster ([`RateLimiter::share_with`]), the rate and the pauses are
//! the cluster's: the GCRA lives in Redis ([`super::shared_limit`]) so all
//! hosts together keep to one rate per upstream, and a pause one host sets
//! holds the others too. The in-flight cap stays per host. When Redis does
//! not answer, [`RateLimiter::acquire`] fails rather than let the request go
//! unlimited.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter as Gcra};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::shared_limit::{Reservation, SharedLimitError, SharedRateLimit};

/// The limits for one upstream authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimit {
    /// Sustained request rate. 0 is treated as 1: a host that must never be
    /// called belongs in no allow-list, not here.
    pub requests_per_second: u32,
    /// Requests in flight at once (sending through reading the body). 0 is
    /// treated as 1.
    pub max_concurrency: u32,
}

impl HostLimit {
    /// How many requests may go back to back before the rate applies:
    /// a twentieth of a second's worth, at least one. Kept below the
    /// tenth-of-a-second buckets upstreams commonly enforce: with equal
    /// bursts on both sides, scheduling jitter alone lets requests arrive
    /// closer together than the upstream allows, and every 429 then pauses
    /// the whole upstream for its `Retry-After` (see BENCHMARKS.md).
    pub fn burst(&self) -> u32 {
        (self.requests_per_second / 20).max(1)
    }

    fn rate(&self) -> NonZeroU32 {
        NonZeroU32::new(self.requests_per_second).unwrap_or(NonZeroU32::MIN)
    }

    fn concurrency(&self) -> usize {
        self.max_concurrency.max(1) as usize
    }
}

impl Default for HostLimit {
    /// Polite defaults for public ledger APIs.
    fn default() -> Self {
        HostLimit {
            requests_per_second: 10,
            max_concurrency: 4,
        }
    }
}

/// Which limit applies to which upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitsConfig {
    /// For every authority no pattern matches.
    pub default: HostLimit,
    /// `(pattern, limit)`. A pattern is an exact host (`mirror.example.com`),
    /// an exact authority (`127.0.0.1:5551`), or `*.domain` for strict
    /// subdomains (not the apex, as in the allow-list). When several match,
    /// the most specific wins: authority, then host, then the longest domain.
    pub per_host: Vec<(String, HostLimit)>,
}

impl LimitsConfig {
    /// The limit for `authority` (`host:port`, IPv6 hosts in brackets).
    pub fn limit_for(&self, authority: &str) -> HostLimit {
        let authority = authority.to_ascii_lowercase();
        let host = split_host(&authority);
        let mut best: Option<(u32, HostLimit)> = None;
        for (pattern, limit) in &self.per_host {
            let pattern = pattern.trim().to_ascii_lowercase();
            // Rank: exact authority beats exact host beats any wildcard; among
            // wildcards the longer (more specific) domain wins.
            let rank = if pattern == authority {
                Some(u32::MAX)
            } else if pattern == host {
                Some(u32::MAX - 1)
            } else if let Some(domain) = pattern.strip_prefix("*.") {
                let is_subdomain = host.len() > domain.len() + 1
                    && host.ends_with(domain)
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.';
                is_subdomain.then_some(domain.len() as u32)
            } else {
                None
            };
            if let Some(rank) = rank
                && best.is_none_or(|(r, _)| rank > r)
            {
                best = Some((rank, *limit));
            }
        }
        best.map_or(self.default, |(_, limit)| limit)
    }
}

/// The host part of `host:port` (brackets kept for IPv6).
fn split_host(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        // "[::1]" alone has colons but no port: only split after the bracket.
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    }
}

/// The state of one authority.
struct HostLimiter {
    limit: HostLimit,
    gcra: DefaultDirectRateLimiter,
    in_flight: Arc<Semaphore>,
    paused_until: Mutex<Option<Instant>>,
}

impl HostLimiter {
    fn new(limit: HostLimit) -> Self {
        let burst = NonZeroU32::new(limit.burst()).unwrap_or(NonZeroU32::MIN);
        HostLimiter {
            limit,
            gcra: Gcra::direct(Quota::per_second(limit.rate()).allow_burst(burst)),
            in_flight: Arc::new(Semaphore::new(limit.concurrency())),
            paused_until: Mutex::new(None),
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        until.filter(|t| *t > Instant::now())
    }

    /// Extends the pause to `until` (never shortens it).
    fn pause(&self, until: Instant) {
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Waits until no pause is in force. Loops because a pause may be
    /// extended while we sleep.
    async fn wait_out_pause(&self) {
        while let Some(until) = self.paused_until() {
            tokio::time::sleep_until(until).await;
        }
    }
}

/// Permission to send one request; hold it until the response body is read.
#[derive(Debug)]
pub struct Permit {
    _in_flight: OwnedSemaphorePermit,
}

/// The shared per-authority limiter. Cheap to share: wrap it in an `Arc`.
pub struct RateLimiter {
    config: Mutex<LimitsConfig>,
    hosts: Mutex<HashMap<String, Arc<HostLimiter>>>,
    /// Set in a cluster: rates and pauses shared through Redis.
    shared: OnceLock<SharedRateLimit>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter with no host state yet; hosts are added on first use.
    pub fn new(config: LimitsConfig) -> Self {
        RateLimiter {
            config: Mutex::new(config),
            hosts: Mutex::new(HashMap::new()),
            shared: OnceLock::new(),
        }
    }

    /// From now on, keeps rates and pauses in `shared` (the cluster's
    /// Redis) instead of in this process. Set once; a second call is
    /// refused.
    pub fn share_with(&self, shared: SharedRateLimit) -> Result<(), &'static str> {
        self.shared
            .set(shared)
            .map_err(|_| "the rate limiter is already shared")
    }

    /// Whether rates are kept cluster-wide.
    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// The limits in force.
    pub fn config(&self) -> LimitsConfig {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the limits (see the module docs for hosts already in use).
    pub fn set_config(&self, config: LimitsConfig) {
        // Lock order: config, then hosts (as `host` does).
        let mut current = self.config.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        for (authority, host) in hosts.iter_mut() {
            let limit = config.limit_for(authority);
            if limit != host.limit {
                let fresh = HostLimiter::new(limit);
                *fresh.paused_until.lock().unwrap_or_else(|e| e.into_inner()) = host.paused_until();
                tracing::info!(
                    authority = %authority,
                    requests_per_second = limit.requests_per_second,
                    max_concurrency = limit.max_concurrency,
                    "upstream limit changed"
                );
                *host = Arc::new(fresh);
            }
        }
        *current = config;
    }

    fn host(&self, authority: &str) -> Arc<HostLimiter> {
        let key = authority.to_ascii_lowercase();
        let config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(key)
            .or_insert_with_key(|key| Arc::new(HostLimiter::new(config.limit_for(key))))
            .clone()
    }

    /// The limit in force for `authority`.
    pub fn limit_of(&self, authority: &str) -> HostLimit {
        self.host(authority).limit
    }

    /// Waits for the right to send one request to `authority`: first any
    /// pause, then an in-flight slot, then the rate (in a cluster, a slot
    /// reserved in Redis; fails when Redis does not answer).
    ///
    /// The slot is taken before the rate so that waiting for the rate does
    /// not hoard cells while the host is saturated. Cancel-safe: dropping the
    /// future gives everything back (but a slot reserved in Redis).
    pub async fn acquire(&self, authority: &str) -> Result<Permit, SharedLimitError> {
        let key = authority.to_ascii_lowercase();
        let host = self.host(&key);
        loop {
            host.wait_out_pause().await;
            let Ok(permit) = host.in_flight.clone().acquire_owned().await else {
                unreachable!("the semaphore is never closed");
            };
            match self.shared.get() {
                None => host.gcra.until_ready().await,
                Some(shared) => match shared.reserve(&key, host.limit).await? {
                    Reservation::SendAfter(wait) => {
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    Reservation::Paused(left) => {
                        // Another host was told to back off: so are we.
                        host.pause(Instant::now() + left);
                        continue;
                    }
                },
            }
            // A pause that began while we queued applies to us too: the
            // upstream asked everyone to wait, so give the slot back and wait.
            if host.paused_until().is_none() {
                return Ok(Permit { _in_flight: permit });
            }
        }
    }

    /// Holds every request to `authority` until `until`. Only extends: a
    /// shorter pause never cuts a longer one short. In a cluster the pause
    /// is also recorded in Redis (in the background), for every host.
    pub fn pause(&self, authority: &str, until: Instant) {
        let key = authority.to_ascii_lowercase();
        self.host(&key).pause(until);
        if let Some(shared) = self.shared.get()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (shared, length) = (
                shared.clone(),
                until.saturating_duration_since(Instant::now()),
            );
            runtime.spawn(async move {
                if let Err(e) = shared.pause(&key, length).await {
                    tracing::warn!(authority = %key, "sharing an upstream pause: {e}");
                }
            });
        }
        tracing::debug!(authority, pause_ms = ?until.saturating_duration_since(Instant::now()).as_millis(), "upstream paused");
    }

    /// The end of the pause in force for `authority`, if any.
    pub fn paused_until(&self, authority: &str) -> Option<Instant> {
        self.host(authority).paused_until()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::time::Duration;

    fn limit(rps: u32, concurrency: u32) -> HostLimit {
        HostLimit {
            requests_per_second: rps,
            max_concurrency: concurrency,
        }
    }

    #[test]
    fn the_most_specific_pattern_wins_and_wildcards_skip_the_apex() {
        let config = LimitsConfig {
            default: limit(1, 1),
            per_host: vec![
                ("*.example.com".into(), limit(2, 1)),
                ("*.mirror.example.com".into(), limit(3, 1)),
                ("mirror.example.com".into(), limit(4, 1)),
                ("127.0.0.1:5551".into(), limit(5, 1)),
                ("[::1]".into(), limit(6, 1)),
            ],
        };
        assert_eq!(config.limit_for("example.com:443"), limit(1, 1), "apex");
        assert_eq!(config.limit_for("evil-example.com:443"), limit(1, 1));
        assert_eq!(config.limit_for("a.example.com:443"), limit(2, 1));
        assert_eq!(config.limit_for("x.mirror.example.com:443"), limit(3, 1));
        assert_eq!(config.limit_for("MIRROR.example.com:443"), limit(4, 1));
        assert_eq!(config.limit_for("127.0.0.1:5551"), limit(5, 1));
        assert_eq!(config.limit_for("127.0.0.1:5552"), limit(1, 1));
        assert_eq!(config.limit_for("[::1]:8080"), limit(6, 1));
    }

    #[test]
    fn the_burst_is_a_tenth_of_the_rate_and_at_least_one() {
        assert_eq!(limit(5, 1).burst(), 1);
        assert_eq!(limit(40, 1).burst(), 2);
        assert_eq!(limit(0, 0).burst(), 1);
    }

    #[tokio::test]
    async fn in_flight_requests_are_capped_per_host_and_hosts_are_independent() {
        let limiter = RateLimiter::new(LimitsConfig {
            default: limit(1000, 2),
            per_host: vec![],
        });
        let a = limiter.acquire("a:80").await;
        let _b = limiter.acquire("a:80").await;
        assert!(
            limiter.acquire("a:80").now_or_never().is_none(),
            "third must wait"
        );
        assert!(
            limiter.acquire("b:80").now_or_never().is_some(),
            "other host free"
        );
        drop(a);
        assert!(
            limiter.acquire("a:80").now_or_never().is_some(),
            "slot returned"
        );
    }

    #[tokio::test]
    async fn acquiring_holds_to_the_rate_after_the_burst() {
        let rps = 50;
        let limiter = RateLimiter::new(LimitsConfig {
            default: limit(rps, 100),
            per_host: vec![],
        });
        let burst = limiter.limit_of("a:80").burst();
        let n = 15;
        let start = std::time::Instant::now();
        for _ in 0..n {
            drop(limiter.acquire("a:80").await);
        }
        // A lower bound only: a loaded machine can make this slower, never faster.
        let floor = Duration::from_secs_f64(f64::from(n - burst - 1) / f64::from(rps));
        assert!(
            start.elapsed() >= floor,
            "{:?} < {floor:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn limits_set_at_run_time_reach_new_and_existing_hosts_and_keep_pauses() {
        let limiter = RateLimiter::new(LimitsConfig {
            default: limit(10, 4),
            per_host: vec![],
        });
        assert_eq!(limiter.limit_of("a:80"), limit(10, 4));
        let until = Instant::now() + Duration::from_secs(60);
        limiter.pause("a:80", until);
        let held = limiter.acquire("b:80").now_or_never();
        assert!(held.is_some());
        limiter.set_config(LimitsConfig {
            default: limit(10, 4),
            per_host: vec![
                ("a".into(), limit(50, 8)),
                ("b".into(), limit(1, 1)),
                ("new.example".into(), limit(3, 2)),
            ],
        });
        assert_eq!(limiter.limit_of("a:80"), limit(50, 8), "a host in use");
        assert_eq!(limiter.paused_until("a:80"), Some(until), "its pause kept");
        assert_eq!(
            limiter.limit_of("new.example:443"),
            limit(3, 2),
            "a new host"
        );
        assert_eq!(limiter.limit_of("c:80"), limit(10, 4), "the default");
        assert_eq!(limiter.config().per_host.len(), 3);
        // The new semaphore of b has one slot, free: the old permit is on
        // the old one.
        let b = limiter.acquire("b:80").now_or_never();
        assert!(b.is_some());
        assert!(
            limiter.acquire("b:80").now_or_never().is_none(),
            "1 in flight"
        );
        drop(held);
    }

    #[tokio::test]
    async fn a_pause_holds_every_request_to_that_host_until_it_ends() {
        let limiter = RateLimiter::new(LimitsConfig::default());
        let until = Instant::now() + Duration::from_millis(40);
        limiter.pause("a:80", until);
        // A shorter pause must not cut the longer one short.
        limiter.pause("a:80", Instant::now() + Duration::from_millis(1));
        assert_eq!(limiter.paused_until("a:80"), Some(until));
        assert!(limiter.acquire("a:80").now_or_never().is_none());
        assert!(
            limiter.acquire("b:80").now_or_never().is_some(),
            "other host free"
        );
        let _permit = limiter.acquire("a:80").await;
        assert!(Instant::now() >= until);
        assert_eq!(limiter.paused_until("a:80"), None);
    }
}
