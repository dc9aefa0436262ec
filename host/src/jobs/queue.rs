//! The snapshot job queue: apalis 1.0 over an embedded SQLite file (default)
//! or Redis (when `REDIS_HOST` is set, the original library's variables).
//!
//! Everything apalis-specific stays in this module: the rest of the host only
//! sees [`SnapshotJob`], [`QueueConfig`], [`JobQueue`], [`JobHandler`] and
//! [`JobFailure`].
//!
//! # Delivery, retries and recovery
//! - **At-least-once.** A job is locked by one worker while it runs. A worker
//!   that dies (process killed, machine lost) stops heart-beating; once its
//!   last heartbeat is older than [`QueueConfig::orphan_timeout`], the next
//!   heartbeat of *any other* live worker on the same queue puts its jobs
//!   back (apalis `reenqueue_orphaned`, run from every worker's heartbeat with
//!   `WorkerFilter::AllExcept(self)`). A restarted process gets a fresh worker
//!   id, so it recovers the jobs of its previous life the same way. The
//!   handler must therefore be idempotent (snapshots resume from checkpoints
//!   and de-duplicate holders).
//! - **Retries** run in-process: a [`JobFailure::Retryable`] is retried after
//!   an exponential backoff (`retry_backoff · 2^(n-1)`, capped at
//!   `retry_backoff_max`) until `max_retries` retries are spent; then, or at
//!   once for [`JobFailure::Permanent`], the job is finished as apalis
//!   `AbortError` (status `Killed`), which neither backend re-delivers.
//! - **Graceful shutdown** stops fetching, gives running jobs
//!   [`QueueConfig::shutdown_grace`] to finish (they can watch
//!   [`JobContext::is_stopping`] and checkpoint), then interrupts them: an
//!   interrupted job is acknowledged as a plain failure, which both backends
//!   re-deliver (SQLite: `Failed` rows with attempts left are fetched again at
//!   once; Redis: put on the scheduled set for `attempt` seconds).

use std::{
    fmt,
    future::Future,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use apalis::prelude::{
    AbortError, Attempt, BackendExt, BoxDynError, Data, TaskSink, WorkerBuilder, WorkerBuilderExt,
    WorkerError,
};
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The queue name used unless configured otherwise. Set explicitly: apalis
/// would otherwise name the queue after the Rust type path, which changes
/// whenever the type moves.
pub const DEFAULT_NAMESPACE: &str = "snapshot-host::snapshots";

/// One snapshot to take: the job payload, plain serde so any producer (and a
/// future version of this host) can read and write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotJob {
    /// Unique, time-ordered job id (a ULID).
    pub job_id: String,
    /// The wallet (client) that asked for the snapshot.
    pub wallet_id: String,
    /// Ledger-specific token id.
    pub token_id: String,
    /// Chain name, used to pick the plugin (e.g. `hedera`).
    pub chain: String,
    /// Network within the chain (e.g. `mainnet`); none = the plugin's default.
    pub network: Option<String>,
    /// Point in time to pin (ledger-specific text); none = latest.
    pub at: Option<String>,
    /// Only holders with at least this balance (exact decimal string).
    pub min_balance: Option<String>,
    /// When the job was submitted, milliseconds since the Unix epoch.
    pub submitted_at: u64,
}

impl SnapshotJob {
    /// A new job with a fresh id and `submitted_at` = now.
    pub fn new(
        wallet_id: impl Into<String>,
        token_id: impl Into<String>,
        chain: impl Into<String>,
    ) -> Self {
        let submitted_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        Self {
            job_id: ulid::Ulid::generate().to_string(),
            wallet_id: wallet_id.into(),
            token_id: token_id.into(),
            chain: chain.into(),
            network: None,
            at: None,
            min_balance: None,
            submitted_at,
        }
    }
}

/// How a job attempt failed, which decides whether it is tried again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    /// Transient (upstream down, rate limited): retried with backoff while
    /// retries are left.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Will fail the same way again (invalid token, denied, plugin trap):
    /// never retried.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// What a handler knows about the attempt it is running.
#[derive(Debug, Clone)]
pub struct JobContext {
    attempt: usize,
    worker_id: Arc<str>,
    host_id: Arc<str>,
    stopping: watch::Receiver<bool>,
}

impl JobContext {
    /// 1 for the first run of this delivery; crash recovery may start later
    /// (SQLite counts a re-enqueued orphan as an attempt).
    pub fn attempt(&self) -> usize {
        self.attempt
    }

    /// The id of the worker running the job.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The id of the host running the job ([`QueueConfig::host_id`]).
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// True once shutdown has begun: checkpoint and return soon, or be
    /// interrupted after the grace period (and re-delivered later).
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves when shutdown begins.
    pub async fn stopping(&self) {
        let mut rx = self.stopping.clone();
        // An error means the queue is gone: treat as stopping.
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Runs one job. Implemented for any `Fn(SnapshotJob, JobContext) -> Future`.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Take the snapshot described by `job`.
    async fn handle(&self, job: SnapshotJob, ctx: JobContext) -> Result<(), JobFailure>;
}

#[async_trait::async_trait]
impl<F, Fut> JobHandler for F
where
    F: Fn(SnapshotJob, JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobFailure>> + Send + 'static,
{
    async fn handle(&self, job: SnapshotJob, ctx: JobContext) -> Result<(), JobFailure> {
        self(job, ctx).await
    }
}

/// Where the queue lives.
#[derive(Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// An embedded SQLite database file (created if missing).
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
    },
    /// A Redis server, `redis://[user[:password]@]host:port/db`.
    Redis {
        /// Connection URL (may hold a password: never logged).
        url: String,
    },
}

impl fmt::Debug for QueueBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Self::Redis { url } => {
                let shown = match url::Url::parse(url) {
                    Ok(mut u) if u.password().is_some() => {
                        let _ = u.set_password(Some("***"));
                        u.to_string()
                    }
                    Ok(u) => u.to_string(),
                    Err(_) => "<unparsable url>".to_owned(),
                };
                f.debug_struct("Redis").field("url", &shown).finish()
            }
        }
    }
}

impl QueueBackend {
    /// A Redis URL from the parts the original library's variables give.
    pub fn redis_from_parts(
        host: &str,
        port: u16,
        username: Option<&str>,
        password: Option<&str>,
        database: u32,
    ) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(&format!("redis://{host}:{port}/{database}"))
            .map_err(|e| anyhow::anyhow!("REDIS_HOST {host:?} does not make a valid URL: {e}"))?;
        if let Some(user) = username.filter(|u| !u.is_empty()) {
            url.set_username(user)
                .map_err(|()| anyhow::anyhow!("REDIS_USERNAME cannot be used in a URL"))?;
        }
        if let Some(pass) = password.filter(|p| !p.is_empty()) {
            url.set_password(Some(pass))
                .map_err(|()| anyhow::anyhow!("REDIS_PASSWORD cannot be used in a URL"))?;
        }
        Ok(Self::Redis {
            url: url.to_string(),
        })
    }
}

/// Everything the queue needs; [`QueueConfig::from_env`] reads it.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// SQLite file or Redis server.
    pub backend: QueueBackend,
    /// Queue name (apalis `Config::queue`); jobs and workers are scoped to it.
    pub namespace: String,
    /// This process's worker id; must be unique among live workers.
    pub worker_id: String,
    /// The name jobs record as the host that ran them (`SNAPSHOT_HOST_ID`,
    /// else [`default_host_id`]). Unlike the worker id it may stay the same
    /// across restarts: it names the machine, not the process's life.
    pub host_id: String,
    /// Retries after the first failed attempt (`SNAPSHOT_MAX_RETRIES`).
    pub max_retries: usize,
    /// Jobs run at once by this worker (`SNAPSHOT_QUEUE_CONCURRENCY`).
    pub concurrency: usize,
    /// How often the worker proves it is alive (apalis `heartbeat_interval`;
    /// whole seconds: both backends store heartbeats in seconds).
    pub heartbeat_interval: Duration,
    /// A worker silent this long is dead and its jobs go back to the queue
    /// (apalis `heartbeat_interval × missed_heartbeats`). Pick-up happens on
    /// another worker's next heartbeat, so within `orphan_timeout +
    /// heartbeat_interval` (+1 s of timestamp rounding).
    pub orphan_timeout: Duration,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// First retry delay; doubles for each further retry.
    pub retry_backoff: Duration,
    /// Upper bound of the retry delay.
    pub retry_backoff_max: Duration,
    /// How long running jobs get to finish after shutdown begins.
    pub shutdown_grace: Duration,
}

impl QueueConfig {
    /// Defaults for everything but the backend.
    pub fn new(backend: QueueBackend) -> Self {
        Self {
            backend,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            worker_id: unique_worker_id(),
            host_id: default_host_id(),
            max_retries: 3,
            concurrency: 2,
            heartbeat_interval: Duration::from_secs(10),
            orphan_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            retry_backoff: Duration::from_secs(2),
            retry_backoff_max: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(20),
        }
    }

    /// Reads the process environment; see [`QueueConfig::from_lookup`].
    pub fn from_env(data_dir: &Path) -> anyhow::Result<Self> {
        Self::from_lookup(data_dir, |name| std::env::var(name).ok())
    }

    /// Builds the config from variables looked up by `get`:
    /// `REDIS_HOST` (set = Redis, else SQLite at `data_dir/queue.sqlite3`),
    /// `REDIS_PORT` (6379), `REDIS_USERNAME`, `REDIS_PASSWORD`,
    /// `REDIS_DATABASE` (0), `SNAPSHOT_MAX_RETRIES` (3),
    /// `SNAPSHOT_QUEUE_NAMESPACE` ([`DEFAULT_NAMESPACE`]),
    /// `SNAPSHOT_QUEUE_CONCURRENCY` (2), `SNAPSHOT_WORKER_ID` (generated),
    /// `SNAPSHOT_HOST_ID` (`hostname-pid`).
    pub fn from_lookup(
        data_dir: &Path,
        get: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let backend = match non_empty("REDIS_HOST") {
            Some(host) => {
                let port = parse_var(&non_empty, "REDIS_PORT", 6379u16)?;
                let database = parse_var(&non_empty, "REDIS_DATABASE", 0u32)?;
                QueueBackend::redis_from_parts(
                    host.trim(),
                    port,
                    non_empty("REDIS_USERNAME").as_deref(),
                    non_empty("REDIS_PASSWORD").as_deref(),
                    database,
                )?
            }
            None => QueueBackend::Sqlite {
                path: data_dir.join("queue.sqlite3"),
            },
        };
        let mut config = Self::new(backend);
        config.max_retries = parse_var(&non_empty, "SNAPSHOT_MAX_RETRIES", config.max_retries)?;
        config.concurrency =
            parse_var(&non_empty, "SNAPSHOT_QUEUE_CONCURRENCY", config.concurrency)?.max(1);
        if let Some(ns) = non_empty("SNAPSHOT_QUEUE_NAMESPACE") {
            config.namespace = ns;
        }
        if let Some(id) = non_empty("SNAPSHOT_WORKER_ID") {
            config.worker_id = id;
        }
        if let Some(id) = non_empty("SNAPSHOT_HOST_ID") {
            config.host_id = id.trim().to_owned();
        }
        // How fast a dead host's jobs are taken over: operators trade
        // heartbeat traffic against recovery time.
        let secs = |name: &str, default: Duration| -> anyhow::Result<Duration> {
            parse_var(&non_empty, name, default.as_secs()).map(Duration::from_secs)
        };
        config.heartbeat_interval =
            secs("SNAPSHOT_QUEUE_HEARTBEAT_SECS", config.heartbeat_interval)?;
        config.orphan_timeout = secs("SNAPSHOT_QUEUE_ORPHAN_TIMEOUT_SECS", config.orphan_timeout)?;
        Ok(config)
    }

    /// apalis counts missed heartbeats, we configure a timeout: round up.
    fn missed_heartbeats(&self) -> usize {
        let hb = self.heartbeat_secs().as_secs();
        self.orphan_timeout.as_secs().div_ceil(hb).max(2) as usize
    }

    fn heartbeat_secs(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval.as_secs().max(1))
    }

    fn backoff(&self, retry: usize) -> Duration {
        let factor = 1u32 << (retry.saturating_sub(1)).min(20);
        self.retry_backoff
            .saturating_mul(factor)
            .min(self.retry_backoff_max)
    }
}

fn parse_var<T: FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
    }
}

/// `snapshot-host-<pid>-<ulid>`: unique per process, even for two processes
/// with the same pid in different containers.
pub fn unique_worker_id() -> String {
    format!(
        "snapshot-host-{}-{}",
        std::process::id(),
        ulid::Ulid::generate().to_string().to_lowercase()
    )
}

/// `hostname-pid`: what a job records as its host when `SNAPSHOT_HOST_ID`
/// is not set (in a container the hostname is the container's id).
pub fn default_host_id() -> String {
    let mut name = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes and we read up to the first NUL only.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let len = name.iter().position(|b| *b == 0).unwrap_or(name.len());
    let host = match std::str::from_utf8(&name[..len]) {
        Ok(h) if ok && !h.is_empty() => h.to_owned(),
        _ => "snapshot-host".to_owned(),
    };
    format!("{host}-{}", std::process::id())
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend could not be reached or set up.
    #[error("queue backend unavailable: {0}")]
    Connect(String),
    /// A job could not be stored.
    #[error("could not enqueue job: {0}")]
    Push(String),
    /// The backend did not answer a health check.
    #[error("queue backend not ready: {0}")]
    Ping(String),
    /// The worker stopped on a backend error.
    #[error("queue worker failed: {0}")]
    Worker(String),
}

#[derive(Clone)]
enum Conn {
    Sqlite(SqlitePool),
    Redis(ConnectionManager),
}

/// A connected queue: push jobs, check health, run a worker.
#[derive(Clone)]
pub struct JobQueue {
    config: Arc<QueueConfig>,
    conn: Conn,
}

impl fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobQueue")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JobQueue {
    /// Connects (SQLite: creates the file and tables if missing).
    pub async fn connect(config: QueueConfig) -> Result<Self, QueueError> {
        let conn = match &config.backend {
            QueueBackend::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        QueueError::Connect(format!("creating {}: {e}", dir.display()))
                    })?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // Several workers (processes) share one file: wait for
                    // the write lock rather than fail.
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(|e| QueueError::Connect(format!("{}: {e}", path.display())))?;
                SqliteStorage::setup(&pool)
                    .await
                    .map_err(|e| QueueError::Connect(format!("migrating queue tables: {e}")))?;
                Conn::Sqlite(pool)
            }
            QueueBackend::Redis { url } => {
                let conn = apalis_redis::connect(url.as_str())
                    .await
                    .map_err(|e| QueueError::Connect(format!("redis: {e}")))?;
                Conn::Redis(conn)
            }
        };
        Ok(Self {
            config: Arc::new(config),
            conn,
        })
    }

    /// The configuration this queue was connected with.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    fn sqlite_config(&self) -> apalis_sqlite::Config {
        apalis_sqlite::Config::default()
            .queue(&self.config.namespace)
            .batch_size(1)
            .heartbeat_interval(self.config.heartbeat_secs())
            .missed_heartbeats(self.config.missed_heartbeats())
    }

    fn redis_config(&self) -> apalis_redis::Config {
        apalis_redis::Config::default()
            .queue(&self.config.namespace)
            .batch_size(1)
            .heartbeat_interval(self.config.heartbeat_secs())
            .missed_heartbeats(self.config.missed_heartbeats())
    }

    /// Stores a job for any worker on this queue.
    pub async fn push(&self, job: SnapshotJob) -> Result<(), QueueError> {
        match &self.conn {
            Conn::Sqlite(pool) => {
                let mut storage =
                    SqliteStorage::<SnapshotJob>::new(pool).with_config(self.sqlite_config());
                storage
                    .push(job)
                    .await
                    .map_err(|e| QueueError::Push(e.to_string()))
            }
            Conn::Redis(conn) => {
                let mut storage =
                    RedisStorage::<SnapshotJob>::new(conn.clone()).with_config(self.redis_config());
                storage
                    .push(job)
                    .await
                    .map_err(|e| QueueError::Push(e.to_string()))
            }
        }
    }

    /// A cheap round trip to the backend, for `/readyz`.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match &self.conn {
            Conn::Sqlite(pool) => sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|e| QueueError::Ping(e.to_string())),
            Conn::Redis(conn) => {
                let mut conn = conn.clone();
                let reply: String = redis::cmd("PING")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| QueueError::Ping(e.to_string()))?;
                if reply == "PONG" {
                    Ok(())
                } else {
                    Err(QueueError::Ping(format!("unexpected PING reply {reply:?}")))
                }
            }
        }
    }

    /// Runs a worker until `shutdown` resolves (then stops gracefully, see the
    /// module docs). A worker that stops on its own, because its backend
    /// failed (apalis ends a worker whose poll fails, e.g. while Redis
    /// restarts), is replaced after a backoff by one with a new id: the jobs
    /// the old one held are then orphans, which the new one puts back once
    /// the orphan timeout has passed, as for a restarted process.
    pub async fn run_worker(
        &self,
        handler: Arc<dyn JobHandler>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let (down_tx, down_rx) = watch::channel(false);
        let watcher = tokio::spawn(async move {
            shutdown.await;
            let _ = down_tx.send(true);
        });
        let mut backoff = WORKER_RESTART_MIN;
        let mut generation = 0u32;
        let result = loop {
            let worker_id = if generation == 0 {
                self.config.worker_id.clone()
            } else {
                format!("{}-r{generation}", self.config.worker_id)
            };
            let started = tokio::time::Instant::now();
            let result = self
                .run_worker_once(handler.clone(), worker_id.clone(), down_rx.clone())
                .await;
            if *down_rx.borrow() {
                break result;
            }
            if started.elapsed() > WORKER_RESTART_MAX {
                // It had been running well: a new failure starts the backoff over.
                backoff = WORKER_RESTART_MIN;
            }
            let why = match &result {
                Ok(()) => "it stopped".to_string(),
                Err(e) => e.to_string(),
            };
            tracing::error!(
                worker_id,
                "queue worker ended: {why}; a new one starts in {backoff:?}"
            );
            let mut down = down_rx.clone();
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = down.wait_for(|d| *d) => break Ok(()),
            }
            backoff = (backoff * 2).min(WORKER_RESTART_MAX);
            generation += 1;
        };
        watcher.abort();
        result
    }

    /// One worker named `name`, until `down` turns true (then gracefully)
    /// or the worker ends on its own.
    async fn run_worker_once(
        &self,
        handler: Arc<dyn JobHandler>,
        name: String,
        mut down: watch::Receiver<bool>,
    ) -> Result<(), QueueError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let state = WorkerState {
            handler,
            config: self.config.clone(),
            worker_id: Arc::from(name.as_str()),
            host_id: Arc::from(self.config.host_id.as_str()),
            stopping: stop_rx,
        };
        let signal = async move {
            let _ = down.wait_for(|d| *d).await;
            tracing::info!("queue worker stopping: no new jobs; running ones get the grace period");
            let _ = stop_tx.send(true);
            Ok::<(), WorkerError>(())
        };
        let poll = self.config.poll_interval;
        let concurrency = self.config.concurrency.max(1);
        let result = match &self.conn {
            Conn::Sqlite(pool) => {
                let backend = SqliteStorage::<SnapshotJob>::new(pool)
                    .with_config(self.sqlite_config())
                    .poll_with_interval(poll);
                WorkerBuilder::new(name)
                    .backend(backend)
                    .data(state)
                    .concurrency(concurrency)
                    .build(run_job)
                    .run_until(signal)
                    .await
            }
            Conn::Redis(conn) => {
                let backend = RedisStorage::<SnapshotJob>::new(conn.clone())
                    .with_config(self.redis_config())
                    .poll_with_interval(poll);
                WorkerBuilder::new(name)
                    .backend(backend)
                    .data(state)
                    .concurrency(concurrency)
                    .build(run_job)
                    .run_until(signal)
                    .await
            }
        };
        result.map_err(|e| QueueError::Worker(e.to_string()))
    }
}

/// First wait before a worker that ended on its own is replaced; doubled
/// after each replacement, up to [`WORKER_RESTART_MAX`].
const WORKER_RESTART_MIN: Duration = Duration::from_millis(500);
const WORKER_RESTART_MAX: Duration = Duration::from_secs(30);

/// Shared by every job run of one worker.
#[derive(Clone)]
struct WorkerState {
    handler: Arc<dyn JobHandler>,
    config: Arc<QueueConfig>,
    worker_id: Arc<str>,
    host_id: Arc<str>,
    stopping: watch::Receiver<bool>,
}

/// The job was interrupted by shutdown; not an `AbortError`, so the backend
/// delivers it again.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by worker shutdown; will be delivered again")]
struct Interrupted;

/// Resolves `grace` after shutdown begins.
async fn stopped_after_grace(mut stopping: watch::Receiver<bool>, grace: Duration) {
    if stopping.wait_for(|s| *s).await.is_err() {
        // The worker is gone; nothing will ever stop us but the runtime.
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(grace).await;
}

/// The apalis task function: runs the handler with in-process retries.
async fn run_job(
    job: SnapshotJob,
    delivery: Attempt,
    state: Data<WorkerState>,
) -> Result<(), BoxDynError> {
    let config = &state.config;
    // apalis counts deliveries (SQLite also counts an orphan re-enqueue);
    // our own retries continue that count.
    let first = delivery.current().max(1);
    let interrupt = stopped_after_grace(state.stopping.clone(), config.shutdown_grace);
    tokio::pin!(interrupt);
    let mut attempt = first;
    loop {
        let ctx = JobContext {
            attempt,
            worker_id: state.worker_id.clone(),
            host_id: state.host_id.clone(),
            stopping: state.stopping.clone(),
        };
        let outcome = tokio::select! {
            r = state.handler.handle(job.clone(), ctx) => r,
            () = &mut interrupt => {
                tracing::warn!(job_id = %job.job_id, attempt, "job interrupted by shutdown");
                return Err(Interrupted.into());
            }
        };
        let message = match outcome {
            Ok(()) => return Ok(()),
            Err(JobFailure::Permanent(m)) => {
                tracing::warn!(job_id = %job.job_id, attempt, "job failed permanently: {m}");
                return Err(AbortError::new(JobFailure::Permanent(m)).into());
            }
            Err(JobFailure::Retryable(m)) => m,
        };
        let retries_done = attempt - 1;
        if retries_done >= config.max_retries {
            tracing::warn!(job_id = %job.job_id, attempt, "job failed, no retries left: {message}");
            return Err(AbortError::new(JobFailure::Retryable(message)).into());
        }
        let delay = config.backoff(retries_done + 1);
        tracing::info!(job_id = %job.job_id, attempt, ?delay, "job failed, retrying: {message}");
        if *state.stopping.borrow() {
            // Do not start a retry during shutdown: let the backend keep it.
            return Err(Interrupted.into());
        }
        let mut stopping = state.stopping.clone();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping.wait_for(|s| *s) => return Err(Interrupted.into()),
        }
        attempt += 1;
    }
}
