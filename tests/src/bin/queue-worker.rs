//! A queue worker whose handler never finishes: the crash-recovery test runs
//! it as a child process, waits for `STARTED <job id>` on stdout, then kills
//! it with SIGKILL so the job is left orphaned exactly as in a real crash.
//!
//! Usage: `queue-worker <sqlite:PATH | redis://...> <namespace>
//! <heartbeat secs> <orphan timeout secs>`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use snapshot_host::jobs::queue::{
    JobContext, JobFailure, JobQueue, QueueBackend, QueueConfig, SnapshotJob,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, namespace, heartbeat, orphan] = args.as_slice() else {
        anyhow::bail!("usage: queue-worker <sqlite:PATH|redis://..> <namespace> <hb s> <orphan s>");
    };
    let backend = match backend.strip_prefix("sqlite:") {
        Some(path) => QueueBackend::Sqlite {
            path: PathBuf::from(path),
        },
        None => QueueBackend::Redis {
            url: backend.clone(),
        },
    };
    let mut config = QueueConfig::new(backend);
    config.namespace = namespace.clone();
    config.concurrency = 1;
    config.heartbeat_interval = Duration::from_secs(heartbeat.parse()?);
    config.orphan_timeout = Duration::from_secs(orphan.parse()?);
    config.poll_interval = Duration::from_millis(50);
    let queue = JobQueue::connect(config).await?;
    let handler = |job: SnapshotJob, _ctx: JobContext| async move {
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "STARTED {}", job.job_id);
            let _ = out.flush();
        }
        std::future::pending::<Result<(), JobFailure>>().await
    };
    queue
        .run_worker(Arc::new(handler), std::future::pending())
        .await?;
    Ok(())
}
