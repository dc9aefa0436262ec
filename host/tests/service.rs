//! `snapshot-host serve` as operators run it: the real binary, called over
//! real sockets, against the mirror-node simulator. Every scenario runs on
//! both backends — the embedded SQLite queue and store, and a real
//! redis-server the test starts on a free loopback port — as
//! `sqlite::<scenario>` and `redis::<scenario>`.

mod common;

use common::{Backend, Deployment, Ledger, SocketIoClient, kinds, now, token, wallet_token};
use reqwest::Method;
use serde_json::{Value, json};

/// Runs each scenario `fn(Backend)` once per backend.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Sqlite).await
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Redis).await
                }
            )+
        }
    };
}

on_both_backends!(
    a_job_completes_with_the_clis_document_and_streams_its_events_in_order,
    a_host_killed_mid_job_resumes_after_restart_with_identical_bytes,
    an_outage_outlasting_the_gateways_retries_is_retried_by_the_queue_to_the_same_bytes,
    permanent_failures_are_not_retried_and_retries_are_bounded,
    a_cancelled_job_stops_and_says_so,
    another_wallet_can_neither_see_nor_touch_nor_hear_a_job,
    bad_tokens_bad_bodies_and_bad_credentials_are_refused_before_anything_is_queued,
    the_original_socketio_client_receives_all_five_event_types_of_its_own_jobs_only,
);

/// The JWT checks sit in front of the backends; one backend proves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_key_host_refuses_hmac_tokens_and_checks_issuer_and_audience() {
    public_key_host(Backend::Sqlite).await
}

async fn a_job_completes_with_the_clis_document_and_streams_its_events_in_order(backend: Backend) {
    let ledger = Ledger::start(2_000, 0).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");

    // The WebSocket client connects first, with the token in the query.
    let mut events = server.events(&alice).await;
    let job = server
        .submit_job(&alice, json!({ "chain": "hedera", "at": ledger.at }))
        .await;

    let events = events.until_finished(&job).await;
    assert!(
        events.iter().all(|e| e["payload"]["jobId"] == job.as_str()),
        "{events:?}"
    );
    let types = kinds(&events);
    assert_eq!(types.first(), Some(&"snapshots_waiting"), "{types:?}");
    assert_eq!(types.get(1), Some(&"snapshots_active"), "{types:?}");
    assert!(
        types[2..types.len() - 1]
            .iter()
            .all(|k| *k == "snapshots_progress"),
        "{types:?}"
    );
    assert_eq!(types.last(), Some(&"snapshots_completed"), "{types:?}");
    let last = events.last().unwrap();
    assert_eq!(last["payload"]["status"], "completed");
    assert_eq!(last["payload"]["progress"], 100);
    let progress: Vec<u64> = events
        .iter()
        .filter_map(|e| e["payload"]["progress"].as_u64())
        .collect();
    assert!(
        progress.is_sorted(),
        "progress never goes back: {progress:?}"
    );

    let done = server.status(&alice, &job).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["resolvedAt"], ledger.at.as_str());
    let json = server.download(&alice, &job, "json").await;
    assert!(
        json == ledger.cli_document().await,
        "service and CLI documents differ"
    );
    let csv = server.download(&alice, &job, "csv").await;
    assert!(csv.starts_with(b"rank,account,balance,balance_formatted,share\n"));
    let history = server.history(&alice).await;
    assert_eq!(history["items"][0]["jobId"], job.as_str(), "{history}");
}

async fn a_host_killed_mid_job_resumes_after_restart_with_identical_bytes(backend: Backend) {
    // Slow enough that the kill lands mid-walk: 6,000 accounts, 25 ms per
    // page, 40 pages/s.
    let ledger = Ledger::start(6_000, 25).await;
    let deployment = Deployment::new(backend);
    let alice = wallet_token("0.0.1001");
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    server
        .wait_for(&alice, &job, |s| {
            s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
        })
        .await;
    let requests_before = ledger.sim.stats().requests();
    server.kill();

    // The same data directory and, for Redis, the same redis-server.
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    let json = server.download(&alice, &job, "json").await;
    assert!(
        json == ledger.cli_document().await,
        "the resumed document differs"
    );
    assert!(ledger.sim.stats().requests() > requests_before);
}

async fn an_outage_outlasting_the_gateways_retries_is_retried_by_the_queue_to_the_same_bytes(
    backend: Backend,
) {
    let ledger = Ledger::start(6_000, 25).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");
    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    server
        .wait_for(&alice, &job, |s| {
            s["status"] == "active" && s["progress"].as_u64().unwrap_or(0) >= 10
        })
        .await;

    // The mirror node goes down mid-walk. Each request is retried by the
    // gateway until its attempts run out; then the attempt fails and the
    // queue schedules a retry after its backoff: the job waits again, saying
    // why.
    ledger.faults.fail_all(503);
    let retrying = server
        .wait_for(&alice, &job, |s| {
            s["status"] == "waiting" && s["error"].is_string()
        })
        .await;
    ledger.faults.clear();
    let reason = retrying["error"].as_str().unwrap();
    assert!(
        reason.contains("503") && reason.contains("4 attempts"),
        "the gateway's own retries were spent first: {retrying}"
    );
    assert!(ledger.sim.stats().injected_errors() >= 4);

    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["attempts"].as_u64(),
        retrying["attempts"].as_u64().map(|a| a + 1),
        "one more attempt after the outage: {done}"
    );
    assert!(done["error"].is_null(), "{done}");
    let json = server.download(&alice, &job, "json").await;
    assert!(
        json == ledger.cli_document().await,
        "the retried document differs from an uninterrupted run"
    );
}

async fn permanent_failures_are_not_retried_and_retries_are_bounded(backend: Backend) {
    let ledger = Ledger::start(50, 0).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(&ledger.sim, &[("SNAPSHOT_MAX_RETRIES", "1")])
    });
    let alice = wallet_token("0.0.1001");
    let body = json!({ "chain": "hedera", "at": ledger.at });

    // The token is there when the job is accepted (one request validates
    // it), then the mirror node no longer knows it: a 404 is an answer, not
    // an outage, so neither the gateway nor the queue asks again.
    let requests = ledger.sim.stats().requests();
    ledger.faults.fail_after(1, 404);
    let job = server.submit_job(&alice, body.clone()).await;
    let failed = server.finished(&alice, &job).await;
    ledger.faults.clear();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("does not exist"),
        "{failed}"
    );
    assert_eq!(
        ledger.sim.stats().requests() - requests,
        2,
        "one validation at submission, one at the job's only attempt"
    );

    // An outage that never ends: every attempt spends the gateway's 4
    // tries on the token lookup, and SNAPSHOT_MAX_RETRIES=1 allows one
    // retry, after the queue's backoff.
    let requests = ledger.sim.stats().requests();
    ledger.faults.fail_after(1, 503);
    let job = server.submit_job(&alice, body).await;
    let failed = server.finished(&alice, &job).await;
    ledger.faults.clear();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 2, "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert_eq!(
        ledger.sim.stats().requests() - requests,
        1 + 2 * 4,
        "submission, then 2 attempts of 4 tries each"
    );
    let retried_after =
        failed["completedAt"].as_i64().unwrap() - failed["startedAt"].as_i64().unwrap();
    assert!(
        retried_after >= 2_000,
        "the retry waited for the queue's backoff (2 s): {failed}"
    );
}

async fn a_cancelled_job_stops_and_says_so(backend: Backend) {
    let ledger = Ledger::start(6_000, 25).await;
    let deployment = Deployment::new(backend);
    // One job at a time, so the second one waits behind the first.
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(&ledger.sim, &[("SNAPSHOT_QUEUE_CONCURRENCY", "1")])
    });
    let alice = wallet_token("0.0.1001");
    let running = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    server
        .wait_for(&alice, &running, |s| s["status"] == "active")
        .await;
    let queued = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    let mut events = server.events(&alice).await;

    // A waiting job ends at once.
    let r = server
        .call(
            Method::DELETE,
            &format!("/snapshots/{queued}"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "cancelled", "{body}");
    assert_eq!(server.status(&alice, &queued).await["status"], "cancelled");

    // A running one when its worker next polls the record.
    let r = server
        .call(
            Method::DELETE,
            &format!("/snapshots/{running}"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status(), 202);
    let done = server.finished(&alice, &running).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["error"], "cancelled");
    let failed = events.until_finished(&running).await;
    let last = failed.last().unwrap();
    assert_eq!(last["type"], "snapshots_failed", "{failed:?}");
    assert_eq!(last["payload"]["status"], "error");
    assert_eq!(last["payload"]["error"], "cancelled");

    for job in [&running, &queued] {
        let r = server
            .call(
                Method::GET,
                &format!("/snapshots/{job}/download"),
                Some(&alice),
            )
            .await;
        assert_eq!(r.status(), 409, "nothing to download");
        let r = server
            .call(Method::DELETE, &format!("/snapshots/{job}"), Some(&alice))
            .await;
        assert_eq!(r.status(), 409, "already finished");
    }
}

async fn another_wallet_can_neither_see_nor_touch_nor_hear_a_job(backend: Backend) {
    let ledger = Ledger::start(6_000, 25).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");
    let bob = wallet_token("0.0.2002");
    // Bob listens from before Alice's job exists.
    let mut bobs_events = server.events(&bob).await;

    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    server
        .wait_for(&alice, &job, |s| s["status"] == "active")
        .await;
    // While it runs, Bob can neither see, cancel nor download it: to him it
    // does not exist, exactly like a job id nobody has.
    let nobodys = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for (method, path) in [
        (Method::GET, "/snapshots/{}"),
        (Method::DELETE, "/snapshots/{}"),
        (Method::GET, "/snapshots/{}/download?format=json"),
        (Method::GET, "/snapshots/{}/download?format=csv"),
    ] {
        let theirs = server
            .call(method.clone(), &path.replace("{}", &job), Some(&bob))
            .await;
        assert_eq!(theirs.status(), 404, "{method} {path}");
        let missing = server
            .call(method.clone(), &path.replace("{}", nobodys), Some(&bob))
            .await;
        assert_eq!(missing.status(), 404, "{method} {path}");
    }
    assert_eq!(server.history(&bob).await["items"], json!([]));

    // Bob's cancel did nothing: Alice's job completes.
    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    for path in ["/snapshots/{}", "/snapshots/{}/download"] {
        let r = server
            .call(Method::GET, &path.replace("{}", &job), Some(&bob))
            .await;
        assert_eq!(r.status(), 404, "{path} once completed");
    }
    assert_eq!(server.history(&bob).await["items"], json!([]));

    // Bob's stream never carried Alice's events: his own job, submitted
    // after hers finished, is the first thing it shows (events are
    // delivered in the order they happen).
    let bobs_job = server.submit_job(&bob, json!({ "at": ledger.at })).await;
    let heard = bobs_events.until_finished(&bobs_job).await;
    assert!(
        heard
            .iter()
            .all(|e| e["payload"]["jobId"] == bobs_job.as_str()),
        "{heard:?}"
    );
    assert_eq!(kinds(&heard).first(), Some(&"snapshots_waiting"));

    // Nor does the replay a new connection starts with: Alice's recently
    // finished job is not in Bob's, only his own is, then live events.
    let mut replay = server.events(&bob).await;
    let first = replay.next().await;
    assert_eq!(first["payload"]["jobId"], bobs_job.as_str(), "{first}");
    assert_eq!(first["type"], "snapshots_completed");
    let next_job = server.submit_job(&bob, json!({ "at": ledger.at })).await;
    let second = replay.next().await;
    assert_eq!(second["payload"]["jobId"], next_job.as_str(), "{second}");
    assert_eq!(second["type"], "snapshots_waiting");
    // Alice still sees hers only.
    let alices = server.history(&alice).await;
    let ids: Vec<&str> = alices["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [job.as_str()]);
}

async fn bad_tokens_bad_bodies_and_bad_credentials_are_refused_before_anything_is_queued(
    backend: Backend,
) {
    let ledger = Ledger::start(50, 0).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");
    let client = reqwest::Client::new();
    let post = |path: &str, auth: Option<String>, body: &'static str| {
        let mut r = client
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = auth {
            r = r.bearer_auth(t);
        }
        r.send()
    };

    let r = post("/snapshots/generate/0.0.x", Some(alice.clone()), "")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("shard.realm.num"),
        "{body}"
    );
    let r = post(
        "/snapshots/generate/0.0.999999",
        Some(alice.clone()),
        r#"{"chain":"hedera"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        "/snapshots/generate/0.0.5000",
        Some(alice.clone()),
        r#"{"chian":"hedera"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "unknown fields are refused");
    let huge: &'static str =
        Box::leak(format!("{{\"at\":\"{}\"}}", "9".repeat(100_000)).into_boxed_str());
    let r = post("/snapshots/generate/0.0.5000", Some(alice.clone()), huge)
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["connection"],
        "close",
        "the unread body makes the connection unusable; the client must not reuse it"
    );

    // Every way a bearer token can be wrong is a 401, on every route.
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let (exp, sub) = (now() + 3600, "0.0.1001");
    let valid = token(json!({ "sub": sub, "exp": exp }));
    let (head, _) = valid.split_once('.').unwrap();
    let signature = valid.rsplit_once('.').unwrap().1;
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": sub, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-0123456789abcdef-xyz"),
    )
    .unwrap();
    let bad_tokens: Vec<(&str, String)> = vec![
        ("garbage", "garbage".into()),
        ("three parts, not base64", "a.b.c".into()),
        (
            "claims not JSON",
            format!("{head}.{}.{signature}", b64("not json")),
        ),
        ("expired", token(json!({ "sub": sub, "exp": now() - 3600 }))),
        (
            "not valid yet",
            token(json!({ "sub": sub, "exp": exp, "nbf": now() + 3600 })),
        ),
        ("no exp", token(json!({ "sub": sub }))),
        ("signed with another secret", other_secret),
        (
            "payload changed after signing",
            format!(
                "{head}.{}.{signature}",
                b64(&json!({ "sub": "0.0.2002", "exp": exp }).to_string())
            ),
        ),
        (
            "alg none, unsigned",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&json!({ "sub": sub, "exp": exp }).to_string())
            ),
        ),
        ("no wallet id", token(json!({ "exp": exp }))),
        ("blank sub", token(json!({ "sub": " ", "exp": exp }))),
    ];
    let routes = [
        (Method::POST, "/snapshots/generate/0.0.5000"),
        (Method::GET, "/snapshots"),
        (Method::GET, "/snapshots/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (Method::DELETE, "/snapshots/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (
            Method::GET,
            "/snapshots/01ARZ3NDEKTSV4RRFFQ69G5FAV/download",
        ),
    ];
    for (method, path) in &routes {
        let r = server.call(method.clone(), path, None).await;
        assert_eq!(r.status(), 401, "no Authorization: {method} {path}");
        let r = client
            .request(method.clone(), server.url(path))
            .header("authorization", format!("Basic {}", b64("alice:pw")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "not a bearer token: {method} {path}");
        for (why, bad) in &bad_tokens {
            let r = server.call(method.clone(), path, Some(bad)).await;
            assert_eq!(r.status(), 401, "{why}: {method} {path}");
        }
    }
    // The same on the WebSocket upgrade, by query and by header.
    let ws = server.url("/snapshots/ws").replace("http://", "ws://");
    for (why, bad) in bad_tokens.iter().chain([&("none", String::new())]) {
        let by_query = tokio_tungstenite::connect_async(format!("{ws}?access_token={bad}")).await;
        assert_ws_refused(by_query, why);
    }
    let mut by_header =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws.as_str())
            .unwrap();
    by_header.headers_mut().insert(
        "authorization",
        format!("Bearer {}", bad_tokens[3].1).parse().unwrap(),
    );
    assert_ws_refused(tokio_tungstenite::connect_async(by_header).await, "expired");
    // And the valid token passes, so the refusals above are the token's.
    assert_eq!(
        server
            .call(Method::GET, "/snapshots", Some(&valid))
            .await
            .status(),
        200
    );

    assert_eq!(
        server.history(&alice).await["items"],
        json!([]),
        "nothing was queued"
    );
    assert_eq!(
        server.call(Method::GET, "/readyz", None).await.status(),
        200
    );
    let metrics = server
        .call(Method::GET, "/metrics", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("snapshot_plugin_load_seconds{plugin=\"hedera@0.1.0\"}"),
        "{metrics}"
    );
}

fn assert_ws_refused<T>(result: Result<T, tokio_tungstenite::tungstenite::Error>, why: &str) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 401, "{why}")
        }
        Err(e) => panic!("{why}: the upgrade failed otherwise: {e}"),
        Ok(_) => panic!("{why}: the upgrade was accepted"),
    }
}

async fn public_key_host(backend: Backend) {
    const RSA_PRIVATE: &str = include_str!("../src/api/testdata/rsa_private.pem");
    const RSA_PUBLIC: &str = include_str!("../src/api/testdata/rsa_public.pem");
    const RSA_OTHER_PRIVATE: &str = include_str!("../src/api/testdata/rsa_other_private.pem");
    let ledger = Ledger::start(50, 0).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| {
        deployment.serve_with(
            &ledger.sim,
            &[
                ("JWT_SECRET", ""),
                ("JWT_PUBLIC_KEY", RSA_PUBLIC),
                ("JWT_ISSUER", "https://issuer.example"),
                ("JWT_AUDIENCE", "snapshots"),
            ],
        )
    });
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let rs256 = |pem: &str, claims: Value| {
        encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let exp = now() + 3600;
    let claims = |iss: Option<&str>, aud: Option<Value>| {
        let mut c = json!({ "sub": "0.0.1001", "exp": exp });
        if let Some(iss) = iss {
            c["iss"] = json!(iss);
        }
        if let Some(aud) = aud {
            c["aud"] = aud;
        }
        c
    };
    let good = || claims(Some("https://issuer.example"), Some(json!("snapshots")));
    let history = async |token: &str| {
        server
            .call(Method::GET, "/snapshots", Some(token))
            .await
            .status()
    };

    assert_eq!(history(&rs256(RSA_PRIVATE, good())).await, 200);
    let audience_in_a_list = claims(
        Some("https://issuer.example"),
        Some(json!(["other", "snapshots"])),
    );
    assert_eq!(history(&rs256(RSA_PRIVATE, audience_in_a_list)).await, 200);

    let hs256_with = |secret: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            &good(),
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    for (why, bad) in [
        (
            "HS256 keyed with the RSA public key (algorithm confusion)",
            hs256_with(RSA_PUBLIC.as_bytes()),
        ),
        (
            "HS256 with the old shared secret",
            hs256_with(common::SECRET.as_bytes()),
        ),
        (
            "RS256 signed by another key",
            rs256(RSA_OTHER_PRIVATE, good()),
        ),
        (
            "wrong issuer",
            rs256(
                RSA_PRIVATE,
                claims(Some("https://evil.example"), Some(json!("snapshots"))),
            ),
        ),
        (
            "no issuer",
            rs256(RSA_PRIVATE, claims(None, Some(json!("snapshots")))),
        ),
        (
            "wrong audience",
            rs256(
                RSA_PRIVATE,
                claims(Some("https://issuer.example"), Some(json!("other"))),
            ),
        ),
        (
            "no audience",
            rs256(RSA_PRIVATE, claims(Some("https://issuer.example"), None)),
        ),
    ] {
        assert_eq!(history(&bad).await, 401, "{why}");
    }
}

async fn the_original_socketio_client_receives_all_five_event_types_of_its_own_jobs_only(
    backend: Backend,
) {
    // Slow enough for progress events (at most 4/s per job).
    let ledger = Ledger::start(3_000, 10).await;
    let deployment = Deployment::new(backend);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let alice = wallet_token("0.0.1001");
    let bob = wallet_token("0.0.2002");

    // Submit only once the client is connected, so it sees every event.
    let (client, first) =
        tokio::task::block_in_place(|| SocketIoClient::connect(&server.base, &alice));
    assert_eq!(first, json!({ "connected": true }));
    // Bob's job must not reach Alice's client.
    let bobs = server.submit_job(&bob, json!({ "at": ledger.at })).await;
    let job = server.submit_job(&alice, json!({ "at": ledger.at })).await;
    let events = tokio::task::block_in_place(|| client.events());
    assert!(
        events.iter().all(|e| e["payload"]["jobId"] == job.as_str()),
        "{events:?}"
    );
    let types = kinds(&events);
    assert_eq!(types.first(), Some(&"snapshots_waiting"), "{types:?}");
    assert_eq!(types.get(1), Some(&"snapshots_active"), "{types:?}");
    assert!(types.contains(&"snapshots_progress"), "{types:?}");
    assert_eq!(types.last(), Some(&"snapshots_completed"), "{types:?}");
    let done = events.last().unwrap();
    assert_eq!(done["payload"]["status"], "completed");
    assert_eq!(done["payload"]["jobName"], "generate_snapshot");
    assert_eq!(done["payload"]["snapshotId"], "0.0.5000");

    // The fifth type: a job that fails (the token is gone by the time the
    // job runs), heard by Carol's client (Alice's would first replay her
    // completed job and stop there).
    // (Bob's job must be done first: it would meet the fault too.)
    assert_eq!(server.finished(&bob, &bobs).await["status"], "completed");
    let carol = wallet_token("0.0.3003");
    let (client, first) =
        tokio::task::block_in_place(|| SocketIoClient::connect(&server.base, &carol));
    assert_eq!(first, json!({ "connected": true }));
    ledger.faults.fail_after(1, 404);
    let job = server
        .submit_job(&carol, json!({ "chain": "hedera", "at": ledger.at }))
        .await;
    let events = tokio::task::block_in_place(|| client.events());
    ledger.faults.clear();
    assert!(
        events.iter().all(|e| e["payload"]["jobId"] == job.as_str()),
        "{events:?}"
    );
    assert_eq!(
        kinds(&events),
        ["snapshots_waiting", "snapshots_active", "snapshots_failed"]
    );
    let failed = events.last().unwrap();
    assert_eq!(failed["payload"]["status"], "error");
    assert!(
        failed["payload"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")),
        "{failed}"
    );

    // A client without a valid token is refused at the handshake.
    for bad in [
        "not-a-jwt".to_string(),
        token(json!({ "sub": "0.0.1001", "exp": now() - 3600 })),
    ] {
        let (refused, first) =
            tokio::task::block_in_place(|| SocketIoClient::connect(&server.base, &bad));
        assert!(first["connect_error"].is_string(), "{first}");
        assert_eq!(tokio::task::block_in_place(|| refused.exit_code()), Some(2));
    }
}
