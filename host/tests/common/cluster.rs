//! A cluster for the scale-out tests: one real `redis-server` and several
//! `snapshot-host serve` processes on it, each with its **own** data
//! directory (so nothing can rely on one host's disk), in front of one
//! ledger simulator.

use std::path::Path;
use std::time::Duration;

use ledger_simulators::mirror_node::RunningSimulator;

use super::Server;
use super::redis::RedisServer;

/// The queue namespace `serve` uses by default; every shared key is under it.
pub const NAMESPACE: &str = "snapshot-host::snapshots";

/// A redis-server and the data directories of the hosts started on it.
pub struct Cluster {
    redis: RedisServer,
    dirs: Vec<tempfile::TempDir>,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::start()
    }
}

impl Cluster {
    /// Starts the redis-server.
    pub fn start() -> Cluster {
        Cluster {
            redis: RedisServer::start(),
            dirs: Vec::new(),
        }
    }

    /// `redis://127.0.0.1:port/0`, to look at what the hosts share.
    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// Kills the redis-server (for the tests of a cluster without Redis).
    pub fn stop_redis(&mut self) {
        self.redis.stop();
    }

    /// Restarts the redis-server on the same port (its data is lost).
    pub fn restart_redis(&mut self) {
        self.redis.start_again();
    }

    /// A connection for the test's own look at Redis.
    pub async fn redis(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Starts one host named `host_id` (`SNAPSHOT_HOST_ID`) with a data
    /// directory of its own, upstream limit `rate_limit` (`RPS:CONCURRENCY`)
    /// for the simulator, short heartbeat and orphan timeouts, and `env`.
    pub fn serve(
        &mut self,
        host_id: &str,
        sim: &RunningSimulator,
        rate_limit: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = super::serve_command(dir.path(), sim, rate_limit);
        cmd.env("SNAPSHOT_HOST_ID", host_id)
            .env("REDIS_HOST", "127.0.0.1")
            .env("REDIS_PORT", self.redis.port.to_string());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let server = Server::spawn(cmd);
        assert!(
            !dir.path().join("queue.sqlite3").exists(),
            "serve runs on Redis"
        );
        self.dirs.push(dir);
        server
    }

    /// The data directory of the `n`th host started (0-based).
    pub fn data_dir(&self, n: usize) -> &Path {
        self.dirs[n].path()
    }

    /// The job's journal entries in Redis (holder batches `h…`, checkpoints
    /// `c…`), oldest first.
    pub async fn journal(&self, job: &str) -> Vec<Vec<u8>> {
        let mut conn = self.redis().await;
        ::redis::cmd("LRANGE")
            .arg(format!("{NAMESPACE}:journal:{job}"))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap()
    }
}

/// How long the cluster tests wait for anything (debug builds, two busy
/// cores, several processes).
pub const CLUSTER_DEADLINE: Duration = Duration::from_secs(150);
