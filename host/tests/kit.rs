//! The integrator kit as an integrator uses it: the real binary's
//! `plugin check` and `plugin test`, the plugin template built with the
//! command PLUGINS.md gives, and what a failing plugin leaves in the error
//! and the log.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ledger_simulators::mirror_node::{
    EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator, SimulatorConfig, format_timestamp,
};
use serde_json::Value;

/// The manifest the hand-made components below carry, so the only thing
/// wrong with them is what each test is about.
const MANIFEST: &str = r#"
[plugin]
name = "handmade"
version = "0.1.0"
wit = "0.1.0"
chains = ["handmade"]
"#;

// ---------------------------------------------------------------- helpers

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(5_000), 400, 3);
    MirrorNodeSimulator::start(config, state.into_shared())
        .await
        .expect("simulator starts")
}

fn pinned_at(sim: &RunningSimulator) -> String {
    let state = sim.state().read().unwrap();
    format_timestamp(state.latest_snapshot_timestamp().unwrap())
}

/// Runs the binary off the async threads, with its compile cache in a
/// directory of its own and `env` set.
async fn run_with(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    static CACHE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cache = CACHE
        .get_or_init(|| tempfile::tempdir().expect("cache dir"))
        .path()
        .to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
            .args(&args)
            .env("SNAPSHOT_CACHE_DIR", cache)
            .env_remove("RUST_LOG")
            .envs(env)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

async fn run(args: Vec<String>) -> Output {
    run_with(args, Vec::new()).await
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The trace lines whose kind (the word after the time) is `kind`.
fn trace_lines<'a>(err: &'a str, kind: &str) -> Vec<&'a str> {
    err.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(kind))
        .collect()
}

/// The bundled Hedera plugin, written to a file as an integrator has it.
fn hedera_file(dir: &Path) -> PathBuf {
    let (_, bytes) = snapshot_host::registry::BUNDLED
        .iter()
        .find(|(name, _)| *name == "hedera")
        .expect("hedera is bundled");
    let path = dir.join("hedera.wasm");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn template_wasm() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::guest_component(
            &common::workspace_root().join("plugins").join("template"),
            "snapshot_plugin_template.wasm",
        )
    })
}

fn misbehaving_wasm() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        common::guest_component(
            &common::workspace_root()
                .join("tests")
                .join("plugins")
                .join("misbehaving"),
            "snapshot_test_plugin_misbehaving.wasm",
        )
    })
}

async fn built(f: fn() -> &'static Path) -> PathBuf {
    tokio::task::spawn_blocking(move || f().to_path_buf())
        .await
        .unwrap()
}

// ------------------------------------------- components that are not plugins

fn manifest_section(manifest: &str) -> wasm_encoder::CustomSection<'_> {
    wasm_encoder::CustomSection {
        name: "snapshot-plugin-manifest".into(),
        data: manifest.as_bytes().into(),
    }
}

/// A core module (what wasm32-unknown-unknown builds), manifest included.
fn core_module() -> Vec<u8> {
    use wasm_encoder::*;
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut exports = ExportSection::new();
    exports.export("describe", ExportKind::Func, 0);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instructions().i32_const(0).end();
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&exports)
        .section(&code)
        .section(&manifest_section(MANIFEST));
    module.finish()
}

/// A WASI command (world `wasi:cli/command`: it exports `wasi:cli/run`),
/// what building a binary crate instead of a library gives.
fn command_component() -> Vec<u8> {
    use wasm_encoder::*;
    let mut core_types = TypeSection::new();
    core_types.ty().function([], [ValType::I32]);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut core_exports = ExportSection::new();
    core_exports.export("run", ExportKind::Func, 0);
    let mut code = CodeSection::new();
    let mut body = Function::new([]);
    body.instructions().i32_const(0).end();
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&core_types)
        .section(&funcs)
        .section(&core_exports)
        .section(&code);

    let mut c = Component::new();
    // type 0: result (no payloads); type 1: func() -> result
    let mut types = ComponentTypeSection::new();
    types.defined_type().result(None, None);
    types
        .function()
        .params::<[(&str, ComponentValType); 0], _>([])
        .result(Some(ComponentValType::Type(0)));
    c.section(&types);
    c.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    instances.instantiate::<[(&str, ModuleArg); 0], &str>(0, []);
    c.section(&instances);
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(Alias::CoreInstanceExport {
        instance: 0,
        kind: ExportKind::Func,
        name: "run",
    });
    c.section(&aliases);
    let mut canon = CanonicalFunctionSection::new();
    canon.lift(0, 1, []);
    c.section(&canon);
    let mut inst = ComponentInstanceSection::new();
    inst.export_items([("run", ComponentExportKind::Func, 0)]);
    c.section(&inst);
    let mut exports = ComponentExportSection::new();
    exports.export("wasi:cli/run@0.2.0", ComponentExportKind::Instance, 0, None);
    c.section(&exports);
    c.section(&manifest_section(MANIFEST));
    c.finish()
}

/// A component importing an interface this host does not provide.
fn foreign_import_component() -> Vec<u8> {
    use wasm_encoder::*;
    let mut instance = InstanceType::new();
    instance
        .ty()
        .function()
        .params([("key", ComponentValType::Primitive(PrimitiveValType::U32))])
        .result(Some(ComponentValType::Primitive(PrimitiveValType::U32)));
    instance.export("get", ComponentTypeRef::Func(0));
    let mut types = ComponentTypeSection::new();
    types.instance(&instance);
    let mut imports = ComponentImportSection::new();
    imports.import("example:kv/store@1.0.0", ComponentTypeRef::Instance(0));
    let mut c = Component::new();
    c.section(&types)
        .section(&imports)
        .section(&manifest_section(MANIFEST));
    c.finish()
}

// ------------------------------------------------------------ plugin check

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_bundled_hedera_plugin_as_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = hedera_file(dir.path());
    let file_arg = file.to_str().unwrap();

    let o = run(strings(&["plugin", "check", file_arg])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "world      snapshot:plugin/ledger-plugin",
        "wit        snapshot:plugin@0.1.0",
        "provided   instance snapshot:plugin/http@0.1.0",
        "provided   instance snapshot:plugin/job@0.1.0",
        "world      func fetch-all-token-balances",
        "name           hedera",
        "allowed hosts  https://mainnet.mirrornode.hedera.com",
        "*.mirrornode.hedera.com 50 req/s, 16 in flight",
        "memory 256 MiB, guest CPU 120 s per call",
        "shards = \"16\"",
        "result     valid",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }

    let o = run(strings(&["plugin", "check", "--json", file_arg])).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["world"], "snapshot:plugin/ledger-plugin");
    assert_eq!(report["wit_version"], "0.1.0");
    assert_eq!(report["kind"], "component");
    assert_eq!(report["size"], std::fs::metadata(&file).unwrap().len());
    assert_eq!(report["sha256"].as_str().unwrap().len(), 64);
    assert!(report["compile_ms"].as_f64().unwrap() > 0.0);
    let imports = report["imports"].as_array().unwrap();
    assert!(
        imports.iter().all(|i| i["status"] == "provided"),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i["name"] == "snapshot:plugin/types@0.1.0")
    );
    let exports: Vec<&str> = report["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        exports,
        ["describe", "validate-token", "fetch-all-token-balances"]
    );
    let m = &report["manifest"];
    assert_eq!(m["name"], "hedera");
    assert_eq!(m["chains"][0], "hedera");
    assert_eq!(m["networks"][0]["name"], "mainnet");
    assert_eq!(m["rate_limits"][0]["requests_per_second"], 50);
    assert_eq!(m["cpu_seconds"], 120);
    assert_eq!(m["config"][0]["key"], "page_size");
    assert_eq!(m["config"][0]["default"], "100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_what_is_not_a_plugin_with_exit_two_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let hedera = std::fs::read(hedera_file(dir.path())).unwrap();
    // A second manifest section appended: custom section id 0, then its body.
    let mut duplicate_manifest = hedera.clone();
    duplicate_manifest.push(0);
    wasm_encoder::Encode::encode(&manifest_section(MANIFEST), &mut duplicate_manifest);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text.wasm", b"hello".to_vec(), "not a WebAssembly file"),
        (
            "garbage.wasm",
            b"\0asm garbage".to_vec(),
            "not a valid WebAssembly file",
        ),
        (
            "truncated.wasm",
            hedera[..hedera.len() / 2].to_vec(),
            "corrupt or truncated",
        ),
        (
            "module.wasm",
            core_module(),
            "core WebAssembly module, not a component",
        ),
        (
            "command.wasm",
            command_component(),
            "targets another world (wasi:cli/command",
        ),
        (
            "foreign.wasm",
            foreign_import_component(),
            "imports instance `example:kv/store@1.0.0`, which this host does not provide",
        ),
        (
            "two-manifests.wasm",
            duplicate_manifest,
            "bad manifest: the component holds more than one",
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = run(strings(&["plugin", "check", path.to_str().unwrap()])).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert!(
            err.contains(name) && err.contains(reason),
            "{name}: expected {reason:?} in {err}"
        );
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("result     INVALID"), "{name}: {text}");

        let o = run(strings(&[
            "plugin",
            "check",
            "--json",
            path.to_str().unwrap(),
        ]))
        .await;
        assert_eq!(o.status.code(), Some(2), "{name}");
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["valid"], false, "{name}");
        let problems = report["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains(reason)),
            "{name}: {problems:?}"
        );
    }

    // The report still says what a refused component is.
    let foreign = dir.path().join("foreign.wasm");
    let o = run(strings(&[
        "plugin",
        "check",
        "--json",
        foreign.to_str().unwrap(),
    ]))
    .await;
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["imports"][0]["name"], "example:kv/store@1.0.0");
    assert_eq!(report["imports"][0]["status"], "missing");
    assert_eq!(report["manifest"]["name"], "handmade");
    let command = dir.path().join("command.wasm");
    let o = run(strings(&[
        "plugin",
        "check",
        "--json",
        command.to_str().unwrap(),
    ]))
    .await;
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["exports"][0]["name"], "wasi:cli/run@0.2.0");
    assert_eq!(report["exports"][0]["in_world"], false);

    let o = run(strings(&["plugin", "check", "/no/such/file.wasm"])).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read /no/such/file.wasm"));
}

// ------------------------------------------------------------- plugin test

fn test_args(file: &Path, sim: &RunningSimulator, at: &str, extra: &[&str]) -> Vec<String> {
    let mut a = strings(&[
        "plugin",
        "test",
        file.to_str().unwrap(),
        "--token",
        "0.0.5000",
        "--endpoint",
        &sim.base_url(),
        "--at",
        at,
        "--rate-limit",
        &format!("{}=500:16", sim.address()),
    ]);
    a.extend(strings(extra));
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_traces_every_call_and_writes_the_snapshot_document() {
    let sim = simulator(SimulatorConfig::default()).await;
    let at = pinned_at(&sim);
    let dir = tempfile::tempdir().unwrap();
    let file = hedera_file(dir.path());

    // Small pages, so the walk checkpoints and reports progress.
    let o = run(test_args(&file, &sim, &at, &["--option", "page_size=25"])).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");

    let http = trace_lines(&err, "http");
    assert!(
        http.iter().any(|l| l.contains(&format!(
            "GET {}/api/v1/tokens/0.0.5000 → 200",
            sim.base_url()
        ))),
        "{err}"
    );
    assert!(
        http.iter()
            .filter(|l| l.contains("/balances?") && l.contains("→ 200, ") && l.contains(" B, "))
            .count()
            > 10,
        "{err}"
    );
    let emits = trace_lines(&err, "emit");
    assert!(!emits.is_empty(), "{err}");
    assert!(emits.last().unwrap().contains("accounts so far"), "{err}");
    let checkpoints = trace_lines(&err, "checkpoint");
    assert!(!checkpoints.is_empty(), "{err}");
    assert!(
        checkpoints.iter().all(|l| l.contains(" B: {")),
        "size and preview: {err}"
    );
    assert!(!trace_lines(&err, "progress").is_empty(), "{err}");
    let done = trace_lines(&err, "done");
    assert_eq!(done.len(), 1, "{err}");
    assert!(done[0].contains(&format!("at {at}")), "{err}");
    assert!(err.contains("hedera@0.1.0 from"), "{err}");

    // The document is the one `snapshot` writes for the same request.
    let snapshot = run(strings(&[
        "snapshot",
        "0.0.5000",
        "--chain",
        "hedera",
        "--endpoint",
        &sim.base_url(),
        "--at",
        &at,
        "--rate-limit",
        &format!("{}=500:16", sim.address()),
    ]))
    .await;
    assert!(snapshot.status.success(), "{}", stderr(&snapshot));
    assert!(!o.stdout.is_empty());
    assert_eq!(o.stdout, snapshot.stdout);

    // --out and CSV work as for `snapshot`.
    let out = dir.path().join("doc.csv");
    let o = run(test_args(
        &file,
        &sim,
        &at,
        &["--format", "csv", "--out", out.to_str().unwrap()],
    ))
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("rank,account,balance,")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_expect_passes_on_the_same_bytes_and_summarises_a_difference() {
    let sim = simulator(SimulatorConfig::default()).await;
    let at = pinned_at(&sim);
    let dir = tempfile::tempdir().unwrap();
    let file = hedera_file(dir.path());
    let expected = dir.path().join("expected.json");

    let first = run(test_args(&file, &sim, &at, &[])).await;
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::write(&expected, &first.stdout).unwrap();

    let same = run(test_args(
        &file,
        &sim,
        &at,
        &["--expect", expected.to_str().unwrap()],
    ))
    .await;
    let err = stderr(&same);
    assert_eq!(same.status.code(), Some(0), "{err}");
    assert_eq!(trace_lines(&err, "expect").len(), 1, "{err}");
    assert!(err.contains("identical to"), "{err}");

    // Edit the expectation: one holder gone, one more, one balance changed.
    let mut doc: Value = serde_json::from_slice(&first.stdout).unwrap();
    let holders = doc["holders"].as_array_mut().unwrap();
    let gone = holders.remove(1);
    let changed = holders[2]["account"].as_str().unwrap().to_string();
    holders[2]["balance"] = Value::from("1");
    holders.push(serde_json::json!({"rank": 999, "account": "0.0.99999999", "balance": "5"}));
    std::fs::write(&expected, serde_json::to_vec(&doc).unwrap()).unwrap();

    let differs = run(test_args(
        &file,
        &sim,
        &at,
        &["--expect", expected.to_str().unwrap()],
    ))
    .await;
    let err = stderr(&differs);
    assert_eq!(differs.status.code(), Some(1), "{err}");
    assert!(!differs.stdout.is_empty(), "the document is still written");
    let last = err.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("error: the document differs from")
            && last.contains("holders: 1 missing, 1 extra, 1 different"),
        "{err}"
    );
    let expect = trace_lines(&err, "expect").join("\n");
    assert!(
        expect.contains(&format!("extra     {}", gone["account"].as_str().unwrap())),
        "{expect}"
    );
    assert!(
        expect.contains("missing   0.0.99999999 (balance 5)"),
        "{expect}"
    );
    assert!(
        expect.contains(&format!("different {changed}: expected 1, produced")),
        "{expect}"
    );

    let missing = run(test_args(&file, &sim, &at, &["--expect", "/no/such.json"])).await;
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_traces_the_retries_of_a_flaky_upstream() {
    // One shard, so requests go out one by one and the seeded failures fall
    // on the same requests every run.
    let sim = simulator(SimulatorConfig {
        error_ratio: 0.15,
        seed: 7,
        ..SimulatorConfig::default()
    })
    .await;
    let at = pinned_at(&sim);
    let dir = tempfile::tempdir().unwrap();
    let file = hedera_file(dir.path());

    let o = run(test_args(
        &file,
        &sim,
        &at,
        &["--option", "shards=1", "--option", "page_size=20"],
    ))
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let retries = trace_lines(&err, "retry");
    assert!(!retries.is_empty(), "{err}");
    assert!(
        retries[0].contains("attempt 1 failed; next try in"),
        "{err}"
    );
    assert!(
        trace_lines(&err, "http")
            .iter()
            .any(|l| l.contains("→ 200") && l.contains("after 1 retr")),
        "{err}"
    );
    let done = trace_lines(&err, "done").join("");
    assert!(
        done.contains(&format!("({} retries", retries.len())),
        "{err}"
    );
}

// ---------------------------------------------------------------- template

/// The example API of plugins/template/src/api.rs, with `n` holders.
async fn template_api(n: usize) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Path as UrlPath, Query};
    use axum::http::StatusCode;
    use axum::routing::get;
    use std::collections::HashMap;

    let holders: Vec<(String, String)> = (0..n)
        .map(|i| {
            let balance = if i == 0 {
                // Beyond u64: balances stay exact text end to end.
                "18446744073709551617".to_string()
            } else {
                (i * 10).to_string()
            };
            (format!("acct-{i:03}"), balance)
        })
        .collect();
    let app = axum::Router::new()
        .route(
            "/tokens/{id}",
            get(|UrlPath(id): UrlPath<String>| async move {
                if id != "TKN" {
                    return Err(StatusCode::NOT_FOUND);
                }
                Ok(axum::Json(serde_json::json!({
                    "id": "TKN", "name": "Template token", "symbol": "TKN",
                    "decimals": 2, "total_supply": "1000000"
                })))
            }),
        )
        .route(
            "/tokens/{id}/holders",
            get(
                move |UrlPath(_id): UrlPath<String>, Query(q): Query<HashMap<String, String>>| {
                    let holders = holders.clone();
                    async move {
                        let limit: usize = q["limit"].parse().unwrap();
                        let from: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
                        let to = (from + limit).min(holders.len());
                        let page: Vec<Value> = holders[from..to]
                            .iter()
                            .map(|(a, b)| serde_json::json!({"account": a, "balance": b}))
                            .collect();
                        axum::Json(serde_json::json!({
                            "at": q.get("at").cloned().unwrap_or_else(|| "42".into()),
                            "holders": page,
                            "next": (to < holders.len()).then(|| to.to_string()),
                            "total": holders.len(),
                        }))
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_builds_as_documented_checks_valid_and_runs() {
    let wasm = built(template_wasm).await;

    let o = run(strings(&["plugin", "check", wasm.to_str().unwrap()])).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}\n{text}", stderr(&o));
    assert!(text.contains("name           template"), "{text}");
    assert!(text.contains("result     valid"), "{text}");

    let (base, _server) = template_api(23).await;
    let o = run(strings(&[
        "plugin",
        "test",
        wasm.to_str().unwrap(),
        "--token",
        "TKN",
        "--endpoint",
        &base,
        "--option",
        "page_size=5",
    ]))
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(trace_lines(&err, "http").len(), 1 + 5, "{err}");
    assert_eq!(trace_lines(&err, "emit").len(), 5, "{err}");
    assert_eq!(trace_lines(&err, "checkpoint").len(), 5, "{err}");
    assert!(
        trace_lines(&err, "progress")
            .last()
            .unwrap()
            .contains("23 of 23 (100%)"),
        "{err}"
    );
    assert!(
        trace_lines(&err, "log")
            .iter()
            .any(|l| l.contains("info  23 holders of TKN at 42")),
        "{err}"
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["chain"], "template");
    assert_eq!(doc["resolved_at"], "42");
    assert_eq!(doc["holder_count"], 23);
    assert_eq!(doc["holders"][0]["balance"], "18446744073709551617");
    assert_eq!(doc["token"]["decimals"], 2);

    // Unknown and malformed ids: exit 2, the malformed one before any request.
    for (token, reason, requests) in [("NOPE", "not found", 1), ("bad/id", "invalid token id", 0)] {
        let o = run(strings(&[
            "plugin",
            "test",
            wasm.to_str().unwrap(),
            "--token",
            token,
            "--endpoint",
            &base,
        ]))
        .await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(reason), "{err}");
        assert_eq!(trace_lines(&err, "http").len(), requests, "{err}");
    }
}

// --------------------------------------------------------------- debugging

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_panics_and_logs_reach_the_error_and_the_log_with_the_plugin_name() {
    let misbehaving = built(misbehaving_wasm).await;
    let template = built(template_wasm).await;
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(&misbehaving, plugins.path().join("misbehaving.wasm")).unwrap();
    std::fs::copy(&template, plugins.path().join("template.wasm")).unwrap();
    let dir = plugins.path().to_str().unwrap();
    let info = vec![
        ("RUST_LOG", "info".to_string()),
        ("NO_COLOR", "1".to_string()),
    ];

    // A panic: the job's error names the plugin and carries the message,
    // and the operator's log has the panic line tagged with the plugin.
    let o = run_with(
        strings(&[
            "snapshot",
            "panic",
            "--chain",
            "misbehaving",
            "--plugins-dir",
            dir,
        ]),
        info.clone(),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let error = err.trim_end().lines().last().unwrap();
    assert!(
        error.starts_with("error: plugin misbehaving@0.1.0 crashed")
            && error.contains("boom from the plugin"),
        "{err}"
    );
    assert!(
        err.lines().any(|l| l.contains("WARN")
            && l.contains("boom from the plugin")
            && l.contains("plugin=\"misbehaving@0.1.0\"")),
        "{err}"
    );

    // The same panic under `plugin test`: in the trace, then the error.
    let o = run(strings(&[
        "plugin",
        "test",
        misbehaving.to_str().unwrap(),
        "--token",
        "panic",
    ]))
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        trace_lines(&err, "log")
            .iter()
            .any(|l| l.contains("warn") && l.contains("boom from the plugin")),
        "{err}"
    );
    assert!(
        trace_lines(&err, "failed")
            .iter()
            .any(|l| l.contains("plugin misbehaving@0.1.0 crashed")),
        "{err}"
    );

    // A denied request is traced with the line to add (the plugin passes
    // the denial back, which fails the job).
    let o = run(strings(&[
        "plugin",
        "test",
        misbehaving.to_str().unwrap(),
        "--token",
        "egress:http://example.com/secret",
    ]))
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let http = trace_lines(&err, "http");
    assert_eq!(http.len(), 1, "{err}");
    assert!(
        http[0].contains("GET http://example.com/secret → denied")
            && http[0].contains("add \"http://example.com\""),
        "{err}"
    );

    // The plugin's own log lines reach the operator's log, tagged.
    let (base, _server) = template_api(3).await;
    let o = run_with(
        strings(&[
            "snapshot",
            "TKN",
            "--chain",
            "template",
            "--endpoint",
            &base,
            "--plugins-dir",
            dir,
        ]),
        info,
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.lines().any(|l| l.contains("INFO")
            && l.contains("3 holders of TKN at 42")
            && l.contains("plugin=\"template@0.1.0\"")),
        "{err}"
    );
}
