//! Seeds a state from recorded replies, so a simulator reply can be compared with the record.

use anyhow::{Context, Result};
use serde_json::Value;

use super::address::AccountId;
use super::amount::IouAmount;
use super::state::{Currency, LineSide, TrustLine, XrplLedgerState};

/// Adds the trust lines of a recorded `account_lines` `result` to `state` at its tip: the
/// queried account becomes each line's `issuer` side (so `balance`, `limit`, `no_ripple`... are
/// taken as they are, and the peer's settings from the `*_peer` fields). Returns the account.
pub fn load_account_lines(state: &mut XrplLedgerState, result: &Value) -> Result<AccountId> {
    let account = result["account"]
        .as_str()
        .and_then(AccountId::from_address)
        .context("result.account is not an address")?;
    for line in result["lines"].as_array().context("result.lines")? {
        let text = |field: &str| {
            line[field]
                .as_str()
                .with_context(|| format!("line.{field} is not a string"))
        };
        let flag = |field: &str| line[field].as_bool().unwrap_or(false);
        let quality = |field: &str| line[field].as_u64().unwrap_or(0) as u32;
        let peer = AccountId::from_address(text("account")?).context("line.account")?;
        state.insert_trust_line(TrustLine {
            issuer: account,
            holder: peer,
            currency: Currency::new(text("currency")?)?,
            balance: IouAmount::parse(text("balance")?)?,
            issuer_side: LineSide {
                limit: IouAmount::parse(text("limit")?)?,
                no_ripple: flag("no_ripple"),
                freeze: flag("freeze"),
                authorized: flag("authorized"),
                quality_in: quality("quality_in"),
                quality_out: quality("quality_out"),
            },
            holder_side: LineSide {
                limit: IouAmount::parse(text("limit_peer")?)?,
                no_ripple: flag("no_ripple_peer"),
                freeze: flag("freeze_peer"),
                authorized: flag("peer_authorized"),
                // account_lines shows only the queried account's qualities.
                quality_in: 0,
                quality_out: 0,
            },
        })?;
    }
    Ok(account)
}
