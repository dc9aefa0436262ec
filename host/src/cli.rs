//! The `snapshot-host` command line.
//!
//! Exit codes: 0 success; 2 the input is wrong (usage, invalid or unknown
//! token, unknown chain or network, a file that is not a plugin this host
//! loads); 1 the snapshot could not be taken (upstream, plugin or host
//! failure) or differs from `--expect`. On any error a one-line reason goes
//! to stderr and no output file is left behind.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{RateLimitOverride, net_config};
use crate::jobs::{
    CollectingSink, SnapshotError, SnapshotSpec, take_snapshot, take_snapshot_observed,
};
use crate::kit::{Trace, TraceSink};
use crate::net::HttpGateway;
use crate::registry::PluginRegistry;
use crate::runtime::{CompileCache, EngineOptions, LoadedPlugin, PluginEngine};
use crate::service::ServeConfig;
use crate::snapshot::CanonicalSnapshot;

#[derive(Parser, Debug)]
#[command(
    name = "snapshot-host",
    version,
    about = "Exact, consistent, point-in-time token-holder snapshots"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service: REST API, WebSocket progress and the job worker.
    Serve(Box<ServeArgs>),
    /// Take one snapshot and write it as JSON or CSV.
    Snapshot(Box<SnapshotArgs>),
    /// Check, test and list plugins (see PLUGINS.md).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The former name of `plugin list`, kept for existing scripts.
    #[command(hide = true)]
    Plugins {
        /// Add or override plugins with the `.wasm` files in DIR.
        #[arg(long)]
        plugins_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// List the plugins this binary would load.
    List {
        /// Add or override plugins with the `.wasm` files in DIR.
        #[arg(long)]
        plugins_dir: Option<PathBuf>,
    },
    /// Check that a `.wasm` file is a plugin this host loads, without running
    /// it: world, WIT version, imports, exports, manifest. Exit code 0 when
    /// valid, 2 when not.
    Check(CheckArgs),
    /// Run a plugin file in the real sandbox against an endpoint, with a
    /// trace of every call it makes on stderr and the document on stdout.
    Test(Box<TestArgs>),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The component to check.
    pub file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// The component to run.
    pub file: PathBuf,
    /// The token id, in the plugin's syntax.
    #[arg(long)]
    pub token: String,
    /// Ledger API base URL (a simulator, a test node ...), overriding the
    /// network's default; it is allowed like an operator's endpoint.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Network (default: the plugin's first).
    #[arg(long)]
    pub network: Option<String>,
    /// Point in time, in the plugin's syntax.
    #[arg(long)]
    pub at: Option<String>,
    /// Keep only holders with at least this balance (smallest units).
    #[arg(long)]
    pub min_balance: Option<String>,
    /// Plugin option `KEY=VALUE` (see the plugin's `[config]`; repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub options: Vec<(String, String)>,
    /// Upstream limit override, `HOST=REQUESTS_PER_SECOND[:MAX_CONCURRENCY]` (repeatable).
    #[arg(long = "rate-limit", value_name = "HOST=RPS[:CONC]")]
    pub rate_limits: Vec<RateLimitOverride>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Output file (stdout when absent), written once the snapshot is taken
    /// (also when it differs from `--expect`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare the document with FILE (same format), byte for byte: exit 1
    /// with a summary of the differences when they differ.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SNAPSHOT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: std::net::SocketAddr,
    /// Where the embedded queue, job store, documents and compile cache live.
    #[arg(long, env = "SNAPSHOT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Ledger API for a chain, `CHAIN=URL` (repeatable); also
    /// `SNAPSHOT_ENDPOINT_<CHAIN>` in the environment.
    #[arg(long = "endpoint", value_name = "CHAIN=URL", value_parser = parse_option)]
    pub endpoints: Vec<(String, String)>,
    /// Add or override plugins with the `.wasm` files in DIR, watched while
    /// serving (hot loading) and written by the admin API. Default:
    /// `<data-dir>/plugins`.
    #[arg(long, env = "SNAPSHOT_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// The operator's plugin config (TOML, `[plugins.<name>]` tables): what
    /// each plugin is granted (hosts, `*`, memory, CPU, rate limits, config).
    #[arg(long, env = "SNAPSHOT_PLUGIN_CONFIG", value_name = "FILE")]
    pub plugin_config: Option<PathBuf>,
    /// Upstream limit override, `HOST=REQUESTS_PER_SECOND[:MAX_CONCURRENCY]` (repeatable).
    #[arg(long = "rate-limit", value_name = "HOST=RPS[:CONC]")]
    pub rate_limits: Vec<RateLimitOverride>,
    /// Without JWT settings, accept tokens signed with a PUBLIC development
    /// secret (printed at start). Never in production.
    #[arg(long)]
    pub insecure_dev: bool,
    /// The original library's page size, passed to plugins as `page_size`.
    #[arg(long, env = "SNAPSHOT_BATCH_SIZE")]
    pub batch_size: Option<u32>,
    /// The original library's delay between batches, in ms: becomes one
    /// request per delay for upstreams without a limit of their own.
    #[arg(long, env = "SNAPSHOT_RATE_LIMIT_DELAY")]
    pub rate_limit_delay: Option<u64>,
    /// An IPFS node's Kubo RPC API (e.g. `http://127.0.0.1:5001`): finished
    /// documents are added and pinned there. Credentials for a hosted
    /// endpoint: `IPFS_API_TOKEN`, or `IPFS_API_USERNAME` / `IPFS_API_PASSWORD`.
    #[arg(long, env = "IPFS_API_URL")]
    pub ipfs_api_url: Option<String>,
    /// A public gateway (e.g. `https://ipfs.io`): job statuses and events
    /// then carry links to the documents.
    #[arg(long, env = "IPFS_GATEWAY_URL")]
    pub ipfs_gateway_url: Option<url::Url>,
    /// Longest wait between retries of an upload the IPFS node refused.
    #[arg(long, env = "SNAPSHOT_IPFS_RETRY_MAX_SECS", default_value_t = 300)]
    pub ipfs_retry_max_secs: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// The token id, in the chain's syntax (e.g. Hedera `0.0.456858`).
    pub token: String,
    /// Chain to snapshot (a plugin's chain name, e.g. `hedera`).
    #[arg(long)]
    pub chain: String,
    /// Network (default: the plugin's first, e.g. `mainnet`).
    #[arg(long)]
    pub network: Option<String>,
    /// Ledger API base URL, overriding the network's default.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Point in time (Hedera: `secs[.nanos]` or RFC 3339).
    #[arg(long)]
    pub at: Option<String>,
    /// Keep only holders with at least this balance (smallest units).
    #[arg(long)]
    pub min_balance: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Output file (stdout when absent). Written only on success.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Add or override plugins with the `.wasm` files in DIR.
    #[arg(long)]
    pub plugins_dir: Option<PathBuf>,
    /// Upstream limit override, `HOST=REQUESTS_PER_SECOND[:MAX_CONCURRENCY]` (repeatable).
    #[arg(long = "rate-limit", value_name = "HOST=RPS[:CONC]")]
    pub rate_limits: Vec<RateLimitOverride>,
    /// Plugin option `KEY=VALUE` (see the plugin's `[config]`; repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub options: Vec<(String, String)>,
}

fn parse_option(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

impl From<SnapshotError> for Failure {
    fn from(e: SnapshotError) -> Self {
        let code = if matches!(e, SnapshotError::BadInput(_)) {
            2
        } else {
            1
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter::Targets};

    let cli = Cli::parse();
    let env_filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The service reports what it does; the CLI stays quiet.
        let level = if matches!(cli.command, Command::Serve(_)) {
            "info"
        } else {
            "warn"
        };
        tracing_subscriber::EnvFilter::new(level)
    });
    // `plugin test` traces the gateway's retries, which it reports as
    // debug events, whatever RUST_LOG says.
    let trace =
        matches!(cli.command, Command::Plugin(PluginCommand::Test(_))).then(Trace::to_stderr);
    let retries = trace.as_ref().map(|t| {
        t.retry_events()
            .with_filter(Targets::new().with_target("snapshot_host::net", tracing::Level::DEBUG))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // No colour codes in a log file or a pipe.
                .with_ansi(std::io::stderr().is_terminal())
                .with_filter(env_filter),
        )
        .with(retries)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Snapshot(args) => snapshot(*args).await,
            Command::Plugin(PluginCommand::List { plugins_dir })
            | Command::Plugins { plugins_dir } => list_plugins(plugins_dir.as_deref()).await,
            Command::Plugin(PluginCommand::Check(args)) => check_plugin(args).await,
            Command::Plugin(PluginCommand::Test(args)) => {
                test_plugin(*args, trace.unwrap_or_else(Trace::to_stderr)).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message.replace('\n', " "));
            ExitCode::from(f.code)
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let mut endpoints: BTreeMap<String, String> = std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("SNAPSHOT_ENDPOINT_")
                .map(|chain| (chain.to_ascii_lowercase(), v))
        })
        .collect();
    endpoints.extend(args.endpoints);
    let config = ServeConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        endpoints,
        plugins_dir: args.plugins_dir,
        plugin_config: args.plugin_config,
        rate_limits: args.rate_limits,
        insecure_dev: args.insecure_dev,
        batch_size: args.batch_size,
        rate_limit_delay_ms: args.rate_limit_delay,
        ipfs: match args
            .ipfs_api_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => Some(
                crate::artifacts::KuboConfig::new(url)
                    .and_then(|c| c.with_env_credentials())
                    .map_err(|message| Failure { code: 2, message })?,
            ),
            None => None,
        },
        ipfs_gateway: args.ipfs_gateway_url,
        ipfs_retry_max: std::time::Duration::from_secs(args.ipfs_retry_max_secs.max(1)),
    };
    crate::service::serve(config, shutdown_signal())
        .await
        .map_err(Failure::from)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: no new jobs; running ones stay resumable");
}

async fn registry(plugins_dir: Option<&Path>) -> Result<PluginRegistry, Failure> {
    let engine = PluginEngine::new(EngineOptions::default())?;
    let registry = PluginRegistry::new(engine, default_cache_dir().map(CompileCache::new));
    registry.load_bundled().await?;
    if let Some(dir) = plugins_dir {
        registry.load_dir(dir).await?;
    }
    Ok(registry)
}

async fn list_plugins(plugins_dir: Option<&Path>) -> Result<(), Failure> {
    let registry = registry(plugins_dir).await?;
    let mut out = std::io::stdout().lock();
    for entry in registry.list() {
        let p = &entry.plugin;
        writeln!(
            out,
            "{}\tchains={}\tnetworks={}\tsha256={}",
            p.id(),
            p.manifest.plugin.chains.join(","),
            p.manifest
                .networks
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            p.sha256
        )
        .context("writing to stdout")?;
    }
    Ok(())
}

async fn snapshot(args: SnapshotArgs) -> Result<(), Failure> {
    // Refuse an unusable output path before any request is made.
    let out_dir = match &args.out {
        Some(path) => Some(output_dir(path)?),
        None => None,
    };
    let registry = registry(args.plugins_dir.as_deref()).await?;
    let plugin = registry.for_chain(&args.chain).map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    let manifests: Vec<_> = registry.list().into_iter().map(|r| r.plugin).collect();
    let gateway = HttpGateway::new(net_config(
        manifests.iter().map(|p| &p.manifest),
        &args.rate_limits,
    ));

    let bar = progress_bar();
    let sink = {
        let bar = bar.clone();
        Arc::new(CollectingSink::new(plugin.id()).with_progress(Box::new(
            move |holders, _, total| {
                if let Some(total) = total {
                    bar.set_length(total.max(holders as u64));
                }
                bar.set_position(holders as u64);
            },
        )))
    };
    let spec = SnapshotSpec {
        token_id: args.token.clone(),
        network: args.network.clone(),
        endpoint: args.endpoint.clone(),
        at: args.at.clone(),
        min_balance: args.min_balance.clone(),
        options: args.options.clone(),
        ..SnapshotSpec::default()
    };
    let taken = take_snapshot(plugin, &spec, &gateway, sink).await;
    bar.finish_and_clear();
    let taken = taken?;

    deliver(args.out.as_deref().zip(out_dir), &|w| {
        write_document(&taken.document, args.format, w)
    })
}

fn write_document(
    doc: &CanonicalSnapshot,
    format: Format,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => doc.write_json(w),
        Format::Csv => doc.write_csv(w),
    }
}

/// Writes a document to `out` (a path and its directory), else stdout.
fn deliver(
    out: Option<(&Path, PathBuf)>,
    write: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Failure> {
    match out {
        Some((path, dir)) => {
            // Write beside the target and rename: readers never see a
            // partial file, and a failure leaves nothing behind.
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            write(tmp.as_file_mut()).with_context(|| format!("writing {}", path.display()))?;
            tmp.as_file().sync_all().context("flushing the output")?;
            tmp.persist(path)
                .map_err(|e| anyhow::anyhow!("writing {}: {}", path.display(), e.error))?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            write(&mut stdout).context("writing to stdout")?;
            stdout.flush().context("writing to stdout")?;
        }
    }
    Ok(())
}

/// Reads a file named on the command line; a missing one is bad input.
fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure {
        code: 2,
        message: format!("cannot read {}: {e}", path.display()),
    })
}

async fn check_plugin(args: CheckArgs) -> Result<(), Failure> {
    let bytes = read_input(&args.file)?;
    let engine = PluginEngine::new(EngineOptions::default())?;
    let file = args.file.display().to_string();
    let report =
        tokio::task::spawn_blocking(move || crate::kit::check_component(&engine, &file, &bytes))
            .await
            .context("the checking thread failed")?;
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report).context("encoding the report")?;
        json.push('\n');
        json
    } else {
        crate::kit::check::render_text(&report)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(Failure {
            code: 2,
            message: format!(
                "{} is not a plugin this host loads: {first}",
                args.file.display()
            ),
        }),
    }
}

async fn test_plugin(args: TestArgs, trace: Arc<Trace>) -> Result<(), Failure> {
    let out_dir = match &args.out {
        Some(path) => Some(output_dir(path)?),
        None => None,
    };
    let bytes = read_input(&args.file)?;
    let expected = match &args.expect {
        Some(path) => Some(read_input(path)?),
        None => None,
    };
    let engine = PluginEngine::new(EngineOptions::default())?;
    let cache = default_cache_dir().map(CompileCache::new);
    // Loaded exactly as `snapshot` loads a plugins directory's files.
    let plugin = tokio::task::spawn_blocking(move || {
        LoadedPlugin::load_cached(&engine, &bytes, cache.as_ref())
    })
    .await
    .context("the compiler thread failed")?
    .map(Arc::new)
    .map_err(|e| Failure {
        code: 2,
        message: format!(
            "{} is not a plugin this host loads: {e} (`snapshot-host plugin check {0}` says why)",
            args.file.display()
        ),
    })?;
    let gateway = HttpGateway::new(net_config([&plugin.manifest], &args.rate_limits));
    let network = args
        .network
        .clone()
        .or_else(|| plugin.manifest.default_network().map(str::to_string))
        .unwrap_or_default();
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| plugin.manifest.endpoint_of(&network).map(str::to_string))
        .unwrap_or_else(|| "(none)".into());
    trace.line(
        "plugin",
        format_args!(
            "{} from {} (sha256 {}, loaded in {} ms)",
            plugin.id(),
            args.file.display(),
            plugin.sha256,
            plugin.load_time.as_millis()
        ),
    );
    trace.line(
        "request",
        format_args!(
            "token {} on {network} at {} via {endpoint}",
            args.token,
            args.at.as_deref().unwrap_or("the latest point")
        ),
    );

    let collector = Arc::new(CollectingSink::new(plugin.id()));
    let observer = Arc::new(TraceSink::new(trace.clone(), collector.clone()));
    let spec = SnapshotSpec {
        token_id: args.token.clone(),
        network: args.network.clone(),
        endpoint: args.endpoint.clone(),
        at: args.at.clone(),
        min_balance: args.min_balance.clone(),
        options: args.options.clone(),
        ..SnapshotSpec::default()
    };
    let started = std::time::Instant::now();
    let taken = match take_snapshot_observed(plugin, &spec, &gateway, collector, observer).await {
        Ok(taken) => taken,
        Err(e) => {
            trace.line("failed", &e);
            return Err(e.into());
        }
    };
    let counts = trace.counts();
    let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    trace.line(
        "done",
        format_args!(
            "{} holders at {} in {:.2} s: {} requests ({} retries, {} denied, {} failed), {} emits, {} checkpoints, {} log lines",
            taken.document.holder_count(),
            taken.document.meta().resolved_at,
            started.elapsed().as_secs_f64(),
            n(&counts.requests),
            n(&counts.retries),
            n(&counts.denied_requests),
            n(&counts.failed_requests),
            n(&counts.emits),
            n(&counts.checkpoints),
            n(&counts.logs),
        ),
    );

    let mut produced = Vec::new();
    write_document(&taken.document, args.format, &mut produced)
        .context("rendering the document")?;
    deliver(args.out.as_deref().zip(out_dir), &|w| {
        w.write_all(&produced)
    })?;

    let (Some(expected), Some(path)) = (expected, &args.expect) else {
        return Ok(());
    };
    match crate::kit::compare(&expected, &produced, args.format == Format::Csv) {
        None => {
            trace.line(
                "expect",
                format_args!("identical to {} ({} bytes)", path.display(), produced.len()),
            );
            Ok(())
        }
        Some(diff) => {
            for line in diff.details().lines() {
                trace.line("expect", line);
            }
            Err(Failure {
                code: 1,
                message: format!(
                    "the document differs from {}: {}",
                    path.display(),
                    diff.headline()
                ),
            })
        }
    }
}

fn output_dir(path: &Path) -> Result<PathBuf, Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Failure {
            code: 2,
            message: format!("output directory {} does not exist", dir.display()),
        });
    }
    if path.is_dir() {
        return Err(Failure {
            code: 2,
            message: format!("output {} is a directory", path.display()),
        });
    }
    Ok(dir)
}

/// Holders so far, rate and ETA on stderr, only when stderr is a terminal.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {pos} holders [{bar:30}] {per_sec} ETA {eta} ({elapsed})",
        )
        .expect("valid progress template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `$SNAPSHOT_CACHE_DIR`, else `$XDG_CACHE_HOME/snapshot-host`, else
/// `~/.cache/snapshot-host`; none when no home is known (compile every run).
fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SNAPSHOT_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("snapshot-host").join("components"))
}
