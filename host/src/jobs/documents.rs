//! Finished snapshot documents on local disk, under the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::snapshot::{CanonicalSnapshot, Sha256Writer};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentFormat {
    Json,
    Csv,
}

impl DocumentFormat {
    pub fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Json => "json",
            DocumentFormat::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            DocumentFormat::Json => "application/json",
            DocumentFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// `<dir>/<job id>.json` and `.csv`, each written beside its final name and
/// renamed, so a reader never sees half a document.
#[derive(Clone, Debug)]
pub struct DocumentStore {
    dir: PathBuf,
}

impl DocumentStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DocumentStore { dir: dir.into() }
    }

    /// Writes both documents of `job_id`; returns the JSON document's sha256.
    pub fn write(&self, job_id: &str, doc: &CanonicalSnapshot) -> std::io::Result<String> {
        std::fs::create_dir_all(&self.dir)?;
        let json_sha = self.write_one(job_id, DocumentFormat::Json, |w| doc.write_json(w))?;
        self.write_one(job_id, DocumentFormat::Csv, |w| doc.write_csv(w))?;
        Ok(json_sha)
    }

    fn write_one(
        &self,
        job_id: &str,
        format: DocumentFormat,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<String> {
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let mut hashing = Sha256Writer::new(std::io::BufWriter::new(tmp));
        write(&mut hashing)?;
        let (buffered, sha) = hashing.finish();
        let tmp = buffered.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.path(job_id, format))
            .map_err(|e| e.error)?;
        Ok(sha)
    }

    /// Where a document lives (it may not exist).
    pub fn path(&self, job_id: &str, format: DocumentFormat) -> PathBuf {
        // Job ids are ULIDs we generate; refuse anything else so a path can
        // never leave the directory.
        let safe: String = job_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        self.dir.join(format!("{safe}.{}", format.extension()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
