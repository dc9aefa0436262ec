//! An in-memory [`JobSink`]: de-duplicates emitted holders into a
//! [`HolderSet`] and reports progress to a callback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::jobs::store::SharedJobStore;
use crate::runtime::{JobSink, LogLevel, SinkError};
use crate::snapshot::{EmittedHolder, HolderSet};

/// Progress callback: `(holders so far, plugin's done, plugin's total)`,
/// called on each progress report and after each accepted emit.
pub type ProgressFn = Box<dyn Fn(usize, u64, Option<u64>) + Send + Sync>;

/// Collects one job's holders in memory.
pub struct CollectingSink {
    plugin_id: String,
    holders: Mutex<HolderSet>,
    checkpoint: Mutex<Option<String>>,
    cancelled: Arc<AtomicBool>,
    on_progress: Option<ProgressFn>,
    /// The plugin's last `(done, total)`, repeated when an emit changes
    /// the holder count between its progress reports.
    last_progress: Mutex<(u64, Option<u64>)>,
    journal: Option<(SharedJobStore, String)>,
}

impl CollectingSink {
    pub fn new(plugin_id: impl Into<String>) -> Self {
        CollectingSink {
            plugin_id: plugin_id.into(),
            holders: Mutex::new(HolderSet::new()),
            checkpoint: Mutex::new(None),
            cancelled: Arc::new(AtomicBool::new(false)),
            on_progress: None,
            last_progress: Mutex::new((0, None)),
            journal: None,
        }
    }

    /// Makes the sink durable: every accepted batch and checkpoint is
    /// appended to `job_id`'s journal in `store` before `emit` returns.
    pub fn with_journal(mut self, store: SharedJobStore, job_id: impl Into<String>) -> Self {
        self.journal = Some((store, job_id.into()));
        self
    }

    /// Re-inserts batches read back from a journal (not journaled again).
    pub fn replay(&self, batches: Vec<Vec<EmittedHolder>>) -> Result<(), SinkError> {
        let mut holders = self.holders.lock().unwrap_or_else(|e| e.into_inner());
        for batch in batches {
            holders
                .insert_batch(batch)
                .map_err(|e| SinkError::Invalid(format!("journal replay: {e}")))?;
        }
        Ok(())
    }

    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.on_progress = Some(f);
        self
    }

    /// Makes the plugin's next `emit` return `cancelled`.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// A flag that cancels the job when set (e.g. from a progress callback
    /// or an API call); clearing it lets a resumed run emit again.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }

    /// Takes the collected holders out of the sink.
    pub fn take_holders(&self) -> HolderSet {
        std::mem::take(&mut *self.holders.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The last checkpoint the plugin recorded.
    pub fn last_checkpoint(&self) -> Option<String> {
        self.checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Distinct accounts collected so far.
    pub fn accounts(&self) -> usize {
        self.holders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len_accounts()
    }
}

#[async_trait]
impl JobSink for CollectingSink {
    async fn emit(&self, holders: Vec<EmittedHolder>) -> Result<(), SinkError> {
        if self.cancelled.load(Ordering::SeqCst) {
            return Err(SinkError::Cancelled);
        }
        // Validate and de-duplicate first, so a refused batch is never
        // journaled; then make it durable before the plugin moves on.
        let copy = self.journal.as_ref().map(|_| holders.clone());
        self.holders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert_batch(holders)
            .map_err(|e| SinkError::Invalid(e.to_string()))?;
        if let (Some((store, job_id)), Some(batch)) = (&self.journal, copy) {
            store
                .append_holders(job_id, &batch)
                .await
                .map_err(|e| SinkError::Storage(e.to_string()))?;
        }
        if let Some(f) = &self.on_progress {
            let (done, total) = *self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
            f(self.accounts(), done, total);
        }
        Ok(())
    }

    async fn checkpoint(&self, state: String) -> Result<(), SinkError> {
        if let Some((store, job_id)) = &self.journal {
            store
                .append_checkpoint(job_id, &state)
                .await
                .map_err(|e| SinkError::Storage(e.to_string()))?;
        }
        *self.checkpoint.lock().unwrap_or_else(|e| e.into_inner()) = Some(state);
        Ok(())
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        *self.last_progress.lock().unwrap_or_else(|e| e.into_inner()) = (done, total);
        if let Some(f) = &self.on_progress {
            f(self.accounts(), done, total);
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        let plugin = self.plugin_id.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
