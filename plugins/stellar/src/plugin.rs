//! The component's exports, wired to the host imports.

use snapshot_plugin_sdk::prelude::*;

use crate::exports;
use crate::walk;

struct Stellar;

register_plugin!(Stellar);

/// The host's imports as the walk's [`walk::Host`].
struct Imports;

impl walk::Host for Imports {
    fn get(&mut self, url: &str) -> Result<Response, PluginError> {
        http::send(&Request::get(url))
    }
    fn throttle(&mut self, url: &str, retry_after_ms: Option<u32>) {
        http::throttle(url, retry_after_ms)
    }
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
        job::emit(holders)
    }
    fn checkpoint(&mut self, state: &str) {
        job::checkpoint(state)
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        job::progress(done, total)
    }
    fn warn(&mut self, message: &str) {
        job::log(Level::Warn, message)
    }
}

impl Plugin for Stellar {
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> {
        exports::validate_token(&mut Imports, req)
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        exports::fetch_all_token_balances(&mut Imports, req)
    }
}
