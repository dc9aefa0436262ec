//! `GET /openapi.json` against the real `snapshot-host serve`: the document
//! must describe what the running server really answers, so each check
//! below fails if the document and the code drift apart.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ledger_simulators::mirror_node::{
    EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator, SimulatorConfig,
};
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "openapi-test-secret-0123456789abcdef";

/// A running `snapshot-host serve`, killed on drop (as in `service.rs`).
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, sim: &RunningSimulator) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--rate-limit", &format!("{}=40:8", sim.address())])
            .env("JWT_SECRET", SECRET)
            .env("SNAPSHOT_ENDPOINT_HEDERA", sim.base_url())
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_HOST")
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        // The server prints its address once it listens.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("snapshot-host listening on ") {
                break addr.trim().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wallet_token(wallet: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": wallet, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn simulator() -> RunningSimulator {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(5_000), 200, 17);
    MirrorNodeSimulator::start(SimulatorConfig::default(), state.into_shared())
        .await
        .unwrap()
}

/// `schema` with every `$ref` followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {reference}"));
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The property names an object of `schema` has: its own, those of every
/// `allOf` part (serde's `flatten`), and those of the non-null alternatives
/// of a `oneOf` / `anyOf` (an `Option<T>`).
fn property_names(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut names: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for key in ["allOf", "oneOf", "anyOf"] {
        for part in schema[key].as_array().into_iter().flatten() {
            names.extend(property_names(doc, part));
        }
    }
    names
}

/// The same, of the schema object `schema` resolves to, as required names.
fn required_names(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut names: BTreeSet<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(required_names(doc, part));
    }
    names
}

fn keys(body: &Value) -> BTreeSet<String> {
    body.as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"))
        .keys()
        .cloned()
        .collect()
}

/// Every `"$ref"` string anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// `METHOD /path` of every route in README's service route table
/// (`GET /healthz`, `/readyz`: a path without a method takes the previous
/// one; the query is dropped).
fn readme_routes() -> BTreeSet<(String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("\n## The service")
        .nth(1)
        .expect("README has a service section");
    let section = section.split("\n## ").next().unwrap();
    let mut routes = BTreeSet::new();
    for line in section.lines() {
        let Some(first_cell) = line.strip_prefix("| ").and_then(|l| l.split(" | ").next()) else {
            continue;
        };
        let mut method = None;
        for (i, item) in first_cell.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let (m, path) = match item.split_once(' ') {
                Some((m, path)) if m.chars().all(|c| c.is_ascii_uppercase()) => {
                    (Some(m.to_string()), path)
                }
                _ => (method.clone(), item),
            };
            let Some(m) = m else {
                break; // not a route row (the socket.io namespace)
            };
            method = Some(m.clone());
            let path = path.split('?').next().unwrap();
            if path.starts_with('/') {
                routes.insert((m.to_lowercase(), path.to_string()));
            }
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_describes_the_running_api() {
    let sim = simulator().await;
    let data = tempfile::tempdir().unwrap();
    let server = tokio::task::block_in_place(|| Server::start(data.path(), &sim));
    let client = reqwest::Client::new();
    let alice = wallet_token("0.0.1001");

    // Served without a token, as JSON.
    let resp = client
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut all_refs = Vec::new();
    refs(&doc, &mut all_refs);
    for r in &all_refs {
        resolve(&doc, &json!({ "$ref": r }));
    }

    // The security scheme: a bearer JWT.
    let bearer = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");

    // The generate body: exactly the four fields, unknown ones refused.
    let generate = &doc["paths"]["/snapshots/generate/{tokenId}"]["post"];
    let body_schema = &generate["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        property_names(&doc, body_schema),
        BTreeSet::from(["chain", "network", "at", "minBalance"].map(String::from)),
        "{body_schema}"
    );
    let body_object = resolve(
        &doc,
        &doc["components"]["schemas"]["GenerateRequest"].clone(),
    )
    .clone();
    assert_eq!(body_object["additionalProperties"], false, "{body_object}");
    assert_ne!(
        generate["requestBody"]["required"], true,
        "the body is optional"
    );

    // A real job, so that every route has something to answer about.
    let resp = client
        .post(format!("{}/snapshots/generate/0.0.5000", server.base))
        .bearer_auth(&alice)
        .json(&json!({ "chain": "hedera" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let accepted: Value = resp.json().await.unwrap();
    let job = accepted["jobId"].as_str().unwrap().to_string();

    // The job status schema has exactly the keys of a real status.
    let status_schema = &doc["paths"]["/snapshots/{jobId}"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let real: Value = client
        .get(format!("{}/snapshots/{job}", server.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        property_names(&doc, status_schema),
        keys(&real),
        "documented vs real job status {real}"
    );
    let documented_statuses: BTreeSet<String> =
        resolve(&doc, &doc["components"]["schemas"]["JobStatus"].clone())["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
    assert!(
        documented_statuses.contains(real["status"].as_str().unwrap()),
        "{documented_statuses:?} {real}"
    );

    // Every route the README lists is documented with its method.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let readme = readme_routes();
    assert!(readme.len() >= 9, "{readme:?}");
    let missing: Vec<_> = readme.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "README routes not in the document: {missing:?}"
    );

    // Every documented operation is answered by the server, with one of its
    // documented statuses and, for JSON, the documented keys. Deletes last:
    // they cancel the job the others look at.
    let mut operations: Vec<(String, String, Value)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .map(move |(method, op)| (method.clone(), path.clone(), op.clone()))
        })
        .collect();
    operations.sort_by_key(|(method, ..)| method == "delete");
    for (method, path, op) in &operations {
        let url = format!(
            "{}{}",
            server.base,
            path.replace("{tokenId}", "0.0.5000")
                .replace("{jobId}", &job)
                // Any other parameter: a value no route can take for a
                // resource, answered by the handler (400/404), not routing.
                .replace("{cid}", "not-a-cid")
                .replace("{name}", "hedera")
        );
        assert!(!url.contains('{'), "unsubstituted parameter in {path}");
        let secured = op["security"].is_array();
        let documented_statuses: BTreeSet<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|s| s.parse().unwrap())
            .collect();
        let what = format!("{method} {path}");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();

        let mut request = client.request(method.clone(), &url);
        if secured {
            request = request.bearer_auth(&alice);
        }
        if method == Method::POST {
            request = request
                .header("content-type", "application/json")
                .body(r#"{"chain":"hedera"}"#);
        }
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        assert!(
            documented_statuses.contains(&status),
            "{what} answered {status}, documented {documented_statuses:?}"
        );
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let response = &op["responses"][status.to_string()];
        let documented_types: Vec<&String> = response["content"]
            .as_object()
            .map(|c| c.keys().collect())
            .unwrap_or_default();
        assert!(
            documented_types.contains(&&content_type)
                || (documented_types.is_empty() && content_type.is_empty()),
            "{what} {status}: content-type {content_type:?}, documented {documented_types:?}"
        );
        if content_type == "application/json" {
            let body: Value = resp.json().await.unwrap();
            let schema = &response["content"]["application/json"]["schema"];
            let names = property_names(&doc, schema);
            if !names.is_empty() {
                let real = keys(&body);
                assert!(
                    real.is_subset(&names) && required_names(&doc, schema).is_subset(&real),
                    "{what} {status}: {body} against {names:?}"
                );
            }
            if status >= 400 {
                assert_eq!(body["statusCode"], status, "{what}: {body}");
            }
        }

        // Without a token: a documented 401 with the NestJS body, or, on a
        // route without security, no 401 at all.
        let mut request = client.request(method.clone(), &url);
        if method == Method::POST {
            request = request
                .header("content-type", "application/json")
                .body("{}");
        }
        let resp = request.send().await.unwrap();
        if secured {
            assert_eq!(resp.status(), 401, "{what} without a token");
            assert!(documented_statuses.contains(&401), "{what}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                keys(&body),
                property_names(&doc, &json!({ "$ref": "#/components/schemas/ErrorBody" }))
                    .into_iter()
                    .filter(|k| k != "correlationId")
                    .collect(),
                "{what}: {body}"
            );
        } else {
            assert_ne!(resp.status(), 401, "{what} needs no token");
        }
    }

    // The WebSocket route is described as an upgrade, and upgrades.
    let ws = &doc["paths"]["/snapshots/ws"]["get"];
    assert!(ws["responses"]["101"].is_object(), "{ws}");
    let url = format!(
        "{}/snapshots/ws?access_token={alice}",
        server.base.replace("http://", "ws://")
    );
    let (_socket, response) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("the upgrade is answered")
    .unwrap();
    assert_eq!(response.status(), 101);
}
