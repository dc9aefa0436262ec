//! Runs the Hedera mirror-node simulator standalone, e.g. for manual runs or benchmarks:
//! `mirror-node-sim --holders 10000 --token 0.0.5000 --rps 50 --latency-ms 20 --port 5551`.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ledger_simulators::faults::FaultPlan;
use ledger_simulators::mirror_node::{
    ChurnConfig, ChurnTrigger, EntityId, MirrorNodeSimulator, MirrorState, SimulatorConfig,
    format_timestamp,
};

#[derive(Debug, Parser)]
#[command(about = "Hedera mirror-node REST simulator")]
struct Args {
    /// Number of generated token holders.
    #[arg(long, default_value_t = 1000)]
    holders: usize,
    /// Token id to populate (shard.realm.num).
    #[arg(long, default_value = "0.0.5000")]
    token: String,
    /// Request-rate limit per second (0 = unlimited).
    #[arg(long, default_value_t = 0.0)]
    rps: f64,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Share of requests answered 503 (0.0-1.0).
    #[arg(long, default_value_t = 0.0)]
    error_ratio: f64,
    /// Churn balances every N served requests (0 = never).
    #[arg(long, default_value_t = 0)]
    churn_every: u64,
    /// Seeded random upstream faults, e.g.
    /// `seed=7,429ra=0.05,429=0.05,5xx=0.05,reset=0.02,truncate=0.02,cut=0.01,spike=0.03,spike-ms=400`
    /// (probabilities per request; see `ledger_simulators::faults`).
    #[arg(long)]
    faults: Option<FaultPlan>,
    /// RNG seed for data, faults and churn.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = EntityId::parse(&args.token).context("--token must look like 0.0.N")?;
    let mut state = MirrorState::new();
    let snapshot = state.populate(token, args.holders, args.seed);
    let config = SimulatorConfig {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        rate_limit: (args.rps > 0.0).then_some(args.rps),
        error_ratio: args.error_ratio,
        churn: (args.churn_every > 0).then_some(ChurnConfig {
            trigger: ChurnTrigger::EveryRequests(args.churn_every),
            moves: 3,
        }),
        seed: args.seed,
        fault_plan: args.faults.clone(),
        ..SimulatorConfig::default()
    };
    let simulator = MirrorNodeSimulator::start(config, state.into_shared()).await?;
    println!("{}", simulator.base_url());
    eprintln!(
        "token {token}: {} holders, snapshot at {}; Ctrl-C to stop",
        args.holders,
        format_timestamp(snapshot)
    );
    tokio::signal::ctrl_c().await?;
    let stats = simulator.stats();
    eprintln!(
        "served {} of {} requests, {} rate limited, {} failed, peak {}/s",
        stats.served(),
        stats.requests(),
        stats.rate_limited(),
        stats.injected_errors(),
        stats.peak_per_second()
    );
    if args.faults.is_some() {
        eprintln!("faults injected: {}", simulator.fault_stats());
    }
    simulator.shutdown().await;
    Ok(())
}
