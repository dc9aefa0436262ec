//! Exact Stellar amounts.
//!
//! On the ledger every amount is an int64 count of stroops (10^-7 of a unit);
//! Horizon writes it as decimal text with exactly seven places
//! (`"123.4567890"`, largest `"922337203685.4775807"`). Amounts are read
//! into stroops with integer arithmetic only and written back with exactly
//! seven places, so no value is ever rounded, and anything that is not a
//! Stellar amount (a sign, an exponent, an eighth decimal, more than int64)
//! is refused rather than guessed at.

/// Stroops per unit.
pub const STROOPS_PER_UNIT: i64 = 10_000_000;

/// Decimal places of an amount.
pub const DECIMALS: usize = 7;

/// Reads Horizon's decimal text into stroops. Fewer than seven decimals (or
/// none) are accepted, as any reader of decimals would; a sign, an exponent,
/// an eighth place, or a value above int64 are not.
pub fn parse_stroops(text: &str) -> Result<i64, String> {
    let wide = parse_wide(text)?;
    i64::try_from(wide)
        .map_err(|_| format!("{text:?} is larger than a Stellar amount can be (int64 stroops)"))
}

/// [`parse_stroops`] for totals over many accounts (Horizon's asset
/// statistics), which may exceed int64: the ledger caps each balance, not
/// the sum of them.
pub fn parse_wide(text: &str) -> Result<i128, String> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(int) || frac.is_some_and(|f| !digits_only(f)) {
        return Err(format!(
            "{text:?} is not a Stellar amount (plain decimal digits with up to {DECIMALS} places)"
        ));
    }
    let frac = frac.unwrap_or("");
    if frac.len() > DECIMALS {
        return Err(format!(
            "{text:?} has {} decimal places; Stellar amounts have {DECIMALS}",
            frac.len()
        ));
    }
    let too_large = || format!("{text:?} is too large a total");
    let mut stroops: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        stroops = stroops
            .checked_mul(10)
            .and_then(|s| s.checked_add(i128::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    for _ in frac.len()..DECIMALS {
        stroops = stroops.checked_mul(10).ok_or_else(too_large)?;
    }
    Ok(stroops)
}

/// Writes stroops as a decimal with exactly seven places (`1` → `0.0000001`).
pub fn format_stroops(stroops: i64) -> String {
    format_wide(i128::from(stroops))
}

/// [`format_stroops`] for sums, which may exceed int64.
pub fn format_wide(stroops: i128) -> String {
    let sign = if stroops < 0 { "-" } else { "" };
    let abs = stroops.unsigned_abs();
    let unit = STROOPS_PER_UNIT as u128;
    format!("{sign}{}.{:07}", abs / unit, abs % unit)
}

/// Horizon's text normalised to exactly seven places.
pub fn normalize(text: &str) -> Result<String, String> {
    parse_stroops(text).map(format_stroops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_and_the_largest_amounts_are_exact() {
        assert_eq!(parse_stroops("0.0000001"), Ok(1));
        assert_eq!(parse_stroops("922337203685.4775807"), Ok(i64::MAX));
        assert_eq!(format_stroops(1), "0.0000001");
        assert_eq!(format_stroops(i64::MAX), "922337203685.4775807");
        assert_eq!(format_stroops(0), "0.0000000");
    }

    #[test]
    fn every_spelling_is_normalised_to_seven_places() {
        for (text, normal) in [
            ("123.4567890", "123.4567890"),
            ("123.456789", "123.4567890"),
            ("123.4", "123.4000000"),
            ("123", "123.0000000"),
            ("0", "0.0000000"),
            ("000.5000000", "0.5000000"),
            ("1000000.0000000", "1000000.0000000"),
        ] {
            assert_eq!(normalize(text).as_deref(), Ok(normal), "{text}");
        }
    }

    #[test]
    fn values_beyond_int64_and_non_amounts_are_refused() {
        for (text, why) in [
            ("922337203685.4775808", "larger"),
            ("922337203686", "larger"),
            ("99999999999999999999", "larger"),
            ("1.00000001", "8 decimal places"),
            ("-1.0000000", "not a Stellar amount"),
            ("+1.0000000", "not a Stellar amount"),
            ("1e7", "not a Stellar amount"),
            ("1.", "not a Stellar amount"),
            (".5", "not a Stellar amount"),
            ("", "not a Stellar amount"),
            ("1.0.0", "not a Stellar amount"),
            (" 1.0", "not a Stellar amount"),
            ("NaN", "not a Stellar amount"),
        ] {
            let err = parse_stroops(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn totals_wider_than_int64_are_read_and_written_exactly() {
        assert_eq!(
            parse_wide("2767011611056.4327421"),
            Ok(i128::from(i64::MAX) * 3)
        );
        assert!(
            parse_wide(&"9".repeat(40))
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_wide("-1").is_err());
        let sum = i128::from(i64::MAX) * 3;
        assert_eq!(format_wide(sum), "2767011611056.4327421");
    }

    #[test]
    fn sums_wider_than_int64_are_written_exactly() {
        let sum = i128::from(i64::MAX) * 3;
        assert_eq!(format_wide(sum), "2767011611056.4327421");
        assert_eq!(format_wide(-15), "-0.0000015");
    }

    #[test]
    fn parsing_and_formatting_round_trip() {
        for stroops in [
            0,
            1,
            9,
            10,
            9_999_999,
            10_000_000,
            123_456_789_012,
            i64::MAX,
        ] {
            assert_eq!(parse_stroops(&format_stroops(stroops)), Ok(stroops));
        }
    }

    // ----- properties: amounts are read exactly or refused -----

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_int64_of_stroops_round_trips(stroops in 0i64..=i64::MAX) {
            prop_assert_eq!(parse_stroops(&format_stroops(stroops)), Ok(stroops));
        }

        #[test]
        fn any_text_is_read_exactly_or_refused(
            text in prop_oneof!["[-+0-9.eE]{0,30}", any::<String>()]
        ) {
            if let Ok(wide) = parse_wide(&text) {
                // Plain digits with at most seven places, nothing else.
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'), "{}", text);
                let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
                let expected: u128 = format!("{int}{frac:0<7}")
                    .trim_start_matches('0')
                    .parse()
                    .unwrap_or(0);
                prop_assert_eq!(wide as u128, expected, "{}", text);
            }
        }
    }
}
