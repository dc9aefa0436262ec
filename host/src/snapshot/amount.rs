//! [`Amount`]: an exact signed decimal for ledger balances.
//!
//! Ledgers hand us balances as text: Hedera int64 smallest units (values
//! beyond 2^53 are normal), XRPL decimals from `1e-96` to
//! `9999999999999999e80`, written with or without an exponent. A snapshot
//! sums millions of them. Every one of those numbers must survive parsing,
//! sorting, summing and printing without a single unit lost, so an `Amount`
//! is `mantissa × 10^-scale` with an arbitrary-precision mantissa — and never
//! an `f64`.
//!
//! Most balances are plain integers, so the common case is kept cheap: the
//! mantissa lives inline as an `i128` whenever it fits and only moves to a
//! heap [`BigInt`] when it does not. Comparing or adding two inline values
//! never allocates.
//!
//! Every value has exactly one representation (see [`Amount`]'s invariants),
//! so equality and hashing are structural and still agree with numeric value:
//! `"1.0" == "1" == "1E+0"`.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg};
use std::str::FromStr;

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{Signed, Zero};

/// Largest exponent magnitude [`Amount::from_str`] accepts (`1e10000`).
///
/// The widest real ledger value is XRPL's `e80`/`e-96`; anything far beyond is
/// either a bug or an attempt to make us build a number with millions of
/// digits.
pub const MAX_EXPONENT: u64 = 10_000;

/// Most digits (integer plus fraction part) [`Amount::from_str`] accepts.
///
/// Same reasoning as [`MAX_EXPONENT`]: the longest real ledger value has
/// about a hundred digits.
pub const MAX_DIGITS: usize = 10_000;

/// Why a text is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The text was empty.
    #[error("empty amount")]
    Empty,
    /// `NaN`, `inf` or `infinity` (any case, any sign).
    #[error("not a finite number: NaN and infinity are not amounts")]
    NotFinite,
    /// A character that cannot appear at this place in a decimal
    /// (spaces, `0x` hex prefixes, `_` separators, letters, ...).
    #[error(
        "unexpected character {found:?} at byte {position}; \
         expected a plain decimal like -12.5 or 5444166510000000e-26"
    )]
    UnexpectedCharacter {
        /// The offending character.
        found: char,
        /// Its byte offset in the text.
        position: usize,
    },
    /// A digit was required here (after a sign, around the decimal point,
    /// after an exponent marker) but the text ended or had something else.
    #[error("expected a digit at byte {position}")]
    MissingDigits {
        /// Byte offset where a digit was expected.
        position: usize,
    },
    /// A second `.` in the number.
    #[error("more than one decimal point (second one at byte {position})")]
    MultipleDecimalPoints {
        /// Byte offset of the second `.`.
        position: usize,
    },
    /// The exponent's magnitude is above [`MAX_EXPONENT`].
    #[error("exponent out of range: its magnitude must be at most {MAX_EXPONENT}")]
    ExponentOutOfRange,
    /// More than [`MAX_DIGITS`] digits.
    #[error("too many digits: at most {MAX_DIGITS} are accepted")]
    TooManyDigits,
}

/// An exact signed decimal number: `mantissa × 10^-scale`.
///
/// Invariants (they make the representation unique, so the derived
/// `PartialEq`/`Hash` compare numeric values):
/// - `scale` is the number of fractional digits and is minimal: when
///   `scale > 0` the mantissa is not a multiple of ten; integers have
///   `scale == 0` (so `1000` is mantissa 1000, scale 0);
/// - zero is mantissa 0, scale 0 (there is no negative zero);
/// - the mantissa is stored inline exactly when it fits in an `i128`.
///
/// `Display` prints a plain decimal, never an exponent, without trailing
/// fractional zeros. Serde writes that text as a JSON string and reads a
/// string (strictly parsed) or a JSON integer; JSON floats are refused
/// because they may already have lost digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Amount(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Mantissa fits in an `i128`: no allocation.
    Inline { mantissa: InlineI128, scale: u32 },
    /// Mantissa does not fit in an `i128`.
    Big(Box<BigDecimal>),
}

/// The heap form: rare (XRPL values above ~1e38 and sums of them).
#[derive(Clone, PartialEq, Eq, Hash)]
struct BigDecimal {
    mantissa: BigInt,
    scale: u32,
}

/// An `i128` stored as two 8-byte halves.
///
/// `i128` is 16-byte aligned, which would make every [`Amount`] 32 bytes;
/// split halves keep it at 24, which matters with a million holders in memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct InlineI128 {
    low: u64,
    high: i64,
}

impl InlineI128 {
    fn new(value: i128) -> Self {
        Self {
            low: value as u64,
            high: (value >> 64) as i64,
        }
    }

    fn get(self) -> i128 {
        (i128::from(self.high) << 64) | i128::from(self.low)
    }
}

/// A borrowed look at an [`Amount`]'s parts.
enum Parts<'a> {
    Inline(i128, u32),
    Big(&'a BigInt, u32),
}

/// `10^exponent` as `u128`, or `None` above `10^38`.
fn pow10_u128(exponent: u32) -> Option<u128> {
    10u128.checked_pow(exponent)
}

/// `10^exponent` as a [`BigUint`].
fn pow10_big(exponent: u32) -> BigUint {
    BigUint::from(10u8).pow(exponent)
}

impl Amount {
    /// Zero.
    pub const fn zero() -> Self {
        Amount(Repr::Inline {
            mantissa: InlineI128 { low: 0, high: 0 },
            scale: 0,
        })
    }

    /// An integer amount from an `i64` (Hedera balances are int64).
    pub fn from_i64(value: i64) -> Self {
        Self::from_scaled_i128(i128::from(value), 0)
    }

    /// An integer amount from a `u64`.
    pub fn from_u64(value: u64) -> Self {
        Self::from_scaled_i128(i128::from(value), 0)
    }

    /// `mantissa × 10^-scale`, normalized.
    fn from_scaled_i128(mut mantissa: i128, mut scale: u32) -> Self {
        if mantissa == 0 {
            return Self::zero();
        }
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Amount(Repr::Inline {
            mantissa: InlineI128::new(mantissa),
            scale,
        })
    }

    /// `mantissa × 10^-scale`, normalized (trailing zeros stripped, moved
    /// inline when it fits).
    fn from_scaled_big(mut mantissa: BigInt, mut scale: u32) -> Self {
        if mantissa.is_zero() {
            return Self::zero();
        }
        // Strip 19 zeros at a time first: a long run of zeros would otherwise
        // cost one full big division per digit.
        const TEN_POW_19: u64 = 10_000_000_000_000_000_000;
        while scale >= 19 && (&mantissa % TEN_POW_19).is_zero() {
            mantissa /= TEN_POW_19;
            scale -= 19;
        }
        while scale > 0 && (&mantissa % 10u8).is_zero() {
            mantissa /= 10u8;
            scale -= 1;
        }
        match i128::try_from(&mantissa) {
            Ok(inline) => Self::from_scaled_i128(inline, scale),
            Err(_) => Amount(Repr::Big(Box::new(BigDecimal { mantissa, scale }))),
        }
    }

    fn parts(&self) -> Parts<'_> {
        match &self.0 {
            Repr::Inline { mantissa, scale } => Parts::Inline(mantissa.get(), *scale),
            Repr::Big(big) => Parts::Big(&big.mantissa, big.scale),
        }
    }

    /// The value as `(mantissa, scale)` with a [`BigInt`] mantissa, for the
    /// slow paths and for tests.
    pub(crate) fn to_big_parts(&self) -> (BigInt, u32) {
        match self.parts() {
            Parts::Inline(mantissa, scale) => (BigInt::from(mantissa), scale),
            Parts::Big(mantissa, scale) => (mantissa.clone(), scale),
        }
    }

    /// Number of fractional digits (0 for integers).
    pub fn scale(&self) -> u32 {
        match self.parts() {
            Parts::Inline(_, scale) | Parts::Big(_, scale) => scale,
        }
    }

    /// `true` for zero (however it was written: `0`, `-0.000`, `0e5`).
    pub fn is_zero(&self) -> bool {
        matches!(self.parts(), Parts::Inline(0, _))
    }

    /// `true` for values below zero.
    pub fn is_negative(&self) -> bool {
        match self.parts() {
            Parts::Inline(mantissa, _) => mantissa < 0,
            Parts::Big(mantissa, _) => mantissa.is_negative(),
        }
    }

    /// `true` when the value has no fractional part.
    pub fn is_integer(&self) -> bool {
        self.scale() == 0
    }

    /// This value divided by `10^decimals`, exactly: turns a balance in the
    /// token's smallest unit into whole tokens (`12345` with 2 decimals is
    /// `123.45`).
    ///
    /// # Panics
    /// If the resulting scale would exceed `u32::MAX` fractional digits,
    /// which no real ledger value comes near.
    pub fn scaled_down(&self, decimals: u32) -> Amount {
        let new_scale = |scale: u32| {
            scale
                .checked_add(decimals)
                .expect("Amount::scaled_down: more than u32::MAX fractional digits")
        };
        match self.parts() {
            Parts::Inline(mantissa, scale) => Self::from_scaled_i128(mantissa, new_scale(scale)),
            Parts::Big(mantissa, scale) => {
                Self::from_scaled_big(mantissa.clone(), new_scale(scale))
            }
        }
    }

    /// `part / total` as a decimal string with at most `places` fractional
    /// digits: the exact quotient rounded half-to-even, trailing zeros
    /// trimmed, `"0"` when `total` is zero.
    ///
    /// Used for a holder's share of the supply (`ratio_string(1, 3, 4)` is
    /// `"0.3333"`, `ratio_string(1, 8, 2)` is `"0.12"`).
    pub fn ratio_string(part: &Amount, total: &Amount, places: u32) -> String {
        if total.is_zero() {
            return "0".to_owned();
        }
        // part / total = (pm / tm) × 10^(ts - ps), so the rounded result in
        // units of 10^-places is round(pm × 10^(ts - ps + places) / tm).
        let (part_scale, total_scale) = (part.scale(), total.scale());
        let shift = i64::from(total_scale) - i64::from(part_scale) + i64::from(places);
        let negative = part.is_negative() != total.is_negative();
        if let (Parts::Inline(pm, _), Parts::Inline(tm, _)) = (part.parts(), total.parts())
            && let Some(quotient) = Self::ratio_inline(pm.unsigned_abs(), tm.unsigned_abs(), shift)
            && let Ok(quotient) = i128::try_from(quotient)
        {
            let signed = if negative { -quotient } else { quotient };
            return Self::from_scaled_i128(signed, places).to_string();
        }
        let (pm, _) = part.to_big_parts();
        let (tm, _) = total.to_big_parts();
        let (mut numerator, mut denominator) = (pm.magnitude().clone(), tm.magnitude().clone());
        let shift_digits = u32::try_from(shift.unsigned_abs())
            .expect("ratio_string: scale difference beyond u32 digits");
        if shift >= 0 {
            numerator *= pow10_big(shift_digits);
        } else {
            denominator *= pow10_big(shift_digits);
        }
        let quotient = divide_half_even_big(&numerator, &denominator);
        let sign = if negative { Sign::Minus } else { Sign::Plus };
        Self::from_scaled_big(BigInt::from_biguint(sign, quotient), places).to_string()
    }

    /// The inline fast path of [`Amount::ratio_string`]: `None` when an
    /// intermediate does not fit in `u128`.
    fn ratio_inline(part: u128, total: u128, shift: i64) -> Option<u128> {
        let shift_digits = u32::try_from(shift.unsigned_abs()).ok()?;
        let (numerator, denominator) = if shift >= 0 {
            (part.checked_mul(pow10_u128(shift_digits)?)?, total)
        } else {
            (part, total.checked_mul(pow10_u128(shift_digits)?)?)
        };
        Some(divide_half_even_u128(numerator, denominator))
    }

    /// `(a, b, scale)`: both mantissas brought to the larger of the two
    /// scales, or `None` if that overflows `i128`.
    fn align_inline(a: i128, a_scale: u32, b: i128, b_scale: u32) -> Option<(i128, i128, u32)> {
        match a_scale.cmp(&b_scale) {
            Ordering::Equal => Some((a, b, a_scale)),
            Ordering::Less => {
                let factor = i128::try_from(pow10_u128(b_scale - a_scale)?).ok()?;
                Some((a.checked_mul(factor)?, b, b_scale))
            }
            Ordering::Greater => {
                let factor = i128::try_from(pow10_u128(a_scale - b_scale)?).ok()?;
                Some((a, b.checked_mul(factor)?, a_scale))
            }
        }
    }

    /// Both values as big mantissas on the larger of the two scales.
    fn align_big(&self, other: &Amount) -> (BigInt, BigInt, u32) {
        let (mut a, a_scale) = self.to_big_parts();
        let (mut b, b_scale) = other.to_big_parts();
        match a_scale.cmp(&b_scale) {
            Ordering::Equal => {}
            Ordering::Less => a *= BigInt::from(pow10_big(b_scale - a_scale)),
            Ordering::Greater => b *= BigInt::from(pow10_big(a_scale - b_scale)),
        }
        (a, b, a_scale.max(b_scale))
    }

    fn signum(&self) -> i8 {
        match self.parts() {
            Parts::Inline(mantissa, _) => mantissa.signum() as i8,
            Parts::Big(mantissa, _) => match mantissa.sign() {
                Sign::Minus => -1,
                Sign::NoSign => 0,
                Sign::Plus => 1,
            },
        }
    }

    fn add_ref(&self, other: &Amount) -> Amount {
        if let (Parts::Inline(a, a_scale), Parts::Inline(b, b_scale)) =
            (self.parts(), other.parts())
            && let Some((a, b, scale)) = Self::align_inline(a, a_scale, b, b_scale)
            && let Some(sum) = a.checked_add(b)
        {
            return Self::from_scaled_i128(sum, scale);
        }
        let (a, b, scale) = self.align_big(other);
        Self::from_scaled_big(a + b, scale)
    }
}

/// `round_half_even(numerator / denominator)`; `denominator` is non-zero.
fn divide_half_even_u128(numerator: u128, denominator: u128) -> u128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    // Compare remainder with denominator / 2 without overflowing 2 × remainder.
    let above_half = remainder > denominator - remainder;
    let exactly_half = remainder == denominator - remainder;
    if above_half || (exactly_half && quotient % 2 == 1) {
        quotient + 1
    } else {
        quotient
    }
}

/// `round_half_even(numerator / denominator)`; `denominator` is non-zero.
fn divide_half_even_big(numerator: &BigUint, denominator: &BigUint) -> BigUint {
    let quotient = numerator / denominator;
    let remainder = numerator - &quotient * denominator;
    let twice_remainder = remainder << 1u8;
    match twice_remainder.cmp(denominator) {
        Ordering::Greater => quotient + 1u8,
        Ordering::Equal if quotient.bit(0) => quotient + 1u8,
        _ => quotient,
    }
}

impl Default for Amount {
    fn default() -> Self {
        Self::zero()
    }
}

impl From<i64> for Amount {
    fn from(value: i64) -> Self {
        Self::from_i64(value)
    }
}

impl From<u64> for Amount {
    fn from(value: u64) -> Self {
        Self::from_u64(value)
    }
}

impl From<i128> for Amount {
    fn from(value: i128) -> Self {
        Self::from_scaled_i128(value, 0)
    }
}

impl From<BigInt> for Amount {
    fn from(value: BigInt) -> Self {
        Self::from_scaled_big(value, 0)
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Parts::Inline(a, a_scale), Parts::Inline(b, b_scale)) =
            (self.parts(), other.parts())
        {
            if a_scale == b_scale {
                return a.cmp(&b);
            }
            let by_sign = a.signum().cmp(&b.signum());
            if by_sign != Ordering::Equal {
                return by_sign;
            }
            if let Some((a, b, _)) = Self::align_inline(a, a_scale, b, b_scale) {
                return a.cmp(&b);
            }
        }
        let by_sign = self.signum().cmp(&other.signum());
        if by_sign != Ordering::Equal {
            return by_sign;
        }
        let (a, b, _) = self.align_big(other);
        a.cmp(&b)
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Add<&Amount> for &Amount {
    type Output = Amount;

    fn add(self, other: &Amount) -> Amount {
        self.add_ref(other)
    }
}

impl Add for Amount {
    type Output = Amount;

    fn add(self, other: Amount) -> Amount {
        self.add_ref(&other)
    }
}

impl Add<&Amount> for Amount {
    type Output = Amount;

    fn add(self, other: &Amount) -> Amount {
        self.add_ref(other)
    }
}

impl AddAssign<&Amount> for Amount {
    fn add_assign(&mut self, other: &Amount) {
        *self = self.add_ref(other);
    }
}

impl AddAssign for Amount {
    fn add_assign(&mut self, other: Amount) {
        *self = self.add_ref(&other);
    }
}

impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Self {
        iter.fold(Amount::zero(), |mut total, value| {
            total += &value;
            total
        })
    }
}

impl<'a> Sum<&'a Amount> for Amount {
    fn sum<I: Iterator<Item = &'a Amount>>(iter: I) -> Self {
        iter.fold(Amount::zero(), |mut total, value| {
            total += value;
            total
        })
    }
}

impl Neg for &Amount {
    type Output = Amount;

    fn neg(self) -> Amount {
        match self.parts() {
            Parts::Inline(mantissa, scale) => match mantissa.checked_neg() {
                Some(negated) => Amount::from_scaled_i128(negated, scale),
                // -i128::MIN does not fit inline.
                None => Amount::from_scaled_big(-BigInt::from(mantissa), scale),
            },
            Parts::Big(mantissa, scale) => Amount::from_scaled_big(-mantissa.clone(), scale),
        }
    }
}

impl Neg for Amount {
    type Output = Amount;

    fn neg(self) -> Amount {
        -&self
    }
}

/// Writes `digits` (ASCII, no sign, no leading zeros unless the value is 0)
/// scaled by `10^-scale` as a plain decimal.
fn write_plain_decimal(
    out: &mut impl fmt::Write,
    negative: bool,
    digits: &str,
    scale: u32,
) -> fmt::Result {
    if negative {
        out.write_char('-')?;
    }
    let scale = scale as usize;
    if scale == 0 {
        return out.write_str(digits);
    }
    if digits.len() > scale {
        let (integer, fraction) = digits.split_at(digits.len() - scale);
        out.write_str(integer)?;
        out.write_char('.')?;
        out.write_str(fraction)
    } else {
        out.write_str("0.")?;
        for _ in 0..scale - digits.len() {
            out.write_char('0')?;
        }
        out.write_str(digits)
    }
}

impl Amount {
    fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self.parts() {
            Parts::Inline(mantissa, scale) => {
                // u128::MAX has 39 digits; format into a stack buffer.
                let mut buffer = [0u8; 40];
                let mut magnitude = mantissa.unsigned_abs();
                let mut start = buffer.len();
                loop {
                    start -= 1;
                    buffer[start] = b'0' + (magnitude % 10) as u8;
                    magnitude /= 10;
                    if magnitude == 0 {
                        break;
                    }
                }
                let digits = std::str::from_utf8(&buffer[start..]).map_err(|_| fmt::Error)?;
                write_plain_decimal(out, mantissa < 0, digits, scale)
            }
            Parts::Big(mantissa, scale) => {
                let digits = mantissa.magnitude().to_str_radix(10);
                write_plain_decimal(out, mantissa.is_negative(), &digits, scale)
            }
        }
    }
}

impl fmt::Display for Amount {
    /// Plain decimal. Width, fill and alignment are honoured; precision is
    /// ignored (an amount is never rounded or cut for display).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(width) = f.width() else {
            return self.write_to(f);
        };
        let mut text = String::new();
        self.write_to(&mut text)?;
        let padding = width.saturating_sub(text.chars().count());
        let (before, after) = match f.align() {
            Some(fmt::Alignment::Left) => (0, padding),
            Some(fmt::Alignment::Center) => (padding / 2, padding - padding / 2),
            Some(fmt::Alignment::Right) | None => (padding, 0),
        };
        let fill = f.fill();
        for _ in 0..before {
            f.write_char(fill)?;
        }
        f.write_str(&text)?;
        for _ in 0..after {
            f.write_char(fill)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({self})")
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Strict parse of `[+-]digits[.digits][(e|E)[+-]digits]`.
    ///
    /// Refuses empty text, whitespace anywhere, `NaN`/`inf`, hex, `_`
    /// separators, a bare or trailing `.` (`.5`, `5.`), more than one `.`,
    /// exponents beyond ±[`MAX_EXPONENT`] and more than [`MAX_DIGITS`] digits.
    fn from_str(text: &str) -> Result<Self, AmountError> {
        parse_amount(text)
    }
}

fn parse_amount(text: &str) -> Result<Amount, AmountError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(AmountError::Empty);
    }
    let unexpected = |position: usize| AmountError::UnexpectedCharacter {
        found: text[position..].chars().next().unwrap_or('\u{FFFD}'),
        position,
    };
    let mut position = 0;
    let negative = match bytes[0] {
        b'-' => {
            position = 1;
            true
        }
        b'+' => {
            position = 1;
            false
        }
        _ => false,
    };
    let unsigned = &text[position..];
    if ["nan", "inf", "infinity"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
    {
        return Err(AmountError::NotFinite);
    }

    let scan_digits = |from: usize| {
        bytes[from..]
            .iter()
            .position(|byte| !byte.is_ascii_digit())
            .map_or(bytes.len(), |offset| from + offset)
    };

    let integer_start = position;
    let integer_end = scan_digits(integer_start);
    if integer_end == integer_start {
        return Err(match bytes.get(integer_start) {
            None | Some(b'.') => AmountError::MissingDigits {
                position: integer_start,
            },
            Some(_) => unexpected(integer_start),
        });
    }
    position = integer_end;

    let (fraction_start, fraction_end) = if bytes.get(position) == Some(&b'.') {
        let start = position + 1;
        let end = scan_digits(start);
        if end == start {
            return Err(match bytes.get(start) {
                None | Some(b'e' | b'E') => AmountError::MissingDigits { position: start },
                Some(b'.') => AmountError::MultipleDecimalPoints { position: start },
                Some(_) => unexpected(start),
            });
        }
        position = end;
        (start, end)
    } else {
        (position, position)
    };

    let mut exponent: i64 = 0;
    if matches!(bytes.get(position), Some(b'e' | b'E')) {
        position += 1;
        let exponent_negative = match bytes.get(position) {
            Some(b'-') => {
                position += 1;
                true
            }
            Some(b'+') => {
                position += 1;
                false
            }
            _ => false,
        };
        let digits_end = scan_digits(position);
        if digits_end == position {
            return Err(match bytes.get(position) {
                None => AmountError::MissingDigits { position },
                Some(_) => unexpected(position),
            });
        }
        let mut magnitude: u64 = 0;
        for &digit in &bytes[position..digits_end] {
            magnitude = magnitude
                .saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'));
        }
        if magnitude > MAX_EXPONENT {
            return Err(AmountError::ExponentOutOfRange);
        }
        let magnitude = magnitude as i64;
        exponent = if exponent_negative {
            -magnitude
        } else {
            magnitude
        };
        position = digits_end;
    }

    if position != bytes.len() {
        return Err(match bytes[position] {
            b'.' => AmountError::MultipleDecimalPoints { position },
            _ => unexpected(position),
        });
    }

    let integer_digits = &bytes[integer_start..integer_end];
    let fraction_digits = &bytes[fraction_start..fraction_end];
    if integer_digits.len() + fraction_digits.len() > MAX_DIGITS {
        return Err(AmountError::TooManyDigits);
    }
    Ok(amount_from_digits(
        negative,
        integer_digits,
        fraction_digits,
        exponent,
    ))
}

/// Builds the value of `integer.fraction × 10^exponent` from validated ASCII
/// digit runs.
fn amount_from_digits(negative: bool, integer: &[u8], fraction: &[u8], exponent: i64) -> Amount {
    // Digits of the mantissa, in order; the value is mantissa × 10^-scale.
    let all_digits = || integer.iter().chain(fraction.iter()).copied();
    let total_len = integer.len() + fraction.len();
    let leading_zeros = all_digits().take_while(|&digit| digit == b'0').count();
    if leading_zeros == total_len {
        return Amount::zero();
    }
    let mut scale = fraction.len() as i64 - exponent;
    // Drop trailing zeros while they are fractional: keeps the mantissa small.
    let mut significant_len = total_len - leading_zeros;
    let trailing_zeros = all_digits()
        .rev()
        .take_while(|&digit| digit == b'0')
        .count();
    let strippable = trailing_zeros.min(scale.max(0) as usize);
    significant_len -= strippable;
    scale -= strippable as i64;
    let significant = || all_digits().skip(leading_zeros).take(significant_len);

    // Fast path: up to 38 significant digits fit in an i128.
    let inline = if significant_len <= 38 {
        let magnitude = significant().fold(0i128, |acc, digit| acc * 10 + i128::from(digit - b'0'));
        Some(if negative { -magnitude } else { magnitude })
    } else {
        None
    };
    if scale >= 0 {
        let scale = u32::try_from(scale).expect("scale bounded by MAX_DIGITS + MAX_EXPONENT");
        if let Some(mantissa) = inline {
            return Amount::from_scaled_i128(mantissa, scale);
        }
    } else if let Some(mantissa) = inline {
        let factor = u32::try_from(-scale)
            .ok()
            .and_then(pow10_u128)
            .and_then(|factor| i128::try_from(factor).ok());
        if let Some(scaled) = factor.and_then(|factor| mantissa.checked_mul(factor)) {
            return Amount::from_scaled_i128(scaled, 0);
        }
    }
    let text: Vec<u8> = significant().collect();
    let magnitude = BigUint::parse_bytes(&text, 10).expect("validated ASCII digits");
    let sign = if negative { Sign::Minus } else { Sign::Plus };
    let mut mantissa = BigInt::from_biguint(sign, magnitude);
    let scale = if scale < 0 {
        let factor = u32::try_from(-scale).expect("bounded by MAX_EXPONENT");
        mantissa *= BigInt::from(pow10_big(factor));
        0
    } else {
        u32::try_from(scale).expect("bounded by MAX_DIGITS + MAX_EXPONENT")
    };
    Amount::from_scaled_big(mantissa, scale)
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

struct AmountVisitor;

impl serde::de::Visitor<'_> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal amount as a string, or an integer")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Amount, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Amount, E> {
        Ok(Amount::from_i64(value))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Amount, E> {
        Ok(Amount::from_u64(value))
    }

    fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<Amount, E> {
        Ok(Amount::from(value))
    }

    fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<Amount, E> {
        Ok(Amount::from(BigInt::from(value)))
    }

    fn visit_f64<E: serde::de::Error>(self, _value: f64) -> Result<Amount, E> {
        Err(E::custom(
            "amounts must be JSON strings or integers: a float may already have lost digits",
        ))
    }
}

impl Amount {
    /// The value as an `i128` when it is an integer that fits.
    pub fn to_i128(&self) -> Option<i128> {
        match self.parts() {
            Parts::Inline(mantissa, 0) => Some(mantissa),
            _ => None,
        }
    }

    /// The value as an `i64` when it is an integer that fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|value| i64::try_from(value).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amount(text: &str) -> Amount {
        text.parse()
            .unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn shown(text: &str) -> String {
        amount(text).to_string()
    }

    #[test]
    fn amount_stays_24_bytes() {
        assert_eq!(std::mem::size_of::<Amount>(), 24);
    }

    #[test]
    fn plain_integers_round_trip() {
        for text in [
            "0",
            "1",
            "-1",
            "42",
            "9007199254740993",
            "-9007199254740993",
        ] {
            assert_eq!(shown(text), text);
        }
        assert_eq!(shown(&i64::MAX.to_string()), i64::MAX.to_string());
        assert_eq!(shown(&i64::MIN.to_string()), i64::MIN.to_string());
        assert_eq!(amount(&i64::MAX.to_string()), Amount::from_i64(i64::MAX));
        assert_eq!(shown(&u64::MAX.to_string()), u64::MAX.to_string());
        assert_eq!(shown(&i128::MAX.to_string()), i128::MAX.to_string());
        assert_eq!(shown(&i128::MIN.to_string()), i128::MIN.to_string());
        let beyond_i128 = "1701411834604692317316873037158841057280000";
        assert_eq!(shown(beyond_i128), beyond_i128);
    }

    #[test]
    fn values_beyond_2_pow_53_keep_every_unit() {
        let two_pow_53_plus_one = amount("9007199254740993");
        assert_ne!(two_pow_53_plus_one, amount("9007199254740992"));
        assert_eq!(
            two_pow_53_plus_one,
            &amount("9007199254740992") + &Amount::from_i64(1)
        );
    }

    #[test]
    fn decimals_print_without_trailing_zeros() {
        assert_eq!(shown("1.5"), "1.5");
        assert_eq!(shown("1.50"), "1.5");
        assert_eq!(shown("1.0"), "1");
        assert_eq!(shown("-0.0001"), "-0.0001");
        assert_eq!(shown("000123.4500"), "123.45");
        assert_eq!(shown("0.000"), "0");
        assert_eq!(shown("+7"), "7");
    }

    #[test]
    fn exponent_forms_print_plain() {
        assert_eq!(shown("1E+3"), "1000");
        assert_eq!(shown("1e3"), "1000");
        assert_eq!(shown("1e-3"), "0.001");
        assert_eq!(shown("5444166510000000e-26"), "0.0000000000544416651");
        assert_eq!(shown("1.5e1"), "15");
        assert_eq!(shown("-2.5E-1"), "-0.25");
        assert_eq!(shown("12e0"), "12");
    }

    #[test]
    fn xrpl_extremes_are_exact() {
        let tiny = amount("1e-96");
        assert_eq!(tiny.to_string(), format!("0.{}1", "0".repeat(95)));
        assert!(!tiny.is_zero());
        assert!(tiny > Amount::zero());
        let huge = amount("9999999999999999e80");
        assert_eq!(
            huge.to_string(),
            format!("9999999999999999{}", "0".repeat(80))
        );
        assert_eq!(amount(&huge.to_string()), huge);
        let sum = &huge + &tiny;
        assert_eq!(
            sum.to_string(),
            format!("9999999999999999{}.{}1", "0".repeat(80), "0".repeat(95))
        );
        assert_eq!(&sum + &(-&tiny), huge);
    }

    #[test]
    fn negative_zero_is_zero() {
        for text in ["-0", "-0.000", "-0e5", "+0", "0e-7"] {
            let value = amount(text);
            assert!(value.is_zero(), "{text}");
            assert!(!value.is_negative(), "{text}");
            assert_eq!(value.to_string(), "0");
            assert_eq!(value, Amount::zero());
        }
        assert_eq!((-Amount::zero()).to_string(), "0");
    }

    #[test]
    fn equal_values_written_differently_are_equal_and_hash_alike() {
        use std::collections::HashSet;
        let forms = [
            "1000", "1000.000", "1e3", "1E+3", "0.1e4", "10000e-1", "+1000",
        ];
        let set: HashSet<Amount> = forms.iter().map(|text| amount(text)).collect();
        assert_eq!(set.len(), 1);
        assert_eq!(amount("1.0"), amount("1"));
        assert_eq!(amount("1.0").cmp(&amount("1")), Ordering::Equal);
    }

    #[test]
    fn malformed_text_is_rejected_with_a_reason() {
        use AmountError::*;
        let cases: &[(&str, AmountError)] = &[
            ("", Empty),
            ("NaN", NotFinite),
            ("-inf", NotFinite),
            ("Infinity", NotFinite),
            (
                " 1",
                UnexpectedCharacter {
                    found: ' ',
                    position: 0,
                },
            ),
            (
                "1 ",
                UnexpectedCharacter {
                    found: ' ',
                    position: 1,
                },
            ),
            (
                "1 000",
                UnexpectedCharacter {
                    found: ' ',
                    position: 1,
                },
            ),
            (
                "0x1A",
                UnexpectedCharacter {
                    found: 'x',
                    position: 1,
                },
            ),
            (
                "1_000",
                UnexpectedCharacter {
                    found: '_',
                    position: 1,
                },
            ),
            ("1.2.3", MultipleDecimalPoints { position: 3 }),
            ("1..2", MultipleDecimalPoints { position: 2 }),
            ("-", MissingDigits { position: 1 }),
            ("+", MissingDigits { position: 1 }),
            (".5", MissingDigits { position: 0 }),
            ("5.", MissingDigits { position: 2 }),
            ("5.e3", MissingDigits { position: 2 }),
            ("1e", MissingDigits { position: 2 }),
            ("1e+", MissingDigits { position: 3 }),
            ("1e3.5", MultipleDecimalPoints { position: 3 }),
            (
                "--1",
                UnexpectedCharacter {
                    found: '-',
                    position: 1,
                },
            ),
            ("1e10001", ExponentOutOfRange),
            ("1e-10001", ExponentOutOfRange),
            ("1e99999999999999999999999999", ExponentOutOfRange),
            (
                "١",
                UnexpectedCharacter {
                    found: '١',
                    position: 0,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Amount>().as_ref(), Err(expected), "{text:?}");
        }
        assert_eq!(
            "1".repeat(MAX_DIGITS + 1).parse::<Amount>(),
            Err(TooManyDigits)
        );
        assert!("1".repeat(MAX_DIGITS).parse::<Amount>().is_ok());
        assert!("1e10000".parse::<Amount>().is_ok());
        assert!("1e-10000".parse::<Amount>().is_ok());
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let message = "0x1A".parse::<Amount>().unwrap_err().to_string();
        assert!(
            message.contains("'x'") && message.contains("byte 1"),
            "{message}"
        );
        let message = "1e20000".parse::<Amount>().unwrap_err().to_string();
        assert!(message.contains("exponent"), "{message}");
    }

    #[test]
    fn ordering_is_numeric() {
        let mut values: Vec<Amount> = [
            "10",
            "9.99",
            "-1",
            "1e2",
            "0",
            "-0.5",
            "1e-96",
            "9999999999999999e80",
        ]
        .iter()
        .map(|text| amount(text))
        .collect();
        values.sort();
        let printed: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed[..7],
            [
                "-1",
                "-0.5",
                "0",
                &format!("0.{}1", "0".repeat(95)),
                "9.99",
                "10",
                "100"
            ]
        );
        assert!(
            amount("170141183460469231731687303715884105727")
                < amount("170141183460469231731687303715884105728")
        );
        assert!(
            amount("-170141183460469231731687303715884105729") < amount(&i128::MIN.to_string())
        );
        assert!(amount("0.1") > amount("0.09999999999999999999999999999999999999999"));
    }

    #[test]
    fn sums_spill_from_inline_to_big_and_back() {
        let max = Amount::from(i128::MAX);
        let sum = &max + &Amount::from_i64(1);
        assert_eq!(sum.to_string(), "170141183460469231731687303715884105728");
        assert!(matches!(sum.0, Repr::Big(_)));
        let back = &sum + &Amount::from_i64(-1);
        assert_eq!(back, max);
        assert!(matches!(back.0, Repr::Inline { .. }));
        let negated_min = -Amount::from(i128::MIN);
        assert_eq!(
            negated_min.to_string(),
            "170141183460469231731687303715884105728"
        );
    }

    #[test]
    fn sum_of_mixed_scales_is_exact() {
        let total: Amount = ["0.1", "0.2", "-0.3", "1e-96", "5"]
            .iter()
            .map(|text| amount(text))
            .sum();
        assert_eq!(total.to_string(), format!("5.{}1", "0".repeat(95)));
        let references = [amount("0.1"), amount("0.2")];
        let by_reference: Amount = references.iter().sum();
        assert_eq!(by_reference.to_string(), "0.3");
    }

    #[test]
    fn scaled_down_divides_exactly() {
        assert_eq!(Amount::from_i64(12345).scaled_down(2).to_string(), "123.45");
        assert_eq!(Amount::from_i64(100).scaled_down(2).to_string(), "1");
        assert_eq!(
            Amount::from_i64(-5).scaled_down(8).to_string(),
            "-0.00000005"
        );
        assert_eq!(
            Amount::from_i64(i64::MAX).scaled_down(0),
            Amount::from_i64(i64::MAX)
        );
        assert_eq!(amount("1.5").scaled_down(1).to_string(), "0.15");
        assert_eq!(Amount::zero().scaled_down(18).to_string(), "0");
        let big = amount("9999999999999999e80");
        assert_eq!(big.scaled_down(96).to_string(), "0.9999999999999999");
    }

    #[test]
    fn ratio_rounds_half_to_even() {
        let ratio = |part: &str, total: &str, places| {
            Amount::ratio_string(&amount(part), &amount(total), places)
        };
        assert_eq!(ratio("1", "3", 4), "0.3333");
        assert_eq!(ratio("2", "3", 4), "0.6667");
        assert_eq!(ratio("1", "8", 2), "0.12");
        assert_eq!(ratio("3", "8", 2), "0.38");
        assert_eq!(ratio("5", "100", 1), "0");
        assert_eq!(ratio("15", "100", 1), "0.2");
        assert_eq!(ratio("1", "2", 12), "0.5");
        assert_eq!(ratio("1", "1", 12), "1");
        assert_eq!(ratio("5", "0", 12), "0");
        assert_eq!(ratio("-1", "3", 3), "-0.333");
        assert_eq!(ratio("-1", "3000", 3), "0");
        assert_eq!(ratio("1.5", "0.5", 3), "3");
        assert_eq!(ratio("1e-96", "9999999999999999e80", 12), "0");
        assert_eq!(ratio("9999999999999999e80", "9999999999999999e80", 12), "1");
        assert_eq!(
            ratio("1", "7", 40),
            "0.1428571428571428571428571428571428571429"
        );
        assert_eq!(
            ratio(&i64::MAX.to_string(), "3", 12),
            "3074457345618258602.333333333333"
        );
    }

    #[test]
    fn display_pads_but_never_rounds() {
        assert_eq!(format!("{:>8}", amount("1.25")), "    1.25");
        assert_eq!(format!("{:<6}|", amount("-3")), "-3    |");
        assert_eq!(format!("{:.1}", amount("1.25")), "1.25");
        assert_eq!(format!("{:?}", amount("1.50")), "Amount(1.5)");
    }

    #[test]
    fn serde_uses_strings_and_refuses_floats() {
        let value = amount("-12.50");
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"-12.5\"");
        let parsed: Amount = serde_json::from_str("\"1e3\"").unwrap();
        assert_eq!(parsed, Amount::from_i64(1000));
        let parsed: Amount = serde_json::from_str("9223372036854775807").unwrap();
        assert_eq!(parsed, Amount::from_i64(i64::MAX));
        assert!(serde_json::from_str::<Amount>("1.5").is_err());
        assert!(serde_json::from_str::<Amount>("\"1.5.5\"").is_err());
    }

    // ----- property tests against a reference on a common scale -----

    /// A generated value: `mantissa × 10^exponent`, exact in `BigInt`.
    #[derive(Debug, Clone)]
    struct Reference {
        mantissa: BigInt,
        exponent: i32,
    }

    impl Reference {
        /// `(a, b, exponent)`: both mantissas on the smaller exponent.
        fn aligned(&self, other: &Reference) -> (BigInt, BigInt, i32) {
            let exponent = self.exponent.min(other.exponent);
            let lift = |r: &Reference| {
                &r.mantissa * BigInt::from(10u8).pow((r.exponent - exponent) as u32)
            };
            (lift(self), lift(other), exponent)
        }

        /// Straightforward string formatting, independent of `Amount`.
        fn plain(&self) -> String {
            let negative = self.mantissa.is_negative();
            let mut digits = self.mantissa.magnitude().to_str_radix(10);
            let mut exponent = self.exponent;
            if digits == "0" {
                return "0".into();
            }
            while exponent > 0 {
                digits.push('0');
                exponent -= 1;
            }
            let scale = (-exponent) as usize;
            let mut text = if scale == 0 {
                digits
            } else {
                let padded = format!(
                    "{}{}",
                    "0".repeat((scale + 1).saturating_sub(digits.len())),
                    digits
                );
                let (integer, fraction) = padded.split_at(padded.len() - scale);
                let fraction = fraction.trim_end_matches('0');
                if fraction.is_empty() {
                    integer.to_string()
                } else {
                    format!("{integer}.{fraction}")
                }
            };
            if negative {
                text.insert(0, '-');
            }
            text
        }
    }

    fn reference_strategy() -> impl Strategy<Value = Reference> {
        let small = any::<i64>().prop_map(BigInt::from);
        let wide = any::<i128>().prop_map(BigInt::from);
        let huge = (any::<i128>(), any::<u64>()).prop_map(|(high, low)| {
            BigInt::from(high) * BigInt::from(u64::MAX) + BigInt::from(low)
        });
        let tiny = (-1000i64..1000).prop_map(BigInt::from);
        (prop_oneof![small, wide, huge, tiny], -110i32..100)
            .prop_map(|(mantissa, exponent)| Reference { mantissa, exponent })
    }

    /// Renders a reference in one of several textual forms a ledger may use.
    fn render(reference: &Reference, form: u8, padding: u8) -> String {
        let negative = reference.mantissa.is_negative();
        let digits = reference.mantissa.magnitude().to_str_radix(10);
        let sign = if negative { "-" } else { "" };
        // Pad the mantissa with zeros and shift the exponent to match.
        let padded = format!("{digits}{}", "0".repeat(usize::from(padding)));
        let exponent = reference.exponent - i32::from(padding);
        match form % 4 {
            0 => format!("{sign}{padded}e{exponent}"),
            1 => format!(
                "{sign}{padded}E{}{exponent}",
                if exponent >= 0 { "+" } else { "" }
            ),
            2 => {
                // d.ddd form with an adjusted exponent.
                let (head, tail) = padded.split_at(1);
                let adjusted = exponent + tail.len() as i32;
                if tail.is_empty() {
                    format!("{sign}{head}e{adjusted}")
                } else {
                    format!("{sign}{head}.{tail}e{adjusted}")
                }
            }
            _ => reference.plain(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_then_display_matches_the_reference(
            reference in reference_strategy(), form in 0u8..4, padding in 0u8..5
        ) {
            let text = render(&reference, form, padding);
            let value: Amount = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(value.to_string(), reference.plain());
            let reparsed: Amount = value.to_string().parse().unwrap();
            prop_assert_eq!(reparsed, value);
        }

        #[test]
        fn ordering_matches_the_reference(a in reference_strategy(), b in reference_strategy()) {
            let (x, y, _) = a.aligned(&b);
            let (left, right): (Amount, Amount) = (a.plain().parse().unwrap(), b.plain().parse().unwrap());
            prop_assert_eq!(left.cmp(&right), x.cmp(&y));
            prop_assert_eq!(left == right, x == y);
        }

        #[test]
        fn addition_matches_the_reference(a in reference_strategy(), b in reference_strategy()) {
            let (x, y, exponent) = a.aligned(&b);
            let expected = Reference { mantissa: x + y, exponent };
            let (left, right): (Amount, Amount) = (a.plain().parse().unwrap(), b.plain().parse().unwrap());
            prop_assert_eq!((&left + &right).to_string(), expected.plain());
            prop_assert_eq!(&left + &right, &right + &left);
        }

        #[test]
        fn sums_match_the_reference_in_any_order(values in proptest::collection::vec(reference_strategy(), 0..40)) {
            let exponent = values.iter().map(|r| r.exponent).min().unwrap_or(0);
            let mut total = BigInt::zero();
            for r in &values {
                total += &r.mantissa * BigInt::from(10u8).pow((r.exponent - exponent) as u32);
            }
            let expected = Reference { mantissa: total, exponent }.plain();
            let amounts: Vec<Amount> = values.iter().map(|r| r.plain().parse().unwrap()).collect();
            let forward: Amount = amounts.iter().sum();
            let backward: Amount = amounts.iter().rev().cloned().sum();
            prop_assert_eq!(forward.to_string(), expected);
            prop_assert_eq!(forward, backward);
        }

        #[test]
        fn integer_sums_match_i128_arithmetic(values in proptest::collection::vec(any::<i64>(), 0..200)) {
            let expected: i128 = values.iter().map(|&v| i128::from(v)).sum();
            let total: Amount = values.iter().map(|&v| Amount::from_i64(v)).sum();
            prop_assert_eq!(total.to_i128(), Some(expected));
        }

        #[test]
        fn ratio_is_within_half_a_unit_and_ties_go_to_even(
            part in reference_strategy(), total in reference_strategy(), places in 0u32..20
        ) {
            let (p, t): (Amount, Amount) = (part.plain().parse().unwrap(), total.plain().parse().unwrap());
            let text = Amount::ratio_string(&p, &t, places);
            let ratio: Amount = text.parse().unwrap();
            prop_assert!(ratio.scale() <= places, "{} has more than {} places", text, places);
            if t.is_zero() {
                prop_assert_eq!(text, "0");
                return Ok(());
            }
            // error = ratio × total − part, all as integers on one scale;
            // require 2·|error|·10^places ≤ |total|, with equality only when
            // the last digit of the ratio is even.
            let (rm, rs) = ratio.to_big_parts();
            let (tm, ts) = t.to_big_parts();
            let (pm, ps) = p.to_big_parts();
            let product_scale = rs + ts;
            let common = product_scale.max(ps);
            let lift = |m: BigInt, s: u32| m * BigInt::from(10u8).pow(common - s);
            let error = lift(&rm * &tm, product_scale) - lift(pm, ps);
            let lhs = error.abs() * 2u8 * BigInt::from(10u8).pow(places);
            let rhs = lift(tm.abs(), ts);
            prop_assert!(lhs <= rhs, "{} / {} -> {}", p, t, text);
            if lhs == rhs {
                let last_unit = lift_units(&ratio, places);
                prop_assert!((last_unit % 2u8).is_zero(), "tie not rounded to even: {}", text);
            }
        }
    }

    /// The ratio expressed as an integer count of `10^-places` units.
    fn lift_units(ratio: &Amount, places: u32) -> BigInt {
        let (mantissa, scale) = ratio.to_big_parts();
        mantissa * BigInt::from(10u8).pow(places - scale)
    }

    // ----- property tests against an independent big decimal -----
    //
    // The reference is the `bigdecimal` crate: its own parser, arithmetic,
    // ordering and plain formatting, sharing no code with `Amount`. Each
    // property runs 256 cases in `cargo test`; a longer run:
    // `PROPTEST_CASES=20000 cargo test -p snapshot-host --lib against_bigdecimal`.

    mod against_bigdecimal {
        use super::super::*;
        use bigdecimal::BigDecimal;
        use proptest::prelude::*;

        /// Decimal text in every form a ledger may write: a sign or none,
        /// leading zeros, a fraction or none, an exponent marker in either
        /// case with a sign or none and leading zeros.
        fn decimal_text() -> impl Strategy<Value = String> {
            let exponent = (
                prop_oneof![Just("e"), Just("E")],
                prop_oneof![Just(""), Just("+"), Just("-")],
                "0{0,3}",
                0u32..400,
            );
            (
                prop_oneof![Just(""), Just("-"), Just("+")],
                "0{0,3}[0-9]{1,40}",
                proptest::option::of("[0-9]{1,40}"),
                proptest::option::of(exponent),
            )
                .prop_map(|(sign, integer, fraction, exponent)| {
                    let mut text = format!("{sign}{integer}");
                    if let Some(fraction) = fraction {
                        text.push('.');
                        text.push_str(&fraction);
                    }
                    if let Some((marker, sign, zeros, value)) = exponent {
                        text.push_str(&format!("{marker}{sign}{zeros}{value}"));
                    }
                    text
                })
        }

        fn reference(text: &str) -> BigDecimal {
            text.parse()
                .unwrap_or_else(|e| panic!("the reference refuses {text:?}: {e}"))
        }

        fn amount(text: &str) -> Result<Amount, TestCaseError> {
            text.parse()
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))
        }

        /// The reference's value written as `Amount` writes values: plain
        /// decimal, no exponent, no trailing fraction zeros, `0` for zero.
        fn plain(value: &BigDecimal) -> String {
            use bigdecimal::Zero;
            if value.is_zero() {
                return "0".into();
            }
            let text = value.normalized().to_plain_string();
            match text.split_once('.') {
                Some((integer, fraction)) => {
                    let fraction = fraction.trim_end_matches('0');
                    if fraction.is_empty() {
                        integer.to_string()
                    } else {
                        format!("{integer}.{fraction}")
                    }
                }
                None => text,
            }
        }

        proptest! {
            #[test]
            fn parsing_exponent_forms_and_formatting_agree(text in decimal_text()) {
                let value = amount(&text)?;
                prop_assert_eq!(value.to_string(), plain(&reference(&text)), "{}", text);
                // What `Amount` writes, the reference reads as the same value.
                prop_assert_eq!(reference(&value.to_string()), reference(&text));
            }

            #[test]
            fn ordering_agrees(a in decimal_text(), b in decimal_text()) {
                let (x, y) = (amount(&a)?, amount(&b)?);
                prop_assert_eq!(x.cmp(&y), reference(&a).cmp(&reference(&b)), "{} vs {}", a, b);
                prop_assert_eq!(x == y, reference(&a) == reference(&b));
            }

            #[test]
            fn sums_agree(texts in proptest::collection::vec(decimal_text(), 0..30)) {
                let mut expected = BigDecimal::from(0);
                let mut total = Amount::zero();
                for text in &texts {
                    expected += reference(text);
                    total += amount(text)?;
                }
                prop_assert_eq!(total.to_string(), plain(&expected));
                let summed: Amount = texts.iter().rev().map(|t| t.parse::<Amount>().unwrap()).sum();
                prop_assert_eq!(summed, total);
            }

            /// Any text at all: never a panic, and whatever `Amount` accepts
            /// the reference reads as the same value.
            #[test]
            fn any_text_is_parsed_exactly_or_refused(
                text in prop_oneof![
                    "[-+0-9.eE]{0,24}",
                    "[-+0-9.eE xX_,]{0,12}",
                    any::<String>(),
                ]
            ) {
                if let Ok(value) = text.parse::<Amount>() {
                    let reference: BigDecimal = text.parse().map_err(|e| {
                        TestCaseError::fail(format!("Amount accepts {text:?}, the reference does not: {e}"))
                    })?;
                    prop_assert_eq!(value.to_string(), plain(&reference), "{}", text);
                }
            }
        }
    }
}
