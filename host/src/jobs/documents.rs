//! The two forms of a finished snapshot: JSON and CSV.

use cid::Cid;

use crate::artifacts::LocalCas;
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

/// A finished snapshot's two documents, rendered into the local store.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedDocuments {
    pub json_cid: Cid,
    pub csv_cid: Cid,
    /// sha256 of the JSON document, hex.
    pub json_sha256: String,
    /// Lengths in bytes.
    pub json_len: u64,
    pub csv_len: u64,
}

/// Renders both documents of `doc` in one pass straight into `store`,
/// naming each by its CID and hashing the JSON on the way, so neither is
/// ever held in memory whole (blocking: call off the async threads; they
/// are then published by [`crate::artifacts::Artifacts::store`]).
pub fn render_into(
    doc: &CanonicalSnapshot,
    store: &LocalCas,
) -> std::io::Result<RenderedDocuments> {
    let mut json = Sha256Writer::new(store.incoming()?);
    let mut csv = store.incoming()?;
    doc.write_documents(Some(&mut json), Some(&mut csv))?;
    let (json, json_sha256) = json.finish();
    let (json_cid, json_len) = json.commit()?;
    let (csv_cid, csv_len) = csv.commit()?;
    Ok(RenderedDocuments {
        json_cid,
        csv_cid,
        json_sha256,
        json_len,
        csv_len,
    })
}
