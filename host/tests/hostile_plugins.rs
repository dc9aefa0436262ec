//! Hostile plugins against the real `snapshot-host serve` (the binary, real
//! sockets, the mirror-node simulator), where `tests/tests/sandbox.rs` proves
//! the same behaviours one call at a time inside the runtime:
//!
//! - files that are not plugins of this host's world — garbage, a core
//!   module, a component of another world, a plugin built against another
//!   WIT version — dropped into the plugins directory before start-up, or
//!   uploaded, are refused with their reason, and the host serves the rest;
//! - the `misbehaving` guest (tests/plugins/misbehaving, built here for
//!   wasm32-wasip2) loaded from the plugins directory: an infinite loop, a
//!   memory bomb, unbounded recursion, a panic, a huge `emit` batch and
//!   egress to a host it was not granted each fail *their* job, at once and
//!   with the reason in the job's `error` and its `snapshots_failed` event,
//!   while a Hedera job that was queued before them completes and the API
//!   keeps answering;
//! - after such jobs the process's resident memory comes back to its
//!   baseline: nothing a dead guest held is leaked.
//!
//! No sleep orders anything: every wait reads events, polls the API or the
//! log until a deadline.

mod common;

// Shared with the in-process suites (crate snapshot-tests depends on this
// crate, so it cannot be a dev-dependency here).
#[path = "../../tests/src/plugin_files.rs"]
mod plugin_files;

use std::collections::BTreeMap;

use common::{
    Backend, CountingServer, Deployment, Ledger, Server, guest_wasm, now, token, wallet_token,
};
use plugin_files::{
    MANIFEST_SECTION, component_of_another_world, edit_manifest, manifest_text, write_atomically,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The misbehaving guest, built once per test binary.
fn misbehaving() -> Vec<u8> {
    static BUILT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            guest_wasm(
                "tests/plugins/misbehaving",
                "snapshot_test_plugin_misbehaving.wasm",
            )
        })
        .clone()
}

async fn misbehaving_async() -> Vec<u8> {
    tokio::task::spawn_blocking(misbehaving).await.unwrap()
}

fn admin_token() -> String {
    token(json!({ "sub": "admin-1", "roles": ["admin"], "exp": now() + 3600 }))
}

/// A core module (what `wasm32-unknown-unknown` builds): the WebAssembly
/// magic and version 1, and the manifest custom section.
fn core_module(manifest: &str) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    let mut section = vec![MANIFEST_SECTION.len() as u8];
    section.extend_from_slice(MANIFEST_SECTION.as_bytes());
    section.extend_from_slice(manifest.as_bytes());
    out.push(0); // custom section
    let mut len = section.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&section);
    out
}

/// The misbehaving plugin as if built against WIT `0.2.0`: every
/// `@0.1.0` interface it imports and exports, and its manifest's `wit`,
/// say `0.2.0`; renamed `renamed` (same length as `misbehaving`) so that
/// its name and chain clash with nothing.
fn built_for_wit_0_2(renamed: &str) -> Vec<u8> {
    let mut bytes = misbehaving();
    let (from, to) = (b"@0.1.0", b"@0.2.0");
    let mut i = 0;
    let mut replaced = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            replaced += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "the component names no @0.1.0 interface");
    let bytes = edit_manifest(&bytes, "wit = \"0.1.0\"", "wit = \"0.2.0\"");
    let bytes = edit_manifest(
        &bytes,
        "name = \"misbehaving\"",
        &format!("name = \"{renamed}\""),
    );
    edit_manifest(
        &bytes,
        "chains = [\"misbehaving\"]",
        &format!("chains = [\"{renamed}\"]"),
    )
}

/// `POST /snapshots/generate/{token_id}` on the misbehaving chain (the id
/// percent-encoded: `egress:<url>` holds slashes).
async fn submit_misbehaving(server: &Server, wallet: &str, token_id: &str) -> String {
    let encoded: String = token_id
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let resp = reqwest::Client::new()
        .post(server.url(&format!("/snapshots/generate/{encoded}")))
        .bearer_auth(wallet)
        .json(&json!({ "chain": "misbehaving" }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{token_id}: {body}");
    body["jobId"].as_str().unwrap().to_string()
}

/// The API still answers: liveness, readiness and the caller's history.
async fn assert_answering(server: &Server, wallet: &str) {
    for path in ["/healthz", "/readyz"] {
        let resp = server.call(Method::GET, path, None).await;
        assert_eq!(resp.status(), 200, "{path}");
    }
    server.history(wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_jobs_fail_with_their_reason_while_a_good_job_completes() {
    let ledger = Ledger::start(3_000, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let good = misbehaving_async().await;
    let manifest = manifest_text(&good);
    write_atomically(&dir.path().join("misbehaving.wasm"), &good);
    // Files of the wrong world, present before start-up: each is refused
    // with its reason, none stops `serve`.
    let wit_0_2 = tokio::task::spawn_blocking(|| built_for_wit_0_2("misbehavinx"))
        .await
        .unwrap();
    let refused: [(&str, Vec<u8>, &str); 4] = [
        (
            "garbage.wasm",
            b"\x7fELF\x02\x01\x01 not wasm at all".to_vec(),
            "not a WebAssembly component",
        ),
        (
            "core.wasm",
            core_module(&manifest),
            "attempted to parse a wasm module with a component parser",
        ),
        (
            "another-world.wasm",
            component_of_another_world(&manifest),
            "does not export the snapshot:plugin@0.1.0 ledger-plugin world",
        ),
        ("wit-0-2.wasm", wit_0_2.clone(), "does not serve"),
    ];
    for (file, bytes, _) in &refused {
        write_atomically(&dir.path().join(file), bytes);
    }
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(
            &ledger.sim,
            &[
                ("SNAPSHOT_PLUGINS_DIR", dir.path().to_str().unwrap()),
                ("SNAPSHOT_QUEUE_CONCURRENCY", "3"),
                // The Hedera job below waits out a simulated outage without
                // running out of attempts.
                ("SNAPSHOT_MAX_RETRIES", "30"),
                ("RUST_LOG", "warn,snapshot_host::registry=info"),
            ],
        )
    });
    for (file, _, reason) in &refused {
        let line = server.wait_for_log(file).await;
        assert!(line.contains("plugin file rejected"), "{file}: {line}");
        assert!(line.contains(reason), "{file}: {line}");
    }
    let loaded = server.plugins(&admin_token()).await;
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        ["hedera", "misbehaving", "xrpl"],
        "only the plugins of this world are served"
    );
    assert_eq!(loaded["misbehaving"]["origin"], "file");

    // The same files uploaded are refused too, and change nothing.
    let admin = admin_token();
    for (name, bytes, reason) in [
        (
            "misbehaving",
            core_module(&manifest),
            "attempted to parse a wasm module with a component parser",
        ),
        ("misbehavinx", wit_0_2, "does not serve"),
    ] {
        let resp = reqwest::Client::new()
            .put(server.url(&format!("/plugins/{name}")))
            .bearer_auth(&admin)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name}");
        let body: Value = resp.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(reason), "{name}: {message}");
    }
    assert_eq!(
        server.plugins(&admin_token()).await,
        loaded,
        "the uploads changed nothing"
    );

    // A good Hedera job, held mid-flight by an outage of its ledger so that
    // every hostile job below runs and fails while it is unfinished.
    let wallet = wallet_token("0.0.1001");
    let mut events = server.events(&wallet).await;
    let good_job = server.submit_job(&wallet, json!({ "at": ledger.at })).await;
    ledger.faults.fail_all(503);

    let egress = CountingServer::start(200, "secret").await;
    let egress_token = format!("egress:{}/secret", egress.base);
    let denial = format!(
        "{} is not in the allowed hosts of plugin misbehaving",
        egress.base
    );
    let hostile: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "an infinite loop",
            "loop".into(),
            vec!["plugin misbehaving@0.1.0 stopped", "CPU time limit"],
        ),
        (
            "a memory bomb",
            "memory".into(),
            vec!["plugin misbehaving@0.1.0 stopped: memory limit of 32 MiB"],
        ),
        (
            "unbounded recursion",
            "stack".into(),
            vec!["plugin misbehaving@0.1.0 crashed"],
        ),
        (
            "a panic",
            "panic".into(),
            vec!["plugin misbehaving@0.1.0 crashed", "boom from the plugin"],
        ),
        (
            "a huge emit batch",
            "huge-emit".into(),
            vec!["plugin misbehaving@0.1.0"],
        ),
        (
            "egress to a host it was not granted",
            egress_token.clone(),
            vec![denial.as_str()],
        ),
    ];
    let mut jobs = BTreeMap::new();
    for (what, token_id, _) in &hostile {
        jobs.insert(submit_misbehaving(&server, &wallet, token_id).await, *what);
    }
    // Each fails once, for good (a plugin's fault is not retried), with
    // its reason, while the API keeps answering.
    let mut failed_events = BTreeMap::new();
    while failed_events.len() < jobs.len() {
        let event = events.next().await;
        let id = event["payload"]["jobId"].as_str().unwrap_or_default();
        if event["type"] == "snapshots_failed" && jobs.contains_key(id) {
            failed_events.insert(id.to_string(), event["payload"].clone());
            assert_answering(&server, &wallet).await;
        }
        assert!(
            !(event["type"] == "snapshots_completed" && jobs.contains_key(id)),
            "a hostile job completed: {event}"
        );
    }
    for (job, what) in &jobs {
        let (_, _, reasons) = hostile.iter().find(|(h, _, _)| h == what).unwrap();
        let record = server.status(&wallet, job).await;
        assert_eq!(record["status"], "failed", "{what}: {record}");
        assert_eq!(record["attempts"], 1, "{what}: not retried: {record}");
        let error = record["error"].as_str().unwrap();
        for reason in reasons {
            assert!(error.contains(reason), "{what}: {error}");
        }
        assert_eq!(
            failed_events[job]["error"], record["error"],
            "{what}: the event carries the reason"
        );
    }
    let huge = jobs
        .iter()
        .find(|(_, w)| **w == "a huge emit batch")
        .unwrap()
        .0;
    let huge_error = server.status(&wallet, huge).await["error"].clone();
    let huge_error = huge_error.as_str().unwrap();
    assert!(
        huge_error.contains("emit of 200000 holders exceeds the limit")
            || huge_error.contains("memory limit of 32 MiB"),
        "{huge_error}"
    );
    assert_eq!(
        egress.hits(),
        0,
        "no request reached the host the plugin was not granted"
    );

    // The good job could not finish during the outage, and finishes after.
    let held = server.status(&wallet, &good_job).await;
    assert!(
        matches!(held["status"].as_str(), Some("waiting" | "active")),
        "{held}"
    );
    ledger.faults.clear();
    let done = server.finished(&wallet, &good_job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let document = server.download(&wallet, &good_job, "json").await;
    assert_eq!(
        document,
        ledger.cli_document().await,
        "the CLI's exact bytes"
    );

    // The very plugin that misbehaved still serves a well-behaved job.
    let ok = submit_misbehaving(&server, &wallet, "ok").await;
    let ok = server.finished(&wallet, &ok).await;
    assert_eq!(ok["status"], "completed", "{ok}");
    assert_eq!(ok["holderCount"], 3, "{ok}");
    assert_eq!(
        server.plugins(&admin_token()).await["misbehaving"]["jobsRun"],
        jobs.len() + 1
    );
}

/// Resident memory may grow while a plugin runs (a memory bomb holds its
/// 32 MiB cap), and the allocator keeps some of what the first jobs used;
/// but after that warm-up, rounds of hostile jobs must not add up: a leak of
/// any dead guest's memory would grow it by at least 32 MiB per memory bomb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_to_its_baseline_after_hostile_jobs() {
    const ROUND: [&str; 5] = ["memory", "huge-emit", "stack", "panic", "memory"];
    const ROUNDS: usize = 4;
    const TOLERANCE: u64 = 48 << 20;

    let ledger = Ledger::start(10, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    write_atomically(
        &dir.path().join("misbehaving.wasm"),
        &misbehaving_async().await,
    );
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(
            &ledger.sim,
            &[
                ("SNAPSHOT_PLUGINS_DIR", dir.path().to_str().unwrap()),
                ("SNAPSHOT_QUEUE_CONCURRENCY", "2"),
                // One malloc arena: memory freed on one worker thread is
                // reused on the next, so a reading measures what is held,
                // not which thread happened to run a job.
                ("MALLOC_ARENA_MAX", "1"),
            ],
        )
    });
    let wallet = wallet_token("0.0.1001");

    // One round of everything, one after another (bounded by its deadline).
    let round = async || {
        for behaviour in ROUND {
            let job = submit_misbehaving(&server, &wallet, behaviour).await;
            let done = server.finished(&wallet, &job).await;
            assert_eq!(done["status"], "failed", "{behaviour}: {done}");
        }
        let job = submit_misbehaving(&server, &wallet, "ok").await;
        assert_eq!(server.finished(&wallet, &job).await["status"], "completed");
    };

    let started = server.resident_bytes();
    round().await;
    let baseline = server.resident_bytes();
    let mut readings = Vec::new();
    for _ in 0..ROUNDS {
        round().await;
        readings.push(server.resident_bytes());
    }
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let report = format!(
        "at start {:.1} MiB, after the warm-up round {:.1} MiB, after each later round {:?} MiB",
        mib(started),
        mib(baseline),
        readings
            .iter()
            .map(|&r| format!("{:.1}", mib(r)))
            .collect::<Vec<_>>()
    );
    eprintln!("resident memory: {report}");
    let last = *readings.last().unwrap();
    assert!(
        last <= baseline + TOLERANCE,
        "resident memory did not return to its baseline: {report}"
    );
    // Rounds are not adding up either (a slow leak under the tolerance).
    let first_later = readings[0];
    assert!(
        last <= first_later + TOLERANCE / 2,
        "resident memory grows round after round: {report}"
    );
    assert_answering(&server, &wallet).await;
}
