//! The component's exports, wired to the host imports.

use std::collections::HashMap;

use snapshot_plugin_sdk::prelude::*;

use crate::exports;
use crate::walk::{self, Pending};

struct Xrpl;

register_plugin!(Xrpl);

/// The host's imports as the walk's [`walk::Host`].
#[derive(Default)]
struct Imports {
    /// Answers `wait-any` returned for requests not waited for yet.
    finished: HashMap<u64, Result<Response, PluginError>>,
}

fn json_post(url: &str, body: Vec<u8>) -> Request {
    Request {
        method: "POST".into(),
        url: url.into(),
        headers: vec![
            ("accept".into(), "application/json".into()),
            ("content-type".into(), "application/json".into()),
        ],
        body: Some(body),
    }
}

impl walk::Host for Imports {
    fn post(&mut self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError> {
        http::send(&json_post(url, body)).map(|resp| (resp.status, resp.body))
    }
    fn start(&mut self, url: &str, body: Vec<u8>) -> Pending {
        Pending::InFlight(http::start(&json_post(url, body)))
    }
    fn wait(&mut self, pending: Pending) -> Result<(u16, Vec<u8>), PluginError> {
        let handle = match pending {
            Pending::Done(answer) => return answer,
            Pending::InFlight(handle) => handle,
        };
        loop {
            if let Some(answer) = self.finished.remove(&handle) {
                return answer.map(|resp| (resp.status, resp.body));
            }
            let done = http::wait_any();
            if done.is_empty() {
                return Err(PluginError::Internal(format!(
                    "request {handle} is not in flight"
                )));
            }
            self.finished.extend(done);
        }
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
        exports::validate_token(&mut Imports::default(), req)
    }

    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> {
        exports::fetch_all_token_balances(&mut Imports::default(), req)
    }
}
