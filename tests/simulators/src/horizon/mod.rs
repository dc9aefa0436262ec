//! A Stellar Horizon REST simulator: `GET /`, `GET /assets`, `GET /accounts?asset=CODE:ISSUER`
//! and `GET /accounts/{account_id}`, over a live ledger state that tests mutate while it runs.
//!
//! **No recording exists** of real Horizon exchanges in `../shared/fixtures` (which holds Hedera
//! and XRPL only), so this simulator follows Horizon's documented shapes (the Horizon API
//! reference and the response types of the Go SDK, `protocols/horizon`):
//!
//! - HAL JSON (`application/hal+json`): collections are `{"_links": {self, next, prev},
//!   "_embedded": {"records": [...]}}`; `next` always exists (on the last page it repeats the
//!   cursor), so only an empty page ends a walk.
//! - `/accounts` needs exactly one filter (only `asset` is implemented); it lists the accounts
//!   holding a trust line to the asset, zero balances included, in account-id order; the
//!   `paging_token` of an account is its id, and `cursor` is exclusive. `limit` defaults to 10,
//!   at most 200 (more is a 400, not a clamp). Each account's `balances` lists its trust lines
//!   (`credit_alphanum4` / `credit_alphanum12`, with `is_authorized`,
//!   `is_authorized_to_maintain_liabilities` and, when set, `is_clawback_enabled`) and then
//!   the `native` balance. Amounts are strings with exactly seven decimals.
//! - `/assets?asset_code=&asset_issuer=` answers an unknown asset with an **empty collection**
//!   (200), as Horizon does; `404` problem documents (`application/problem+json`) answer
//!   unknown routes and unknown single accounts; `400` problems name the `invalid_field`.
//! - Every reply carries `Latest-Ledger` (the ledger it was served from). With a rate limit,
//!   every reply carries `X-RateLimit-Limit` / `-Remaining` / `-Reset` (seconds until the
//!   bucket is full) and a refusal is a `429` problem with `Retry-After`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ledger_simulators::horizon::{HorizonSimulator, HorizonState, SimulatorConfig};
//! let mut state = HorizonState::new();
//! let usdc = state.new_asset("USDC");
//! state.populate(&usdc, 1_000, 42);
//! let expected = state.holders(&usdc);
//! let sim = HorizonSimulator::start(SimulatorConfig::default(), state.into_shared()).await?;
//! // GET {sim.base_url()}/accounts?asset=USDC:G...&limit=200
//! # let _ = (sim.base_url(), expected);
//! # Ok(()) }
//! ```

mod routes;
mod server;
mod state;
mod strkey;

pub use routes::{DEFAULT_LIMIT, MAX_LIMIT};
pub use server::{
    HorizonSimulator, LedgerAdvance, LedgerTrigger, RateLimitConfig, RunningSimulator,
    SimulatorConfig, SimulatorStats,
};
pub use state::{
    Account, Asset, AssetSettings, AssetStats, Authorization, HorizonState, MAINNET_PASSPHRASE,
    MAX_STROOPS, STROOPS_PER_UNIT, SharedState, TESTNET_PASSPHRASE, TrustLine, format_stroops,
};
pub use strkey::{AccountId, crc16_xmodem};
