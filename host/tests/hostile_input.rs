//! Hostile input against the real `snapshot-host serve`: malformed token ids
//! of every chain, malformed and oversized bodies, odd plugin names on the
//! admin routes, and forged or confused JWTs. Each is a clear 4xx with the
//! reason, and nothing changes: no job is queued, no ledger is asked, no
//! file is written or deleted.
//!
//! What `host/tests/service.rs` already proves is not repeated here (see
//! `bad_tokens_bad_bodies_and_bad_credentials_are_refused_before_anything_is_queued`:
//! a body over 16 KiB, unknown body fields, garbage / expired / not-yet-valid
//! / unsigned (`alg: none`) / re-signed / tampered tokens on every route and
//! on the WebSocket upgrade; `public_key_host`: HS256 keyed with the RSA
//! public key, another RSA key, issuer and audience; and
//! `another_wallet_can_neither_see_nor_touch_nor_hear_a_job`), nor what
//! `host/tests/plugins_admin.rs` does for uploads (`..%2F..%2Fetc%2Fhedera`,
//! `hedera.wasm`, `Hedera` as names; garbage, truncated and other-world
//! components).
//!
//! Requests are written byte for byte on a socket ([`raw`]) where a client
//! library would normalise them: `reqwest` resolves `%2e%2e` path segments
//! before sending, so it could not send a traversal at all.
//!
//! Every chain's endpoint is a local server that counts requests: a
//! malformed id must be refused before any ledger is asked.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{
    Backend, CountingServer, Deployment, Ledger, Server, guest_wasm, now, token, wallet_token,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A well-formed XRPL issuer (GateHub), checksum valid.
const ISSUER: &str = "rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq";

/// A well-formed Stellar account id, checksum valid.
const STELLAR_ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

/// Upper bound of one raw exchange.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The Stellar plugin (not bundled), built once per test binary.
async fn stellar_wasm() -> Vec<u8> {
    static BUILT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(|| {
        BUILT
            .get_or_init(|| guest_wasm("plugins/stellar", "snapshot_plugin_stellar.wasm"))
            .clone()
    })
    .await
    .unwrap()
}

/// One test's host: hedera, xrpl (bundled) and stellar (from the plugins
/// directory), every chain's endpoint a [`CountingServer`].
struct Host {
    server: Server,
    ledger: CountingServer,
    deployment: Deployment,
    sim: Ledger,
}

impl Host {
    async fn start() -> Host {
        Host::start_with(false).await
    }

    /// With `real_hedera`, Hedera's endpoint is the mirror-node simulator
    /// (token `0.0.5000`), so jobs can be queued and run.
    async fn start_with(real_hedera: bool) -> Host {
        let sim = Ledger::start(10, 0).await;
        let ledger = CountingServer::start(503, "counted").await;
        let deployment = Deployment::new(Backend::Sqlite);
        let plugins_dir = deployment.data_dir().join("plugins");
        std::fs::create_dir_all(&plugins_dir).unwrap();
        std::fs::write(plugins_dir.join("stellar.wasm"), stellar_wasm().await).unwrap();
        let mut endpoints = vec![
            ("SNAPSHOT_ENDPOINT_XRPL", ledger.base.as_str()),
            ("SNAPSHOT_ENDPOINT_STELLAR", ledger.base.as_str()),
        ];
        if !real_hedera {
            endpoints.push(("SNAPSHOT_ENDPOINT_HEDERA", ledger.base.as_str()));
        }
        let server = tokio::task::block_in_place(|| deployment.serve_with(&sim.sim, &endpoints));
        Host {
            server,
            ledger,
            deployment,
            sim,
        }
    }

    /// Nothing was queued for `wallet`, and no ledger was asked anything.
    async fn assert_nothing_happened(&self, wallet: &str) {
        assert_eq!(
            self.server.history(wallet).await["items"],
            json!([]),
            "nothing was queued"
        );
        assert_eq!(self.ledger.hits(), 0, "no ledger was asked");
        let ready = self.server.call(Method::GET, "/readyz", None).await;
        assert_eq!(ready.status(), 200, "the host is still ready");
    }
}

/// Percent-encodes every byte outside the unreserved set, `.` included,
/// so that the server's router sees the bytes exactly as given.
fn encode(text: &[u8]) -> String {
    text.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A response: status and body (JSON when it is JSON, else `Value::Null`).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    text: String,
}

impl Answer {
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// One HTTP/1.1 exchange written byte for byte on a fresh connection:
/// `target` is sent exactly as given (no client normalises it).
async fn raw(
    server: &Server,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Answer {
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let sets_length = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !sets_length {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        // The server may answer (and close) before reading a body it
        // refuses; a failed write of the rest is then expected.
        let _ = stream.write_all(body).await;
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        reply
    };
    let reply = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no answer within {EXCHANGE_TIMEOUT:?}"));
    parse_reply(&reply, &format!("{method} {target}"))
}

fn parse_reply(reply: &[u8], what: &str) -> Answer {
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{what}: no HTTP answer: {:?}",
                String::from_utf8_lossy(reply)
            )
        });
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: bad status line: {head}"));
    let mut body = reply[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).to_string();
    Answer {
        status,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        text,
    }
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

fn json_type() -> (&'static str, String) {
    ("Content-Type", "application/json".to_string())
}

/// `POST /snapshots/generate/{token_id}` (encoded) with `body`.
async fn generate(server: &Server, wallet: &str, token_id: &[u8], body: &[u8]) -> Answer {
    raw(
        server,
        "POST",
        &format!("/snapshots/generate/{}", encode(token_id)),
        &[bearer(wallet), json_type()],
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_token_ids_of_every_chain_are_a_400_naming_the_problem_and_nothing_is_queued() {
    let host = Host::start().await;
    let server = &host.server;
    let wallet = wallet_token("0.0.1001");
    let long_digits = "9".repeat(5_000);

    let hedera_syntax = "not a Hedera token id";
    let xrpl_syntax = "expected `<currency>.<issuer>`";
    let stellar_syntax = "expected `CODE:ISSUER`";
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    for id in [
        "0.0.x",
        "0.0",
        "0.0.1.2",
        "0..1",
        "-1.0.5",
        "0.0.-5",
        "+0.0.5",
        "18446744073709551616.0.1",
        "0.18446744073709551616.1",
        "0.0.18446744073709551616",
        &format!("{long_digits}.0.1"),
        "\u{ff10}.\u{ff10}.\u{ff11}",
        "0.0.\u{661}\u{662}\u{663}",
        "0.0.5000\u{202e}",
        "0.0.1e3",
        "0x1.0.0",
        "0.0.5000;DROP TABLE tokens",
        "0.0.5000' OR '1'='1",
        "0.0.5000?limit=1",
        "0.0.5000#",
        "0.0.5000/../../balances",
        "../../../etc/passwd",
        "..",
        "0.0.5000\0",
        "\0",
        "${jndi:ldap://127.0.0.1/a}",
    ] {
        cases.push(("hedera", id.as_bytes().to_vec(), hedera_syntax));
    }
    let short_issuer = &ISSUER[..ISSUER.len() - 1];
    let bad_checksum = format!("{short_issuer}r");
    for id in [
        format!("USD.{bad_checksum}"),
        format!("USD.{short_issuer}"),
        format!("USD.0{}", &ISSUER[1..]),
        format!("USD.{ISSUER}{}", "1".repeat(5_000)),
        format!("XRP.{ISSUER}"),
        format!("US.{ISSUER}"),
        format!("USDD.{ISSUER}"),
        format!("{}.{ISSUER}", "0".repeat(40)),
        format!("{}G.{ISSUER}", "0158415500000000C1F76FF6ECB0BAC6000000"),
        format!("{}.{ISSUER}", "0158415500000000C1F76FF6ECB0BAC60000000"),
        format!("\u{dc}SD.{ISSUER}"),
        format!("USD.{ISSUER}\";--"),
        format!("USD.{ISSUER}.{ISSUER}"),
        format!("USD{ISSUER}"),
        "USD".to_string(),
        "mpt:xyz".to_string(),
        format!("mpt:{}", "0".repeat(47)),
        format!("mpt:{}", "0".repeat(49)),
        format!("mpt:{}", "Z".repeat(48)),
        format!("nft:{ISSUER}:-1"),
        format!("nft:{ISSUER}:4294967296"),
        format!("nft:{ISSUER}:{long_digits}"),
        format!("nft:{ISSUER}:"),
        "nft:rBAD".to_string(),
        "nft:".to_string(),
    ] {
        cases.push(("xrpl", id.into_bytes(), xrpl_syntax));
    }
    let stellar_bad_checksum = format!("{}M", &STELLAR_ISSUER[..STELLAR_ISSUER.len() - 1]);
    for id in [
        "USDC".to_string(),
        "USDC:".to_string(),
        format!(":{STELLAR_ISSUER}"),
        format!("USDC:{stellar_bad_checksum}"),
        format!("USDC:S{}", &STELLAR_ISSUER[1..]),
        format!("USDC:{}", &STELLAR_ISSUER[..55]),
        format!("TOOLONGCODE13:{STELLAR_ISSUER}"),
        format!("US$C:{STELLAR_ISSUER}"),
        format!("\u{dc}SDC:{STELLAR_ISSUER}"),
        format!("USDC:{STELLAR_ISSUER}:extra"),
        format!("USDC:{STELLAR_ISSUER}{}", "A".repeat(5_000)),
    ] {
        cases.push(("stellar", id.into_bytes(), stellar_syntax));
    }

    let mut refused = BTreeMap::new();
    for (chain, id, reason) in &cases {
        let body = json!({ "chain": chain }).to_string();
        let answer = generate(server, &wallet, id, body.as_bytes()).await;
        let shown = String::from_utf8_lossy(id);
        let shown = shown.chars().take(80).collect::<String>();
        assert_eq!(answer.status, 400, "{chain} {shown:?}: {}", answer.text);
        assert_eq!(answer.body["statusCode"], 400, "{chain} {shown:?}");
        let message = answer.message();
        assert!(
            message.starts_with("invalid token id: "),
            "{chain} {shown:?}: {message}"
        );
        assert!(message.contains(reason), "{chain} {shown:?}: {message}");
        *refused.entry(*chain).or_insert(0) += 1;
    }
    assert_eq!(refused.len(), 3, "every chain was tried: {refused:?}");

    // Without a chain, every plugin is asked and each says why not.
    for id in ["0.0.x", "../../../etc/passwd", "\u{ff10}.\u{ff10}.\u{ff11}"] {
        let answer = generate(server, &wallet, id.as_bytes(), b"").await;
        assert_eq!(answer.status, 400, "{id:?}: {}", answer.text);
        let message = answer.message();
        assert!(
            message.starts_with("no chain recognises this token id"),
            "{id:?}: {message}"
        );
        for reason in [hedera_syntax, xrpl_syntax, stellar_syntax] {
            assert!(message.contains(reason), "{id:?}: {message}");
        }
    }
    // A path that is not UTF-8, and no token id at all.
    let answer = raw(
        server,
        "POST",
        "/snapshots/generate/%FF%FE",
        &[bearer(&wallet)],
        b"",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    for target in ["/snapshots/generate/", "/snapshots/generate"] {
        let answer = raw(server, "POST", target, &[bearer(&wallet)], b"").await;
        assert!(
            matches!(answer.status, 404 | 405),
            "{target}: {} {}",
            answer.status,
            answer.text
        );
    }

    host.assert_nothing_happened(&wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_are_refused_before_anything_is_queued() {
    let host = Host::start().await;
    let server = &host.server;
    let wallet = wallet_token("0.0.1001");
    let token_id = b"0.0.5000";

    // (what, content type, body, reason in the message)
    let nested = format!("{{\"at\":{}1{}}}", "[".repeat(4_000), "]".repeat(4_000));
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "cut short",
            "application/json",
            b"{".to_vec(),
            "invalid request body",
        ),
        (
            "an array",
            "application/json",
            b"[]".to_vec(),
            "invalid request body",
        ),
        (
            "a string",
            "application/json",
            b"\"hedera\"".to_vec(),
            "invalid request body",
        ),
        (
            "a number",
            "application/json",
            b"42".to_vec(),
            "invalid request body",
        ),
        (
            "chain a number",
            "application/json",
            br#"{"chain":5}"#.to_vec(),
            "invalid request body",
        ),
        (
            "at an array",
            "application/json",
            br#"{"at":["x"]}"#.to_vec(),
            "invalid request body",
        ),
        (
            "minBalance a JSON number (a float would lose units)",
            "application/json",
            br#"{"minBalance":1.5}"#.to_vec(),
            "invalid request body",
        ),
        (
            "a duplicate field",
            "application/json",
            br#"{"chain":"hedera","chain":"xrpl"}"#.to_vec(),
            "duplicate field",
        ),
        (
            "trailing garbage",
            "application/json",
            br#"{"chain":"hedera"} {"chain":"xrpl"}"#.to_vec(),
            "invalid request body",
        ),
        (
            "not UTF-8",
            "application/json",
            b"{\"chain\":\"hed\xffera\"}".to_vec(),
            "invalid request body",
        ),
        (
            "nested 4000 deep",
            "application/json",
            nested.into_bytes(),
            "invalid request body",
        ),
        (
            "a form instead of JSON",
            "application/x-www-form-urlencoded",
            b"chain=hedera".to_vec(),
            "invalid request body",
        ),
        (
            "text that is not JSON",
            "text/plain",
            b"hedera please".to_vec(),
            "invalid request body",
        ),
        (
            "an unknown chain",
            "application/json",
            br#"{"chain":"nochain"}"#.to_vec(),
            "nochain",
        ),
        (
            "a path as the chain",
            "application/json",
            br#"{"chain":"../hedera"}"#.to_vec(),
            "../hedera",
        ),
        (
            "minBalance NaN",
            "application/json",
            br#"{"chain":"hedera","minBalance":"NaN"}"#.to_vec(),
            "NaN",
        ),
        (
            "minBalance with an exponent past the limit",
            "application/json",
            br#"{"chain":"hedera","minBalance":"1e99999"}"#.to_vec(),
            "exponent",
        ),
        (
            "minBalance hex",
            "application/json",
            br#"{"chain":"hedera","minBalance":"0x10"}"#.to_vec(),
            "unexpected character",
        ),
        (
            "at not a time",
            "application/json",
            br#"{"chain":"hedera","at":"yesterday"}"#.to_vec(),
            "yesterday",
        ),
    ];
    for (what, content_type, body, reason) in &cases {
        let answer = raw(
            server,
            "POST",
            &format!("/snapshots/generate/{}", encode(token_id)),
            &[bearer(&wallet), ("Content-Type", content_type.to_string())],
            body,
        )
        .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        assert!(
            answer.message().contains(reason),
            "{what}: {}",
            answer.message()
        );
    }

    // Over the 16 KiB limit in chunks that never end (a body over the limit
    // with a Content-Length is service.rs's case).
    let target = format!("/snapshots/generate/{}", encode(token_id));
    let mut chunked = Vec::new();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("400\r\n{}\r\n", " ".repeat(0x400)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(
        server,
        "POST",
        &target,
        &[
            bearer(&wallet),
            json_type(),
            ("Transfer-Encoding", "chunked".to_string()),
        ],
        &chunked,
    )
    .await;
    assert_eq!(answer.status, 413, "40 KiB in chunks: {}", answer.text);

    host.assert_nothing_happened(&wallet).await;
}

/// Every file under `dir` with its bytes, but the queue's and the job
/// store's SQLite files, which any request may touch.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let name = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                stack.push(path);
            } else if !name.contains(".sqlite3") && !name.starts_with("cache") {
                out.insert(name, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_plugin_names_on_the_admin_routes_change_nothing_on_disk() {
    let host = Host::start().await;
    let server = &host.server;
    let admin = token(json!({ "sub": "admin-1", "roles": ["admin"], "exp": now() + 3600 }));
    let data = host.deployment.data_dir();
    // Targets a traversal would reach: a plugin-looking file beside the
    // plugins directory and one two levels up from it.
    std::fs::write(data.join("victim.wasm"), b"not yours").unwrap();
    std::fs::write(data.join("queue.wasm"), b"not yours either").unwrap();
    let before = tree(data);
    let plugins_before = server
        .call(Method::GET, "/plugins", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    let stellar = stellar_wasm().await;

    let long = "a".repeat(10_000);
    let names: Vec<String> = vec![
        "..".into(),
        "%2e%2e".into(),
        "%2E%2E%2Fvictim".into(),
        "..%2Fvictim".into(),
        "..%2F..%2Fvictim".into(),
        "%2e%2e%5cvictim".into(),
        "..%5C..%5Cvictim".into(),
        "%2Ftmp%2Fvictim".into(),
        "victim%00".into(),
        "stellar%00.wasm".into(),
        "stellar%2Ewasm".into(),
        ".stellar".into(),
        "%20stellar".into(),
        "stellar%0A".into(),
        "st%C3%A9llar".into(),
        "%FF%FE".into(),
        "a".repeat(65),
        long,
    ];
    for name in &names {
        for method in ["PUT", "DELETE"] {
            let mut headers = vec![bearer(&admin)];
            if method == "PUT" {
                headers.push(("Content-Type", "application/wasm".to_string()));
            }
            let body: &[u8] = if method == "PUT" { &stellar } else { b"" };
            let answer = raw(server, method, &format!("/plugins/{name}"), &headers, body).await;
            let shown: String = name.chars().take(40).collect();
            assert!(
                matches!(answer.status, 400 | 404 | 405),
                "{method} /plugins/{shown}: {} {}",
                answer.status,
                answer.text
            );
            if answer.status == 400 {
                assert!(
                    answer.message().contains("plugin name")
                        || answer.message().contains("Invalid URL"),
                    "{method} /plugins/{shown}: {}",
                    answer.message()
                );
            }
        }
    }
    // A valid name that nothing provides: 404, and a valid name the upload
    // does not carry: 400; neither writes a file.
    let answer = raw(server, "DELETE", "/plugins/victim", &[bearer(&admin)], b"").await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    let answer = raw(
        server,
        "PUT",
        "/plugins/victim",
        &[bearer(&admin), ("Content-Type", "application/wasm".into())],
        &stellar,
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.message().contains("not \"victim\""),
        "{}",
        answer.message()
    );

    assert_eq!(tree(data), before, "nothing on disk changed");
    let plugins_after = server
        .call(Method::GET, "/plugins", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        plugins_after, plugins_before,
        "the loaded plugins did not change"
    );
    assert_eq!(host.ledger.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_confused_tokens_are_refused_and_see_nothing() {
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let host = Host::start_with(true).await;
    let server = &host.server;
    let exp = now() + 3600;
    let claims = json!({ "sub": "0.0.1001", "exp": exp });
    let signed_with = |alg: jsonwebtoken::Algorithm| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(common::SECRET.as_bytes()),
        )
        .unwrap()
    };
    let valid = token(claims.clone());
    let (_, payload_and_signature) = valid.split_once('.').unwrap();
    let (payload, signature) = payload_and_signature.split_once('.').unwrap();
    let with_header =
        |header: &str, signature: &str| format!("{}.{payload}.{signature}", b64(header.as_bytes()));
    let rsa = {
        const RSA_PRIVATE: &str = include_str!("../src/api/testdata/rsa_private.pem");
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    // A key server the token points at: it must never be asked.
    let keys = CountingServer::start(503, "counted").await;
    let other_key = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            jku: Some(format!("{}/jwks.json", keys.base)),
            kid: Some("../../../../dev/null".into()),
            ..jsonwebtoken::Header::default()
        },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"the attacker's own secret, 32 bytes+"),
    )
    .unwrap();

    let forged: Vec<(&str, String)> = vec![
        (
            "alg None (capitalised), unsigned",
            with_header(r#"{"alg":"None","typ":"JWT"}"#, ""),
        ),
        (
            "alg NONE with the valid signature kept",
            with_header(r#"{"alg":"NONE","typ":"JWT"}"#, signature),
        ),
        ("no alg at all", with_header(r#"{"typ":"JWT"}"#, signature)),
        ("RS256 on an HS256 host (a real RSA signature)", rsa),
        (
            "RS256 header over the HS256 signature",
            with_header(r#"{"alg":"RS256","typ":"JWT"}"#, signature),
        ),
        (
            "HS512 with the right secret",
            signed_with(jsonwebtoken::Algorithm::HS512),
        ),
        (
            "HS384 with the right secret",
            signed_with(jsonwebtoken::Algorithm::HS384),
        ),
        ("a jku and a kid naming another key", other_key),
        (
            "exp as a string",
            token(json!({ "sub": "0.0.1001", "exp": exp.to_string() })),
        ),
        (
            "nbf as a string in the future",
            token(json!({ "sub": "0.0.1001", "exp": exp, "nbf": (now() + 3600).to_string() })),
        ),
        (
            "exp far in the past",
            token(json!({ "sub": "0.0.1001", "exp": 1 })),
        ),
        (
            "exp negative",
            token(json!({ "sub": "0.0.1001", "exp": -1 })),
        ),
        (
            "sub an object",
            token(json!({ "sub": { "id": "0.0.1001" }, "exp": exp })),
        ),
        (
            "sub an array",
            token(json!({ "sub": ["0.0.1001"], "exp": exp })),
        ),
        (
            "an 8 KiB token",
            format!(
                "{}.{}.{}",
                "a".repeat(4_000),
                "b".repeat(4_000),
                "c".repeat(200)
            ),
        ),
        ("the signature cut", valid[..valid.len() - 4].to_string()),
        ("four parts", format!("{valid}.{signature}")),
    ];
    for (why, bad) in &forged {
        for (method, path) in [
            ("GET", "/snapshots"),
            ("POST", "/snapshots/generate/0.0.5000"),
        ] {
            let answer = raw(server, method, path, &[bearer(bad)], b"").await;
            assert_eq!(
                answer.status, 401,
                "{why}: {method} {path}: {}",
                answer.text
            );
        }
    }
    assert_eq!(keys.hits(), 0, "the jku was never fetched");

    // The admin role cannot be smuggled in with another spelling or shape
    // (a `roles` string and a `role` string are documented forms, see
    // src/api/auth.rs).
    for (why, roles) in [
        ("roles capitalised", json!({ "roles": ["Admin"] })),
        ("roles with a space", json!({ "roles": ["admin "] })),
        ("roles nested", json!({ "roles": [["admin"]] })),
        ("roles an object", json!({ "roles": { "admin": true } })),
        ("admin: true", json!({ "admin": true })),
    ] {
        let mut c = json!({ "sub": "0.0.1001", "exp": exp });
        c.as_object_mut()
            .unwrap()
            .extend(roles.as_object().unwrap().clone());
        let t = token(c);
        let answer = raw(server, "GET", "/plugins", &[bearer(&t)], b"").await;
        assert!(
            matches!(answer.status, 401 | 403),
            "{why}: {} {}",
            answer.status,
            answer.text
        );
    }

    // The access token belongs in the Authorization header on REST routes;
    // the query form is for the WebSocket upgrade only.
    let answer = raw(
        server,
        "GET",
        &format!("/snapshots?access_token={valid}"),
        &[],
        b"",
    )
    .await;
    assert!(
        matches!(answer.status, 400 | 401),
        "{} {}",
        answer.status,
        answer.text
    );

    // Job ids that are not job ids.
    let alice = wallet_token("0.0.1001");
    for target in [
        "/snapshots/%2e%2e",
        "/snapshots/..%2F..%2Fjobs.sqlite3",
        "/snapshots/%00",
        "/snapshots/%FF",
        &format!("/snapshots/{}", "A".repeat(5_000)),
        &format!("/snapshots/{}/download?format=json", "%2e%2e%2f".repeat(20)),
        "/snapshots/01ARZ3NDEKTSV4RRFFQ69G5FAV/download?format=../../etc/passwd",
        "/snapshots?limit=0",
        "/snapshots?limit=-1",
        "/snapshots?limit=99999999999999999999",
    ] {
        let answer = raw(server, "GET", target, &[bearer(&alice)], b"").await;
        let shown: String = target.chars().take(60).collect();
        assert!(
            matches!(answer.status, 400 | 404),
            "{shown}: {} {}",
            answer.status,
            answer.text
        );
    }
    assert_eq!(
        server.history(&alice).await["items"],
        json!([]),
        "nothing was queued"
    );

    // The wallet named twice: `sub` wins over `walletId`, so a token cannot
    // claim another wallet's jobs by naming it in the other claim.
    let job = server
        .submit_job(&alice, json!({ "at": host.sim.at }))
        .await;
    let both = token(json!({ "sub": "0.0.2002", "walletId": "0.0.1001", "exp": exp }));
    for (method, path) in [
        ("GET", format!("/snapshots/{job}")),
        ("GET", format!("/snapshots/{job}/download?format=csv")),
        ("DELETE", format!("/snapshots/{job}")),
    ] {
        let answer = raw(server, method, &path, &[bearer(&both)], b"").await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.text);
    }
    let answer = raw(server, "GET", "/snapshots", &[bearer(&both)], b"").await;
    assert_eq!(answer.body["items"], json!([]), "{}", answer.text);
    // And the job went on untouched by the refused cancel.
    let done = server.finished(&alice, &job).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(host.ledger.hits(), 0, "the other ledgers were never asked");
}
