//! Builds the bundled plugins for wasm32-wasip2 and hands their paths to the
//! crate, which embeds them: `cargo build` at the root yields one binary that
//! snapshots every bundled chain with no extra file.
//!
//! The nested cargo uses its own target directory (`target/plugins`), so it
//! never waits on the lock the outer build holds, and a clean environment, so
//! flags meant for the host build (clippy wrappers, RUSTFLAGS) do not leak
//! into the wasm build.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// (plugin name, crate name) of every bundled plugin.
const BUNDLED: &[(&str, &str)] = &[("hedera", "snapshot-plugin-hedera")];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = root.join("target").join("plugins");

    for watched in ["wit", "plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (_, krate) in BUNDLED {
        cmd.args(["-p", krate]);
    }
    // Keep only what locates the toolchain and the registry.
    cmd.env_clear();
    for keep in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO_NET_OFFLINE",
    ] {
        if let Some(v) = env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    let status = cmd
        .status()
        .expect("running cargo to build the bundled wasm plugins");
    assert!(
        status.success(),
        "building the bundled plugins for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );

    let mut index = String::from("&[\n");
    for (name, krate) in BUNDLED {
        let file = format!("{}.wasm", krate.replace('-', "_"));
        let built = target_dir.join("wasm32-wasip2").join("release").join(&file);
        let dest = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&built, &dest)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", built.display(), dest.display()));
        index.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            dest.display().to_string()
        ));
    }
    index.push_str("]\n");
    std::fs::write(out_dir.join("bundled_plugins.rs"), index).unwrap();
}
