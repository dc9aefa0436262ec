//! Taking one snapshot: the straight walk from a token id to a canonical
//! document, shared by the CLI and (later) the queue worker.

pub mod collect;
pub mod runner;

pub use collect::CollectingSink;
pub use runner::{SnapshotError, SnapshotSpec, TakenSnapshot, take_snapshot};
