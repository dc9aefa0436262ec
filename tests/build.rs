//! Builds the test-only guest plugins for wasm32-wasip2, so every test run
//! exercises guests compiled from the sources beside it. Their paths reach
//! the tests as `MISBEHAVING_WASM` and `STELLAR_WASM` (see `src/guests.rs`).
//! The Stellar plugin is a real plugin that is deliberately not bundled into
//! the host binary: the tests load it from a plugins directory.

use std::path::PathBuf;

#[path = "../host/build/wasm_guests.rs"]
mod wasm_guests;

/// (plugin name, crate name) of every guest the tests load from files.
const GUESTS: &[(&str, &str)] = &[
    ("misbehaving", "snapshot-test-plugin-misbehaving"),
    ("stellar", "snapshot-plugin-stellar"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    wasm_guests::rerun_if_changed(&root);

    let built = wasm_guests::build(&root, &out_dir, GUESTS);
    for ((name, _), path) in GUESTS.iter().zip(built) {
        println!(
            "cargo:rustc-env={}_WASM={}",
            name.to_uppercase().replace('-', "_"),
            path.display()
        );
    }
}
