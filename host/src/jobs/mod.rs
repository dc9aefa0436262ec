//! Snapshot jobs: taking one snapshot (shared by the CLI and the service),
//! and, for the service, the queue, the durable job store, the worker, the
//! event bus and the finished documents.

pub mod collect;
pub mod documents;
pub mod events;
pub mod queue;
pub mod relay;
pub mod runner;
pub mod store;
pub mod worker;

pub use collect::CollectingSink;
pub use runner::{
    SnapshotError, SnapshotSpec, TakenSnapshot, take_snapshot, take_snapshot_observed,
    validate_token,
};
