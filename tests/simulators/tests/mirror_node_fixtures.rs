//! Conformance: every recorded mirror-node exchange for the token-info and token-balances routes
//! must come back from the simulator with the same status and JSON body (field order aside).

use std::path::{Path, PathBuf};

use ledger_simulators::mirror_node::{MirrorNodeSimulator, SimulatorConfig, load_setup};
use serde_json::Value;

/// Spec files that are not reproduced, with why. Keep this short.
/// `tokens/id/nfts/*` is out of scope entirely (the `/nfts` route is not simulated), so those
/// files are not listed here: they are never collected.
const SKIPPED: &[(&str, &str)] = &[];

fn specs_root() -> PathBuf {
    // CI places `shared/` beside the checkout, like /work/shared next to /work/main.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/hedera/mirror-node-specs/tokens/id")
}

fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "json")
                && path
                    .file_name()
                    .is_some_and(|name| name != "responseHeaders.json")
        })
        .collect();
    files.sort();
    files
}

/// One recorded exchange: URL, status, body.
struct Exchange {
    url: String,
    status: u16,
    body: Value,
}

fn exchanges(spec: &Value) -> Vec<Exchange> {
    let cases: Vec<&Value> = match spec.get("tests").and_then(Value::as_array) {
        Some(tests) => tests.iter().collect(),
        None => vec![spec],
    };
    let mut out = Vec::new();
    for case in cases {
        let urls: Vec<String> = match (case.get("url"), case.get("urls")) {
            (Some(url), _) => vec![url.as_str().expect("url string").to_owned()],
            (None, Some(urls)) => urls
                .as_array()
                .expect("urls array")
                .iter()
                .map(|u| u.as_str().expect("url string").to_owned())
                .collect(),
            (None, None) => panic!("case without url(s)"),
        };
        let status = case["responseStatus"].as_u64().expect("responseStatus") as u16;
        for url in urls {
            out.push(Exchange {
                url,
                status,
                body: case["responseJson"].clone(),
            });
        }
    }
    out
}

fn expected_cache_control(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("responseHeaders.json")).ok()?;
    let headers: Value = serde_json::from_str(&text).ok()?;
    headers["cache-control"].as_str().map(str::to_owned)
}

async fn check_dir(dir: &Path, failures: &mut Vec<String>, checked: &mut usize) {
    let client = reqwest::Client::new();
    let cache_control = expected_cache_control(dir);
    for file in spec_files(dir) {
        let name = file
            .strip_prefix(specs_root())
            .unwrap_or(&file)
            .display()
            .to_string();
        if SKIPPED.iter().any(|(skipped, _)| *skipped == name) {
            continue;
        }
        let spec: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("read spec"))
            .expect("spec JSON");
        let seed = load_setup(&spec["setup"]).unwrap_or_else(|e| panic!("{name}: setup: {e:#}"));
        let config = SimulatorConfig {
            limits: seed.limits.unwrap_or_default(),
            ..SimulatorConfig::default()
        };
        let simulator = MirrorNodeSimulator::start(config, seed.state.into_shared())
            .await
            .expect("start simulator");
        for exchange in exchanges(&spec) {
            *checked += 1;
            let response = client
                .get(format!("{}{}", simulator.base_url(), exchange.url))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let header = response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let body: Value = response.json().await.expect("JSON body");
            if status != exchange.status || body != exchange.body {
                failures.push(format!(
                    "{name} {}\n  want {} {}\n  got  {status} {body}",
                    exchange.url, exchange.status, exchange.body
                ));
            } else if status == 200 && header != cache_control {
                failures.push(format!(
                    "{name} {}: cache-control {header:?}, want {cache_control:?}",
                    exchange.url
                ));
            }
        }
        simulator.shutdown().await;
    }
}

#[tokio::test]
async fn replays_recorded_token_exchanges() {
    let root = specs_root();
    assert!(root.is_dir(), "fixtures not found at {}", root.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    check_dir(&root, &mut failures, &mut checked).await;
    check_dir(&root.join("balances"), &mut failures, &mut checked).await;
    assert!(checked > 50, "only {checked} exchanges found");
    assert!(
        failures.is_empty(),
        "{} of {checked} exchanges differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
