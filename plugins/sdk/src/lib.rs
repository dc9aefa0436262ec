//! Guest SDK for snapshot-host ledger plugins.
//!
//! A plugin is a `wasm32-wasip2` component implementing the WIT world
//! `snapshot:plugin/ledger-plugin` (see `wit/since_v0.1/plugin.wit`). With this
//! crate a plugin author writes:
//!
//! ```ignore
//! use snapshot_plugin_sdk::prelude::*;
//!
//! struct MyChain;
//! impl Plugin for MyChain {
//!     fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError> { todo!() }
//!     fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError> { todo!() }
//! }
//! register_plugin!(MyChain);
//! ```
//!
//! and puts a `plugin.toml` manifest next to its `Cargo.toml`; the macro embeds
//! it in the component (custom section `snapshot-plugin-manifest`) and answers
//! `describe` from it, so the manifest is the single source of truth.

#[cfg(feature = "test-util")]
pub mod hostile;
pub mod http;
pub mod job;
pub mod manifest;

/// Raw bindings generated from the WIT contract. Prefer the helpers.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.1",
        world: "ledger-plugin",
        pub_export_macro: true,
        default_bindings_module: "snapshot_plugin_sdk::bindings",
    });
}

pub use bindings::snapshot::plugin::types::{
    FetchSummary, Holder, NetworkInfo, PluginError, PluginInfo, ReportedTotal, SnapshotRequest,
    TokenInfo, TokenKind, TotalCheck,
};

/// What a plugin implements. `describe` is generated from `plugin.toml`.
pub trait Plugin {
    /// Checks the token id (syntax first, before any request) and returns what
    /// the ledger says about the token.
    fn validate_token(req: &SnapshotRequest) -> Result<TokenInfo, PluginError>;

    /// Lists every holder at one pinned point in time through [`job::emit`].
    fn fetch_all_token_balances(req: &SnapshotRequest) -> Result<FetchSummary, PluginError>;
}

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::http::{self, Request, Response};
    pub use crate::job::{self, Level};
    pub use crate::{
        FetchSummary, Holder, Plugin, PluginError, ReportedTotal, SnapshotRequest, TokenInfo,
        TokenKind, TotalCheck, register_plugin,
    };
}

impl SnapshotRequest {
    /// The value of option `key`, if the caller passed it.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Holder {
    /// A holder with a balance and nothing else.
    pub fn new(account: impl Into<String>, balance: impl Into<String>) -> Self {
        Holder {
            account: account.into(),
            balance: balance.into(),
            entry_id: None,
            attributes: Vec::new(),
        }
    }
}

/// Exports a [`Plugin`] implementation as the component's `ledger-plugin`
/// world and embeds the crate's `plugin.toml` as its manifest.
#[macro_export]
macro_rules! register_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "snapshot-plugin-manifest")]
        #[used]
        static __SNAPSHOT_PLUGIN_MANIFEST: [u8; include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/plugin.toml"
        ))
        .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml"));

        struct __SnapshotPluginExport;

        impl $crate::bindings::Guest for __SnapshotPluginExport {
            fn describe() -> $crate::PluginInfo {
                $crate::manifest::plugin_info(include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/plugin.toml"
                )))
            }

            fn validate_token(
                req: $crate::SnapshotRequest,
            ) -> ::core::result::Result<$crate::TokenInfo, $crate::PluginError> {
                <$plugin as $crate::Plugin>::validate_token(&req)
            }

            fn fetch_all_token_balances(
                req: $crate::SnapshotRequest,
            ) -> ::core::result::Result<$crate::FetchSummary, $crate::PluginError> {
                <$plugin as $crate::Plugin>::fetch_all_token_balances(&req)
            }
        }

        $crate::bindings::export!(__SnapshotPluginExport with_types_in $crate::bindings);
    };
}
