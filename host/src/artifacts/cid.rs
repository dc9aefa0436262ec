//! The content identifier of a document: the CID an IPFS node gives the
//! same bytes.
//!
//! Kubo (`ipfs add --cid-version=1`) and js-ipfs import a file as a UnixFS
//! DAG: 256 KiB fixed-size chunks stored as raw leaves, linked by a balanced
//! tree of dag-pb nodes of at most 174 links, hashed with sha2-256, a file of
//! one chunk being that raw leaf itself. [`IMPORT`] names those parameters
//! once: the local store computes CIDs with them and the IPFS client asks
//! the node for exactly them, so the two always agree.

use std::io;

use cid::Cid;
use rust_unixfs::file::adder::{BalancedCollector, Chunker, FileAdder};

/// How documents are imported into UnixFS, here and on the IPFS node.
pub struct ImportParams {
    pub chunk_size: usize,
    pub max_links: usize,
}

/// Kubo's defaults for `add --cid-version=1`.
pub const IMPORT: ImportParams = ImportParams {
    chunk_size: 256 * 1024,
    max_links: 174,
};

impl ImportParams {
    /// The query of a Kubo RPC `add` that imports with these parameters
    /// (raw leaves follow from CIDv1; they are spelled out all the same).
    pub fn kubo_add_query(&self) -> String {
        format!(
            "cid-version=1&raw-leaves=true&hash=sha2-256&chunker=size-{}&cid-base=base32",
            self.chunk_size
        )
    }
}

/// The CIDv1 of `bytes` imported as a UnixFS file with [`IMPORT`].
pub fn unixfs_cid(bytes: &[u8]) -> Cid {
    let mut writer = CidWriter::new();
    io::Write::write_all(&mut writer, bytes).expect("a CidWriter never fails");
    writer.finish()
}

/// Computes the CID of the bytes written to it as they arrive, so a
/// document can be named while it is streamed to disk. It holds one chunk
/// and the links of the tree built so far, never the document.
pub struct CidWriter {
    adder: FileAdder,
    root: RootTracker,
}

impl CidWriter {
    pub fn new() -> Self {
        CidWriter {
            adder: adder(),
            root: RootTracker::default(),
        }
    }

    /// The CID of everything written, as [`unixfs_cid`] gives it.
    pub fn finish(mut self) -> Cid {
        self.root.saw(self.adder.finish());
        self.root
            .0
            .expect("importing a file always yields at least one block")
    }
}

impl Default for CidWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl io::Write for CidWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (blocks, consumed) = self.adder.push(buf);
        self.root.saw(blocks);
        Ok(consumed)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn adder() -> FileAdder {
    FileAdder::builder()
        .with_chunker(Chunker::Size(IMPORT.chunk_size))
        .with_collector(BalancedCollector::with_branching_factor(IMPORT.max_links))
        .with_cid_version(cid::Version::V1)
        .with_raw_leaves(true)
        .build()
}

/// Blocks come out children first, so the root is the last one seen (for
/// a one-chunk file that is the leaf `push` returned: `finish` adds none).
#[derive(Default)]
struct RootTracker(Option<Cid>);

impl RootTracker {
    fn saw(&mut self, blocks: impl Iterator<Item = (Cid, Vec<u8>)>) {
        if let Some((cid, _)) = blocks.last() {
            self.0 = Some(cid);
        }
    }
}

/// Parses a CID given by a client; only the CIDv1 text we hand out
/// (multibase base32, lower case) or a CIDv0 (`Qm…`) is accepted.
pub fn parse_cid(text: &str) -> Result<Cid, String> {
    if text.is_empty() || text.len() > 128 || !text.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("{text:?} is not a CID"));
    }
    text.parse::<Cid>()
        .map_err(|e| format!("{text:?} is not a CID: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_empty_raw_block() {
        // `ipfs add --cid-version=1` of an empty file, as every IPFS
        // implementation answers it.
        assert_eq!(
            unixfs_cid(b"").to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
    }

    #[test]
    fn one_chunk_is_a_raw_leaf_and_more_is_a_dag_pb_root() {
        let one = unixfs_cid(&vec![7u8; IMPORT.chunk_size]);
        assert_eq!(one.codec(), 0x55, "raw");
        let two = unixfs_cid(&vec![7u8; IMPORT.chunk_size + 1]);
        assert_eq!(two.codec(), 0x70, "dag-pb");
        assert_eq!(two.version(), cid::Version::V1);
        assert!(two.to_string().starts_with("bafybei"), "{two}");
    }

    #[test]
    fn the_cid_does_not_depend_on_how_the_bytes_arrive() {
        let bytes: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let whole = unixfs_cid(&bytes);
        for piece in [1, 1000, IMPORT.chunk_size - 1, IMPORT.chunk_size + 7] {
            let mut writer = CidWriter::new();
            for part in bytes.chunks(piece) {
                io::Write::write_all(&mut writer, part).unwrap();
            }
            assert_eq!(writer.finish(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn client_cids_are_checked() {
        let cid = unixfs_cid(b"x").to_string();
        assert_eq!(parse_cid(&cid).unwrap().to_string(), cid);
        for bad in ["", "../etc/passwd", "bafy", "Qm!", &"b".repeat(200)] {
            assert!(parse_cid(bad).is_err(), "{bad}");
        }
    }
}
