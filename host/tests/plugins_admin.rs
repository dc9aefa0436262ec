//! Plugin management against the real `snapshot-host serve`: the admin
//! routes (`GET /plugins`, `PUT` and `DELETE /plugins/{name}`), their auth,
//! uploads that are refused without changing anything, the plugins
//! directory watched while serving, `plugins_changed` events for admins
//! only, and the operator's plugin config file.
//!
//! Plugin versions are the bundled components with their embedded manifest
//! edited in place (`tests/src/plugin_files.rs`). No sleep orders anything:
//! every wait reads events or polls until a deadline.

mod common;

// Shared with the in-process suites (crate snapshot-tests depends on this
// crate, so it cannot be a dev-dependency here).
#[path = "../../tests/src/plugin_files.rs"]
mod plugin_files;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Deployment, Events, Ledger, Server, now, token, wallet_token};
use plugin_files::{
    component_of_another_world, edit_manifest, manifest_text, truncated, with_import_renamed,
    with_version, write_atomically,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use snapshot_host::registry::BUNDLED;

/// `PUT /plugins/{name}`'s own body limit.
const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

fn admin_token() -> String {
    token(json!({ "sub": "admin-1", "roles": ["admin"], "exp": now() + 3600 }))
}

fn bundled(name: &str) -> Vec<u8> {
    BUNDLED
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no bundled {name}"))
        .1
        .to_vec()
}

/// `serve` with `plugins_dir` as its plugins directory, plus `env`.
fn serve(
    deployment: &Deployment,
    ledger: &Ledger,
    plugins_dir: &Path,
    env: &[(&str, &str)],
) -> Server {
    let dir = plugins_dir.to_str().unwrap();
    let mut all = vec![("SNAPSHOT_PLUGINS_DIR", dir)];
    all.extend_from_slice(env);
    deployment.serve_with(&ledger.sim, &all)
}

async fn put(server: &Server, token: Option<&str>, name: &str, body: Vec<u8>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .put(server.url(&format!("/plugins/{name}")))
        .header("content-type", "application/wasm")
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// The next `plugins_changed` event on an admin's socket.
async fn next_change(events: &mut Events) -> Value {
    loop {
        let event = events.next().await;
        if event["type"] == "plugins_changed" {
            return event["payload"].clone();
        }
    }
}

/// `(name, version, sha256, origin)` of every plugin: what must not change.
fn fingerprint(plugins: &serde_json::Map<String, Value>) -> Vec<(String, String, String, String)> {
    plugins
        .values()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("version"), s("sha256"), s("origin"))
        })
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_needs_a_token_with_the_admin_role() {
    let ledger = Ledger::start(20, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&deployment, &ledger, dir.path(), &[]);
    let before = fingerprint(&server.plugins(&admin_token()).await);
    let wallet = wallet_token("0.0.1001");
    let variant = with_version(&bundled("hedera"), "0.1.1");

    for (method, path) in [
        (Method::GET, "/plugins"),
        (Method::PUT, "/plugins/hedera"),
        (Method::DELETE, "/plugins/hedera"),
    ] {
        for (token, expected) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some(wallet.as_str()), StatusCode::FORBIDDEN),
        ] {
            let mut req = reqwest::Client::new().request(method.clone(), server.url(path));
            if method == Method::PUT {
                req = req.body(variant.clone());
            }
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), expected, "{method} {path} with {token:?}");
            if expected == StatusCode::UNAUTHORIZED {
                assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            }
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["statusCode"], expected.as_u16(), "{body}");
            if expected == StatusCode::FORBIDDEN {
                assert_eq!(body["message"], "admin role required");
            }
        }
    }
    assert_eq!(
        fingerprint(&server.plugins(&admin_token()).await),
        before,
        "nothing changed"
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_replaces_adds_and_removes_plugins_and_only_admins_hear_of_it() {
    let ledger = Ledger::start(40, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&deployment, &ledger, dir.path(), &[]);
    let admin = admin_token();
    let wallet = wallet_token("0.0.1001");
    let mut admin_events = server.events(&admin).await;
    let mut wallet_events = server.events(&wallet).await;

    let listed = server.plugins(&admin_token()).await;
    let hedera = &listed["hedera"];
    assert_eq!(hedera["version"], "0.1.0");
    assert_eq!(hedera["origin"], "bundled");
    assert_eq!(hedera["wit"], "0.1.0");
    assert_eq!(hedera["chains"], json!(["hedera"]));
    assert_eq!(hedera["jobsRun"], 0);
    assert_eq!(hedera["file"], Value::Null);
    assert!(hedera["loadedAt"].as_i64().unwrap() > 0);
    let caps = &hedera["capabilities"];
    assert_eq!(
        caps["allowedHosts"][0],
        "https://mainnet.mirrornode.hedera.com"
    );
    assert_eq!(caps["grantedHosts"], Value::Null);
    assert_eq!(caps["anyHostGranted"], false);
    assert_eq!(caps["memoryMb"], 256);
    assert_eq!(
        caps["rateLimits"][0],
        json!({"host": "*.mirrornode.hedera.com", "requestsPerSecond": 50, "maxConcurrency": 16})
    );
    assert_eq!(caps["config"]["shards"], "16");
    assert!(listed.contains_key("xrpl"));

    // Replace the bundled hedera with 0.1.1 (hundreds of KiB: well past the
    // API's 16 KiB limit for other routes).
    let v2 = with_version(&bundled("hedera"), "0.1.1");
    assert!(v2.len() > 16 * 1024);
    let resp = put(&server, Some(&admin), "hedera", v2.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["version"], "0.1.1");
    assert_eq!(view["origin"], "file");
    assert_eq!(view["file"], "hedera.wasm");
    assert_eq!(
        std::fs::read(dir.path().join("hedera.wasm")).unwrap(),
        v2,
        "written into the plugins directory"
    );
    assert_eq!(
        entries(dir.path()),
        ["hedera.wasm"],
        "no temporary file left"
    );
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "replaced");
    assert_eq!(change["name"], "hedera");
    assert_eq!(change["previousVersion"], "0.1.0");
    assert_eq!(change["version"], "0.1.1");
    assert_eq!(change["sha256"], view["sha256"]);

    // The next job runs on 0.1.1; the wallet hears only of its job.
    let job = server
        .submit_job(&wallet, json!({ "chain": "hedera", "at": ledger.at }))
        .await;
    let events = wallet_events.until_finished(&job).await;
    assert!(
        events
            .iter()
            .all(|e| e["type"].as_str().unwrap().starts_with("snapshots_")),
        "{events:?}"
    );
    assert_eq!(
        events.last().unwrap()["type"],
        "snapshots_completed",
        "{events:?}"
    );
    let document: Value =
        serde_json::from_slice(&server.download(&wallet, &job, "json").await).unwrap();
    assert_eq!(document["plugin"]["version"], "0.1.1");
    assert_eq!(document["plugin"]["sha256"], view["sha256"]);
    assert_eq!(server.plugins(&admin_token()).await["hedera"]["jobsRun"], 1);

    // A plugin of a new name for an existing chain is refused ...
    let other_name = edit_manifest(&v2, "name = \"hedera\"", "name = \"hederb\"");
    let resp = put(&server, Some(&admin), "hederb", other_name.clone()).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("chain hedera is already handled by plugin hedera"),
        "{body}"
    );
    // ... and one for a new chain is added (201).
    let new_chain = edit_manifest(
        &other_name,
        "chains = [\"hedera\"]",
        "chains = [\"hederb\"]",
    );
    let resp = put(&server, Some(&admin), "hederb", new_chain).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let change = next_change(&mut admin_events).await;
    assert_eq!(
        (change["action"].as_str(), change["name"].as_str()),
        (Some("added"), Some("hederb"))
    );

    // Both survive a restart: they are files in the plugins directory.
    drop(admin_events);
    drop(wallet_events);
    server.kill();
    let server = serve(&deployment, &ledger, dir.path(), &[]);
    let listed = server.plugins(&admin_token()).await;
    assert_eq!(listed["hedera"]["version"], "0.1.1");
    assert_eq!(listed["hedera"]["origin"], "file");
    assert_eq!(listed["hederb"]["chains"], json!(["hederb"]));
    let mut admin_events = server.events(&admin).await;

    // Removing the override brings the bundled hedera back.
    let resp = server
        .call(Method::DELETE, "/plugins/hedera", Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let removed: Value = resp.json().await.unwrap();
    assert_eq!(removed["action"], "restored");
    assert_eq!(removed["serving"]["version"], "0.1.0");
    assert_eq!(removed["serving"]["origin"], "bundled");
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "restored");
    assert_eq!(change["previousVersion"], "0.1.1");
    assert_eq!(change["version"], "0.1.0");

    // Removing a plugin of its own name leaves nothing for its chain.
    let resp = server
        .call(Method::DELETE, "/plugins/hederb", Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let removed: Value = resp.json().await.unwrap();
    assert_eq!(
        (removed["action"].as_str(), &removed["serving"]),
        (Some("removed"), &Value::Null)
    );
    assert_eq!(next_change(&mut admin_events).await["action"], "removed");
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));

    // A bundled plugin cannot be removed; an unknown one is a 404.
    let resp = server
        .call(Method::DELETE, "/plugins/hedera", Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = server
        .call(Method::DELETE, "/plugins/nope", Some(&admin))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server.plugins(&admin_token()).await["hedera"]["version"],
        "0.1.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_upload_is_a_400_with_the_reason_and_changes_nothing() {
    let ledger = Ledger::start(20, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&deployment, &ledger, dir.path(), &[]);
    let admin = admin_token();
    let before = fingerprint(&server.plugins(&admin_token()).await);
    let hedera = bundled("hedera");

    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "empty",
            "hedera",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "not a WebAssembly component",
        ),
        (
            "garbage",
            "hedera",
            b"MZ\x90\x00 not wasm".to_vec(),
            StatusCode::BAD_REQUEST,
            "not a WebAssembly component",
        ),
        (
            "truncated",
            "hedera",
            truncated(&hedera),
            StatusCode::BAD_REQUEST,
            "not a WebAssembly component",
        ),
        (
            "another world",
            "hedera",
            component_of_another_world(&manifest_text(&hedera)),
            StatusCode::BAD_REQUEST,
            "does not export the snapshot:plugin@0.1.0 ledger-plugin world",
        ),
        (
            "a missing import",
            "hedera",
            with_import_renamed(
                &hedera,
                "snapshot:plugin/http@0.1.0",
                "snapshot:plugin/xttp@0.1.0",
            ),
            StatusCode::BAD_REQUEST,
            "imports something this host does not provide",
        ),
        (
            "an unsupported WIT line",
            "hedera",
            edit_manifest(&hedera, "wit = \"0.1.0\"", "wit = \"0.9.0\""),
            StatusCode::BAD_REQUEST,
            "does not serve",
        ),
        (
            "another plugin's name",
            "xrpl",
            hedera.clone(),
            StatusCode::BAD_REQUEST,
            "names plugin \"hedera\", not \"xrpl\"",
        ),
        (
            "an upper-case name",
            "Hedera",
            hedera.clone(),
            StatusCode::BAD_REQUEST,
            "invalid plugin name",
        ),
        (
            "a path in the name",
            "..%2F..%2Fetc%2Fhedera",
            hedera.clone(),
            StatusCode::BAD_REQUEST,
            "invalid plugin name",
        ),
        (
            "a dot in the name",
            "hedera.wasm",
            hedera.clone(),
            StatusCode::BAD_REQUEST,
            "invalid plugin name",
        ),
    ];
    for (what, name, body, status, reason) in cases {
        let resp = put(&server, Some(&admin), name, body).await;
        assert_eq!(resp.status(), status, "{what}");
        let body: Value = resp.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(reason), "{what}: {message}");
        assert_eq!(body["statusCode"], status.as_u16(), "{what}");
    }

    // Over the upload limit: 413 (the connection is closed, so a fresh
    // client per request).
    let resp = put(
        &server,
        Some(&admin),
        "hedera",
        vec![0u8; MAX_PLUGIN_BYTES + 1],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        fingerprint(&server.plugins(&admin_token()).await),
        before,
        "nothing changed"
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_into_the_plugins_directory_serves_without_a_restart() {
    let ledger = Ledger::start(20, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&deployment, &ledger, dir.path(), &[]);
    let mut admin_events = server.events(&admin_token()).await;
    let file = dir.path().join("hedera-0.1.2.wasm");

    write_atomically(&file, &with_version(&bundled("hedera"), "0.1.2"));
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "replaced");
    assert_eq!(change["file"], "hedera-0.1.2.wasm");
    let listed = server.plugins(&admin_token()).await;
    assert_eq!(listed["hedera"]["version"], "0.1.2");
    assert_eq!(listed["hedera"]["file"], "hedera-0.1.2.wasm");
    let live_sha = listed["hedera"]["sha256"].clone();

    // A broken rewrite is rejected with its reason; 0.1.2 stays live.
    write_atomically(&file, b"\0asm\x0d\x00\x01\x00 truncated");
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "rejected");
    assert_eq!(change["name"], "hedera");
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly component"),
        "{change}"
    );
    assert_eq!(
        server.plugins(&admin_token()).await["hedera"]["sha256"],
        live_sha
    );

    // Removing the file brings the bundled version back.
    std::fs::remove_file(&file).unwrap();
    let change = next_change(&mut admin_events).await;
    assert_eq!(change["action"], "restored");
    assert_eq!(
        server.plugins(&admin_token()).await["hedera"]["origin"],
        "bundled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_plugin_config_shows_in_the_capabilities_and_a_bad_one_stops_serve() {
    let ledger = Ledger::start(20, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("plugins.toml");

    // A bad file: serve refuses to start, naming the file and the line.
    std::fs::write(
        &config,
        "[plugins.hedera]\nallowed_hosts = [\"mainnet.mirrornode.hedera.com\"]\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--plugin-config")
        .arg(&config)
        .env("JWT_SECRET", common::SECRET)
        .env_remove("REDIS_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve kept running with a bad plugin config"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("{}: line 2:", config.display()))
            && stderr.contains("expected http://"),
        "{stderr}"
    );

    // A good one: the effective capabilities are the intersection.
    std::fs::write(
        &config,
        r#"# operator grants
[plugins.hedera]
allowed_hosts = ["https://mainnet.mirrornode.hedera.com"]
memory_mb = 64
cpu_seconds = 600
config = { shards = "4" }

[[plugins.hedera.rate_limits]]
host = "*.mirrornode.hedera.com"
requests_per_second = 5
max_concurrency = 2
"#,
    )
    .unwrap();
    let plugins_dir = dir.path().join("plugins");
    let config_path = config.to_str().unwrap();
    let server = serve(
        &deployment,
        &ledger,
        &plugins_dir,
        &[("SNAPSHOT_PLUGIN_CONFIG", config_path)],
    );
    let caps = server.plugins(&admin_token()).await["hedera"]["capabilities"].clone();
    assert_eq!(
        caps["grantedHosts"],
        json!(["https://mainnet.mirrornode.hedera.com"])
    );
    assert_eq!(caps["memoryMb"], 64, "the smaller of 256 and 64");
    assert_eq!(caps["cpuSeconds"], 120, "the smaller of 120 and 600");
    assert_eq!(
        caps["rateLimits"],
        json!([{"host": "*.mirrornode.hedera.com", "requestsPerSecond": 5, "maxConcurrency": 2}])
    );
    assert_eq!(caps["config"]["shards"], "4");

    // The operator's endpoint passes the narrowing: a job completes.
    let wallet = wallet_token("0.0.1001");
    let job = server
        .submit_job(&wallet, json!({ "chain": "hedera", "at": ledger.at }))
        .await;
    let status = server.finished(&wallet, &job).await;
    assert_eq!(status["status"], "completed", "{status}");
}
