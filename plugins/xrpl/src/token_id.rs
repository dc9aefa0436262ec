//! XRPL token ids: parsing, checking and the canonical spelling.
//!
//! Three kinds of token, told apart by their prefix:
//!
//! | syntax                          | token                                     |
//! |---------------------------------|-------------------------------------------|
//! | `<currency>.<issuer>`           | issued (trust-line) token                 |
//! | `mpt:<48 hex>`                  | Multi-Purpose Token issuance              |
//! | `nft:<issuer>[:<taxon>]`        | XLS-20 NFT collection (optionally a taxon)|
//!
//! A currency is a 3-character standard code or a 160-bit code in 40 hex
//! digits. The ledger stores both as the same 160 bits (a standard code
//! `ABC` is `00`×12 ‖ `ABC` ‖ `00`×5), so both spellings name one token:
//! [`Currency`] keeps the bits and prints the 3-character form whenever the
//! bits are a standard code, upper-case hex otherwise.
//!
//! Every address is checked completely (alphabet, length, version byte and
//! checksum) before any request is made: a typo in an issuer must never turn
//! into "this token has no holders".

use std::fmt;

use sha2::{Digest, Sha256};

/// The XRPL base58 alphabet (not Bitcoin's: `r` is zero).
pub const ALPHABET: &[u8; 58] = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

/// Version byte of a classic account address.
const ACCOUNT_VERSION: u8 = 0x00;

/// Characters allowed in a 3-character standard currency code.
const CURRENCY_SYMBOLS: &[u8] = b"?!@#$%^&*<>(){}[]|";

/// The syntax reminder appended to every token-id error.
pub const SYNTAX: &str = "expected `<currency>.<issuer>` (currency a 3-character code other than XRP \
or 40 hex digits, e.g. `USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq`), `mpt:<48 hex digits>` \
or `nft:<issuer>[:<taxon>]`";

/// A classic account address (`r...`), checked, with its 20-byte account id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    id: [u8; 20],
}

impl Address {
    /// Decodes and checks a classic address.
    pub fn parse(text: &str) -> Result<Address, String> {
        if text.is_empty() {
            return Err("the address is empty".into());
        }
        if text.starts_with('X') || text.starts_with('T') {
            return Err(format!(
                "{text:?} looks like an X-address; write the classic r-address instead"
            ));
        }
        if !text.starts_with('r') {
            return Err(format!(
                "{text:?} is not a classic XRPL address (those start with `r`)"
            ));
        }
        if text.len() < 25 || text.len() > 35 {
            return Err(format!(
                "{text:?} has {} characters; a classic XRPL address has 25 to 35",
                text.len()
            ));
        }
        let bytes = base58_decode(text).map_err(|e| format!("{text:?}: {e}"))?;
        if bytes.len() != 25 {
            return Err(format!(
                "{text:?} decodes to {} bytes; an address is 25 (version, 20-byte account id, checksum)",
                bytes.len()
            ));
        }
        if bytes[0] != ACCOUNT_VERSION {
            return Err(format!(
                "{text:?} has version byte 0x{:02x}, not an account address (0x00)",
                bytes[0]
            ));
        }
        if checksum(&bytes[..21]) != bytes[21..] {
            return Err(format!(
                "{text:?} has a wrong checksum (a mistyped character?)"
            ));
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&bytes[1..21]);
        Ok(Address { id })
    }

    /// The address of a 20-byte account id.
    pub fn from_account_id(id: [u8; 20]) -> Address {
        Address { id }
    }

    /// The 20-byte account id.
    pub fn account_id(&self) -> &[u8; 20] {
        &self.id
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = Vec::with_capacity(25);
        payload.push(ACCOUNT_VERSION);
        payload.extend_from_slice(&self.id);
        let sum = checksum(&payload);
        payload.extend_from_slice(&sum);
        f.write_str(&base58_encode(&payload))
    }
}

/// First four bytes of SHA-256(SHA-256(payload)).
fn checksum(payload: &[u8]) -> [u8; 4] {
    let twice = Sha256::digest(Sha256::digest(payload));
    [twice[0], twice[1], twice[2], twice[3]]
}

/// The value of each byte as a base58 digit (addresses are decoded for every
/// holder of every page, so no linear alphabet search).
const DIGIT_OF: [Option<u8>; 256] = {
    let mut table = [None; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = Some(i as u8);
        i += 1;
    }
    table
};

fn base58_decode(text: &str) -> Result<Vec<u8>, String> {
    // A little-endian number in base 2^32, grown five digits at a time
    // (58^5 < 2^32): a 34-character address takes seven multiply-adds over
    // at most seven limbs.
    let bytes = text.as_bytes();
    let mut limbs: Vec<u32> = Vec::with_capacity(8);
    for (start, chunk) in (0..).step_by(5).zip(bytes.chunks(5)) {
        let (mut value, mut scale) = (0u64, 1u64);
        for (j, &c) in chunk.iter().enumerate() {
            let Some(digit) = DIGIT_OF[usize::from(c)] else {
                let i = start + j;
                return Err(format!(
                    "character {:?} at position {} is not in the XRPL base58 alphabet",
                    text[i..].chars().next().unwrap_or('?'),
                    i + 1
                ));
            };
            value = value * 58 + u64::from(digit);
            scale *= 58;
        }
        let mut carry = value;
        for limb in limbs.iter_mut() {
            let x = u64::from(*limb) * scale + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
        while carry > 0 {
            limbs.push(carry as u32);
            carry >>= 32;
        }
    }
    // Every leading zero digit (`r`) is one leading zero byte.
    let zeros = bytes.iter().take_while(|&&c| c == ALPHABET[0]).count();
    let mut out = vec![0u8; zeros];
    out.extend(
        limbs
            .iter()
            .rev()
            .flat_map(|limb| limb.to_be_bytes())
            .skip_while(|&b| b == 0),
    );
    Ok(out)
}

fn base58_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Little-endian base-58 digits.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut text = String::with_capacity(zeros + digits.len());
    text.extend(std::iter::repeat_n(ALPHABET[0] as char, zeros));
    text.extend(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char));
    text
}

/// A 160-bit currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    bits: [u8; 20],
}

impl Currency {
    /// Parses a currency as written in a token id: a 3-character standard
    /// code or 40 hex digits. XRP (in either spelling) is refused: it is the
    /// native asset, not an issued token.
    pub fn parse(text: &str) -> Result<Currency, String> {
        let currency = match text.len() {
            3 => {
                let b = text.as_bytes();
                if let Some(bad) = b.iter().find(|c| !is_standard_char(**c)) {
                    return Err(format!(
                        "currency {text:?} contains {:?}; a 3-character code uses ASCII letters, \
                         digits and ?!@#$%^&*<>(){{}}[]|",
                        *bad as char
                    ));
                }
                let mut bits = [0u8; 20];
                bits[12..15].copy_from_slice(b);
                Currency { bits }
            }
            40 => {
                let mut bits = [0u8; 20];
                for (i, pair) in text.as_bytes().chunks(2).enumerate() {
                    let hi = hex_value(pair[0]);
                    let lo = hex_value(pair[1]);
                    let (Some(hi), Some(lo)) = (hi, lo) else {
                        return Err(format!(
                            "currency {text:?} is 40 characters but not hexadecimal"
                        ));
                    };
                    bits[i] = hi << 4 | lo;
                }
                if bits == [0u8; 20] {
                    return Err(
                        "currency 0000000000000000000000000000000000000000 is XRP, the native \
                         asset, not an issued token"
                            .into(),
                    );
                }
                Currency { bits }
            }
            n => {
                return Err(format!(
                    "currency {text:?} has {n} characters; it must be a 3-character code or \
                     40 hex digits"
                ));
            }
        };
        if currency.standard_code() == Some("XRP") {
            return Err("XRP is the native asset, not an issued token".into());
        }
        Ok(currency)
    }

    /// Parses a currency as a server writes it (either spelling); `None`
    /// when it is not a currency code at all.
    pub fn from_reply(text: &str) -> Option<Currency> {
        Currency::parse(text).ok()
    }

    /// The 3-character code when these bits are a standard code.
    pub fn standard_code(&self) -> Option<&str> {
        if is_standard_layout(&self.bits) {
            std::str::from_utf8(&self.bits[12..15]).ok()
        } else {
            None
        }
    }

    /// The 40-hex spelling, upper case.
    pub fn hex(&self) -> String {
        self.bits.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// A readable name for a non-standard code that holds ASCII text padded
    /// with zero bytes (a common convention, e.g. `534F4C4F00...` = `SOLO`).
    pub fn ascii_name(&self) -> Option<String> {
        if let Some(code) = self.standard_code() {
            return Some(code.to_string());
        }
        let end = self.bits.iter().rposition(|&b| b != 0)? + 1;
        let text = &self.bits[..end];
        (text.iter().all(|b| (0x20..0x7f).contains(b)) && text.len() > 3)
            .then(|| String::from_utf8_lossy(text).into_owned())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.standard_code() {
            Some(code) => f.write_str(code),
            None => f.write_str(&self.hex()),
        }
    }
}

fn is_standard_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || CURRENCY_SYMBOLS.contains(&c)
}

fn is_standard_layout(bits: &[u8; 20]) -> bool {
    bits[..12].iter().all(|&b| b == 0)
        && bits[15..].iter().all(|&b| b == 0)
        && bits[12..15].iter().all(|&c| is_standard_char(c))
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A Multi-Purpose Token issuance id: 32-bit sequence ‖ 20-byte issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MptIssuanceId {
    bytes: [u8; 24],
}

impl MptIssuanceId {
    /// Parses 48 hex digits (any case).
    pub fn parse(text: &str) -> Result<MptIssuanceId, String> {
        if text.len() != 48 {
            return Err(format!(
                "MPT issuance id {text:?} has {} characters; it is 48 hex digits",
                text.len()
            ));
        }
        let mut bytes = [0u8; 24];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
                return Err(format!("MPT issuance id {text:?} is not hexadecimal"));
            };
            bytes[i] = hi << 4 | lo;
        }
        Ok(MptIssuanceId { bytes })
    }

    /// The issuer encoded in the id (its last 20 bytes).
    pub fn issuer(&self) -> Address {
        let mut id = [0u8; 20];
        id.copy_from_slice(&self.bytes[4..]);
        Address::from_account_id(id)
    }

    /// The issuer's account sequence that created the issuance.
    pub fn sequence(&self) -> u32 {
        u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }
}

impl fmt::Display for MptIssuanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.bytes {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// A token id, parsed and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenId {
    /// A trust-line token: `currency` issued by `issuer`.
    Issued { currency: Currency, issuer: Address },
    /// A Multi-Purpose Token issuance.
    Mpt(MptIssuanceId),
    /// The NFTs minted by `issuer`, optionally one taxon only.
    Nft { issuer: Address, taxon: Option<u32> },
}

impl TokenId {
    /// Parses a token id; the error says what is wrong and the syntax.
    pub fn parse(text: &str) -> Result<TokenId, String> {
        TokenId::parse_inner(text.trim()).map_err(|e| format!("{e}; {SYNTAX}"))
    }

    fn parse_inner(text: &str) -> Result<TokenId, String> {
        if text.is_empty() {
            return Err("the token id is empty".into());
        }
        if let Some(rest) = strip_prefix_ignore_case(text, "mpt:") {
            return Ok(TokenId::Mpt(MptIssuanceId::parse(rest)?));
        }
        if let Some(rest) = strip_prefix_ignore_case(text, "nft:") {
            let (issuer, taxon) = match rest.split_once(':') {
                Some((issuer, taxon)) => {
                    if taxon.is_empty() || !taxon.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("NFT taxon {taxon:?} is not a decimal number"));
                    }
                    let taxon = taxon.parse::<u32>().map_err(|_| {
                        format!("NFT taxon {taxon} is above 4294967295 (taxons are 32-bit)")
                    })?;
                    (issuer, Some(taxon))
                }
                None => (rest, None),
            };
            let issuer = Address::parse(issuer).map_err(|e| format!("NFT issuer: {e}"))?;
            return Ok(TokenId::Nft { issuer, taxon });
        }
        let Some((currency, issuer)) = text.split_once('.') else {
            return Err(format!("{text:?} has no `.` between currency and issuer"));
        };
        let currency = Currency::parse(currency)?;
        let issuer = Address::parse(issuer).map_err(|e| format!("issuer: {e}"))?;
        Ok(TokenId::Issued { currency, issuer })
    }

    /// The account whose objects are read (issuer of the token).
    pub fn issuer(&self) -> Address {
        match self {
            TokenId::Issued { issuer, .. } | TokenId::Nft { issuer, .. } => *issuer,
            TokenId::Mpt(id) => id.issuer(),
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenId::Issued { currency, issuer } => write!(f, "{currency}.{issuer}"),
            TokenId::Mpt(id) => write!(f, "mpt:{id}"),
            TokenId::Nft {
                issuer,
                taxon: None,
            } => write!(f, "nft:{issuer}"),
            TokenId::Nft {
                issuer,
                taxon: Some(t),
            } => write!(f, "nft:{issuer}:{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BITSTAMP: &str = "rvYAfWj5gh67oV6fW32ZzP3Aw4Eubs59B";
    const GATEHUB: &str = "rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq";

    /// Every account named in the recorded replies under shared/fixtures.
    const FIXTURE_ADDRESSES: &[&str] = &[
        "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59",
        "r3vi7mWxru9rJCxETCyA1CHvzL96eZWx5z",
        "rMwjYedjc7qqtKYVLiAccJSmCwih4LnE2q",
        "rHpXfibHgSb64n8kK9QWDpdbfqSpYbM9a4",
        "rG1QQv2nh2gr7RCZ1P8YYcBUKCCN633jCn",
        "rsNw23ygZatXv7h8QVSgAE4jktY2uW1iZP",
        "rfXeQv31yWMrhhPxMHZRzQqhw5mQrcuici",
        "rLaBCoaMQqXzHDmiGs2Qv2JA2bg3Yvzxyt",
        "rrrrrrrrrrrrrrrrrrrrBZbvji",
        BITSTAMP,
        GATEHUB,
    ];

    #[test]
    fn fixture_addresses_pass_the_checksum_and_round_trip() {
        for a in FIXTURE_ADDRESSES {
            let parsed = Address::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(parsed.to_string(), *a);
        }
    }

    #[test]
    fn the_all_zero_account_id_encodes_to_the_well_known_address() {
        assert_eq!(
            Address::from_account_id([0; 20]).to_string(),
            "rrrrrrrrrrrrrrrrrrrrrhoLvTp"
        );
    }

    #[test]
    fn a_mistyped_address_fails_the_checksum() {
        // Last character changed.
        let e = Address::parse("rhub8VRN55s94qWKDv6jmDy1pUykJzF3wr").unwrap_err();
        assert!(e.contains("checksum"), "{e}");
        // Two characters swapped.
        let e = Address::parse("rhbu8VRN55s94qWKDv6jmDy1pUykJzF3wq").unwrap_err();
        assert!(e.contains("checksum"), "{e}");
    }

    #[test]
    fn bad_address_shapes_say_what_is_wrong() {
        let e = Address::parse("rhub8VRN55s94qWKDv6jmDy1pUykJzF3w0").unwrap_err();
        assert!(e.contains("alphabet"), "{e}");
        let e = Address::parse("X7AcgcsBL6XDcUb289X4mJ8djcdyKaB5hJDWMArnXr61cqZ").unwrap_err();
        assert!(e.contains("X-address"), "{e}");
        let e = Address::parse("0x1234").unwrap_err();
        assert!(e.contains("start with `r`"), "{e}");
        let e = Address::parse("rhub8VRN").unwrap_err();
        assert!(e.contains("characters"), "{e}");
    }

    #[test]
    fn both_spellings_of_a_standard_currency_are_one_token() {
        let short = TokenId::parse(&format!("USD.{GATEHUB}")).unwrap();
        let long = TokenId::parse(&format!(
            "0000000000000000000000005553440000000000.{GATEHUB}"
        ))
        .unwrap();
        assert_eq!(short, long);
        assert_eq!(long.to_string(), format!("USD.{GATEHUB}"));
    }

    #[test]
    fn a_non_standard_currency_is_canonical_upper_case_hex() {
        let t = TokenId::parse(&format!(
            "534f4c4f00000000000000000000000000000000.{GATEHUB}"
        ))
        .unwrap();
        assert_eq!(
            t.to_string(),
            format!("534F4C4F00000000000000000000000000000000.{GATEHUB}")
        );
        let TokenId::Issued { currency, .. } = t else {
            panic!()
        };
        assert_eq!(currency.ascii_name().as_deref(), Some("SOLO"));
        assert_eq!(currency.standard_code(), None);
    }

    #[test]
    fn bad_currencies_are_refused_with_a_reason() {
        for (currency, needle) in [
            ("XRP", "native"),
            ("0000000000000000000000005852500000000000", "native"),
            ("0000000000000000000000000000000000000000", "XRP"),
            ("US", "2 characters"),
            ("USDT", "4 characters"),
            ("000000000000000000000000555344000000000", "39 characters"),
            (
                "000000000000000000000000555344000000000G",
                "not hexadecimal",
            ),
            ("U D", "contains ' '"),
        ] {
            let e = TokenId::parse(&format!("{currency}.{GATEHUB}")).unwrap_err();
            assert!(e.contains(needle), "{currency}: {e}");
            assert!(e.contains("expected `<currency>.<issuer>`"), "{e}");
        }
    }

    #[test]
    fn currency_codes_are_case_sensitive_and_allow_symbols() {
        let a = Currency::parse("usd").unwrap();
        let b = Currency::parse("USD").unwrap();
        assert_ne!(a, b);
        assert_eq!(Currency::parse("$$$").unwrap().to_string(), "$$$");
        assert_eq!(
            Currency::parse("0000000000000000000000007573640000000000").unwrap(),
            a
        );
    }

    #[test]
    fn a_bad_issuer_checksum_is_an_invalid_token() {
        let e = TokenId::parse("USD.rhub8VRN55s94qWKDv6jmDy1pUykJzF3wr").unwrap_err();
        assert!(e.starts_with("issuer:") && e.contains("checksum"), "{e}");
        let e = TokenId::parse("nft:rhub8VRN55s94qWKDv6jmDy1pUykJzF3wr").unwrap_err();
        assert!(e.contains("NFT issuer") && e.contains("checksum"), "{e}");
        let e = TokenId::parse("USD").unwrap_err();
        assert!(e.contains("no `.`"), "{e}");
    }

    #[test]
    fn mpt_ids_parse_and_carry_their_issuer() {
        let t = TokenId::parse("mpt:05eecebe97a7d635de2393068691a015fed5a89ad203f5aa").unwrap();
        assert_eq!(
            t.to_string(),
            "mpt:05EECEBE97A7D635DE2393068691A015FED5A89AD203F5AA"
        );
        let TokenId::Mpt(id) = t else { panic!() };
        assert_eq!(id.sequence(), 0x05EECEBE);
        // The issuer is a valid address by construction.
        let issuer = id.issuer().to_string();
        assert_eq!(Address::parse(&issuer).unwrap(), id.issuer());
        for bad in [
            "mpt:05EE",
            "mpt:05EECEBE97A7D635DE2393068691A015FED5A89AD203F5AZ",
        ] {
            assert!(TokenId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nft_collections_with_and_without_taxon() {
        let t = TokenId::parse(&format!("nft:{GATEHUB}")).unwrap();
        assert_eq!(
            t,
            TokenId::Nft {
                issuer: Address::parse(GATEHUB).unwrap(),
                taxon: None
            }
        );
        let t = TokenId::parse(&format!("NFT:{GATEHUB}:42")).unwrap();
        assert_eq!(t.to_string(), format!("nft:{GATEHUB}:42"));
        for bad in [
            format!("nft:{GATEHUB}:"),
            format!("nft:{GATEHUB}:-1"),
            format!("nft:{GATEHUB}:4294967296"),
            format!("nft:{GATEHUB}:1:2"),
        ] {
            assert!(TokenId::parse(&bad).is_err(), "{bad}");
        }
    }

    // ----- properties: any text is parsed exactly or refused -----

    use proptest::prelude::*;

    const BASE58: &str = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

    proptest! {
        #[test]
        fn every_account_id_round_trips_through_its_address(id: [u8; 20]) {
            let address = Address::from_account_id(id).to_string();
            let parsed = Address::parse(&address).map_err(TestCaseError::fail)?;
            prop_assert_eq!(parsed.account_id(), &id);
        }

        #[test]
        fn one_mistyped_character_fails_the_checksum(id: [u8; 20], at: usize, with in 0usize..58) {
            let address = Address::from_account_id(id).to_string();
            let at = 1 + at % (address.len() - 1);
            let replacement = BASE58.as_bytes()[with] as char;
            prop_assume!(address.as_bytes()[at] as char != replacement);
            let mut typo = address.clone();
            typo.replace_range(at..at + 1, &replacement.to_string());
            prop_assert!(Address::parse(&typo).is_err(), "{} accepted for {}", typo, address);
        }

        #[test]
        fn issued_tokens_round_trip_in_both_currency_spellings(
            code in "[A-Za-z0-9?!@#$%^&*<>(){}\\[\\]|]{3}", id: [u8; 20]
        ) {
            prop_assume!(!code.eq_ignore_ascii_case("XRP"));
            let issuer = Address::from_account_id(id);
            let short = TokenId::parse(&format!("{code}.{issuer}")).map_err(TestCaseError::fail)?;
            let TokenId::Issued { currency, .. } = &short else {
                return Err(TestCaseError::fail("not an issued token"));
            };
            let long = TokenId::parse(&format!("{}.{issuer}", currency.hex())).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&short, &long);
            prop_assert_eq!(TokenId::parse(&short.to_string()), Ok(short));
        }

        #[test]
        fn any_text_is_parsed_exactly_or_refused_with_the_syntax(
            text in prop_oneof![
                "[A-Za-z0-9.:]{0,60}",
                "(mpt|MPT|nft|NFT):[0-9A-Fa-fr:]{0,60}",
                "[A-Z]{3}\\.r[1-9A-HJ-NP-Za-km-z]{20,40}",
                any::<String>(),
            ]
        ) {
            match TokenId::parse(&text) {
                // What parses, prints to a spelling that parses to the same.
                Ok(id) => prop_assert_eq!(TokenId::parse(&id.to_string()), Ok(id)),
                Err(e) => prop_assert!(e.ends_with(SYNTAX), "{}: {}", text, e),
            }
        }
    }
}
