//! What one plugin call's `Store` holds: a WASI context that grants nothing,
//! the resource limits, and the job's imports context.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::net::{EgressPolicy, HttpGateway, HttpResponse, NetError};
use crate::runtime::cpu::CpuMeter;
use crate::runtime::sink::{JobSink, LogLevel};

/// Everything the host imports need during one call.
#[derive(Clone)]
pub struct JobContext {
    /// `name@version`, prefixed to every log line and error.
    pub plugin_id: String,
    pub gateway: Arc<HttpGateway>,
    pub egress: Arc<EgressPolicy>,
    pub sink: Arc<dyn JobSink>,
    /// The largest `emit` batch accepted (a bigger one is a trap).
    pub max_emit_batch: usize,
}

/// The data of one plugin `Store`.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub job: JobContext,
    memory_cap: usize,
    /// Set when a sandbox limit stops the guest: the reason the job error
    /// gives instead of a bare trap.
    pub(crate) limit_hit: Option<String>,
    /// CPU this call has used (see [`CpuMeter`]) and may use.
    pub(crate) cpu: Arc<CpuMeter>,
    pub(crate) cpu_budget: Duration,
    stderr_tail: StderrTail,
    /// Requests started with `http.start`, collected by `http.wait-any`.
    /// Dropped (and so aborted) with the store when the call ends.
    pub(crate) in_flight: InFlight,
}

/// Requests a plugin started and has not collected yet.
#[derive(Default)]
pub(crate) struct InFlight {
    pub tasks: tokio::task::JoinSet<(u64, Result<HttpResponse, NetError>)>,
    pub next_handle: u64,
}

/// The last few stderr lines of the guest.
type StderrTail = Arc<Mutex<VecDeque<String>>>;
const STDERR_TAIL_LINES: usize = 4;

impl PluginState {
    pub fn new(
        job: JobContext,
        memory_cap: usize,
        cpu: Arc<CpuMeter>,
        cpu_budget: Duration,
    ) -> Self {
        let stdout = GuestOutput {
            sink: job.sink.clone(),
            level: LogLevel::Info,
            tail: None,
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = GuestOutput {
            sink: job.sink.clone(),
            level: LogLevel::Warn,
            tail: Some(stderr_tail.clone()),
        };
        // Nothing is inherited: no args, no environment, no preopened
        // directories. Sockets are refused by the address check and name
        // lookups are off. Clocks and randomness stay (harmless).
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(stdout)
            .stderr(stderr)
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        PluginState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            job,
            memory_cap,
            limit_hit: None,
            cpu,
            cpu_budget,
            stderr_tail,
            in_flight: InFlight::default(),
        }
    }

    /// The last lines the guest wrote to stderr (a Rust panic message lands
    /// there), joined, for the job's error.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join(" | ")
    }

    /// Records that a sandbox limit stopped the guest, and the trap to
    /// raise for it.
    pub(crate) fn limit(&mut self, reason: String) -> wasmtime::Error {
        let err = wasmtime::format_err!("{reason}");
        self.limit_hit = Some(reason);
        err
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for PluginState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            return Err(self.limit(format!(
                "memory limit of {} MiB exceeded (the plugin asked for {desired} bytes)",
                self.memory_cap >> 20
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any
        // honest plugin and bounds host memory.
        Ok(desired <= 1_000_000)
    }
}

/// Guest stdout/stderr, forwarded line by line to the job log.
struct GuestOutput {
    sink: Arc<dyn JobSink>,
    level: LogLevel,
    tail: Option<StderrTail>,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            sink: self.sink.clone(),
            level: self.level,
            tail: self.tail.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineWriter {
    sink: Arc<dyn JobSink>,
    level: LogLevel,
    tail: Option<StderrTail>,
    buf: Vec<u8>,
}

impl LineWriter {
    /// Longest line kept; the rest is cut so a chatty guest cannot grow host
    /// memory without bound.
    const MAX_LINE: usize = 8 * 1024;

    fn flush_lines(&mut self, all: bool) {
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            self.line(&line);
        }
        if (all && !self.buf.is_empty()) || self.buf.len() > Self::MAX_LINE {
            let line = std::mem::take(&mut self.buf);
            self.line(&line[..line.len().min(Self::MAX_LINE)]);
        }
    }

    fn line(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        self.sink.log(self.level, text);
        if let Some(tail) = &self.tail {
            let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text.to_string());
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.flush_lines(false);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_lines(true);
    }
}
