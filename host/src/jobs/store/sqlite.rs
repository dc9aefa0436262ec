//! The embedded job store: one SQLite file under the data directory.

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::{
    HistoryPage, JobRecord, JobStore, Journal, RecordChange, StoreError, StoreResult, entry,
};
use crate::snapshot::EmittedHolder;

/// Job records and journals in SQLite (WAL mode, so readers never wait on
/// the worker's appends).
#[derive(Clone, Debug)]
pub struct SqliteJobStore {
    pool: SqlitePool,
}

impl SqliteJobStore {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(StoreError::from)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(StoreError::from)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(StoreError::from)?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS jobs (
                job_id TEXT PRIMARY KEY,
                wallet_id TEXT NOT NULL,
                record TEXT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS jobs_by_wallet ON jobs (wallet_id, job_id)",
            "CREATE TABLE IF NOT EXISTS journal (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                job_id TEXT NOT NULL,
                entry BLOB NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS journal_by_job ON journal (job_id, seq)",
        ] {
            sqlx::query(ddl)
                .execute(&pool)
                .await
                .map_err(StoreError::from)?;
        }
        Ok(SqliteJobStore { pool })
    }
}

fn decode(record: &str) -> StoreResult<JobRecord> {
    serde_json::from_str(record).map_err(StoreError::from)
}

fn encode(record: &JobRecord) -> String {
    serde_json::to_string(record).expect("a job record serializes")
}

#[async_trait]
impl JobStore for SqliteJobStore {
    async fn insert(&self, job: &JobRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO jobs (job_id, wallet_id, record) VALUES (?, ?, ?)")
            .bind(&job.job_id)
            .bind(&job.wallet_id)
            .bind(encode(job))
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn get(&self, job_id: &str) -> StoreResult<Option<JobRecord>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT record FROM jobs WHERE job_id = ?")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from)?;
        row.map(|(r,)| decode(&r)).transpose()
    }

    async fn update(
        &self,
        job_id: &str,
        change: &RecordChange<'_>,
    ) -> StoreResult<Option<JobRecord>> {
        // BEGIN IMMEDIATE takes the write lock up front, so two updaters of
        // one record serialize instead of losing a change.
        let mut conn = self.pool.acquire().await.map_err(StoreError::from)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        let result = async {
            let row: Option<(String,)> = sqlx::query_as("SELECT record FROM jobs WHERE job_id = ?")
                .bind(job_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(StoreError::from)?;
            let Some((raw,)) = row else {
                return Ok(None);
            };
            let mut record = decode(&raw)?;
            change(&mut record);
            sqlx::query("UPDATE jobs SET record = ? WHERE job_id = ?")
                .bind(encode(&record))
                .bind(job_id)
                .execute(&mut *conn)
                .await
                .map_err(StoreError::from)?;
            Ok(Some(record))
        }
        .await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from)?;
        result
    }

    async fn history(
        &self,
        wallet_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> StoreResult<HistoryPage> {
        // Job ids are ULIDs: their order is their creation order.
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT record FROM jobs WHERE wallet_id = ? AND job_id < ?
             ORDER BY job_id DESC LIMIT ?",
        )
        .bind(wallet_id)
        .bind(cursor.unwrap_or("\u{10FFFF}"))
        .bind((limit + 1) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from)?;
        let jobs = rows
            .iter()
            .map(|(r,)| decode(r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(HistoryPage::from_overfetch(jobs, limit))
    }

    async fn append_holders(&self, job_id: &str, batch: &[EmittedHolder]) -> StoreResult<()> {
        self.append(job_id, entry::holders(batch)).await
    }

    async fn append_checkpoint(&self, job_id: &str, state: &str) -> StoreResult<()> {
        self.append(job_id, entry::checkpoint(state)).await
    }

    async fn journal(&self, job_id: &str) -> StoreResult<Journal> {
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT entry FROM journal WHERE job_id = ? ORDER BY seq")
                .bind(job_id)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from)?;
        entry::replay(rows.iter().map(|(e,)| e.as_slice()))
    }

    async fn clear_journal(&self, job_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM journal WHERE job_id = ?")
            .bind(job_id)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

impl SqliteJobStore {
    async fn append(&self, job_id: &str, entry: Vec<u8>) -> StoreResult<()> {
        sqlx::query("INSERT INTO journal (job_id, entry) VALUES (?, ?)")
            .bind(job_id)
            .bind(entry)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}
