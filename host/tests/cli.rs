//! The `snapshot-host snapshot` command as a user runs it: the real binary,
//! the bundled Hedera plugin, a mirror-node simulator on loopback.

use std::path::Path;
use std::process::{Command, Output};

use ledger_simulators::mirror_node::{
    EntityId, MirrorNodeSimulator, MirrorState, RunningSimulator, SimulatorConfig,
};

async fn simulator(config: SimulatorConfig) -> RunningSimulator {
    let mut state = MirrorState::new();
    state.populate(EntityId::new(5_000), 400, 3);
    MirrorNodeSimulator::start(config, state.into_shared())
        .await
        .expect("simulator starts")
}

/// Runs the binary off the async threads (it blocks until the CLI exits),
/// with its compile cache in a directory of its own.
async fn run(args: Vec<String>) -> Output {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let cache = CACHE
        .get_or_init(|| tempfile::tempdir().expect("cache dir"))
        .path()
        .to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_snapshot-host"))
            .args(&args)
            .env("SNAPSHOT_CACHE_DIR", cache)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

fn args(sim: &RunningSimulator, token: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "snapshot",
        token,
        "--chain",
        "hedera",
        "--endpoint",
        &sim.base_url(),
        "--rate-limit",
        &format!("{}=500:16", sim.address()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_written_to_the_output_file_and_exits_zero() {
    let sim = simulator(SimulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");

    let o = run(args(&sim, "0.0.5000", &["--out", out.to_str().unwrap()])).await;

    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing on stdout when --out is given");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["chain"], "hedera");
    assert_eq!(doc["token_id"], "0.0.5000");
    let count = doc["holder_count"].as_u64().unwrap();
    assert!(count > 300, "{count}");
    assert_eq!(doc["holders"].as_array().unwrap().len() as u64, count);
    assert_eq!(doc["holders"][0]["rank"], 1);
    assert_eq!(doc["holders"][0]["balance"], i64::MAX.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_goes_to_stdout_when_no_output_file_is_given_and_matches_the_json() {
    let sim = simulator(SimulatorConfig::default()).await;
    let at = {
        let state = sim.state().read().unwrap();
        ledger_simulators::mirror_node::format_timestamp(state.latest_snapshot_timestamp().unwrap())
    };

    let csv = run(args(&sim, "0.0.5000", &["--format", "csv", "--at", &at])).await;
    let json = run(args(&sim, "0.0.5000", &["--at", &at])).await;

    assert!(csv.status.success(), "stderr: {}", stderr(&csv));
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("rank,account,balance,balance_formatted,share")
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, doc["holder_count"].as_u64().unwrap());
    let first = &doc["holders"][0];
    assert_eq!(
        rows[0],
        format!(
            "1,{},{},{},{}",
            first["account"].as_str().unwrap(),
            first["balance"].as_str().unwrap(),
            first["balance_formatted"].as_str().unwrap(),
            first["share"].as_str().unwrap()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_two_with_one_line_and_leaves_no_file() {
    let sim = simulator(SimulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let out_arg = out.to_str().unwrap();
    let before = files_in(dir.path());

    let cases: Vec<(Vec<String>, &str)> = vec![
        (args(&sim, "0.0.x", &["--out", out_arg]), "shard.realm.num"),
        (args(&sim, "0.0.424242", &["--out", out_arg]), "not found"),
        (
            args(&sim, "0.0.5000", &["--out", out_arg, "--at", "yesterday"]),
            "not a point in time",
        ),
        (
            args(&sim, "0.0.5000", &["--out", out_arg, "--min-balance", "1e"]),
            "min balance",
        ),
        (
            vec![
                "snapshot".into(),
                "0.0.5000".into(),
                "--chain".into(),
                "dogecoin".into(),
            ],
            "no plugin handles chain `dogecoin`",
        ),
        (
            args(&sim, "0.0.5000", &["--network", "moonnet"])
                .into_iter()
                .filter(|a| a != "--endpoint" && !a.starts_with("http"))
                .collect(),
            "unknown network `moonnet`",
        ),
    ];
    for (argv, expected) in cases {
        let o = run(argv.clone()).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(expected), "{argv:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!out.exists(), "{argv:?} left an output file");
    }
    assert_eq!(files_in(dir.path()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_failure_exits_one_and_leaves_no_partial_file() {
    // Every request fails: validation cannot even start.
    let sim = simulator(SimulatorConfig {
        error_ratio: 1.0,
        ..SimulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    let before = files_in(dir.path());

    let o = run(args(&sim, "0.0.5000", &["--out", out.to_str().unwrap()])).await;

    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("503"), "{}", stderr(&o));
    assert!(!out.exists());
    assert_eq!(
        files_in(dir.path()),
        before,
        "no temporary file left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_output_file_is_only_replaced_by_a_complete_snapshot() {
    let sim = simulator(SimulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.json");
    std::fs::write(&out, b"previous snapshot").unwrap();

    let failed = run(args(&sim, "0.0.x", &["--out", out.to_str().unwrap()])).await;
    assert_eq!(failed.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous snapshot");

    let ok = run(args(&sim, "0.0.5000", &["--out", out.to_str().unwrap()])).await;
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        std::fs::read(&out)
            .unwrap()
            .starts_with(b"{\"chain\":\"hedera\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_dir_overrides_bundled_plugins_and_a_corrupt_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_, hedera) = snapshot_host::registry::BUNDLED
        .iter()
        .find(|(name, _)| *name == "hedera")
        .unwrap();
    std::fs::write(dir.path().join("hedera.wasm"), hedera).unwrap();
    let listed = run(vec![
        "plugins".into(),
        "--plugins-dir".into(),
        dir.path().to_str().unwrap().into(),
    ])
    .await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let text = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(text.matches("hedera@").count(), 1, "{text}");

    std::fs::write(dir.path().join("broken.wasm"), b"\0asm garbage").unwrap();
    let broken = run(vec![
        "plugins".into(),
        "--plugins-dir".into(),
        dir.path().to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(broken.status.code(), Some(1));
    let err = stderr(&broken);
    assert!(
        err.contains("broken.wasm") && err.contains("not a WebAssembly component"),
        "{err}"
    );
}
