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

use std::borrow::Cow;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// A successful reply: the body, its `result` not yet decoded, what the
/// envelope said about load, and where the reply stands (its ledger, the
/// next page's marker). The result is decoded once, straight into the
/// caller's typed shape ([`Reply::decode`]): a 400-line page is never built
/// as a tree of `Value`s first.
#[derive(Debug)]
pub struct Reply {
    body: Vec<u8>,
    /// The server asked clients to slow down (`"warning": "load"`, or a
    /// Clio rate-limit warning, id 2003).
    pub load_warning: bool,
    /// The result's own ledger fields and marker.
    pub head: Head,
}

/// The ledger a reply read and the marker it links on with: top-level
/// fields of `result`, read with the envelope, so that a walk can send the
/// next page's request before it decodes this page.
#[derive(Debug, Default)]
pub struct Head {
    pub meta: LedgerMeta,
    /// Opaque resume point; absent on the last page (and on replies that
    /// are not pages).
    pub marker: Option<Value>,
}

impl Reply {
    /// The `result` object in its typed shape; strings the shape borrows
    /// point into the reply.
    pub fn decode<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        #[derive(Deserialize)]
        struct Enveloped<T> {
            result: T,
        }
        serde_json::from_slice::<Enveloped<T>>(&self.body).map(|e| e.result)
    }
}

/// What a reply body says: a result, an RPC error, or something unreadable.
#[derive(Debug)]
pub enum Outcome {
    Success(Reply),
    Error(RpcError),
}

/// The fields of one envelope level (the top, or `result`) that tell an
/// error or a load warning, and the result's [`Head`]. Kept as `Value`s so
/// that a field of an unexpected type in an error reply is ignored rather
/// than fatal; the head is checked once the reply is known to be a success.
#[derive(Debug, Default)]
struct Signals {
    status: Option<Value>,
    error: Option<Value>,
    error_message: Option<Value>,
    warning: Option<Value>,
    warnings: Option<Value>,
    ledger_index: Option<Value>,
    ledger_hash: Option<Value>,
    validated: Option<Value>,
    marker: Option<Value>,
}

/// The names [`Signals`] and the envelope care about; every other field is
/// skipped unread.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Result,
    Status,
    Error,
    ErrorMessage,
    Warning,
    Warnings,
    LedgerIndex,
    LedgerHash,
    Validated,
    Marker,
    #[serde(other)]
    Other,
}

/// What one pass over a reply body finds: the top level's signals and,
/// when `result` is an object, its own. Everything else (the page's entries
/// above all) is skipped without being decoded, so the pass allocates only
/// for the few fields it keeps.
#[derive(Debug, Default)]
struct Scan {
    top: Signals,
    result: Option<Signals>,
}

impl Signals {
    /// Keeps the value of `field` (the caller has read the key).
    fn read<'de, A: MapAccess<'de>>(&mut self, field: Field, map: &mut A) -> Result<(), A::Error> {
        let slot = match field {
            Field::Status => &mut self.status,
            Field::Error => &mut self.error,
            Field::ErrorMessage => &mut self.error_message,
            Field::Warning => &mut self.warning,
            Field::Warnings => &mut self.warnings,
            Field::LedgerIndex => &mut self.ledger_index,
            Field::LedgerHash => &mut self.ledger_hash,
            Field::Validated => &mut self.validated,
            Field::Marker => &mut self.marker,
            Field::Result | Field::Other => {
                map.next_value::<IgnoredAny>()?;
                return Ok(());
            }
        };
        // `null` reads as absent, as it always did.
        *slot = map.next_value::<Option<Value>>()?;
        Ok(())
    }
}

/// `result`: its signals when it is an object, `None` for anything else.
struct ResultField(Option<Signals>);

impl<'de> Deserialize<'de> for ResultField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ResultField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultField, A::Error> {
                let mut signals = Signals::default();
                while let Some(field) = map.next_key::<Field>()? {
                    signals.read(field, &mut map)?;
                }
                Ok(ResultField(Some(signals)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ResultField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ResultField(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ResultField, E> {
                Ok(ResultField(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Scan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scan;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scan, A::Error> {
                let mut scan = Scan::default();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Result => scan.result = map.next_value::<ResultField>()?.0,
                        field => scan.top.read(field, &mut map)?,
                    }
                }
                Ok(scan)
            }
        }
        // A map only: a top-level array is not an envelope.
        d.deserialize_map(V)
    }
}

impl Signals {
    fn error(&self) -> Option<RpcError> {
        if let Some(error) = self.error.as_ref().and_then(Value::as_str) {
            return Some(RpcError {
                error: error.to_string(),
                message: self
                    .error_message
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        (self.status.as_ref().and_then(Value::as_str) == Some("error")).then(|| RpcError {
            error: "error".into(),
            message: Some("the server answered status \"error\" without saying why".into()),
        })
    }

    /// The head of a success reply.
    fn head(self) -> Result<Head, String> {
        fn field<T: serde::de::DeserializeOwned>(
            name: &str,
            value: Option<Value>,
        ) -> Result<Option<T>, String> {
            value
                .map(|v| serde_json::from_value(v).map_err(|e| format!("`{name}`: {e}")))
                .transpose()
        }
        Ok(Head {
            meta: LedgerMeta {
                ledger_index: field("ledger_index", self.ledger_index)?,
                ledger_hash: field("ledger_hash", self.ledger_hash)?,
                validated: field("validated", self.validated)?,
            },
            marker: self.marker,
        })
    }

    fn load(&self) -> bool {
        self.warning.as_ref().and_then(Value::as_str) == Some("load")
            || self
                .warnings
                .as_ref()
                .and_then(Value::as_array)
                .is_some_and(|ws| {
                    ws.iter()
                        .any(|w| w.get("id").and_then(Value::as_u64) == Some(2003))
                })
    }
}

/// Reads the envelope of a JSON-RPC (or WebSocket-style) reply. `Err` is a
/// reply that is not an XRPL answer at all.
///
/// One pass reads the top level's and `result`'s own fields and skips the
/// rest; the caller then decodes `result` into its typed shape
/// ([`Reply::decode`]), a second and last pass.
pub fn parse_envelope(body: &[u8]) -> Result<Outcome, String> {
    let scan: Scan = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("the reply is not a JSON object: {e}"),
        _ => format!("the reply is not JSON: {e}"),
    })?;
    // Errors may sit inside `result` (JSON-RPC) or next to it (WebSocket,
    // some proxies).
    for scope in [scan.result.as_ref(), Some(&scan.top)]
        .into_iter()
        .flatten()
    {
        if let Some(e) = scope.error() {
            return Ok(Outcome::Error(e));
        }
    }
    let Some(signals) = scan.result else {
        return Err("the reply has no `result` object".into());
    };
    let load_warning = scan.top.load() || signals.load();
    Ok(Outcome::Success(Reply {
        body: body.to_vec(),
        load_warning,
        head: signals
            .head()
            .map_err(|e| format!("the reply's `result` is unreadable: {e}"))?,
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

/// `account_lines`: one page of the issuer's trust lines. Its text fields
/// borrow from the reply (a page of 400 lines decodes without a string
/// allocation per field).
#[derive(Debug, Deserialize)]
pub struct AccountLines<'a> {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    #[serde(borrow)]
    pub account: Cow<'a, str>,
    #[serde(borrow)]
    pub lines: Vec<TrustLine<'a>>,
    /// Opaque resume point; absent on the last page.
    #[serde(default)]
    pub marker: Option<Value>,
}

/// One trust line, seen from the issuer's side: a negative `balance` is what
/// the issuer owes the peer, i.e. the peer's holding.
#[derive(Debug, Deserialize)]
pub struct TrustLine<'a> {
    /// The peer (holder).
    #[serde(borrow)]
    pub account: Cow<'a, str>,
    #[serde(borrow)]
    pub balance: Cow<'a, str>,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
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
pub struct MptHolders<'a> {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    #[serde(borrow)]
    pub mpt_issuance_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub mptokens: Vec<MpToken<'a>>,
    #[serde(default)]
    pub marker: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct MpToken<'a> {
    #[serde(borrow)]
    pub account: Cow<'a, str>,
    #[serde(default)]
    pub flags: u32,
    /// Unsigned 64-bit integer as decimal text; absent when zero.
    #[serde(default, borrow)]
    pub mpt_amount: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub mptoken_index: Option<Cow<'a, str>>,
    /// Amount held in escrow (not spendable), when the server reports it.
    #[serde(default, borrow)]
    pub locked_amount: Option<Cow<'a, str>>,
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
pub struct NftsByIssuer<'a> {
    #[serde(flatten)]
    pub meta: LedgerMeta,
    #[serde(borrow)]
    pub issuer: Cow<'a, str>,
    #[serde(default, borrow)]
    pub nfts: Vec<Nft<'a>>,
    #[serde(default)]
    pub marker: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Nft<'a> {
    #[serde(borrow)]
    pub nft_id: Cow<'a, str>,
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    #[serde(default)]
    pub is_burned: bool,
    #[serde(borrow)]
    pub issuer: Cow<'a, str>,
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

    fn success(path: &str) -> Reply {
        match parse_envelope(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}")) {
            Outcome::Success(r) => r,
            Outcome::Error(e) => panic!("{path}: {e}"),
        }
    }

    fn decoded<'a, T: Deserialize<'a>>(path: &str, reply: &'a Reply) -> T {
        reply.decode().unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn recorded_account_lines_replies_parse_in_both_transports() {
        for path in [
            "xrpl-dev-portal/_api-examples/account_lines/jsonrpc-response.json",
            "xrpl-dev-portal/_api-examples/account_lines/ws-response.json",
        ] {
            let reply = success(path);
            let page: AccountLines = decoded(path, &reply);
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
            let reply = success(path);
            let g: GatewayBalances = decoded(path, &reply);
            assert!(g.meta.ledger_index.is_some(), "{path}");
            assert!(g.meta.ledger_hash.is_some(), "{path}");
            assert_eq!(g.obligations.len(), 4, "{path}");
            for v in g.obligations.values() {
                crate::amount::check(v).unwrap();
            }
        }
        let reply =
            success("xrpl-dev-portal/docs-extracted/gateway_balances/response-commandline.json");
        let g: GatewayBalances = decoded(
            "xrpl-dev-portal/docs-extracted/gateway_balances/response-commandline.json",
            &reply,
        );
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
            let reply = success(path);
            let m: MptHolders = decoded(path, &reply);
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
        let reply = success("xrpl-dev-portal/docs-extracted/nfts_by_issuer/response.json");
        let n: NftsByIssuer = decoded(
            "xrpl-dev-portal/docs-extracted/nfts_by_issuer/response.json",
            &reply,
        );
        let load = reply.load_warning;
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
        let reply =
            success("xrpl-dev-portal/docs-extracted/account_info/response-commandline.json");
        let a: AccountInfo = decoded(
            "xrpl-dev-portal/docs-extracted/account_info/response-commandline.json",
            &reply,
        );
        assert_eq!(a.account_data.account, "rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn");
        assert_eq!(a.meta.ledger_index, Some(LedgerIndex(56843712)));
        let reply = success("xrpl.js/accountInfo.json");
        let a: AccountInfo = decoded("xrpl.js/accountInfo.json", &reply);
        assert_eq!(a.account_data.flags, 655360);
    }

    #[test]
    fn recorded_ledger_data_pages_carry_markers_even_when_empty() {
        let reply = success("xrpl.js/ledgerDataFirstPageEmpty.json");
        let p: LedgerData = decoded("xrpl.js/ledgerDataFirstPageEmpty.json", &reply);
        assert!(p.state.is_empty());
        assert!(p.marker.is_some(), "an empty page still links on");
        assert_eq!(p.meta.ledger_index, Some(LedgerIndex(38202000)));
        let reply = success("xrpl.js/ledgerDataLastPage.json");
        let p: LedgerData = decoded("xrpl.js/ledgerDataLastPage.json", &reply);
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
    fn odd_envelopes_are_read_as_before() {
        // A `result` that is not an object: an error beside it still counts; without one the
        // reply is no answer.
        for result in ["[1, {\"error\": \"x\"}]", "\"busy\"", "null", "7"] {
            let body = format!(r#"{{"result": {result}, "status": "error", "error": "tooBusy"}}"#);
            let Outcome::Error(e) = parse_envelope(body.as_bytes()).unwrap() else {
                panic!("{body}")
            };
            assert!(e.is_busy(), "{body}");
            let body = format!(r#"{{"result": {result}}}"#);
            assert!(parse_envelope(body.as_bytes()).is_err(), "{body}");
        }
        // An error field of another type is no error; `null` is absent.
        let body = br#"{"result":{"error":404,"status":null,"ledger_index":5,"validated":true}}"#;
        let Outcome::Success(r) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert_eq!(r.head.meta.ledger_index, Some(LedgerIndex(5)));
        assert!(r.head.marker.is_none());
        // Not an object at the top.
        assert!(parse_envelope(br#"[{"result":{}}]"#).is_err());
        assert!(parse_envelope(br#""result""#).is_err());
        // A success whose ledger index is unreadable is no answer.
        assert!(parse_envelope(br#"{"result":{"ledger_index":"seven"}}"#).is_err());
    }

    #[test]
    fn a_page_decodes_with_its_head_and_escaped_text() {
        let body = br#"{"id":1,"result":{"account":"r\u0041","ledger_index":"12","ledger_hash":"AB","validated":true,"marker":{"k":[1,2]},"lines":[{"account":"rB","balance":"-1.5","currency":"USD","limit":"0","quality_in":0}],"status":"success"},"warnings":[{"id":2001}]}"#;
        let Outcome::Success(r) = parse_envelope(body).unwrap() else {
            panic!()
        };
        assert!(!r.load_warning);
        assert_eq!(r.head.meta.ledger_index, Some(LedgerIndex(12)));
        assert_eq!(r.head.meta.ledger_hash.as_deref(), Some("AB"));
        assert_eq!(r.head.marker, Some(json!({"k": [1, 2]})));
        let page: AccountLines = r.decode().unwrap();
        assert_eq!(page.account, "rA", "escapes are decoded");
        assert_eq!(page.lines.len(), 1);
        assert_eq!(page.lines[0].balance, "-1.5");
        assert!(
            matches!(page.lines[0].account, Cow::Borrowed(_)),
            "no copy without escapes"
        );
        assert_eq!(page.meta.ledger_index, r.head.meta.ledger_index);
        assert_eq!(page.marker, r.head.marker);
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
        assert!(serde_json::from_str::<TrustLine>(&v.to_string()).is_err());
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

    // ----- properties: any reply is read or refused, never a panic -----

    use proptest::prelude::*;

    /// Replies shaped like the server's, with values of any JSON type.
    fn reply_body() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            Just(json!(1.5)),
            "\\PC{0,12}".prop_map(Value::from),
            Just(json!("success")),
            Just(json!("error")),
            Just(json!("load")),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("status".to_string()),
                        Just("error".to_string()),
                        Just("result".to_string()),
                        Just("ledger_index".to_string()),
                        Just("marker".to_string()),
                        Just("warning".to_string()),
                        Just("warnings".to_string()),
                        Just("id".to_string()),
                        Just("lines".to_string()),
                        Just("balance".to_string()),
                        "[a-z_]{1,8}",
                    ],
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop_oneof![
            value.prop_map(|v| serde_json::to_vec(&json!({ "result": v })).unwrap()),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #[test]
        fn any_reply_is_read_or_refused_without_a_panic(body in reply_body()) {
            if let Ok(Outcome::Success(reply)) = parse_envelope(&body) {
                let _ = reply.decode::<AccountInfo>();
                let _ = reply.decode::<AccountLines>();
                let _ = reply.decode::<GatewayBalances>();
                let _ = reply.decode::<MptHolders>();
                let _ = reply.decode::<MptIssuanceEntry>();
                let _ = reply.decode::<NftsByIssuer>();
                let _ = reply.decode::<LedgerData>();
            }
        }
    }
}
