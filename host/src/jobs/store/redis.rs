//! The shared job store: Redis, so every host of a cluster sees every job.
//!
//! Keys, under the namespace:
//! - `{ns}:job:{id}` — the record, JSON;
//! - `{ns}:wallet:{wallet}` — sorted set of the wallet's job ids (all score
//!   0, ordered lexically: ULIDs sort by creation time);
//! - `{ns}:journal:{id}` — list of journal entries, oldest first.

use std::sync::Arc;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{
    HistoryPage, JobRecord, JobStore, Journal, RecordChange, StoreError, StoreResult, entry,
};
use crate::snapshot::EmittedHolder;

/// Job records and journals in Redis.
#[derive(Clone)]
pub struct RedisJobStore {
    /// Reconnects by itself when Redis comes back.
    conn: ConnectionManager,
    namespace: String,
    /// Updates of one job from this process take turns (striped by job id),
    /// so the compare-and-set below only ever races other hosts.
    update_locks: Arc<[tokio::sync::Mutex<()>]>,
}

/// Stripes of [`RedisJobStore::update_locks`].
const UPDATE_LOCK_STRIPES: usize = 64;

impl std::fmt::Debug for RedisJobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJobStore")
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// How many times an optimistic update retries on a concurrent change.
const UPDATE_ATTEMPTS: usize = 16;

impl RedisJobStore {
    /// Connects to `url` (`redis://[user:password@]host:port/db`).
    pub async fn connect(url: &str, namespace: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url).map_err(StoreError::from)?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(StoreError::from)?;
        Ok(RedisJobStore {
            conn,
            namespace: namespace.to_string(),
            update_locks: (0..UPDATE_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        })
    }

    fn job_key(&self, id: &str) -> String {
        format!("{}:job:{id}", self.namespace)
    }
    fn wallet_key(&self, wallet: &str) -> String {
        format!("{}:wallet:{wallet}", self.namespace)
    }
    fn journal_key(&self, id: &str) -> String {
        format!("{}:journal:{id}", self.namespace)
    }
}

fn decode(raw: &str) -> StoreResult<JobRecord> {
    serde_json::from_str(raw).map_err(StoreError::from)
}

fn encode(record: &JobRecord) -> String {
    serde_json::to_string(record).expect("a job record serializes")
}

#[async_trait]
impl JobStore for RedisJobStore {
    async fn insert(&self, job: &JobRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let created: bool = redis::cmd("SET")
            .arg(self.job_key(&job.job_id))
            .arg(encode(job))
            .arg("NX")
            .query_async::<Option<String>>(&mut conn)
            .await
            .map_err(StoreError::from)?
            .is_some();
        if !created {
            return Err(StoreError(format!("job {} exists", job.job_id)));
        }
        redis::cmd("ZADD")
            .arg(self.wallet_key(&job.wallet_id))
            .arg(0)
            .arg(&job.job_id)
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn get(&self, job_id: &str) -> StoreResult<Option<JobRecord>> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.job_key(job_id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::from)?;
        raw.map(|r| decode(&r)).transpose()
    }

    async fn update(
        &self,
        job_id: &str,
        change: &RecordChange<'_>,
    ) -> StoreResult<Option<JobRecord>> {
        // Compare-and-set in a Lua script: the record is replaced only if it
        // is still the one that was read, else read again.
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 redis.call('SET', KEYS[1], ARGV[2]) return 1 \
             else return 0 end",
        );
        let key = self.job_key(job_id);
        let mut conn = self.conn.clone();
        let stripe = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            job_id.hash(&mut h);
            (h.finish() as usize) % self.update_locks.len()
        };
        let _turn = self.update_locks[stripe].lock().await;
        for attempt in 0..UPDATE_ATTEMPTS {
            if attempt > 0 {
                // Another host won the race: let it finish before re-reading.
                let jitter = rand::random::<u64>() % (1 << attempt.min(6));
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            let raw: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::from)?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let mut record = decode(&raw)?;
            change(&mut record);
            let swapped: i64 = script
                .key(&key)
                .arg(&raw)
                .arg(encode(&record))
                .invoke_async(&mut conn)
                .await
                .map_err(StoreError::from)?;
            if swapped == 1 {
                return Ok(Some(record));
            }
        }
        Err(StoreError(format!(
            "job {job_id} kept changing; update abandoned"
        )))
    }

    async fn history(
        &self,
        wallet_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<HistoryPage> {
        let mut conn = self.conn.clone();
        let max = match cursor {
            Some(c) => format!("({c}"),
            None => "+".to_string(),
        };
        let ids: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
            .arg(self.wallet_key(wallet_id))
            .arg(max)
            .arg("-")
            .arg("LIMIT")
            .arg(0)
            .arg(limit + 1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::from)?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(job) = self.get(id).await? {
                jobs.push(job);
            }
        }
        Ok(HistoryPage::from_overfetch(jobs, limit))
    }

    async fn append_holders(&self, job_id: &str, batch: &[EmittedHolder]) -> StoreResult<()> {
        self.append(job_id, entry::holders(batch)).await
    }

    async fn append_checkpoint(&self, job_id: &str, state: &str) -> StoreResult<()> {
        self.append(job_id, entry::checkpoint(state)).await
    }

    async fn journal(&self, job_id: &str) -> StoreResult<Journal> {
        let mut conn = self.conn.clone();
        let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(self.journal_key(job_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::from)?;
        entry::replay(raw.iter().map(Vec::as_slice))
    }

    async fn clear_journal(&self, job_id: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.journal_key(job_id))
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::from)
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

impl RedisJobStore {
    async fn append(&self, job_id: &str, entry: Vec<u8>) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("RPUSH")
            .arg(self.journal_key(job_id))
            .arg(entry)
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::from)
    }
}
