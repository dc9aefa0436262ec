//! XRP Ledger plugin: holders of issued (trust-line) tokens, Multi-Purpose
//! Tokens and XLS-20 NFT collections, from the JSON-RPC API of rippled and
//! Clio.
//!
//! - [`token_id`] — the three token-id syntaxes, address checksums, the
//!   canonical spelling of currencies.
//! - [`amount`] — exact decimal text (check, sign, negation, one exact sum).
//! - [`rpc`] — request bodies, the reply envelope, reply shapes.
//! - [`walk`] — the pinned marker walk per token kind, backpressure, the
//!   checkpoints and the sum check, over a [`walk::Host`].
//! - [`info`] — `validate-token`.
//! - [`exports`] — the two exports as plain functions of a request and a
//!   host, so everything but the WIT wiring (`plugin`, wasm only) is
//!   tested natively against an in-memory XRPL server.

pub mod amount;
pub mod exports;
pub mod info;
pub mod rpc;
pub mod token_id;
pub mod walk;

#[cfg(target_arch = "wasm32")]
mod plugin;
