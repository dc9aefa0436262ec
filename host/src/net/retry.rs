//! When to try a request again, and how long to wait first.
//!
//! Exponential backoff with *full jitter* (a random delay between zero and the
//! exponential ceiling): many jobs failing at the same moment must not come
//! back at the same moment. A server's `Retry-After` wins over the backoff,
//! but is capped, because a misbehaving upstream must not park a job for hours.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry; 0 is
    /// treated as 1).
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; it doubles each time.
    pub base_delay: Duration,
    /// The backoff ceiling never grows past this.
    pub max_delay: Duration,
    /// The longest `Retry-After` (or plugin throttle) honoured; longer values
    /// are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Attempts in total, at least one.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The backoff ceiling after `failures` failed attempts (1 = the first):
    /// `min(max_delay, base_delay * 2^(failures-1))`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }

    /// A random delay in `[0, ceiling(failures)]` (full jitter).
    pub fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// `Retry-After` cut to [`RetryPolicy::max_retry_after`].
    pub fn cap_retry_after(&self, retry_after: Duration) -> Duration {
        retry_after.min(self.max_retry_after)
    }

    /// How long to wait before the next attempt: the server's (capped)
    /// `Retry-After` when it gave one, the jittered backoff otherwise.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => self.cap_retry_after(wait),
            None => self.backoff(failures),
        }
    }
}

/// Whether an HTTP status is worth another attempt: rate limiting and the
/// server errors that mean "transient" (500, 502, 503, 504). Any other
/// status is an answer and goes back to the plugin.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`. A date in the past
/// means "now" (zero); anything unparsable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_ceiling_doubles_and_stops_at_the_maximum() {
        let p = policy();
        let ceilings: Vec<_> = (1..=5).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 700, 700]);
        assert_eq!(p.ceiling(1000), Duration::from_millis(700), "no overflow");
    }

    #[test]
    fn the_backoff_is_jittered_within_the_ceiling() {
        let p = policy();
        let delays: Vec<_> = (0..200).map(|_| p.backoff(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        // Full jitter: the values spread out rather than all being equal.
        assert!(delays.iter().any(|d| *d != delays[0]));
    }

    #[test]
    fn retry_after_wins_over_the_backoff_but_is_capped() {
        let mut p = policy();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        p.max_retry_after = Duration::from_secs(2);
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn only_rate_limits_and_transient_server_errors_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 204, 301, 302, 304, 400, 401, 403, 404, 409, 501, 505] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
