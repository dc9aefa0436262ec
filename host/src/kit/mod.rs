//! The integrator kit behind `snapshot-host plugin check` and `plugin test`
//! (see PLUGINS.md).
//!
//! - [`check`]: what a `.wasm` file is and whether this host loads it —
//!   world, WIT version, imports the host provides or not, exports,
//!   manifest — without running it.
//! - [`trace`]: a readable line for every call a running plugin makes
//!   (HTTP with retries and denials, emit, checkpoint, progress, log).
//! - [`expect`]: how a produced document differs from an expected one.

pub mod check;
pub mod expect;
pub mod trace;

pub use check::{CheckReport, check_component};
pub use expect::{DocumentDiff, compare};
pub use trace::{Trace, TraceSink};
