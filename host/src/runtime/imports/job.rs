//! `snapshot:plugin/job`: streaming emit, checkpoints, progress and logs.

use crate::runtime::bindings::v0_1::snapshot::plugin::job::{Host, Level};
use crate::runtime::bindings::{Holder, PluginError};
use crate::runtime::sink::{LogLevel, SinkError};
use crate::runtime::state::PluginState;
use crate::snapshot::EmittedHolder;

/// Longest log line kept from a plugin.
const MAX_LOG_LINE: usize = 8 * 1024;
/// Largest checkpoint accepted (it is stored after every round).
const MAX_CHECKPOINT: usize = 4 * 1024 * 1024;

impl Host for PluginState {
    async fn emit(&mut self, holders: Vec<Holder>) -> wasmtime::Result<Result<(), PluginError>> {
        if holders.len() > self.job.max_emit_batch {
            let reason = format!(
                "emit of {} holders exceeds the limit of {} per call",
                holders.len(),
                self.job.max_emit_batch
            );
            return Err(self.limit(reason));
        }
        let batch = holders
            .into_iter()
            .map(|h| EmittedHolder {
                account: h.account,
                balance: h.balance,
                entry_id: h.entry_id,
                attributes: h.attributes,
            })
            .collect();
        let sink = self.job.sink.clone();
        Ok(sink.emit(batch).await.map_err(|e| match e {
            SinkError::Cancelled => PluginError::Cancelled,
            SinkError::Invalid(m) => PluginError::Internal(format!("emit refused: {m}")),
            SinkError::Storage(m) => PluginError::Upstream(format!("host storage: {m}")),
        }))
    }

    async fn checkpoint(&mut self, state: String) -> wasmtime::Result<()> {
        if state.len() > MAX_CHECKPOINT {
            return Err(self.limit(format!(
                "checkpoint of {} bytes exceeds the limit of {MAX_CHECKPOINT}",
                state.len()
            )));
        }
        // A checkpoint that cannot be stored would make a resume lose work
        // silently: stop the call instead.
        let sink = self.job.sink.clone();
        sink.checkpoint(state)
            .await
            .map_err(|e| wasmtime::format_err!("storing the checkpoint failed: {e}"))
    }

    async fn progress(&mut self, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        self.job.sink.progress(done, total);
        Ok(())
    }

    async fn log(&mut self, lvl: Level, message: String) -> wasmtime::Result<()> {
        let level = match lvl {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let mut cut = message.as_str();
        if cut.len() > MAX_LOG_LINE {
            let mut end = MAX_LOG_LINE;
            while !cut.is_char_boundary(end) {
                end -= 1;
            }
            cut = &cut[..end];
        }
        self.job.sink.log(level, cut);
        Ok(())
    }
}
