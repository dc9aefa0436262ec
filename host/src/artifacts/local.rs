//! The embedded artifact store: files named by their CID under the data
//! directory.
//!
//! Each file is written beside its final name, synced and renamed, so a
//! reader never sees half a document and a crash leaves either nothing or
//! the whole file. A file's name is the CID an IPFS node gives its bytes
//! ([`super::cid`]), so a document stored here can be published later and
//! keep its identity.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use cid::Cid;

use super::cid::unixfs_cid;
use super::{ArtifactError, ArtifactStore};

/// Content-addressed files in one directory.
#[derive(Clone, Debug)]
pub struct LocalCas {
    dir: PathBuf,
}

impl LocalCas {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalCas { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the bytes of `cid` live (they may not).
    pub fn path(&self, cid: &Cid) -> PathBuf {
        // A parsed CID's text is multibase: letters and digits only, so it
        // can never leave the directory.
        self.dir.join(cid.to_string())
    }

    /// Stores `bytes` durably and returns their CID. Storing the same bytes
    /// again is a no-op. Blocking: call off the async threads.
    pub fn put_blocking(&self, bytes: &[u8]) -> std::io::Result<Cid> {
        let cid = unixfs_cid(bytes);
        let path = self.path(&cid);
        if path.exists() {
            return Ok(cid);
        }
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(cid)
    }

    /// The bytes of `cid`, if stored here. Blocking.
    pub fn get_blocking(&self, cid: &Cid) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(cid)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ArtifactStore for LocalCas {
    async fn put(&self, bytes: Bytes) -> Result<Cid, ArtifactError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_blocking(&bytes))
            .await
            .map_err(|e| ArtifactError::Io(e.to_string()))?
            .map_err(|e| ArtifactError::Io(format!("{}: {e}", self.dir.display())))
    }

    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, ArtifactError> {
        let (store, cid) = (self.clone(), *cid);
        tokio::task::spawn_blocking(move || store.get_blocking(&cid))
            .await
            .map_err(|e| ArtifactError::Io(e.to_string()))?
            .map(|b| b.map(Bytes::from))
            .map_err(|e| ArtifactError::Io(format!("{}: {e}", self.dir.display())))
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_come_back_under_their_cid() {
        let dir = tempfile::tempdir().unwrap();
        let cas = LocalCas::new(dir.path().join("artifacts"));
        let cid = cas.put(Bytes::from_static(b"holders")).await.unwrap();
        assert_eq!(cid, unixfs_cid(b"holders"));
        assert_eq!(cas.put(Bytes::from_static(b"holders")).await.unwrap(), cid);
        assert_eq!(
            cas.get(&cid).await.unwrap().as_deref(),
            Some(&b"holders"[..])
        );
        assert_eq!(cas.get(&unixfs_cid(b"other")).await.unwrap(), None);
        let names: Vec<_> = std::fs::read_dir(cas.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(cid.to_string())]);
    }
}
