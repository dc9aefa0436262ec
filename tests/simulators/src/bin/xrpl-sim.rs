//! Runs the XRPL rippled/Clio JSON-RPC simulator standalone, e.g. for manual runs or benchmarks:
//! `xrpl-sim --trust-lines 10000 --rps 50 --latency-ms 20 --port 5005`.

use std::time::Duration;

use clap::Parser;
use ledger_simulators::faults::FaultPlan;
use ledger_simulators::xrpl::{
    LedgerAdvance, LedgerTrigger, LoadConfig, SimulatorConfig, XrplLedgerState, XrplSimulator,
};

#[derive(Debug, Parser)]
#[command(about = "XRPL rippled/Clio JSON-RPC simulator")]
struct Args {
    /// Number of generated trust lines (holders) of the issuer's currency.
    #[arg(long, default_value_t = 1000)]
    trust_lines: usize,
    /// Currency code of the generated IOU.
    #[arg(long, default_value = "USD")]
    currency: String,
    /// Non-line objects scattered through the issuer's owner directory.
    #[arg(long, default_value_t = 0)]
    owner_objects: usize,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Request-rate limit per second (0 = unlimited).
    #[arg(long, default_value_t = 0.0)]
    rps: f64,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Close a ledger (with churn) every N answered requests (0 = never).
    #[arg(long, default_value_t = 0)]
    close_every: u64,
    /// Seeded random upstream faults, e.g.
    /// `seed=7,429ra=0.05,429=0.05,5xx=0.05,reset=0.02,truncate=0.02,cut=0.01,spike=0.03,spike-ms=400`
    /// (probabilities per request; see `ledger_simulators::faults`).
    #[arg(long)]
    faults: Option<FaultPlan>,
    /// RNG seed for data, load refusals and churn.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut state = XrplLedgerState::starting_at(90_000_000, args.seed);
    let issuer = state.new_issuer();
    state.populate_trust_lines(issuer, &args.currency, args.trust_lines, args.seed)?;
    state.add_owner_objects(issuer, args.owner_objects);
    let ledger = state.tip();
    let config = SimulatorConfig {
        port: args.port,
        latency: Duration::from_millis(args.latency_ms),
        load: (args.rps > 0.0).then(|| LoadConfig::new(args.rps)),
        ledger_advance: (args.close_every > 0).then_some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(args.close_every),
            churn_moves: 3,
        }),
        seed: args.seed,
        fault_plan: args.faults.clone(),
        ..SimulatorConfig::default()
    };
    let simulator = XrplSimulator::start(config, state.into_shared()).await?;
    println!("{}", simulator.base_url());
    println!("issuer {issuer} currency {}", args.currency);
    eprintln!(
        "{} trust lines at ledger {ledger}; Ctrl-C to stop",
        args.trust_lines
    );
    tokio::signal::ctrl_c().await?;
    let stats = simulator.stats();
    eprintln!(
        "served {} of {} requests, {} HTTP 503, {} slowDown, {} load warnings, {} ledgers closed, per method {:?}",
        stats.served(),
        stats.requests(),
        stats.http_503(),
        stats.slow_downs(),
        stats.load_warnings(),
        stats.ledgers_closed(),
        stats.served_per_method()
    );
    if args.faults.is_some() {
        eprintln!("faults injected: {}", simulator.fault_stats());
    }
    simulator.shutdown().await;
    Ok(())
}
