//! Loads the `setup` (database seed) of a mirror-node spec file into a [`MirrorState`].
//!
//! The seeds omit columns the upstream test harness fills with defaults; the defaults used here
//! are inferred from the recorded replies (see [`TokenRecord::fungible`]).

use anyhow::{Context, Result, anyhow};
use serde_json::Value;

use super::ids::EntityId;
use super::query::LimitConfig;
use super::state::{
    CustomFeeSchedule, EntityRecord, FixedFee, FractionalFee, MirrorState, RoyaltyFee,
    TokenAccount, TokenRecord,
};

/// The mirror node finds complete balance snapshots through the treasury account's rows.
const TREASURY_ACCOUNT: u64 = 2;

/// A loaded seed.
#[derive(Debug)]
pub struct Seed {
    pub state: MirrorState,
    /// `setup.config.response.limit`, when the spec overrides it.
    pub limits: Option<LimitConfig>,
}

/// Builds a state from a spec's `setup` object.
pub fn load_setup(setup: &Value) -> Result<Seed> {
    let mut state = MirrorState::new();
    for entity in array(setup, "accounts").chain(array(setup, "entities")) {
        state.add_entity(parse_entity(entity)?);
    }
    for token in array(setup, "tokens") {
        load_token(&mut state, token)?;
    }
    for row in array(setup, "tokenaccounts") {
        let token = entity_field(row, "token_id")?.context("token account without token_id")?;
        let account =
            entity_field(row, "account_id")?.context("token account without account_id")?;
        state.put_token_account(
            token,
            account,
            TokenAccount {
                balance: int(row, "balance")?.unwrap_or(0),
                balance_timestamp: uint(row, "balance_timestamp")?.unwrap_or(0),
                associated: row
                    .get("associated")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            },
        );
    }
    for row in array(setup, "balances") {
        let timestamp = uint(row, "timestamp")?.context("balance without timestamp")?;
        let account = EntityId::try_from_parts(
            0,
            uint(row, "realm_num")?.unwrap_or(0),
            uint(row, "id")?.context("balance without id")?,
        )
        .context("bad account id")?;
        let tokens = array(row, "tokens")
            .map(|t| {
                let token = EntityId::try_from_parts(
                    0,
                    uint(t, "token_realm")?.unwrap_or(0),
                    uint(t, "token_num")?.context("token balance without token_num")?,
                )
                .context("bad token id")?;
                Ok((token, account, int(t, "balance")?.unwrap_or(0)))
            })
            .collect::<Result<Vec<_>>>()?;
        let complete = account == EntityId::new(TREASURY_ACCOUNT);
        state.record_historical_balances(timestamp, complete, tokens);
    }
    let limits = setup
        .pointer("/config/response/limit")
        .map(|limit| {
            let defaults = LimitConfig::default();
            Ok::<_, anyhow::Error>(LimitConfig {
                default: uint(limit, "default")?.map_or(defaults.default, |v| v as usize),
                max: uint(limit, "max")?.map_or(defaults.max, |v| v as usize),
            })
        })
        .transpose()?;
    Ok(Seed { state, limits })
}

fn parse_entity(entity: &Value) -> Result<EntityRecord> {
    let id = EntityId::try_from_parts(
        uint(entity, "shard")?.unwrap_or(0),
        uint(entity, "realm")?.unwrap_or(0),
        uint(entity, "num")?.context("entity without num")?,
    )
    .context("bad entity id")?;
    Ok(EntityRecord {
        id,
        memo: entity
            .get("memo")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        // Upstream's default is "not deleted"; an explicit null stays null.
        deleted: match entity.get("deleted") {
            None => Some(false),
            Some(value) => value.as_bool(),
        },
        auto_renew_period: int(entity, "auto_renew_period")?,
        auto_renew_account_id: uint(entity, "auto_renew_account_id")?.map(EntityId::from_encoded),
        expiration_timestamp: int(entity, "expiration_timestamp")?,
        public_key: entity
            .get("public_key")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase),
        valid_from: range_start(entity)?.unwrap_or(0),
    })
}

fn load_token(state: &mut MirrorState, token: &Value) -> Result<()> {
    let token_id = entity_field(token, "token_id")?.context("token without token_id")?;
    let symbol = token.get("symbol").and_then(Value::as_str).unwrap_or("");
    let kind = token
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("FUNGIBLE_COMMON");
    let mut record = match kind {
        "FUNGIBLE_COMMON" => TokenRecord::fungible(token_id, symbol, 1000),
        "NON_FUNGIBLE_UNIQUE" => TokenRecord::non_fungible(token_id, symbol),
        other => return Err(anyhow!("unknown token type {other}")),
    };
    if let Some(name) = token.get("name").and_then(Value::as_str) {
        record.name = name.to_owned();
    }
    if let Some(decimals) = int(token, "decimals")? {
        record.decimals = decimals;
    }
    for (field, slot) in [
        ("initial_supply", &mut record.initial_supply),
        ("total_supply", &mut record.total_supply),
        ("max_supply", &mut record.max_supply),
    ] {
        if let Some(value) = int(token, field)? {
            *slot = value;
        }
    }
    if let Some(supply_type) = token.get("supply_type").and_then(Value::as_str) {
        record.supply_type = supply_type.to_owned();
    }
    if let Some(freeze_default) = token.get("freeze_default").and_then(Value::as_bool) {
        record.freeze_default = freeze_default;
    }
    if let Some(treasury) = entity_field(token, "treasury_account_id")? {
        record.treasury_account_id = treasury;
    }
    if let Some(status) = token.get("pause_status").and_then(Value::as_str) {
        record.pause_status = status.to_owned();
    }
    for (field, slot) in [
        ("admin_key", &mut record.admin_key),
        ("fee_schedule_key", &mut record.fee_schedule_key),
        ("freeze_key", &mut record.freeze_key),
        ("kyc_key", &mut record.kyc_key),
        ("pause_key", &mut record.pause_key),
        ("supply_key", &mut record.supply_key),
        ("wipe_key", &mut record.wipe_key),
        ("metadata_key", &mut record.metadata_key),
    ] {
        *slot = bytes(token.get(field));
    }
    record.metadata = bytes(token.get("metadata")).unwrap_or_default();
    record.created_timestamp = uint(token, "created_timestamp")?.unwrap_or(0);
    record.valid_from = range_start(token)?.unwrap_or(record.created_timestamp);
    for fees in array(token, "custom_fees") {
        let fee_token = entity_field(fees, "entity_id")?.unwrap_or(token_id);
        state.add_custom_fees(fee_token, parse_fee_schedule(fees)?);
    }
    state.add_token(record);
    Ok(())
}

fn parse_fee_schedule(fees: &Value) -> Result<CustomFeeSchedule> {
    let fixed = |fee: &Value| -> Result<FixedFee> {
        Ok(FixedFee {
            amount: int(fee, "amount")?.unwrap_or(0),
            collector_account_id: entity_field(fee, "collector_account_id")?,
            denominating_token_id: entity_field(fee, "denominating_token_id")?,
            all_collectors_are_exempt: flag(fee, "all_collectors_are_exempt"),
        })
    };
    Ok(CustomFeeSchedule {
        valid_from: range_start(fees)?.unwrap_or(0),
        fixed_fees: array(fees, "fixed_fees")
            .map(fixed)
            .collect::<Result<_>>()?,
        fractional_fees: array(fees, "fractional_fees")
            .map(|fee| {
                Ok(FractionalFee {
                    numerator: int(fee, "numerator")?.unwrap_or(0),
                    denominator: int(fee, "denominator")?.unwrap_or(1),
                    minimum: int(fee, "minimum_amount")?.unwrap_or(0),
                    maximum: int(fee, "maximum_amount")?,
                    net_of_transfers: flag(fee, "net_of_transfers"),
                    collector_account_id: entity_field(fee, "collector_account_id")?,
                    all_collectors_are_exempt: flag(fee, "all_collectors_are_exempt"),
                })
            })
            .collect::<Result<_>>()?,
        royalty_fees: array(fees, "royalty_fees")
            .map(|fee| {
                Ok(RoyaltyFee {
                    numerator: int(fee, "numerator")?.unwrap_or(0),
                    denominator: int(fee, "denominator")?.unwrap_or(1),
                    fallback_fee: fee.get("fallback_fee").map(fixed).transpose()?,
                    collector_account_id: entity_field(fee, "collector_account_id")?,
                    all_collectors_are_exempt: flag(fee, "all_collectors_are_exempt"),
                })
            })
            .collect::<Result<_>>()?,
    })
}

fn array<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn flag(value: &Value, field: &str) -> bool {
    value.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// An integer given as a JSON number or a decimal string (seeds use both).
fn int(value: &Value, field: &str) -> Result<Option<i64>> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).context(format!("{field}: not an i64")),
        Some(Value::String(s)) => Ok(Some(s.parse().context(format!("{field}: {s}"))?)),
        Some(other) => Err(anyhow!("{field}: unexpected {other}")),
    }
}

fn uint(value: &Value, field: &str) -> Result<Option<u64>> {
    int(value, field)?
        .map(|v| u64::try_from(v).context(format!("{field}: negative")))
        .transpose()
}

/// An entity id given as "shard.realm.num" or as an encoded integer.
fn entity_field(value: &Value, field: &str) -> Result<Option<EntityId>> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => EntityId::parse(s)
            .map(Some)
            .context(format!("{field}: bad entity id {s}")),
        Some(_) => Ok(uint(value, field)?.map(EntityId::from_encoded)),
    }
}

/// Bytes given as an array of numbers, or as a string taken as its UTF-8 bytes (which is what
/// the upstream harness does with key strings, hence the hex-of-ASCII keys in the replies).
fn bytes(value: Option<&Value>) -> Option<Vec<u8>> {
    match value? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect(),
        ),
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// The lower bound of a `timestamp_range` like `[123,)` or `[123,456)`.
fn range_start(value: &Value) -> Result<Option<u64>> {
    let Some(range) = value.get("timestamp_range").and_then(Value::as_str) else {
        return Ok(None);
    };
    let lower = range
        .trim_start_matches(['[', '('])
        .split(',')
        .next()
        .unwrap_or("");
    Ok(Some(
        lower.parse().context(format!("timestamp_range {range}"))?,
    ))
}
