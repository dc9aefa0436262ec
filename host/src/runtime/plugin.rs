//! A loaded plugin and the three calls into it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{Store, UpdateDeadline};

use crate::runtime::bindings::v0_1::{LedgerPlugin, LedgerPluginPre};
use crate::runtime::bindings::{FetchSummary, PluginError, PluginInfo, SnapshotRequest, TokenInfo};
use crate::runtime::cache::{CacheOutcome, CompileCache};
use crate::runtime::capabilities::{EffectiveCapabilities, PluginGrant, PluginGrants};
use crate::runtime::cpu::{CpuMeter, Metered};
use crate::runtime::engine::PluginEngine;
use crate::runtime::manifest::Manifest;
use crate::runtime::state::{JobContext, PluginState};

/// Per-call limits.
#[derive(Clone, Debug)]
pub struct CallLimits {
    /// Linear memory cap.
    pub memory_bytes: usize,
    /// Guest CPU time (host calls excluded).
    pub cpu: Duration,
    /// Wall-clock bound of the whole call, HTTP waits included.
    pub wall: Duration,
    /// Largest `emit` batch.
    pub max_emit_batch: usize,
}

impl CallLimits {
    /// The manifest's limits, with wall-clock bound `wall`.
    pub fn from_manifest(m: &Manifest, wall: Duration) -> Self {
        CallLimits {
            memory_bytes: (m.limits.memory_mb as usize) << 20,
            cpu: Duration::from_secs(m.limits.cpu_seconds),
            wall,
            max_emit_batch: 100_000,
        }
    }

    /// The limits `plugin` runs under: its effective capabilities (the
    /// manifest capped by the operator's grant), with wall-clock bound `wall`.
    pub fn for_plugin(plugin: &LoadedPlugin, wall: Duration) -> Self {
        CallLimits {
            memory_bytes: (plugin.capabilities.memory_mb as usize) << 20,
            cpu: Duration::from_secs(plugin.capabilities.cpu_seconds),
            wall,
            max_emit_batch: 100_000,
        }
    }
}

/// Why a call into a plugin did not return a value.
#[derive(Debug, thiserror::Error)]
pub enum PluginFailure {
    /// The plugin returned its typed error.
    #[error("plugin {plugin}: {}", describe_error(.error))]
    Plugin { plugin: String, error: PluginError },
    /// The plugin trapped (panic, unreachable, stack overflow, bad import
    /// use). Permanent.
    #[error("plugin {plugin} crashed: {reason}")]
    Trap { plugin: String, reason: String },
    /// A sandbox limit stopped the plugin. Permanent.
    #[error("plugin {plugin} stopped: {reason}")]
    Limit { plugin: String, reason: String },
    /// The call ran past its wall-clock bound. Retryable.
    #[error("plugin {plugin} did not finish within {0:?}", .elapsed)]
    Timeout { plugin: String, elapsed: Duration },
    /// The plugin could not be instantiated. Permanent.
    #[error("plugin {plugin} could not start: {reason}")]
    Instantiate { plugin: String, reason: String },
}

impl PluginFailure {
    /// Whether the job queue should try again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            PluginFailure::Plugin { error, .. } => matches!(
                error,
                PluginError::Upstream(_) | PluginError::RateLimited(_) | PluginError::Timeout(_)
            ),
            PluginFailure::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The plugin's typed error, when that is what failed.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        match self {
            PluginFailure::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] crate::runtime::manifest::ManifestError),
    #[error("compiling the component failed: {0}")]
    Compile(String),
    #[error("the component does not fit this host: {0}")]
    Link(String),
    /// The manifest asks for what the operator does not grant.
    #[error(transparent)]
    Capability(#[from] crate::runtime::capabilities::CapabilityError),
}

/// A validated, compiled and linked plugin. Immutable: a new version is a
/// new `LoadedPlugin`, so running jobs keep the one they started with.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    /// Hex sha256 of the component bytes.
    pub sha256: String,
    /// How long reading, compiling (or loading from cache) and linking took.
    pub load_time: Duration,
    /// Whether the compiled code came from the cache.
    pub cache_outcome: CacheOutcome,
    /// What this version may do: the manifest intersected with the
    /// operator's grant, fixed when it was loaded.
    pub capabilities: EffectiveCapabilities,
    /// When this version finished loading.
    pub loaded_at: SystemTime,
    /// `fetch-all-token-balances` calls made on this version (one per job run).
    jobs_run: AtomicU64,
    pre: LedgerPluginPre<PluginState>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id())
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl LoadedPlugin {
    /// Reads the manifest, compiles and links `bytes`. CPU-heavy: run it on a
    /// blocking thread.
    pub fn load(engine: &PluginEngine, bytes: &[u8]) -> Result<LoadedPlugin, LoadError> {
        Self::load_cached(engine, bytes, None)
    }

    /// Like [`LoadedPlugin::load`], taking the compiled code from `cache`
    /// when it holds a valid entry (and filling it otherwise).
    pub fn load_cached(
        engine: &PluginEngine,
        bytes: &[u8],
        cache: Option<&CompileCache>,
    ) -> Result<LoadedPlugin, LoadError> {
        Self::load_granted(engine, bytes, cache, &PluginGrants::none())
    }

    /// Loads `bytes` with the capabilities its manifest asks for, as far as
    /// `grants` (the operator's plugin config) allows. In order, cheapest
    /// first: the manifest (a component carrying a valid `plugin.toml` for a
    /// WIT line this host serves), the capabilities, compiling (or the
    /// cache), linking (every import satisfiable, the world's exports there).
    pub fn load_granted(
        engine: &PluginEngine,
        bytes: &[u8],
        cache: Option<&CompileCache>,
        grants: &PluginGrants,
    ) -> Result<LoadedPlugin, LoadError> {
        let started = Instant::now();
        let manifest = Manifest::from_component(bytes)?;
        let grant: PluginGrant = grants.for_plugin(&manifest.plugin.name);
        let capabilities = EffectiveCapabilities::resolve(&manifest, &grant)?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, cache_outcome) = match cache {
            Some(cache) => cache.load_or_compile(engine, bytes, &sha256),
            None => engine.compile(bytes).map(|c| (c, CacheOutcome::Miss)),
        }
        .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let pre = engine
            .prepare(&component)
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        Ok(LoadedPlugin {
            manifest,
            sha256,
            load_time: started.elapsed(),
            cache_outcome,
            capabilities,
            loaded_at: SystemTime::now(),
            jobs_run: AtomicU64::new(0),
            pre,
        })
    }

    /// How many jobs have run on this version (`fetch-all-token-balances`
    /// calls).
    pub fn jobs_run(&self) -> u64 {
        self.jobs_run.load(Ordering::Relaxed)
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!(
            "{}@{}",
            self.manifest.plugin.name, self.manifest.plugin.version
        )
    }

    pub fn name(&self) -> &str {
        &self.manifest.plugin.name
    }

    pub async fn describe(
        &self,
        job: JobContext,
        limits: &CallLimits,
    ) -> Result<PluginInfo, PluginFailure> {
        let meter = Arc::new(CpuMeter::default());
        let (mut store, plugin) = self.instantiate(job, limits, meter.clone()).await?;
        let call = Metered::new(plugin.call_describe(&mut store), meter);
        let r = tokio::time::timeout(limits.wall, call).await;
        self.finish(&store, limits, r)
    }

    pub async fn validate_token(
        &self,
        job: JobContext,
        limits: &CallLimits,
        req: &SnapshotRequest,
    ) -> Result<TokenInfo, PluginFailure> {
        let meter = Arc::new(CpuMeter::default());
        let (mut store, plugin) = self.instantiate(job, limits, meter.clone()).await?;
        let call = Metered::new(plugin.call_validate_token(&mut store, req), meter);
        let r = tokio::time::timeout(limits.wall, call).await;
        self.finish(&store, limits, r)?
            .map_err(|error| self.plugin_error(error))
    }

    pub async fn fetch_all_token_balances(
        &self,
        job: JobContext,
        limits: &CallLimits,
        req: &SnapshotRequest,
    ) -> Result<FetchSummary, PluginFailure> {
        self.jobs_run.fetch_add(1, Ordering::Relaxed);
        let meter = Arc::new(CpuMeter::default());
        let (mut store, plugin) = self.instantiate(job, limits, meter.clone()).await?;
        let call = Metered::new(plugin.call_fetch_all_token_balances(&mut store, req), meter);
        let r = tokio::time::timeout(limits.wall, call).await;
        self.finish(&store, limits, r)?
            .map_err(|error| self.plugin_error(error))
    }

    fn plugin_error(&self, error: PluginError) -> PluginFailure {
        PluginFailure::Plugin {
            plugin: self.id(),
            error,
        }
    }

    /// A fresh store (fresh memory, fresh limits) and instance for one call.
    async fn instantiate(
        &self,
        job: JobContext,
        limits: &CallLimits,
        meter: Arc<CpuMeter>,
    ) -> Result<(Store<PluginState>, LedgerPlugin), PluginFailure> {
        let engine = self.pre.engine();
        let mut job = job;
        job.max_emit_batch = limits.max_emit_batch;
        let state = PluginState::new(job, limits.memory_bytes, meter, limits.cpu);
        let mut store = Store::new(engine, state);
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            if s.cpu.used() > s.cpu_budget {
                let reason = format!("CPU time limit of {:?} exceeded", s.cpu_budget);
                return Err(s.limit(reason));
            }
            // Yield at every tick so a busy guest never starves other jobs.
            Ok(UpdateDeadline::Yield(1))
        });
        let plugin = self.pre.instantiate_async(&mut store).await.map_err(|e| {
            PluginFailure::Instantiate {
                plugin: self.id(),
                reason: format!("{e:#}"),
            }
        })?;
        Ok((store, plugin))
    }

    /// Turns the outcome of a call into a value or a clear failure.
    fn finish<R>(
        &self,
        store: &Store<PluginState>,
        limits: &CallLimits,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, PluginFailure> {
        let plugin = self.id();
        let trap = match outcome {
            Err(_) => {
                return Err(PluginFailure::Timeout {
                    plugin,
                    elapsed: limits.wall,
                });
            }
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(trap)) => trap,
        };
        if let Some(reason) = &store.data().limit_hit {
            return Err(PluginFailure::Limit {
                plugin,
                reason: reason.clone(),
            });
        }
        let mut reason = trap_reason(&trap);
        let tail = store.data().stderr_tail();
        if !tail.is_empty() {
            reason.push_str("; plugin stderr: ");
            reason.push_str(&tail);
        }
        Err(PluginFailure::Trap { plugin, reason })
    }
}

/// A plugin error in words (the generated `Display` is `Debug`-like).
pub fn describe_error(e: &PluginError) -> String {
    match e {
        PluginError::InvalidToken(m) => format!("invalid token id: {m}"),
        PluginError::NotFound(m) => format!("not found: {m}"),
        PluginError::Upstream(m) => format!("upstream error: {m}"),
        PluginError::RateLimited(ms) => {
            format!("still rate limited after retries (upstream asks to wait {ms} ms)")
        }
        PluginError::Timeout(m) => format!("timed out: {m}"),
        PluginError::Denied(m) => format!("denied: {m}"),
        PluginError::Cancelled => "cancelled".to_string(),
        PluginError::Internal(m) => format!("internal plugin error: {m}"),
    }
}

/// Why the guest trapped, without wasmtime's backtrace context: the trap
/// code (`unreachable`, `call stack exhausted`...) or, for an error raised
/// by a host import, that error's own message.
fn trap_reason(e: &wasmtime::Error) -> String {
    if let Some(code) = e.downcast_ref::<wasmtime::Trap>() {
        let hint = match code {
            wasmtime::Trap::StackOverflow => " (unbounded recursion?)",
            wasmtime::Trap::UnreachableCodeReached => " (a Rust panic or abort in the plugin)",
            _ => "",
        };
        return format!("{code}{hint}");
    }
    e.root_cause().to_string()
}

/// Shared handle to a loaded plugin version.
pub type PluginHandle = Arc<LoadedPlugin>;
