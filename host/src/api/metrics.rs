//! `GET /metrics`: Prometheus text exposition.
//!
//! Counters live here (jobs by outcome, holders fetched); upstream and
//! plugin figures are read from the gateway and registry at scrape time, so
//! nothing is counted twice.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::jobs::events::{EventType, JobEvent};
use crate::net::HostStats;
use crate::registry::RegisteredPlugin;

/// Process-wide job counters, fed from the event bus.
#[derive(Debug, Default)]
pub struct Metrics {
    waiting: AtomicU64,
    active: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    holders: AtomicU64,
}

impl Metrics {
    /// Counts one job event.
    pub fn observe(&self, event: &JobEvent) {
        let counter = match event.kind {
            EventType::Waiting => &self.waiting,
            EventType::Active => &self.active,
            EventType::Completed => {
                if let Some(n) = event.payload["holderCount"].as_u64() {
                    self.holders.fetch_add(n, Ordering::Relaxed);
                }
                &self.completed
            }
            EventType::Failed => &self.failed,
            EventType::Progress => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, upstreams: &[HostStats], plugins: &[RegisteredPlugin]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP snapshot_jobs_total Job state transitions seen by this host.\n# TYPE snapshot_jobs_total counter"
        );
        for (state, c) in [
            ("waiting", &self.waiting),
            ("active", &self.active),
            ("completed", &self.completed),
            ("failed", &self.failed),
        ] {
            let _ = writeln!(
                out,
                "snapshot_jobs_total{{state=\"{state}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP snapshot_holders_fetched_total Holders in documents completed by this host.\n# TYPE snapshot_holders_fetched_total counter\nsnapshot_holders_fetched_total {}",
            self.holders.load(Ordering::Relaxed)
        );
        for (name, help, get) in [
            (
                "snapshot_upstream_requests_total",
                "Requests sent to an upstream (retries included).",
                (|s: &HostStats| s.requests_sent) as fn(&HostStats) -> u64,
            ),
            (
                "snapshot_upstream_rate_limited_total",
                "429 answers from an upstream.",
                |s: &HostStats| s.rate_limited,
            ),
            (
                "snapshot_upstream_retries_total",
                "Requests to an upstream that were retried.",
                |s: &HostStats| s.retries,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for s in upstreams {
                let _ = writeln!(
                    out,
                    "{name}{{host=\"{}\"}} {}",
                    escape(&s.authority),
                    get(s)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP snapshot_plugin_load_seconds Time to read, compile (or load from cache) and link a plugin.\n# TYPE snapshot_plugin_load_seconds gauge"
        );
        for p in plugins {
            let _ = writeln!(
                out,
                "snapshot_plugin_load_seconds{{plugin=\"{}\"}} {:.6}",
                escape(&p.plugin.id()),
                p.plugin.load_time.as_secs_f64()
            );
        }
        out
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
