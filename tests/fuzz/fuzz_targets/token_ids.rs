//! Token ids of every chain on arbitrary text: parsing never panics, an
//! accepted id prints to a spelling that parses to the same id, and a
//! refusal quotes the chain's syntax.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match snapshot_plugin_hedera::token_id::EntityId::parse(text) {
        Ok(id) => assert_eq!(
            snapshot_plugin_hedera::token_id::EntityId::parse(&id.to_string()),
            Ok(id)
        ),
        Err(e) => assert!(e.contains("is not a Hedera token id"), "{e}"),
    }
    match snapshot_plugin_xrpl::token_id::TokenId::parse(text) {
        Ok(id) => assert_eq!(
            snapshot_plugin_xrpl::token_id::TokenId::parse(&id.to_string()),
            Ok(id)
        ),
        Err(e) => assert!(e.ends_with(snapshot_plugin_xrpl::token_id::SYNTAX), "{e}"),
    }
    match snapshot_plugin_stellar::asset::AssetId::parse(text) {
        Ok(id) => assert_eq!(
            snapshot_plugin_stellar::asset::AssetId::parse(&id.to_string()),
            Ok(id)
        ),
        Err(e) => assert!(e.ends_with(snapshot_plugin_stellar::asset::SYNTAX), "{e}"),
    }
});
