//! Hostile replies for plugins' property tests (feature `test-util`).
//!
//! A plugin's walk must end with an answer, `Ok` or an error, whatever the
//! upstream server says. Its property test puts a fake server behind a
//! hostile one that spoils the fake's replies in turn: cut short, a byte
//! changed, another status, another body, a transport error, or a value of
//! the body replaced by an extreme one. This module holds the part every
//! chain shares: the [`Spoil`]s, their [`spoil`] strategy and [`apply`],
//! which spoils one reply. What is chain-specific (the statuses, bodies and
//! extreme values to try, how a value is found in a body) the chain passes in.
//!
//! ```
//! use proptest::prelude::*;
//! use snapshot_plugin_sdk::hostile::{self, Spoil};
//!
//! // The chain's own spoil: every `"n"` of the body replaced by a value.
//! fn spoil() -> impl Strategy<Value = Spoil<String>> {
//!     hostile::spoil(
//!         prop_oneof![Just(429u16), any::<u16>()],
//!         prop_oneof![Just(String::new()), "\\PC{0,40}"],
//!         prop_oneof![Just("-1".to_string()), Just("null".to_string())],
//!     )
//! }
//!
//! let swap = |body: &str, text: &String| body.replace("\"n\":1", &format!("\"n\":{text}"));
//! let reply = (200, br#"{"n":1}"#.to_vec());
//! let spoiled = hostile::apply(&Spoil::Value("-1".to_string()), reply, swap);
//! assert_eq!(spoiled.unwrap(), (200, br#"{"n":-1}"#.to_vec()));
//! # let _ = spoil();
//! ```

use std::fmt::Debug;

use proptest::prelude::*;

use crate::PluginError;

/// How one reply is spoiled. `V` says how the chain replaces a value of
/// the body (which value, and by what): see [`Spoil::Value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spoil<V> {
    /// The reply as the server gave it.
    Nothing,
    /// The body cut short at `at % (len + 1)` bytes.
    CutAt(usize),
    /// The body's byte at `at % len` set to the given byte (an empty body
    /// stays empty).
    Byte(usize, u8),
    /// The unspoiled body under this status.
    Status(u16),
    /// This body instead of the server's, under the server's status.
    Body(String),
    /// No reply at all: the connection was reset.
    TransportError,
    /// A value of the body replaced, by the swap function the chain passes
    /// to [`apply`].
    Value(V),
}

/// A spoil, weighted so that about a third of the replies are left alone:
/// 6 [`Spoil::Nothing`], 1 each of [`Spoil::CutAt`], [`Spoil::Byte`],
/// [`Spoil::Status`] (from `statuses`), [`Spoil::Body`] (from `bodies`) and
/// [`Spoil::TransportError`], and 3 [`Spoil::Value`] (from `value`).
pub fn spoil<V: Clone + Debug>(
    statuses: impl Strategy<Value = u16>,
    bodies: impl Strategy<Value = String>,
    value: impl Strategy<Value = V>,
) -> impl Strategy<Value = Spoil<V>> {
    prop_oneof![
        6 => Just(Spoil::Nothing),
        1 => any::<usize>().prop_map(Spoil::CutAt),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Spoil::Byte(at, byte)),
        1 => statuses.prop_map(Spoil::Status),
        1 => bodies.prop_map(Spoil::Body),
        1 => Just(Spoil::TransportError),
        3 => value.prop_map(Spoil::Value),
    ]
}

/// What the hostile server answers when `spoil` hits the server's `reply`
/// (status and body): the spoiled reply, or for
/// [`Spoil::TransportError`] `PluginError::Upstream("connection reset")`.
/// [`Spoil::Value`] calls `swap(body, value)` for the new body.
///
/// # Panics
///
/// On [`Spoil::Value`] when the body is not UTF-8 (a fake's replies are).
pub fn apply<V>(
    spoil: &Spoil<V>,
    reply: (u16, Vec<u8>),
    swap: impl FnOnce(&str, &V) -> String,
) -> Result<(u16, Vec<u8>), PluginError> {
    let (status, mut bytes) = reply;
    match spoil {
        Spoil::Nothing => {}
        Spoil::CutAt(at) => bytes.truncate(at % (bytes.len() + 1)),
        Spoil::Byte(at, byte) => {
            if let Some(i) = at.checked_rem(bytes.len()) {
                bytes[i] = *byte;
            }
        }
        Spoil::Status(spoiled) => return Ok((*spoiled, bytes)),
        Spoil::Body(text) => bytes = text.clone().into_bytes(),
        Spoil::TransportError => return Err(PluginError::Upstream("connection reset".into())),
        Spoil::Value(value) => {
            let body = String::from_utf8(bytes).expect("the unspoiled reply is UTF-8");
            bytes = swap(&body, value).into_bytes();
        }
    }
    Ok((status, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(spoil: Spoil<&str>) -> Result<(u16, Vec<u8>), PluginError> {
        apply(&spoil, (201, b"abcd".to_vec()), |body, text| {
            body.replace('b', text)
        })
    }

    #[test]
    fn each_spoil_changes_only_its_part_of_the_reply() {
        assert_eq!(applied(Spoil::Nothing).unwrap(), (201, b"abcd".to_vec()));
        assert_eq!(applied(Spoil::CutAt(7)).unwrap(), (201, b"ab".to_vec()));
        assert_eq!(
            applied(Spoil::Byte(6, b'x')).unwrap(),
            (201, b"abxd".to_vec())
        );
        assert_eq!(
            applied(Spoil::Status(503)).unwrap(),
            (503, b"abcd".to_vec())
        );
        assert_eq!(
            applied(Spoil::Body("{}".into())).unwrap(),
            (201, b"{}".to_vec())
        );
        assert!(matches!(
            applied(Spoil::TransportError),
            Err(PluginError::Upstream(m)) if m == "connection reset"
        ));
        assert_eq!(
            applied(Spoil::Value("BB")).unwrap(),
            (201, b"aBBcd".to_vec())
        );
    }

    #[test]
    fn an_empty_body_survives_every_spoil() {
        for spoil in [Spoil::CutAt(3), Spoil::Byte(3, 0), Spoil::Value(())] {
            assert_eq!(
                apply(&spoil, (200, Vec::new()), |body, ()| body.to_string()).unwrap(),
                (200, Vec::new())
            );
        }
    }
}
