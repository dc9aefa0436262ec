//! Scale-out on Redis: three `snapshot-host serve` processes, each with its
//! own data directory, sharing one real redis-server on loopback, in front
//! of one mirror-node simulator.
//!
//! - the queue spreads 30 jobs over the hosts, and every host runs some;
//! - a WebSocket client on one host receives every event of every job,
//!   whichever host runs it: the same sequence, per job, as a client on
//!   another host (one stream, no duplicates), in the order of a job's life;
//! - the upstream request rate the simulator measures, for all hosts
//!   together, stays within the one configured limit (each host alone could
//!   send that much: without the shared limiter three would triple it);
//! - a host SIGKILLed mid-job (with a checkpoint journaled) loses nothing:
//!   another host takes the job over and every document is byte-identical
//!   to the CLI's, downloadable by job and by CID from any host;
//!
//! plus the parts alone against a real redis-server: the shared limiter
//! (one rate and one pause for three limiters; no permit without Redis) and
//! the event relay (once, in order, everywhere; a Redis restart resyncs).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use snapshot_host::jobs::events::{EventBus, EventReceiver, EventType, JobEvent};
use snapshot_host::jobs::relay;
use snapshot_host::net::{HostLimit, LimitsConfig, RateLimiter, SharedRateLimit};
use tokio::sync::broadcast::error::RecvError;

use common::cluster::{CLUSTER_DEADLINE, Cluster};
use common::{Events, Ledger, Server, wallet_token};

/// The one limit every host is configured with for the simulator; the
/// cluster must keep to it in total.
const RATE: u32 = 30;
/// Balance pages let through at a time while the test looks for a job of
/// host C to kill.
const PAGES_PER_STEP: u64 = 4;
/// Holders of the simulated token, and the page size the plugin asks for:
/// about fifty requests per job, with checkpoints along the way (the Hedera
/// plugin checkpoints every 16 pages).
const HOLDERS: usize = 1_000;
const PAGE_SIZE: &str = "25";
const JOBS: usize = 30;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The CLI's document for the token at the ledger's pinned point, with an
/// optional minimum balance.
async fn cli_document(ledger: &Ledger, min_balance: Option<&str>) -> Vec<u8> {
    let mut args = vec![
        "snapshot".to_string(),
        "0.0.5000".into(),
        "--chain".into(),
        "hedera".into(),
        "--endpoint".into(),
        ledger.sim.base_url(),
        "--at".into(),
        ledger.at.clone(),
        "--rate-limit".into(),
        format!("{}={RATE}:8", ledger.sim.address()),
    ];
    if let Some(min) = min_balance {
        args.extend(["--min-balance".to_string(), min.to_string()]);
    }
    common::cli_stdout(args).await
}

/// Reads a client's events until every job in `jobs` had its final event;
/// returns them per job, in arrival order.
async fn collect_events(
    mut events: Events,
    jobs: usize,
    skip: String,
) -> BTreeMap<String, Vec<Value>> {
    let mut per_job: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut finished = BTreeSet::new();
    while finished.len() < jobs {
        let event = events.next().await;
        let job = event["payload"]["jobId"].as_str().unwrap().to_string();
        if job == skip {
            continue;
        }
        if matches!(
            event["type"].as_str(),
            Some("snapshots_completed" | "snapshots_failed")
        ) {
            finished.insert(job.clone());
        }
        per_job.entry(job).or_default().push(event);
    }
    per_job
}

/// The caller's jobs, as `GET /snapshots` on `server` lists them.
async fn jobs_of(server: &Server, token: &str) -> Vec<Value> {
    let resp = server
        .call(reqwest::Method::GET, "/snapshots?limit=100", Some(token))
        .await;
    assert_eq!(resp.status(), 200);
    let page: Value = resp.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Checks one job's events as a client saw them: its life in order.
fn check_life(job: &str, events: &[Value]) {
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.first(),
        Some(&"snapshots_waiting"),
        "{job}: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "snapshots_waiting").count(),
        1,
        "{job}: {kinds:?}"
    );
    assert_eq!(
        kinds.last(),
        Some(&"snapshots_completed"),
        "{job}: {kinds:?}"
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "snapshots_completed")
            .count(),
        1,
        "{job}: {kinds:?}"
    );
    assert_eq!(kinds.get(1), Some(&"snapshots_active"), "{job}: {kinds:?}");
    // Within one run (from an `active`), progress never goes back.
    let mut last = 0;
    for e in events {
        match e["type"].as_str().unwrap() {
            "snapshots_active" => last = 0,
            "snapshots_progress" => {
                let p = e["payload"]["progress"].as_u64().unwrap();
                assert!(p >= last, "{job}: progress went back: {kinds:?}");
                last = p;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hosts_share_the_queue_the_events_the_rate_limit_and_survive_a_kill() {
    let ledger = Ledger::start(HOLDERS, 2).await;
    // The expected documents first (the CLI keeps to the same rate).
    let full = cli_document(&ledger, None).await;
    let doc: Value = serde_json::from_slice(&full).unwrap();
    let holders = doc["holders"].as_array().unwrap();
    let mins: Vec<Option<String>> = vec![
        None,
        Some(
            holders[holders.len() / 4]["balance"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        Some(
            holders[holders.len() / 2]["balance"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
    ];
    let mut expected: HashMap<Option<String>, String> = HashMap::new();
    expected.insert(None, sha256(&full));
    for min in mins.iter().flatten() {
        let bytes = cli_document(&ledger, Some(min)).await;
        expected.insert(Some(min.clone()), sha256(&bytes));
    }
    assert_eq!(
        expected.values().collect::<BTreeSet<_>>().len(),
        3,
        "three different documents"
    );

    let mut cluster = Cluster::start();
    let limit = format!("{RATE}:8");
    let env = [
        ("SNAPSHOT_BATCH_SIZE", PAGE_SIZE),
        ("SNAPSHOT_QUEUE_CONCURRENCY", "2"),
    ];
    let a = cluster.serve("host-a", &ledger.sim, &limit, &env);
    let b = cluster.serve("host-b", &ledger.sim, &limit, &env);
    let c = cluster.serve("host-c", &ledger.sim, &limit, &env);
    let token = wallet_token("0.0.4242");

    // A first job, before any client connects: a client's first message is
    // then its replayed state, which proves the client is subscribed.
    let warmup = b.submit_job(&token, json!({ "at": ledger.at })).await;
    a.finished(&token, &warmup).await;
    let mut on_a = a.events(&token).await;
    let mut on_b = b.events(&token).await;
    for events in [&mut on_a, &mut on_b] {
        let replay = events.next().await;
        assert_eq!(replay["payload"]["jobId"], warmup.as_str(), "{replay}");
    }
    let collect_a = tokio::spawn(collect_events(on_a, JOBS, warmup.clone()));
    let collect_b = tokio::spawn(collect_events(on_b, JOBS, warmup.clone()));

    // 30 jobs, submitted round-robin through the three hosts' APIs. The
    // ledger holds balance pages meanwhile (token lookups still answer), so
    // every job is queued before any can finish.
    ledger.faults.hold_after(0);
    let requests_before = ledger.sim.stats().requests();
    let started = Instant::now();
    let hosts = [&a, &b, &c];
    let mut submitted: Vec<(String, Option<String>)> = Vec::new();
    for i in 0..JOBS {
        let min = mins[i % mins.len()].clone();
        let mut body = json!({ "at": ledger.at });
        if let Some(m) = &min {
            body["minBalance"] = json!(m);
        }
        let job = hosts[i % 3].submit_job(&token, body).await;
        submitted.push((job, min));
    }

    // Kill host C mid-way through a job, with a checkpoint journaled. The
    // ledger now lets balance pages through a few at a time and holds the
    // rest in between, so no job can step over the window looked for,
    // however loaded the machine.
    let deadline = Instant::now() + CLUSTER_DEADLINE;
    let victim = loop {
        ledger.faults.hold_after(PAGES_PER_STEP);
        while ledger.faults.hold_passes_left() != Some(0) {
            assert!(
                Instant::now() < deadline,
                "the jobs stopped asking for balance pages"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let jobs = jobs_of(&a, &token).await;
        let by_c = |status: &str| {
            jobs.iter()
                .filter(|j| j["host"] == "host-c" && j["status"] == status)
                .map(|j| j["jobId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let mut victim = None;
        // A job C runs, past its first checkpoint and before its second:
        // with 16 pages between checkpoints and 40 pages a job, and at most
        // PAGES_PER_STEP pages let through while it is looked at, it cannot
        // finish before the kill. (Progress is no guide: the sharded walk's
        // estimate jumps.)
        for job in by_c("active") {
            let checkpoints = cluster
                .journal(&job)
                .await
                .iter()
                .filter(|e| e.first() == Some(&b'c'))
                .count();
            if checkpoints == 1 {
                victim = Some(job);
                break;
            }
        }
        if let Some(job) = victim {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "host C never had a checkpointed running job: {jobs:?}"
        );
    };
    let c_ran: Vec<String> = jobs_of(&a, &token)
        .await
        .iter()
        .filter(|j| j["host"] == "host-c" && j["status"] == "completed")
        .map(|j| j["jobId"].as_str().unwrap().to_string())
        .collect();
    c.kill();
    ledger.faults.release();

    // Every job completes, on the two hosts left.
    let mut finals = BTreeMap::new();
    for (job, _) in &submitted {
        let status = a
            .wait_for(&token, job, |s| s["status"] == "completed")
            .await;
        finals.insert(job.clone(), status);
    }
    let elapsed = started.elapsed();
    let requests = ledger.sim.stats().requests() - requests_before;
    let peak = ledger.sim.stats().peak_per_second();

    // Each host ran some; the killed job was taken over and retried.
    let ran_by: BTreeSet<&str> = finals
        .values()
        .map(|s| s["host"].as_str().unwrap())
        .collect();
    for host in ["host-a", "host-b"] {
        assert!(ran_by.contains(host), "{host} ran no job: {ran_by:?}");
    }
    // C ran the victim (its record said so when C was killed), and maybe
    // finished others before.
    for job in &c_ran {
        assert_eq!(finals[job]["host"], "host-c", "{job} stays C's");
    }
    let resumed = &finals[&victim];
    assert_ne!(resumed["host"], "host-c", "{resumed}");
    assert!(resumed["attempts"].as_u64().unwrap() >= 2, "{resumed}");

    // The rate the simulator saw, all hosts together.
    let rate = requests as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{requests} upstream requests in {elapsed:?}: {rate:.1}/s on average, peak {peak} in one second (limit {RATE}/s)"
    );
    assert!(
        requests as usize >= JOBS * 20,
        "the jobs made the requests: {requests}"
    );
    assert!(
        rate <= f64::from(RATE) * 1.05,
        "average {rate:.1}/s over the limit {RATE}/s"
    );
    // Within one wall-clock second: the rate plus a burst of 1, plus what
    // scheduling delays on a loaded machine shift in from the second
    // before. Three unshared limiters would allow three times the limit.
    assert!(
        peak <= u64::from(RATE) * 3 / 2,
        "peak {peak}/s over the limit {RATE}/s"
    );

    // Every document, by job and by CID, from every live host, equals the
    // CLI's for the same request.
    for (job, min) in &submitted {
        let want = &expected[min];
        let status = &finals[job];
        assert_eq!(
            status["documentSha256"].as_str(),
            Some(want.as_str()),
            "{job}"
        );
        let cid = status["ipfsCid"].as_str().unwrap();
        for host in [&a, &b] {
            let bytes = host.download(&token, job, "json").await;
            assert_eq!(&sha256(&bytes), want, "{job} downloaded from {}", host.base);
            let resp = host
                .call(
                    reqwest::Method::GET,
                    &format!("/snapshots/by-cid/{cid}"),
                    Some(token.as_str()),
                )
                .await;
            assert_eq!(resp.status(), 200, "{job} by CID from {}", host.base);
            assert_eq!(&sha256(&resp.bytes().await.unwrap()), want);
        }
    }

    // Every event of every job reached the clients on A and on B: one
    // stream, so the same sequence on both, each a job's life in order.
    let seen_a = tokio::time::timeout(CLUSTER_DEADLINE, collect_a)
        .await
        .expect("A's client got every final event")
        .unwrap();
    let seen_b = tokio::time::timeout(CLUSTER_DEADLINE, collect_b)
        .await
        .expect("B's client got every final event")
        .unwrap();
    assert_eq!(seen_a.len(), JOBS);
    for (job, _) in &submitted {
        check_life(job, &seen_a[job]);
        assert_eq!(
            seen_a[job], seen_b[job],
            "{job}: the clients on A and B differ"
        );
    }
    // The killed job was announced active twice: by C, then by its heir.
    let actives = seen_a[&victim]
        .iter()
        .filter(|e| e["type"] == "snapshots_active")
        .count();
    assert!(actives >= 2, "{:?}", seen_a[&victim]);
    // So A's client saw the jobs B and C ran (C's before it was killed).
    assert!(
        finals
            .iter()
            .any(|(job, s)| s["host"] == "host-b" && seen_a.contains_key(job))
    );
    assert!(c_ran.iter().all(|job| seen_a.contains_key(job)));
}

fn limits(rps: u32) -> LimitsConfig {
    LimitsConfig {
        default: HostLimit {
            requests_per_second: rps,
            max_concurrency: 64,
        },
        per_host: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_limiters_sharing_redis_keep_one_rate_and_one_pause() {
    let cluster = Cluster::start();
    let client = redis::Client::open(cluster.redis_url()).unwrap();
    let rps = 50;
    let mut limiters = Vec::new();
    for _ in 0..3 {
        let limiter = RateLimiter::new(limits(rps));
        limiter
            .share_with(
                SharedRateLimit::connect(&client, "rate-test")
                    .await
                    .unwrap(),
            )
            .unwrap();
        limiters.push(Arc::new(limiter));
    }
    // 60 requests from three limiters at once: alone each would send its
    // 20 in 0.4 s; together they must take (60 - burst) / 50 s.
    let n_each = 20;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for limiter in &limiters {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..n_each {
                drop(limiter.acquire("upstream.example:443").await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let burst = HostLimit {
        requests_per_second: rps,
        max_concurrency: 64,
    }
    .burst();
    let floor = Duration::from_secs_f64(f64::from(3 * n_each - burst) / f64::from(rps));
    assert!(
        start.elapsed() >= floor,
        "{:?} < {floor:?}",
        start.elapsed()
    );

    // A pause set through one limiter holds the others' requests.
    let until = tokio::time::Instant::now() + Duration::from_millis(600);
    limiters[0].pause("paused.example:443", until);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = cluster.redis().await;
    loop {
        let left: i64 = redis::cmd("PTTL")
            .arg("rate-test:upstream:pause:paused.example:443")
            .query_async(&mut conn)
            .await
            .unwrap();
        if left > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the pause never reached Redis");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    limiters[1].acquire("paused.example:443").await.unwrap();
    assert!(
        tokio::time::Instant::now() + Duration::from_millis(50) >= until,
        "another limiter sent during the pause"
    );
}

#[tokio::test]
async fn a_shared_limiter_without_redis_fails_instead_of_sending_unlimited() {
    let mut cluster = Cluster::start();
    let client = redis::Client::open(cluster.redis_url()).unwrap();
    let limiter = RateLimiter::new(limits(1000));
    limiter
        .share_with(
            SharedRateLimit::connect(&client, "down-test")
                .await
                .unwrap(),
        )
        .unwrap();
    limiter.acquire("upstream.example:443").await.unwrap();
    cluster.stop_redis();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        limiter.acquire("upstream.example:443"),
    )
    .await
    .expect("fails within its timeouts")
    .expect_err("no permit without the cluster's limiter");
    assert!(err.to_string().contains("Redis"), "{err}");
}

fn event(job: &str, progress: u8) -> JobEvent {
    JobEvent {
        wallet_id: "0.0.7".into(),
        job_id: job.into(),
        kind: EventType::Active,
        payload: json!({ "jobId": job, "progress": progress }),
    }
}

/// The next event or resync a bus delivers (bounded).
async fn next_delivery(rx: &mut EventReceiver) -> Result<JobEvent, RecvError> {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a delivery within the deadline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_every_host_once_in_order_and_a_redis_restart_resyncs() {
    let mut cluster = Cluster::start();
    let client = redis::Client::open(cluster.redis_url()).unwrap();
    let (one, two) = (Arc::new(EventBus::new()), Arc::new(EventBus::new()));
    relay::start(one.clone(), client.clone(), "relay-test")
        .await
        .unwrap();
    relay::start(two.clone(), client.clone(), "relay-test")
        .await
        .unwrap();
    let (mut on_one, mut on_two) = (one.subscribe(), two.subscribe());

    // Published on one: delivered on both, once, in order (the publisher
    // too, from its subscription only).
    for n in 0..20 {
        one.publish(event("01A", n));
    }
    for rx in [&mut on_one, &mut on_two] {
        for n in 0..20 {
            let e = next_delivery(rx).await.unwrap();
            assert_eq!(e.payload["progress"], n);
        }
    }
    assert!(
        on_one.try_recv().is_err(),
        "no second copy on the publisher"
    );

    // Redis restarts (its data gone): both relays resubscribe and tell
    // their subscribers to resync; events flow again.
    cluster.restart_redis();
    for rx in [&mut on_one, &mut on_two] {
        assert!(matches!(next_delivery(rx).await, Err(RecvError::Lagged(_))));
    }
    two.publish(event("01B", 1));
    for rx in [&mut on_one, &mut on_two] {
        let e = next_delivery(rx).await.unwrap();
        assert_eq!(e.job_id, "01B");
    }
}
