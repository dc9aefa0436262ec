//! Token ids: classic Stellar assets `CODE:ISSUER`.
//!
//! The asset code is 1 to 12 ASCII letters or digits, case-sensitive (`usdc`
//! and `USDC` are different assets); codes of 1-4 characters are
//! `credit_alphanum4`, 5-12 `credit_alphanum12` (stellar-core refuses a
//! 12-type code shorter than 5). The issuer is a checked account id (see
//! [`crate::strkey`]). The native asset (XLM) has no issuer and is held by
//! every account, so Horizon cannot list its holders by asset: it is refused.

use std::fmt;

use crate::strkey::AccountId;

/// The syntax reminder appended to every token-id error.
pub const SYNTAX: &str = "expected `CODE:ISSUER`: an asset code of 1 to 12 letters or digits and the \
issuer's account id (G..., 56 characters), e.g. \
`USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN`";

/// Longest asset code (`credit_alphanum12`).
pub const MAX_CODE_LEN: usize = 12;

/// A checked classic asset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssetId {
    code: String,
    issuer: AccountId,
    issuer_text: String,
}

impl AssetId {
    /// Parses and checks `CODE:ISSUER` (surrounding whitespace ignored).
    /// Every error ends with [`SYNTAX`].
    pub fn parse(text: &str) -> Result<AssetId, String> {
        let text = text.trim();
        let with_syntax = |e: String| format!("{e}; {SYNTAX}");
        if text.eq_ignore_ascii_case("native") || text.eq_ignore_ascii_case("xlm") {
            return Err(with_syntax(format!(
                "{text:?} is the native asset (XLM), which every account holds: Horizon cannot \
                 list its holders by asset, so it is not supported"
            )));
        }
        let Some((code, issuer)) = text.split_once(':') else {
            return Err(with_syntax(if text.is_empty() {
                "the token id is empty".to_string()
            } else {
                format!("{text:?} has no `:` between the asset code and the issuer")
            }));
        };
        if issuer.contains(':') {
            return Err(with_syntax(format!("{text:?} has more than one `:`")));
        }
        check_code(code).map_err(with_syntax)?;
        let account = AccountId::parse(issuer)
            .map_err(|e| with_syntax(format!("the issuer is not a valid account id: {e}")))?;
        Ok(AssetId {
            code: code.to_string(),
            issuer: account,
            issuer_text: issuer.to_string(),
        })
    }

    /// The asset code, as written (codes are case-sensitive).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The issuer's account id (`G...`).
    pub fn issuer(&self) -> &str {
        &self.issuer_text
    }

    /// The issuer's decoded key.
    pub fn issuer_key(&self) -> &AccountId {
        &self.issuer
    }

    /// Horizon's `asset_type` of this asset.
    pub fn asset_type(&self) -> &'static str {
        if self.code.len() <= 4 {
            "credit_alphanum4"
        } else {
            "credit_alphanum12"
        }
    }
}

/// The canonical spelling, `CODE:ISSUER`, which is also Horizon's `asset`
/// query value.
impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code, self.issuer_text)
    }
}

fn check_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("the asset code is empty".into());
    }
    if let Some((i, c)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_alphanumeric())
    {
        return Err(format!(
            "asset code {code:?}: character {c:?} at position {} is not a letter or digit (A-Z, a-z, 0-9)",
            i + 1
        ));
    }
    if code.len() > MAX_CODE_LEN {
        return Err(format!(
            "asset code {code:?} has {} characters; the longest is {MAX_CODE_LEN}",
            code.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

    #[test]
    fn codes_of_1_to_12_characters_parse_with_their_asset_type() {
        for (code, kind) in [
            ("X", "credit_alphanum4"),
            ("USDC", "credit_alphanum4"),
            ("yXLM", "credit_alphanum4"),
            ("AQUA1", "credit_alphanum12"),
            ("ABCDEFGHIJ12", "credit_alphanum12"),
        ] {
            let a = AssetId::parse(&format!("  {code}:{ISSUER}\n")).unwrap();
            assert_eq!(a.code(), code);
            assert_eq!(a.issuer(), ISSUER);
            assert_eq!(a.asset_type(), kind);
            assert_eq!(a.to_string(), format!("{code}:{ISSUER}"));
        }
    }

    #[test]
    fn codes_are_case_sensitive() {
        let upper = AssetId::parse(&format!("USDC:{ISSUER}")).unwrap();
        let lower = AssetId::parse(&format!("usdc:{ISSUER}")).unwrap();
        assert_ne!(upper, lower);
    }

    #[test]
    fn malformed_ids_say_what_is_wrong_and_show_the_syntax() {
        let bad_checksum = format!("USDC:{}A", &ISSUER[..55]);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("USDC".into(), "no `:`"),
            (ISSUER.into(), "no `:`"),
            ("native".into(), "native asset"),
            ("XLM".into(), "native asset"),
            (format!(":{ISSUER}"), "asset code is empty"),
            (format!("ABCDEFGHIJ123:{ISSUER}"), "13 characters"),
            (format!("US-D:{ISSUER}"), "'-' at position 3"),
            (format!("USD€:{ISSUER}"), "not a letter or digit"),
            (format!("USD:{ISSUER}:x"), "more than one"),
            ("USD:".into(), "account id is empty"),
            (bad_checksum, "checksum"),
            (
                "USD:SBPQUZ6G4FZNWFHKUWC5BEYWF6R52E3SEP7R3GWYSM2XTKGF5LNTWW4R".into(),
                "secret seed",
            ),
        ];
        for (text, expected) in cases {
            let err = AssetId::parse(&text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.ends_with(SYNTAX), "{text:?}: {err}");
        }
    }

    // ----- properties: any text is parsed exactly or refused -----

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_code_and_key_round_trip(code in "[A-Za-z0-9]{1,12}", key: [u8; 32]) {
            let issuer = AccountId::from_public_key(key).encode();
            let text = format!("{code}:{issuer}");
            let asset = AssetId::parse(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(asset.code(), code.as_str());
            prop_assert_eq!(asset.issuer_key().public_key(), &key);
            prop_assert_eq!(asset.to_string(), text);
        }

        #[test]
        fn one_mistyped_issuer_character_is_refused(key: [u8; 32], at in 1usize..56, with in "[A-Z2-7]") {
            let issuer = AccountId::from_public_key(key).encode();
            prop_assume!(issuer[at..at + 1] != *with);
            let mut typo = issuer.clone();
            typo.replace_range(at..at + 1, &with);
            prop_assert!(AssetId::parse(&format!("USDC:{typo}")).is_err(), "{}", typo);
        }

        #[test]
        fn any_text_is_parsed_or_refused_with_the_syntax(
            text in prop_oneof![
                "[A-Za-z0-9:]{0,80}",
                "[A-Z0-9]{1,13}:G[A-Z2-7]{50,60}",
                any::<String>(),
            ]
        ) {
            match AssetId::parse(&text) {
                Ok(asset) => prop_assert_eq!(AssetId::parse(&asset.to_string()), Ok(asset)),
                Err(e) => prop_assert!(e.ends_with(SYNTAX), "{}: {}", text, e),
            }
        }
    }
}
