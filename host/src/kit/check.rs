//! `plugin check`: what a `.wasm` file is, and whether this host would load
//! it — without running any of its code.
//!
//! The verdict is the loader's own: a file is valid exactly when its manifest
//! parses and [`PluginEngine::prepare`] links it, which is what loading it
//! into the registry does. The report adds what an author needs to fix a
//! refusal: every import with whether the host provides it (probed one by
//! one, see [`check_imports`]), every export against the `ledger-plugin`
//! world, and the manifest as the host reads it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, LinkerInstance, ResourceType};

use crate::runtime::bindings::WIT_VERSION;
use crate::runtime::manifest::{ManifestError, SUPPORTED_WIT_LINES};
use crate::runtime::state::PluginState;
use crate::runtime::{Manifest, PluginEngine};

/// The WIT package plugins implement.
const WIT_PACKAGE: &str = "snapshot:plugin";
/// The world a plugin must target.
const WORLD: &str = "snapshot:plugin/ledger-plugin";
/// What that world exports.
const WORLD_EXPORTS: &[&str] = &["describe", "validate-token", "fetch-all-token-balances"];

/// Everything `plugin check` found out about one file.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The file as named on the command line.
    pub file: String,
    /// Whether this host would load the file.
    pub valid: bool,
    /// Why not, most fundamental first; empty when valid.
    pub problems: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256 of the bytes (the `plugin.sha256` of its documents).
    pub sha256: String,
    /// `component`, `core module` or `not wasm`.
    pub kind: &'static str,
    /// How long compiling took, in milliseconds (none when not compiled).
    pub compile_ms: Option<f64>,
    /// The world the exports match: `snapshot:plugin/ledger-plugin`, or what
    /// the component looks like instead.
    pub world: Option<String>,
    /// The `snapshot:plugin` version the component was built against (from
    /// its imports).
    pub wit_version: Option<String>,
    /// The WIT version this host serves.
    pub host_wit_version: &'static str,
    pub imports: Vec<ImportCheck>,
    pub exports: Vec<ExportCheck>,
    /// The embedded `plugin.toml`, when it parses.
    pub manifest: Option<ManifestReport>,
}

/// One import and whether the host provides it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportCheck {
    pub name: String,
    /// `instance`, `func`, `resource`, ...
    pub kind: &'static str,
    /// `provided`, `missing`, `mismatch` (provided with another type) or
    /// `unchecked` (an earlier import stopped the probe).
    pub status: &'static str,
    /// What the linker said, when not provided.
    pub detail: Option<String>,
}

/// One export and whether the `ledger-plugin` world has it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportCheck {
    pub name: String,
    pub kind: &'static str,
    /// Whether it is one of the world's exports.
    pub in_world: bool,
}

/// The manifest as the host reads it.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestReport {
    pub name: String,
    pub version: String,
    pub wit: String,
    pub chains: Vec<String>,
    pub token_id_syntax: String,
    pub networks: Vec<NetworkReport>,
    pub allowed_hosts: Vec<String>,
    pub rate_limits: Vec<RateLimitReport>,
    pub memory_mb: u64,
    pub cpu_seconds: u64,
    pub config: Vec<ConfigReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    pub name: String,
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateLimitReport {
    pub host: String,
    pub requests_per_second: u32,
    pub max_concurrency: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    pub key: String,
    pub default: String,
    pub help: String,
}

impl From<&Manifest> for ManifestReport {
    fn from(m: &Manifest) -> Self {
        ManifestReport {
            name: m.plugin.name.clone(),
            version: m.plugin.version.clone(),
            wit: m.plugin.wit.clone(),
            chains: m.plugin.chains.clone(),
            token_id_syntax: m.plugin.token_id_syntax.clone(),
            networks: m
                .networks
                .iter()
                .map(|n| NetworkReport {
                    name: n.name.clone(),
                    endpoint: n.endpoint.clone(),
                })
                .collect(),
            allowed_hosts: m.capabilities.allowed_hosts.clone(),
            rate_limits: m
                .rate_limits
                .iter()
                .map(|r| RateLimitReport {
                    host: r.host.clone(),
                    requests_per_second: r.requests_per_second,
                    max_concurrency: r.max_concurrency,
                })
                .collect(),
            memory_mb: m.limits.memory_mb,
            cpu_seconds: m.limits.cpu_seconds,
            config: m
                .config
                .iter()
                .map(|(k, v)| ConfigReport {
                    key: k.clone(),
                    default: v.default.clone(),
                    help: v.help.clone(),
                })
                .collect(),
        }
    }
}

/// Checks component `bytes` (read from `file`) against this host. CPU-heavy
/// (it compiles): call it from a blocking thread.
pub fn check_component(engine: &PluginEngine, file: &str, bytes: &[u8]) -> CheckReport {
    let mut report = CheckReport {
        file: file.to_string(),
        valid: false,
        problems: Vec::new(),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        kind: "not wasm",
        compile_ms: None,
        world: None,
        wit_version: None,
        host_wit_version: WIT_VERSION,
        imports: Vec::new(),
        exports: Vec::new(),
        manifest: None,
    };

    match encoding(bytes) {
        Err(problem) => {
            report.problems.push(problem);
            return report;
        }
        Ok(wasmparser::Encoding::Module) => {
            report.kind = "core module";
            report.problems.push(
                "this is a core WebAssembly module, not a component: build the plugin with \
                 `cargo build --target wasm32-wasip2 --release` (wasm32-wasip2 produces a \
                 component; wasm32-unknown-unknown and wasm32-wasip1 do not)"
                    .to_string(),
            );
        }
        Ok(wasmparser::Encoding::Component) => report.kind = "component",
    }

    let manifest = Manifest::from_component(bytes);
    match &manifest {
        // A bare `*` in allowed_hosts is not a refusal here: whether it
        // loads is the operator's grant, decided where the plugin runs.
        Ok(m) => report.manifest = Some(ManifestReport::from(m)),
        Err(ManifestError::NotWasm(e)) => {
            // The sections do not even parse: nothing further can be read.
            report
                .problems
                .push(format!("the file is corrupt or truncated: {e}"));
            return finish(report);
        }
        Err(e) => report.problems.push(format!("bad manifest: {e}")),
    }
    if report.kind != "component" {
        return finish(report);
    }

    let started = Instant::now();
    let component = match engine.compile(bytes) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(format!(
                "the component does not compile (corrupt or unsupported): {e:#}"
            ));
            return finish(report);
        }
    };
    report.compile_ms = Some(started.elapsed().as_secs_f64() * 1000.0);

    let (imports, linked) = check_imports(engine, &component);
    report.wit_version = wit_version_of(&imports);
    for import in imports.iter().filter(|i| i.status != "provided") {
        let why = match import.status {
            "missing" => "which this host does not provide",
            "mismatch" => "with a type this host does not provide",
            _ => continue,
        };
        let detail = import
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        report.problems.push(format!(
            "the component imports {} `{}`, {why}{detail}",
            import.kind, import.name
        ));
    }
    if let Some(problem) = linked {
        report.problems.push(problem);
    }
    report.imports = imports;

    let ty = component.component_type();
    report.exports = ty
        .exports(engine.engine())
        .map(|(name, e)| ExportCheck {
            name: name.to_string(),
            kind: kind_of(&e.ty),
            in_world: WORLD_EXPORTS.contains(&name),
        })
        .collect();
    let missing: Vec<&str> = WORLD_EXPORTS
        .iter()
        .copied()
        .filter(|w| !report.exports.iter().any(|e| e.name == *w))
        .collect();
    report.world = Some(world_of(&report.exports, missing.is_empty()));
    if !missing.is_empty() {
        let found: Vec<&str> = report.exports.iter().map(|e| e.name.as_str()).collect();
        report.problems.push(format!(
            "the component targets another world ({}): {WORLD} must export {}, and it lacks {} \
             (it exports: {})",
            report.world.as_deref().unwrap_or("unknown"),
            WORLD_EXPORTS.join(", "),
            missing.join(", "),
            if found.is_empty() {
                "nothing".to_string()
            } else {
                found.join(", ")
            }
        ));
    }

    if let (Some(built), Ok(m)) = (&report.wit_version, &manifest)
        && line_of(built) != m.wit_line()
    {
        report.problems.push(format!(
            "the manifest says wit = \"{}\" but the component was built against \
             {WIT_PACKAGE}@{built}",
            m.plugin.wit
        ));
    }
    if let Some(built) = &report.wit_version
        && !SUPPORTED_WIT_LINES.contains(&line_of(built))
    {
        report.problems.push(format!(
            "the component was built against {WIT_PACKAGE}@{built}; this host serves {} \
             (see the compatibility table in the README)",
            SUPPORTED_WIT_LINES
                .iter()
                .map(|l| format!("{l}.x"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    // The loader's own verdict, so `check` can never pass a file that
    // loading refuses (e.g. an export of the right name and the wrong type).
    if report.problems.is_empty()
        && let Err(e) = engine.prepare(&component)
    {
        report
            .problems
            .push(format!("the component does not fit this host: {e:#}"));
    }
    finish(report)
}

fn finish(mut report: CheckReport) -> CheckReport {
    report.valid = report.problems.is_empty();
    report
}

/// Whether `bytes` start like a component or a core module.
fn encoding(bytes: &[u8]) -> Result<wasmparser::Encoding, String> {
    if !bytes.starts_with(b"\0asm") {
        return Err(
            "not a WebAssembly file (it does not start with the `\\0asm` magic bytes)".into(),
        );
    }
    match wasmparser::Parser::new(0).parse(bytes, true) {
        Ok(wasmparser::Chunk::Parsed {
            payload: wasmparser::Payload::Version { encoding, .. },
            ..
        }) => Ok(encoding),
        Ok(_) => Err("not a WebAssembly file (truncated header)".into()),
        Err(e) => Err(format!("not a valid WebAssembly file: {e}")),
    }
}

/// Every import of `component` with whether the host provides it, and the
/// reason linking fails when it is not about one import.
///
/// The linker stops at the first import it cannot satisfy, so the probe
/// links repeatedly: each failing import is recorded and replaced by a
/// stand-in that traps, until the component links or a failure cannot be
/// attributed to an import.
pub fn check_imports(
    engine: &PluginEngine,
    component: &Component,
) -> (Vec<ImportCheck>, Option<String>) {
    let ty = component.component_type();
    let imports: Vec<(String, ComponentItem)> = ty
        .imports(engine.engine())
        .map(|(name, e)| (name.to_string(), e.ty))
        .collect();
    let mut failed: BTreeMap<String, (&'static str, String)> = BTreeMap::new();
    let mut complete = false;
    let mut unexplained = None;
    match engine.host_linker() {
        Err(e) => unexplained = Some(format!("building the host linker failed: {e:#}")),
        Ok(mut linker) => {
            linker.allow_shadowing(true);
            for _ in 0..=imports.len() {
                let e = match linker.substituted_component_type(component) {
                    Ok(_) => {
                        complete = true;
                        break;
                    }
                    Err(e) => e,
                };
                let top = e.to_string();
                let Some((name, item)) = imports
                    .iter()
                    .find(|(name, _)| top.contains(&format!("`{name}`")))
                else {
                    unexplained = Some(format!("the component does not link: {e:#}"));
                    break;
                };
                if failed.contains_key(name) {
                    unexplained = Some(format!("the component does not link: {e:#}"));
                    break;
                }
                let full = format!("{e:#}");
                let detail = full
                    .strip_prefix(&top)
                    .unwrap_or(&full)
                    .trim_start_matches(": ")
                    .to_string();
                let status = if detail.ends_with("implementation is missing") {
                    "missing"
                } else {
                    "mismatch"
                };
                failed.insert(name.clone(), (status, detail));
                if let Err(e) = stand_in(&mut linker.root(), name, item, engine) {
                    unexplained = Some(format!("probing import `{name}` failed: {e:#}"));
                    break;
                }
            }
        }
    }
    let checks = imports
        .iter()
        .map(|(name, item)| {
            let (status, detail) = match failed.get(name) {
                Some((status, detail)) => (*status, Some(detail.clone())),
                None if complete => ("provided", None),
                None => ("unchecked", None),
            };
            ImportCheck {
                name: name.clone(),
                kind: kind_of(item),
                status,
                detail,
            }
        })
        .collect();
    (checks, unexplained)
}

/// A resource type for stand-in imports.
struct StandIn;

/// Defines import `name` of type `item` as functions that trap, so linking
/// can go on to the next import.
fn stand_in(
    linker: &mut LinkerInstance<'_, PluginState>,
    name: &str,
    item: &ComponentItem,
    engine: &PluginEngine,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => linker.func_new(name, |_, _, _, _| {
            Err(wasmtime::format_err!("not provided by this host"))
        }),
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, e) in instance.exports(engine.engine()) {
                stand_in(&mut inner, export, &e.ty, engine)?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<StandIn>(), |_, _| Ok(()))
        }
        ComponentItem::Type(_) => Ok(()),
        other => Err(wasmtime::format_err!(
            "a {} import cannot be stood in for",
            kind_of(other)
        )),
    }
}

fn kind_of(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "func",
        ComponentItem::CoreFunc(_) => "core func",
        ComponentItem::Module(_) => "module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

/// The `snapshot:plugin` version in the import names, e.g. `0.1.0` from
/// `snapshot:plugin/http@0.1.0`.
fn wit_version_of(imports: &[ImportCheck]) -> Option<String> {
    imports.iter().find_map(|i| {
        i.name
            .strip_prefix(WIT_PACKAGE)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split_once('@'))
            .map(|(_, version)| version.to_string())
    })
}

/// `major.minor` of a version.
fn line_of(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

/// Names the world the exports match, or what the component looks like.
fn world_of(exports: &[ExportCheck], complete: bool) -> String {
    if complete {
        return WORLD.to_string();
    }
    if let Some(run) = exports.iter().find(|e| e.name.starts_with("wasi:cli/run@")) {
        return format!("wasi:cli/command (a WASI program exporting {})", run.name);
    }
    if exports
        .iter()
        .any(|e| e.name.starts_with("wasi:http/incoming-handler@"))
    {
        return "wasi:http/proxy (an HTTP handler)".to_string();
    }
    if exports.iter().any(|e| e.in_world) {
        return format!("an incomplete {WORLD}");
    }
    "an unknown world".to_string()
}

/// The report for people.
pub fn render_text(r: &CheckReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "{}", r.file);
    let _ = writeln!(w, "  size       {} bytes", r.size);
    let _ = writeln!(w, "  sha256     {}", r.sha256);
    let _ = write!(w, "  kind       {}", r.kind);
    match r.compile_ms {
        Some(ms) => {
            let _ = writeln!(w, " (compiled in {ms:.0} ms)");
        }
        None => {
            let _ = writeln!(w);
        }
    }
    if let Some(world) = &r.world {
        let _ = writeln!(w, "  world      {world}");
    }
    let _ = writeln!(
        w,
        "  wit        {} (this host serves {WIT_PACKAGE}@{})",
        r.wit_version
            .as_deref()
            .map(|v| format!("{WIT_PACKAGE}@{v}"))
            .unwrap_or_else(|| "unknown".into()),
        r.host_wit_version
    );
    if r.kind == "component" && (!r.imports.is_empty() || r.compile_ms.is_some()) {
        let _ = writeln!(w, "  imports    {}", r.imports.len());
        for i in &r.imports {
            let _ = write!(w, "    {:<10} {} {}", i.status, i.kind, i.name);
            match &i.detail {
                Some(d) => {
                    let _ = writeln!(w, ": {d}");
                }
                None => {
                    let _ = writeln!(w);
                }
            }
        }
        let _ = writeln!(w, "  exports    {}", r.exports.len());
        for e in &r.exports {
            let mark = if e.in_world { "world" } else { "extra" };
            let _ = writeln!(w, "    {mark:<10} {} {}", e.kind, e.name);
        }
    }
    match &r.manifest {
        Some(m) => {
            let _ = writeln!(w, "  manifest");
            let _ = writeln!(w, "    name           {}", m.name);
            let _ = writeln!(w, "    version        {}", m.version);
            let _ = writeln!(w, "    wit            {}", m.wit);
            let _ = writeln!(w, "    chains         {}", m.chains.join(", "));
            if m.networks.is_empty() {
                let _ = writeln!(w, "    networks       none");
            }
            for (i, n) in m.networks.iter().enumerate() {
                let label = if i == 0 { "networks" } else { "" };
                let default = if i == 0 { " (default)" } else { "" };
                let _ = writeln!(w, "    {label:<14} {} {}{default}", n.name, n.endpoint);
            }
            let hosts = if m.allowed_hosts.is_empty() {
                "none (deny all but the configured endpoint)".to_string()
            } else {
                m.allowed_hosts.join(", ")
            };
            let _ = writeln!(w, "    allowed hosts  {hosts}");
            if m.allowed_hosts.iter().any(|h| h.trim() == "*") {
                let _ = writeln!(
                    w,
                    "                   (\"*\" loads only where the operator grants it)"
                );
            }
            if m.rate_limits.is_empty() {
                let _ = writeln!(w, "    rate limits    none (the host's default applies)");
            }
            for (i, l) in m.rate_limits.iter().enumerate() {
                let label = if i == 0 { "rate limits" } else { "" };
                let _ = writeln!(
                    w,
                    "    {label:<14} {} {} req/s, {} in flight",
                    l.host, l.requests_per_second, l.max_concurrency
                );
            }
            let _ = writeln!(
                w,
                "    limits         memory {} MiB, guest CPU {} s per call",
                m.memory_mb, m.cpu_seconds
            );
            if m.config.is_empty() {
                let _ = writeln!(w, "    config         none");
            }
            for (i, c) in m.config.iter().enumerate() {
                let label = if i == 0 { "config" } else { "" };
                let help = if c.help.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", c.help)
                };
                let _ = writeln!(w, "    {label:<14} {} = {:?}{help}", c.key, c.default);
            }
        }
        None => {
            let _ = writeln!(w, "  manifest   unreadable");
        }
    }
    if r.valid {
        let _ = writeln!(w, "  result     valid");
    } else {
        let _ = writeln!(w, "  result     INVALID");
        for p in &r.problems {
            let _ = writeln!(w, "    - {p}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_snapshot_plugin_imports_only() {
        let import = |name: &str| ImportCheck {
            name: name.into(),
            kind: "instance",
            status: "provided",
            detail: None,
        };
        let imports = [
            import("wasi:io/poll@0.2.6"),
            import("snapshot:plugin/types@0.1.3"),
        ];
        assert_eq!(wit_version_of(&imports).as_deref(), Some("0.1.3"));
        assert_eq!(wit_version_of(&imports[..1]), None);
        assert_eq!(line_of("0.1.3"), "0.1");
        assert_eq!(line_of("2"), "2");
    }

    #[test]
    fn bytes_that_are_not_wasm_or_a_module_are_told_apart() {
        assert!(encoding(b"hello").unwrap_err().contains("magic"));
        assert!(matches!(
            encoding(b"\0asm\x01\0\0\0"),
            Ok(wasmparser::Encoding::Module)
        ));
        assert!(matches!(
            encoding(b"\0asm\x0d\0\x01\0"),
            Ok(wasmparser::Encoding::Component)
        ));
    }
}
