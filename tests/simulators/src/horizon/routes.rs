//! The routes and the JSON they answer: `GET /`, `GET /assets`, `GET /accounts` (asset filter),
//! `GET /accounts/{account_id}`, and Horizon's problem documents for everything else.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::server::Shared;
use super::state::{Account, Asset, AssetStats, Authorization, format_stroops};
use super::strkey::AccountId;

/// Horizon's default page size.
pub const DEFAULT_LIMIT: usize = 10;
/// Horizon's largest page size.
pub const MAX_LIMIT: usize = 200;

const HAL_JSON: &str = "application/hal+json; charset=utf-8";
const PROBLEM_JSON: &str = "application/problem+json; charset=utf-8";

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/assets", get(assets))
        .route("/accounts", get(accounts))
        .route("/accounts/{account_id}", get(account))
        .fallback(not_found_route)
        .with_state(shared)
}

/// A problem document (RFC 7807), as Horizon writes them.
pub fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: &str,
    extras: Option<Value>,
) -> Response {
    let mut body = json!({
        "type": format!("https://stellar.org/horizon-errors/{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(extras) = extras {
        body["extras"] = extras;
    }
    (
        status,
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// Horizon's 404.
pub fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "Resource Missing",
        "The resource at the url requested was not found.  This usually occurs for one of two \
         reasons:  The url requested is not valid, or no data in our database could be found with \
         the parameters provided.",
        None,
    )
}

/// Horizon's 400 for one bad query parameter.
pub fn bad_request(field: &str, reason: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "Bad Request",
        "The request you sent was invalid in some way.",
        Some(json!({"invalid_field": field, "reason": reason})),
    )
}

/// Horizon's 429.
pub fn rate_limit_exceeded() -> Response {
    problem(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Rate Limit Exceeded",
        "The rate limit for the requesting IP address is over its alloted limit.  The allowed \
         limit and requests left per time period are communicated to clients via the http \
         response headers 'X-RateLimit-*' headers.",
        None,
    )
}

/// A 200 HAL reply read from ledger `ledger` (the `Latest-Ledger` header).
fn hal(ledger: u32, body: Value) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HAL_JSON)],
        body.to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("latest-ledger", HeaderValue::from(ledger));
    response
}

/// `http://HOST`, from the request's `Host` header (Horizon builds its links from its own URL).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn param<'p>(params: &'p [(String, String)], key: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// `cursor`, `limit`, `order` of a collection request.
struct PageQuery {
    cursor: Option<String>,
    limit: usize,
    descending: bool,
}

impl PageQuery {
    /// The page parameters, or the `(invalid_field, reason)` of a 400.
    fn parse(params: &[(String, String)]) -> Result<Self, (&'static str, String)> {
        let limit = match param(params, "limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<i64>() {
                Err(_) => return Err(("limit", "unparseable value".into())),
                Ok(n) if n <= 0 => {
                    return Err(("limit", "invalid limit: non-positive value provided".into()));
                }
                Ok(n) if n as usize > MAX_LIMIT => {
                    return Err((
                        "limit",
                        format!(
                            "invalid limit: value provided that is over limit max of {MAX_LIMIT}"
                        ),
                    ));
                }
                Ok(n) => n as usize,
            },
        };
        let descending = match param(params, "order") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(("order", "order: invalid value, expected asc or desc".into()));
            }
        };
        Ok(Self {
            cursor: param(params, "cursor").map(str::to_string),
            limit,
            descending,
        })
    }

    fn order(&self, reverse: bool) -> &'static str {
        if self.descending != reverse {
            "desc"
        } else {
            "asc"
        }
    }
}

/// A collection page: `_links` self/next/prev and `_embedded.records`. `tokens` are the paging
/// tokens of the first and last record.
fn collection(
    base: &str,
    path: &str,
    filters: &[(&str, &str)],
    page: &PageQuery,
    records: Vec<Value>,
    tokens: Option<(String, String)>,
) -> Value {
    let link = |cursor: &str, reverse: bool| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters {
            query.append_pair(k, v);
        }
        query.append_pair("cursor", cursor);
        query.append_pair("limit", &page.limit.to_string());
        query.append_pair("order", page.order(reverse));
        json!({"href": format!("{base}{path}?{}", query.finish())})
    };
    let here = page.cursor.clone().unwrap_or_default();
    let (first, last) = tokens.unwrap_or_else(|| (here.clone(), here.clone()));
    json!({
        "_links": {
            "self": link(&here, false),
            "next": link(&last, false),
            "prev": link(&first, true),
        },
        "_embedded": {"records": records},
    })
}

async fn root(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.count_route("root");
    let base = base_url(&headers);
    let state = shared.state.read().expect("state lock poisoned");
    let ledger = state.ledger();
    let templated = |path: &str| json!({"href": format!("{base}{path}"), "templated": true});
    let body = json!({
        "_links": {
            "account": templated("/accounts/{account_id}"),
            "accounts": templated("/accounts{?signer,sponsor,asset,liquidity_pool,cursor,limit,order}"),
            "account_transactions": templated("/accounts/{account_id}/transactions{?cursor,limit,order}"),
            "assets": templated("/assets{?asset_code,asset_issuer,cursor,limit,order}"),
            "ledger": templated("/ledgers/{sequence}"),
            "ledgers": templated("/ledgers{?cursor,limit,order}"),
            "self": {"href": format!("{base}/")},
        },
        "horizon_version": "ledger-simulators horizon",
        "core_version": "stellar-core (simulated)",
        "ingest_latest_ledger": ledger,
        "history_latest_ledger": ledger,
        "history_latest_ledger_closed_at": rfc3339(state.closed_at()),
        "history_elder_ledger": 2,
        "core_latest_ledger": ledger,
        "network_passphrase": state.network_passphrase(),
        "current_protocol_version": 22,
        "supported_protocol_version": 22,
        "core_supported_protocol_version": 22,
    });
    hal(ledger, body)
}

async fn assets(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    shared.count_route("assets");
    let params = params(query.as_deref());
    let page = match PageQuery::parse(&params) {
        Ok(p) => p,
        Err((field, reason)) => return bad_request(field, &reason),
    };
    let code = param(&params, "asset_code");
    if let Some(code) = code
        && (code.len() > 12 || !code.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return bad_request("asset_code", "not a valid asset code");
    }
    let issuer = param(&params, "asset_issuer");
    if let Some(issuer) = issuer
        && AccountId::parse(issuer).is_none()
    {
        return bad_request(
            "asset_issuer",
            "Account ID must start with `G` and contain 56 alphanum characters",
        );
    }
    let base = base_url(&headers);
    let state = shared.state.read().expect("state lock poisoned");
    let mut matching = state.assets_matching(code, issuer);
    if page.descending {
        matching.reverse();
    }
    let selected: Vec<Asset> = matching
        .into_iter()
        .filter(|a| match &page.cursor {
            None => true,
            Some(c) if page.descending => a.paging_token() < *c,
            Some(c) => a.paging_token() > *c,
        })
        .take(page.limit)
        .collect();
    let tokens = selected
        .first()
        .zip(selected.last())
        .map(|(f, l)| (f.paging_token(), l.paging_token()));
    let records = selected
        .iter()
        .map(|a| asset_record(a, &state.asset_stats(a).expect("a listed asset")))
        .collect();
    let mut filters = Vec::new();
    if let Some(c) = code {
        filters.push(("asset_code", c));
    }
    if let Some(i) = issuer {
        filters.push(("asset_issuer", i));
    }
    let body = collection(&base, "/assets", &filters, &page, records, tokens);
    hal(state.ledger(), body)
}

fn asset_record(asset: &Asset, stats: &AssetStats) -> Value {
    let s = &stats.settings;
    json!({
        "_links": {"toml": {"href": ""}},
        "asset_type": asset.asset_type(),
        "asset_code": asset.code,
        "asset_issuer": asset.issuer,
        "paging_token": asset.paging_token(),
        "num_claimable_balances": i32::from(s.claimable_balances != 0),
        "num_liquidity_pools": i32::from(s.liquidity_pools != 0),
        "num_contracts": i32::from(s.contracts != 0),
        "accounts": {
            "authorized": stats.accounts_authorized,
            "authorized_to_maintain_liabilities": stats.accounts_authorized_to_maintain_liabilities,
            "unauthorized": stats.accounts_unauthorized,
        },
        "claimable_balances_amount": format_stroops(i128::from(s.claimable_balances)),
        "liquidity_pools_amount": format_stroops(i128::from(s.liquidity_pools)),
        "contracts_amount": format_stroops(i128::from(s.contracts)),
        "balances": {
            "authorized": format_stroops(stats.balance_authorized),
            "authorized_to_maintain_liabilities": format_stroops(stats.balance_authorized_to_maintain_liabilities),
            "unauthorized": format_stroops(stats.balance_unauthorized),
        },
        "flags": {
            "auth_required": s.auth_required,
            "auth_revocable": s.auth_revocable,
            "auth_immutable": s.auth_immutable,
            "auth_clawback_enabled": s.auth_clawback_enabled,
        },
    })
}

/// The filters `/accounts` takes; Horizon requires exactly one.
const ACCOUNT_FILTERS: &[&str] = &["signer", "sponsor", "asset", "liquidity_pool"];

async fn accounts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    shared.count_route("accounts");
    let params = params(query.as_deref());
    let page = match PageQuery::parse(&params) {
        Ok(p) => p,
        Err((field, reason)) => return bad_request(field, &reason),
    };
    let given: Vec<&str> = ACCOUNT_FILTERS
        .iter()
        .copied()
        .filter(|f| param(&params, f).is_some())
        .collect();
    if given.len() != 1 {
        return bad_request(
            "signer, sponsor, asset, liquidity_pool",
            "Exactly one filter is required. Please ensure that you are including a signer, \
             sponsor, asset, or liquidity pool filter.",
        );
    }
    let Some(asset_text) = param(&params, "asset") else {
        return bad_request(given[0], "the simulator implements only the asset filter");
    };
    if asset_text == "native" {
        return bad_request("asset", "native asset is not allowed");
    }
    let Some((code, issuer)) = asset_text.split_once(':') else {
        return bad_request("asset", "Value must be of the form CODE:ISSUER");
    };
    let asset = match Asset::new(code, issuer) {
        Ok(a) => a,
        Err(reason) => return bad_request("asset", &reason),
    };
    let base = base_url(&headers);
    let state = shared.state.read().expect("state lock poisoned");
    let selected =
        state.accounts_trusting(&asset, page.cursor.as_deref(), page.descending, page.limit);
    let tokens = selected
        .first()
        .zip(selected.last())
        .map(|(f, l)| (f.0.clone(), l.0.clone()));
    let records = selected
        .iter()
        .map(|(id, a)| account_record(&base, id, a))
        .collect();
    let asset_text = asset.to_string();
    let body = collection(
        &base,
        "/accounts",
        &[("asset", &asset_text)],
        &page,
        records,
        tokens,
    );
    hal(state.ledger(), body)
}

async fn account(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Response {
    shared.count_route("account");
    if AccountId::parse(&account_id).is_none() {
        return bad_request(
            "account_id",
            "Account ID must start with `G` and contain 56 alphanum characters",
        );
    }
    let base = base_url(&headers);
    let state = shared.state.read().expect("state lock poisoned");
    match state.account(&account_id) {
        Some(a) => hal(state.ledger(), account_record(&base, &account_id, a)),
        None => not_found(),
    }
}

async fn not_found_route(State(shared): State<Arc<Shared>>) -> Response {
    shared.count_route("not_found");
    not_found()
}

/// An account resource: trust lines (in asset order), then the native balance last, as Horizon
/// lists them.
fn account_record(base: &str, id: &str, account: &Account) -> Value {
    let mut balances: Vec<Value> = account
        .trust_lines
        .iter()
        .map(|(asset, line)| {
            let (authorized, maintain) = match line.authorization {
                Authorization::Authorized => (true, true),
                Authorization::AuthorizedToMaintainLiabilities => (false, true),
                Authorization::Unauthorized => (false, false),
            };
            let mut entry = json!({
                "balance": format_stroops(i128::from(line.balance)),
                "limit": format_stroops(i128::from(line.limit)),
                "buying_liabilities": "0.0000000",
                "selling_liabilities": "0.0000000",
                "last_modified_ledger": line.last_modified_ledger,
                "is_authorized": authorized,
                "is_authorized_to_maintain_liabilities": maintain,
                "asset_type": asset.asset_type(),
                "asset_code": asset.code,
                "asset_issuer": asset.issuer,
            });
            // Horizon sets the clawback flag only on trust lines that have it.
            if line.clawback_enabled {
                entry["is_clawback_enabled"] = json!(true);
            }
            entry
        })
        .collect();
    balances.push(json!({
        "balance": format_stroops(i128::from(account.native)),
        "buying_liabilities": "0.0000000",
        "selling_liabilities": "0.0000000",
        "asset_type": "native",
    }));
    let link =
        |path: &str| json!({"href": format!("{base}/accounts/{id}{path}"), "templated": true});
    json!({
        "_links": {
            "self": {"href": format!("{base}/accounts/{id}")},
            "transactions": link("/transactions{?cursor,limit,order}"),
            "operations": link("/operations{?cursor,limit,order}"),
            "payments": link("/payments{?cursor,limit,order}"),
            "effects": link("/effects{?cursor,limit,order}"),
            "offers": link("/offers{?cursor,limit,order}"),
            "trades": link("/trades{?cursor,limit,order}"),
            "data": link("/data/{key}"),
        },
        "id": id,
        "account_id": id,
        "sequence": account.sequence.to_string(),
        "subentry_count": account.trust_lines.len(),
        "last_modified_ledger": account.last_modified_ledger,
        "last_modified_time": rfc3339(1_700_000_000),
        "thresholds": {"low_threshold": 0, "med_threshold": 0, "high_threshold": 0},
        "flags": {"auth_required": false, "auth_revocable": false, "auth_immutable": false, "auth_clawback_enabled": false},
        "balances": balances,
        "signers": [{"weight": 1, "key": id, "type": "ed25519_public_key"}],
        "data": {},
        "num_sponsoring": 0,
        "num_sponsored": 0,
        "paging_token": id,
    })
}

/// Unix seconds as RFC 3339 UTC (`2023-11-14T22:13:20Z`).
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::horizon::HorizonState;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn an_account_lists_its_trust_lines_then_the_native_balance() {
        let mut state = HorizonState::new();
        let asset = state.new_asset("USDC");
        let holder = state.new_account();
        state.set_balance(&holder, &asset, i64::MAX);
        let record = account_record("http://h", &holder, state.account(&holder).unwrap());
        let balances = record["balances"].as_array().unwrap();
        assert_eq!(balances[0]["balance"], "922337203685.4775807");
        assert_eq!(balances[0]["asset_code"], "USDC");
        assert_eq!(balances[0]["is_authorized"], true);
        assert!(balances[0].get("is_clawback_enabled").is_none());
        assert_eq!(balances[1]["asset_type"], "native");
        assert_eq!(record["paging_token"], holder.as_str());
    }
}
