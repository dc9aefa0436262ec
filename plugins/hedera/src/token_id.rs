//! Hedera entity ids: `shard.realm.num`.

use std::fmt;

/// A parsed Hedera entity id (token or account).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId {
    pub shard: u64,
    pub realm: u64,
    pub num: u64,
}

/// The accepted syntax, quoted in every error.
pub const SYNTAX: &str =
    "expected `shard.realm.num`, three decimal numbers separated by dots (e.g. `0.0.456858`)";

impl EntityId {
    /// Parses `shard.realm.num`; each part is one or more ASCII digits (any
    /// length, leading zeros allowed) that fits in 64 bits.
    pub fn parse(text: &str) -> Result<EntityId, String> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 {
            return Err(format!("`{text}` is not a Hedera token id: {SYNTAX}"));
        }
        let mut nums = [0u64; 3];
        for (slot, part) in nums.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{text}` is not a Hedera token id: {SYNTAX}"));
            }
            // Leading zeros do not change the value; trimming them first keeps
            // "any number of digits" from overflowing on harmless padding.
            let trimmed = part.trim_start_matches('0');
            *slot = if trimmed.is_empty() {
                0
            } else {
                trimmed.parse::<u64>().map_err(|_| {
                    format!("`{text}` is not a Hedera token id: `{part}` is too large")
                })?
            };
        }
        Ok(EntityId {
            shard: nums[0],
            realm: nums[1],
            num: nums[2],
        })
    }

    /// The same shard and realm with another number (account ids of a shard
    /// and realm are ordered by `num` alone).
    pub fn with_num(self, num: u64) -> EntityId {
        EntityId { num, ..self }
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.shard, self.realm, self.num)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_parse() {
        let id = EntityId::parse("0.0.456858").unwrap();
        assert_eq!(id.to_string(), "0.0.456858");
        assert_eq!(
            EntityId::parse("1.22.333333333333").unwrap().num,
            333_333_333_333
        );
    }

    #[test]
    fn leading_zeros_are_the_same_entity() {
        assert_eq!(
            EntityId::parse("000.0.0000123").unwrap(),
            EntityId::parse("0.0.123").unwrap()
        );
    }

    #[test]
    fn malformed_ids_are_rejected_with_the_syntax() {
        for bad in [
            "",
            "0.0",
            "0.0.1.2",
            "0.0.x",
            "0..1",
            "a.b.c",
            "0.0.-1",
            " 0.0.1",
            "0.0.1 ",
            "0.0.1e3",
            "0x1.0.0",
            "0.0.99999999999999999999999",
        ] {
            let err = EntityId::parse(bad).unwrap_err();
            assert!(err.contains("not a Hedera token id"), "{bad}: {err}");
        }
    }

    // ----- properties: any text is parsed exactly or refused -----

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_id_round_trips_with_any_leading_zeros(
            shard: u64, realm: u64, num: u64, zeros in proptest::collection::vec(0usize..30, 3)
        ) {
            let pad = |n: u64, z: usize| format!("{}{n}", "0".repeat(z));
            let text = format!("{}.{}.{}", pad(shard, zeros[0]), pad(realm, zeros[1]), pad(num, zeros[2]));
            let id = EntityId::parse(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(id, EntityId { shard, realm, num });
            prop_assert_eq!(EntityId::parse(&id.to_string()), Ok(id));
        }

        #[test]
        fn any_text_is_parsed_exactly_or_refused_with_the_syntax(
            text in prop_oneof![
                "[0-9.]{0,30}",
                "[0-9.+ x\u{660}-\u{669}\u{ff10}-\u{ff19}-]{0,24}",
                "[0-9]{15,25}\\.[0-9]{1,25}\\.[0-9]{1,25}",
                any::<String>(),
            ]
        ) {
            match EntityId::parse(&text) {
                Ok(id) => {
                    let parts: Vec<&str> = text.split('.').collect();
                    prop_assert_eq!(parts.len(), 3, "{}", text);
                    for (part, value) in parts.iter().zip([id.shard, id.realm, id.num]) {
                        prop_assert!(!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()), "{}", text);
                        let exact: u128 = part.trim_start_matches('0').parse().unwrap_or(0);
                        prop_assert_eq!(exact, u128::from(value), "{}", text);
                    }
                }
                Err(e) => prop_assert!(e.contains("is not a Hedera token id"), "{}: {}", text, e),
            }
        }
    }
}
