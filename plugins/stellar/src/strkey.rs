//! Stellar account ids (`G...` strkeys): decoding and full checking.
//!
//! A strkey is RFC 4648 base32 (upper case, no padding) of
//! `version byte ‖ payload ‖ CRC16-XModem(version ‖ payload)`, the checksum
//! little-endian. An account id's version byte is `6 << 3` (which is why it
//! starts with `G`) and its payload a 32-byte ed25519 public key: 35 bytes,
//! exactly 56 characters.
//!
//! Every id is checked completely (length, alphabet, version byte, checksum)
//! before any request: a typo in an issuer must never turn into "this asset
//! has no holders".

use std::fmt;

/// The RFC 4648 base32 alphabet.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Version byte of an ed25519 public key (account id), `G...`.
pub const VERSION_ACCOUNT_ID: u8 = 6 << 3;

/// Characters of an encoded account id: 35 bytes × 8 / 5.
pub const ACCOUNT_ID_LEN: usize = 56;

/// What other strkey kinds start with, to name them in errors.
const OTHER_KINDS: &[(char, &str)] = &[
    (
        'S',
        "a secret seed (S...): never paste a secret key anywhere; the issuer is the public account id (G...)",
    ),
    (
        'M',
        "a muxed account (M...); give the underlying account id (G...)",
    ),
    (
        'C',
        "a contract address (C...); Soroban tokens are not supported, give the classic asset's issuer (G...)",
    ),
    (
        'T',
        "a pre-authorized transaction hash (T...), not an account",
    ),
    ('X', "a hash-x signer (X...), not an account"),
    ('P', "a signed-payload signer (P...), not an account"),
    ('L', "a liquidity pool id (L...), not an account"),
    ('B', "a claimable balance id (B...), not an account"),
];

/// A checked Stellar account id (its 32-byte ed25519 public key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId([u8; 32]);

impl AccountId {
    /// Decodes and checks a `G...` account id. The error says exactly what is
    /// wrong (and never echoes a secret seed back).
    pub fn parse(text: &str) -> Result<AccountId, String> {
        if text.is_empty() {
            return Err("the account id is empty".into());
        }
        let first = text.chars().next().expect("not empty");
        if first != 'G' {
            if let Some((_, what)) = OTHER_KINDS.iter().find(|(c, _)| *c == first) {
                // Do not repeat the text: it may be a secret.
                return Err(format!("that is {what}"));
            }
            return Err(format!(
                "{text:?} is not a Stellar account id (those start with `G`)"
            ));
        }
        if text.len() != ACCOUNT_ID_LEN || !text.is_ascii() {
            return Err(format!(
                "{text:?} has {} characters; a Stellar account id has {ACCOUNT_ID_LEN}",
                text.chars().count()
            ));
        }
        let bytes = base32_decode(text).map_err(|e| format!("{text:?}: {e}"))?;
        debug_assert_eq!(bytes.len(), 35);
        if bytes[0] != VERSION_ACCOUNT_ID {
            return Err(format!(
                "{text:?} has version byte 0x{:02x}, not an account id's (0x{VERSION_ACCOUNT_ID:02x}); \
                 the second character of an account id is A, B, C or D",
                bytes[0]
            ));
        }
        let stored = u16::from_le_bytes([bytes[33], bytes[34]]);
        let computed = crc16_xmodem(&bytes[..33]);
        if stored != computed {
            return Err(format!(
                "{text:?} fails its checksum (a typo?): it carries 0x{stored:04x}, its content gives 0x{computed:04x}"
            ));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..33]);
        Ok(AccountId(key))
    }

    /// The account id of a 32-byte ed25519 public key.
    pub fn from_public_key(key: [u8; 32]) -> AccountId {
        AccountId(key)
    }

    /// The 32-byte ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `G...` text.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(35);
        bytes.push(VERSION_ACCOUNT_ID);
        bytes.extend_from_slice(&self.0);
        let crc = crc16_xmodem(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        base32_encode(&bytes)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no
/// final xor (what stellar-core and every SDK use for strkeys).
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Base32 decoding of unpadded text whose bit length is a whole number of
/// bytes (as every strkey's is).
fn base32_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            b'a'..=b'z' => {
                return Err(format!(
                    "character {:?} at position {} is lower case; Stellar account ids are upper case",
                    c as char,
                    i + 1
                ));
            }
            _ => {
                return Err(format!(
                    "character {:?} at position {} is not base32 (A-Z, 2-7)",
                    c as char,
                    i + 1
                ));
            }
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if bits >= 5 || buffer != 0 {
        return Err("its length is not a whole number of bytes".into());
    }
    Ok(out)
}

/// Base32 encoding without padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real account ids (Circle's USDC issuer on mainnet, the account from
    /// Horizon's documentation examples).
    const REAL: &[&str] = &[
        "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
        "GBRPYHIL2CI3FNQ4BXLFMNDLFJUNPU2HY3ZMFSHONUCEOASW7QC7OX2H",
    ];

    #[test]
    fn the_crc_is_xmodem() {
        // The standard check value of CRC-16/XMODEM.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        assert_eq!(crc16_xmodem(b""), 0);
    }

    #[test]
    fn real_account_ids_parse_and_encode_back_unchanged() {
        for id in REAL {
            let parsed = AccountId::parse(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(parsed.encode(), *id);
        }
    }

    #[test]
    fn every_key_round_trips_and_starts_with_g() {
        for seed in 0..=255u8 {
            let key = [seed; 32];
            let id = AccountId::from_public_key(key);
            let text = id.to_string();
            assert_eq!(text.len(), ACCOUNT_ID_LEN);
            assert!(text.starts_with('G'));
            assert_eq!(AccountId::parse(&text), Ok(id));
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let good = REAL[0];
        // Change every position of the key and checksum part in turn.
        for i in 2..good.len() {
            let mut bytes = good.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bytes).unwrap();
            let err = AccountId::parse(&bad).unwrap_err();
            assert!(
                err.contains("checksum") || err.contains("whole number of bytes"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn wrong_versions_lengths_and_characters_are_named() {
        let g = REAL[0];
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (format!("S{}", &g[1..]), "secret seed"),
            (format!("M{}", &g[1..]), "muxed"),
            (format!("C{}", &g[1..]), "contract"),
            (
                "rhub8VRN55s94qWKDv6jmDy1pUykJzF3wq".into(),
                "start with `G`",
            ),
            (g[..55].to_string(), "55 characters"),
            (format!("{g}A"), "57 characters"),
            (g.to_lowercase().replacen('g', "G", 1), "lower case"),
            (format!("{}1{}", &g[..10], &g[11..]), "not base32"),
            (format!("GZ{}", &g[2..]), "version byte"),
        ];
        for (text, expected) in cases {
            let err = AccountId::parse(&text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_secret_seed_is_never_echoed_in_the_error() {
        let seed = "SBPQUZ6G4FZNWFHKUWC5BEYWF6R52E3SEP7R3GWYSM2XTKGF5LNTWW4R";
        let err = AccountId::parse(seed).unwrap_err();
        assert!(!err.contains(seed), "{err}");
    }
}
