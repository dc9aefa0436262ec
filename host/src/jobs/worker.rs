//! The queue worker: runs one queued snapshot job durably.
//!
//! Every holder batch and checkpoint the plugin produces is journaled before
//! the plugin moves on, so a job whose host dies (SIGKILL, lost machine) or
//! shuts down is re-delivered by the queue, replays its journal, resumes the
//! plugin from the last checkpoint at the same pinned point, and produces the
//! same document bytes as an uninterrupted run (the host de-duplicates what
//! the plugin emits again).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::artifacts::{Artifacts, IpfsStatus};
use crate::jobs::documents::render_into;
use crate::jobs::events::{EventBus, JobEvent};
use crate::jobs::queue::{JobContext, JobFailure, JobHandler, SnapshotJob};
use crate::jobs::store::{JobRecord, JobStatus, SharedJobStore};
use crate::jobs::{CollectingSink, SnapshotError, SnapshotSpec, take_snapshot};
use crate::net::HttpGateway;
use crate::registry::PluginRegistry;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How often a running job looks for a cancellation request (it may come
/// through another host).
const CANCEL_POLL: Duration = Duration::from_millis(250);

/// Tries of a job-record update before it is given up (waits of 0.1 s
/// doubling between them).
const STORE_ATTEMPTS: u32 = 8;

/// Everything a worker needs to run snapshot jobs.
pub struct SnapshotWorker {
    pub registry: Arc<PluginRegistry>,
    pub gateway: Arc<HttpGateway>,
    pub store: SharedJobStore,
    pub events: Arc<EventBus>,
    /// Where finished documents go (local store, IPFS).
    pub artifacts: Arc<Artifacts>,
    /// Endpoint override per chain (`SNAPSHOT_ENDPOINT_<CHAIN>`).
    pub endpoints: BTreeMap<String, String>,
    /// Options passed to every plugin (e.g. the original's batch size).
    pub plugin_options: Vec<(String, String)>,
    /// Retries the queue grants a retryable failure.
    pub max_retries: u32,
}

impl SnapshotWorker {
    /// Applies `change` to the job's record. A store that cannot be
    /// reached (Redis restarting) is tried again for about 13 s before the
    /// update is given up; none when it was, or when there is no record.
    async fn update(
        &self,
        job_id: &str,
        change: impl Fn(&mut JobRecord) + Send + Sync,
    ) -> Option<JobRecord> {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=STORE_ATTEMPTS {
            match self.store.update(job_id, &change).await {
                Ok(r) => return r,
                Err(e) if attempt < STORE_ATTEMPTS => {
                    tracing::warn!(
                        job_id,
                        attempt,
                        "updating the job record failed, retrying in {wait:?}: {e}"
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::error!(job_id, "updating the job record failed: {e}");
                }
            }
        }
        None
    }

    async fn finish_failed(&self, job_id: &str, status: JobStatus, error: String) {
        if let Some(record) = self
            .update(job_id, |r| {
                r.status = status;
                r.error = Some(error.clone());
                r.completed_at = Some(now_ms());
            })
            .await
        {
            self.events.publish(JobEvent::failed(&record));
        }
        // The journal is only for resuming; a finished job needs none.
        let _ = self.store.clear_journal(job_id).await;
    }

    /// Ends a job whose plugin was stopped: by shutdown (`interrupted`), it
    /// is left resumable, and the queue delivers it again to continue from
    /// its journal; by a cancel request, it is cancelled.
    async fn end_stopped(&self, job_id: &str, interrupted: bool) -> Result<(), JobFailure> {
        if interrupted {
            self.update(job_id, |r| r.status = JobStatus::Waiting).await;
            Err(JobFailure::Retryable("interrupted by shutdown".into()))
        } else {
            self.finish_failed(job_id, JobStatus::Cancelled, "cancelled".into())
                .await;
            Ok(())
        }
    }
}

#[async_trait]
impl JobHandler for SnapshotWorker {
    async fn handle(&self, job: SnapshotJob, ctx: JobContext) -> Result<(), JobFailure> {
        let job_id = job.job_id.clone();
        let record = match self.store.get(&job_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(JobFailure::Permanent(format!("job {job_id} has no record"))),
            Err(e) => return Err(JobFailure::Retryable(e.to_string())),
        };
        if record.status.is_finished() {
            // Delivered again after it finished (at-least-once): nothing to do.
            return Ok(());
        }
        if record.cancel_requested {
            self.finish_failed(&job_id, JobStatus::Cancelled, "cancelled".into())
                .await;
            return Ok(());
        }
        let Some(record) = self
            .update(&job_id, |r| {
                r.status = JobStatus::Active;
                r.attempts += 1;
                r.host = Some(ctx.host_id().to_owned());
                r.started_at.get_or_insert(now_ms());
                r.error = None;
            })
            .await
        else {
            return Err(JobFailure::Retryable("the job store is unavailable".into()));
        };
        self.events.publish(JobEvent::active(&record));

        let plugin = match self.registry.for_chain(&job.chain) {
            Ok(p) => p,
            Err(e) => {
                self.finish_failed(&job_id, JobStatus::Failed, e.to_string())
                    .await;
                return Err(JobFailure::Permanent(e.to_string()));
            }
        };
        // A journal and checkpoint belong to the build that wrote them: if
        // the plugin was replaced since the last attempt, start over.
        if let Some(previous) = record
            .plugin_sha256
            .as_deref()
            .filter(|sha| *sha != plugin.sha256)
        {
            tracing::warn!(
                job_id,
                plugin = %plugin.id(),
                previous_sha256 = previous,
                sha256 = %plugin.sha256,
                "the plugin changed since this job's last attempt; starting it over"
            );
            self.store
                .clear_journal(&job_id)
                .await
                .map_err(|e| JobFailure::Retryable(e.to_string()))?;
        }
        if record.plugin_sha256.as_deref() != Some(plugin.sha256.as_str()) {
            let (id, sha) = (plugin.id(), plugin.sha256.clone());
            self.update(&job_id, |r| {
                r.plugin = Some(id.clone());
                r.plugin_sha256 = Some(sha.clone());
                // Counted again from the journal this build writes.
                r.holders_so_far = None;
            })
            .await
            .ok_or_else(|| JobFailure::Retryable("the job store is unavailable".into()))?;
        }
        let journal = self
            .store
            .journal(&job_id)
            .await
            .map_err(|e| JobFailure::Retryable(e.to_string()))?;

        let progress_store = self.store.clone();
        let progress_events = self.events.clone();
        let progress_job = job_id.clone();
        let last_progress = Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
        let sink = CollectingSink::new(plugin.id())
            .with_journal(self.store.clone(), job_id.clone())
            .with_progress(Box::new(move |holders, done, total| {
                // Completion is 100; running stays below it. A plugin that
                // does not know its total still reports holders so far.
                let pct = total
                    .filter(|t| *t > 0)
                    .map(|t| ((done.min(t) * 100) / t).min(99) as u8);
                let holders = holders as u64;
                let mut last = last_progress.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|t| t.elapsed() < Duration::from_millis(250)) {
                    return;
                }
                *last = Some(std::time::Instant::now());
                let (store, events, id) = (
                    progress_store.clone(),
                    progress_events.clone(),
                    progress_job.clone(),
                );
                tokio::spawn(async move {
                    let change = move |r: &mut JobRecord| {
                        if r.status != JobStatus::Active {
                            return;
                        }
                        if let Some(pct) = pct {
                            r.progress = r.progress.max(pct);
                        }
                        r.holders_so_far = Some(r.holders_so_far.unwrap_or(0).max(holders));
                    };
                    if let Ok(Some(r)) = store.update(&id, &change).await
                        && r.status == JobStatus::Active
                    {
                        events.publish(JobEvent::progress(&r));
                    }
                });
            }));
        if let Err(e) = sink.replay(journal.batches) {
            self.finish_failed(&job_id, JobStatus::Failed, e.to_string())
                .await;
            return Err(JobFailure::Permanent(e.to_string()));
        }
        let sink = Arc::new(sink);

        // Cancellation (from any host, through the store) and shutdown both
        // stop the plugin: its next emit is refused, and the call is ended
        // at once (a plugin waiting on a slow upstream may not emit for a
        // long time). Everything emitted so far is in the journal. The
        // watcher returns only when the job is to stop.
        let stop = sink.cancel_flag();
        let interrupted = Arc::new(AtomicBool::new(false));
        let mut watcher = {
            let (store, stop, interrupted, id, ctx) = (
                self.store.clone(),
                stop.clone(),
                interrupted.clone(),
                job_id.clone(),
                ctx.clone(),
            );
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = ctx.stopping() => {
                            interrupted.store(true, Ordering::SeqCst);
                            stop.store(true, Ordering::SeqCst);
                            return;
                        }
                        _ = tokio::time::sleep(CANCEL_POLL) => {
                            if let Ok(Some(r)) = store.get(&id).await && r.cancel_requested {
                                stop.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                    }
                }
            })
        };

        let mut options = self.plugin_options.clone();
        options.sort();
        let spec = SnapshotSpec {
            token_id: job.token_id.clone(),
            network: job.network.clone(),
            endpoint: self.endpoints.get(&job.chain).cloned(),
            at: job.at.clone(),
            min_balance: job.min_balance.clone(),
            options,
            resume: journal.checkpoint,
            fetch_timeout: None,
        };
        let outcome = tokio::select! {
            biased;
            outcome = take_snapshot(plugin, &spec, &self.gateway, sink.clone()) => Some(outcome),
            _ = &mut watcher => None,
        };
        watcher.abort();
        let Some(outcome) = outcome else {
            return self
                .end_stopped(&job_id, interrupted.load(Ordering::SeqCst))
                .await;
        };

        match outcome {
            Ok(taken) => {
                let doc = taken.document;
                let (count, resolved) = (doc.holder_count() as u64, doc.meta().resolved_at.clone());
                // Rendered straight into the local store; the holders are
                // freed before the documents are published.
                let local = self.artifacts.local().clone();
                let rendered = tokio::task::spawn_blocking(move || render_into(&doc, &local))
                    .await
                    .map_err(|e| JobFailure::Retryable(format!("rendering documents: {e}")))?
                    .map_err(|e| JobFailure::Retryable(format!("rendering documents: {e}")))?;
                let sha = rendered.json_sha256;
                let stored = self
                    .artifacts
                    .store(&job_id, rendered.json_cid, rendered.csv_cid)
                    .await
                    .map_err(|e| JobFailure::Retryable(format!("storing documents: {e}")))?;
                let Some(record) = self
                    .update(&job_id, |r| {
                        r.status = JobStatus::Completed;
                        r.progress = 100;
                        r.holder_count = Some(count);
                        r.resolved_at = Some(resolved.clone());
                        r.document_sha256 = Some(sha.clone());
                        r.ipfs_cid = Some(stored.json_cid.clone());
                        r.csv_cid = Some(stored.csv_cid.clone());
                        r.ipfs_url = stored.json_url.clone();
                        r.csv_url = stored.csv_url.clone();
                        // The background uploader may already have
                        // recorded a finished upload; never step back.
                        if !matches!(r.ipfs_status, Some(IpfsStatus::Pinned | IpfsStatus::Failed)) {
                            r.ipfs_status = Some(stored.status);
                        }
                        r.completed_at = Some(now_ms());
                        r.error = None;
                    })
                    .await
                else {
                    // Not recorded: the job is not done. Its journal stays,
                    // so the retry renders the same documents again.
                    return Err(JobFailure::Retryable(
                        "recording the completed job failed: the job store is unavailable".into(),
                    ));
                };
                self.events.publish(JobEvent::completed(&record));
                let _ = self.store.clear_journal(&job_id).await;
                Ok(())
            }
            Err(e) if stop.load(Ordering::SeqCst) && is_cancel(&e) => {
                self.end_stopped(&job_id, interrupted.load(Ordering::SeqCst))
                    .await
            }
            Err(e) => {
                let message = e.to_string();
                let last_attempt = ctx.attempt() > self.max_retries as usize;
                if e.is_retryable() && !last_attempt {
                    tracing::warn!(job_id, attempt = ctx.attempt(), "retrying: {message}");
                    self.update(&job_id, |r| {
                        r.status = JobStatus::Waiting;
                        r.error = Some(message.clone());
                    })
                    .await;
                    Err(JobFailure::Retryable(message))
                } else {
                    tracing::warn!(job_id, "failed: {message}");
                    self.finish_failed(&job_id, JobStatus::Failed, message.clone())
                        .await;
                    Err(JobFailure::Permanent(message))
                }
            }
        }
    }
}

fn is_cancel(e: &SnapshotError) -> bool {
    matches!(
        e,
        SnapshotError::Plugin(f)
            if matches!(f.plugin_error(), Some(crate::runtime::bindings::PluginError::Cancelled))
    )
}
