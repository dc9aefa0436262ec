//! Durable job state: the record every API call reads, and the journal of
//! emitted holders and checkpoints a resumed job replays.
//!
//! Two backends behind one trait: embedded SQLite under the data directory
//! (the default) and Redis (when the queue is on Redis, so any host of a
//! cluster can answer for any job and resume it).

mod redis;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::artifacts::publish::IpfsStatus;
use crate::snapshot::EmittedHolder;

pub use self::redis::RedisJobStore;
pub use self::sqlite::SqliteJobStore;

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Waiting,
    Active,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// Whether the job can still change.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Active => "active",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// Everything known about one job (camelCase on the wire, as the original).
/// Its schema in `GET /openapi.json` is derived from this type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: String,
    pub wallet_id: String,
    pub token_id: String,
    pub chain: String,
    pub network: Option<String>,
    pub at: Option<String>,
    pub min_balance: Option<String>,
    pub status: JobStatus,
    /// 0–100.
    #[schema(maximum = 100)]
    pub progress: u8,
    /// Distinct holders in the finished document.
    pub holder_count: Option<u64>,
    /// Distinct holders collected so far, while the job runs (resumed runs
    /// count what their journal replayed). Kept after completion.
    #[serde(default)]
    pub holders_so_far: Option<u64>,
    pub resolved_at: Option<String>,
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// Runs started (1 for a job that never had to be retried or resumed).
    pub attempts: u32,
    /// The host that runs, or last ran, the job: its `SNAPSHOT_HOST_ID`,
    /// else `hostname-pid`. None until a worker takes the job.
    #[serde(default)]
    pub host: Option<String>,
    /// sha256 of the JSON document, once completed.
    pub document_sha256: Option<String>,
    /// CID of the JSON document (the one IPFS gives it), once completed.
    pub ipfs_cid: Option<String>,
    /// CID of the CSV document.
    pub csv_cid: Option<String>,
    /// Where the documents are: `local`, `pending`, `pinned` or `failed`.
    #[serde(default)]
    pub ipfs_status: Option<IpfsStatus>,
    /// Public gateway links of the two documents, when a gateway is set.
    #[serde(default)]
    pub ipfs_url: Option<String>,
    #[serde(default)]
    pub csv_url: Option<String>,
    /// The plugin version (`name@version`) and component sha256 the job's
    /// journal was written by. A later attempt on another build of the
    /// plugin (hot-swapped meanwhile) starts over: checkpoints are private
    /// to one build.
    #[serde(default)]
    pub plugin: Option<String>,
    #[serde(default)]
    pub plugin_sha256: Option<String>,
    /// Set by `DELETE /snapshots/{id}`; the running plugin's next `emit`
    /// sees `cancelled`.
    pub cancel_requested: bool,
}

/// What a resumed job replays: every holder batch emitted so far, in order,
/// and the last checkpoint recorded after them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Journal {
    pub batches: Vec<Vec<EmittedHolder>>,
    pub checkpoint: Option<String>,
}

/// One page of a wallet's history, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryPage {
    pub jobs: Vec<JobRecord>,
    /// Pass back as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

impl HistoryPage {
    /// A page from up to `limit + 1` jobs read newest first: the extra one
    /// only says whether another page follows.
    pub(crate) fn from_overfetch(mut jobs: Vec<JobRecord>, limit: usize) -> Self {
        let next_cursor = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|j| j.job_id.clone())
        } else {
            None
        };
        HistoryPage { jobs, next_cursor }
    }
}

/// A store failure (connection, corrupt data).
#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    pub(crate) fn from<E: std::fmt::Display>(e: E) -> Self {
        StoreError(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A change applied to a stored record (an alias, so `async_trait` leaves
/// its higher-ranked lifetime alone).
pub type RecordChange<'a> = dyn Fn(&mut JobRecord) + Send + Sync + 'a;

/// Durable job records and journals.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job. Fails when the id exists.
    async fn insert(&self, job: &JobRecord) -> StoreResult<()>;
    async fn get(&self, job_id: &str) -> StoreResult<Option<JobRecord>>;
    /// Applies `change` to the stored record atomically and returns the
    /// result; none when the job does not exist.
    async fn update(
        &self,
        job_id: &str,
        change: &RecordChange<'_>,
    ) -> StoreResult<Option<JobRecord>>;
    /// A wallet's jobs, newest first, `limit` at a time after `cursor`.
    async fn history(
        &self,
        wallet_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<HistoryPage>;
    /// Appends a batch of emitted holders to the job's journal.
    async fn append_holders(&self, job_id: &str, batch: &[EmittedHolder]) -> StoreResult<()>;
    /// Appends a checkpoint; it covers every batch appended before it.
    async fn append_checkpoint(&self, job_id: &str, state: &str) -> StoreResult<()>;
    async fn journal(&self, job_id: &str) -> StoreResult<Journal>;
    /// Drops a finished job's journal (the document holds the result).
    async fn clear_journal(&self, job_id: &str) -> StoreResult<()>;
    /// Whether the store answers (for readiness).
    async fn ping(&self) -> StoreResult<()>;
}

pub type SharedJobStore = Arc<dyn JobStore>;

/// How journal entries are encoded: one tag byte, then JSON.
pub(crate) mod entry {
    use super::{EmittedHolder, StoreError};

    pub const HOLDERS: u8 = b'h';
    pub const CHECKPOINT: u8 = b'c';

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wire {
        a: String,
        b: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        e: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        t: Vec<(String, String)>,
    }

    pub fn holders(batch: &[EmittedHolder]) -> Vec<u8> {
        let wire: Vec<Wire> = batch
            .iter()
            .map(|h| Wire {
                a: h.account.clone(),
                b: h.balance.clone(),
                e: h.entry_id.clone(),
                t: h.attributes.clone(),
            })
            .collect();
        let mut out = vec![HOLDERS];
        serde_json::to_writer(&mut out, &wire).expect("holders serialize");
        out
    }

    pub fn checkpoint(state: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(state.len() + 1);
        out.push(CHECKPOINT);
        out.extend_from_slice(state.as_bytes());
        out
    }

    /// Replays raw entries, oldest first, into a journal.
    pub fn replay<'a>(
        entries: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<super::Journal, StoreError> {
        let mut journal = super::Journal::default();
        for raw in entries {
            match raw.split_first() {
                Some((&HOLDERS, json)) => {
                    let wire: Vec<Wire> = serde_json::from_slice(json).map_err(StoreError::from)?;
                    journal.batches.push(
                        wire.into_iter()
                            .map(|w| EmittedHolder {
                                account: w.a,
                                balance: w.b,
                                entry_id: w.e,
                                attributes: w.t,
                            })
                            .collect(),
                    );
                }
                Some((&CHECKPOINT, state)) => {
                    journal.checkpoint =
                        Some(String::from_utf8(state.to_vec()).map_err(StoreError::from)?);
                }
                _ => return Err(StoreError("corrupt journal entry".into())),
            }
        }
        Ok(journal)
    }
}
