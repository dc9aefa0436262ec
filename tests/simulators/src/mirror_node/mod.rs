//! A Hedera mirror-node REST simulator (`/api/v1/tokens/{id}` and `/api/v1/tokens/{id}/balances`)
//! that reproduces the recorded upstream exchanges in `shared/fixtures/hedera/mirror-node-specs`,
//! over a state that tests mutate while it runs.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ledger_simulators::mirror_node::{EntityId, MirrorNodeSimulator, MirrorState, SimulatorConfig};
//! let token = EntityId::new(5000);
//! let mut state = MirrorState::new();
//! let pinned_at = state.populate(token, 1_000, 42);
//! let sim = MirrorNodeSimulator::start(SimulatorConfig::default(), state.into_shared()).await?;
//! let url = format!("{}/api/v1/tokens/0.0.5000/balances?timestamp=lte:{}", sim.base_url(),
//!     ledger_simulators::mirror_node::format_timestamp(pinned_at));
//! let expected = sim.state().read().unwrap().balances_at(token, pinned_at);
//! # let _ = (url, expected);
//! # Ok(()) }
//! ```

mod ids;
mod query;
mod routes;
mod seed;
mod server;
mod state;

pub use ids::{EntityId, format_timestamp, parse_timestamp};
pub use query::{BalancesQuery, LimitConfig, Op, Order};
pub use routes::{BalancesPage, balances_page, next_link, render_token_info};
pub use seed::{Seed, load_setup};
pub use server::{
    ChurnConfig, ChurnTrigger, Faults, MirrorNodeSimulator, RunningSimulator, SimulatorConfig,
    SimulatorStats,
};
pub use state::{
    BalanceSnapshot, CustomFeeSchedule, EntityRecord, FixedFee, FractionalFee, MirrorState,
    RoyaltyFee, SharedState, TokenAccount, TokenRecord, TokenType,
};
