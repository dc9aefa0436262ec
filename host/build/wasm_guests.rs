//! Builds guest crates of this workspace for wasm32-wasip2. Shared through
//! `#[path]` by `host/build.rs` (bundled plugins), `tests/build.rs`
//! (test-only plugins) and the host's integration tests
//! (`host/tests/common`, guests built on demand).
//!
//! The nested cargo uses its own target directory (`target/wasm-guests`), so
//! it never waits on the lock the outer build holds, and a cleaned
//! environment, so flags meant for the host build (clippy wrappers,
//! RUSTFLAGS, coverage) do not leak into the wasm build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where guests are built: `target/wasm-guests` under the workspace root.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target").join("wasm-guests")
}

/// The `.wasm` component cargo builds for package `krate` in `target_dir`.
pub fn artifact(target_dir: &Path, krate: &str) -> PathBuf {
    target_dir
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", krate.replace('-', "_")))
}

/// `cargo build --target wasm32-wasip2 --release` (the command PLUGINS.md
/// gives plugin authors), run in `dir` with `CARGO_TARGET_DIR` set to
/// `target_dir` and an environment cleaned of everything else.
pub fn cargo_build(dir: &Path, target_dir: &Path) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .env_clear();
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
    cmd.env("CARGO_TARGET_DIR", target_dir);
    cmd
}

/// Builds `crates` (package names) in release mode and copies each
/// `<crate>.wasm` to `out_dir/<name>.wasm`; returns those paths in order.
pub fn build(root: &Path, out_dir: &Path, crates: &[(&str, &str)]) -> Vec<PathBuf> {
    let target_dir = target_dir(root);
    let mut cmd = cargo_build(root, &target_dir);
    for (_, krate) in crates {
        cmd.args(["-p", krate]);
    }
    let status = cmd.status().expect("running cargo to build wasm guests");
    assert!(
        status.success(),
        "building {crates:?} for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    crates
        .iter()
        .map(|(name, krate)| {
            let built = artifact(&target_dir, krate);
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
