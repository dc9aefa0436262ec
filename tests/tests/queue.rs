//! The job queue against both real backends: an SQLite file in a temporary
//! directory and a real `redis-server` on a loopback port.
//!
//! Synchronisation is by channels with timeouts; the only fixed waits are the
//! short "nothing more happens" windows after a job's final outcome.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapshot_host::jobs::queue::{
    DEFAULT_NAMESPACE, JobContext, JobFailure, JobQueue, QueueBackend, QueueConfig, SnapshotJob,
};
use snapshot_tests::redis::RedisServer;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// Heartbeat and orphan timeout used by these tests (whole seconds: both
/// backends keep heartbeats in seconds).
const HEARTBEAT: Duration = Duration::from_secs(1);
const ORPHAN: Duration = Duration::from_secs(3);
/// Generous bound for anything that should happen "soon".
const SOON: Duration = Duration::from_secs(10);

/// One backend under test; keeps its temporary dir / server alive.
enum Fixture {
    Sqlite(tempfile::TempDir),
    Redis(RedisServer),
}

impl Fixture {
    fn sqlite() -> Self {
        Fixture::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    fn redis() -> Self {
        Fixture::Redis(RedisServer::start())
    }

    fn backend(&self) -> QueueBackend {
        match self {
            Fixture::Sqlite(dir) => QueueBackend::Sqlite {
                path: dir.path().join("queue.sqlite3"),
            },
            Fixture::Redis(server) => QueueBackend::Redis { url: server.url() },
        }
    }

    /// The backend as the `queue-worker` binary takes it.
    fn backend_arg(&self) -> String {
        match self {
            Fixture::Sqlite(dir) => {
                format!("sqlite:{}", dir.path().join("queue.sqlite3").display())
            }
            Fixture::Redis(server) => server.url(),
        }
    }

    /// Fast test timings; a unique namespace per test.
    fn config(&self, namespace: &str) -> QueueConfig {
        let mut config = QueueConfig::new(self.backend());
        config.namespace = format!("test::{namespace}");
        config.concurrency = 1;
        config.max_retries = 2;
        config.heartbeat_interval = HEARTBEAT;
        config.orphan_timeout = ORPHAN;
        config.poll_interval = Duration::from_millis(50);
        config.retry_backoff = Duration::from_millis(20);
        config.retry_backoff_max = Duration::from_millis(100);
        config.shutdown_grace = Duration::from_millis(200);
        config
    }
}

/// A running worker: stops (gracefully) when dropped or on [`Worker::stop`].
struct Worker {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), snapshot_host::jobs::queue::QueueError>>,
}

impl Worker {
    fn spawn<H>(queue: &JobQueue, handler: H) -> Worker
    where
        H: snapshot_host::jobs::queue::JobHandler,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let queue = queue.clone();
        let task = tokio::spawn(async move {
            queue
                .run_worker(Arc::new(handler), async move {
                    let _ = stopped.await;
                })
                .await
        });
        Worker {
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let res = timeout(SOON, &mut self.task)
            .await
            .expect("worker stops within the grace period");
        res.expect("worker task").expect("worker ends cleanly");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn job(token: &str) -> SnapshotJob {
    let mut job = SnapshotJob::new("wallet-1", token, "hedera");
    job.network = Some("testnet".into());
    job.at = Some("1700000000.000000000".into());
    job.min_balance = Some("0.5".into());
    job
}

/// Every call of the handler, as (job, attempt, worker id).
type Calls = mpsc::UnboundedReceiver<(SnapshotJob, usize, String)>;

/// A handler that reports each call and answers with `outcome(attempt)`.
fn recording(
    outcome: impl Fn(usize) -> Result<(), JobFailure> + Send + Sync + 'static,
) -> (impl snapshot_host::jobs::queue::JobHandler, Calls) {
    let (tx, rx) = mpsc::unbounded_channel();
    let outcome = Arc::new(outcome);
    let handler = move |job: SnapshotJob, ctx: JobContext| {
        let tx = tx.clone();
        let outcome = outcome.clone();
        async move {
            let _ = tx.send((job, ctx.attempt(), ctx.worker_id().to_owned()));
            outcome(ctx.attempt())
        }
    };
    (handler, rx)
}

async fn next_call(calls: &mut Calls) -> (SnapshotJob, usize, String) {
    timeout(SOON, calls.recv())
        .await
        .expect("handler called in time")
        .expect("channel open")
}

async fn assert_no_call(calls: &mut Calls, window: Duration) {
    if let Ok(Some((job, attempt, _))) = timeout(window, calls.recv()).await {
        panic!("unexpected extra run of {} (attempt {attempt})", job.job_id);
    }
}

async fn push_runs_the_handler_with_the_payload(fixture: Fixture) {
    let queue = JobQueue::connect(fixture.config("payload")).await.unwrap();
    queue.ping().await.expect("backend answers ping");
    let (handler, mut calls) = recording(|_| Ok(()));
    let worker = Worker::spawn(&queue, handler);
    let sent = job("0.0.1234");
    queue.push(sent.clone()).await.unwrap();
    let (got, attempt, worker_id) = next_call(&mut calls).await;
    assert_eq!(got, sent);
    assert_eq!(attempt, 1);
    assert_eq!(worker_id, queue.config().worker_id);
    assert_no_call(&mut calls, Duration::from_millis(1500)).await;
    worker.stop().await;
}

async fn retryable_failure_is_retried_up_to_the_maximum_then_fails(fixture: Fixture) {
    let queue = JobQueue::connect(fixture.config("retry")).await.unwrap();
    let max = queue.config().max_retries;
    let (handler, mut calls) = recording(|_| Err(JobFailure::Retryable("upstream 503".into())));
    let worker = Worker::spawn(&queue, handler);
    let sent = job("0.0.1");
    queue.push(sent.clone()).await.unwrap();
    for expected in 1..=max + 1 {
        let (got, attempt, _) = next_call(&mut calls).await;
        assert_eq!(got.job_id, sent.job_id);
        assert_eq!(attempt, expected);
    }
    // A re-delivery would come within ~1 s on SQLite and `attempt` s on Redis.
    assert_no_call(&mut calls, Duration::from_secs(max as u64 + 2)).await;
    worker.stop().await;
}

async fn permanent_failure_is_not_retried(fixture: Fixture) {
    let queue = JobQueue::connect(fixture.config("permanent"))
        .await
        .unwrap();
    let (handler, mut calls) = recording(|_| Err(JobFailure::Permanent("no such token".into())));
    let worker = Worker::spawn(&queue, handler);
    queue.push(job("0.0.404")).await.unwrap();
    let (_, attempt, _) = next_call(&mut calls).await;
    assert_eq!(attempt, 1);
    assert_no_call(&mut calls, Duration::from_secs(2)).await;
    worker.stop().await;
}

async fn two_workers_share_jobs_without_running_one_twice(fixture: Fixture) {
    const JOBS: usize = 16;
    let config = fixture.config("shared");
    let queue_a = JobQueue::connect(config.clone()).await.unwrap();
    let mut config_b = config;
    config_b.worker_id = snapshot_host::jobs::queue::unique_worker_id();
    let queue_b = JobQueue::connect(config_b).await.unwrap();
    assert_ne!(queue_a.config().worker_id, queue_b.config().worker_id);

    let (tx, mut calls) = mpsc::unbounded_channel::<(String, String)>();
    let make = |tx: mpsc::UnboundedSender<(String, String)>| {
        move |job: SnapshotJob, ctx: JobContext| {
            let tx = tx.clone();
            async move {
                // Some work, so that both workers get a share.
                tokio::time::sleep(Duration::from_millis(40)).await;
                let _ = tx.send((job.job_id, ctx.worker_id().to_owned()));
                Ok(())
            }
        }
    };
    let a = Worker::spawn(&queue_a, make(tx.clone()));
    let b = Worker::spawn(&queue_b, make(tx));
    let mut pushed = HashSet::new();
    for i in 0..JOBS {
        let j = job(&format!("0.0.{i}"));
        pushed.insert(j.job_id.clone());
        queue_a.push(j).await.unwrap();
    }
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    let mut total = 0;
    while runs.len() < JOBS {
        let (job_id, worker) = timeout(SOON, calls.recv())
            .await
            .expect("all jobs run")
            .unwrap();
        runs.entry(job_id).or_default().push(worker);
        total += 1;
    }
    if let Ok(Some((job_id, _))) = timeout(Duration::from_millis(1500), calls.recv()).await {
        panic!("{job_id} ran twice");
    }
    assert_eq!(total, JOBS, "every job exactly once: {runs:?}");
    assert_eq!(runs.keys().cloned().collect::<HashSet<_>>(), pushed);
    let per_worker: HashSet<&String> = runs.values().flatten().collect();
    assert_eq!(per_worker.len(), 2, "both workers took jobs: {runs:?}");
    a.stop().await;
    b.stop().await;
}

/// Starts the `queue-worker` binary and waits until its handler has started
/// `job_id` (and is now stuck in it).
fn start_stuck_worker(fixture: &Fixture, namespace: &str, job_id: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_queue-worker"))
        .arg(fixture.backend_arg())
        .arg(namespace)
        .arg(HEARTBEAT.as_secs().to_string())
        .arg(ORPHAN.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("queue-worker binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("STARTED ") {
                let _ = tx.send(id.to_owned());
            }
        }
    });
    let started = rx.recv_timeout(SOON).expect("child worker started the job");
    assert_eq!(started, job_id);
    child
}

async fn job_orphaned_by_a_crash_is_picked_up_by_a_new_worker(fixture: Fixture) {
    let config = fixture.config("orphan");
    let namespace = config.namespace.clone();
    let queue = JobQueue::connect(config).await.unwrap();
    let sent = job("0.0.777");
    queue.push(sent.clone()).await.unwrap();

    let mut child = start_stuck_worker(&fixture, &namespace, &sent.job_id);
    // SIGKILL: no shutdown code runs, the job stays locked by the dead worker.
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = std::time::Instant::now();

    let (handler, mut calls) = recording(|_| Ok(()));
    let worker = Worker::spawn(&queue, handler);
    // Dead after ORPHAN; noticed on our next heartbeat; +1 s rounding.
    let bound = ORPHAN + HEARTBEAT * 2 + Duration::from_secs(2);
    let (got, _, worker_id) = timeout(bound, calls.recv())
        .await
        .expect("orphaned job picked up within the orphan timeout")
        .unwrap();
    assert_eq!(got.job_id, sent.job_id);
    assert_eq!(worker_id, queue.config().worker_id);
    assert!(
        killed_at.elapsed() >= Duration::from_secs(1),
        "not before the worker is dead"
    );
    assert_no_call(&mut calls, Duration::from_secs(1)).await;
    worker.stop().await;
}

async fn job_interrupted_by_shutdown_runs_again_on_the_next_start(fixture: Fixture) {
    let config = fixture.config("shutdown");
    let queue = JobQueue::connect(config.clone()).await.unwrap();
    let sent = job("0.0.999");
    queue.push(sent.clone()).await.unwrap();

    // First life: the handler sees the stop request but never finishes.
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let saw_stopping = Arc::new(Mutex::new(false));
    let flag = saw_stopping.clone();
    let stuck = move |job: SnapshotJob, ctx: JobContext| {
        let seen_tx = seen_tx.clone();
        let flag = flag.clone();
        async move {
            let _ = seen_tx.send(job.job_id);
            ctx.stopping().await;
            *flag.lock().unwrap() = true;
            std::future::pending::<Result<(), JobFailure>>().await
        }
    };
    let first = Worker::spawn(&queue, stuck);
    let started = timeout(SOON, seen.recv()).await.unwrap().unwrap();
    assert_eq!(started, sent.job_id);
    first.stop().await;
    assert!(*saw_stopping.lock().unwrap(), "handler was told to stop");

    // Next start (a new process would have a new worker id).
    let mut config = config;
    config.worker_id = snapshot_host::jobs::queue::unique_worker_id();
    let queue = JobQueue::connect(config).await.unwrap();
    let (handler, mut calls) = recording(|_| Ok(()));
    let second = Worker::spawn(&queue, handler);
    let (got, _, _) = next_call(&mut calls).await;
    assert_eq!(got.job_id, sent.job_id);
    second.stop().await;
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Fixture::sqlite()).await;
                }
            )*
        }
        mod redis {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Fixture::redis()).await;
                }
            )*
        }
    };
}

both_backends!(
    push_runs_the_handler_with_the_payload,
    retryable_failure_is_retried_up_to_the_maximum_then_fails,
    permanent_failure_is_not_retried,
    two_workers_share_jobs_without_running_one_twice,
    job_orphaned_by_a_crash_is_picked_up_by_a_new_worker,
    job_interrupted_by_shutdown_runs_again_on_the_next_start,
);

#[test]
fn config_defaults_to_sqlite_under_the_data_dir() {
    let config = QueueConfig::from_lookup(Path::new("/data"), |_| None).unwrap();
    assert_eq!(
        config.backend,
        QueueBackend::Sqlite {
            path: "/data/queue.sqlite3".into()
        }
    );
    assert_eq!(config.namespace, DEFAULT_NAMESPACE);
    assert_eq!(config.max_retries, 3);
    assert!(config.worker_id.starts_with("snapshot-host-"));
    let other = QueueConfig::from_lookup(Path::new("/data"), |_| None).unwrap();
    assert_ne!(
        config.worker_id, other.worker_id,
        "unique per process start"
    );
}

#[test]
fn config_uses_redis_when_redis_host_is_set() {
    let vars: HashMap<&str, &str> = [
        ("REDIS_HOST", "cache.internal"),
        ("REDIS_PORT", "6380"),
        ("REDIS_USERNAME", "snap"),
        ("REDIS_PASSWORD", "p@ss/word"),
        ("REDIS_DATABASE", "2"),
        ("SNAPSHOT_MAX_RETRIES", "5"),
    ]
    .into();
    let config =
        QueueConfig::from_lookup(Path::new("/data"), |k| vars.get(k).map(|v| v.to_string()))
            .unwrap();
    let QueueBackend::Redis { url } = &config.backend else {
        panic!("expected redis, got {:?}", config.backend);
    };
    assert_eq!(url, "redis://snap:p%40ss%2Fword@cache.internal:6380/2");
    assert!(
        !format!("{config:?}").contains("p%40ss"),
        "password never printed"
    );
    assert_eq!(config.max_retries, 5);
}

#[test]
fn bad_numbers_in_the_environment_are_reported_by_name() {
    let err = QueueConfig::from_lookup(Path::new("/data"), |k| {
        (k == "SNAPSHOT_MAX_RETRIES").then(|| "many".to_owned())
    })
    .unwrap_err();
    assert!(err.to_string().contains("SNAPSHOT_MAX_RETRIES"), "{err}");
}
