//! Job events: one bus every part of the host publishes to, and the
//! WebSocket transports subscribe to.
//!
//! Events carry the wallet they belong to so a subscriber can keep only its
//! own; payloads are exactly what the original library's clients expect
//! under the socket.io event `snapshots_events`: `{type, payload}`.
//!
//! On one host the bus is an in-process broadcast. In a cluster (Redis
//! mode) it takes one path for every event, this host's included: publish
//! hands the event to the [`super::relay`], which sends it to a Redis
//! channel; every host delivers to its local subscribers only what comes
//! back from its subscription. So a client connected anywhere sees every
//! job's events once, in the order their host published them. When the
//! subscription is lost and restored, subscribers get a resync (seen as
//! [`RecvError::Lagged`]) and replay the current state of their jobs, as a
//! subscriber that fell behind does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::jobs::store::{JobRecord, JobStatus};

/// The event `type`s of the original library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "snapshots_waiting")]
    Waiting,
    #[serde(rename = "snapshots_active")]
    Active,
    #[serde(rename = "snapshots_progress")]
    Progress,
    #[serde(rename = "snapshots_completed")]
    Completed,
    #[serde(rename = "snapshots_failed")]
    Failed,
}

/// One event: what clients receive is `{type, payload}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobEvent {
    #[serde(skip)]
    pub wallet_id: String,
    #[serde(skip)]
    pub job_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub payload: Value,
}

/// The job name in payloads (the original's queue job name).
pub const JOB_NAME: &str = "generate_snapshot";

impl JobEvent {
    /// The event that describes `job`'s current state (what a reconnecting
    /// client is sent first).
    pub fn for_state(job: &JobRecord) -> JobEvent {
        match job.status {
            JobStatus::Waiting => JobEvent::waiting(job),
            JobStatus::Active if job.progress == 0 && job.holders_so_far.is_none() => {
                JobEvent::active(job)
            }
            JobStatus::Active => JobEvent::progress(job),
            JobStatus::Completed => JobEvent::completed(job),
            JobStatus::Failed | JobStatus::Cancelled => JobEvent::failed(job),
        }
    }

    pub fn waiting(job: &JobRecord) -> JobEvent {
        Self::new(job, EventType::Waiting, json!({ "jobId": job.job_id }))
    }

    pub fn active(job: &JobRecord) -> JobEvent {
        Self::new(job, EventType::Active, Self::body(job, "activated"))
    }

    /// The original payload, plus `holdersSoFar` once the plugin has
    /// emitted holders.
    pub fn progress(job: &JobRecord) -> JobEvent {
        let mut body = Self::body(job, "running");
        if let Some(holders) = job.holders_so_far {
            body["holdersSoFar"] = json!(holders);
        }
        Self::new(job, EventType::Progress, body)
    }

    pub fn completed(job: &JobRecord) -> JobEvent {
        let mut body = Self::body(job, "completed");
        body["holderCount"] = json!(job.holder_count);
        body["resolvedAt"] = json!(job.resolved_at);
        if let Some(cid) = &job.ipfs_cid {
            body["ipfsCid"] = json!(cid);
        }
        if let Some(cid) = &job.csv_cid {
            body["csvCid"] = json!(cid);
        }
        if let Some(status) = job.ipfs_status {
            body["ipfsStatus"] = json!(status);
        }
        if let Some(url) = &job.ipfs_url {
            body["ipfsUrl"] = json!(url);
        }
        if let Some(url) = &job.csv_url {
            body["csvUrl"] = json!(url);
        }
        Self::new(job, EventType::Completed, body)
    }

    pub fn failed(job: &JobRecord) -> JobEvent {
        let mut body = Self::body(job, "error");
        let error = match job.status {
            JobStatus::Cancelled => "cancelled".to_string(),
            _ => job.error.clone().unwrap_or_else(|| "failed".into()),
        };
        body["error"] = json!(error);
        Self::new(job, EventType::Failed, body)
    }

    fn body(job: &JobRecord, status: &str) -> Value {
        json!({
            "jobId": job.job_id,
            "jobName": JOB_NAME,
            "snapshotId": job.token_id,
            "status": status,
            "progress": job.progress,
        })
    }

    fn new(job: &JobRecord, kind: EventType, payload: Value) -> JobEvent {
        JobEvent {
            wallet_id: job.wallet_id.clone(),
            job_id: job.job_id.clone(),
            kind,
            payload,
        }
    }

    /// Whether this is the last event of its job.
    pub fn is_final(&self) -> bool {
        matches!(self.kind, EventType::Completed | EventType::Failed)
    }
}

/// The most progress events one job sends per second; state changes and the
/// final event are never dropped.
pub const PROGRESS_EVENTS_PER_SECOND: u32 = 4;

/// How long a finished job's late progress events are still recognised
/// and dropped.
const FINISHED_MARK: Duration = Duration::from_secs(600);

/// What the bus carries to subscribers: an event, or word that events may
/// have been missed (the cluster subscription was restored).
#[derive(Clone, Debug)]
enum Delivery {
    Event(JobEvent),
    Resync,
}

/// Fan-out of job events to every subscriber in this process.
pub struct EventBus {
    /// What subscribers receive: every event of the host (or, in a cluster,
    /// of every host, as relayed back from Redis).
    tx: broadcast::Sender<Delivery>,
    /// Only the events this process published (metrics count those).
    local: broadcast::Sender<JobEvent>,
    /// Set in a cluster: where published events go instead of `tx`.
    relay: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<JobEvent>>,
    last_progress: Mutex<HashMap<String, Instant>>,
}

/// A subscription: the API of a broadcast receiver, where a resync of the
/// cluster subscription reads as [`RecvError::Lagged`] (replay the state).
pub struct EventReceiver(broadcast::Receiver<Delivery>);

impl EventReceiver {
    /// The next event; `Lagged` when events may have been missed.
    pub async fn recv(&mut self) -> Result<JobEvent, RecvError> {
        match self.0.recv().await? {
            Delivery::Event(event) => Ok(event),
            Delivery::Resync => Err(RecvError::Lagged(0)),
        }
    }

    /// [`EventReceiver::recv`] without waiting.
    pub fn try_recv(&mut self) -> Result<JobEvent, TryRecvError> {
        match self.0.try_recv()? {
            Delivery::Event(event) => Ok(event),
            Delivery::Resync => Err(TryRecvError::Lagged(0)),
        }
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        // A slow subscriber that falls this far behind loses old events
        // (and is told so), rather than slowing every job down.
        let (tx, _) = broadcast::channel(4096);
        let (local, _) = broadcast::channel(4096);
        EventBus {
            tx,
            local,
            relay: std::sync::OnceLock::new(),
            last_progress: Mutex::new(HashMap::new()),
        }
    }

    /// Sends every event published from now on through `relay` (the
    /// cluster's channel) instead of straight to local subscribers; they get
    /// what the relay [`EventBus::deliver`]s. Set once; a second call is
    /// refused.
    pub fn relay_through(
        &self,
        relay: tokio::sync::mpsc::UnboundedSender<JobEvent>,
    ) -> Result<(), &'static str> {
        self.relay
            .set(relay)
            .map_err(|_| "the event bus already has a relay")
    }

    /// Hands an event that came through the relay to local subscribers.
    pub fn deliver(&self, event: JobEvent) {
        let _ = self.tx.send(Delivery::Event(event));
    }

    /// Tells local subscribers that events may have been missed (the relay's
    /// subscription was lost and restored): they replay current states.
    pub fn resync(&self) {
        let _ = self.tx.send(Delivery::Resync);
    }

    /// Publishes `event`; progress events are throttled per job, and a
    /// progress event that arrives after its job's final event (progress is
    /// reported from other tasks) is dropped, so clients see the final
    /// event last.
    pub fn publish(&self, event: JobEvent) {
        let now = Instant::now();
        if event.kind == EventType::Progress {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            let min_gap = Duration::from_secs(1) / PROGRESS_EVENTS_PER_SECOND;
            match last.get(&event.job_id) {
                // A finished job's entry lies in the future: always too soon.
                Some(at) if now.saturating_duration_since(*at) < min_gap || *at > now => return,
                _ => {
                    last.insert(event.job_id.clone(), now);
                }
            }
        } else if event.is_final() {
            let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            // Forget what no longer matters: throttling entries a minute
            // old and the marks of jobs that ended long ago.
            let stale = now.checked_sub(Duration::from_secs(60));
            last.retain(|_, at| *at > now || stale.is_none_or(|s| *at > s));
            last.insert(event.job_id.clone(), now + FINISHED_MARK);
        }
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.local.send(event.clone());
        match self.relay.get() {
            // A relay that stopped (shutdown) loses nothing anyone reads.
            Some(relay) => {
                let _ = relay.send(event);
            }
            None => self.deliver(event),
        }
    }

    /// Every job event clients may see (in a cluster: of every host).
    pub fn subscribe(&self) -> EventReceiver {
        EventReceiver(self.tx.subscribe())
    }

    /// Only the events this process publishes (per-host metrics).
    pub fn subscribe_local(&self) -> broadcast::Receiver<JobEvent> {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: JobStatus, progress: u8) -> JobRecord {
        serde_json::from_value(json!({
            "jobId": "01J", "walletId": "0.0.77", "tokenId": "0.0.5000", "chain": "hedera",
            "network": null, "at": null, "minBalance": null, "status": status,
            "progress": progress, "holderCount": 12, "resolvedAt": "1.5", "error": null,
            "createdAt": 1, "startedAt": null, "completedAt": null, "attempts": 1,
            "documentSha256": null, "ipfsCid": null, "csvCid": null, "cancelRequested": false
        }))
        .unwrap()
    }

    #[test]
    fn payloads_have_the_original_shapes() {
        let waiting = serde_json::to_value(JobEvent::waiting(&job(JobStatus::Waiting, 0))).unwrap();
        assert_eq!(
            waiting,
            json!({"type": "snapshots_waiting", "payload": {"jobId": "01J"}})
        );
        let active = serde_json::to_value(JobEvent::active(&job(JobStatus::Active, 0))).unwrap();
        assert_eq!(
            active,
            json!({"type": "snapshots_active", "payload": {"jobId": "01J", "jobName": JOB_NAME,
                "snapshotId": "0.0.5000", "status": "activated", "progress": 0}})
        );
        let done = JobEvent::completed(&job(JobStatus::Completed, 100));
        assert_eq!(done.payload["status"], "completed");
        assert_eq!(done.payload["holderCount"], 12);
        let mut running = job(JobStatus::Active, 40);
        let progress = JobEvent::progress(&running);
        assert!(progress.payload.get("holdersSoFar").is_none());
        running.holders_so_far = Some(3_000);
        let progress = serde_json::to_value(JobEvent::progress(&running)).unwrap();
        assert_eq!(
            progress,
            json!({"type": "snapshots_progress", "payload": {"jobId": "01J", "jobName": JOB_NAME,
                "snapshotId": "0.0.5000", "status": "running", "progress": 40,
                "holdersSoFar": 3000}})
        );
        let mut failed_job = job(JobStatus::Failed, 30);
        failed_job.error = Some("upstream error".into());
        let failed = JobEvent::failed(&failed_job);
        assert_eq!(failed.kind, EventType::Failed);
        assert_eq!(failed.payload["status"], "error");
        assert_eq!(failed.payload["error"], "upstream error");
    }

    #[tokio::test]
    async fn progress_is_throttled_but_the_final_event_always_arrives() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        for p in 1..=50 {
            bus.publish(JobEvent::progress(&job(JobStatus::Active, p)));
        }
        bus.publish(JobEvent::completed(&job(JobStatus::Completed, 100)));
        let mut got = Vec::new();
        while let Ok(e) = rx.try_recv() {
            got.push(e);
        }
        assert!(got.len() <= 3, "{} events", got.len());
        assert_eq!(got.last().unwrap().kind, EventType::Completed);
    }

    #[tokio::test]
    async fn with_a_relay_subscribers_get_only_what_the_relay_delivers() {
        let bus = EventBus::new();
        let (relay, mut relayed) = tokio::sync::mpsc::unbounded_channel();
        bus.relay_through(relay).unwrap();
        let (mut rx, mut local) = (bus.subscribe(), bus.subscribe_local());
        bus.publish(JobEvent::waiting(&job(JobStatus::Waiting, 0)));
        assert!(
            rx.try_recv().is_err(),
            "not delivered straight to subscribers"
        );
        assert_eq!(local.try_recv().unwrap().kind, EventType::Waiting);
        let event = relayed.try_recv().unwrap();
        bus.deliver(event);
        assert_eq!(rx.try_recv().unwrap().kind, EventType::Waiting);
        bus.resync();
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Lagged(0))));
        let (second, _) = tokio::sync::mpsc::unbounded_channel();
        assert!(bus.relay_through(second).is_err(), "one relay only");
    }

    #[tokio::test]
    async fn progress_arriving_after_the_final_event_is_dropped() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish(JobEvent::completed(&job(JobStatus::Completed, 100)));
        bus.publish(JobEvent::progress(&job(JobStatus::Active, 80)));
        assert_eq!(rx.try_recv().unwrap().kind, EventType::Completed);
        assert!(
            rx.try_recv().is_err(),
            "the late progress event was dropped"
        );
    }
}
