//! Mirror-node reply shapes, parsed exactly (balances as integers, never f64).

use serde::Deserialize;

/// `GET /api/v1/tokens/{id}`.
#[derive(Debug, Deserialize)]
pub struct TokenReply {
    pub token_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    /// A decimal string in the API (`"8"`).
    pub decimals: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub total_supply: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub pause_status: Option<String>,
    #[serde(default)]
    pub treasury_account_id: Option<String>,
}

/// `GET /api/v1/tokens/{id}/balances`.
#[derive(Debug, Deserialize)]
pub struct BalancesPage {
    /// The balance snapshot the page came from (`secs.nanos`); null when the
    /// page is empty.
    pub timestamp: Option<String>,
    pub balances: Vec<BalanceRow>,
    pub links: Links,
}

/// One holder row. `balance` is an int64 in the token's smallest unit.
#[derive(Debug, Deserialize)]
pub struct BalanceRow {
    pub account: String,
    pub balance: i64,
}

#[derive(Debug, Deserialize)]
pub struct Links {
    pub next: Option<String>,
}

/// `{"_status":{"messages":[{"message":"..."}]}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorReply {
    #[serde(rename = "_status")]
    pub status: ErrorStatus,
}

#[derive(Debug, Deserialize)]
pub struct ErrorStatus {
    pub messages: Vec<ErrorMessage>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorMessage {
    pub message: String,
}

/// The messages of an error body, joined; the raw body when it is not one.
pub fn error_text(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorReply>(body) {
        Ok(e) => e
            .status
            .messages
            .into_iter()
            .map(|m| m.message)
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/hedera/mirror-node-specs/tokens/id")
    }

    fn exchanges(file: &str) -> Vec<(u16, serde_json::Value)> {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fixtures().join(file)).unwrap()).unwrap();
        let mut out = Vec::new();
        if let Some(tests) = spec["tests"].as_array() {
            for t in tests {
                out.push((
                    t["responseStatus"].as_u64().unwrap() as u16,
                    t["responseJson"].clone(),
                ));
            }
        } else {
            out.push((
                spec["responseStatus"].as_u64().unwrap() as u16,
                spec["responseJson"].clone(),
            ));
        }
        out
    }

    #[test]
    fn every_recorded_balances_reply_parses() {
        let dir = fixtures().join("balances");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name == "responseHeaders.json" {
                continue;
            }
            for (status, body) in exchanges(&format!("balances/{name}")) {
                let bytes = serde_json::to_vec(&body).unwrap();
                if status == 200 {
                    let page: BalancesPage =
                        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(page.timestamp.is_none(), page.balances.is_empty(), "{name}");
                } else {
                    assert!(!error_text(&bytes).is_empty(), "{name}");
                }
                seen += 1;
            }
        }
        assert!(seen >= 15, "only {seen} exchanges found");
    }

    #[test]
    fn recorded_token_replies_parse_with_string_decimals() {
        for file in ["no-params.json", "non-fungible-unique-token-types.json"] {
            for (status, body) in exchanges(file) {
                assert_eq!(status, 200);
                let t: TokenReply = serde_json::from_value(body).unwrap();
                assert!(t.decimals.parse::<u32>().is_ok(), "{file}");
            }
        }
        let (status, body) = exchanges("not-found.json").remove(0);
        assert_eq!(status, 404);
        assert_eq!(error_text(&serde_json::to_vec(&body).unwrap()), "Not found");
    }

    #[test]
    fn balances_above_2_pow_53_stay_exact() {
        let page: BalancesPage = serde_json::from_str(
            r#"{"timestamp":"1.000000002","balances":[{"account":"0.0.7","balance":9223372036854775807,"decimals":2}],"links":{"next":null}}"#,
        )
        .unwrap();
        assert_eq!(page.balances[0].balance, i64::MAX);
    }

    // ----- properties: balances are parsed exactly, or the page is refused -----

    use proptest::prelude::*;

    /// A balance as a mirror node (or something posing as one) may write it.
    fn balance_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => any::<i64>().prop_map(|v| v.to_string()),
            1 => any::<i128>().prop_map(|v| v.to_string()),
            1 => any::<u64>().prop_map(|v| format!("{v}.0")),
            1 => (1u32..9, 0u32..30).prop_map(|(m, e)| format!("{m}e{e}")),
            1 => Just("9007199254740993".to_string()),
            1 => Just("\"5\"".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn balances_parse_exactly_or_the_page_is_refused(
            rows in proptest::collection::vec((any::<u64>(), balance_text()), 0..20)
        ) {
            let body = format!(
                r#"{{"timestamp":"1.000000001","balances":[{}],"links":{{"next":null}}}}"#,
                rows.iter()
                    .map(|(a, b)| format!(r#"{{"account":"0.0.{a}","balance":{b}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let exact: Option<Vec<i64>> = rows.iter().map(|(_, b)| b.parse::<i64>().ok()).collect();
            match (serde_json::from_str::<BalancesPage>(&body), exact) {
                (Ok(page), Some(expected)) => {
                    let got: Vec<i64> = page.balances.iter().map(|r| r.balance).collect();
                    prop_assert_eq!(got, expected);
                }
                (Err(_), None) => {}
                (Ok(page), None) => prop_assert!(false, "accepted a balance that is not an int64: {:?}", page),
                (Err(e), Some(_)) => prop_assert!(false, "refused int64 balances: {}", e),
            }
        }

        #[test]
        fn any_body_is_read_or_refused_without_a_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = serde_json::from_slice::<BalancesPage>(&body);
            let _ = serde_json::from_slice::<TokenReply>(&body);
            let text = error_text(&body);
            prop_assert!(text.len() <= 4 * 200 || serde_json::from_slice::<ErrorReply>(&body).is_ok());
        }
    }
}
