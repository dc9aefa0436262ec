//! The sum check: the exact total of every holder against the total the
//! ledger itself reports for the same point in time.
//!
//! Ledgers that round (XRPL issued currencies keep 16 significant digits)
//! report a total that is itself rounded, so the two must agree within one
//! unit of the last significant digit of the larger of them.

use std::collections::BTreeMap;

use crate::snapshot::Amount;

/// What the plugin said about the ledger's own total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TotalCheck {
    Reported {
        /// Exact decimal text, same unit as the balances.
        value: String,
        /// Significant digits the ledger rounds to; 0 = exact.
        significant_digits: u32,
        /// Where the total came from.
        source: String,
    },
    Unavailable(String),
}

/// The document attributes recording the check of `holders_total`:
/// `sum_check` = `passed` | `failed` | `unavailable`, plus the figures.
pub fn sum_check_attributes(
    holders_total: &Amount,
    check: &TotalCheck,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match check {
        TotalCheck::Unavailable(reason) => {
            out.insert("sum_check".into(), "unavailable".into());
            out.insert("sum_check_reason".into(), reason.clone());
        }
        TotalCheck::Reported {
            value,
            significant_digits,
            source,
        } => {
            out.insert("sum_check_source".into(), source.clone());
            out.insert("sum_check_holders_total".into(), holders_total.to_string());
            match value.parse::<Amount>() {
                Err(e) => {
                    out.insert("sum_check".into(), "unavailable".into());
                    out.insert(
                        "sum_check_reason".into(),
                        format!("the reported total {value:?} is not a decimal: {e}"),
                    );
                }
                Ok(reported) => {
                    out.insert("sum_check_reported_total".into(), reported.to_string());
                    let pass = agrees(holders_total, &reported, *significant_digits);
                    out.insert(
                        "sum_check".into(),
                        if pass { "passed" } else { "failed" }.into(),
                    );
                }
            }
        }
    }
    out
}

/// Whether `a` and `b` agree to `digits` significant digits (exactly when
/// `digits` is 0).
pub fn agrees(a: &Amount, b: &Amount, digits: u32) -> bool {
    if digits == 0 {
        return a == b;
    }
    let (abs_a, abs_b) = (abs(a), abs(b));
    let larger = if abs_a > abs_b { abs_a } else { abs_b };
    let Some(lead) = leading_exponent(&larger) else {
        return true; // both zero
    };
    let unit: Amount = format!("1e{}", lead - i64::from(digits) + 1)
        .parse()
        .expect("a power of ten parses");
    abs(&(a.clone() + (-b.clone()))) <= unit
}

fn abs(a: &Amount) -> Amount {
    if a.is_negative() {
        -a.clone()
    } else {
        a.clone()
    }
}

/// The power of ten of the first significant digit (123.4 → 2, 0.05 → -2);
/// none for zero.
fn leading_exponent(a: &Amount) -> Option<i64> {
    if a.is_zero() {
        return None;
    }
    let text = a.to_string();
    let text = text.trim_start_matches('-');
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int != "0" {
        return Some(int.len() as i64 - 1);
    }
    let zeros = frac.bytes().take_while(|&b| b == b'0').count() as i64;
    Some(-(zeros + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        s.parse().unwrap()
    }

    #[test]
    fn exact_totals_must_be_equal() {
        assert!(agrees(&a("100"), &a("100.0"), 0));
        assert!(!agrees(&a("100"), &a("100.0000001"), 0));
    }

    #[test]
    fn rounded_totals_agree_within_one_unit_of_the_last_digit() {
        // 16 digits: 1234567890.123456|7 vs the server's 1234567890.123457
        assert!(agrees(
            &a("1234567890.1234567"),
            &a("1234567890.123457"),
            16
        ));
        assert!(!agrees(
            &a("1234567890.1234567"),
            &a("1234567890.123459"),
            16
        ));
        assert!(agrees(
            &a("5444166510000000e-26"),
            &a("0.0000000000544416651"),
            16
        ));
        assert!(agrees(&a("0"), &a("0"), 16));
        assert!(!agrees(&a("0.001"), &a("0"), 16));
    }

    #[test]
    fn the_attributes_say_passed_failed_or_unavailable() {
        let reported = |v: &str| TotalCheck::Reported {
            value: v.into(),
            significant_digits: 16,
            source: "gateway_balances.obligations".into(),
        };
        assert_eq!(
            sum_check_attributes(&a("10"), &reported("10"))["sum_check"],
            "passed"
        );
        assert_eq!(
            sum_check_attributes(&a("10"), &reported("11"))["sum_check"],
            "failed"
        );
        let un = sum_check_attributes(&a("10"), &TotalCheck::Unavailable("disabled".into()));
        assert_eq!(un["sum_check"], "unavailable");
        assert_eq!(un["sum_check_reason"], "disabled");
        assert_eq!(
            sum_check_attributes(&a("10"), &reported("x"))["sum_check"],
            "unavailable"
        );
    }
}
