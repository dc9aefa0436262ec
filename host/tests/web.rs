//! The web page end to end, in a real browser: headless Chromium (the
//! system's `/usr/bin/chromium`, driven by `playwright-core` from
//! `tests/web-e2e`) against a real `snapshot-host serve` in front of the
//! Hedera mirror-node simulator. The browser signs in, takes a snapshot,
//! sees its holders so far while the simulator holds the rest of the
//! ledger back, cancels a second snapshot, watches the first one's
//! progress bar reach 100 %, opens the snapshot view and downloads the CSV,
//! which must be byte for byte the API's CSV; as an admin it has a bad
//! plugin file refused, then uploads and removes a plugin. A screenshot of
//! every step lands in `<target tmp dir>/web-e2e/`.
//!
//! Also checks, without a browser, what the page relies on: the page and
//! its assets with their content types and policy, and the summary route.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Backend, Deployment, Ledger, now, token, wallet_token};
use reqwest::Method;
use serde_json::{Value, json};
use snapshot_host::registry::BUNDLED;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Balance pages the simulator answers before it holds the rest back (token
/// lookups are never held): the plugin's probes and a few pages, so the
/// first job has holders but not all of them.
const REQUESTS_BEFORE_HOLD: u64 = 8;

/// Longest the browser run may take (debug host, two busy cores).
const BROWSER_DEADLINE: Duration = Duration::from_secs(300);

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/web-e2e")
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's `chromium` (.ci/run does)",
        path.display()
    );
    path
}

/// A clean directory for this run's screenshots and download.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-e2e");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The list of numbers `key` of the browser run's result.
fn numbers(result: &Value, key: &str) -> Vec<u64> {
    result[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {result}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_takes_a_snapshot_through_the_page() {
    let browser = chromium();
    assert!(
        e2e_dir().join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/web-e2e` first (.ci/run does)"
    );
    // Enough holders and latency for the bar to move through several values.
    let ledger = Ledger::start(3_000, 15).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let wallet = wallet_token("0.0.7001");
    let admin = token(json!({ "sub": "0.0.9", "exp": now() + 3600, "roles": ["admin"] }));
    let out = output_dir();
    println!("web e2e screenshots: {}", out.display());

    // What the admin uploads: the bundled Hedera component as a file
    // (it then overrides the bundled one), and a file that is no component.
    let plugin_file = out.join("hedera.wasm");
    let hedera = BUNDLED.iter().find(|(n, _)| *n == "hedera").unwrap().1;
    std::fs::write(&plugin_file, hedera).unwrap();
    let bad_file = out.join("not-a-component.wasm");
    std::fs::write(&bad_file, b"MZ\x90\x00 this is not WebAssembly").unwrap();

    ledger.faults.hold_after(REQUESTS_BEFORE_HOLD);
    let mut node = tokio::process::Command::new("node");
    node.arg(e2e_dir().join("run.mjs"))
        .arg(&server.base)
        .arg(&wallet)
        .arg(&admin)
        .arg(&out)
        .arg(&ledger.at)
        .arg(&plugin_file)
        .arg(&bad_file)
        .env("CHROMIUM", &browser)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = node.spawn().expect("node runs");
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let mut released = false;
    let run = tokio::time::timeout(BROWSER_DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            // The page has shown the held job's holders so far: let the
            // ledger go on.
            if serde_json::from_str::<Value>(&line).is_ok_and(|v| v["release"] == true) {
                ledger.faults.release();
                released = true;
            }
            stdout.push(line);
        }
        child.wait().await.expect("node ends")
    })
    .await
    .expect("the browser run ends within its deadline");
    ledger.faults.release();
    let stderr = stderr.await.unwrap();
    assert!(
        run.success(),
        "the browser run failed ({run}); screenshots in {}:\n{stderr}\n{}",
        out.display(),
        stdout.join("\n")
    );
    assert!(released, "the page asked for the ledger to be released");
    let result: Value = serde_json::from_str(stdout.last().unwrap()).unwrap();
    let job = result["jobId"].as_str().unwrap();

    // The bar the user watched only went up, and ended at 100 %.
    let seen = numbers(&result, "progressSeen");
    assert_eq!(seen.last(), Some(&100), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    // The job the page started is the snapshot the API has.
    let status = server.status(&wallet, job).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["tokenId"], "0.0.5000");
    assert_eq!(status["at"], ledger.at.as_str());
    let holders = status["holderCount"].as_u64().unwrap();
    assert!(holders > 100, "{status}");

    // While the ledger was held the page counted holders, some but not all,
    // and the count only went up.
    let counted = numbers(&result, "holdersSeen");
    assert!(
        counted
            .first()
            .is_some_and(|&first| 0 < first && first < holders),
        "{counted:?} of {holders}"
    );
    assert!(counted.windows(2).all(|w| w[0] < w[1]), "{counted:?}");
    assert!(counted.iter().all(|&c| c <= holders), "{counted:?}");

    // The second job was cancelled, and says so.
    let cancelled = server
        .status(&wallet, result["cancelledId"].as_str().unwrap())
        .await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_ne!(result["cancelledId"], result["jobId"]);
    // The view shows the count with thousands separators.
    let digits = holders.to_string();
    let grouped: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let facts = result["facts"].as_str().unwrap();
    assert!(facts.contains(&grouped.join(",")), "{holders}: {facts}");
    assert_eq!(result["rows"], 100);

    // The downloaded CSV is the API's CSV, byte for byte.
    let downloaded = std::fs::read(result["csv"].as_str().unwrap()).unwrap();
    let api_csv = server.download(&wallet, job, "csv").await;
    assert_eq!(downloaded.len(), api_csv.len());
    assert!(
        downloaded == api_csv,
        "the downloaded CSV differs from the API's"
    );
    assert!(
        result["suggestedFilename"]
            .as_str()
            .unwrap()
            .ends_with(".csv")
    );

    // The admin's bad file was refused, the upload served from the plugins
    // directory, and its removal restored the bundled plugin.
    assert!(
        !result["uploadRefusal"].as_str().unwrap().is_empty(),
        "{result}"
    );
    assert!(
        result["uploaded"]
            .as_str()
            .unwrap()
            .starts_with("Plugin hedera"),
        "{result}"
    );
    assert!(
        result["removed"].as_str().unwrap().contains("restored"),
        "{result}"
    );
    let plugins_dir = deployment.data_dir().join("plugins");
    assert!(
        !plugins_dir.join("hedera.wasm").exists(),
        "the removed file is gone"
    );
    let listed = server
        .call(Method::GET, "/plugins", Some(&admin))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let hedera = listed["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "hedera")
        .expect("hedera is listed");
    assert_eq!(hedera["origin"], "bundled", "{hedera}");

    // One screenshot per step, each a PNG.
    let shots = result["screenshots"].as_array().unwrap();
    assert!(shots.len() >= 16, "{shots:?}");
    for shot in shots {
        let bytes = std::fs::read(shot.as_str().unwrap()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{shot}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_and_the_summary_is_exact() {
    let ledger = Ledger::start(250, 0).await;
    let deployment = Deployment::new(Backend::Sqlite);
    let server = tokio::task::block_in_place(|| deployment.serve(&ledger.sim));
    let client = reqwest::Client::new();

    // The page and its assets, without a token, with a strict policy.
    let page = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/assets/app.js"));
    for (asset, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ] {
        let resp = client
            .get(server.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert_eq!(resp.headers()["content-type"], content_type);
    }
    assert_eq!(
        client
            .get(server.url("/assets/missing.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The API is unchanged around it.
    let doc: Value = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/snapshots/{jobId}/summary"]["get"].is_object());
    assert!(doc["paths"].get("/").is_none());

    // The summary of a real snapshot agrees with its document.
    let alice = wallet_token("0.0.1001");
    let job = server
        .submit_job(&alice, json!({ "chain": "hedera", "at": ledger.at }))
        .await;
    let early = server
        .call(
            Method::GET,
            &format!("/snapshots/{job}/summary"),
            Some(&alice),
        )
        .await;
    // Either still running (409) or already done (200); never anything else.
    assert!(
        [200, 409].contains(&early.status().as_u16()),
        "{}",
        early.status()
    );
    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    let document: Value =
        serde_json::from_slice(&server.download(&alice, &job, "json").await).unwrap();
    let resp = server
        .call(
            Method::GET,
            &format!("/snapshots/{job}/summary?top=7"),
            Some(&alice),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let summary: Value = resp.json().await.unwrap();
    assert_eq!(summary["jobId"], job.as_str());
    assert_eq!(summary["holderCount"], document["holder_count"]);
    assert_eq!(summary["resolvedAt"], document["resolved_at"]);
    assert_eq!(summary["totalBalance"], document["total_balance"]);
    let top = summary["top"].as_array().unwrap();
    assert_eq!(top.len(), 7);
    for (row, holder) in top.iter().zip(document["holders"].as_array().unwrap()) {
        assert_eq!(row["account"], holder["account"]);
        assert_eq!(row["balance"], holder["balance"]);
        assert_eq!(row["share"], holder["share"]);
    }
    let cumulative = summary["cumulative"].as_array().unwrap();
    let last = cumulative.last().unwrap();
    assert_eq!(last["holders"], document["holder_count"]);
    assert_eq!(last["balance"], document["total_balance"]);
    assert_eq!(last["share"], "1");
    let counted: u64 = summary["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(Some(counted), document["holder_count"].as_u64());

    // Authorized like the job itself: another wallet sees no such job, no
    // token is a 401, a bad `top` a 400.
    let bob = wallet_token("0.0.1002");
    let path = format!("/snapshots/{job}/summary");
    assert_eq!(
        server.call(Method::GET, &path, Some(&bob)).await.status(),
        404
    );
    assert_eq!(server.call(Method::GET, &path, None).await.status(), 401);
    for bad in ["?top=0", "?top=1001", "?top=x", "?rows=5"] {
        let resp = server
            .call(Method::GET, &format!("{path}{bad}"), Some(&alice))
            .await;
        assert_eq!(resp.status(), 400, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["statusCode"], 400);
    }
}
