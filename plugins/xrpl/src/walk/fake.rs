//! An in-memory XRPL JSON-RPC server for native tests: answers the requests
//! the plugin builds the way rippled/Clio do (markers, empty pages, pinned
//! ledgers, error envelopes) and records everything the plugin did.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};
use snapshot_plugin_sdk::{Holder, PluginError};

use super::Host;
use crate::amount;
use crate::token_id::Currency;

pub const ISSUER: &str = "rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq";
/// Holder addresses with valid checksums (from the recorded fixtures).
pub const HOLDERS: &[&str] = &[
    "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59",
    "r3vi7mWxru9rJCxETCyA1CHvzL96eZWx5z",
    "rMwjYedjc7qqtKYVLiAccJSmCwih4LnE2q",
    "rHpXfibHgSb64n8kK9QWDpdbfqSpYbM9a4",
    "rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn",
    "rsNw23ygZatXv7h8QVSgAE4jktY2uW1iZP",
    "rfXeQv31yWMrhhPxMHZRzQqhw5mQrcuici",
    "rLaBCoaMQqXzHDmiGs2Qv2JA2bg3Yvzxyt",
    "rvYAfWj5gh67oV6fW32ZzP3Aw4Eubs59B",
];

/// A valid address for holder number `i` (beyond the fixture list they are
/// derived from account ids).
pub fn holder(i: usize) -> String {
    match HOLDERS.get(i) {
        Some(a) => a.to_string(),
        None => {
            let mut id = [0u8; 20];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            id[19] = 0x5a;
            crate::token_id::Address::from_account_id(id).to_string()
        }
    }
}

#[derive(Clone, Debug)]
pub struct Line {
    pub account: String,
    pub currency: String,
    /// From the issuer's side (negative = the peer holds).
    pub balance: String,
    pub freeze: bool,
    pub authorized: bool,
}

impl Line {
    pub fn new(account: impl Into<String>, currency: &str, balance: &str) -> Line {
        Line {
            account: account.into(),
            currency: currency.into(),
            balance: balance.into(),
            freeze: false,
            authorized: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FakeNft {
    pub id: String,
    pub owner: String,
    pub taxon: u32,
    pub burned: bool,
}

pub struct FakeXrpl {
    /// What `"validated"` resolves to now.
    pub validated: u32,
    /// Oldest ledger the server holds.
    pub oldest: u32,
    /// Every request moves `validated` on by one (a live network).
    pub advancing: bool,
    pub with_hash: bool,
    pub issuer_exists: bool,
    pub lines: Vec<Line>,
    /// Objects per page the server returns at most (below the `limit`).
    pub page_size: usize,
    /// Empty pages (with a marker) before the first object, as a server
    /// that skips other object types would return.
    pub leading_empty_pages: usize,
    pub mptokens: Vec<(String, String, u32)>,
    pub mpt_issuance: Option<Value>,
    pub nfts: Vec<FakeNft>,
    /// Replies returned instead of the real answer, in order, for a method.
    pub script: VecDeque<(&'static str, Value)>,

    pub requests: Vec<(String, Map<String, Value>)>,
    pub throttles: usize,
    pub warnings: Vec<String>,
    pub emitted: Vec<Holder>,
    pub checkpoints: Vec<String>,
    pub progress: Vec<u64>,
    /// Requests sent so far at each `emit`.
    pub requests_at_emit: Vec<usize>,
}

impl FakeXrpl {
    pub fn new() -> FakeXrpl {
        FakeXrpl {
            validated: 90_000_000,
            oldest: 32_570,
            advancing: false,
            with_hash: true,
            issuer_exists: true,
            lines: Vec::new(),
            page_size: 400,
            leading_empty_pages: 0,
            mptokens: Vec::new(),
            mpt_issuance: None,
            nfts: Vec::new(),
            script: VecDeque::new(),
            requests: Vec::new(),
            throttles: 0,
            warnings: Vec::new(),
            emitted: Vec::new(),
            checkpoints: Vec::new(),
            progress: Vec::new(),
            requests_at_emit: Vec::new(),
        }
    }

    pub fn hash_of(ledger: u32) -> String {
        format!("{ledger:064X}")
    }

    /// The `ledger_index` params the plugin sent for `method`.
    pub fn ledgers_sent(&self, method: &str) -> Vec<Value> {
        self.requests
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p["ledger_index"].clone())
            .collect()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests.iter().filter(|(m, _)| m == method).count()
    }

    fn error(code: &str, message: &str) -> Value {
        json!({"result": {"error": code, "error_message": message, "status": "error"}})
    }

    fn answer(&mut self, method: &str, p: &Map<String, Value>) -> Value {
        if let Some(i) = self.script.iter().position(|(m, _)| *m == method) {
            return self.script.remove(i).unwrap().1;
        }
        assert!(
            !p.contains_key("ignore_default"),
            "ignore_default must never be sent"
        );
        let ledger = match &p.get("ledger_index") {
            Some(Value::String(s)) if s == "validated" => {
                assert!(
                    !p.contains_key("marker"),
                    "{method}: a marker page must name the pinned ledger, not \"validated\""
                );
                self.validated
            }
            Some(Value::Number(n)) => n.as_u64().unwrap() as u32,
            other => panic!("{method}: ledger_index {other:?}"),
        };
        if ledger > self.validated || ledger < self.oldest {
            return Self::error("lgrNotFound", "ledgerNotFound");
        }
        let mut result = match method {
            "account_info" => {
                if !self.issuer_exists || p["account"] != ISSUER {
                    return Self::error("actNotFound", "Account not found.");
                }
                json!({"account_data": {"Account": ISSUER, "Flags": 0x0080_0000u32 | 0x0004_0000, "LedgerEntryType": "AccountRoot"}})
            }
            "account_lines" => {
                if !self.issuer_exists {
                    return Self::error("actNotFound", "Account not found.");
                }
                let limit = p["limit"].as_u64().unwrap() as usize;
                assert_eq!(limit, 400, "account_lines asks for 400 lines a page");
                let lines: Vec<Value> = self
                    .lines
                    .iter()
                    .map(|l| {
                        let mut v = json!({
                            "account": l.account, "balance": l.balance, "currency": l.currency,
                            "limit": "0", "limit_peer": "1e15", "no_ripple": true,
                            "no_ripple_peer": false, "quality_in": 0, "quality_out": 0
                        });
                        if l.freeze {
                            v["freeze"] = json!(true);
                        }
                        if l.authorized {
                            v["authorized"] = json!(true);
                        }
                        v
                    })
                    .collect();
                let (page, marker) = self.page(p, lines, limit);
                let mut r = json!({"account": ISSUER, "lines": page});
                if let Some(m) = marker {
                    r["marker"] = m;
                }
                r
            }
            "gateway_balances" => self.gateway_balances(),
            "mpt_holders" => {
                let limit = p["limit"].as_u64().unwrap() as usize;
                let tokens: Vec<Value> = self
                    .mptokens
                    .iter()
                    .map(|(a, amt, flags)| {
                        let mut v = json!({"account": a, "flags": flags, "mptoken_index": "00"});
                        if amt != "0" {
                            v["mpt_amount"] = json!(amt);
                        }
                        v
                    })
                    .collect();
                let (page, marker) = self.page(p, tokens, limit);
                let mut r = json!({"mpt_issuance_id": p["mpt_issuance_id"], "limit": limit, "mptokens": page});
                if let Some(m) = marker {
                    r["marker"] = m;
                }
                r
            }
            "nfts_by_issuer" => {
                let limit = p["limit"].as_u64().unwrap() as usize;
                let taxon = p.get("nft_taxon").and_then(Value::as_u64);
                let nfts: Vec<Value> = self
                    .nfts
                    .iter()
                    .filter(|n| taxon.is_none_or(|t| u64::from(n.taxon) == t))
                    .map(|n| {
                        json!({"nft_id": n.id, "ledger_index": 1, "owner": n.owner,
                               "is_burned": n.burned, "uri": "", "flags": 8, "transfer_fee": 0,
                               "issuer": ISSUER, "nft_taxon": n.taxon, "nft_serial": 1})
                    })
                    .collect();
                let (page, marker) = self.page(p, nfts, limit);
                let mut r = json!({"issuer": p["issuer"], "limit": limit, "nfts": page});
                if let Some(m) = marker {
                    r["marker"] = m;
                }
                r
            }
            "ledger_entry" => match &self.mpt_issuance {
                Some(node) => json!({"index": "AB", "node": node}),
                None => return Self::error("entryNotFound", "Entry not found."),
            },
            other => return Self::error("unknownCmd", &format!("Unknown method {other}")),
        };
        result["ledger_index"] = json!(ledger);
        if self.with_hash && method != "mpt_holders" && method != "nfts_by_issuer" {
            result["ledger_hash"] = json!(Self::hash_of(ledger));
        }
        result["validated"] = json!(true);
        result["status"] = json!("success");
        json!({ "result": result })
    }

    /// One page of `items` from the position in the marker.
    fn page(
        &self,
        p: &Map<String, Value>,
        items: Vec<Value>,
        limit: usize,
    ) -> (Vec<Value>, Option<Value>) {
        let pos = match p.get("marker") {
            None => 0,
            Some(Value::String(m)) => m.strip_prefix("pos:").unwrap().parse::<usize>().unwrap(),
            Some(other) => panic!("marker {other}"),
        };
        let marker = |next: usize| Some(json!(format!("pos:{next}")));
        if pos < self.leading_empty_pages {
            return (Vec::new(), marker(pos + 1));
        }
        let start = pos - self.leading_empty_pages;
        let end = (start + limit.min(self.page_size)).min(items.len());
        let page = items[start..end].to_vec();
        let next = (end < items.len()).then(|| end + self.leading_empty_pages);
        (page, next.and_then(marker))
    }

    /// rippled's gateway_balances: non-frozen negative lines summed per
    /// currency (exactly, here), frozen ones listed per holder.
    fn gateway_balances(&self) -> Value {
        let mut sums: BTreeMap<String, String> = BTreeMap::new();
        let mut frozen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for l in &self.lines {
            // A line a test made unreadable is left out (the walk fails on
            // it; the sum check may have been asked for before).
            if amount::sign(&l.balance).ok() != Some(amount::Sign::Negative) {
                continue;
            }
            let owed = amount::negate(&l.balance).unwrap();
            let code = Currency::from_reply(&l.currency).unwrap().to_string();
            if l.freeze {
                frozen
                    .entry(l.account.clone())
                    .or_default()
                    .push(json!({"currency": code, "value": owed}));
            } else {
                let s = sums.entry(code).or_insert_with(|| "0".into());
                *s = amount::add(s, &owed).unwrap();
            }
        }
        let mut r = json!({"account": ISSUER, "obligations": sums});
        if !frozen.is_empty() {
            r["frozen_balances"] = json!(frozen);
        }
        r
    }
}

impl Host for FakeXrpl {
    fn post(&mut self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError> {
        assert_eq!(url, "http://xrpl.test/");
        let req: Value = serde_json::from_slice(&body).unwrap();
        let method = req["method"].as_str().unwrap().to_string();
        let params = req["params"][0].as_object().unwrap().clone();
        let reply = self.answer(&method, &params);
        self.requests.push((method, params));
        if self.advancing {
            self.validated += 1;
        }
        Ok((200, serde_json::to_vec(&reply).unwrap()))
    }
    fn throttle(&mut self, url: &str) {
        assert_eq!(url, "http://xrpl.test/");
        self.throttles += 1;
    }
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
        self.requests_at_emit.push(self.requests.len());
        self.emitted.extend_from_slice(holders);
        Ok(())
    }
    fn checkpoint(&mut self, state: &str) {
        self.checkpoints.push(state.to_string());
    }
    fn progress(&mut self, done: u64, total: Option<u64>) {
        assert_eq!(total, None);
        self.progress.push(done);
    }
    fn warn(&mut self, message: &str) {
        self.warnings.push(message.to_string());
    }
}
