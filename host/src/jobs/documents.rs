//! The two forms of a finished snapshot: JSON and CSV.

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

/// A finished snapshot's two documents, rendered.
pub struct RenderedDocuments {
    pub json: Vec<u8>,
    pub csv: Vec<u8>,
    /// sha256 of the JSON document, hex.
    pub json_sha256: String,
}

/// Renders both documents of `doc` (blocking: call off the async threads;
/// they are stored by [`crate::artifacts::Artifacts`]).
pub fn render(doc: &CanonicalSnapshot) -> std::io::Result<RenderedDocuments> {
    let mut hashing = Sha256Writer::new(Vec::new());
    doc.write_json(&mut hashing)?;
    let (json, json_sha256) = hashing.finish();
    let mut csv = Vec::new();
    doc.write_csv(&mut csv)?;
    Ok(RenderedDocuments {
        json,
        csv,
        json_sha256,
    })
}
