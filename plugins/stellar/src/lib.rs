//! Stellar ledger plugin: holders of a classic asset (`CODE:ISSUER`) from
//! Horizon's REST API, written against the public plugin SDK only.
//!
//! - [`strkey`] — `G...` account ids: base32, version byte, CRC16-XModem.
//! - [`asset`] — the token-id syntax and its checks.
//! - [`amount`] — exact 7-decimal amounts (int64 stroops, never floats).
//! - [`horizon`] — reply shapes, problem documents, `Latest-Ledger` and
//!   `X-RateLimit-*` headers.
//! - [`walk`] — validation and the cursor walk over a [`walk::Host`]:
//!   consistency reporting, rate-limit pacing, checkpoints.
//! - [`exports`] — the two exports as plain functions of a request and a
//!   host, so everything but the WIT wiring (`plugin`, wasm only) is tested
//!   natively against an in-memory Horizon.

pub mod amount;
pub mod asset;
pub mod exports;
pub mod horizon;
pub mod strkey;
pub mod walk;

#[cfg(target_arch = "wasm32")]
mod plugin;
