//! The ledger's API: the URLs the plugin asks and the replies it reads.
//! Plain Rust, so `cargo test` checks it natively. Replace this module with
//! your ledger's API; the rest of the plugin barely changes.
//!
//! The example API has two routes:
//!
//! ```text
//! GET {endpoint}/tokens/{id}
//!   200 {"id": "TKN", "name": "Token", "symbol": "TKN", "decimals": 6,
//!        "total_supply": "1000000"}                 404 when unknown
//! GET {endpoint}/tokens/{id}/holders?limit=N[&at=P][&cursor=C]
//!   200 {"at": "P", "holders": [{"account": "a", "balance": "10"}, ...],
//!        "next": "C" | null, "total": 1234 | null}
//! ```
//!
//! `at` is the ledger point the page was read at: the first page (without
//! `at`) pins the latest one, every later page asks for it and must report
//! it back — that is what makes the snapshot consistent.

use serde::{Deserialize, Serialize};

/// Checks a token id before any request is made.
pub fn check_token_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a token id: use 1-64 letters, digits, `.`, `-` or `_`"
        ))
    }
}

/// `GET {endpoint}/tokens/{id}`.
pub fn token_url(endpoint: &str, id: &str) -> String {
    format!("{}/tokens/{id}", endpoint.trim_end_matches('/'))
}

/// `GET {endpoint}/tokens/{id}/holders`, one page.
pub fn holders_url(
    endpoint: &str,
    id: &str,
    limit: u32,
    at: Option<&str>,
    cursor: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/tokens/{id}/holders?limit={limit}",
        endpoint.trim_end_matches('/')
    );
    if let Some(at) = at {
        url.push_str("&at=");
        url.push_str(&encode(at));
    }
    if let Some(cursor) = cursor {
        url.push_str("&cursor=");
        url.push_str(&encode(cursor));
    }
    url
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The token route's reply.
#[derive(Debug, Deserialize)]
pub struct TokenReply {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub symbol: String,
    pub decimals: u32,
    /// Exact decimal text; never parse a balance or a supply as a float.
    pub total_supply: Option<String>,
}

/// One page of the holders route.
#[derive(Debug, Deserialize)]
pub struct HoldersPage {
    pub at: String,
    pub holders: Vec<HolderRow>,
    pub next: Option<String>,
    pub total: Option<u64>,
}

/// One holder row. Balances stay text end to end: the host adds them up
/// exactly.
#[derive(Debug, Deserialize)]
pub struct HolderRow {
    pub account: String,
    pub balance: String,
}

/// Where the walk is: handed back as `resume` after an interruption. It
/// holds the pinned point, so a resumed run reads the same snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub token: String,
    pub at: String,
    pub cursor: Option<String>,
    pub rows: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_checked_before_any_request() {
        assert!(check_token_id("TKN-1").is_ok());
        assert!(check_token_id("").is_err());
        assert!(check_token_id("a/b").is_err());
        assert!(check_token_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn page_urls_carry_the_pinned_point_and_the_cursor_encoded() {
        assert_eq!(
            holders_url("http://h/", "TKN", 100, None, None),
            "http://h/tokens/TKN/holders?limit=100"
        );
        assert_eq!(
            holders_url("http://h", "TKN", 5, Some("17"), Some("a b&c")),
            "http://h/tokens/TKN/holders?limit=5&at=17&cursor=a%20b%26c"
        );
    }

    #[test]
    fn a_page_parses_with_exact_balances() {
        let page: HoldersPage = serde_json::from_str(
            r#"{"at":"17","holders":[{"account":"a","balance":"18446744073709551617"}],"next":null,"total":1}"#,
        )
        .unwrap();
        assert_eq!(page.holders[0].balance, "18446744073709551617");
        assert_eq!(page.next, None);
    }
}
