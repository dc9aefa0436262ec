//! Ledger simulators: in-process HTTP servers that behave like the ledger APIs the snapshot-host
//! plugins talk to, with knobs for latency, rate limits, injected failures and balance churn.

pub mod common;
pub mod horizon;
pub mod mirror_node;
pub mod xrpl;
