//! The durable job store, on both backends: embedded SQLite and a real
//! redis-server on loopback.

use std::sync::Arc;

use snapshot_host::jobs::store::{JobRecord, JobStatus, JobStore, RedisJobStore, SqliteJobStore};
use snapshot_host::snapshot::EmittedHolder;
use snapshot_tests::redis::RedisServer;

fn job(id: &str, wallet: &str) -> JobRecord {
    JobRecord {
        job_id: id.to_string(),
        wallet_id: wallet.to_string(),
        token_id: "0.0.5000".into(),
        chain: "hedera".into(),
        network: None,
        at: None,
        min_balance: None,
        status: JobStatus::Waiting,
        progress: 0,
        holder_count: None,
        holders_so_far: None,
        resolved_at: None,
        error: None,
        created_at: 1,
        started_at: None,
        completed_at: None,
        attempts: 0,
        host: None,
        document_sha256: None,
        ipfs_cid: None,
        csv_cid: None,
        ipfs_status: None,
        ipfs_url: None,
        csv_url: None,
        plugin: None,
        plugin_sha256: None,
        cancel_requested: false,
    }
}

fn holder(account: &str, balance: &str) -> EmittedHolder {
    EmittedHolder {
        account: account.into(),
        balance: balance.into(),
        entry_id: None,
        attributes: vec![("freeze".into(), "true".into())],
    }
}

/// The behaviour both backends must share.
async fn behaves_like_a_job_store(store: Arc<dyn JobStore>) {
    store.ping().await.unwrap();
    // Records: insert once, read, update atomically.
    store.insert(&job("01A", "w1")).await.unwrap();
    assert!(
        store.insert(&job("01A", "w1")).await.is_err(),
        "ids are unique"
    );
    assert_eq!(store.get("01A").await.unwrap().unwrap().wallet_id, "w1");
    assert!(store.get("nope").await.unwrap().is_none());
    let updated = store
        .update("01A", &|r| {
            r.status = JobStatus::Active;
            r.progress = 40;
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((updated.status, updated.progress), (JobStatus::Active, 40));
    assert_eq!(store.get("01A").await.unwrap().unwrap().progress, 40);
    assert!(store.update("nope", &|_| {}).await.unwrap().is_none());

    // Concurrent updates lose nothing.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.update("01A", &|r| r.attempts += 1).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.get("01A").await.unwrap().unwrap().attempts, 20);

    // History: newest first, paged, only the wallet's own jobs.
    for id in ["01B", "01C", "01D", "01E"] {
        store.insert(&job(id, "w1")).await.unwrap();
    }
    store.insert(&job("01F", "w2")).await.unwrap();
    let first = store.history("w1", 2, None).await.unwrap();
    let ids: Vec<_> = first.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["01E", "01D"]);
    let second = store
        .history("w1", 2, first.next_cursor.as_deref())
        .await
        .unwrap();
    let ids: Vec<_> = second.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["01C", "01B"]);
    let last = store
        .history("w1", 2, second.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(last.jobs.len(), 1);
    assert_eq!(last.next_cursor, None);
    assert_eq!(store.history("w2", 10, None).await.unwrap().jobs.len(), 1);
    assert!(store.history("w3", 10, None).await.unwrap().jobs.is_empty());

    // Journal: batches in order, the last checkpoint after them.
    assert_eq!(store.journal("01A").await.unwrap().batches.len(), 0);
    store
        .append_holders("01A", &[holder("0.0.1", "5"), holder("0.0.2", "1e-96")])
        .await
        .unwrap();
    store
        .append_checkpoint("01A", "{\"page\":1}")
        .await
        .unwrap();
    store
        .append_holders("01A", &[holder("0.0.3", "7")])
        .await
        .unwrap();
    store
        .append_checkpoint("01A", "{\"page\":2}")
        .await
        .unwrap();
    store
        .append_holders("01A", &[holder("0.0.4", "9")])
        .await
        .unwrap();
    let journal = store.journal("01A").await.unwrap();
    assert_eq!(journal.batches.len(), 3);
    assert_eq!(journal.batches[0][1], holder("0.0.2", "1e-96"));
    assert_eq!(journal.checkpoint.as_deref(), Some("{\"page\":2}"));
    assert!(store.journal("01B").await.unwrap().checkpoint.is_none());
    store.clear_journal("01A").await.unwrap();
    assert_eq!(store.journal("01A").await.unwrap(), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_keeps_records_history_and_journals() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteJobStore::open(&dir.path().join("jobs.sqlite"))
        .await
        .unwrap();
    behaves_like_a_job_store(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_updates_from_several_hosts_lose_nothing() {
    let redis = RedisServer::start();
    let mut hosts = Vec::new();
    for _ in 0..3 {
        hosts.push(Arc::new(
            RedisJobStore::connect(&redis.url(), "test-store")
                .await
                .unwrap(),
        ));
    }
    hosts[0].insert(&job("01A", "w1")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = hosts[i % hosts.len()].clone();
        tasks.push(tokio::spawn(async move {
            store
                .update("01A", &|r| r.attempts += 1)
                .await
                .unwrap()
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(hosts[1].get("01A").await.unwrap().unwrap().attempts, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.sqlite");
    {
        let store = SqliteJobStore::open(&path).await.unwrap();
        store.insert(&job("01A", "w1")).await.unwrap();
        store
            .append_holders("01A", &[holder("0.0.1", "5")])
            .await
            .unwrap();
        store.append_checkpoint("01A", "cp").await.unwrap();
    }
    let store = SqliteJobStore::open(&path).await.unwrap();
    assert!(store.get("01A").await.unwrap().is_some());
    assert_eq!(
        store.journal("01A").await.unwrap().checkpoint.as_deref(),
        Some("cp")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_keeps_records_history_and_journals() {
    let redis = RedisServer::start();
    let store = RedisJobStore::connect(&redis.url(), "test-store")
        .await
        .unwrap();
    behaves_like_a_job_store(Arc::new(store)).await;
}
