//! Pieces every simulator needs the same way: a token-bucket rate limiter, a requests-per-second
//! peak counter, an axum server running in the background with a graceful stop, and seeded
//! random upstream faults (see [`FaultPlan`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::faults::{FaultPlan, FaultStats};

/// A token bucket: `rate` tokens per second, at most `burst` stored. A request takes one token
/// or is refused. Chosen over a fixed one-second window because it cannot be gamed by bunching
/// requests at a window edge, which is how real gateways behave.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            refilled_at: Instant::now(),
        }
    }

    /// `burst` when the caller gives none: rate/10 (at least 1), i.e. only short bursts.
    pub fn default_burst(rate: f64) -> f64 {
        (rate / 10.0).max(1.0)
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Share of the bucket still available (0.0 = empty, 1.0 = full), after refilling. Lets a
    /// server warn *before* it starts refusing, like rippled's `"warning": "load"`.
    pub fn fill_ratio(&mut self) -> f64 {
        self.refill();
        if self.burst <= 0.0 {
            0.0
        } else {
            self.tokens / self.burst
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled_at = now;
    }
}

/// Most requests seen within one wall-clock second, for the `peak_per_second` counters.
#[derive(Debug, Default)]
pub struct PeakRate {
    peak: AtomicU64,
    /// (second since start, requests in it).
    current: Mutex<(u64, u64)>,
}

impl PeakRate {
    /// Counts one request in `second` (seconds since the simulator started).
    pub fn record(&self, second: u64) {
        let mut current = self.current.lock().expect("peak lock poisoned");
        if current.0 == second {
            current.1 += 1;
        } else {
            *current = (second, 1);
        }
        self.peak.fetch_max(current.1, Ordering::Relaxed);
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

/// An axum app served on a background task, plus helper tasks (timers) that die with it.
pub struct BackgroundServer {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds 127.0.0.1:`port` (0 = any free port) and serves `app` until stopped. Must be called
    /// within a tokio runtime. `name` only labels the log line of a server error.
    pub async fn start(port: u16, app: Router, name: &'static str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = result {
                tracing::warn!(%error, "{name} simulator stopped with an error");
            }
        });
        Ok(Self {
            address,
            stop: Some(stop),
            server: Some(server),
            tasks: Vec::new(),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Ties a helper task (e.g. a timer) to the server's lifetime: it is aborted on stop.
    pub fn attach(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// Stops accepting requests and waits for in-flight ones to finish.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    fn signal_stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        // Graceful stop without waiting (Drop cannot await); the server task ends on its own.
        self.signal_stop();
    }
}

/// A started simulator: its server, its live state and its counters.
/// Dropping it stops the server.
pub struct RunningSimulator<State, Stats> {
    state: State,
    stats: Arc<Stats>,
    faults: Arc<FaultStats>,
    server: BackgroundServer,
}

impl<State, Stats> RunningSimulator<State, Stats> {
    pub(crate) fn new(
        state: State,
        stats: Arc<Stats>,
        faults: Arc<FaultStats>,
        server: BackgroundServer,
    ) -> Self {
        RunningSimulator {
            state,
            stats,
            faults,
            server,
        }
    }

    /// Counts of the random faults injected by the simulator's [`FaultPlan`] (all zero without
    /// one).
    pub fn fault_stats(&self) -> &Arc<FaultStats> {
        &self.faults
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The live state; lock it to read or mutate while the server runs.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Stops accepting requests and waits for in-flight ones to finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
