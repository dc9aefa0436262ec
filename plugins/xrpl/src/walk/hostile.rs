//! Hostile replies: whatever an XRPL server (or something posing as one)
//! answers, validation and the walks end with an answer — `Ok`, or an error
//! that says what was wrong — and never with a panic or an endless walk.
//!
//! The server is the in-memory one (`fake.rs`), whose replies are spoiled in
//! turn: cut short, a byte changed, another HTTP status, another body, an
//! RPC error, a transport error, an amount or a ledger index swapped for an
//! extreme one. A walk over unspoiled replies must find exactly the
//! holders. 256 cases; `PROPTEST_CASES=20000 cargo test -p
//! snapshot-plugin-xrpl hostile` for a longer run.

use std::collections::BTreeMap;

use proptest::prelude::*;
use snapshot_plugin_sdk::{Holder, PluginError, SnapshotRequest, hostile};

use super::Host;
use super::fake::{FakeNft, FakeXrpl, ISSUER, Line, holder};
use crate::exports;

const URL: &str = "http://xrpl.test/";

/// Requests answered before the hostile server fails everything: a walk
/// still going then is looping.
const REQUEST_BUDGET: usize = 5_000;

/// How one reply is spoiled; [`hostile::Spoil::Value`] is `(field, n,
/// text)`: the value of the `n`-th (mod count) string or number field named
/// `field` replaced by the raw JSON `text`.
type Spoil = hostile::Spoil<(&'static str, usize, String)>;

fn spoil() -> impl Strategy<Value = Spoil> {
    let extreme = prop_oneof![
        Just("\"-9999999999999999e80\"".to_string()),
        Just("\"1e-96\"".to_string()),
        Just("\"1e10001\"".to_string()),
        Just("\"NaN\"".to_string()),
        Just("\"-\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"0x10\"".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1.5".to_string()),
        Just("null".to_string()),
        Just("{}".to_string()),
        Just("\"rBAD\"".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        "\"[-0-9.eE]{0,12}\"",
    ];
    let field = prop_oneof![
        Just("balance"),
        Just("ledger_index"),
        Just("account"),
        Just("currency"),
        Just("marker"),
        Just("Owner"),
        Just("NFTokenID"),
        Just("status"),
        Just("obligations"),
    ];
    hostile::spoil(
        prop_oneof![Just(400u16), Just(429), Just(500), Just(503), any::<u16>()],
        prop_oneof![
            Just(String::new()),
            Just("null".to_string()),
            Just("[]".to_string()),
            Just(r#"{"result":{"status":"error","error":"slowDown"}}"#.to_string()),
            Just(r#"{"result":{"status":"error","error":"actNotFound"}}"#.to_string()),
            Just(r#"{"result":{"status":"success"}}"#.to_string()),
            Just(r#"{"result":{"status":"success","ledger_index":1,"validated":true,"lines":[],"marker":"m"}}"#.to_string()),
            Just(r#"{"status":"error","error":"tooBusy","result":null}"#.to_string()),
            "\\PC{0,40}",
        ],
        (field, any::<usize>(), extreme),
    )
}

/// `body` with the value of the `n`-th (mod count) `"field":` replaced by
/// `text` (the value is a JSON string, number or literal up to the next `,`
/// or `}`); unchanged when there is no such field.
fn swap_field(body: &str, field: &str, n: usize, text: &str) -> String {
    let key = format!("\"{field}\":");
    let starts: Vec<usize> = body
        .match_indices(&key)
        .map(|(i, _)| i + key.len())
        .collect();
    let Some(&start) = starts.get(n % starts.len().max(1)) else {
        return body.to_string();
    };
    let rest = &body[start..];
    let len = if let Some(inner) = rest.strip_prefix('"') {
        inner.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find([',', '}', ']']).unwrap_or(rest.len())
    };
    format!("{}{text}{}", &body[..start], &body[start + len..])
}

struct HostileXrpl {
    fake: FakeXrpl,
    spoils: Vec<Spoil>,
    answered: usize,
}

impl Host for HostileXrpl {
    fn post(&mut self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError> {
        self.answered += 1;
        if self.answered > REQUEST_BUDGET {
            return Err(PluginError::Upstream("request budget spent".into()));
        }
        // The fake itself may choke on what a spoiled reply led the plugin
        // to ask; that is the fake's limit, answered as a server error.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.fake.post(url, body)));
        let reply = match reply {
            Ok(answer) => answer?,
            Err(_) => return Ok((500, b"fake server cannot answer".to_vec())),
        };
        let spoil = &self.spoils[(self.answered - 1) % self.spoils.len()];
        hostile::apply(spoil, reply, |body, (field, n, text)| {
            swap_field(body, field, *n, text)
        })
    }
    fn throttle(&mut self, _url: &str) {}
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
        self.fake.emitted.extend_from_slice(holders);
        Ok(())
    }
    fn checkpoint(&mut self, state: &str) {
        self.fake.checkpoints.push(state.to_string());
    }
    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
    fn warn(&mut self, message: &str) {
        self.fake.warnings.push(message.to_string());
    }
}

fn request(token: &str) -> SnapshotRequest {
    SnapshotRequest {
        token_id: token.into(),
        network: "testnet".into(),
        endpoint: URL.into(),
        at: None,
        min_balance: None,
        resume: None,
        options: vec![("busy_retries".into(), "3".into())],
    }
}

/// A server with `lines` USD holders (balances `1..=lines`, some noise) and
/// `nfts` NFTs of the issuer (an issuer without NFTs is not a collection:
/// validation refuses it).
fn server(lines: usize, nfts: usize, page_size: usize) -> FakeXrpl {
    let mut f = FakeXrpl::new();
    f.page_size = page_size;
    for i in 0..lines {
        f.lines
            .push(Line::new(holder(i), "USD", &format!("-{}", i + 1)));
        if i % 3 == 0 {
            f.lines.push(Line::new(holder(i), "EUR", "-7"));
        }
    }
    f.nfts = (0..nfts)
        .map(|i| FakeNft {
            id: format!("00080000{:056x}", i + 1),
            owner: holder(i % 5),
            taxon: 7,
            burned: false,
        })
        .collect();
    f
}

proptest! {
    #[test]
    fn hostile_replies_end_validation_and_the_walk_with_an_answer_never_a_panic(
        lines in 0usize..40,
        nfts in 1usize..12,
        page_size in 1usize..10,
        nft_walk: bool,
        spoils in proptest::collection::vec(spoil(), 1..12),
    ) {
        let clean = spoils.iter().all(|s| matches!(s, Spoil::Nothing));
        let mut host = HostileXrpl { fake: server(lines, nfts, page_size), spoils, answered: 0 };
        let token = if nft_walk { format!("nft:{ISSUER}") } else { format!("USD.{ISSUER}") };
        let req = request(&token);
        let validated = exports::validate_token(&mut host, &req);
        let fetched = exports::fetch_all_token_balances(&mut host, &req);
        prop_assert!(host.answered <= REQUEST_BUDGET, "the plugin kept asking");
        if clean {
            validated.map_err(|e| TestCaseError::fail(format!("validate: {e:?}")))?;
            let summary = fetched.map_err(|e| TestCaseError::fail(format!("fetch: {e:?}")))?;
            let got: BTreeMap<String, String> = host
                .fake
                .emitted
                .iter()
                .map(|h| (h.account.clone(), h.balance.clone()))
                .collect();
            let mut expected = BTreeMap::new();
            if nft_walk {
                for i in 0..nfts {
                    *expected.entry(holder(i % 5)).or_insert(0u64) += 1;
                }
                prop_assert_eq!(host.fake.emitted.len(), nfts);
                let owners: BTreeMap<String, u64> = host.fake.emitted.iter().fold(
                    BTreeMap::new(),
                    |mut m, h| {
                        *m.entry(h.account.clone()).or_insert(0) += 1;
                        m
                    },
                );
                prop_assert_eq!(owners, expected);
            } else {
                let expected: BTreeMap<String, String> =
                    (0..lines).map(|i| (holder(i), (i + 1).to_string())).collect();
                prop_assert_eq!(got, expected);
                prop_assert_eq!(summary.holders_emitted as usize, lines);
            }
        }
    }
}
