//! Hedera ledger plugin: token holders from the mirror-node REST API.
//!
//! - `validate-token` asks `GET /api/v1/tokens/{id}` (the balances route
//!   answers 200 with an empty list for unknown tokens, so it cannot validate).
//! - `fetch-all-token-balances` reads `/api/v1/tokens/{id}/balances` pinned to
//!   one balance snapshot (`timestamp=lte:T`), split into account-id ranges
//!   fetched concurrently (see [`fetch`]).
//!
//! Parsing and planning are plain Rust (tested natively); only [`plugin`]
//! touches the host imports.

pub mod fetch;
pub mod mirror;
pub mod pin;
pub mod token_id;

#[cfg(target_arch = "wasm32")]
mod plugin;
