//! A real IPFS node for tests: js-ipfs (npm package `ipfs`, installed by
//! `npm ci --prefix tests/ipfs-daemon`) with a fresh repository, offline,
//! its Kubo RPC API on a free loopback port; killed when dropped,
//! restartable on the same port and repository for fault tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

// `super`: these files are also included by path in the host's own tests,
// whose harness provides `free_port` too.
use super::{await_ready, free_port};

/// How long `jsipfs init` and `jsipfs daemon` get (node start-up is slow on
/// a busy 2-core machine).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// The npm project holding js-ipfs, `tests/ipfs-daemon` (this file is built
/// from more than one package, so it is looked for upwards).
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("tests/ipfs-daemon"))
        .find(|dir| dir.join("package.json").exists())
        .expect("tests/ipfs-daemon is in the workspace")
}

/// A js-ipfs daemon with its API on `127.0.0.1:port`.
#[derive(Debug)]
pub struct IpfsDaemon {
    /// The loopback port of the RPC API.
    pub port: u16,
    repo: tempfile::TempDir,
    child: Option<Child>,
}

impl IpfsDaemon {
    /// Initialises a repository (no bootstrap peers, no swarm, no
    /// discovery) and starts the daemon on it.
    ///
    /// Panics with a clear message when js-ipfs is not installed.
    pub fn start() -> IpfsDaemon {
        let jsipfs = jsipfs();
        assert!(
            jsipfs.exists(),
            "js-ipfs is not installed: run `npm ci --prefix tests/ipfs-daemon` (.ci/run does)"
        );
        let repo = tempfile::tempdir().expect("a temporary directory");
        let status = node_command(&jsipfs, repo.path())
            .args(["init", "--empty-repo"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("running jsipfs init");
        assert!(status.success(), "jsipfs init failed: {status}");
        let port = free_port();
        configure(repo.path(), port);
        let mut daemon = IpfsDaemon {
            port,
            repo,
            child: None,
        };
        daemon.spawn();
        daemon
    }

    /// The RPC API base, e.g. `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the daemon (its repository and pins are kept).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: js-ipfs releases its repository lock on the way out,
            // so the same repository can be opened again.
            terminate(&child);
            let waited = wait_with_timeout(&mut child, Duration::from_secs(20));
            if !waited {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(self.repo.path().join("repo.lock"));
            }
        }
    }

    /// Starts the daemon again on the same port and repository.
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = node_command(&jsipfs(), self.repo.path())
            .args(["daemon", "--offline"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting jsipfs daemon");
        let child = await_ready(
            child,
            "Daemon is ready",
            READY_TIMEOUT,
            &format!("jsipfs daemon on port {}", self.port),
        );
        self.child = Some(child);
    }
}

impl Drop for IpfsDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn jsipfs() -> PathBuf {
    package_dir().join("node_modules/.bin/jsipfs")
}

/// `jsipfs` on `repo`, with the `Promise.withResolvers` polyfill js-ipfs
/// needs on Node < 22.
fn node_command(jsipfs: &Path, repo: &Path) -> Command {
    let mut command = Command::new(jsipfs);
    let polyfill = package_dir().join("with-resolvers.cjs");
    let node_options = match std::env::var("NODE_OPTIONS") {
        Ok(existing) if !existing.is_empty() => {
            format!("{existing} --require {}", polyfill.display())
        }
        _ => format!("--require {}", polyfill.display()),
    };
    command
        .env("IPFS_PATH", repo)
        .env("NODE_OPTIONS", node_options);
    command
}

/// A closed, loopback-only node: API on `port`, gateway and gRPC on other
/// free ports, no swarm, no bootstrap peers, no discovery or delegates.
fn configure(repo: &Path, port: u16) {
    let path = repo.join("config");
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("reading the repo config"))
            .expect("the repo config is JSON");
    let addresses = &mut config["Addresses"];
    addresses["API"] = json!(format!("/ip4/127.0.0.1/tcp/{port}"));
    addresses["Gateway"] = json!(format!("/ip4/127.0.0.1/tcp/{}", free_port()));
    addresses["RPC"] = json!(format!("/ip4/127.0.0.1/tcp/{}", free_port()));
    addresses["Swarm"] = json!([]);
    addresses["Delegates"] = json!([]);
    config["Bootstrap"] = json!([]);
    config["Discovery"] =
        json!({ "MDNS": { "Enabled": false }, "webRTCStar": { "Enabled": false } });
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap())
        .expect("writing the repo config");
}

fn terminate(child: &Child) {
    // No libc dependency for one signal: `kill -TERM`.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => return false,
        }
    }
}
