//! An XRPL rippled/Clio JSON-RPC simulator (`POST /` with `{"method", "params": [{..}]}`) that
//! reproduces the recorded replies in `shared/fixtures/xrpl`, over a ledger history that tests
//! mutate while it runs: `account_info`, `account_lines`, `gateway_balances`, `ledger`,
//! `ledger_entry` (`mpt_issuance`), `server_info`, and Clio's `mpt_holders` and `nfts_by_issuer`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use ledger_simulators::xrpl::{SimulatorConfig, XrplLedgerState, XrplSimulator};
//! let mut state = XrplLedgerState::new();
//! let issuer = state.new_issuer();
//! state.populate_trust_lines(issuer, "USD", 1_000, 42)?;
//! let pinned = state.tip();
//! let expected = state.holders_at(pinned, &issuer, "USD");
//! let sim = XrplSimulator::start(SimulatorConfig::default(), state.into_shared()).await?;
//! // POST {"method":"account_lines","params":[{"account": issuer, "ledger_index": pinned}]}
//! # let _ = (sim.base_url(), expected);
//! # Ok(()) }
//! ```

mod address;
mod amount;
mod rpc;
mod seed;
mod server;
mod state;

pub use address::{AccountId, AddressGenerator};
pub use amount::{AmountError, IouAmount, format_units_plain};
pub use rpc::{ACCOUNT_LINES_LIMITS, CLIO_LIMITS, CallContext, RpcError, ServerKind, dispatch};
pub use seed::load_account_lines;
pub use server::{
    DisabledMethodError, LedgerAdvance, LedgerTrigger, LoadConfig, RunningSimulator,
    SimulatorConfig, SimulatorStats, XrplSimulator,
};
pub use state::{
    AccountRoot, Currency, DirectoryItem, LSF_DEFAULT_RIPPLE, LSF_REQUIRE_AUTH, LedgerHeader,
    LedgerIndex, LineSide, LineView, MpToken, MptIssuance, MptIssuanceId, Nft, NftId,
    OwnerObjectKind, SharedState, TrustLine, XrplLedgerState,
};
