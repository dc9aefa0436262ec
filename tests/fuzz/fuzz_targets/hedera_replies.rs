//! The Hedera plugin on arbitrary mirror-node replies: the input, split at
//! `0xFF` bytes, is the sequence of reply bodies (served in turn, from the
//! start again when used up). The reply shapes and the whole pinned walk —
//! probe, shards, pages, checkpoints — must end with an answer, `Ok` or an
//! error, and never panic or keep asking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_plugin_hedera::fetch::{Host, Reply, WalkOptions, walk};
use snapshot_plugin_hedera::mirror::{BalancesPage, TokenReply, error_text};
use snapshot_plugin_hedera::token_id::EntityId;
use snapshot_plugin_sdk::{Holder, PluginError};

/// Requests answered before every further one fails: a walk still going
/// then is looping.
const BUDGET: usize = 2_000;

struct Replies<'a> {
    bodies: Vec<&'a [u8]>,
    pending: Vec<u64>,
    next: u64,
    answered: usize,
}

impl Host for Replies<'_> {
    fn start(&mut self, _url: &str) -> u64 {
        self.next += 1;
        self.pending.push(self.next);
        self.next
    }
    fn wait_any(&mut self) -> Vec<(u64, Reply)> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|handle| {
                self.answered += 1;
                let reply = if self.answered > BUDGET {
                    Err(PluginError::Upstream("budget spent".into()))
                } else {
                    let body = self.bodies[(self.answered - 1) % self.bodies.len()];
                    Ok((200, body.to_vec()))
                };
                (handle, reply)
            })
            .collect()
    }
    fn emit(&mut self, _holders: &[Holder]) -> Result<(), PluginError> {
        Ok(())
    }
    fn checkpoint(&mut self, _state: &str) {}
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
}

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<BalancesPage>(data);
    let _ = serde_json::from_slice::<TokenReply>(data);
    let _ = error_text(data);

    let mut host = Replies {
        bodies: data.split(|&b| b == 0xFF).collect(),
        pending: Vec::new(),
        next: 0,
        answered: 0,
    };
    let opts = WalkOptions {
        shards: 4,
        page_size: 25,
        min_balance: None,
    };
    let token = EntityId::parse("0.0.1000").unwrap();
    let _ = walk(&mut host, "http://x", token, "2000000000.0", None, &opts);
    assert!(host.answered <= BUDGET + 256, "the walk kept asking");
});
