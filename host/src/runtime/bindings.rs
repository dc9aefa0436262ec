//! Host bindings generated from the WIT contract, one module per WIT line.

/// The `wit/since_v0.1` line (`snapshot:plugin@0.1.x`).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1",
        world: "ledger-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub use v0_1::snapshot::plugin::types::{
    FetchSummary, Holder, PluginError, PluginInfo, ReportedTotal, SnapshotRequest, TokenInfo,
    TokenKind, TotalCheck,
};

/// The WIT version this host serves for the 0.1 line.
pub const WIT_VERSION: &str = "0.1.0";
