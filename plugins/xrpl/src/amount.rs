//! Exact amount text: checking, sign, negation and addition, never a float.
//!
//! XRPL issued-currency values run from `1e-96` to `9999999999999999e80`
//! and servers write them with or without an exponent (`"0.0001"`,
//! `"5444166510000000e-26"`). The plugin hands them to the host as they are
//! (the host's exact decimal parses exponent forms), so the only things done
//! here are the ones that need no arithmetic: checking the text is a decimal
//! the host will accept, reading its sign, and flipping it by editing the
//! text. The single sum the plugin computes (the issuer's frozen balances
//! added to its obligations, see [`add`]) works on digit strings.

/// Largest exponent magnitude accepted (the host's limit; XRPL needs ~100).
const MAX_EXPONENT: u64 = 10_000;
/// Most digits accepted (the host's limit).
const MAX_DIGITS: usize = 10_000;

/// The sign of a decimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    Negative,
    Zero,
    Positive,
}

/// The parts of a checked decimal text.
struct Parts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

fn parts(text: &str) -> Result<Parts<'_>, String> {
    let bad = |why: &str| Err(format!("{text:?} is not a decimal amount: {why}"));
    let (negative, rest) = match text.as_bytes().first() {
        None => return bad("it is empty"),
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((i, f)) => {
            if f.is_empty() {
                return bad("no digit after the decimal point");
            }
            (i, f)
        }
        None => (mantissa, ""),
    };
    if integer.is_empty() {
        return bad("no digit before the decimal point");
    }
    if !integer
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return bad("only digits, one sign, one `.` and an exponent are allowed");
    }
    if integer.len() + fraction.len() > MAX_DIGITS {
        return bad("too many digits");
    }
    let exponent = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return bad("the exponent is not a whole number");
            }
            let magnitude = digits.trim_start_matches('0').parse::<u64>().unwrap_or(
                if digits.trim_start_matches('0').is_empty() {
                    0
                } else {
                    u64::MAX
                },
            );
            if magnitude > MAX_EXPONENT {
                return bad("the exponent is out of range");
            }
            if e.starts_with('-') {
                -(magnitude as i64)
            } else {
                magnitude as i64
            }
        }
    };
    Ok(Parts {
        negative,
        integer,
        fraction,
        exponent,
    })
}

/// Checks that `text` is a decimal the host accepts: an optional sign,
/// digits, optionally `.` and digits, optionally `e`/`E`, a sign and digits.
pub fn check(text: &str) -> Result<(), String> {
    parts(text).map(|_| ())
}

/// The sign of a decimal text.
pub fn sign(text: &str) -> Result<Sign, String> {
    let p = parts(text)?;
    let zero = p
        .integer
        .bytes()
        .chain(p.fraction.bytes())
        .all(|b| b == b'0');
    Ok(match (zero, p.negative) {
        (true, _) => Sign::Zero,
        (false, true) => Sign::Negative,
        (false, false) => Sign::Positive,
    })
}

/// `-text`, by editing the sign (the digits are untouched, so nothing can
/// be lost).
pub fn negate(text: &str) -> Result<String, String> {
    check(text)?;
    Ok(match text.as_bytes()[0] {
        b'-' => text[1..].to_string(),
        b'+' => format!("-{}", &text[1..]),
        _ => format!("-{text}"),
    })
}

/// Whether `text` is a non-negative integer written with digits only (MPT
/// amounts are unsigned 64-bit integers in decimal).
pub fn is_plain_unsigned_integer(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A non-negative decimal as digits × 10^exponent, digits without leading
/// zeros.
fn scaled(text: &str) -> Result<(Vec<u8>, i64), String> {
    let p = parts(text)?;
    if p.negative
        && !p
            .integer
            .bytes()
            .chain(p.fraction.bytes())
            .all(|b| b == b'0')
    {
        return Err(format!("{text:?} is negative"));
    }
    let digits: Vec<u8> = p
        .integer
        .bytes()
        .chain(p.fraction.bytes())
        .map(|b| b - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    Ok((digits, p.exponent - p.fraction.len() as i64))
}

/// The exact sum of two non-negative decimals, as a plain decimal (no
/// exponent, no trailing fractional zeros).
pub fn add(a: &str, b: &str) -> Result<String, String> {
    let (mut da, ea) = scaled(a)?;
    let (mut db, eb) = scaled(b)?;
    let exp = ea.min(eb);
    // Align both to the smaller exponent by appending zeros.
    da.extend(std::iter::repeat_n(0, (ea - exp) as usize));
    db.extend(std::iter::repeat_n(0, (eb - exp) as usize));
    if da.len() < db.len() {
        std::mem::swap(&mut da, &mut db);
    }
    // Add right-aligned digit vectors.
    let mut sum = vec![0u8; da.len() + 1];
    let mut carry = 0u8;
    for i in 0..da.len() {
        let x = da[da.len() - 1 - i];
        let y = if i < db.len() {
            db[db.len() - 1 - i]
        } else {
            0
        };
        let s = x + y + carry;
        sum[da.len() - i] = s % 10;
        carry = s / 10;
    }
    sum[0] = carry;
    Ok(plain(&sum, exp))
}

/// Digits × 10^exp as plain decimal text.
fn plain(digits: &[u8], exp: i64) -> String {
    let mut digits: Vec<u8> = digits.iter().copied().skip_while(|&d| d == 0).collect();
    let mut exp = exp;
    // Drop trailing zeros into the exponent.
    while exp < 0 && digits.last() == Some(&0) {
        digits.pop();
        exp += 1;
    }
    if digits.is_empty() {
        return "0".into();
    }
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    if exp >= 0 {
        return format!("{text}{}", "0".repeat(exp as usize));
    }
    let frac = (-exp) as usize;
    if text.len() > frac {
        let (i, f) = text.split_at(text.len() - frac);
        format!("{i}.{f}")
    } else {
        format!("0.{}{text}", "0".repeat(frac - text.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xrpl_extremes_and_exponent_forms_are_well_formed() {
        for ok in [
            "0",
            "-0",
            "1e-96",
            "9999999999999999e80",
            "-5444166510000000e-26",
            "481.992867407479",
            "1E+5",
            "+3",
            "0.0001",
        ] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn malformed_amounts_are_refused_naming_the_value() {
        for bad in [
            "", "-", ".5", "5.", "1e", "1e+", "NaN", "inf", "1,5", "0x10", " 1", "1 ", "1.2.3",
            "--1", "1e99999", "1e-5.5",
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn signs_are_read_from_the_text() {
        assert_eq!(sign("-0.000").unwrap(), Sign::Zero);
        assert_eq!(sign("0e10").unwrap(), Sign::Zero);
        assert_eq!(sign("-1e-96").unwrap(), Sign::Negative);
        assert_eq!(sign("5").unwrap(), Sign::Positive);
    }

    #[test]
    fn negation_edits_the_sign_only() {
        assert_eq!(
            negate("-5444166510000000e-26").unwrap(),
            "5444166510000000e-26"
        );
        assert_eq!(
            negate("-9999999999999999e80").unwrap(),
            "9999999999999999e80"
        );
        assert_eq!(negate("12.5").unwrap(), "-12.5");
        assert_eq!(negate("+1").unwrap(), "-1");
        assert!(negate("abc").is_err());
    }

    #[test]
    fn addition_is_exact_across_exponents() {
        assert_eq!(
            add("1762.700511879441", "0.091207822800868").unwrap(),
            "1762.791719702241868"
        );
        assert_eq!(
            add("9999999999999999e80", "1e-96").unwrap().len(),
            96 + 1 + 96
        );
        assert_eq!(add("5e-1", "0.5").unwrap(), "1");
        assert_eq!(add("0", "0.000").unwrap(), "0");
        assert_eq!(add("1e2", "1").unwrap(), "101");
        assert_eq!(add("0.1", "0.02").unwrap(), "0.12");
        assert!(add("-1", "1").is_err());
    }

    #[test]
    fn mpt_amounts_are_plain_unsigned_integers() {
        assert!(is_plain_unsigned_integer("9223372036854775807"));
        assert!(!is_plain_unsigned_integer("-1"));
        assert!(!is_plain_unsigned_integer("1e3"));
        assert!(!is_plain_unsigned_integer(""));
    }

    // ----- properties against an independent big decimal -----

    use bigdecimal::BigDecimal;
    use proptest::prelude::*;

    /// Amount text in the forms servers write: a sign or none, leading
    /// zeros, a fraction or none, an exponent in either case with a sign or
    /// none (XRPL's range is 1e-96 to 9999999999999999e80).
    fn amount_text(signs: &'static [&'static str]) -> impl Strategy<Value = String> {
        let exponent = (
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("+"), Just("-")],
            0u32..120,
        );
        (
            proptest::sample::select(signs),
            "0{0,2}[0-9]{1,20}",
            proptest::option::of("[0-9]{1,20}"),
            proptest::option::of(exponent),
        )
            .prop_map(|(sign, integer, fraction, exponent)| {
                let mut text = format!("{sign}{integer}");
                if let Some(fraction) = fraction {
                    text.push('.');
                    text.push_str(&fraction);
                }
                if let Some((marker, sign, value)) = exponent {
                    text.push_str(&format!("{marker}{sign}{value}"));
                }
                text
            })
    }

    fn reference(text: &str) -> BigDecimal {
        text.parse()
            .unwrap_or_else(|e| panic!("the reference refuses {text:?}: {e}"))
    }

    proptest! {
        #[test]
        fn the_sum_is_exact(a in amount_text(&["", "+"]), b in amount_text(&["", "+"])) {
            let sum = add(&a, &b).map_err(TestCaseError::fail)?;
            prop_assert_eq!(reference(&sum), reference(&a) + reference(&b), "{} + {}", a, b);
            prop_assert!(!sum.contains(['e', 'E']), "{}", sum);
        }

        #[test]
        fn sign_and_negation_agree_with_the_value(text in amount_text(&["", "+", "-"])) {
            use std::cmp::Ordering::*;
            let value = reference(&text);
            let expected = match value.cmp(&BigDecimal::from(0)) {
                Less => Sign::Negative,
                Equal => Sign::Zero,
                Greater => Sign::Positive,
            };
            prop_assert_eq!(sign(&text), Ok(expected));
            prop_assert_eq!(reference(&negate(&text).map_err(TestCaseError::fail)?), -value);
        }

        /// Any text: never a panic, and what `check` accepts the reference
        /// reads as a number too.
        #[test]
        fn any_text_is_checked_without_a_panic(
            text in prop_oneof!["[-+0-9.eE]{0,24}", any::<String>()]
        ) {
            if check(&text).is_ok() {
                prop_assert!(text.parse::<BigDecimal>().is_ok(), "{}", text);
                let _ = negate(&text);
                let _ = sign(&text);
            }
            let _ = add(&text, "1");
        }
    }
}
