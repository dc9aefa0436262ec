//! The JSON-RPC methods over one locked [`XrplLedgerState`]: parameter parsing, ledger
//! selection and the reply bodies (the `result` object without `status`, which the server adds).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::address::{AccountId, parse_hex};
use super::state::{DirectoryItem, LedgerIndex, MptIssuanceId, NftId, XrplLedgerState};

/// `account_lines` limit bounds and default (rippled `Tuning::accountLines`, non-admin).
pub const ACCOUNT_LINES_LIMITS: (u64, u64, u64) = (10, 200, 400);
/// Clio `mpt_holders` and `nfts_by_issuer` limit bounds and default.
pub const CLIO_LIMITS: (u64, u64, u64) = (1, 50, 100);

/// What the server is: rippled serves the rippled methods only; Clio also serves its own
/// (`mpt_holders`, `nfts_by_issuer`) and tags its replies with warning 2001.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Rippled,
    Clio,
}

/// A rippled/Clio error: the `error` token, its numeric `error_code` and `error_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub token: &'static str,
    pub code: i64,
    pub message: String,
}

impl RpcError {
    fn new(token: &'static str, code: i64, message: impl Into<String>) -> Self {
        Self {
            token,
            code,
            message: message.into(),
        }
    }

    pub fn act_not_found() -> Self {
        Self::new("actNotFound", 19, "Account not found.")
    }
    pub fn act_malformed() -> Self {
        Self::new("actMalformed", 35, "Account malformed.")
    }
    /// rippled's ledger lookup says "ledgerNotFound" rather than the table text.
    pub fn lgr_not_found() -> Self {
        Self::new("lgrNotFound", 21, "ledgerNotFound")
    }
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new("invalidParams", 31, message)
    }
    pub fn unknown_cmd() -> Self {
        Self::new("unknownCmd", 32, "Unknown method.")
    }
    pub fn not_supported() -> Self {
        Self::new("notSupported", 75, "Operation not supported.")
    }
    /// Clio's `mpt_holders` passes the token itself as the message.
    pub fn object_not_found() -> Self {
        Self::new("objectNotFound", 92, "objectNotFound")
    }
    pub fn slow_down() -> Self {
        Self::new(
            "slowDown",
            10,
            "You are placing too much load on the server.",
        )
    }
    pub fn invalid_hotwallet() -> Self {
        Self::new("invalidHotWallet", 30, "Invalid hotwallet.")
    }
    /// `ledger_entry` for an object the ledger does not hold (rippled 2.x numbering).
    pub fn entry_not_found() -> Self {
        Self::new("entryNotFound", 98, "Entry not found.")
    }
    /// `ledger_entry` with a field that does not parse.
    pub fn malformed_request() -> Self {
        Self::new("malformedRequest", 95, "Malformed request.")
    }
}

/// Per-request inputs that come from the server rather than the request.
#[derive(Debug, Clone, Copy)]
pub struct CallContext {
    pub kind: ServerKind,
    /// Answer this `nfts_by_issuer` call with an empty page whose marker moves past rows that hold
    /// no NFT at the requested ledger, as Clio's pages over NFTs minted later do.
    pub empty_nft_page: bool,
}

type Reply = Result<Map<String, Value>, RpcError>;

/// Runs `method` with `params` (the first element of the JSON-RPC `params` array).
pub fn dispatch(
    state: &XrplLedgerState,
    context: CallContext,
    method: &str,
    params: &Map<String, Value>,
) -> Reply {
    match method {
        "account_info" => account_info(state, params),
        "account_lines" => account_lines(state, params),
        "gateway_balances" => gateway_balances(state, params),
        "ledger" => ledger(state, params),
        "ledger_entry" => ledger_entry(state, params),
        "server_info" => Ok(server_info(state)),
        "mpt_holders" if context.kind == ServerKind::Clio => mpt_holders(state, params),
        "nfts_by_issuer" if context.kind == ServerKind::Clio => {
            nfts_by_issuer(state, params, context.empty_nft_page)
        }
        _ => Err(RpcError::unknown_cmd()),
    }
}

/// The ledger a request reads.
#[derive(Debug, Clone, Copy)]
struct Selected {
    index: LedgerIndex,
    /// Asked for the open ledger: the reply says `ledger_current_index` and `validated: false`.
    current: bool,
}

/// `ledger_hash` wins over `ledger_index`; without either, rippled reads the current ledger.
/// The open ledger is modelled as the tip (no pending transactions).
fn select_ledger(
    state: &XrplLedgerState,
    params: &Map<String, Value>,
) -> Result<Selected, RpcError> {
    if let Some(hash) = params.get("ledger_hash") {
        let bytes = hash
            .as_str()
            .and_then(parse_hex)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| RpcError::invalid_params("ledgerHashMalformed"))?;
        let header = state
            .ledger_by_hash(&bytes)
            .ok_or_else(RpcError::lgr_not_found)?;
        return Ok(Selected {
            index: header.index,
            current: false,
        });
    }
    let index = match params.get("ledger_index") {
        None => {
            return Ok(Selected {
                index: state.tip(),
                current: true,
            });
        }
        Some(Value::String(s)) if s == "current" => {
            return Ok(Selected {
                index: state.tip(),
                current: true,
            });
        }
        Some(Value::String(s)) if s == "validated" || s == "closed" => state.tip(),
        Some(Value::String(s)) => s
            .parse::<LedgerIndex>()
            .map_err(|_| RpcError::invalid_params("ledgerIndexMalformed"))?,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| LedgerIndex::try_from(n).ok())
            .ok_or_else(|| RpcError::invalid_params("ledgerIndexMalformed"))?,
        Some(_) => return Err(RpcError::invalid_params("ledgerIndexMalformed")),
    };
    if state.ledger(index).is_none() {
        return Err(RpcError::lgr_not_found());
    }
    Ok(Selected {
        index,
        current: false,
    })
}

fn put_ledger(state: &XrplLedgerState, selected: Selected, result: &mut Map<String, Value>) {
    if selected.current {
        result.insert("ledger_current_index".into(), json!(selected.index));
        result.insert("validated".into(), json!(false));
    } else {
        let header = state
            .ledger(selected.index)
            .expect("selected ledgers exist");
        result.insert("ledger_hash".into(), json!(header.hash_hex()));
        result.insert("ledger_index".into(), json!(selected.index));
        result.insert("validated".into(), json!(true));
    }
}

fn required_account(params: &Map<String, Value>, field: &str) -> Result<AccountId, RpcError> {
    match params.get(field) {
        None => Err(RpcError::invalid_params(format!(
            "Missing field '{field}'."
        ))),
        Some(Value::String(s)) => AccountId::from_address(s).ok_or_else(RpcError::act_malformed),
        Some(_) => Err(RpcError::invalid_params(format!(
            "Invalid field '{field}'."
        ))),
    }
}

/// `limit`: an unsigned integer, clamped to `(min, default, max)`.
fn read_limit(
    params: &Map<String, Value>,
    (min, default, max): (u64, u64, u64),
) -> Result<usize, RpcError> {
    let limit = match params.get("limit") {
        None => default,
        Some(value) => value.as_u64().ok_or_else(|| {
            RpcError::invalid_params("Invalid field 'limit', not unsigned integer.")
        })?,
    };
    Ok(limit.clamp(min, max) as usize)
}

fn account_info(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let account = required_account(params, "account")?;
    let selected = select_ledger(state, params)?;
    let root = state
        .account_at(selected.index, &account)
        .ok_or_else(RpcError::act_not_found)?;
    let key = super::address::sha256_parts(&[b"AccountRoot", &account.0]);
    let previous_txn =
        super::address::sha256_parts(&[b"tx", &account.0, &root.changed_in.to_be_bytes()]);
    let mut result = Map::new();
    result.insert(
        "account_data".into(),
        json!({
            "Account": account.to_address(),
            "Balance": root.balance_drops.to_string(),
            "Flags": root.flags,
            "LedgerEntryType": "AccountRoot",
            "OwnerCount": state.owner_count_at(selected.index, &account),
            "PreviousTxnID": super::address::hex_upper(&previous_txn),
            "PreviousTxnLgrSeq": root.changed_in,
            "Sequence": root.sequence,
            "index": super::address::hex_upper(&key),
        }),
    );
    put_ledger(state, selected, &mut result);
    Ok(result)
}

/// `"<64-hex object key>,<directory page>"`, rippled's account_lines marker.
fn parse_lines_marker(marker: &Value) -> Result<[u8; 32], RpcError> {
    let invalid = || RpcError::invalid_params("Invalid field 'marker'.");
    let text = marker.as_str().ok_or_else(invalid)?;
    let (key, hint) = text.split_once(',').ok_or_else(invalid)?;
    hint.parse::<u64>().map_err(|_| invalid())?;
    parse_hex(key)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(invalid)
}

/// rippled's walk: visit up to `limit + 1` directory objects after the marker; trust lines among
/// the first `limit` are returned; the marker names the `limit`-th object and is only sent when
/// a further object exists. So a page can hold fewer lines than `limit`, even none.
fn account_lines(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let account = required_account(params, "account")?;
    let peer = match params.get("peer") {
        None => None,
        Some(_) => Some(required_account(params, "peer")?),
    };
    let limit = read_limit(params, ACCOUNT_LINES_LIMITS)?;
    let selected = select_ledger(state, params)?;
    let root = state
        .account_at(selected.index, &account)
        .ok_or_else(RpcError::act_not_found)?;
    // Markers are not bound to a ledger: the key is looked up in this ledger's directory, and
    // one that is not there (the object was deleted) is refused like rippled does.
    let after = params.get("marker").map(parse_lines_marker).transpose()?;
    let visited = state
        .owner_directory_from(selected.index, &account, after.as_ref(), limit + 1)
        .ok_or_else(|| RpcError::invalid_params("Invalid field 'marker'."))?;
    let default_ripple = root.flags & super::state::LSF_DEFAULT_RIPPLE != 0;
    let mut lines = Vec::new();
    for (_, _, item) in visited.iter().take(limit) {
        let DirectoryItem::Line(line) = item else {
            continue;
        };
        let view = line.view_from(&account);
        if peer.is_some_and(|p| p != view.peer) {
            continue;
        }
        lines.push(render_line(&view, default_ripple));
    }
    let mut result = Map::new();
    result.insert("account".into(), json!(account.to_address()));
    result.insert("lines".into(), Value::Array(lines));
    if visited.len() > limit {
        let (key, page, _) = &visited[limit - 1];
        result.insert("limit".into(), json!(limit));
        result.insert(
            "marker".into(),
            json!(format!("{},{page}", super::address::hex_upper(key))),
        );
    }
    put_ledger(state, selected, &mut result);
    Ok(result)
}

/// One `lines[]` entry. False flags are omitted like rippled does, except `no_ripple` and
/// `no_ripple_peer`, which rippled always prints when the queried account lacks DefaultRipple
/// (the recorded reply, of such an account, has them on every line).
fn render_line(view: &super::state::LineView<'_>, default_ripple: bool) -> Value {
    let mut line = Map::new();
    line.insert("account".into(), json!(view.peer.to_address()));
    line.insert("balance".into(), json!(view.balance.to_rippled_text()));
    line.insert("currency".into(), json!(view.line.currency.as_str()));
    line.insert("limit".into(), json!(view.mine.limit.to_rippled_text()));
    line.insert(
        "limit_peer".into(),
        json!(view.peers.limit.to_rippled_text()),
    );
    line.insert("quality_in".into(), json!(view.mine.quality_in));
    line.insert("quality_out".into(), json!(view.mine.quality_out));
    if view.mine.authorized {
        line.insert("authorized".into(), json!(true));
    }
    if view.peers.authorized {
        line.insert("peer_authorized".into(), json!(true));
    }
    if view.mine.no_ripple || !default_ripple {
        line.insert("no_ripple".into(), json!(view.mine.no_ripple));
    }
    if view.peers.no_ripple || !default_ripple {
        line.insert("no_ripple_peer".into(), json!(view.peers.no_ripple));
    }
    if view.mine.freeze {
        line.insert("freeze".into(), json!(true));
    }
    if view.peers.freeze {
        line.insert("freeze_peer".into(), json!(true));
    }
    Value::Object(line)
}

/// Obligations (rounded to 16 digits, see [`XrplLedgerState::obligations_at`]), hot-wallet
/// `balances`, `frozen_balances` and `assets` (IOUs of others the account holds).
fn gateway_balances(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let account = required_account(params, "account")?;
    let hot_wallets: BTreeSet<AccountId> = match params.get("hotwallet") {
        None => BTreeSet::new(),
        Some(Value::String(s)) => {
            BTreeSet::from([AccountId::from_address(s).ok_or_else(RpcError::invalid_hotwallet)?])
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(AccountId::from_address)
                    .ok_or_else(RpcError::invalid_hotwallet)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(RpcError::invalid_hotwallet()),
    };
    let selected = select_ledger(state, params)?;
    state
        .account_at(selected.index, &account)
        .ok_or_else(RpcError::act_not_found)?;

    let mut balances: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut frozen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut assets: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (_, _, item) in state.owner_directory_at(selected.index, &account) {
        let DirectoryItem::Line(line) = item else {
            continue;
        };
        let view = line.view_from(&account);
        let entry = |amount: super::amount::IouAmount| json!({ "currency": line.currency.as_str(), "value": amount.to_rippled_text() });
        // The peer's address only for the lines listed by holder (an issuer's plain holders,
        // nearly all of its lines, are only summed).
        let peer = || view.peer.to_address();
        if view.balance.is_positive() {
            assets.entry(peer()).or_default().push(entry(view.balance));
        } else if view.balance.is_negative() {
            if hot_wallets.contains(&view.peer) {
                balances
                    .entry(peer())
                    .or_default()
                    .push(entry(view.balance.negated()));
            } else if view.mine.freeze || view.peers.freeze {
                frozen
                    .entry(peer())
                    .or_default()
                    .push(entry(view.balance.negated()));
            }
        }
    }
    let obligations: Map<String, Value> = state
        .obligation_units_at(selected.index, &account, &hot_wallets)
        .into_iter()
        .map(|(currency, units)| {
            let total = super::amount::IouAmount::from_units_rounded(&units)
                .map(|a| a.to_rippled_text())
                .unwrap_or_else(|_| "9999999999999999e80".to_owned());
            (currency.as_str().to_owned(), json!(total))
        })
        .collect();

    let mut result = Map::new();
    result.insert("account".into(), json!(account.to_address()));
    if !obligations.is_empty() {
        result.insert("obligations".into(), Value::Object(obligations));
    }
    for (name, map) in [
        ("balances", balances),
        ("frozen_balances", frozen),
        ("assets", assets),
    ] {
        if !map.is_empty() {
            result.insert(name.into(), json!(map));
        }
    }
    put_ledger(state, selected, &mut result);
    Ok(result)
}

fn ledger(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let selected = select_ledger(state, params)?;
    let header = state
        .ledger(selected.index)
        .expect("selected ledgers exist");
    let mut result = Map::new();
    if selected.current {
        result.insert(
            "ledger".into(),
            json!({
                "closed": false,
                "ledger_index": selected.index.to_string(),
                "parent_hash": super::address::hex_upper(&header.parent_hash),
            }),
        );
    } else {
        result.insert(
            "ledger".into(),
            json!({
                "accepted": true,
                "close_time": header.close_time,
                "closed": true,
                "ledger_hash": header.hash_hex(),
                "ledger_index": selected.index.to_string(),
                "parent_close_time": header.close_time.saturating_sub(4),
                "parent_hash": super::address::hex_upper(&header.parent_hash),
                "seqNum": selected.index.to_string(),
            }),
        );
    }
    put_ledger(state, selected, &mut result);
    Ok(result)
}

/// `ledger_entry`, in its `mpt_issuance` form only (served by rippled and Clio alike): the
/// `MPTokenIssuance` object with `OutstandingAmount` as of the selected ledger. Optional fields
/// are omitted at their defaults, like rippled does.
fn ledger_entry(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let Some(field) = params.get("mpt_issuance") else {
        return Err(RpcError::invalid_params("No ledger_entry params provided."));
    };
    let id = field
        .as_str()
        .and_then(MptIssuanceId::from_hex)
        .ok_or_else(RpcError::malformed_request)?;
    let selected = select_ledger(state, params)?;
    let issuance = state
        .mpt_issuance(&id)
        .filter(|i| i.created_in <= selected.index)
        .ok_or_else(RpcError::entry_not_found)?;
    let sequence = u32::from_be_bytes(id.0[..4].try_into().expect("4 bytes"));
    let previous_txn =
        super::address::sha256_parts(&[b"tx", &id.0, &issuance.created_in.to_be_bytes()]);
    let index = issuance.index_hex();
    let mut node = Map::new();
    node.insert("Flags".into(), json!(issuance.flags));
    node.insert("Issuer".into(), json!(issuance.issuer.to_address()));
    node.insert("LedgerEntryType".into(), json!("MPTokenIssuance"));
    if issuance.asset_scale != 0 {
        node.insert("AssetScale".into(), json!(issuance.asset_scale));
    }
    if let Some(maximum) = issuance.maximum_amount {
        node.insert("MaximumAmount".into(), json!(maximum.to_string()));
    }
    node.insert(
        "OutstandingAmount".into(),
        json!(issuance.outstanding_at(selected.index).to_string()),
    );
    if issuance.locked_amount != 0 {
        node.insert(
            "LockedAmount".into(),
            json!(issuance.locked_amount.to_string()),
        );
    }
    if issuance.transfer_fee != 0 {
        node.insert("TransferFee".into(), json!(issuance.transfer_fee));
    }
    if let Some(metadata) = &issuance.metadata {
        node.insert("MPTokenMetadata".into(), json!(metadata));
    }
    node.insert("OwnerNode".into(), json!("0"));
    node.insert(
        "PreviousTxnID".into(),
        json!(super::address::hex_upper(&previous_txn)),
    );
    node.insert("PreviousTxnLgrSeq".into(), json!(issuance.created_in));
    node.insert("Sequence".into(), json!(sequence));
    node.insert("index".into(), json!(index));
    let mut result = Map::new();
    result.insert("index".into(), json!(index));
    result.insert("node".into(), Value::Object(node));
    put_ledger(state, selected, &mut result);
    Ok(result)
}

fn server_info(state: &XrplLedgerState) -> Map<String, Value> {
    let tip = state.ledger(state.tip()).expect("tip exists");
    let mut result = Map::new();
    result.insert(
        "info".into(),
        json!({
            "complete_ledgers": format!("{}-{}", state.oldest(), state.tip()),
            "load_factor": 1,
            "server_state": "full",
            "validated_ledger": { "hash": tip.hash_hex(), "seq": tip.index },
        }),
    );
    result
}

/// Clio `mpt_holders`: MPTokens sorted by holder account, the marker is the last account's hex.
fn mpt_holders(state: &XrplLedgerState, params: &Map<String, Value>) -> Reply {
    let id = match params.get("mpt_issuance_id") {
        None => {
            return Err(RpcError::invalid_params(
                "Required field 'mpt_issuance_id' missing",
            ));
        }
        Some(v) => v
            .as_str()
            .and_then(MptIssuanceId::from_hex)
            .ok_or_else(|| RpcError::invalid_params("mpt_issuance_idMalformed"))?,
    };
    if params.get("limit").and_then(Value::as_u64) == Some(0) {
        return Err(RpcError::invalid_params("Invalid parameters."));
    }
    let limit = read_limit(params, CLIO_LIMITS)?;
    let after = match params.get("marker") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(AccountId::from_hex)
                .ok_or_else(|| RpcError::invalid_params("markerMalformed"))?,
        ),
    };
    let selected = clio_ledger(state, params)?;
    let issuance = state
        .mpt_issuance(&id)
        .filter(|i| i.created_in <= selected)
        .ok_or_else(RpcError::object_not_found)?;
    let mut holders = issuance
        .holders_at(selected)
        .filter(|(account, _)| after.is_none_or(|a| *account > a))
        .peekable();
    let mut tokens = Vec::new();
    let mut last = None;
    while tokens.len() < limit {
        let Some((account, token)) = holders.next() else {
            break;
        };
        tokens.push(json!({
            "account": account.to_address(),
            "flags": token.flags,
            "mpt_amount": token.amount.to_string(),
            "mptoken_index": issuance.mptoken_index(&account),
        }));
        last = Some(account);
    }
    let mut result = Map::new();
    result.insert("mpt_issuance_id".into(), json!(id.to_hex()));
    result.insert("limit".into(), json!(limit));
    result.insert("ledger_index".into(), json!(selected));
    result.insert("mptokens".into(), Value::Array(tokens));
    if holders.peek().is_some()
        && let Some(last) = last
    {
        result.insert("marker".into(), json!(last.to_hex()));
    }
    result.insert("validated".into(), json!(true));
    Ok(result)
}

/// Clio serves validated data only: "current" is read as the newest validated ledger.
fn clio_ledger(
    state: &XrplLedgerState,
    params: &Map<String, Value>,
) -> Result<LedgerIndex, RpcError> {
    select_ledger(state, params).map(|s| s.index)
}

/// Clio `nfts_by_issuer`, answered the way Clio's database answers it: the issuer's NFT index
/// (every NFT it ever minted, in (taxon, id) order, optionally one taxon) is read `limit` rows at
/// a time after the marker; the page lists those rows whose NFT exists at the requested ledger
/// (burned ones included), and when the window was full the marker is its last row, listed or
/// not. So a window of NFTs minted after the requested ledger makes a short or empty page that
/// still links on, with a marker past the rows it read.
fn nfts_by_issuer(state: &XrplLedgerState, params: &Map<String, Value>, empty_page: bool) -> Reply {
    let issuer = required_account(params, "issuer")?;
    let taxon = match params.get("nft_taxon") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|t| u32::try_from(t).ok())
                .ok_or_else(|| RpcError::invalid_params("Invalid field 'nft_taxon'."))?,
        ),
    };
    if params.get("limit").and_then(Value::as_u64) == Some(0) {
        return Err(RpcError::invalid_params("Invalid parameters."));
    }
    let limit = read_limit(params, CLIO_LIMITS)?;
    let after = match params.get("marker") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(NftId::from_hex)
                .ok_or_else(|| RpcError::invalid_params("markerMalformed"))?,
        ),
    };
    let selected = clio_ledger(state, params)?;
    state
        .account_at(selected, &issuer)
        .ok_or_else(RpcError::act_not_found)?;
    let index = state.nft_index_of_issuer(&issuer, taxon);
    // Clio reads the rows after (taxon of the marker, marker), whether or not the marker's NFT
    // exists.
    let after_key = after.map(|marker| (marker.taxon(), marker));
    let start = after_key.map_or(0, |key| index.partition_point(|row| *row <= key));
    let rest = &index[start..];
    let mut result = Map::new();
    result.insert("issuer".into(), json!(issuer.to_address()));
    result.insert("limit".into(), json!(limit));
    result.insert("ledger_index".into(), json!(selected));
    if let Some(taxon) = taxon {
        result.insert("nft_taxon".into(), json!(taxon));
    }
    result.insert("validated".into(), json!(true));
    if empty_page && let Some(marker) = empty_window_end(state, selected, rest, after_key, limit) {
        result.insert("nfts".into(), json!([]));
        result.insert("marker".into(), json!(marker.to_hex()));
        return Ok(result);
    }
    let window = &rest[..rest.len().min(limit)];
    let nfts: Vec<Value> = window
        .iter()
        .filter_map(|(_, id)| state.nft_at(selected, id))
        .map(|nft| {
            json!({
                "nft_id": nft.id.to_hex(),
                "ledger_index": nft.changed_in,
                "owner": nft.owner.to_address(),
                "is_burned": nft.is_burned,
                "uri": nft.uri,
                "flags": nft.flags,
                "transfer_fee": nft.transfer_fee,
                "issuer": nft.issuer.to_address(),
                "nft_taxon": nft.taxon,
                "nft_serial": nft.serial,
            })
        })
        .collect();
    if window.len() == limit
        && let Some((_, last)) = window.last()
    {
        result.insert("marker".into(), json!(last.to_hex()));
    }
    result.insert("nfts".into(), Value::Array(nfts));
    Ok(result)
}

/// The marker of an injected empty `nfts_by_issuer` page: the end of a window of rows that hold
/// no NFT at `ledger`, taken from `rest` (the index rows after the request's marker, whose key
/// is `after`), so that the walk goes on exactly where the next listed NFT is.
///
/// That is the run of rows at the front of `rest` whose NFTs were minted after `ledger`, when
/// there is one (at most `limit` of them). Otherwise the server answers as if its index had one
/// such row just before the next NFT (an NFT minted after `ledger` that no later answer lists):
/// an id in the real layout, of the next NFT's issuer, flags, fee and taxon, with a serial the
/// issuer never used, that sorts between `after` and the next NFT. `None` when nothing is left
/// (the page is served as it is).
fn empty_window_end(
    state: &XrplLedgerState,
    ledger: LedgerIndex,
    rest: &[(u32, NftId)],
    after: Option<(u32, NftId)>,
    limit: usize,
) -> Option<NftId> {
    let invisible = rest
        .iter()
        .take(limit)
        .take_while(|(_, id)| state.nft_at(ledger, id).is_none())
        .count();
    if invisible > 0 {
        return Some(rest[invisible - 1].1);
    }
    let &(taxon, next) = rest.first()?;
    let nft = state.nft_at(ledger, &next)?;
    // Serials are handed out from 0 up, so ones near u32::MAX are free. Roughly one serial in
    // (NFTs of the taxon) sorts into a given gap; give up (and serve the page) after many.
    (0..1u32 << 22)
        .map(|k| u32::MAX - k)
        .map(|serial| NftId::new(nft.flags, nft.transfer_fee, &nft.issuer, taxon, serial))
        .find(|phantom| {
            let key = (taxon, *phantom);
            key < (taxon, next) && after.is_none_or(|a| a < key)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(state: &XrplLedgerState, method: &str, params: Value) -> Reply {
        let Value::Object(params) = params else {
            panic!("params must be an object")
        };
        let context = CallContext {
            kind: ServerKind::Rippled,
            empty_nft_page: false,
        };
        dispatch(state, context, method, &params)
    }

    /// Walks `nfts_by_issuer` at `ledger` like a client, with an injected empty page on every
    /// `empty_every`-th call: (ids listed, calls, empty pages that linked on).
    fn walk_nfts(
        state: &XrplLedgerState,
        issuer: &AccountId,
        ledger: LedgerIndex,
        (taxon, limit): (Option<u32>, u64),
        empty_every: Option<usize>,
    ) -> (Vec<String>, usize, usize) {
        let (mut seen, mut calls, mut empty) = (Vec::new(), 0, 0);
        let mut marker: Option<Value> = None;
        loop {
            calls += 1;
            assert!(calls < 10_000, "the walk ends");
            let mut params =
                json!({"issuer": issuer.to_address(), "ledger_index": ledger, "limit": limit});
            if let Some(t) = taxon {
                params["nft_taxon"] = json!(t);
            }
            if let Some(m) = &marker {
                params["marker"] = m.clone();
            }
            let Value::Object(params) = params else {
                unreachable!()
            };
            let context = CallContext {
                kind: ServerKind::Clio,
                empty_nft_page: empty_every.is_some_and(|n| calls % n == 0),
            };
            let page = dispatch(state, context, "nfts_by_issuer", &params).unwrap();
            let nfts = page["nfts"].as_array().unwrap();
            if nfts.is_empty() && page.contains_key("marker") {
                empty += 1;
            }
            seen.extend(
                nfts.iter()
                    .map(|n| n["nft_id"].as_str().unwrap().to_owned()),
            );
            match page.get("marker") {
                Some(next) => {
                    assert_ne!(Some(next), marker.as_ref(), "a marker never repeats");
                    marker = Some(next.clone());
                }
                None => break,
            }
        }
        (seen, calls, empty)
    }

    fn nft_ids(
        state: &XrplLedgerState,
        issuer: &AccountId,
        ledger: LedgerIndex,
        taxon: Option<u32>,
    ) -> Vec<String> {
        state
            .nfts_of_issuer_at(ledger, issuer, taxon)
            .iter()
            .map(|nft| nft.id.to_hex())
            .collect()
    }

    #[test]
    fn nfts_by_issuer_pages_past_later_mints_and_through_injected_empty_pages() {
        let mut state = XrplLedgerState::starting_at(100, 5);
        let issuer = state.new_issuer();
        let owner = state.new_account();
        for i in 0..120u32 {
            state.add_nft(issuer, owner, i % 3, 0);
        }
        let burned = state.add_nft(issuer, owner, 1, 0);
        state.burn_nft(burned).unwrap();
        let pinned = state.tip();
        state.advance_ledger();
        // In Clio's index but not at the pinned ledger: 45 among the taxon-1 rows, 15 at the end.
        for i in 0..60u32 {
            state.add_nft(issuer, owner, if i < 45 { 1 } else { 7 }, 0);
        }
        let expected = nft_ids(&state, &issuer, pinned, None);
        assert_eq!(expected.len(), 121, "burned NFTs are listed");

        let (seen, _, empty) = walk_nfts(&state, &issuer, pinned, (None, 10), None);
        assert_eq!(seen, expected);
        assert!(
            empty >= 1,
            "ten later taxon-7 rows make a page without NFTs that links on"
        );

        for (ledger, taxon, limit) in [
            (pinned, None, 10),
            (pinned, None, 100),
            (state.tip(), None, 7),
            (pinned, Some(1), 5),
            (state.tip(), Some(7), 1),
        ] {
            let expected = nft_ids(&state, &issuer, ledger, taxon);
            let (seen, calls, empty) = walk_nfts(&state, &issuer, ledger, (taxon, limit), Some(2));
            assert_eq!(
                seen, expected,
                "ledger {ledger}, taxon {taxon:?}, limit {limit}"
            );
            assert!(
                empty >= (calls - 1) / 2,
                "every second call but the last is empty: {empty} of {calls}"
            );
        }
    }

    #[test]
    fn ledger_entry_reads_an_mpt_issuance_as_of_the_selected_ledger() {
        let mut state = XrplLedgerState::starting_at(500, 3);
        let issuer = state.new_issuer();
        let before = state.tip();
        state.advance_ledger();
        let id = state.add_mpt_issuance(issuer, 2);
        let (a, b) = (state.new_account(), state.new_account());
        state.set_mpt_holder(id, a, 1_000).unwrap();
        state.set_mpt_holder(id, b, 250).unwrap();
        let created = state.tip();
        state.advance_ledger();
        state.set_mpt_holder(id, b, 750).unwrap();
        {
            let issuance = state.mpt_issuance_mut(&id).unwrap();
            issuance.flags = 0x20 | 0x40;
            issuance.maximum_amount = Some(1_000_000);
            issuance.locked_amount = 5;
            issuance.metadata = Some("7B7D".into());
        }
        let hex = id.to_hex();

        let at_created = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": hex, "ledger_index": created}),
        )
        .unwrap();
        assert_eq!(at_created["ledger_index"], json!(created));
        assert_eq!(at_created["validated"], json!(true));
        let node = &at_created["node"];
        assert_eq!(node["LedgerEntryType"], json!("MPTokenIssuance"));
        assert_eq!(node["Issuer"], json!(issuer.to_address()));
        assert_eq!(node["AssetScale"], json!(2));
        assert_eq!(
            node["OutstandingAmount"],
            json!("1255"),
            "1000 + 250 + 5 locked"
        );
        assert_eq!(node["LockedAmount"], json!("5"));
        assert_eq!(node["MaximumAmount"], json!("1000000"));
        assert_eq!(node["Flags"], json!(0x60));
        assert_eq!(node["MPTokenMetadata"], json!("7B7D"));
        assert_eq!(node["Sequence"], json!(1));
        assert!(node.get("TransferFee").is_none(), "omitted when 0");
        assert_eq!(at_created["index"], node["index"]);

        let latest = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": hex.to_ascii_lowercase(), "ledger_index": "validated"}),
        )
        .unwrap();
        assert_eq!(latest["ledger_index"], json!(state.tip()));
        assert_eq!(latest["node"]["OutstandingAmount"], json!("1755"));

        let missing = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": hex, "ledger_index": before}),
        )
        .unwrap_err();
        assert_eq!(missing.token, "entryNotFound");
        let other = MptIssuanceId::new(9, &issuer).to_hex();
        let missing = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": other, "ledger_index": "validated"}),
        )
        .unwrap_err();
        assert_eq!(missing.token, "entryNotFound");
        let malformed = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": "00FF", "ledger_index": "validated"}),
        )
        .unwrap_err();
        assert_eq!(malformed.token, "malformedRequest");
        let no_form =
            call(&state, "ledger_entry", json!({"ledger_index": "validated"})).unwrap_err();
        assert_eq!(no_form.token, "invalidParams");
    }

    #[test]
    fn ledger_entry_of_a_scale_zero_issuance_omits_asset_scale() {
        let mut state = XrplLedgerState::starting_at(10, 0);
        let issuer = state.new_issuer();
        let id = state.add_mpt_issuance(issuer, 0);
        let result = call(
            &state,
            "ledger_entry",
            json!({"mpt_issuance": id.to_hex(), "ledger_index": "validated"}),
        )
        .unwrap();
        assert!(result["node"].get("AssetScale").is_none());
        assert_eq!(result["node"]["OutstandingAmount"], json!("0"));
    }
}
