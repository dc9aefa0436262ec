//! The host's exact decimal (`Amount`) on arbitrary text: parsing never
//! panics, and what parses prints to a plain decimal that parses back to the
//! same value, whose sum with itself and negation stay exact.
//!
//! The parse limits bound the *text* read (at most `MAX_DIGITS` digits and
//! an exponent of at most `MAX_EXPONENT`), not the value: `1e10000` is
//! accepted and prints with 10 001 digits, as a large enough sum does. So a
//! printed form is read back when it is within the digit limit, and refused
//! for exactly that reason when it is not.

#![no_main]

#[allow(dead_code)]
#[path = "../../../host/src/snapshot/amount.rs"]
mod amount;

use amount::Amount;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = text.parse::<Amount>() else {
        return;
    };
    let printed = value.to_string();
    assert!(!printed.contains(['e', 'E']), "{printed:?} is not plain");
    let digits = printed.bytes().filter(u8::is_ascii_digit).count();
    match printed.parse::<Amount>() {
        Ok(again) => assert_eq!(again, value, "{text:?} -> {printed:?}"),
        Err(amount::AmountError::TooManyDigits) if digits > amount::MAX_DIGITS => {}
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
    let doubled = &value + &value;
    assert_eq!(&doubled + &(-value.clone()), value, "{text:?}");
});
