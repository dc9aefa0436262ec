//! Plugin files for the hot-loading and admin tests, made cheaply from the
//! components this repo builds, without another guest build:
//!
//! - another *version* of a plugin: the same component with its embedded
//!   `plugin.toml` (the `snapshot-plugin-manifest` custom section) edited in
//!   place. Custom sections do not take part in execution, so the code is the
//!   same and only the manifest (and so the sha256) differs; edits keep the
//!   byte length, so no section size needs re-encoding;
//! - a component importing something the host does not provide: one of its
//!   top-level import names renamed in place (same length);
//! - a component of another world: an empty component (no imports, no
//!   exports) carrying only a manifest;
//! - a corrupt file: a component cut in half.
//!
//! Used by `tests/tests/plugins_registry.rs`, the plugin bench, and (through
//! `#[path]`) `host/tests/plugins_admin.rs`.

#![allow(dead_code)]

/// The custom section holding `plugin.toml`.
pub const MANIFEST_SECTION: &str = "snapshot-plugin-manifest";

/// Where the manifest text lies in `bytes`: `(offset, length)`.
fn manifest_range(bytes: &[u8]) -> (usize, usize) {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Ok(wasmparser::Payload::CustomSection(section)) = payload
            && section.name() == MANIFEST_SECTION
        {
            let (offset, len) = (section.data_offset(), section.data().len());
            assert_eq!(&bytes[offset..offset + len], section.data());
            return (offset, len);
        }
    }
    panic!("the component has no {MANIFEST_SECTION} section");
}

/// The `plugin.toml` embedded in component `bytes`.
pub fn manifest_text(bytes: &[u8]) -> String {
    let (offset, len) = manifest_range(bytes);
    String::from_utf8(bytes[offset..offset + len].to_vec()).expect("the manifest is UTF-8")
}

/// `bytes` with the first `from` in its manifest replaced by `to` (same
/// length).
pub fn edit_manifest(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "in-place edits keep the length");
    let (offset, len) = manifest_range(bytes);
    let text = &bytes[offset..offset + len];
    let at = text
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from:?} is not in the manifest"));
    let mut out = bytes.to_vec();
    out[offset + at..offset + at + to.len()].copy_from_slice(to.as_bytes());
    out
}

/// The plugin's `version` in its manifest.
pub fn version_of(bytes: &[u8]) -> String {
    let text = manifest_text(bytes);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("version = \""))
        .expect("the manifest has a version");
    line.split('"').nth(1).unwrap().to_string()
}

/// The same component claiming `version` (as long as its current one, e.g.
/// `0.1.0` → `0.1.7`).
pub fn with_version(bytes: &[u8], version: &str) -> Vec<u8> {
    let current = version_of(bytes);
    edit_manifest(
        bytes,
        &format!("version = \"{current}\""),
        &format!("version = \"{version}\""),
    )
}

/// The component with the top-level import `from` renamed to `to` (same
/// length), e.g. `snapshot:plugin/http@0.1.0` → `snapshot:plugin/xttp@0.1.0`:
/// a plugin needing an interface this host does not provide.
pub fn with_import_renamed(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "in-place edits keep the length");
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(section) if depth == 1 => {
                let range = section.range();
                if let Some(at) = bytes[range.clone()]
                    .windows(from.len())
                    .position(|w| w == from.as_bytes())
                {
                    let mut out = bytes.to_vec();
                    let start = range.start + at;
                    out[start..start + to.len()].copy_from_slice(to.as_bytes());
                    return out;
                }
            }
            _ => {}
        }
    }
    panic!("the component imports no {from:?}");
}

/// A valid component of another world: no imports, no exports, just the
/// manifest `manifest` (so it passes the manifest checks and fails on the
/// world).
pub fn component_of_another_world(manifest: &str) -> Vec<u8> {
    // `\0asm`, component version 0x0d, layer 1.
    let mut out = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    let mut section = Vec::new();
    leb128(&mut section, MANIFEST_SECTION.len());
    section.extend_from_slice(MANIFEST_SECTION.as_bytes());
    section.extend_from_slice(manifest.as_bytes());
    out.push(0x00); // custom section
    leb128(&mut out, section.len());
    out.extend_from_slice(&section);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The first half of the component: a truncated file.
pub fn truncated(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

/// Writes `bytes` to `path` the way a careful operator (and the admin API)
/// does: a hidden temporary file in the same directory, renamed into place.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) {
    let dir = path.parent().expect("a file in a directory");
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).expect("writing the temporary file");
    std::fs::rename(&tmp, path).expect("renaming it into place");
}
