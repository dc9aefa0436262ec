//! Classic XRPL addresses: base58check over `0x00 ‖ 20-byte account id`, with the XRPL alphabet
//! and the first four bytes of a double SHA-256 as checksum. Generated addresses are therefore
//! real, valid addresses that any XRPL library accepts.

use std::fmt;

use sha2::{Digest, Sha256};

/// The XRPL base58 alphabet (not Bitcoin's: `r` is the zero digit, hence every address starts
/// with `r`).
const ALPHABET: &[u8; 58] = b"rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

/// Type prefix of an account id in base58check.
const ACCOUNT_ID_PREFIX: u8 = 0x00;

/// A 20-byte account id. Ordered by bytes, which is the order rippled and Clio use for account
/// keys (and so for Clio's `mpt_holders` paging).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub [u8; 20]);

impl AccountId {
    /// The `n`-th account of a generator seeded with `seed`: deterministic, spread over the id
    /// space like real hashed ids.
    pub fn from_seed(seed: u64, n: u64) -> Self {
        let digest = Sha256::new()
            .chain_update(b"ledger-simulators/xrpl/account")
            .chain_update(seed.to_be_bytes())
            .chain_update(n.to_be_bytes())
            .finalize();
        let mut id = [0u8; 20];
        id.copy_from_slice(&digest[..20]);
        Self(id)
    }

    /// Parses a classic address (`r...`); `None` when the alphabet, length, type prefix or
    /// checksum is wrong.
    pub fn from_address(address: &str) -> Option<Self> {
        let bytes = base58_decode(address)?;
        if bytes.len() != 25 || bytes[0] != ACCOUNT_ID_PREFIX {
            return None;
        }
        let (payload, checksum) = bytes.split_at(21);
        if checksum != &double_sha256(payload)[..4] {
            return None;
        }
        let mut id = [0u8; 20];
        id.copy_from_slice(&payload[1..]);
        Some(Self(id))
    }

    /// The classic address.
    pub fn to_address(&self) -> String {
        let mut bytes = Vec::with_capacity(25);
        bytes.push(ACCOUNT_ID_PREFIX);
        bytes.extend_from_slice(&self.0);
        let checksum = double_sha256(&bytes);
        bytes.extend_from_slice(&checksum[..4]);
        base58_encode(&bytes)
    }

    /// 40 upper-case hex digits (Clio's `mpt_holders` marker format).
    pub fn to_hex(&self) -> String {
        hex_upper(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = parse_hex(text)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_address())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_address())
    }
}

/// Deterministic addresses from a seed: `AddressGenerator::new(7).take(3)`.
#[derive(Debug, Clone)]
pub struct AddressGenerator {
    seed: u64,
    next: u64,
}

impl AddressGenerator {
    pub fn new(seed: u64) -> Self {
        Self { seed, next: 0 }
    }
}

impl Iterator for AddressGenerator {
    type Item = AccountId;
    fn next(&mut self) -> Option<AccountId> {
        let id = AccountId::from_seed(self.seed, self.next);
        self.next += 1;
        Some(id)
    }
}

fn double_sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(bytes)).into()
}

/// SHA-256 of the parts, for deterministic 256-bit keys and hashes (ledger hashes, object ids).
pub(crate) fn sha256_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// Parses hex of either case; `None` on odd length or a non-hex digit.
pub(crate) fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn base58_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    // Base-58 digits, least significant first, by repeated division of the big-endian number.
    let mut digits: Vec<u8> = Vec::with_capacity(bytes.len() * 138 / 100 + 1);
    for &byte in &bytes[zeros..] {
        let mut carry = u32::from(byte);
        for digit in digits.iter_mut() {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n(ALPHABET[0] as char, zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|&d| ALPHABET[usize::from(d)] as char),
    );
    out
}

fn base58_decode(text: &str) -> Option<Vec<u8>> {
    let zeros = text.bytes().take_while(|&c| c == ALPHABET[0]).count();
    // Bytes, least significant first.
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes().skip(zeros) {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for byte in bytes.iter_mut() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(bytes.iter().rev());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_zero_and_one_have_their_well_known_addresses() {
        assert_eq!(
            AccountId([0; 20]).to_address(),
            "rrrrrrrrrrrrrrrrrrrrrhoLvTp"
        );
        let mut one = [0u8; 20];
        one[19] = 1;
        assert_eq!(AccountId(one).to_address(), "rrrrrrrrrrrrrrrrrrrrBZbvji");
    }

    #[test]
    fn generated_addresses_round_trip_and_bad_checksums_are_rejected() {
        for id in AddressGenerator::new(3).take(200) {
            let address = id.to_address();
            assert!(address.starts_with('r'));
            assert_eq!(AccountId::from_address(&address), Some(id));
            let mut broken = address.into_bytes();
            let last = broken.len() - 1;
            broken[last] = if broken[last] == b'r' { b'p' } else { b'r' };
            assert_eq!(
                AccountId::from_address(std::str::from_utf8(&broken).unwrap()),
                None
            );
        }
        assert_eq!(AccountId::from_address("r0OIl"), None);
    }

    #[test]
    fn hex_round_trips() {
        let id = AccountId::from_seed(1, 2);
        assert_eq!(AccountId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(parse_hex("0g"), None);
    }
}
