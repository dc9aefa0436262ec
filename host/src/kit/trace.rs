//! `plugin test`'s trace: every call a plugin makes, one readable line each.
//!
//! [`TraceSink`] stands between the plugin and the job's [`CollectingSink`]:
//! it writes a line for each HTTP request (seen through
//! [`JobSink::http`], once the gateway is done with it), `emit`,
//! `checkpoint`, `progress` and `log`, then hands the call on unchanged.
//! Retries happen inside the gateway, which reports each one as a `debug`
//! event; [`RetryEvents`] turns those events into lines too, and the
//! request's own line then counts them.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use crate::jobs::CollectingSink;
use crate::net::NetError;
use crate::runtime::{HttpExchange, JobSink, LogLevel, SinkError};
use crate::snapshot::EmittedHolder;

/// The longest checkpoint or log text shown on one line.
const PREVIEW_CHARS: usize = 96;

/// Where trace lines go, and what they counted.
pub struct Trace {
    started: Instant,
    out: Mutex<Box<dyn Write + Send>>,
    /// Retries reported by the gateway and not yet claimed by the finished
    /// request, by `METHOD url`.
    pending_retries: Mutex<HashMap<String, u32>>,
    counts: Counts,
}

/// Totals over one run.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub failed_requests: AtomicU64,
    pub denied_requests: AtomicU64,
    pub retries: AtomicU64,
    pub emits: AtomicU64,
    pub entries: AtomicU64,
    pub checkpoints: AtomicU64,
    pub logs: AtomicU64,
}

impl Trace {
    /// A trace written to stderr.
    pub fn to_stderr() -> Arc<Trace> {
        Self::new(Box::new(std::io::stderr()))
    }

    /// A trace written to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Arc<Trace> {
        Arc::new(Trace {
            started: Instant::now(),
            out: Mutex::new(out),
            pending_retries: Mutex::new(HashMap::new()),
            counts: Counts::default(),
        })
    }

    /// Writes one line: seconds since the start, what happened, details.
    pub fn line(&self, what: &str, text: impl Display) {
        let secs = self.started.elapsed().as_secs_f64();
        let text = text.to_string().replace('\n', " | ");
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A closed stderr must not fail the run being traced.
        let _ = writeln!(out, "{secs:>8.3}s  {what:<10} {text}");
        let _ = out.flush();
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The events layer that reports the gateway's retries into this trace.
    pub fn retry_events(self: &Arc<Self>) -> RetryEvents {
        RetryEvents(self.clone())
    }

    fn http(&self, exchange: &HttpExchange<'_>) {
        let shown = shown_url(exchange.url);
        let method = exchange.method.to_ascii_uppercase();
        let retries = self
            .pending_retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&format!("{method} {shown}"))
            .unwrap_or(0);
        bump(&self.counts.requests);
        let ms = exchange.elapsed.as_secs_f64() * 1000.0;
        let retried = match retries {
            0 => String::new(),
            1 => ", after 1 retry".to_string(),
            n => format!(", after {n} retries"),
        };
        let outcome = match exchange.outcome {
            Ok((status, bytes)) => format!("{status}, {bytes} B, {ms:.0} ms{retried}"),
            Err(e) => {
                let kind = match e {
                    NetError::Denied(_) | NetError::InvalidRequest(_) | NetError::TooLarge(_) => {
                        bump(&self.counts.denied_requests);
                        "denied"
                    }
                    NetError::RateLimited { .. } => "rate limited",
                    NetError::Timeout(_) => "timed out",
                    NetError::Upstream(_) => "failed",
                };
                if kind != "denied" {
                    bump(&self.counts.failed_requests);
                }
                format!("{kind} after {ms:.0} ms{retried}: {e}")
            }
        };
        self.line("http", format_args!("{method} {shown} → {outcome}"));
    }

    fn retry(&self, method: &str, url: &str, attempt: &str, delay_ms: &str) {
        let method = method.to_ascii_uppercase();
        *self
            .pending_retries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(format!("{method} {url}"))
            .or_default() += 1;
        bump(&self.counts.retries);
        self.line(
            "retry",
            format_args!("{method} {url}: attempt {attempt} failed; next try in {delay_ms} ms"),
        );
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The URL as the gateway shows it in its events: normalised, password
/// removed.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// `text` cut to [`PREVIEW_CHARS`] characters.
fn preview(text: &str) -> String {
    let mut cut: String = text.chars().take(PREVIEW_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// A [`JobSink`] that writes every call to a [`Trace`] and hands it on to
/// the job's [`CollectingSink`].
pub struct TraceSink {
    trace: Arc<Trace>,
    inner: Arc<CollectingSink>,
}

impl TraceSink {
    pub fn new(trace: Arc<Trace>, inner: Arc<CollectingSink>) -> Self {
        TraceSink { trace, inner }
    }
}

#[async_trait]
impl JobSink for TraceSink {
    async fn emit(&self, holders: Vec<EmittedHolder>) -> Result<(), SinkError> {
        let n = holders.len();
        let result = self.inner.emit(holders).await;
        bump(&self.trace.counts.emits);
        match &result {
            Ok(()) => {
                let entries = self
                    .trace
                    .counts
                    .entries
                    .fetch_add(n as u64, Ordering::Relaxed)
                    + n as u64;
                self.trace.line(
                    "emit",
                    format_args!(
                        "{n} holders; {} accounts so far ({entries} entries emitted)",
                        self.inner.accounts()
                    ),
                );
            }
            Err(e) => self
                .trace
                .line("emit", format_args!("{n} holders refused: {e}")),
        }
        result
    }

    async fn checkpoint(&self, state: String) -> Result<(), SinkError> {
        bump(&self.trace.counts.checkpoints);
        self.trace.line(
            "checkpoint",
            format_args!("{} B: {}", state.len(), preview(&state)),
        );
        self.inner.checkpoint(state).await
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        let of = match total {
            Some(0) => " of 0".to_string(),
            Some(total) => format!(" of {total} ({:.0}%)", done as f64 * 100.0 / total as f64),
            None => " (total unknown)".to_string(),
        };
        self.trace.line("progress", format_args!("{done}{of}"));
        self.inner.progress(done, total);
    }

    fn log(&self, level: LogLevel, message: &str) {
        // The trace is this run's log: the line is not repeated through
        // `tracing`, where it would print twice.
        bump(&self.trace.counts.logs);
        let level = match level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        self.trace.line("log", format_args!("{level:<5} {message}"));
    }

    fn http(&self, exchange: &HttpExchange<'_>) {
        self.trace.http(exchange);
    }
}

/// A `tracing` layer that turns the gateway's "retrying upstream request"
/// events into trace lines. Install it with a `debug` filter on
/// `snapshot_host::net`.
pub struct RetryEvents(Arc<Trace>);

/// The message the gateway logs before each retry (`net/gateway.rs`).
const RETRY_MESSAGE: &str = "retrying upstream request";

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message == RETRY_MESSAGE {
            self.0.retry(
                &fields.method,
                &fields.url,
                &fields.attempt,
                &fields.delay_ms,
            );
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    method: String,
    url: String,
    attempt: String,
    delay_ms: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "message" => &mut self.message,
            "method" => &mut self.method,
            "url" => &mut self.url,
            "attempt" => &mut self.attempt,
            "delay_ms" => &mut self.delay_ms,
            _ => return,
        };
        *slot = value.to_string();
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_str(field, &value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_str(field, &value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_as_the_gateway_shows_them() {
        assert_eq!(
            shown_url("http://user:secret@127.0.0.1:5551/a?b=1"),
            "http://user@127.0.0.1:5551/a?b=1"
        );
        assert_eq!(shown_url("HTTP://Example.COM"), "http://example.com/");
        assert_eq!(shown_url("not a url"), "not a url");
    }

    #[test]
    fn previews_are_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
