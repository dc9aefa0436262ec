//! Outbound HTTP for plugins: the sandbox's only way out.
//!
//! A plugin never opens a socket. It hands an [`HttpRequest`] to the host,
//! and [`HttpGateway::send`] walks it down one line:
//!
//! ```text
//! URL (http/https) → EgressPolicy (allow-list, deny by default)
//!   → loop { RateLimiter (pause → in-flight slot → GCRA rate)
//!            → reqwest, one timeout per attempt, body read under a size cap
//!            → 429/5xx/timeout/broken connection? back off (Retry-After wins) and retry }
//! ```
//!
//! * [`allowlist`]: [`EgressPolicy`], which destinations one plugin may reach,
//!   with denial messages that print the exact rule to add.
//! * [`limiter`]: [`RateLimiter`], per-upstream limits shared by every job,
//!   because upstreams rate-limit clients, not jobs.
//! * [`shared_limit`]: [`SharedRateLimit`], the same limits kept in Redis
//!   for a cluster of hosts.
//! * [`retry`]: [`RetryPolicy`], exponential backoff with full jitter and a
//!   capped `Retry-After`.
//! * [`gateway`]: [`HttpGateway`], the single entry point, plus per-host
//!   [`HostStats`] for metrics.
//!
//! Redirects are not followed (a 3xx goes back to the plugin), so a redirect
//! can never lead a request past the allow-list.

pub mod allowlist;
pub mod gateway;
pub mod limiter;
pub mod retry;
pub mod shared_limit;

pub use allowlist::{AllowRule, AnyHostGrant, Denied, EgressPolicy, RuleParseError, RuleSource};
pub use gateway::{
    FORBIDDEN_REQUEST_HEADERS, HostStats, HttpGateway, HttpRequest, HttpResponse, NetConfig,
    NetError,
};
pub use limiter::{HostLimit, LimitsConfig, Permit, RateLimiter};
pub use retry::RetryPolicy;
pub use shared_limit::{SharedLimitError, SharedRateLimit};
