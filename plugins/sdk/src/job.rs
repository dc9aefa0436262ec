//! Streaming results, checkpoints, progress and logs of the running job.

use crate::bindings::snapshot::plugin::job as wit;
use crate::{Holder, PluginError};

pub use wit::Level;

/// Hands holders to the host (at-least-once; the host de-duplicates).
/// Returns `Err(PluginError::Cancelled)` when the job was cancelled.
pub fn emit(holders: &[Holder]) -> Result<(), PluginError> {
    if holders.is_empty() {
        return Ok(());
    }
    wit::emit(holders)
}

/// Records a resumable state; it must contain the pinned point in time.
pub fn checkpoint(state: &str) {
    wit::checkpoint(state)
}

/// Serializes `state` as JSON and records it as the checkpoint.
pub fn checkpoint_json(state: &impl serde::Serialize) {
    wit::checkpoint(&serde_json::to_string(state).expect("a serde value serializes to JSON"))
}

/// Reads back a checkpoint written by [`checkpoint_json`].
pub fn parse_checkpoint<T: serde::de::DeserializeOwned>(state: &str) -> Result<T, PluginError> {
    serde_json::from_str(state)
        .map_err(|e| PluginError::Internal(format!("unreadable checkpoint: {e}")))
}

/// Reports progress (`done` of `total` units).
pub fn progress(done: u64, total: Option<u64>) {
    wit::progress(done, total)
}

/// Writes a line to the job log.
pub fn log(level: Level, message: &str) {
    wit::log(level, message)
}
