//! The REST routes: `GET /api/v1/tokens/{id}` and `GET /api/v1/tokens/{id}/balances`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};

use super::ids::{EntityId, format_timestamp};
use super::query::{BalancesQuery, LimitConfig, Order, parse_pairs, parse_token_info_query};
use super::state::{FixedFee, MirrorState, SharedState, TokenType};

/// What the handlers need.
pub(crate) struct RouteState {
    pub state: SharedState,
    pub limits: LimitConfig,
}

pub(crate) fn router(route_state: Arc<RouteState>) -> Router {
    Router::new()
        .route("/api/v1/tokens/{id}", get(token_info))
        .route("/api/v1/tokens/{id}/balances", get(token_balances))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, vec!["Not found".to_owned()]) })
        .with_state(route_state)
}

/// `{"_status":{"messages":[{"message":...}]}}` with the given status.
pub fn error_response(status: StatusCode, messages: Vec<String>) -> Response {
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|m| json!({ "message": m }))
        .collect();
    (status, Json(json!({ "_status": { "messages": messages } }))).into_response()
}

/// A 200 JSON reply with the route's `cache-control` (from the fixtures' responseHeaders.json).
fn ok_json(body: Value, cache_control: &'static str) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

fn invalid_token_id() -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        vec!["Invalid parameter: tokenid".to_owned()],
    )
}

async fn token_info(
    State(route_state): State<Arc<RouteState>>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let Some(token) = EntityId::parse_token_path(&id) else {
        return invalid_token_id();
    };
    let at = match parse_token_info_query(uri.query()) {
        Ok(at) => at.unwrap_or(u64::MAX),
        Err(errors) => return error_response(StatusCode::BAD_REQUEST, errors.into_messages()),
    };
    let state = route_state.state.read().expect("state lock poisoned");
    match render_token_info(&state, token, at) {
        Some(body) => ok_json(body, "public, max-age=5"),
        None => error_response(StatusCode::NOT_FOUND, vec!["Not found".to_owned()]),
    }
}

async fn token_balances(
    State(route_state): State<Arc<RouteState>>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let Some(token) = EntityId::parse_token_path(&id) else {
        return invalid_token_id();
    };
    let query = match BalancesQuery::parse(uri.query(), route_state.limits) {
        Ok(query) => query,
        Err(errors) => return error_response(StatusCode::BAD_REQUEST, errors.into_messages()),
    };
    let state = route_state.state.read().expect("state lock poisoned");
    let page = balances_page(&state, token, &query);
    let decimals = state.token(token).map(|t| t.decimals);
    let next = (query.limit > 0 && page.rows.len() == query.limit).then(|| {
        let last = page.rows.last().map(|&(account, _)| account).unwrap_or(0);
        next_link(uri.path(), uri.query(), query.order, last)
    });
    let balances: Vec<Value> = page
        .rows
        .iter()
        .map(|&(account, balance)| {
            json!({
                "account": EntityId::from_encoded(account).to_string(),
                // i64 straight into the JSON number: exact above 2^53.
                "balance": balance,
                "decimals": decimals,
            })
        })
        .collect();
    ok_json(
        json!({
            "timestamp": page.timestamp.map(format_timestamp),
            "balances": balances,
            "links": { "next": next },
        }),
        "public, max-age=1",
    )
}

/// One page of the balances route.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BalancesPage {
    /// The reply's `timestamp`: the snapshot time for historical queries, otherwise the newest
    /// `balance_timestamp` of the returned rows; `None` when no row is returned.
    pub timestamp: Option<u64>,
    /// (encoded account id, balance) in the requested order.
    pub rows: Vec<(u64, i64)>,
}

/// Runs a balances query against the state, the way the mirror node's SQL does.
pub fn balances_page(state: &MirrorState, token: EntityId, query: &BalancesQuery) -> BalancesPage {
    let Some((low, high)) = query.account_range() else {
        return BalancesPage::default();
    };
    let key_matches = |account: u64| match &query.public_key {
        Some(key) => state.public_key(account) == Some(key.as_str()),
        None => true,
    };
    match query.timestamp {
        None => {
            let Some(rows) = state.token_accounts(token) else {
                return BalancesPage::default();
            };
            let candidates = rows.range(low..=high);
            let selected: Vec<(u64, i64, u64)> = in_order(candidates, query.order)
                .filter(|(account, row)| {
                    row.associated && query.balance_matches(row.balance) && key_matches(**account)
                })
                .take(query.limit)
                .map(|(&account, row)| (account, row.balance, row.balance_timestamp))
                .collect();
            BalancesPage {
                timestamp: selected.iter().map(|&(_, _, at)| at).max(),
                rows: selected.into_iter().map(|(a, b, _)| (a, b)).collect(),
            }
        }
        Some((from, to)) => {
            let Some(snapshot_time) = state.snapshot_time_in(from..=to) else {
                return BalancesPage::default();
            };
            let token = token.encoded();
            let accounts = state.historical_accounts(token, low..=high);
            let rows: Vec<(u64, i64)> = in_order(accounts, query.order)
                .filter_map(|account| {
                    let balance = state.historical_balance(token, account, snapshot_time)?;
                    (query.balance_matches(balance) && key_matches(account))
                        .then_some((account, balance))
                })
                .take(query.limit)
                .collect();
            BalancesPage {
                timestamp: (!rows.is_empty()).then_some(snapshot_time),
                rows,
            }
        }
    }
}

fn in_order<'a, I>(iter: I, order: Order) -> Box<dyn Iterator<Item = I::Item> + 'a>
where
    I: DoubleEndedIterator + 'a,
{
    match order {
        Order::Asc => Box::new(iter),
        Order::Desc => Box::new(iter.rev()),
    }
}

/// The `links.next` of a full page: the request's path and query as received, with any
/// `account.id` bound in the paging direction replaced by one past the last row (so following
/// links does not grow the URL), appended at the end as the mirror node does.
pub fn next_link(path: &str, raw_query: Option<&str>, order: Order, last_account: u64) -> String {
    let (op, replaced): (&str, [&str; 2]) = match order {
        Order::Asc => ("gt", ["gt:", "gte:"]),
        Order::Desc => ("lt", ["lt:", "lte:"]),
    };
    let kept: Vec<&str> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|segment| {
            let decoded = parse_pairs(Some(segment));
            !matches!(decoded.as_slice(), [(name, value)]
                if name == "account.id" && replaced.iter().any(|p| value.starts_with(p)))
        })
        .collect();
    let bound = format!("account.id={op}:{}", EntityId::from_encoded(last_account));
    let query = kept.join("&");
    if query.is_empty() {
        format!("{path}?{bound}")
    } else {
        format!("{path}?{query}&{bound}")
    }
}

/// Token info as the mirror node renders it, for the versions in force at `at`.
pub fn render_token_info(state: &MirrorState, token_id: EntityId, at: u64) -> Option<Value> {
    let token = state.token_at(token_id, at)?;
    let entity = state.entity_at(token_id, at);
    let fees = state.custom_fees_at(token_id, at);
    let modified = entity
        .map_or(token.valid_from, |e| e.valid_from)
        .max(token.valid_from);
    let auto_renew_period = entity.and_then(|e| e.auto_renew_period);
    // Like the mirror node: an explicit expiry wins, else creation + auto-renew period.
    let expiry = entity.and_then(|e| e.expiration_timestamp).or_else(|| {
        let period = auto_renew_period?;
        i64::try_from(token.created_timestamp)
            .ok()?
            .checked_add(period.checked_mul(1_000_000_000)?)
    });
    let fixed_fees: Vec<Value> = fees
        .map(|f| f.fixed_fees.iter().map(render_fixed_fee).collect())
        .unwrap_or_default();
    let mut custom_fees = json!({
        "created_timestamp": fees.map(|f| format_timestamp(f.valid_from)),
        "fixed_fees": fixed_fees,
    });
    match token.token_type {
        TokenType::FungibleCommon => {
            let fractional: Vec<Value> = fees
                .into_iter()
                .flat_map(|f| &f.fractional_fees)
                .map(|fee| {
                    json!({
                        "all_collectors_are_exempt": fee.all_collectors_are_exempt,
                        "amount": { "numerator": fee.numerator, "denominator": fee.denominator },
                        "collector_account_id": fee.collector_account_id.map(|id| id.to_string()),
                        "denominating_token_id": token_id.to_string(),
                        "maximum": fee.maximum,
                        "minimum": fee.minimum,
                        "net_of_transfers": fee.net_of_transfers,
                    })
                })
                .collect();
            custom_fees["fractional_fees"] = Value::Array(fractional);
        }
        TokenType::NonFungibleUnique => {
            let royalty: Vec<Value> = fees
                .into_iter()
                .flat_map(|f| &f.royalty_fees)
                .map(|fee| {
                    json!({
                        "all_collectors_are_exempt": fee.all_collectors_are_exempt,
                        "amount": { "numerator": fee.numerator, "denominator": fee.denominator },
                        "collector_account_id": fee.collector_account_id.map(|id| id.to_string()),
                        "fallback_fee": fee.fallback_fee.as_ref().map(|f| json!({
                            "amount": f.amount,
                            "denominating_token_id": f.denominating_token_id.map(|id| id.to_string()),
                        })),
                    })
                })
                .collect();
            custom_fees["royalty_fees"] = Value::Array(royalty);
        }
    }
    Some(json!({
        "token_id": token_id.to_string(),
        "symbol": token.symbol,
        "name": token.name,
        "type": token.token_type.as_str(),
        "decimals": token.decimals.to_string(),
        "initial_supply": token.initial_supply.to_string(),
        "total_supply": token.total_supply.to_string(),
        "max_supply": token.max_supply.to_string(),
        "supply_type": token.supply_type,
        "freeze_default": token.freeze_default,
        "treasury_account_id": token.treasury_account_id.to_string(),
        "pause_status": token.pause_status,
        "admin_key": render_key(token.admin_key.as_deref()),
        "fee_schedule_key": render_key(token.fee_schedule_key.as_deref()),
        "freeze_key": render_key(token.freeze_key.as_deref()),
        "kyc_key": render_key(token.kyc_key.as_deref()),
        "pause_key": render_key(token.pause_key.as_deref()),
        "supply_key": render_key(token.supply_key.as_deref()),
        "wipe_key": render_key(token.wipe_key.as_deref()),
        "metadata_key": render_key(token.metadata_key.as_deref()),
        "metadata": base64::engine::general_purpose::STANDARD.encode(&token.metadata),
        "created_timestamp": format_timestamp(token.created_timestamp),
        "modified_timestamp": format_timestamp(modified),
        "memo": entity.map(|e| e.memo.clone()).unwrap_or_default(),
        "deleted": entity.and_then(|e| e.deleted),
        "auto_renew_account": entity
            .and_then(|e| e.auto_renew_account_id)
            .filter(|id| id.encoded() != 0)
            .map(|id| id.to_string()),
        "auto_renew_period": auto_renew_period,
        "expiry_timestamp": expiry,
        "custom_fees": custom_fees,
    }))
}

fn render_fixed_fee(fee: &FixedFee) -> Value {
    json!({
        "all_collectors_are_exempt": fee.all_collectors_are_exempt,
        "amount": fee.amount,
        "collector_account_id": fee.collector_account_id.map(|id| id.to_string()),
        "denominating_token_id": fee.denominating_token_id.map(|id| id.to_string()),
    })
}

/// Renders a protobuf `Key`: a bare ED25519 (field 2) or ECDSA secp256k1 (field 7) key is shown
/// by type; anything else (key lists, threshold keys, junk) as the raw protobuf bytes in hex.
fn render_key(bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    let (kind, key) = match bytes {
        [0x12, 32, key @ ..] if key.len() == 32 => ("ED25519", key),
        [0x3a, 33, key @ ..] if key.len() == 33 => ("ECDSA_SECP256K1", key),
        _ => ("ProtobufEncoded", bytes),
    };
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    json!({ "_type": kind, "key": hex })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_appends_or_replaces_the_bound() {
        assert_eq!(
            next_link(
                "/api/v1/tokens/1/balances",
                Some("limit=2&order=asc"),
                Order::Asc,
                19
            ),
            "/api/v1/tokens/1/balances?limit=2&order=asc&account.id=gt:0.0.19"
        );
        assert_eq!(
            next_link(
                "/p",
                Some("account.id=gt:0.0.19&limit=2&order=asc"),
                Order::Asc,
                25
            ),
            "/p?limit=2&order=asc&account.id=gt:0.0.25"
        );
        assert_eq!(
            next_link("/p", Some("account.id=gte:5"), Order::Desc, 9),
            "/p?account.id=gte:5&account.id=lt:0.0.9"
        );
        assert_eq!(
            next_link("/p", None, Order::Desc, 9),
            "/p?account.id=lt:0.0.9"
        );
    }

    #[test]
    fn renders_typed_keys() {
        let mut ed = vec![0x12, 32];
        ed.extend([0xab; 32]);
        assert_eq!(render_key(Some(&ed))["_type"], "ED25519");
        assert_eq!(render_key(Some(b"ab"))["key"], "6162");
        assert_eq!(render_key(None), Value::Null);
    }
}
