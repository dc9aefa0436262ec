//! Builds the bundled plugins for wasm32-wasip2 and writes the list the
//! crate embeds (`registry::BUNDLED`): `cargo build` at the root yields one
//! binary that snapshots every bundled chain with no extra file.

use std::path::PathBuf;

mod wasm_guests;

/// (plugin name, crate name) of every bundled plugin.
const BUNDLED: &[(&str, &str)] = &[
    ("hedera", "snapshot-plugin-hedera"),
    ("xrpl", "snapshot-plugin-xrpl"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    wasm_guests::rerun_if_changed(&root);

    let built = wasm_guests::build(&root, &out_dir, BUNDLED);
    let mut index = String::from("&[\n");
    for ((name, _), path) in BUNDLED.iter().zip(built) {
        index.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            path.display().to_string()
        ));
    }
    index.push_str("]\n");
    std::fs::write(out_dir.join("bundled_plugins.rs"), index).unwrap();
}
