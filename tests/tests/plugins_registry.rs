//! Hot loading, capabilities and the compile cache, in-process: the real
//! registry watching a real directory, real components (the misbehaving test
//! guest and the bundled Hedera plugin, and variants of them made by editing
//! their embedded manifest: see `snapshot_tests::plugin_files`), jobs through
//! `take_snapshot` as the worker runs them.
//!
//! Nothing here orders steps with sleeps: a test waits for the registry's
//! change events, for a request to reach a server, or for a job to finish,
//! each bounded by a deadline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use snapshot_host::config::{limits_config, plugins as plugin_config};
use snapshot_host::jobs::{
    CollectingSink, SnapshotError, SnapshotSpec, TakenSnapshot, take_snapshot,
};
use snapshot_host::net::{HostLimit, HttpGateway, NetConfig};
use snapshot_host::registry::{
    BUNDLED, PluginAction, PluginChange, PluginOrigin, PluginRegistry, PluginWatcher,
};
use snapshot_host::runtime::bindings::PluginError;
use snapshot_host::runtime::{
    CacheOutcome, CallLimits, CompileCache, EngineOptions, LoadedPlugin, PluginEngine, PluginGrants,
};
use snapshot_tests::guests;
use snapshot_tests::plugin_files::{
    component_of_another_world, edit_manifest, manifest_text, truncated, with_import_renamed,
    with_version, write_atomically,
};
use tokio::sync::{Semaphore, broadcast, mpsc};

/// Upper bound of any one wait: a compile in a debug build on a busy machine.
const DEADLINE: Duration = Duration::from_secs(120);

/// Debounce of the test watchers: short, the tests wait on events anyway.
const DEBOUNCE: Duration = Duration::from_millis(20);

fn misbehaving() -> Vec<u8> {
    guests::misbehaving_bytes()
}

fn hedera() -> Vec<u8> {
    BUNDLED
        .iter()
        .find(|(name, _)| *name == "hedera")
        .expect("a bundled hedera plugin")
        .1
        .to_vec()
}

/// A registry with `grants`, watching a fresh directory, and its events.
struct Host {
    registry: Arc<PluginRegistry>,
    changes: broadcast::Receiver<PluginChange>,
    gateway: Arc<HttpGateway>,
    dir: PathBuf,
    _watcher: PluginWatcher,
    _tmp: tempfile::TempDir,
}

impl Host {
    async fn start(grants: PluginGrants, bundled: bool) -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let engine = PluginEngine::new(EngineOptions::default()).unwrap();
        let registry = Arc::new(
            PluginRegistry::new(engine, Some(CompileCache::new(tmp.path().join("cache"))))
                .with_grants(grants),
        );
        if bundled {
            registry.load_bundled().await.unwrap();
        }
        let gateway = HttpGateway::new(NetConfig::default());
        {
            // As `serve` wires it: the plugins' limits follow the plugins.
            let gateway = gateway.clone();
            registry.on_change(move |plugins| {
                gateway.set_limits(limits_config(plugins, &[], HostLimit::default()))
            });
        }
        let changes = registry.subscribe();
        let dir = tmp.path().join("plugins");
        let watcher = registry.watch(&dir, DEBOUNCE).await.unwrap();
        Host {
            registry,
            changes,
            gateway,
            dir,
            _watcher: watcher,
            _tmp: tmp,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The next change (bounded).
    async fn next_change(&mut self) -> PluginChange {
        tokio::time::timeout(DEADLINE, self.changes.recv())
            .await
            .expect("a plugin change within the deadline")
            .expect("the change stream stays open")
    }

    /// The next change, which must be `action`.
    async fn expect(&mut self, action: PluginAction) -> PluginChange {
        let change = self.next_change().await;
        assert_eq!(change.action, action, "{change:?}");
        change
    }

    async fn snapshot(
        &self,
        chain: &str,
        spec: &SnapshotSpec,
    ) -> Result<TakenSnapshot, SnapshotError> {
        // As the worker does: the plugin is taken once, when the job starts.
        let plugin = self.registry.for_chain(chain).unwrap();
        snapshot_with(plugin, spec, &self.gateway).await
    }
}

async fn snapshot_with(
    plugin: Arc<LoadedPlugin>,
    spec: &SnapshotSpec,
    gateway: &Arc<HttpGateway>,
) -> Result<TakenSnapshot, SnapshotError> {
    let sink = Arc::new(CollectingSink::new(plugin.id()));
    tokio::time::timeout(DEADLINE, take_snapshot(plugin, spec, gateway, sink))
        .await
        .expect("the snapshot finishes within the deadline")
}

/// The misbehaving plugin asking for every host: its `allowed_hosts` line
/// rewritten in place to `["*"]` (padded to the same length).
fn with_bare_star(bytes: &[u8]) -> Vec<u8> {
    edit_manifest(
        bytes,
        "allowed_hosts = [\"http://127.0.0.1:1\"]",
        "allowed_hosts = [\"*\"                 ]",
    )
}

fn ok_spec() -> SnapshotSpec {
    SnapshotSpec {
        token_id: "ok".into(),
        ..SnapshotSpec::default()
    }
}

/// A loopback server whose `/hold` answers only when the test releases it,
/// telling the test when a request has arrived; `/ok` answers at once.
struct Gate {
    base: String,
    arrived: mpsc::UnboundedReceiver<()>,
    release: Arc<Semaphore>,
    hits: Arc<AtomicUsize>,
}

impl Gate {
    async fn start() -> Gate {
        let (tx, arrived) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let (gate, counter) = (release.clone(), hits.clone());
        let app = Router::new()
            .route(
                "/hold",
                get(move || {
                    let (tx, gate) = (tx.clone(), gate.clone());
                    async move {
                        let _ = tx.send(());
                        gate.acquire().await.unwrap().forget();
                        "released"
                    }
                }),
            )
            .route(
                "/ok",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { "ok" }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Gate {
            base,
            arrived,
            release,
            hits,
        }
    }

    /// A job whose fetch holds at this gate (the gate is its endpoint).
    fn hold_spec(&self) -> SnapshotSpec {
        SnapshotSpec {
            token_id: format!("egress:{}/hold", self.base),
            endpoint: Some(self.base.clone()),
            ..SnapshotSpec::default()
        }
    }

    async fn wait_arrival(&mut self) {
        tokio::time::timeout(DEADLINE, self.arrived.recv())
            .await
            .expect("the held request reaches the gate")
            .unwrap();
    }
}

fn version_of(taken: &TakenSnapshot) -> (String, String) {
    let plugin = &taken.document.meta().plugin;
    (plugin.version.clone(), plugin.sha256.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_jobs_finish_on_their_version_while_new_jobs_take_the_new_one() {
    let mut host = Host::start(PluginGrants::none(), false).await;
    let mut gate = Gate::start().await;
    let v1 = misbehaving();
    let v2 = with_version(&v1, "0.1.1");
    let file = host.file("misbehaving.wasm");

    // Hot add.
    write_atomically(&file, &v1);
    let added = host.expect(PluginAction::Added).await;
    assert_eq!(added.version.as_deref(), Some("0.1.0"));
    assert_eq!(added.file.as_deref(), Some("misbehaving.wasm"));
    let v1_sha = added.sha256.clone().unwrap();

    // A job on 0.1.0, held mid-fetch at the gate.
    let running = {
        let plugin = host.registry.for_chain("misbehaving").unwrap();
        let (spec, gateway) = (gate.hold_spec(), host.gateway.clone());
        tokio::spawn(async move { snapshot_with(plugin, &spec, &gateway).await })
    };
    gate.wait_arrival().await;

    // Hot replace while it runs.
    write_atomically(&file, &v2);
    let replaced = host.expect(PluginAction::Replaced).await;
    assert_eq!(replaced.previous_version.as_deref(), Some("0.1.0"));
    assert_eq!(replaced.version.as_deref(), Some("0.1.1"));
    assert_ne!(replaced.sha256.as_deref(), Some(v1_sha.as_str()));

    // The next job runs on 0.1.1 ...
    let next = host.snapshot("misbehaving", &ok_spec()).await.unwrap();
    assert_eq!(version_of(&next).0, "0.1.1");
    // ... while the held one still finishes on 0.1.0.
    gate.release.add_permits(1);
    let held = running.await.unwrap().unwrap();
    assert_eq!(version_of(&held), ("0.1.0".to_string(), v1_sha));
    assert_eq!(
        held.document
            .meta()
            .attributes
            .get("body")
            .map(String::as_str),
        Some("released")
    );

    // Hot remove while a job on 0.1.1 runs.
    let running = {
        let plugin = host.registry.for_chain("misbehaving").unwrap();
        let (spec, gateway) = (gate.hold_spec(), host.gateway.clone());
        tokio::spawn(async move { snapshot_with(plugin, &spec, &gateway).await })
    };
    gate.wait_arrival().await;
    std::fs::remove_file(&file).unwrap();
    let removed = host.expect(PluginAction::Removed).await;
    assert_eq!(removed.previous_version.as_deref(), Some("0.1.1"));
    let err = host.registry.for_chain("misbehaving").unwrap_err();
    assert!(err.to_string().contains("no plugin handles chain"), "{err}");
    gate.release.add_permits(1);
    let held = running.await.unwrap().unwrap();
    assert_eq!(version_of(&held).0, "0.1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_rejected_with_its_reason_and_the_previous_version_stays_live() {
    let mut host = Host::start(PluginGrants::none(), false).await;
    let good = misbehaving();
    let file = host.file("misbehaving.wasm");
    write_atomically(&file, &good);
    let live_sha = host.expect(PluginAction::Added).await.sha256.unwrap();

    let manifest = manifest_text(&good);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "corrupt (truncated)",
            truncated(&good),
            "not a WebAssembly component",
        ),
        (
            "not wasm at all",
            b"#!/bin/sh\necho pwned\n".to_vec(),
            "not a WebAssembly component",
        ),
        (
            "a component of another world",
            component_of_another_world(&manifest),
            "does not export the snapshot:plugin@0.1.0 ledger-plugin world",
        ),
        (
            "an import the host does not provide",
            with_import_renamed(
                &good,
                "snapshot:plugin/http@0.1.0",
                "snapshot:plugin/xttp@0.1.0",
            ),
            "imports something this host does not provide",
        ),
        (
            "an unsupported WIT line",
            edit_manifest(&good, "wit = \"0.1.0\"", "wit = \"0.9.0\""),
            "targets a WIT line this host does not serve",
        ),
        (
            "a bare * without an operator grant",
            with_bare_star(&good),
            "grant_any_host = true",
        ),
    ];
    for (what, bytes, reason) in cases {
        write_atomically(&file, &bytes);
        let rejected = host.expect(PluginAction::Rejected).await;
        let got = rejected.reason.clone().unwrap_or_default();
        assert!(got.contains(reason), "{what}: {got}");
        assert_eq!(rejected.file.as_deref(), Some("misbehaving.wasm"), "{what}");
        assert_eq!(
            rejected.name.as_deref(),
            Some("misbehaving"),
            "{what}: the live plugin is named"
        );
        // The previous version stays live and serves.
        let live = host.registry.for_chain("misbehaving").unwrap();
        assert_eq!(live.sha256, live_sha, "{what}");
        let taken = host.snapshot("misbehaving", &ok_spec()).await.unwrap();
        assert_eq!(taken.document.holder_count(), 3, "{what}");
    }

    // A broken new file (another name) adds nothing.
    write_atomically(&host.file("other.wasm"), &truncated(&hedera()));
    let rejected = host.expect(PluginAction::Rejected).await;
    assert_eq!(rejected.file.as_deref(), Some("other.wasm"));
    assert_eq!(rejected.name, None);
    assert_eq!(host.registry.list().len(), 1);

    // Fixing the file is picked up.
    write_atomically(&file, &with_version(&good, "0.1.2"));
    let replaced = host.expect(PluginAction::Replaced).await;
    assert_eq!(replaced.version.as_deref(), Some("0.1.2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_in_several_pieces_is_loaded_once_it_is_whole() {
    let mut host = Host::start(PluginGrants::none(), false).await;
    let bytes = misbehaving();
    // A plain, non-atomic copy: the watcher may see a partial file, which it
    // rejects; the last write completes it and it is loaded.
    let file = host.file("misbehaving.wasm");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&file).unwrap();
        for chunk in bytes.chunks(bytes.len() / 4 + 1) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
        }
    }
    loop {
        let change = host.next_change().await;
        match change.action {
            PluginAction::Rejected => continue,
            PluginAction::Added => {
                assert_eq!(change.version.as_deref(), Some("0.1.0"));
                break;
            }
            other => panic!("unexpected {other:?}: {change:?}"),
        }
    }
    host.snapshot("misbehaving", &ok_spec()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_override_brings_the_bundled_plugin_back() {
    let mut host = Host::start(PluginGrants::none(), true).await;
    let bundled = host.registry.get("hedera").unwrap();
    assert_eq!(bundled.origin, PluginOrigin::Bundled);

    let file = host.file("my-hedera-build.wasm");
    write_atomically(&file, &with_version(&hedera(), "0.1.3"));
    let replaced = host.expect(PluginAction::Replaced).await;
    assert_eq!(replaced.previous_version.as_deref(), Some("0.1.0"));
    assert_eq!(replaced.version.as_deref(), Some("0.1.3"));
    let entry = host.registry.get("hedera").unwrap();
    assert_eq!(entry.origin, PluginOrigin::File(file.clone()));

    std::fs::remove_file(&file).unwrap();
    let restored = host.expect(PluginAction::Restored).await;
    assert_eq!(restored.previous_version.as_deref(), Some("0.1.3"));
    assert_eq!(restored.version.as_deref(), Some("0.1.0"));
    let entry = host.registry.get("hedera").unwrap();
    assert_eq!(entry.origin, PluginOrigin::Bundled);
    assert!(
        Arc::ptr_eq(&entry.plugin, &bundled.plugin),
        "the same compiled bundled plugin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_file_for_a_loaded_name_or_chain_is_rejected() {
    let mut host = Host::start(PluginGrants::none(), false).await;
    let good = misbehaving();
    write_atomically(&host.file("a.wasm"), &good);
    host.expect(PluginAction::Added).await;

    write_atomically(&host.file("b.wasm"), &with_version(&good, "0.1.5"));
    let rejected = host.expect(PluginAction::Rejected).await;
    assert!(
        rejected
            .reason
            .as_deref()
            .unwrap()
            .contains("already loaded from a.wasm"),
        "{rejected:?}"
    );

    // Another name for the same chain.
    let renamed = edit_manifest(&good, "name = \"misbehaving\"", "name = \"misbehavinz\"");
    write_atomically(&host.file("c.wasm"), &renamed);
    let rejected = host.expect(PluginAction::Rejected).await;
    assert!(
        rejected
            .reason
            .as_deref()
            .unwrap()
            .contains("chain misbehaving is already handled by plugin misbehaving"),
        "{rejected:?}"
    );
    assert_eq!(host.registry.list().len(), 1);
    assert_eq!(
        host.registry
            .for_chain("misbehaving")
            .unwrap()
            .manifest
            .plugin
            .version,
        "0.1.0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugins_rate_limits_reach_the_gateway_and_leave_with_it() {
    let mut host = Host::start(PluginGrants::none(), false).await;
    let mirror = "mainnet.mirrornode.hedera.com:443";
    assert_eq!(
        host.gateway.limiter().limit_of(mirror),
        HostLimit::default()
    );

    // Hedera's manifest: `*.mirrornode.hedera.com` at 50/s, 16 in flight.
    let file = host.file("hedera.wasm");
    write_atomically(&file, &hedera());
    host.expect(PluginAction::Added).await;
    let declared = HostLimit {
        requests_per_second: 50,
        max_concurrency: 16,
    };
    assert_eq!(host.gateway.limiter().limit_of(mirror), declared);

    std::fs::remove_file(&file).unwrap();
    host.expect(PluginAction::Removed).await;
    assert_eq!(
        host.gateway.limiter().limit_of(mirror),
        HostLimit::default()
    );
}

/// Writes the operator's plugin config and parses it.
fn grants(dir: &Path, text: &str) -> (PluginGrants, PathBuf) {
    let path = dir.join("plugins.toml");
    std::fs::write(&path, text).unwrap();
    (
        plugin_config::load(&path).expect("the plugin config parses"),
        path,
    )
}

fn denial(outcome: Result<TakenSnapshot, SnapshotError>) -> String {
    match outcome {
        Err(SnapshotError::Plugin(failure)) => match failure.plugin_error() {
            Some(PluginError::Denied(message)) => message.clone(),
            _ => panic!("expected a denial, got {failure:?}"),
        },
        Err(other) => panic!("expected a denial, got {other:?}"),
        Ok(_) => panic!("the request was let through"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_grant_narrows_the_manifest_and_a_denial_names_the_config_line() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = Gate::start().await;
    let (grants, path) = grants(
        tmp.path(),
        "# operator grants\n[plugins.misbehaving]\nallowed_hosts = []\nmemory_mb = 16\n",
    );
    let mut host = Host::start(grants, false).await;
    write_atomically(&host.file("misbehaving.wasm"), &misbehaving());
    host.expect(PluginAction::Added).await;
    let plugin = host.registry.for_chain("misbehaving").unwrap();
    assert_eq!(
        plugin.capabilities.memory_mb, 16,
        "min(32 in the manifest, 16 granted)"
    );
    assert_eq!(
        CallLimits::for_plugin(&plugin, Duration::from_secs(1)).memory_bytes,
        16 << 20
    );

    // The manifest allows http://127.0.0.1:1; the operator's empty list does not.
    let outcome = host
        .snapshot(
            "misbehaving",
            &SnapshotSpec {
                token_id: "egress:http://127.0.0.1:1/x".into(),
                endpoint: Some(gate.base.clone()),
                ..SnapshotSpec::default()
            },
        )
        .await;
    let message = denial(outcome);
    assert!(
        message.contains(&format!(
            "to allow it add \"http://127.0.0.1:1\" to allowed_hosts of [plugins.misbehaving] in {} (line 3)",
            path.display()
        )),
        "{message}"
    );
    assert!(
        !message.contains("plugin.toml"),
        "the manifest already allows it: {message}"
    );

    // Neither allows this one: both lines are named.
    let outcome = host
        .snapshot(
            "misbehaving",
            &SnapshotSpec {
                token_id: "egress:https://evil-example.com/".into(),
                endpoint: Some(gate.base.clone()),
                ..SnapshotSpec::default()
            },
        )
        .await;
    let message = denial(outcome);
    assert!(
        message.contains(
            "add \"https://evil-example.com\" to allowed_hosts in [capabilities] of misbehaving's plugin.toml (line"
        ) && message.contains("and to allowed_hosts of [plugins.misbehaving]"),
        "{message}"
    );

    // The endpoint the operator configured passes the narrowing.
    let outcome = host
        .snapshot(
            "misbehaving",
            &SnapshotSpec {
                token_id: format!("egress:{}/ok", gate.base),
                endpoint: Some(gate.base.clone()),
                ..SnapshotSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(outcome.document.meta().attributes["status"], "200");
    assert_eq!(gate.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_star_loads_only_with_grant_any_host() {
    let tmp = tempfile::tempdir().unwrap();
    let gate = Gate::start().await;
    let star = with_bare_star(&misbehaving());

    // Without the grant: refused, naming the line to add.
    let (without, path) = grants(tmp.path(), "[plugins.other]\nmemory_mb = 8\n");
    let mut host = Host::start(without, false).await;
    write_atomically(&host.file("misbehaving.wasm"), &star);
    let rejected = host.expect(PluginAction::Rejected).await;
    let reason = rejected.reason.unwrap();
    assert!(
        reason.contains(&format!(
            "add `grant_any_host = true` to [plugins.misbehaving] in {}",
            path.display()
        )),
        "{reason}"
    );
    assert!(host.registry.list().is_empty());

    // With it: loaded, and any host is allowed.
    let (with, _) = grants(tmp.path(), "[plugins.misbehaving]\ngrant_any_host = true\n");
    let mut host = Host::start(with, false).await;
    write_atomically(&host.file("misbehaving.wasm"), &star);
    host.expect(PluginAction::Added).await;
    // Not the endpoint: allowed by the granted `*` alone.
    let taken = host
        .snapshot(
            "misbehaving",
            &SnapshotSpec {
                token_id: format!("egress:{}/ok", gate.base),
                ..SnapshotSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(taken.document.meta().attributes["status"], "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_setting_an_undeclared_config_key_rejects_the_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let (grants, _) = grants(
        tmp.path(),
        "[plugins.misbehaving]\nconfig = { shards = \"4\" }\n",
    );
    let mut host = Host::start(grants, false).await;
    write_atomically(&host.file("misbehaving.wasm"), &misbehaving());
    let reason = host.expect(PluginAction::Rejected).await.reason.unwrap();
    assert!(reason.contains("config key `shards`"), "{reason}");
}

#[tokio::test]
async fn the_compile_cache_hits_and_a_corrupt_entry_is_a_miss_not_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = CompileCache::new(tmp.path());
    let engine = PluginEngine::new(EngineOptions::default()).unwrap();
    let bytes = misbehaving();
    let load = |cache: &CompileCache| {
        let (engine, bytes, cache) = (engine.clone(), bytes.clone(), cache.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                LoadedPlugin::load_cached(&engine, &bytes, Some(&cache)).unwrap()
            })
            .await
            .unwrap()
        }
    };
    let first = load(&cache).await;
    assert_eq!(first.cache_outcome, CacheOutcome::Miss);
    let entry = cache.entry_path(&engine, &first.sha256);
    assert!(entry.exists());
    assert_eq!(load(&cache).await.cache_outcome, CacheOutcome::Hit);

    let pristine = std::fs::read(&entry).unwrap();
    let corruptions: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte", {
            let mut b = pristine.clone();
            let mid = b.len() / 2;
            b[mid] ^= 0xff;
            b
        }),
        ("truncated", pristine[..pristine.len() / 3].to_vec()),
        ("empty", Vec::new()),
        ("a valid digest over bytes that are no compiled code", {
            use sha2::Digest as _;
            let payload = b"not a compiled component".to_vec();
            let mut b = payload.clone();
            b.extend_from_slice(&sha2::Sha256::digest(&payload));
            b
        }),
    ];
    for (what, corrupt) in corruptions {
        std::fs::write(&entry, corrupt).unwrap();
        let plugin = load(&cache).await;
        assert_eq!(plugin.cache_outcome, CacheOutcome::Corrupt, "{what}");
        // The plugin works, and the entry was rewritten.
        let gateway = HttpGateway::new(NetConfig::default());
        let taken = snapshot_with(Arc::new(plugin), &ok_spec(), &gateway)
            .await
            .unwrap();
        assert_eq!(taken.document.holder_count(), 3, "{what}");
        assert_eq!(
            load(&cache).await.cache_outcome,
            CacheOutcome::Hit,
            "{what}"
        );
    }
}
