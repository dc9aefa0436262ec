//! XRPL issued-currency (IOU) amounts, exactly as rippled's `STAmount` holds them: a sign, a
//! mantissa of exactly 16 digits (10^15 ≤ m < 10^16, or 0) and an exponent in -96..=80. So a
//! value has at most 16 significant digits and lies between 1e-81 and 9999999999999999e80.
//!
//! Arithmetic goes through [`BigInt`] "units" of 10^-96, in which every representable value is an
//! integer, so sums are exact and rounding happens only where rippled rounds.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, Zero};

const MIN_MANTISSA: u64 = 1_000_000_000_000_000;
const MAX_MANTISSA: u64 = 9_999_999_999_999_999;
pub const MIN_EXPONENT: i32 = -96;
pub const MAX_EXPONENT: i32 = 80;
/// Significant digits of a mantissa.
const DIGITS: usize = 16;

/// A representable IOU value. Equality is value equality (the form is canonical).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IouAmount {
    negative: bool,
    /// 0, or 10^15..10^16.
    mantissa: u64,
    /// 0 when the mantissa is 0.
    exponent: i32,
}

/// Why a value is not an [`IouAmount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountError {
    /// Not a decimal number.
    Syntax(String),
    /// More than 16 significant digits, or finer than the smallest representable step.
    Inexact(String),
    /// Above 9999999999999999e80.
    Overflow(String),
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(v) => write!(f, "not a decimal number: {v:?}"),
            Self::Inexact(v) => write!(f, "not representable with 16 digits: {v:?}"),
            Self::Overflow(v) => write!(f, "above the largest IOU amount: {v:?}"),
        }
    }
}

impl std::error::Error for AmountError {}

impl IouAmount {
    pub const ZERO: Self = Self {
        negative: false,
        mantissa: 0,
        exponent: 0,
    };

    /// `mantissa × 10^exponent`, normalized; `None` when that needs more than 16 digits or is out
    /// of range.
    pub fn new(negative: bool, mantissa: u64, exponent: i32) -> Option<Self> {
        let mut units = BigInt::from(mantissa) * pow10_signed(exponent - MIN_EXPONENT)?;
        if negative {
            units = -units;
        }
        Self::from_units_exact(&units)
    }

    /// Parses `"123.45"`, `"-0.001"`, `"1e-15"` or rippled's `"5444166510000000e-26"`. The value
    /// must be representable exactly (no silent rounding: a test seed that does not fit is a bug).
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let units = parse_units(text).ok_or_else(|| AmountError::Syntax(text.to_owned()))?;
        let units = units.ok_or_else(|| AmountError::Inexact(text.to_owned()))?;
        Self::from_units_exact(&units).ok_or_else(|| {
            if units.abs() > max_units() {
                AmountError::Overflow(text.to_owned())
            } else {
                AmountError::Inexact(text.to_owned())
            }
        })
    }

    /// The value in units of 10^-96 (always an integer).
    pub fn to_units(&self) -> BigInt {
        if self.mantissa == 0 {
            return BigInt::zero();
        }
        let units = BigInt::from(self.mantissa) * pow10((self.exponent - MIN_EXPONENT) as u32);
        if self.negative { -units } else { units }
    }

    /// The amount equal to `units` × 10^-96, if it has at most 16 significant digits and is in
    /// range.
    pub fn from_units_exact(units: &BigInt) -> Option<Self> {
        let Some((negative, digits, trailing_zeros)) = split_units(units) else {
            return Some(Self::ZERO);
        };
        if digits.len() > DIGITS {
            return None;
        }
        Self::from_significant(negative, &digits, trailing_zeros)
    }

    /// `units` × 10^-96 rounded to 16 significant digits, half to even (rippled's `Number`
    /// default rounding mode). Values below 1e-81 become zero, as in rippled; values above the
    /// maximum are an error.
    pub fn from_units_rounded(units: &BigInt) -> Result<Self, AmountError> {
        let Some((negative, digits, trailing_zeros)) = split_units(units) else {
            return Ok(Self::ZERO);
        };
        if digits.len() <= DIGITS {
            return rounded_or_limits(negative, &digits, trailing_zeros);
        }
        let dropped = digits.len() - DIGITS;
        let (kept, rest) = digits.split_at(DIGITS);
        let mut mantissa: u64 = kept.parse().expect("16 decimal digits fit u64");
        let first = rest.as_bytes()[0];
        let beyond_half = rest.bytes().skip(1).any(|b| b != b'0');
        let round_up = match first.cmp(&b'5') {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => beyond_half || mantissa % 2 == 1,
        };
        let mut zeros = trailing_zeros + dropped;
        if round_up {
            mantissa += 1;
            if mantissa > MAX_MANTISSA {
                mantissa /= 10;
                zeros += 1;
            }
        }
        // Strip the mantissa's own trailing zeros so the digits/zeros split stays canonical.
        let text = mantissa.to_string();
        let significant = text.trim_end_matches('0');
        rounded_or_limits(
            negative,
            significant,
            zeros + (text.len() - significant.len()),
        )
    }

    /// Exact sum, if representable.
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        Self::from_units_exact(&(self.to_units() + other.to_units()))
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Strictly below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && self.mantissa != 0
    }

    pub fn is_positive(&self) -> bool {
        !self.negative && self.mantissa != 0
    }

    pub fn negated(&self) -> Self {
        if self.mantissa == 0 {
            *self
        } else {
            Self {
                negative: !self.negative,
                ..*self
            }
        }
    }

    pub fn mantissa(&self) -> u64 {
        self.mantissa
    }

    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// rippled's `STAmount::getText()`: plain decimal when the exponent is 0 or within -25..=-5,
    /// otherwise `<16-digit mantissa>e<exponent>` — which is why values below about 1e-10 or
    /// from 1e11 up come back in exponent notation (`"5444166510000000e-26"`).
    pub fn to_rippled_text(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_owned();
        }
        let sign = if self.negative { "-" } else { "" };
        if self.exponent != 0 && (self.exponent < -25 || self.exponent > -5) {
            return format!("{sign}{}e{}", self.mantissa, self.exponent);
        }
        format!(
            "{sign}{}",
            plain_decimal(&self.mantissa.to_string(), self.exponent)
        )
    }

    /// The exact value as a plain decimal without exponent (`"0.000000000000001"`,
    /// `"-12.5"`, `"999...000"`); what snapshot documents carry.
    pub fn to_plain_decimal(&self) -> String {
        format_units_plain(&self.to_units())
    }

    fn from_significant(negative: bool, digits: &str, trailing_zeros: usize) -> Option<Self> {
        // digits (no leading/trailing zeros, ≤ 16) × 10^(trailing_zeros - 96)
        let pad = DIGITS - digits.len();
        let exponent = trailing_zeros as i64 + i64::from(MIN_EXPONENT) - pad as i64;
        if exponent < i64::from(MIN_EXPONENT) || exponent > i64::from(MAX_EXPONENT) {
            return None;
        }
        let mantissa: u64 = digits.parse::<u64>().ok()? * 10u64.pow(pad as u32);
        debug_assert!((MIN_MANTISSA..=MAX_MANTISSA).contains(&mantissa));
        Some(Self {
            negative,
            mantissa,
            exponent: exponent as i32,
        })
    }
}

impl Default for IouAmount {
    fn default() -> Self {
        Self::ZERO
    }
}

impl fmt::Display for IouAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rippled_text())
    }
}

impl fmt::Debug for IouAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IouAmount({})", self.to_rippled_text())
    }
}

impl std::str::FromStr for IouAmount {
    type Err = AmountError;
    fn from_str(text: &str) -> Result<Self, AmountError> {
        Self::parse(text)
    }
}

/// Like [`IouAmount::from_significant`], but below the smallest step the value is zero (as
/// rippled canonicalizes it) and above the largest it is an overflow.
fn rounded_or_limits(
    negative: bool,
    digits: &str,
    trailing_zeros: usize,
) -> Result<IouAmount, AmountError> {
    if let Some(amount) = IouAmount::from_significant(negative, digits, trailing_zeros) {
        return Ok(amount);
    }
    let pad = DIGITS - digits.len();
    let exponent = trailing_zeros as i64 + i64::from(MIN_EXPONENT) - pad as i64;
    if exponent < i64::from(MIN_EXPONENT) {
        Ok(IouAmount::ZERO)
    } else {
        let sign = if negative { "-" } else { "" };
        Err(AmountError::Overflow(format!(
            "{sign}{digits}e{}",
            trailing_zeros as i64 + i64::from(MIN_EXPONENT)
        )))
    }
}

/// Sign, significant digits without trailing zeros, and the count of those trailing zeros;
/// `None` for zero.
fn split_units(units: &BigInt) -> Option<(bool, String, usize)> {
    if units.is_zero() {
        return None;
    }
    let text = units.magnitude().to_string();
    let significant = text.trim_end_matches('0');
    Some((
        units.sign() == Sign::Minus,
        significant.to_owned(),
        text.len() - significant.len(),
    ))
}

fn max_units() -> BigInt {
    BigInt::from(MAX_MANTISSA) * pow10((MAX_EXPONENT - MIN_EXPONENT) as u32)
}

/// An exact running sum of IOU amounts. Mantissas are added per exponent in machine integers and
/// turned into [`BigInt`] units once, at the end: summing an issuer's 100,000 lines costs 100,000
/// integer additions rather than 100,000 big-number multiplications and additions.
#[derive(Debug, Clone, Default)]
pub struct IouSum {
    /// Signed mantissa sum per `exponent - MIN_EXPONENT` (grown on demand).
    by_exponent: Vec<i128>,
}

impl IouSum {
    pub fn add(&mut self, amount: &IouAmount) {
        if amount.mantissa == 0 {
            return;
        }
        let slot = (amount.exponent - MIN_EXPONENT) as usize;
        if self.by_exponent.len() <= slot {
            self.by_exponent.resize(slot + 1, 0);
        }
        let mantissa = i128::from(amount.mantissa);
        let term = if amount.negative { -mantissa } else { mantissa };
        // |mantissa| < 10^16, so this overflows only past 10^22 terms.
        self.by_exponent[slot] = self.by_exponent[slot]
            .checked_add(term)
            .expect("fewer than 10^22 terms");
    }

    /// The sum in units of 10^-96.
    pub fn to_units(&self) -> BigInt {
        self.by_exponent
            .iter()
            .enumerate()
            .filter(|(_, sum)| **sum != 0)
            .map(|(slot, sum)| BigInt::from(*sum) * pow10(slot as u32))
            .sum()
    }
}

fn pow10(exponent: u32) -> BigInt {
    num_traits::pow(BigInt::from(10u8), exponent as usize)
}

/// 10^exponent for exponent ≥ 0, `None` for negative exponents (used where the caller knows the
/// value is an integer number of units only if the exponent is non-negative).
fn pow10_signed(exponent: i32) -> Option<BigInt> {
    u32::try_from(exponent).ok().map(pow10)
}

/// `Some(Some(units))` for a number that is a whole number of 10^-96 units, `Some(None)` for a
/// finer number, `None` for a syntax error.
fn parse_units(text: &str) -> Option<Option<BigInt>> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (number, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: BigInt = format!("{whole}{fraction}").parse().ok()?;
    let shift = exponent - fraction.len() as i64 - i64::from(MIN_EXPONENT);
    if digits.is_zero() {
        return Some(Some(BigInt::zero()));
    }
    let units = if shift >= 0 {
        // Far beyond the range anyway; cap the work a hostile exponent could cause.
        if shift > 400 {
            return Some(Some(max_units() * 10));
        }
        digits * pow10(shift as u32)
    } else {
        let divisor = pow10(u32::try_from(-shift).ok()?.min(4000));
        if !(&digits % &divisor).is_zero() {
            return Some(None);
        }
        digits / divisor
    };
    Some(Some(if negative { -units } else { units }))
}

/// `units` × 10^-96 as a plain decimal string.
pub fn format_units_plain(units: &BigInt) -> String {
    if units.is_zero() {
        return "0".to_owned();
    }
    let sign = if units.is_negative() { "-" } else { "" };
    let digits = units.magnitude().to_string();
    format!("{sign}{}", plain_decimal(&digits, MIN_EXPONENT))
}

/// `digits` × 10^exponent as a plain decimal, trailing fractional zeros removed.
fn plain_decimal(digits: &str, exponent: i32) -> String {
    if exponent >= 0 {
        let mut out = digits.to_owned();
        out.extend(std::iter::repeat_n('0', exponent as usize));
        return out;
    }
    let point = digits.len() as i64 + i64::from(exponent);
    let (whole, fraction) = if point > 0 {
        let point = point as usize;
        (digits[..point].to_owned(), digits[point..].to_owned())
    } else {
        let mut fraction = "0".repeat((-point) as usize);
        fraction.push_str(digits);
        ("0".to_owned(), fraction)
    };
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole
    } else {
        format!("{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> IouAmount {
        IouAmount::parse(text).unwrap()
    }

    #[test]
    fn rippled_text_matches_the_recorded_replies() {
        for text in [
            "0",
            "5",
            "-5",
            "481.992867407479",
            "-0.0008744482690504699",
            "0.3488146605801446",
            "5444166510000000e-26",
            "4000000000000000e-30",
            "1997134.20229482",
            "29826.1965999999",
        ] {
            assert_eq!(amount(text).to_rippled_text(), text);
        }
    }

    #[test]
    fn exponent_notation_starts_below_1e_minus_10_and_from_1e11() {
        assert_eq!(amount("1e-15").to_rippled_text(), "1000000000000000e-30");
        assert_eq!(amount("0.0000000001").to_rippled_text(), "0.0000000001");
        assert_eq!(amount("99999999999").to_rippled_text(), "99999999999");
        assert_eq!(
            amount("100000000000").to_rippled_text(),
            "1000000000000000e-4"
        );
        assert_eq!(
            amount("1000000000000000").to_rippled_text(),
            "1000000000000000"
        );
        assert_eq!(
            amount("9999999999999999e80").to_rippled_text(),
            "9999999999999999e80"
        );
    }

    #[test]
    fn out_of_range_and_over_precise_values_are_refused() {
        assert!(matches!(
            IouAmount::parse("1e97"),
            Err(AmountError::Overflow(_))
        ));
        assert!(matches!(
            IouAmount::parse("1.2345678901234567"),
            Err(AmountError::Inexact(_))
        ));
        assert!(IouAmount::parse("1e-82").is_err());
        assert!(IouAmount::parse("1e-81").is_ok());
        assert!(IouAmount::parse("abc").is_err());
        assert!(IouAmount::parse("").is_err());
    }

    #[test]
    fn rounding_is_half_to_even_at_16_digits() {
        let units = |t: &str| amount(t).to_units();
        let sum = units("1000000000000000") + units("0.5");
        assert_eq!(
            IouAmount::from_units_rounded(&sum)
                .unwrap()
                .to_rippled_text(),
            "1000000000000000"
        );
        let sum = units("1000000000000001") + units("0.5");
        assert_eq!(
            IouAmount::from_units_rounded(&sum)
                .unwrap()
                .to_rippled_text(),
            "1000000000000002"
        );
        let sum = units("9999999999999999") + units("0.9");
        assert_eq!(
            IouAmount::from_units_rounded(&sum)
                .unwrap()
                .to_rippled_text(),
            "1000000000000000e1"
        );
        assert_eq!(format_units_plain(&sum), "9999999999999999.9");
    }

    #[test]
    fn plain_decimal_is_exact() {
        assert_eq!(amount("1e-15").to_plain_decimal(), "0.000000000000001");
        assert_eq!(amount("-12.5").to_plain_decimal(), "-12.5");
        assert_eq!(amount("12e3").to_plain_decimal(), "12000");
    }
}
