//! On-disk cache of compiled components.
//!
//! Compiling a component takes tens of milliseconds to seconds; loading a
//! precompiled one takes about one. Entries are keyed by the component's
//! sha256 and the engine's compatibility hash (wasmtime version, target,
//! settings), so an upgrade or a config change is simply a miss. Each file
//! ends with the sha256 of its own contents: a truncated or corrupted entry
//! fails that check and is a miss that gets rewritten, never a failure and
//! never fed to the deserializer.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::runtime::engine::PluginEngine;

/// How a component was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a valid cache entry.
    Hit,
    /// No entry: compiled (and stored).
    Miss,
    /// An entry existed but failed its integrity check: compiled and rewritten.
    Corrupt,
}

/// A directory of precompiled components.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into sha256, for a stable-in-this-binary key.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only the digest is used")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

const DIGEST_LEN: usize = 32;

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CompileCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an entry for `component_sha256` lives in.
    pub fn entry_path(&self, engine: &PluginEngine, component_sha256: &str) -> PathBuf {
        let mut h = Sha256Hasher(Sha256::new());
        engine.engine().precompile_compatibility_hash().hash(&mut h);
        let compat = hex::encode(&h.0.finalize()[..8]);
        self.dir.join(format!("{component_sha256}-{compat}.cwasm"))
    }

    /// The compiled component for `bytes`, from the cache when possible.
    pub fn load_or_compile(
        &self,
        engine: &PluginEngine,
        bytes: &[u8],
        component_sha256: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, component_sha256);
        let mut outcome = CacheOutcome::Miss;
        if let Ok(file) = std::fs::read(&path) {
            match verified_payload(&file) {
                // SAFETY: the payload was written by `Component::serialize`
                // of this same engine configuration (the file name carries
                // its compatibility hash) and its digest matches, so these
                // are the exact bytes wasmtime produced.
                Some(payload) => {
                    match unsafe { Component::deserialize(engine.engine(), payload) } {
                        Ok(component) => return Ok((component, CacheOutcome::Hit)),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), "compile cache entry unusable: {e:#}");
                            outcome = CacheOutcome::Corrupt;
                        }
                    }
                }
                None => {
                    tracing::warn!(path = %path.display(), "compile cache entry failed its integrity check");
                    outcome = CacheOutcome::Corrupt;
                }
            }
        }
        let component = engine.compile(bytes)?;
        if let Err(e) = self.store(&path, &component) {
            // A read-only or full disk costs speed, not correctness.
            tracing::warn!(path = %path.display(), "could not write compile cache entry: {e:#}");
        }
        Ok((component, outcome))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let payload = component
            .serialize()
            .map_err(|e| anyhow::anyhow!("serializing: {e:#}"))?;
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(&payload)?;
        tmp.write_all(&Sha256::digest(&payload))?;
        tmp.persist(path)?;
        Ok(())
    }
}

/// The payload of a cache file whose trailing digest matches.
fn verified_payload(file: &[u8]) -> Option<&[u8]> {
    let split = file.len().checked_sub(DIGEST_LEN)?;
    let (payload, digest) = file.split_at(split);
    (Sha256::digest(payload).as_slice() == digest).then_some(payload)
}
