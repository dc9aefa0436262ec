//! Query-string validation with the mirror node's error messages.
//!
//! The mirror node reports every problem at once: first the invalid values of known parameters
//! (in the order the parameters first appear), then the unknown parameters. Parameter names are
//! case-insensitive (`account.publicKey` works).

use super::ids::{EntityId, parse_timestamp};

/// A comparison operator of a filter (`gt:5`); no prefix means `eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Op {
    fn split(value: &str) -> Option<(Op, &str)> {
        let Some((prefix, rest)) = value.split_once(':') else {
            return Some((Op::Eq, value));
        };
        let op = match prefix {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            _ => return None,
        };
        Some((op, rest))
    }

    pub fn matches<T: Ord>(self, actual: &T, wanted: &T) -> bool {
        match self {
            Op::Eq => actual == wanted,
            Op::Ne => actual != wanted,
            Op::Gt => actual > wanted,
            Op::Gte => actual >= wanted,
            Op::Lt => actual < wanted,
            Op::Lte => actual <= wanted,
        }
    }
}

/// Sort order by account id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Page-size settings (`response.limit` in the mirror node's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    pub default: usize,
    pub max: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            default: 25,
            max: 100,
        }
    }
}

/// The collected 400 messages.
#[derive(Debug, Default)]
pub struct QueryErrors {
    invalid: Vec<String>,
    unknown: Vec<String>,
}

impl QueryErrors {
    fn invalid(&mut self, name: &str) {
        self.invalid.push(format!("Invalid parameter: {name}"));
    }

    fn unknown(&mut self, name: &str) {
        self.unknown
            .push(format!("Unknown query parameter: {name}"));
    }

    pub fn is_empty(&self) -> bool {
        self.invalid.is_empty() && self.unknown.is_empty()
    }

    /// Messages in the mirror node's order.
    pub fn into_messages(self) -> Vec<String> {
        self.invalid.into_iter().chain(self.unknown).collect()
    }
}

/// Decodes a raw query into (lower-cased name, value) pairs, in order, repeats kept.
pub fn parse_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|raw| {
        form_urlencoded::parse(raw.as_bytes())
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| (name.to_ascii_lowercase(), value.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

/// A validated `/tokens/{id}/balances` query.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancesQuery {
    pub account_ids: Vec<(Op, u64)>,
    pub balances: Vec<(Op, i64)>,
    pub public_key: Option<String>,
    /// Inclusive nanosecond range, when `timestamp` is given (`eq` means "at or before").
    pub timestamp: Option<(u64, u64)>,
    pub order: Order,
    pub limit: usize,
}

impl BalancesQuery {
    pub fn parse(raw: Option<&str>, limits: LimitConfig) -> Result<Self, QueryErrors> {
        let mut errors = QueryErrors::default();
        let mut query = Self {
            account_ids: Vec::new(),
            balances: Vec::new(),
            public_key: None,
            timestamp: None,
            order: Order::Desc,
            limit: limits.default,
        };
        let mut timestamps = Vec::new();
        for (name, value) in parse_pairs(raw) {
            match name.as_str() {
                "account.id" => match Op::split(&value)
                    .filter(|(op, _)| *op != Op::Ne)
                    .and_then(|(op, v)| Some((op, EntityId::parse(v)?.encoded())))
                {
                    Some(filter) => query.account_ids.push(filter),
                    None => errors.invalid(&name),
                },
                "account.balance" => match Op::split(&value)
                    .filter(|(op, _)| *op != Op::Ne)
                    .and_then(|(op, v)| Some((op, parse_non_negative_i64(v)?)))
                {
                    Some(filter) => query.balances.push(filter),
                    None => errors.invalid(&name),
                },
                "account.publickey" => match Op::split(&value)
                    .filter(|(op, _)| *op == Op::Eq)
                    .and_then(|(_, v)| normalize_public_key(v))
                {
                    Some(key) => query.public_key = Some(key),
                    None => errors.invalid(&name),
                },
                "timestamp" => match Op::split(&value)
                    .filter(|(op, _)| *op != Op::Ne)
                    .and_then(|(op, v)| Some((op, parse_timestamp(v)?)))
                {
                    Some(filter) => timestamps.push(filter),
                    None => errors.invalid(&name),
                },
                "order" => match value.to_ascii_lowercase().as_str() {
                    "asc" => query.order = Order::Asc,
                    "desc" => query.order = Order::Desc,
                    _ => errors.invalid(&name),
                },
                "limit" => match value.parse::<usize>() {
                    // Over-max limits are silently clamped, as the mirror node does.
                    Ok(limit) if limit > 0 => query.limit = limit.min(limits.max),
                    _ => errors.invalid(&name),
                },
                _ => errors.unknown(&name),
            }
        }
        if !timestamps.is_empty() {
            query.timestamp = Some(timestamp_range(&timestamps));
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }

    /// The inclusive account range the `account.id` filters allow (for index range scans);
    /// `None` when they contradict each other.
    pub fn account_range(&self) -> Option<(u64, u64)> {
        let (mut low, mut high) = (0u64, u64::MAX);
        for &(op, id) in &self.account_ids {
            match op {
                Op::Eq => {
                    low = low.max(id);
                    high = high.min(id);
                }
                Op::Gt => low = low.max(id.checked_add(1)?),
                Op::Gte => low = low.max(id),
                Op::Lt => high = high.min(id.checked_sub(1)?),
                Op::Lte => high = high.min(id),
                Op::Ne => {}
            }
        }
        (low <= high).then_some((low, high))
    }

    /// Whether a row passes the balance filters.
    pub fn balance_matches(&self, balance: i64) -> bool {
        self.balances
            .iter()
            .all(|(op, wanted)| op.matches(&balance, wanted))
    }
}

/// The timestamp filters of the token-info route: only `eq`/`lt`/`lte` are valid, and the last
/// one wins (with `eq` read as "at or before"). Returns the inclusive upper bound.
pub fn parse_token_info_query(raw: Option<&str>) -> Result<Option<u64>, QueryErrors> {
    let mut errors = QueryErrors::default();
    let mut at = None;
    for (name, value) in parse_pairs(raw) {
        if name != "timestamp" {
            errors.unknown(&name);
            continue;
        }
        match Op::split(&value).and_then(|(op, v)| Some((op, parse_timestamp(v)?))) {
            Some((Op::Eq | Op::Lte, t)) => at = Some(t),
            Some((Op::Lt, t)) if t > 0 => at = Some(t - 1),
            _ => errors.invalid(&name),
        }
    }
    if errors.is_empty() {
        Ok(at)
    } else {
        Err(errors)
    }
}

/// Intersects timestamp filters into an inclusive range (possibly empty: low > high).
fn timestamp_range(filters: &[(Op, u64)]) -> (u64, u64) {
    let (mut low, mut high) = (0u64, u64::MAX);
    for &(op, t) in filters {
        match op {
            Op::Eq | Op::Lte => high = high.min(t),
            Op::Lt => high = high.min(t.saturating_sub(1)),
            Op::Gt => low = low.max(t.saturating_add(1)),
            Op::Gte => low = low.max(t),
            Op::Ne => {}
        }
    }
    (low, high)
}

fn parse_non_negative_i64(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// DER prefixes of ED25519 and ECDSA(secp256k1) public keys; the mirror node stores raw keys.
const DER_PREFIXES: [&str; 2] = ["302a300506032b6570032100", "302d300706052b8104000a032200"];

/// Accepts a hex public key (optionally `0x`-prefixed or DER-encoded) and returns the raw key hex.
fn normalize_public_key(text: &str) -> Option<String> {
    let hex = text.strip_prefix("0x").unwrap_or(text).to_ascii_lowercase();
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let raw = DER_PREFIXES
        .iter()
        .find_map(|prefix| hex.strip_prefix(prefix))
        .unwrap_or(&hex);
    matches!(raw.len(), 64 | 66).then(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_limit_and_orders_errors() {
        let q = BalancesQuery::parse(Some("limit=1000&order=ASC"), LimitConfig::default()).unwrap();
        assert_eq!((q.limit, q.order), (100, Order::Asc));
        let errors = BalancesQuery::parse(Some("slot=1&limit=0"), LimitConfig::default())
            .unwrap_err()
            .into_messages();
        assert_eq!(
            errors,
            ["Invalid parameter: limit", "Unknown query parameter: slot"]
        );
    }

    #[test]
    fn account_range_intersects_filters() {
        let q = BalancesQuery::parse(
            Some("account.id=gte:0.0.18&account.id=lt:21"),
            LimitConfig::default(),
        )
        .unwrap();
        assert_eq!(q.account_range(), Some((18, 20)));
        let q = BalancesQuery::parse(
            Some("account.id=gt:5&account.id=lt:6"),
            LimitConfig::default(),
        )
        .unwrap();
        assert_eq!(q.account_range(), None);
    }
}
