//! Where finished documents are kept: content-addressed, so a snapshot's
//! CID identifies its exact bytes whether or not an IPFS node is configured.
//!
//! [`ArtifactStore`] is the one interface, with two implementations: the
//! embedded [`LocalCas`] under the data directory (always on), and an IPFS
//! node through its Kubo RPC API ([`KuboClient`], when `IPFS_API_URL` is
//! set). Both name bytes by the same CID ([`cid::unixfs_cid`]).
//! [`Artifacts`] puts them together: every document is stored locally first,
//! then published to IPFS; an upload that fails is retried in the
//! background until the node has it. In a cluster (Redis mode) documents
//! are also kept in Redis by CID ([`RedisBlobs`]), so any host serves any
//! job's documents; the local store is then that host's cache.

pub mod cid;
pub mod kubo;
pub mod local;
pub mod publish;
pub mod shared;

use async_trait::async_trait;
use bytes::Bytes;

pub use self::cid::{CidWriter, parse_cid, unixfs_cid};
pub use kubo::{KuboClient, KuboConfig};
pub use local::{IncomingFile, LocalCas};
pub use publish::{Artifacts, IpfsOptions, IpfsStatus, StoredDocuments};
pub use shared::RedisBlobs;

/// A failure to store or fetch an artifact.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArtifactError {
    /// The store could not be reached (connection refused, timeout).
    #[error("{0}")]
    Unreachable(String),
    /// The store answered with an error or an unreadable reply.
    #[error("{0}")]
    Upstream(String),
    /// Local disk trouble.
    #[error("{0}")]
    Io(String),
    /// The store named the bytes with another CID than ours: it imports
    /// with other parameters, or answered other bytes.
    #[error("the IPFS node gave CID {actual} where {expected} was expected")]
    Mismatch { expected: String, actual: String },
}

/// Bytes stored under their CID.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores `bytes`; returns their CID.
    async fn put(&self, bytes: Bytes) -> Result<::cid::Cid, ArtifactError>;
    /// The bytes of `cid`, checked against it; none when not stored.
    async fn get(&self, cid: &::cid::Cid) -> Result<Option<Bytes>, ArtifactError>;
    /// A short name for logs (`local`, `ipfs`).
    fn name(&self) -> &'static str;
}
