//! Builds guest crates of this workspace for wasm32-wasip2 from a build
//! script. Shared by `host/build.rs` (bundled plugins) and `tests/build.rs`
//! (test-only plugins) through `#[path]`.
//!
//! The nested cargo uses its own target directory (`target/wasm-guests`), so
//! it never waits on the lock the outer build holds, and a cleaned
//! environment, so flags meant for the host build (clippy wrappers,
//! RUSTFLAGS, coverage) do not leak into the wasm build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `crates` (package names) in release mode and copies each
/// `<crate>.wasm` to `out_dir/<name>.wasm`; returns those paths in order.
pub fn build(root: &Path, out_dir: &Path, crates: &[(&str, &str)]) -> Vec<PathBuf> {
    let target_dir = root.join("target").join("wasm-guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (_, krate) in crates {
        cmd.args(["-p", krate]);
    }
    cmd.env_clear();
    for keep in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO_NET_OFFLINE",
    ] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    let status = cmd.status().expect("running cargo to build wasm guests");
    assert!(
        status.success(),
        "building {crates:?} for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    crates
        .iter()
        .map(|(name, krate)| {
            let built = target_dir
                .join("wasm32-wasip2")
                .join("release")
                .join(format!("{}.wasm", krate.replace('-', "_")));
            let dest = out_dir.join(format!("{name}.wasm"));
            std::fs::copy(&built, &dest).unwrap_or_else(|e| {
                panic!("copying {} to {}: {e}", built.display(), dest.display())
            });
            dest
        })
        .collect()
}

/// Asks cargo to rerun the build script when guest sources change.
pub fn rerun_if_changed(root: &Path) {
    for watched in ["wit", "plugins", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
}
