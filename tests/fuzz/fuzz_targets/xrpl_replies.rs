//! The XRPL plugin on arbitrary JSON-RPC replies: the input, split at `0xFF`
//! bytes, is the sequence of reply bodies (served in turn, from the start
//! again when used up). The envelope, every reply shape, validation and the
//! trust-line and NFT walks must end with an answer, `Ok` or an error, and
//! never panic or keep asking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use snapshot_plugin_sdk::{Holder, PluginError, SnapshotRequest};
use snapshot_plugin_xrpl::exports;
use snapshot_plugin_xrpl::rpc::{self, Outcome};
use snapshot_plugin_xrpl::walk::Host;

/// Requests answered before every further one fails: a walk still going
/// then is looping.
const BUDGET: usize = 2_000;

struct Replies<'a> {
    bodies: Vec<&'a [u8]>,
    answered: usize,
}

impl Host for Replies<'_> {
    fn post(&mut self, _url: &str, _body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError> {
        self.answered += 1;
        if self.answered > BUDGET {
            return Err(PluginError::Upstream("budget spent".into()));
        }
        Ok((
            200,
            self.bodies[(self.answered - 1) % self.bodies.len()].to_vec(),
        ))
    }
    fn throttle(&mut self, _url: &str) {}
    fn emit(&mut self, _holders: &[Holder]) -> Result<(), PluginError> {
        Ok(())
    }
    fn checkpoint(&mut self, _state: &str) {}
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    fn warn(&mut self, _message: &str) {}
}

fn request(token: &str) -> SnapshotRequest {
    SnapshotRequest {
        token_id: token.into(),
        network: "mainnet".into(),
        endpoint: "http://xrpl.test/".into(),
        at: None,
        min_balance: None,
        resume: None,
        options: vec![("busy_retries".into(), "2".into())],
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Outcome::Success(reply)) = rpc::parse_envelope(data) {
        let _ = reply.decode::<rpc::AccountInfo>();
        let _ = reply.decode::<rpc::AccountLines>();
        let _ = reply.decode::<rpc::GatewayBalances>();
        let _ = reply.decode::<rpc::MptHolders>();
        let _ = reply.decode::<rpc::NftsByIssuer>();
    }
    for token in [
        "USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq",
        "nft:rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq",
        "mpt:0000012FFD9EE5DA93AC614B4DB94D7E0FCE415CA51BED47",
    ] {
        let mut host = Replies {
            bodies: data.split(|&b| b == 0xFF).collect(),
            answered: 0,
        };
        let req = request(token);
        let _ = exports::validate_token(&mut host, &req);
        let _ = exports::fetch_all_token_balances(&mut host, &req);
        assert!(host.answered <= BUDGET, "the plugin kept asking");
    }
});
