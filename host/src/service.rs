//! `snapshot-host serve`: the REST/WebSocket API and the queue worker in one
//! process, on embedded defaults (SQLite under the data directory, local
//! documents) or on Redis when `REDIS_HOST` is set.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use crate::api::auth::AuthConfig;
use crate::api::metrics::Metrics;
use crate::api::{AppState, app};
use crate::artifacts::{Artifacts, IpfsOptions, KuboClient, KuboConfig, RedisBlobs};
use crate::config::{RateLimitOverride, limits_config, net_config};
use crate::jobs::events::EventBus;
use crate::jobs::queue::{JobQueue, QueueBackend, QueueConfig};
use crate::jobs::store::{RedisJobStore, SharedJobStore, SqliteJobStore};
use crate::jobs::worker::SnapshotWorker;
use crate::net::{HostLimit, HttpGateway, SharedRateLimit};
use crate::registry::{DEFAULT_DEBOUNCE, PluginRegistry};
use crate::runtime::{CompileCache, EngineOptions, PluginEngine, PluginGrants};

/// The secret `--insecure-dev` signs with: public on purpose.
pub const INSECURE_DEV_SECRET: &str = "snapshot-host-insecure-dev-secret-do-not-use";

/// Everything `serve` needs (flags and environment, resolved by the CLI).
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Endpoint override per chain.
    pub endpoints: BTreeMap<String, String>,
    /// The plugins directory, watched for hot loading and written by the
    /// admin API; `<data_dir>/plugins` when none is given.
    pub plugins_dir: Option<PathBuf>,
    /// The operator's plugin config file (grants per plugin; see
    /// `crate::config::plugins`).
    pub plugin_config: Option<PathBuf>,
    pub rate_limits: Vec<RateLimitOverride>,
    /// Accept tokens signed with [`INSECURE_DEV_SECRET`] when no JWT
    /// settings are given.
    pub insecure_dev: bool,
    /// `SNAPSHOT_BATCH_SIZE` (the original's page size), passed to plugins as
    /// `page_size`.
    pub batch_size: Option<u32>,
    /// `SNAPSHOT_RATE_LIMIT_DELAY` in ms (the original's pause between
    /// batches): one request per delay for any upstream without a limit of
    /// its own.
    pub rate_limit_delay_ms: Option<u64>,
    /// The IPFS node documents are published to (`IPFS_API_URL`); none:
    /// the local content-addressed store only.
    pub ipfs: Option<KuboConfig>,
    /// Public gateway for document links (`IPFS_GATEWAY_URL`).
    pub ipfs_gateway: Option<url::Url>,
    /// Longest wait between retries of a failed upload.
    pub ipfs_retry_max: Duration,
}

/// Runs the service until `shutdown` resolves; running jobs are left
/// resumable (their journal is durable and the queue delivers them again).
pub async fn serve(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let auth = match AuthConfig::from_env() {
        Ok(auth) => auth,
        Err(e) if config.insecure_dev => {
            eprintln!(
                "WARNING: --insecure-dev: no JWT settings ({e}); accepting HS256 tokens signed \
                 with the PUBLIC secret {INSECURE_DEV_SECRET:?}. Anyone can act as any wallet. \
                 Never use this outside a development machine."
            );
            AuthConfig::hs256(INSECURE_DEV_SECRET).map_err(|e| anyhow!("{e}"))?
        }
        Err(e) => return Err(anyhow!("{e}")),
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;

    let grants = match &config.plugin_config {
        Some(path) => crate::config::plugins::load(path).map_err(|e| anyhow!("{e}"))?,
        None => PluginGrants::none(),
    };
    let engine = PluginEngine::new(EngineOptions::default())?;
    let registry = Arc::new(
        PluginRegistry::new(
            engine,
            Some(CompileCache::new(config.data_dir.join("cache"))),
        )
        .with_grants(grants),
    );
    registry.load_bundled().await?;
    let mut net = net_config([], &config.rate_limits);
    if let Some(delay) = config.rate_limit_delay_ms.filter(|d| *d > 0) {
        net.limits.default = HostLimit {
            requests_per_second: (1000 / delay).max(1) as u32,
            max_concurrency: net.limits.default.max_concurrency,
        };
    }
    let default_limit = net.limits.default;
    let gateway = HttpGateway::new(net);
    {
        // The plugins' rate limits follow the plugins: each load or unload
        // hands the gateway the limits of those now active.
        let (gateway, overrides) = (gateway.clone(), config.rate_limits.clone());
        registry.on_change(move |plugins| {
            gateway.set_limits(limits_config(plugins, &overrides, default_limit))
        });
    }
    // Hot loading: the directory is loaded now (a bad file is rejected and
    // logged, not fatal) and watched until the service stops.
    let plugins_dir = config
        .plugins_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("plugins"));
    let _plugin_watcher = registry.watch(&plugins_dir, DEFAULT_DEBOUNCE).await?;

    let queue_config = QueueConfig::from_env(&config.data_dir)?;
    let store: SharedJobStore = match &queue_config.backend {
        QueueBackend::Sqlite { .. } => {
            Arc::new(SqliteJobStore::open(&config.data_dir.join("jobs.sqlite3")).await?)
        }
        QueueBackend::Redis { url } => {
            Arc::new(RedisJobStore::connect(url, &queue_config.namespace).await?)
        }
    };
    let max_retries = queue_config.max_retries as u32;
    // A cluster shares more than the queue and the store: events, upstream
    // rate limits and documents go through the same Redis.
    let cluster = match &queue_config.backend {
        QueueBackend::Redis { url } => Some(redis::Client::open(url.as_str())?),
        QueueBackend::Sqlite { .. } => None,
    };
    let namespace = queue_config.namespace.clone();
    tracing::info!(host_id = %queue_config.host_id, cluster = cluster.is_some(), "host identity");
    if let Some(client) = &cluster {
        let shared = SharedRateLimit::connect(client, &namespace).await?;
        gateway
            .limiter()
            .share_with(shared)
            .map_err(|e| anyhow!(e))?;
    }
    let queue = Arc::new(
        JobQueue::connect(queue_config)
            .await
            .map_err(|e| anyhow!("connecting the job queue: {e}"))?,
    );

    let events = Arc::new(EventBus::new());
    if let Some(client) = &cluster {
        crate::jobs::relay::start(events.clone(), client.clone(), &namespace).await?;
    }
    let metrics = Arc::new(Metrics::default());
    {
        let (mut rx, metrics) = (events.subscribe_local(), metrics.clone());
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => metrics.observe(&e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
    }
    let ipfs = match config.ipfs.clone() {
        Some(kubo) => {
            let client = KuboClient::new(kubo).map_err(|e| anyhow!("{e}"))?;
            // The start-up probe: a node that is down now is not fatal (the
            // documents wait in the local store), but the operator is told.
            match client.version().await {
                Ok(v) => {
                    tracing::info!(api = %client.api_url(), version = v, "IPFS node reachable")
                }
                Err(e) => tracing::warn!(
                    api = %client.api_url(),
                    "IPFS node not reachable at start ({e}); documents stay local until it is"
                ),
            }
            Some(IpfsOptions {
                client,
                retry_initial: Duration::from_secs(1).min(config.ipfs_retry_max),
                retry_max: config.ipfs_retry_max,
            })
        }
        None => None,
    };
    let mut artifacts = Artifacts::new(
        &config.data_dir.join("artifacts"),
        ipfs,
        config.ipfs_gateway.clone(),
    );
    if let Some(client) = &cluster {
        let blobs = RedisBlobs::connect(client, &namespace)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        artifacts = artifacts.with_shared(Arc::new(blobs));
    }
    let artifacts = Arc::new(artifacts);
    let mut plugin_options = Vec::new();
    if let Some(size) = config.batch_size {
        plugin_options.push(("page_size".to_string(), size.to_string()));
    }
    let worker = Arc::new(SnapshotWorker {
        registry: registry.clone(),
        gateway: gateway.clone(),
        store: store.clone(),
        events: events.clone(),
        artifacts: artifacts.clone(),
        endpoints: config.endpoints.clone(),
        plugin_options,
        max_retries,
    });

    let state = AppState {
        auth: Arc::new(auth),
        registry,
        gateway,
        queue: queue.clone(),
        store: store.clone(),
        events,
        artifacts: artifacts.clone(),
        metrics,
        endpoints: Arc::new(config.endpoints.clone()),
    };

    // One shutdown signal for both halves.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let uploader = {
        let (store, stop) = (store.clone(), stopped(stop_rx.clone()));
        tokio::spawn(artifacts.run_uploader(store, stop))
    };
    let worker_task = {
        let (queue, stop) = (queue.clone(), stopped(stop_rx.clone()));
        tokio::spawn(async move { queue.run_worker(worker, stop).await })
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "snapshot-host serving");
    eprintln!(
        "snapshot-host listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app(state))
        .with_graceful_shutdown(stopped(stop_rx))
        .await
        .context("serving HTTP")?;
    let _ = uploader.await;
    match worker_task.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow!("queue worker: {e}")),
        Err(e) => Err(anyhow!("queue worker task: {e}")),
    }
}
