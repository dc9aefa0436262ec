//! Canonical snapshot document, exact decimals, JSON/CSV writers.
//!
//! The last stretch of the data path: holders emitted by a plugin go into a
//! [`HolderSet`] (de-duplicated, at-least-once safe, conflicts refused), the
//! set becomes a [`CanonicalSnapshot`] (zero balances dropped, sorted by
//! balance descending then account, ranked, totalled), and that is written
//! as JSON and CSV bytes that are identical for identical input.
//!
//! Every balance is an exact [`Amount`]; nothing here ever touches `f64`.

pub mod amount;
pub mod document;
pub mod holders;
pub mod sum_check;

pub use amount::{Amount, AmountError, MAX_DIGITS, MAX_EXPONENT};
pub use document::{
    CanonicalSnapshot, PluginMeta, RankedHolder, SHARE_DECIMAL_PLACES, Sha256Writer, SnapshotMeta,
    TokenKind, TokenMeta, sha256_hex,
};
pub use holders::{
    Attributes, EmittedHolder, HolderConflict, HolderError, HolderKey, HolderRef, HolderSet,
};
pub use sum_check::{TotalCheck, sum_check_attributes};
