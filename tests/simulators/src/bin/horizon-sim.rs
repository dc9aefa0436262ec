//! Runs the Stellar Horizon simulator standalone, e.g. for manual runs or benchmarks:
//! `horizon-sim --holders 10000 --code USDC --rps 1 --burst 100 --latency-ms 20 --port 8000`.

use std::time::Duration;

use clap::Parser;
use ledger_simulators::faults::FaultPlan;
use ledger_simulators::horizon::{
    HorizonSimulator, HorizonState, LedgerAdvance, LedgerTrigger, RateLimitConfig, SimulatorConfig,
};

#[derive(Debug, Parser)]
#[command(about = "Stellar Horizon REST simulator")]
struct Args {
    /// Number of generated accounts trusting the asset (about one in twelve with a zero balance).
    #[arg(long, default_value_t = 1000)]
    holders: usize,
    /// Asset code of the generated asset (1-12 letters or digits).
    #[arg(long, default_value = "USDC")]
    code: String,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Request-rate limit per second (0 = unlimited, no X-RateLimit headers).
    #[arg(long, default_value_t = 0.0)]
    rps: f64,
    /// Rate-limit bucket capacity (default: rps/10, at least 1).
    #[arg(long)]
    burst: Option<f64>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Close a ledger (with balance churn) every N answered requests (0 = never).
    #[arg(long, default_value_t = 0)]
    close_every: u64,
    /// Seeded random upstream faults, e.g.
    /// `seed=7,429ra=0.05,429=0.05,5xx=0.05,reset=0.02,truncate=0.02,cut=0.01,spike=0.03,spike-ms=400`
    /// (probabilities per request; see `ledger_simulators::faults`).
    #[arg(long)]
    faults: Option<FaultPlan>,
    /// RNG seed for data and churn.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut state = HorizonState::starting_at(50_000_000, args.seed);
    let asset = state.new_asset(&args.code);
    state.populate(&asset, args.holders, args.seed);
    let holders = state.holders(&asset).len();
    let config = SimulatorConfig {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        rate_limit: (args.rps > 0.0).then(|| RateLimitConfig {
            rate: args.rps,
            burst: args.burst.unwrap_or((args.rps / 10.0).max(1.0)),
        }),
        ledger_advance: (args.close_every > 0).then(|| LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(args.close_every),
            churn: Some((asset.clone(), 3)),
        }),
        seed: args.seed,
        fault_plan: args.faults.clone(),
    };
    let simulator = HorizonSimulator::start(config, state.into_shared()).await?;
    println!("{}", simulator.base_url());
    println!("asset {asset}");
    eprintln!(
        "{} trust lines ({holders} non-zero); Ctrl-C to stop",
        args.holders
    );
    tokio::signal::ctrl_c().await?;
    let stats = simulator.stats();
    eprintln!(
        "served {} of {} requests, {} rate limited, {} ledgers closed, per route {:?}",
        stats.served(),
        stats.requests(),
        stats.rate_limited(),
        stats.ledgers_closed(),
        stats.served_per_route()
    );
    if args.faults.is_some() {
        eprintln!("faults injected: {}", simulator.fault_stats());
    }
    simulator.shutdown().await;
    Ok(())
}
