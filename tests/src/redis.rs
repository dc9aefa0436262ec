//! A real `redis-server` for tests: started on a free loopback port, killed
//! when dropped, restartable on the same port for fault tests. By default
//! nothing is persisted (a restart starts empty); [`RedisServer::start_persistent`]
//! keeps an append-only file synced on every write, so a server killed and
//! started again has every write it acknowledged, as a production Redis with
//! `appendfsync always` does.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

// `super`: these files are also included by path in the host's own tests,
// whose harness provides `free_port` too.
use super::{await_ready, free_port};

/// How long `redis-server` gets to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on `127.0.0.1:port`.
#[derive(Debug)]
pub struct RedisServer {
    /// The loopback port it listens on.
    pub port: u16,
    child: Option<Child>,
    /// The directory of the append-only file, when the server persists.
    persistence: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    ///
    /// Panics with a clear message when `redis-server` is not installed.
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut server = RedisServer {
            port,
            child: None,
            persistence: None,
        };
        server.spawn();
        server
    }

    /// Starts a server that persists every write before acknowledging it
    /// (AOF, `appendfsync always`, in a temporary directory), so
    /// [`RedisServer::stop`] (SIGKILL) then [`RedisServer::start_again`]
    /// loses nothing.
    pub fn start_persistent() -> RedisServer {
        let port = free_port();
        let mut server = RedisServer {
            port,
            child: None,
            persistence: Some(tempfile::tempdir().expect("a temporary directory")),
        };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:port/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL). Data is lost unless it was started with
    /// [`RedisServer::start_persistent`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port after [`RedisServer::stop`].
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""]);
        match &self.persistence {
            Some(dir) => command.arg("--dir").arg(dir.path()).args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server must be installed (Debian package `redis-server`)");
        let child = await_ready(
            child,
            "Ready to accept connections",
            READY_TIMEOUT,
            &format!("redis-server on port {}", self.port),
        );
        self.child = Some(child);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
