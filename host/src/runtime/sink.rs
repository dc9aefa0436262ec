//! Where a running plugin's results go: the CLI collects them in memory, the
//! service persists them. The runtime only knows this trait.

use std::time::Duration;

use async_trait::async_trait;

use crate::net::NetError;
use crate::snapshot::EmittedHolder;

/// Severity of a plugin log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Why an `emit` was refused.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The job was cancelled; the plugin sees `plugin-error::cancelled`.
    #[error("job cancelled")]
    Cancelled,
    /// An entry is malformed (bad balance, conflicting re-emission, ...).
    #[error("{0}")]
    Invalid(String),
    /// Storing the batch failed on the host side.
    #[error("storing holders failed: {0}")]
    Storage(String),
}

/// The receiving end of one job's `emit`, `checkpoint`, `progress` and `log`.
#[async_trait]
pub trait JobSink: Send + Sync {
    /// Takes a batch of holders. Durable sinks store it before returning.
    async fn emit(&self, holders: Vec<EmittedHolder>) -> Result<(), SinkError>;
    /// Records the plugin's resumable state, after every earlier `emit`.
    async fn checkpoint(&self, state: String) -> Result<(), SinkError>;
    /// Progress in the plugin's units.
    fn progress(&self, done: u64, total: Option<u64>);
    /// A line from the plugin (its `log` import, stdout or stderr).
    fn log(&self, level: LogLevel, message: &str);
    /// One HTTP request of the plugin, once the gateway is done with it
    /// (retries included). Only observers such as `plugin test`'s trace
    /// care; the default ignores it.
    fn http(&self, _exchange: &HttpExchange<'_>) {}
}

/// One HTTP request of a plugin as the gateway finished it.
#[derive(Debug)]
pub struct HttpExchange<'a> {
    /// The method as the plugin wrote it.
    pub method: &'a str,
    /// The URL as the plugin wrote it.
    pub url: &'a str,
    /// The status and body size handed to the plugin, or why no response
    /// reached it (denied, timed out, rate limited ... after retries).
    pub outcome: Result<(u16, usize), &'a NetError>,
    /// From the call to the answer: rate-limit waits and retries included.
    pub elapsed: Duration,
}
