//! Stellar account ids (`G...` strkeys): RFC 4648 base32 of `version byte (6 << 3) ‖ 32-byte
//! ed25519 key ‖ CRC16-XModem (little-endian)`. Generated ids are therefore real, valid account
//! ids that any Stellar library accepts. Written independently of the plugin's decoder, so the
//! end-to-end tests check one against the other.

use std::fmt;

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Version byte of an ed25519 public key, which is why account ids start with `G`.
const VERSION_ACCOUNT_ID: u8 = 6 << 3;

/// A 32-byte ed25519 public key. Ordered by its `G...` text, which is the order Horizon lists
/// accounts in (and pages them by).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// The `n`-th account of a generator seeded with `seed`: deterministic, spread over the key
    /// space like real keys.
    pub fn from_seed(seed: u64, n: u64) -> Self {
        let digest = Sha256::new()
            .chain_update(b"ledger-simulators/horizon/account")
            .chain_update(seed.to_be_bytes())
            .chain_update(n.to_be_bytes())
            .finalize();
        let mut key = [0u8; 32];
        key.copy_from_slice(&digest);
        Self(key)
    }

    /// Parses a `G...` account id; `None` when the length, alphabet, version byte or checksum is
    /// wrong.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 56 {
            return None;
        }
        let bytes = base32_decode(text)?;
        if bytes.len() != 35 || bytes[0] != VERSION_ACCOUNT_ID {
            return None;
        }
        if u16::from_le_bytes([bytes[33], bytes[34]]) != crc16_xmodem(&bytes[..33]) {
            return None;
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[1..33]);
        Some(Self(key))
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

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.encode())
    }
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0).
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c)? as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_round_trip() {
        for n in 0..200 {
            let id = AccountId::from_seed(7, n);
            let text = id.encode();
            assert!(text.starts_with('G') && text.len() == 56, "{text}");
            assert_eq!(AccountId::parse(&text), Some(id));
        }
    }

    #[test]
    fn a_real_account_id_parses_and_a_typo_does_not() {
        // Circle's USDC issuer on mainnet.
        let real = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
        let id = AccountId::parse(real).expect("a real id");
        assert_eq!(id.encode(), real);
        let typo = real.replacen("GA5Z", "GA5Y", 1);
        assert_eq!(AccountId::parse(&typo), None);
    }
}
