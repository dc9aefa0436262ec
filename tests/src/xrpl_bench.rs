//! The XRPL section of the benchmark: "holders/s ÷ the sequential round-trip bound ≥ 0.9 for
//! 100,000 trust lines".
//!
//! An issuer with `trust_lines` holders of one currency and no other owner objects, so every
//! `account_lines` page carries the full 400 lines. A trust-line walk is one marker chain: page
//! `k + 1` needs the marker of page `k`, so no client can beat one page per round trip, and the
//! bound is `400 / latency` holders per second. The snapshot is taken by the real host and
//! plugin (sandboxed, with its upstream limit set far above what is used) against the simulator
//! with a fixed added latency; the ratio is achieved holders/s over that bound.
//!
//! Besides the snapshot, the same page chain is walked by a bare HTTP client (reqwest, each
//! reply parsed into a `serde_json::Value` before the next request, nothing else): a reference
//! for what the simulator, HTTP and one JSON parse cost per page on this machine. The plugin
//! keeps its own per-page work (decoding, checksums, `emit`) off the round trip, sending the
//! next page's request as soon as a reply's envelope names the marker, so the snapshot can come
//! closer to the bound than this strictly sequential client.

use std::fmt;
use std::time::{Duration, Instant};

use ledger_simulators::xrpl::{
    AccountId, Currency, IouAmount, SimulatorConfig, TrustLine, XrplLedgerState, XrplSimulator,
};
use serde_json::{Value, json};
use snapshot_host::jobs::SnapshotSpec;

use crate::host::TestHost;

/// Lines per `account_lines` page: rippled's maximum and the plugin's default.
pub const LINES_PER_PAGE: usize = 400;

/// The target ratio.
pub const TARGET_RATIO: f64 = 0.9;

/// The numbers of one benchmark run.
#[derive(Debug, Clone)]
pub struct XrplBenchResult {
    pub trust_lines: usize,
    /// Latency the simulator adds to every reply.
    pub latency: Duration,
    /// Holders in the document.
    pub holders: usize,
    /// The document equals the simulator's holders at the resolved ledger.
    pub exact: bool,
    /// `passed`, `failed` or `unavailable`.
    pub sum_check: String,
    /// `account_lines` pages.
    pub pages: u64,
    /// Every request the snapshot sent (`account_info`, the pages, `gateway_balances`).
    pub requests: u64,
    /// Wall time of `take_snapshot` (validate, walk, sum check, document).
    pub snapshot_wall: Duration,
    pub holders_per_second: f64,
    /// `LINES_PER_PAGE / latency`.
    pub bound_holders_per_second: f64,
    /// `holders_per_second / bound_holders_per_second`.
    pub ratio: f64,
    /// Wall time of the bare HTTP client walking the same pages.
    pub client_wall: Duration,
    /// The bare client's ratio: the ceiling the simulator and HTTP allow.
    pub client_ratio: f64,
    /// Time of building the simulated ledger (not measured in the ratio).
    pub setup: Duration,
}

impl XrplBenchResult {
    /// Header of the markdown table [`Self::markdown_row`] writes a row of.
    pub const MARKDOWN_HEADER: &'static str = "| benchmark | trust lines | latency | pages | requests | wall | holders/s | bound (400/latency) | ratio | bare-client ratio | target | exact | sum check |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|";

    /// Whether the ratio meets [`TARGET_RATIO`].
    pub fn meets_target(&self) -> bool {
        self.ratio >= TARGET_RATIO
    }

    /// Time per page beyond the latency, in the snapshot.
    pub fn snapshot_overhead_per_request(&self) -> Duration {
        overhead_per_request(self.snapshot_wall, self.requests, self.latency)
    }

    /// Time per page beyond the latency, in the bare client.
    pub fn client_overhead_per_request(&self) -> Duration {
        overhead_per_request(self.client_wall, self.pages, self.latency)
    }

    /// One markdown table row (see [`Self::MARKDOWN_HEADER`]).
    pub fn markdown_row(&self) -> String {
        format!(
            "| XRPL trust lines (`account_lines`, pinned ledger) | {} | {} ms | {} | {} | {:.2} s | {} | {} | **{:.3}** | {:.3} | ≥ {TARGET_RATIO} {} | {} | {} |",
            thousands(self.trust_lines as u64),
            self.latency.as_millis(),
            self.pages,
            self.requests,
            self.snapshot_wall.as_secs_f64(),
            thousands(self.holders_per_second.round() as u64),
            thousands(self.bound_holders_per_second.round() as u64),
            self.ratio,
            self.client_ratio,
            if self.meets_target() { "✅" } else { "❌" },
            if self.exact { "yes" } else { "NO" },
            self.sum_check,
        )
    }

    /// The header and the row: a complete markdown table.
    pub fn markdown(&self) -> String {
        format!("{}\n{}", Self::MARKDOWN_HEADER, self.markdown_row())
    }
}

impl fmt::Display for XrplBenchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "XRPL trust-line snapshot: {} lines, {} ms latency, {} pages of {LINES_PER_PAGE}",
            thousands(self.trust_lines as u64),
            self.latency.as_millis(),
            self.pages
        )?;
        writeln!(
            f,
            "  snapshot: {:.3} s for {} holders ({} requests) = {:.0} holders/s; bound {:.0}/s; \
             ratio {:.3} (target {TARGET_RATIO}: {})",
            self.snapshot_wall.as_secs_f64(),
            self.holders,
            self.requests,
            self.holders_per_second,
            self.bound_holders_per_second,
            self.ratio,
            if self.meets_target() { "met" } else { "MISSED" }
        )?;
        writeln!(
            f,
            "  bare HTTP client over the same pages: {:.3} s, ratio {:.3}",
            self.client_wall.as_secs_f64(),
            self.client_ratio
        )?;
        writeln!(
            f,
            "  per request beyond the latency: snapshot {:.2} ms, bare client {:.2} ms",
            self.snapshot_overhead_per_request().as_secs_f64() * 1e3,
            self.client_overhead_per_request().as_secs_f64() * 1e3
        )?;
        write!(
            f,
            "  exact: {}, sum check: {}, ledger set-up {:.2} s (not measured)",
            self.exact,
            self.sum_check,
            self.setup.as_secs_f64()
        )
    }
}

fn overhead_per_request(wall: Duration, requests: u64, latency: Duration) -> Duration {
    if requests == 0 {
        return Duration::ZERO;
    }
    let latency_total = latency.saturating_mul(requests.min(u64::from(u32::MAX)) as u32);
    wall.saturating_sub(latency_total) / requests.min(u64::from(u32::MAX)) as u32
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ledger whose issuer has `n` positive trust lines of `USD` and nothing else in its
/// directory. Amounts mix plain and exponent renderings (1e-30 .. 1e12), as on mainnet.
fn ledger_with_lines(n: usize) -> (XrplLedgerState, AccountId) {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let usd = Currency::new("USD").expect("USD is a currency");
    for i in 0..n as u64 {
        let holder = state.new_account();
        let digits = 1 + (i % 16) as u32;
        let low = 10u64.pow(digits - 1);
        let mantissa = low + (i.wrapping_mul(2_654_435_761) % (9 * low));
        let exponent = -((i % 43) as i32) + 12 - digits as i32;
        let amount = IouAmount::new(true, mantissa, exponent).expect("a valid IOU amount");
        state
            .insert_trust_line(TrustLine::new(issuer, holder, usd.clone(), amount))
            .expect("a new trust line");
    }
    (state, issuer)
}

/// Runs the benchmark: `trust_lines` holders, `latency` added to every simulator reply.
///
/// # Panics
/// When the simulator cannot start or the snapshot fails.
pub async fn run(trust_lines: usize, latency: Duration) -> XrplBenchResult {
    let started = Instant::now();
    let (state, issuer) = ledger_with_lines(trust_lines);
    let pinned = state.tip();
    let setup = started.elapsed();
    let config = SimulatorConfig {
        latency,
        ..SimulatorConfig::default()
    };
    let sim = XrplSimulator::start(config, state.into_shared())
        .await
        .expect("the XRPL simulator starts");
    // An upstream limit far above the ~1/latency requests per second a walk sends.
    let host = TestHost::new(&sim.address().to_string(), 1_000, 4).await;
    let spec = SnapshotSpec {
        token_id: format!("USD.{}", issuer.to_address()),
        endpoint: Some(sim.base_url()),
        ..SnapshotSpec::default()
    };

    let clock = Instant::now();
    let taken = host
        .snapshot("xrpl", &spec)
        .await
        .expect("the benchmark snapshot succeeds");
    let snapshot_wall = clock.elapsed();

    let requests = sim.stats().requests();
    let pages = sim
        .stats()
        .served_per_method()
        .get("account_lines")
        .copied()
        .unwrap_or(0);
    let document = &taken.document;
    let resolved: u32 = document.meta().resolved_at.parse().unwrap_or(0);
    let expected = sim
        .state()
        .read()
        .expect("state lock")
        .positive_holders_at(pinned, &issuer, "USD");
    let exact = resolved == pinned
        && document.holder_count() == expected.len()
        && document
            .holders()
            .all(|h| expected.get(h.account) == Some(&h.balance.to_string()));
    let sum_check = document
        .meta()
        .attributes
        .get("sum_check")
        .cloned()
        .unwrap_or_else(|| "none".into());
    let holders = document.holder_count();

    let client_wall = bare_client_walk(&sim.base_url(), &issuer, pinned).await;

    let bound = LINES_PER_PAGE as f64 / latency.as_secs_f64();
    let holders_per_second = holders as f64 / snapshot_wall.as_secs_f64();
    let client_rate = holders as f64 / client_wall.as_secs_f64();
    sim.shutdown().await;
    XrplBenchResult {
        trust_lines,
        latency,
        holders,
        exact,
        sum_check,
        pages,
        requests,
        snapshot_wall,
        holders_per_second,
        bound_holders_per_second: bound,
        ratio: holders_per_second / bound,
        client_wall,
        client_ratio: client_rate / bound,
        setup,
    }
}

/// Walks the issuer's `account_lines` at `ledger` with a bare HTTP client; the wall time.
async fn bare_client_walk(base_url: &str, issuer: &AccountId, ledger: u32) -> Duration {
    let client = reqwest::Client::new();
    let url = format!("{base_url}/");
    let clock = Instant::now();
    let mut marker: Option<Value> = None;
    loop {
        let mut params = json!({
            "account": issuer.to_address(),
            "ledger_index": ledger,
            "limit": LINES_PER_PAGE,
        });
        if let Some(m) = marker.take() {
            params["marker"] = m;
        }
        let body = json!({ "method": "account_lines", "params": [params] });
        let reply = client
            .post(&url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).expect("JSON"))
            .send()
            .await
            .expect("the simulator answers")
            .bytes()
            .await
            .expect("a body");
        let mut reply: Value = serde_json::from_slice(&reply).expect("a JSON reply");
        match reply["result"].get_mut("marker").map(Value::take) {
            Some(next) if !next.is_null() => marker = Some(next),
            _ => break,
        }
    }
    clock.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn generated_amounts_are_valid_and_positive() {
        let (state, issuer) = ledger_with_lines(500);
        let holders = state.positive_holders_at(state.tip(), &issuer, "USD");
        assert_eq!(holders.len(), 500);
    }
}
