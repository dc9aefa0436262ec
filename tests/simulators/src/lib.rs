//! Ledger simulators: in-process HTTP servers that behave like the ledger APIs the snapshot-host
//! plugins talk to, with knobs for latency, rate limits, injected failures (seeded random upstream faults
//! included: [`faults::FaultPlan`]) and balance churn.

pub mod common;
pub mod faults;
pub mod horizon;
pub mod mirror_node;
pub mod xrpl;
