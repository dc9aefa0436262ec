//! Hedera entity ids and consensus timestamps, parsed and printed the way the mirror node does.

use std::fmt;

/// Bit widths of the mirror node's encoded entity id (`shard << 54 | realm << 38 | num`).
const NUM_BITS: u32 = 38;
const REALM_BITS: u32 = 16;
const SHARD_BITS: u32 = 10;

/// A Hedera entity id `shard.realm.num` (account, token, ...).
///
/// The derived ordering is the ordering of the encoded id, which is how the mirror node sorts rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityId {
    pub shard: u64,
    pub realm: u64,
    pub num: u64,
}

impl EntityId {
    /// `0.0.num`.
    pub const fn new(num: u64) -> Self {
        Self {
            shard: 0,
            realm: 0,
            num,
        }
    }

    /// Builds an id, rejecting parts that do not fit the mirror node's encoding.
    pub fn try_from_parts(shard: u64, realm: u64, num: u64) -> Option<Self> {
        (shard < 1 << SHARD_BITS && realm < 1 << REALM_BITS && num < 1 << NUM_BITS)
            .then_some(Self { shard, realm, num })
    }

    /// The mirror node's 64-bit encoding; equal to `num` for `0.0.num`.
    pub const fn encoded(self) -> u64 {
        (self.shard << (NUM_BITS + REALM_BITS)) | (self.realm << NUM_BITS) | self.num
    }

    pub const fn from_encoded(id: u64) -> Self {
        Self {
            shard: id >> (NUM_BITS + REALM_BITS),
            realm: (id >> NUM_BITS) & ((1 << REALM_BITS) - 1),
            num: id & ((1 << NUM_BITS) - 1),
        }
    }

    /// Parses `num`, `realm.num` or `shard.realm.num` (the forms query filters accept).
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut nums = [0u64; 3];
        let offset = 3 - parts.len();
        for (slot, part) in parts.iter().enumerate() {
            nums[offset + slot] = parse_digits(part)?;
        }
        Self::try_from_parts(nums[0], nums[1], nums[2])
    }

    /// Parses a token id path parameter: the plain forms plus the "long-zero" EVM address
    /// (`<40 hex>`, `0x<40 hex>`, `shard.realm.<40 hex>`), which encodes shard (4 bytes),
    /// realm (8 bytes) and num (8 bytes). Any other 20-byte address would need an alias lookup
    /// that tokens do not have, so the mirror node rejects it, and so do we.
    pub fn parse_token_path(text: &str) -> Option<Self> {
        if let Some(id) = Self::parse(text) {
            return Some(id);
        }
        let hex = if let Some(hex) = text.strip_prefix("0x") {
            hex
        } else if let Some((prefix, hex)) = text.rsplit_once('.') {
            // `shard.realm.` prefix: two numeric parts, and never combined with `0x`.
            let (shard, realm) = prefix.split_once('.')?;
            parse_digits(shard)?;
            parse_digits(realm)?;
            hex
        } else {
            text
        };
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let shard = u64::from_str_radix(&hex[0..8], 16).ok()?;
        let realm = u64::from_str_radix(&hex[8..24], 16).ok()?;
        let num = u64::from_str_radix(&hex[24..40], 16).ok()?;
        Self::try_from_parts(shard, realm, num)
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.shard, self.realm, self.num)
    }
}

fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a consensus timestamp `seconds[.nanos]` (up to 9 fraction digits) into nanoseconds.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let (secs, nanos) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || secs.len() > 10 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.contains('.') && (nanos.is_empty() || nanos.len() > 9) {
        return None;
    }
    if !nanos.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let nanos: u64 = if nanos.is_empty() {
        0
    } else {
        format!("{nanos:0<9}").parse().ok()?
    };
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Formats nanoseconds as the mirror node does: `seconds.nnnnnnnnn`.
pub fn format_timestamp(nanos: u64) -> String {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entity_forms() {
        assert_eq!(EntityId::parse("8"), Some(EntityId::new(8)));
        assert_eq!(EntityId::parse("0.8"), Some(EntityId::new(8)));
        assert_eq!(EntityId::parse("0.0.8"), Some(EntityId::new(8)));
        assert_eq!(EntityId::parse("0.1.2.3"), None);
        assert_eq!(EntityId::parse("2abcd"), None);
        let id = EntityId::parse("0.16.1").unwrap();
        assert_eq!(EntityId::from_encoded(id.encoded()), id);
    }

    #[test]
    fn parses_long_zero_addresses() {
        let want = Some(EntityId::new(1135));
        assert_eq!(
            EntityId::parse_token_path("000000000000000000000000000000000000046F"),
            want
        );
        assert_eq!(
            EntityId::parse_token_path("0x000000000000000000000000000000000000046F"),
            want
        );
        assert_eq!(
            EntityId::parse_token_path("0.0.000000000000000000000000000000000000046F"),
            want
        );
        assert_eq!(
            EntityId::parse_token_path("0.0.0x000000000000000000000000000000000000046F"),
            None
        );
        assert_eq!(
            EntityId::parse_token_path("06bd279138d5918402fc8ad500526cb2ee0eb985"),
            None
        );
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(
            parse_timestamp("1566560003.000000000"),
            Some(1_566_560_003_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1566560003.5"),
            Some(1_566_560_003_500_000_000)
        );
        assert_eq!(parse_timestamp("12"), Some(12_000_000_000));
        assert_eq!(parse_timestamp("-1"), None);
        assert_eq!(parse_timestamp("-1.2"), None);
        assert_eq!(parse_timestamp("1."), None);
        assert_eq!(format_timestamp(5432), "0.000005432");
    }
}
