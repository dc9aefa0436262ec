//! Finished documents on IPFS, against a real IPFS node (js-ipfs, started
//! by the test on a free loopback port; `npm ci --prefix tests/ipfs-daemon`
//! installs it): the local store names every document as the node does,
//! `serve` pins what it completes, and a node that is down when a job
//! finishes gets the documents later — across a host restart — under the
//! same CIDs.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Deployment, Ledger, Server, kinds, wallet_token};
use serde_json::{Value, json};
use snapshot_host::artifacts::{ArtifactStore, KuboClient, KuboConfig, LocalCas, unixfs_cid};

pub use common::{await_ready, free_port};

#[allow(dead_code)]
#[path = "../../tests/src/ipfs.rs"]
mod ipfs;
use ipfs::IpfsDaemon;

/// Bytes that do not compress or repeat (a fixed xorshift stream).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn client(daemon: &IpfsDaemon) -> KuboClient {
    KuboClient::new(KuboConfig::new(&daemon.api_url()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_store_names_documents_of_every_size_as_the_ipfs_node_does() {
    let daemon = tokio::task::block_in_place(IpfsDaemon::start);
    let node = client(&daemon);
    assert!(!node.version().await.unwrap().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let local = LocalCas::new(dir.path());
    const CHUNK: usize = 256 * 1024;
    for len in [0, 1024, CHUNK, CHUNK + 1, 5 * 1024 * 1024 + 12_345] {
        let bytes = noise(len);
        let ours = local.put(bytes.clone().into()).await.unwrap();
        let theirs = node.add(bytes.clone().into()).await.unwrap();
        assert_eq!(ours, theirs, "{len} bytes");
        assert_eq!(ours, unixfs_cid(&bytes));
        assert_eq!(node.cat(&theirs).await.unwrap(), bytes, "{len} bytes");
        assert_eq!(local.get(&ours).await.unwrap().unwrap(), bytes);
        // What the node answers is checked against the CID asked for.
        assert_eq!(node.get(&ours).await.unwrap().unwrap(), bytes);
    }
}

fn ipfs_env(api: &str) -> Vec<(&str, &str)> {
    vec![
        ("IPFS_API_URL", api),
        ("IPFS_GATEWAY_URL", "https://gateway.example/"),
        ("SNAPSHOT_IPFS_RETRY_MAX_SECS", "1"),
    ]
}

/// A by-CID fetch: status, content type, body.
async fn by_cid(server: &Server, token: Option<&str>, cid: &str) -> (u16, String, Vec<u8>) {
    let resp = server
        .call(
            reqwest::Method::GET,
            &format!("/snapshots/by-cid/{cid}"),
            token,
        )
        .await;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_job_is_pinned_on_the_node_and_served_by_cid() {
    let daemon = tokio::task::block_in_place(IpfsDaemon::start);
    let ledger = Ledger::start(300, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let api = daemon.api_url();
    let server =
        tokio::task::block_in_place(|| deployment.serve_with(&ledger.sim, &ipfs_env(&api)));
    let alice = wallet_token("0.0.1001");
    let mut events = server.events(&alice).await;

    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    let status = server.finished(&alice, &job).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["ipfsStatus"], "pinned", "{status}");
    let (json_cid, csv_cid) = (
        status["ipfsCid"].as_str().unwrap().to_string(),
        status["csvCid"].as_str().unwrap().to_string(),
    );
    assert_eq!(
        status["ipfsUrl"],
        format!("https://gateway.example/ipfs/{json_cid}")
    );
    assert_eq!(
        status["csvUrl"],
        format!("https://gateway.example/ipfs/{csv_cid}")
    );

    // The event says the same.
    let seen = events.until_finished(&job).await;
    assert_eq!(kinds(&seen).last(), Some(&"snapshots_completed"));
    let done = &seen.last().unwrap()["payload"];
    assert_eq!(done["ipfsCid"], json_cid.as_str());
    assert_eq!(done["csvCid"], csv_cid.as_str());
    assert_eq!(done["ipfsStatus"], "pinned");
    assert_eq!(done["ipfsUrl"], status["ipfsUrl"]);

    // The same bytes: downloaded, named by the CID, on the node, by CID.
    let node = client(&daemon);
    let json_doc = server.download(&alice, &job, "json").await;
    let csv_doc = server.download(&alice, &job, "csv").await;
    assert_eq!(json_doc, ledger.cli_document().await, "the CLI's document");
    for (cid, doc, content_type) in [
        (&json_cid, &json_doc, "application/json"),
        (&csv_cid, &csv_doc, "text/csv; charset=utf-8"),
    ] {
        assert_eq!(unixfs_cid(doc).to_string(), *cid);
        assert_eq!(node.cat(&cid.parse().unwrap()).await.unwrap(), *doc);
        let (code, ct, body) = by_cid(&server, Some(&alice), cid).await;
        assert_eq!((code, ct.as_str()), (200, content_type));
        assert_eq!(body, *doc);
        // Any authenticated wallet may fetch by CID (the content is public
        // on IPFS); nobody without a token.
        let bob = wallet_token("0.0.2002");
        assert_eq!(by_cid(&server, Some(&bob), cid).await.0, 200);
        assert_eq!(by_cid(&server, None, cid).await.0, 401);
    }

    // Bad and unknown CIDs.
    for bad in ["not-a-cid", "bafy", "..%2F..%2Fetc%2Fpasswd"] {
        let (code, _, body) = by_cid(&server, Some(&alice), bad).await;
        assert_eq!(code, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    let unknown = unixfs_cid(b"no snapshot has these bytes").to_string();
    assert_eq!(by_cid(&server, Some(&alice), &unknown).await.0, 404);
}

/// Polls the job until its `ipfsStatus` is `want` (bounded).
async fn wait_ipfs_status(server: &Server, token: &str, job: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = server.status(token, job).await;
        if status["ipfsStatus"] == want {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ipfsStatus never became {want}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_at_completion_gets_the_documents_later_under_the_same_cids() {
    let mut daemon = tokio::task::block_in_place(IpfsDaemon::start);
    let ledger = Ledger::start(300, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let api = daemon.api_url();
    let server =
        tokio::task::block_in_place(|| deployment.serve_with(&ledger.sim, &ipfs_env(&api)));
    let alice = wallet_token("0.0.1001");

    // Hold the job mid-run (the ledger answers 503 after validation) while
    // the node goes down, then let it finish.
    ledger.faults.fail_after(1, 503);
    let requests = ledger.sim.stats().requests();
    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while ledger.sim.stats().requests() < requests + 3 {
        assert!(
            Instant::now() < deadline,
            "the job never reached the ledger"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::block_in_place(|| daemon.stop());
    ledger.faults.clear();

    let status = server.finished(&alice, &job).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["ipfsStatus"], "pending", "{status}");
    let json_cid = status["ipfsCid"].as_str().unwrap().to_string();
    let csv_cid = status["csvCid"].as_str().unwrap().to_string();
    // Nothing waits on the node: the documents are served from the local
    // store already, under the CIDs they will have on IPFS.
    let json_doc = server.download(&alice, &job, "json").await;
    assert_eq!(unixfs_cid(&json_doc).to_string(), json_cid);
    assert_eq!(by_cid(&server, Some(&alice), &json_cid).await.2, json_doc);

    // The host dies while the upload is owed; the node comes back; a new
    // host on the same data directory finishes the upload.
    server.kill();
    tokio::task::block_in_place(|| daemon.start_again());
    let server =
        tokio::task::block_in_place(|| deployment.serve_with(&ledger.sim, &ipfs_env(&api)));
    let status = wait_ipfs_status(&server, &alice, &job, "pinned").await;
    assert_eq!(
        status["ipfsCid"],
        json_cid.as_str(),
        "the CID did not change"
    );
    assert_eq!(status["csvCid"], csv_cid.as_str());
    let node = client(&daemon);
    assert_eq!(
        node.cat(&json_cid.parse().unwrap()).await.unwrap(),
        json_doc
    );
    assert_eq!(
        node.cat(&csv_cid.parse().unwrap()).await.unwrap(),
        server.download(&alice, &job, "csv").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_node_documents_are_content_addressed_locally() {
    let ledger = Ledger::start(50, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");
    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    let status = server.finished(&alice, &job).await;
    assert_eq!(status["ipfsStatus"], "local", "{status}");
    assert!(status.get("ipfsUrl").is_none_or(Value::is_null), "{status}");
    let doc = server.download(&alice, &job, "json").await;
    let cid = status["ipfsCid"].as_str().unwrap();
    assert_eq!(unixfs_cid(&doc).to_string(), cid);
    assert_eq!(by_cid(&server, Some(&alice), cid).await.2, doc);
}
