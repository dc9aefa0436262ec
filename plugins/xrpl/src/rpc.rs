//! XRPL JSON-RPC: request bodies, the reply envelope and the reply shapes.
//!
//! rippled and Clio take `POST /` with `{"method": m, "params": [{...}]}` and
//! answer `{"result": {..., "status": "success"}}` or
//! `{"result": {"status": "error", "error": "actNotFound", ...}}`, usually with
//! HTTP 200 either way. (The WebSocket form puts `status` next to `result`;
//! both are read so the recorded WebSocket replies parse too.)
//!
//! Amounts are kept as the text the server wrote: every amount field is a
//! `String`, and a server that sent a JSON number would fail to parse rather
//! than pass through an `f64`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

/// Which ledger a request reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerSel {
    /// The latest validated ledger (only for the first request of a walk).
    Validated,
    /// One ledger, by index.
    Index(u32),
}

impl LedgerSel {
    pub fn to_json(self) -> Value {
        match self {
            LedgerSel::Validated => json!("validated"),
            LedgerSel::Index(i) => json!(i),
        }
    }
}

/// The JSON-RPC body for `method` with one params object.
pub fn request_body(method: &str, params: Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "method": method, "params": [Value::Object(params)] }))
        .expect("a JSON value serializes")
}

/// An error answer (`status: error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    /// The error token, e.g. `actNotFound`, `slowDown`.
    pub error: String,
    /// The human-readable message, when given.
    pub message: Option<String>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(m) if !m.is_empty() => write!(f, "{} ({m})", self.error),
            _ => f.write_str(&self.error),
        }
    }
}

impl RpcError {
    /// The server is overloaded and asks us to send again later.
    pub fn is_busy(&self) -> bool {
        matches!(self.error.as_str(), "slowDown" | "tooBusy")
    }

    /// The server does not offer this method or refuses it to us: nothing
    /// a retry would change.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self.error.as_str(),
            "unknownCmd" | "notSupported" | "noPermission" | "forbidden" | "notImpl"
        )
    }
}

/// A successful reply, with what the envelope said about load.
#[derive(Debug)]
pub struct Reply {
    /// The `result` object.
    pub result: Value,
    /// The server asked clients to slow down (`"warning": "load"`, or a
    /// Clio rate-limit warning, id 2003).
    pub load_warning: bool,
}

/// What a reply body says: a result, an RPC error, or something unreadable.
#[derive(Debug)]
pub enum Outcome {
    Success(Reply),
    Error(RpcError),
}

/// Reads the envelope of a JSON-RPC (or WebSocket-style) reply. `Err` is a
/// reply that is not an XRPL answer at all.
pub fn parse_envelope(body: &[u8]) -> Result<Outcome, String> {
    let mut top: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("the reply is not a JSON object".into()),
        Err(e) => return Err(format!("the reply is not JSON: {e}")),
    };
    let result = top.remove("result");
    // Errors may sit inside `result` (JSON-RPC) or next to it (WebSocket,
    // some proxies).
    let scopes: [Option<&Map<String, Value>>; 2] =
        [result.as_ref().and_then(Value::as_object), Some(&top)];
    for scope in scopes.into_iter().flatten() {
        let status_error = scope.get("status").and_then(Value::as_str) == Some("error");
        if let Some(error) = scope.get("error").and_then(Value::as_str) {
            return Ok(Outcome::Error(RpcError {
                error: error.to_string(),
                message: scope
                    .get("error_message")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }));
        }
        if status_error {
            return Ok(Outcome::Error(RpcError {
                error: "error".into(),
                message: Some("the server answered status \"error\" without saying why".into()),
            }));
        }
    }
    let Some(result) = result.filter(Value::is_object) else {
        return Err("the reply has no `result` object".into());
    };
    let load = |m: &Map<String, Value>| {
        m.get("warning").and_then(Value::as_str) == Some("load")
            || m.get("warnings")
                .and_then(Value::as_array)
                .is_some_and(|ws| {
                    ws.iter()
                        .any(|w| w.get("id").and_then(Value::as_u64) == Some(2003))
                })
    };
    let load_warning = load(&top) || result.as_object().is_some_and(load);
    Ok(Outcome::Success(Reply {
        result,
        load_warning,
    }))
}

/// A ledger index, written as a number or as decimal text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerIndex(pub u32);

impl<'de> Deserialize<'de> for LedgerIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        let n = match Raw::deserialize(d)? {
            Raw::Num(n) => n,
            Raw::Text(t) => t
                .parse::<u64>()
                .map_err(|_| serde::de::Error::custom(format!("ledger index {t:?}")))?,
        };
        u32::try_from(n)
            .map(LedgerIndex)
            .map_err(|_| serde::de::Error::custom(format!("ledger index {n} is above 2^32")))
    }
}

/// The fields every ledger-reading reply carries.
#[derive(Debug, Default, Deserialize)]
pub struct LedgerMeta {
    /// The ledger the answer came from (absent for the open ledger).
    #[serde(default)]
    pub ledger_index: Option<LedgerIndex>,
    #[serde(default)]
    pub ledger_hash: Option<String>,
    #[serde(default)]
    pub validated: Option<bool>,
}

/// `account_info`.
#[derive(Debug, Deserialize)]
pub struct AccountInfo {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub account_data: AccountRoot,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRoot {
    pub account: String,
    #[serde(default)]
    pub flags: u32,
}

/// `AccountRoot` flags worth showing on an issuer.
pub const ACCOUNT_FLAGS: &[(u32, &str)] = &[
    (0x0004_0000, "require_auth"),
    (0x0020_0000, "no_freeze"),
    (0x0040_0000, "global_freeze"),
    (0x0080_0000, "default_ripple"),
    (0x8000_0000, "allow_trustline_clawback"),
];

/// `account_lines`: one page of the issuer's trust lines.
#[derive(Debug, Deserialize)]
pub struct AccountLines {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub account: String,
    pub lines: Vec<TrustLine>,
    /// Opaque resume point; absent on the last page.
    #[serde(default)]
    pub marker: Option<Value>,
}

/// One trust line, seen from the issuer's side: a negative `balance` is what
/// the issuer owes the peer, i.e. the peer's holding.
#[derive(Debug, Deserialize)]
pub struct TrustLine {
    /// The peer (holder).
    pub account: String,
    pub balance: String,
    pub currency: String,
    /// The issuer froze this line.
    #[serde(default)]
    pub freeze: bool,
    /// The peer froze this line.
    #[serde(default)]
    pub freeze_peer: bool,
    /// The issuer deep-froze this line (XLS-77).
    #[serde(default)]
    pub deep_freeze: bool,
    #[serde(default)]
    pub deep_freeze_peer: bool,
    /// The issuer authorized the peer to hold its token (RequireAuth).
    #[serde(default)]
    pub authorized: bool,
    #[serde(default)]
    pub peer_authorized: bool,
}

/// `gateway_balances`.
#[derive(Debug, Deserialize)]
pub struct GatewayBalances {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    /// Currency → total owed on lines that are not frozen, not hot wallets.
    #[serde(default)]
    pub obligations: BTreeMap<String, String>,
    /// Holder → amounts on lines the issuer froze (left out of
    /// `obligations`).
    #[serde(default)]
    pub frozen_balances: BTreeMap<String, Vec<CurrencyValue>>,
}

#[derive(Debug, Deserialize)]
pub struct CurrencyValue {
    pub currency: String,
    pub value: String,
}

/// Clio `mpt_holders`.
#[derive(Debug, Deserialize)]
pub struct MptHolders {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub mpt_issuance_id: String,
    #[serde(default)]
    pub mptokens: Vec<MpToken>,
    #[serde(default)]
    pub marker: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct MpToken {
    pub account: String,
    #[serde(default)]
    pub flags: u32,
    /// Unsigned 64-bit integer as decimal text; absent when zero.
    #[serde(default)]
    pub mpt_amount: Option<String>,
    #[serde(default)]
    pub mptoken_index: Option<String>,
    /// Amount held in escrow (not spendable), when the server reports it.
    #[serde(default)]
    pub locked_amount: Option<String>,
}

/// `MPToken` flags.
pub const MPTOKEN_LOCKED: u32 = 0x0001;
pub const MPTOKEN_AUTHORIZED: u32 = 0x0002;

/// `ledger_entry` for an `MPTokenIssuance`.
#[derive(Debug, Deserialize)]
pub struct MptIssuanceEntry {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub node: MptIssuance,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MptIssuance {
    #[serde(default)]
    pub issuer: Option<String>,
    /// Decimal places; omitted by the server when 0.
    #[serde(default)]
    pub asset_scale: Option<u8>,
    #[serde(default)]
    pub maximum_amount: Option<String>,
    #[serde(default)]
    pub outstanding_amount: Option<String>,
    #[serde(default)]
    pub locked_amount: Option<String>,
    #[serde(default)]
    pub flags: u32,
    #[serde(default)]
    pub transfer_fee: Option<u32>,
    /// Hex of the metadata blob (XLS-89 JSON by convention).
    #[serde(default, rename = "MPTokenMetadata")]
    pub metadata: Option<String>,
}

/// `MPTokenIssuance` flags.
pub const MPT_ISSUANCE_FLAGS: &[(u32, &str)] = &[
    (0x01, "locked"),
    (0x02, "can_lock"),
    (0x04, "require_auth"),
    (0x08, "can_escrow"),
    (0x10, "can_trade"),
    (0x20, "can_transfer"),
    (0x40, "can_clawback"),
];

/// Clio `nfts_by_issuer`.
#[derive(Debug, Deserialize)]
pub struct NftsByIssuer {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub issuer: String,
    #[serde(default)]
    pub nfts: Vec<Nft>,
    #[serde(default)]
    pub marker: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Nft {
    pub nft_id: String,
    pub owner: String,
    #[serde(default)]
    pub is_burned: bool,
    pub issuer: String,
    pub nft_taxon: u32,
}

/// `ledger_data` (not used by the walks; read to check the paging fields
/// every XRPL list method shares).
#[derive(Debug, Deserialize)]
pub struct LedgerData {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    pub state: Vec<Value>,
    #[serde(default)]
    pub marker: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(path: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/xrpl")
            .join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn success<T: serde::de::DeserializeOwned>(path: &str) -> (T, bool) {
        match parse_envelope(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}")) {
            Outcome::Success(r) => (
                serde_json::from_value(r.result).unwrap_or_else(|e| panic!("{path}: {e}")),
                r.load_warning,
            ),
            Outcome::Error(e) => panic!("{path}: {e}"),
        }
    }

    #[test]
    fn recorded_account_lines_replies_parse_in_both_transports() {
        for path in [
            "xrpl-dev-portal/_api-examples/account_lines/jsonrpc-response.json",
            "xrpl-dev-portal/_api-examples/account_lines/ws-response.json",
        ] {
            let (page, _): (AccountLines, _) = success(path);
            assert_eq!(page.account, "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59");
            assert!(page.lines.len() > 20, "{path}");
            assert!(page.marker.is_none());
            assert!(page.lines.iter().any(|l| l.balance == "481.992867407479"));
            assert!(
                page.lines
                    .iter()
                    .any(|l| l.currency == "015841551A748AD2C1F76FF6ECB0CCCD00000000")
            );
            // Open-ledger answers carry `ledger_current_index`, not an index
            // to pin to.
            assert!(page.meta.ledger_index.is_none());
            assert_eq!(page.meta.validated, Some(false));
        }
    }

    #[test]
    fn recorded_gateway_balances_replies_parse_with_exponent_values() {
        for path in [
            "xrpl-dev-portal/docs-extracted/gateway_balances/response-jsonrpc.json",
            "xrpl-dev-portal/docs-extracted/gateway_balances/response-ws.json",
            "xrpl-dev-portal/docs-extracted/gateway_balances/response-commandline.json",
        ] {
            let (g, _): (GatewayBalances, _) = success(path);
            assert!(g.meta.ledger_index.is_some(), "{path}");
            assert!(g.meta.ledger_hash.is_some(), "{path}");
            assert_eq!(g.obligations.len(), 4, "{path}");
            for v in g.obligations.values() {
                crate::amount::check(v).unwrap();
            }
        }
        let (g, _): (GatewayBalances, _) =
            success("xrpl-dev-portal/docs-extracted/gateway_balances/response-commandline.json");
        assert_eq!(g.meta.ledger_index, Some(LedgerIndex(57111383)));
        assert_eq!(
            g.frozen_balances["r4keXr5myiU4iTLh68ZqZ2CgsJ8dM9FSW6"][0].value,
            "0.091207822800868"
        );
    }

    #[test]
    fn recorded_mpt_holders_replies_parse() {
        for path in [
            "xrpl-dev-portal/docs-extracted/mpt_holders/response-jsonrpc.json",
            "xrpl-dev-portal/docs-extracted/mpt_holders/response-ws.json",
        ] {
            let (m, _): (MptHolders, _) = success(path);
            assert_eq!(
                m.mpt_issuance_id,
                "05EECEBE97A7D635DE2393068691A015FED5A89AD203F5AA"
            );
            assert_eq!(m.mptokens.len(), 1);
            assert_eq!(m.mptokens[0].mpt_amount.as_deref(), Some("100"));
            assert!(m.meta.ledger_index.is_some());
            assert!(m.marker.is_none());
        }
    }

    #[test]
    fn recorded_nfts_by_issuer_reply_parses() {
        let (n, load): (NftsByIssuer, _) =
            success("xrpl-dev-portal/docs-extracted/nfts_by_issuer/response.json");
        assert!(
            !load,
            "the Clio notice (warning 2001) is not a load warning"
        );
        assert_eq!(n.meta.ledger_index, Some(LedgerIndex(1534)));
        assert_eq!(n.nfts.len(), 1);
        assert_eq!(n.nfts[0].nft_taxon, 1);
        assert!(!n.nfts[0].is_burned);
    }

    #[test]
    fn recorded_account_info_replies_parse() {
        let (a, _): (AccountInfo, _) =
            success("xrpl-dev-portal/docs-extracted/account_info/response-commandline.json");
        assert_eq!(a.account_data.account, "rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn");
        assert_eq!(a.meta.ledger_index, Some(LedgerIndex(56843712)));
        let (a, _): (AccountInfo, _) = success("xrpl.js/accountInfo.json");
        assert_eq!(a.account_data.flags, 655360);
    }

    #[test]
    fn recorded_ledger_data_pages_carry_markers_even_when_empty() {
        let (p, _): (LedgerData, _) = success("xrpl.js/ledgerDataFirstPageEmpty.json");
        assert!(p.state.is_empty());
        assert!(p.marker.is_some(), "an empty page still links on");
        assert_eq!(p.meta.ledger_index, Some(LedgerIndex(38202000)));
        let (p, _): (LedgerData, _) = success("xrpl.js/ledgerDataLastPage.json");
        assert!(p.marker.is_none());
    }

    #[test]
    fn error_envelopes_are_recognised_in_both_places() {
        let body = br#"{"result":{"account":"r","error":"actNotFound","error_code":19,"error_message":"Account not found.","status":"error","validated":true}}"#;
        let Outcome::Error(e) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert_eq!(e.error, "actNotFound");
        assert_eq!(e.to_string(), "actNotFound (Account not found.)");
        let body = br#"{"status":"error","error":"slowDown","result":{}}"#;
        let Outcome::Error(e) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert!(e.is_busy());
        assert!(parse_envelope(b"<html>").is_err());
        assert!(parse_envelope(b"{}").is_err());
    }

    #[test]
    fn load_warnings_are_seen() {
        let body = br#"{"result":{"status":"success","warning":"load","lines":[]}}"#;
        let Outcome::Success(r) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert!(r.load_warning);
        let body =
            br#"{"result":{"status":"success"},"warnings":[{"id":2003,"message":"rate limit"}]}"#;
        let Outcome::Success(r) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert!(r.load_warning);
    }

    #[test]
    fn amounts_sent_as_json_numbers_are_refused() {
        let v = serde_json::json!({"account":"r","balance":-1.5,"currency":"USD"});
        assert!(serde_json::from_value::<TrustLine>(v).is_err());
    }

    #[test]
    fn requests_are_json_rpc_envelopes() {
        let mut p = Map::new();
        p.insert("ledger_index".into(), LedgerSel::Index(7).to_json());
        let body: Value = serde_json::from_slice(&request_body("account_lines", p)).unwrap();
        assert_eq!(
            body,
            json!({"method": "account_lines", "params": [{"ledger_index": 7}]})
        );
        assert_eq!(LedgerSel::Validated.to_json(), json!("validated"));
    }
}
