//! A test-only plugin that misbehaves on request, so `tests/tests/sandbox.rs`
//! can prove that a trap or a limit kills one job and never the host.
//!
//! The token id picks the behaviour of `fetch-all-token-balances`:
//!
//! | token id        | what the plugin does                                      |
//! |-----------------|-----------------------------------------------------------|
//! | `ok`            | emits three holders and returns                           |
//! | `slow-ok`       | spins for ~100 ms of guest time, then behaves like `ok`   |
//! | `counter`       | bumps a static counter and returns its value (`count`)    |
//! | `loop`          | logs `spinning now`, then spins forever                   |
//! | `memory`        | allocates until the memory cap stops it                   |
//! | `stack`         | recurses without bound                                    |
//! | `panic`         | panics with "boom from the plugin"                        |
//! | `huge-emit`     | emits 200 000 holders in one batch                        |
//! | `egress:<url>`  | sends `GET <url>` through the host; passes its error back |
//! | `wasi-fs`       | checks that no file can be listed or read                 |
//! | `wasi-env`      | checks that the environment is empty                      |
//! | `wasi-net`      | checks that no TCP socket can be opened                   |
//!
//! `validate-token` accepts every id except `invalid`.
//!
//! Sandbox probes (`wasi-*`) return `Ok` when the sandbox held, with what
//! the guest saw in the summary's attributes, and `internal` when it did not.
//! The code is plain Rust and compiles natively too; only the wasm build is
//! ever run.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use snapshot_plugin_sdk::prelude::*;

struct Misbehaving;

register_plugin!(Misbehaving);

/// Holders in one `huge-emit` batch: twice the host's default batch cap.
pub const HUGE_EMIT_HOLDERS: usize = 200_000;

/// The message of the `panic` behaviour.
pub const PANIC_MESSAGE: &str = "boom from the plugin";

/// The log line `loop` writes just before it starts spinning.
pub const SPINNING_LOG: &str = "spinning now";

/// Guest time `slow-ok` spins before emitting.
const SLOW_OK_SPIN: Duration = Duration::from_millis(100);

/// Where `wasi-net` tries to connect unless option `addr` says otherwise.
const DEFAULT_SOCKET_TARGET: &str = "127.0.0.1:6379";

/// Counts `counter` calls in this instance. A fresh store per call means
/// every call sees it start from zero.
static CALLS: AtomicU64 = AtomicU64::new(0);

impl Plugin for Misbehaving {
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> {
        if req.token_id == "invalid" {
            return Err(PluginError::InvalidToken(
                "`invalid` is the one id this plugin refuses".into(),
            ));
        }
        Ok(TokenInfo {
            token_id: req.token_id.clone(),
            name: "Misbehaving".into(),
            symbol: "BAD".into(),
            decimals: 0,
            kind: TokenKind::Fungible,
            total_supply: None,
            attributes: Vec::new(),
        })
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        let id = req.token_id.as_str();
        if let Some(url) = id.strip_prefix("egress:") {
            return egress(url);
        }
        match id {
            "ok" => emit_three(),
            "slow-ok" => {
                spin_for(SLOW_OK_SPIN);
                emit_three()
            }
            "counter" => {
                let count = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(summary(0, vec![("count".into(), count.to_string())]))
            }
            "loop" => {
                // Tells the test the spin has begun (see `SPINNING_LOG`).
                job::log(Level::Info, SPINNING_LOG);
                spin_forever()
            }
            "memory" => hoard_memory(),
            "stack" => Ok(summary(recurse(0), Vec::new())),
            "panic" => panic!("{PANIC_MESSAGE}"),
            "huge-emit" => huge_emit(),
            "wasi-fs" => no_files(),
            "wasi-env" => no_environment(),
            "wasi-net" => no_sockets(req.option("addr").unwrap_or(DEFAULT_SOCKET_TARGET)),
            other => Err(PluginError::Internal(format!(
                "unknown behaviour `{other}` (see the crate docs)"
            ))),
        }
    }
}

fn summary(holders_emitted: u64, attributes: Vec<(String, String)>) -> FetchSummary {
    FetchSummary {
        resolved_at: "1".into(),
        holders_emitted,
        total_check: None,
        attributes,
    }
}

fn emit_three() -> Result<FetchSummary, PluginError> {
    job::emit(&[
        Holder::new("alice", "10"),
        Holder::new("bob", "20"),
        Holder::new("carol", "30"),
    ])?;
    Ok(summary(3, Vec::new()))
}

/// Busy work the optimiser cannot remove.
fn churn(x: u64) -> u64 {
    black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1))
}

fn spin_for(how_long: Duration) {
    let start = Instant::now();
    let mut x = 0;
    while start.elapsed() < how_long {
        for _ in 0..1_000 {
            x = churn(x);
        }
    }
    black_box(x);
}

fn spin_forever() -> ! {
    let mut x = 0;
    loop {
        x = churn(x);
    }
}

fn hoard_memory() -> Result<FetchSummary, PluginError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so nothing can be left unallocated.
        let mut chunk = vec![0u8; 1 << 20];
        for byte in chunk.iter_mut().step_by(4096) {
            *byte = 1;
        }
        hoard.push(black_box(chunk));
        if black_box(hoard.len()) == usize::MAX {
            return Ok(summary(0, Vec::new()));
        }
    }
}

/// Recurses until the stack runs out; the impossible exit keeps the compiler
/// from calling the recursion unconditional.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 32) as usize])
}

fn huge_emit() -> Result<FetchSummary, PluginError> {
    let holders: Vec<Holder> = (0..HUGE_EMIT_HOLDERS)
        .map(|i| Holder::new(format!("a{i}"), "1"))
        .collect();
    job::emit(&holders)?;
    Ok(summary(HUGE_EMIT_HOLDERS as u64, Vec::new()))
}

fn egress(url: &str) -> Result<FetchSummary, PluginError> {
    let response = http::send(&Request::get(url))?;
    Ok(summary(
        0,
        vec![
            ("status".into(), response.status.to_string()),
            ("body".into(), response.preview()),
        ],
    ))
}

fn no_files() -> Result<FetchSummary, PluginError> {
    let listing = std::fs::read_dir("/");
    let passwd = std::fs::read("/etc/passwd");
    let cwd = std::fs::read_dir(".");
    if listing.is_ok() || passwd.is_ok() || cwd.is_ok() {
        return Err(PluginError::Internal(format!(
            "filesystem reachable: read_dir(\"/\") ok = {}, read(\"/etc/passwd\") ok = {}, read_dir(\".\") ok = {}",
            listing.is_ok(),
            passwd.is_ok(),
            cwd.is_ok()
        )));
    }
    Ok(summary(
        0,
        vec![
            ("read_dir(/)".into(), error_text(listing)),
            ("read(/etc/passwd)".into(), error_text(passwd)),
            ("read_dir(.)".into(), error_text(cwd)),
        ],
    ))
}

fn no_environment() -> Result<FetchSummary, PluginError> {
    let vars: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    let args = std::env::args_os().count();
    if !vars.is_empty() || args > 1 {
        return Err(PluginError::Internal(format!(
            "environment reachable: variables {vars:?}, {args} arguments"
        )));
    }
    Ok(summary(0, vec![("arguments".into(), args.to_string())]))
}

fn no_sockets(addr: &str) -> Result<FetchSummary, PluginError> {
    match std::net::TcpStream::connect(addr) {
        Ok(_) => Err(PluginError::Internal(format!(
            "socket reachable: connected to {addr}"
        ))),
        Err(e) => Ok(summary(0, vec![("connect".into(), e.to_string())])),
    }
}

fn error_text<T>(r: std::io::Result<T>) -> String {
    r.err().map(|e| e.to_string()).unwrap_or_default()
}
