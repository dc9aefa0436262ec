//! Builds the test-only guest plugins for wasm32-wasip2, so every test run
//! exercises guests compiled from the sources beside it. Their paths reach
//! the tests as `MISBEHAVING_WASM` (see `src/guests.rs`).

use std::path::PathBuf;

#[path = "../host/build/wasm_guests.rs"]
mod wasm_guests;

/// (plugin name, crate name) of every test-only guest.
const GUESTS: &[(&str, &str)] = &[("misbehaving", "snapshot-test-plugin-misbehaving")];

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
