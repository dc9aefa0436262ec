//! The cluster-wide part of the rate limiter: one GCRA per upstream
//! authority, kept in Redis, so several hosts together send no more than
//! the configured rate to a public ledger node (three hosts must not triple
//! what the node sees).
//!
//! Each request makes one atomic Lua call that *reserves* the next slot:
//! the script reads Redis's own clock (`TIME`, so hosts' clocks do not
//! matter), advances the authority's theoretical arrival time by one
//! emission interval and answers how long the caller must wait before
//! sending. Reserving instead of asking "may I now?" needs a single round
//! trip per request, and callers are served in the order they asked. A
//! caller that gives up after reserving wastes its slot: the cluster then
//! sends slightly less than allowed, never more.
//!
//! The same call answers "paused" while a `Retry-After` pause set by any
//! host is in force ([`SharedRateLimit::pause`]), so a 429 seen by one host
//! holds every host's requests to that upstream.
//!
//! The per-host in-flight cap stays in-process (it protects this host's
//! sockets and memory, not the upstream's rate). Redis errors are errors:
//! the caller fails the request as transient rather than sending it
//! unlimited.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::limiter::HostLimit;

/// Reserves the next slot of an authority, or reports its pause.
///
/// KEYS[1]: the authority's theoretical arrival time (µs, Redis clock);
/// KEYS[2]: its pause flag. ARGV[1]: emission interval (µs); ARGV[2]: burst
/// tolerance (µs). Returns `{0, wait_us}` (slot reserved) or `{1, pause_us}`
/// (paused; nothing reserved).
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return {1, paused * 1000}
end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
  'PX', math.ceil((next_tat - now) / 1000) + 1000)
return {0, wait}
";

/// Extends (never shortens) an authority's pause. KEYS[1]: the pause flag;
/// ARGV[1]: its length in ms.
const PAUSE: &str = r"
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
";

/// What the cluster says about sending one request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is reserved: send after this long (zero: at once).
    SendAfter(Duration),
    /// Some host was told to back off: nobody sends for this long.
    Paused(Duration),
}

/// The cluster's limiter could not be asked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the cluster rate limiter (Redis) did not answer: {0}")]
pub struct SharedLimitError(String);

/// Per-authority GCRA state and pauses in Redis, shared by every host
/// using the same Redis and key prefix.
#[derive(Clone)]
pub struct SharedRateLimit {
    conn: ConnectionManager,
    prefix: String,
    reserve: redis::Script,
    pause: redis::Script,
}

impl std::fmt::Debug for SharedRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRateLimit")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// How long one limiter call may take before the request fails.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

impl SharedRateLimit {
    /// Connects to Redis; keys live under `{namespace}:upstream:`.
    pub async fn connect(
        client: &redis::Client,
        namespace: &str,
    ) -> Result<Self, SharedLimitError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(REPLY_TIMEOUT))
            .set_connection_timeout(Some(REPLY_TIMEOUT))
            // Fail fast while Redis is away: a request waits for no
            // reconnection, it fails transient and the job is retried.
            .set_number_of_retries(1);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| SharedLimitError(e.to_string()))?;
        Ok(SharedRateLimit {
            conn,
            prefix: format!("{namespace}:upstream"),
            reserve: redis::Script::new(RESERVE),
            pause: redis::Script::new(PAUSE),
        })
    }

    fn rate_key(&self, authority: &str) -> String {
        format!("{}:rate:{authority}", self.prefix)
    }

    fn pause_key(&self, authority: &str) -> String {
        format!("{}:pause:{authority}", self.prefix)
    }

    /// Reserves the next slot to send one request to `authority` under
    /// `limit` (its rate and burst; the concurrency is enforced per host).
    pub async fn reserve(
        &self,
        authority: &str,
        limit: HostLimit,
    ) -> Result<Reservation, SharedLimitError> {
        let interval_us = 1_000_000 / u64::from(limit.requests_per_second.max(1));
        let tolerance_us = interval_us * u64::from(limit.burst().saturating_sub(1));
        let mut conn = self.conn.clone();
        let (paused, micros): (i64, i64) = self
            .reserve
            .key(self.rate_key(authority))
            .key(self.pause_key(authority))
            .arg(interval_us)
            .arg(tolerance_us)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| SharedLimitError(e.to_string()))?;
        let wait = Duration::from_micros(micros.max(0) as u64);
        Ok(if paused == 1 {
            Reservation::Paused(wait)
        } else {
            Reservation::SendAfter(wait)
        })
    }

    /// Holds every host's requests to `authority` for `length` (extends a
    /// shorter pause, never cuts a longer one).
    pub async fn pause(&self, authority: &str, length: Duration) -> Result<(), SharedLimitError> {
        let ms = length.as_millis().max(1) as u64;
        let mut conn = self.conn.clone();
        self.pause
            .key(self.pause_key(authority))
            .arg(ms)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| SharedLimitError(e.to_string()))
    }
}
