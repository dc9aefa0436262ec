//! The component's exports, wired to the host imports.

use snapshot_plugin_sdk::prelude::*;

use crate::exports;
use crate::walk;

struct Xrpl;

register_plugin!(Xrpl);

/// The host's imports as the walk's [`walk::Host`].
struct Imports;

impl walk::Host for Imports {
    fn post(&mut self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError> {
        let req = Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("accept".into(), "application/json".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: Some(body),
        };
        http::send(&req).map(|resp| (resp.status, resp.body))
    }
    fn throttle(&mut self, url: &str) {
        http::throttle(url, None)
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

impl Plugin for Xrpl {
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> {
        exports::validate_token(&mut Imports, req)
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        exports::fetch_all_token_balances(&mut Imports, req)
    }
}
