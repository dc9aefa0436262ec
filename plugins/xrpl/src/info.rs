//! `validate-token`: what the ledger says about a token, without holders.
//!
//! The token id is parsed (and every address checksummed) by the caller
//! before anything here runs, so a malformed id never reaches the network.
//!
//! - Issued token: `account_info` on the issuer (`actNotFound` → not found).
//!   A trust-line currency has no on-ledger record of its own, so the
//!   issuer's existence is what can be checked.
//! - MPT: `ledger_entry {mpt_issuance}`, which both rippled and Clio serve
//!   and which carries `AssetScale`, `OutstandingAmount` and the metadata.
//!   Only when the server does not know that `ledger_entry` form does it
//!   fall back to Clio `mpt_holders` (limit 1) to prove the issuance exists;
//!   the scale is then unknown (decimals 0, attribute `asset_scale` says so).
//! - NFT collection: Clio `nfts_by_issuer` (limit 1): the collection exists
//!   when the issuer has minted at least one NFT (of that taxon). The issuer
//!   account itself is not required: it may have been deleted while its
//!   NFTs live on.

use serde_json::{Map, Value, json};
use snapshot_plugin_sdk::{PluginError, TokenInfo, TokenKind};

use crate::rpc::{
    ACCOUNT_FLAGS, AccountInfo, LedgerSel, MPT_ISSUANCE_FLAGS, MptHolders, MptIssuanceEntry,
    NftsByIssuer, Reply,
};
use crate::token_id::{Currency, MptIssuanceId, TokenId};
use crate::walk::{self, CallError, Host, Options, mpt_entry_params, rpc_failure, typed};

/// Checks `token` exists (at ledger `at`, or the latest validated one) and
/// describes it.
pub fn validate(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    at: Option<u32>,
    opts: &Options,
) -> Result<TokenInfo, PluginError> {
    let ledger = at.map_or(LedgerSel::Validated, LedgerSel::Index);
    match token {
        TokenId::Issued { currency, issuer } => {
            let mut p = Map::new();
            p.insert("account".into(), json!(issuer.to_string()));
            p.insert("ledger_index".into(), ledger.to_json());
            let reply = checked(host, url, opts, "account_info", p, token, at)?;
            let info: AccountInfo = typed("account_info", &reply)?;
            Ok(issued_info(
                token,
                currency,
                issuer.to_string(),
                info.account_data.flags,
            ))
        }
        TokenId::Mpt(id) => mpt_info(host, url, token, id, ledger, at, opts),
        TokenId::Nft { issuer, taxon } => {
            let mut p = Map::new();
            p.insert("issuer".into(), json!(issuer.to_string()));
            if let Some(t) = taxon {
                p.insert("nft_taxon".into(), json!(t));
            }
            p.insert("ledger_index".into(), ledger.to_json());
            p.insert("limit".into(), json!(1));
            let reply = checked(host, url, opts, "nfts_by_issuer", p, token, at)?;
            let page: NftsByIssuer = typed("nfts_by_issuer", &reply)?;
            if page.nfts.is_empty() && page.marker.is_none() {
                return Err(PluginError::NotFound(format!(
                    "{issuer} has minted no NFTs{}",
                    taxon
                        .map(|t| format!(" with taxon {t}"))
                        .unwrap_or_default()
                )));
            }
            let mut attributes = vec![("issuer".to_string(), issuer.to_string())];
            if let Some(t) = taxon {
                attributes.push(("taxon".into(), t.to_string()));
            }
            Ok(TokenInfo {
                token_id: token.to_string(),
                name: String::new(),
                symbol: String::new(),
                decimals: 0,
                kind: TokenKind::NonFungible,
                total_supply: None,
                attributes,
            })
        }
    }
}

/// One call whose server error means what [`rpc_failure`] says.
fn checked(
    host: &mut dyn Host,
    url: &str,
    opts: &Options,
    method: &str,
    params: Map<String, Value>,
    token: &TokenId,
    at: Option<u32>,
) -> Result<Reply, PluginError> {
    match walk::call(host, url, opts, method, params) {
        Ok(reply) => Ok(reply),
        Err(CallError::Rpc(e)) => Err(rpc_failure(method, token, at, &e)),
        Err(CallError::Failed(e)) => Err(e),
    }
}

fn issued_info(token: &TokenId, currency: &Currency, issuer: String, flags: u32) -> TokenInfo {
    // Balances are already whole-token decimals: decimals 0.
    let name = currency.ascii_name().unwrap_or_default();
    let mut attributes = vec![
        ("issuer".to_string(), issuer),
        ("currency".to_string(), currency.to_string()),
        ("currency_hex".to_string(), currency.hex()),
    ];
    for (bit, flag) in ACCOUNT_FLAGS {
        if flags & bit != 0 {
            attributes.push((format!("issuer_{flag}"), "true".into()));
        }
    }
    TokenInfo {
        token_id: token.to_string(),
        name: name.clone(),
        symbol: name,
        decimals: 0,
        kind: TokenKind::Fungible,
        total_supply: None,
        attributes,
    }
}

fn mpt_info(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    id: &MptIssuanceId,
    ledger: LedgerSel,
    at: Option<u32>,
    opts: &Options,
) -> Result<TokenInfo, PluginError> {
    let issuer = id.issuer().to_string();
    let mut attributes = vec![
        ("issuer".to_string(), issuer.clone()),
        ("sequence".to_string(), id.sequence().to_string()),
    ];
    let entry = match walk::call(
        host,
        url,
        opts,
        "ledger_entry",
        mpt_entry_params(id, ledger),
    ) {
        Ok(reply) => Some(typed::<MptIssuanceEntry>("ledger_entry", &reply)?),
        // Servers that predate MPTs do not know this ledger_entry form.
        Err(CallError::Rpc(e))
            if e.is_unsupported()
                || matches!(e.error.as_str(), "invalidParams" | "unknownOption") =>
        {
            let mut p = Map::new();
            p.insert("mpt_issuance_id".into(), json!(id.to_string()));
            p.insert("ledger_index".into(), ledger.to_json());
            p.insert("limit".into(), json!(1));
            let reply = checked(host, url, opts, "mpt_holders", p, token, at)?;
            let _: MptHolders = typed("mpt_holders", &reply)?;
            attributes.push((
                "asset_scale".into(),
                format!("unknown (ledger_entry: {e}); balances are raw integer amounts"),
            ));
            None
        }
        Err(CallError::Rpc(e)) => return Err(rpc_failure("ledger_entry", token, at, &e)),
        Err(CallError::Failed(e)) => return Err(e),
    };
    let Some(entry) = entry else {
        return Ok(TokenInfo {
            token_id: token.to_string(),
            name: String::new(),
            symbol: String::new(),
            decimals: 0,
            kind: TokenKind::Fungible,
            total_supply: None,
            attributes,
        });
    };
    let node = entry.node;
    if let Some(node_issuer) = &node.issuer
        && *node_issuer != issuer
    {
        return Err(PluginError::Upstream(format!(
            "ledger_entry: issuance {id} names issuer {node_issuer}, its id says {issuer}"
        )));
    }
    let scale = node.asset_scale.unwrap_or(0);
    attributes.push(("asset_scale".into(), scale.to_string()));
    for (field, value) in [
        ("maximum_amount", &node.maximum_amount),
        ("outstanding_amount", &node.outstanding_amount),
        ("locked_amount", &node.locked_amount),
    ] {
        if let Some(v) = value {
            if !crate::amount::is_plain_unsigned_integer(v) {
                return Err(PluginError::Upstream(format!(
                    "ledger_entry: {field} {v:?} is not an unsigned integer"
                )));
            }
            attributes.push((field.into(), v.clone()));
        }
    }
    if let Some(fee) = node.transfer_fee {
        attributes.push(("transfer_fee".into(), fee.to_string()));
    }
    for (bit, flag) in MPT_ISSUANCE_FLAGS {
        if node.flags & bit != 0 {
            attributes.push((flag.to_string(), "true".into()));
        }
    }
    let (name, symbol) = node
        .metadata
        .as_deref()
        .map(metadata_names)
        .unwrap_or_default();
    Ok(TokenInfo {
        token_id: token.to_string(),
        name,
        symbol,
        decimals: u32::from(scale),
        kind: TokenKind::Fungible,
        total_supply: Some(node.outstanding_amount.unwrap_or_else(|| "0".into())),
        attributes,
    })
}

/// `(name, ticker)` from `MPTokenMetadata` when it is hex of an XLS-89 JSON
/// object (`name`/`n`, `ticker`/`t`); empty strings otherwise.
fn metadata_names(hex: &str) -> (String, String) {
    let bytes: Option<Vec<u8>> = hex
        .len()
        .is_multiple_of(2)
        .then(|| {
            hex.as_bytes()
                .chunks(2)
                .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
                .collect()
        })
        .flatten();
    let Some(Value::Object(m)) = bytes.and_then(|b| serde_json::from_slice(&b).ok()) else {
        return Default::default();
    };
    let text = |keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str))
            .map(|s| s.chars().take(128).collect())
            .unwrap_or_default()
    };
    (text(["name", "n"]), text(["ticker", "t"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xls89_metadata_gives_name_and_ticker() {
        let json = r#"{"ticker":"TBILL","name":"T-Bill Yield Token"}"#;
        let hex: String = json.bytes().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            metadata_names(&hex),
            ("T-Bill Yield Token".into(), "TBILL".into())
        );
        assert_eq!(metadata_names("ZZ"), (String::new(), String::new()));
        assert_eq!(metadata_names("00"), (String::new(), String::new()));
    }
}
