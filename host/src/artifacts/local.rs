//! The embedded artifact store: files named by their CID under the data
//! directory.
//!
//! Each file is written beside its final name, synced and renamed, so a
//! reader never sees half a document and a crash leaves either nothing or
//! the whole file. A document can also be streamed in ([`LocalCas::incoming`]):
//! its CID is computed on the way, so it is never held in memory whole. A file's name is the CID an IPFS node gives its bytes
//! ([`super::cid`]), so a document stored here can be published later and
//! keep its identity.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use cid::Cid;

use super::cid::{CidWriter, unixfs_cid};
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

    /// A new document to stream into the store: write it, then
    /// [`IncomingFile::commit`] it under its CID. Dropped uncommitted, it
    /// leaves nothing behind. Blocking.
    pub fn incoming(&self) -> std::io::Result<IncomingFile> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        Ok(IncomingFile {
            dir: self.dir.clone(),
            file: std::io::BufWriter::with_capacity(256 * 1024, tmp),
            cid: CidWriter::new(),
            len: 0,
        })
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

/// A document being written into a [`LocalCas`]: the bytes go to a
/// temporary file beside the stored ones and through a [`CidWriter`].
pub struct IncomingFile {
    dir: PathBuf,
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    cid: CidWriter,
    len: u64,
}

impl IncomingFile {
    /// Syncs the file and gives it its CID as name (a document already
    /// stored under it is kept); returns the CID and the length.
    pub fn commit(self) -> std::io::Result<(Cid, u64)> {
        let tmp = self.file.into_inner().map_err(|e| e.into_error())?;
        let cid = self.cid.finish();
        let path = self.dir.join(cid.to_string());
        if !path.exists() {
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
        }
        Ok((cid, self.len))
    }
}

impl Write for IncomingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.cid.write_all(&buf[..written])?;
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
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

    #[test]
    fn a_streamed_document_is_stored_under_the_cid_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cas = LocalCas::new(dir.path().join("artifacts"));
        let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 253) as u8).collect();
        let mut incoming = cas.incoming().unwrap();
        for part in bytes.chunks(4099) {
            incoming.write_all(part).unwrap();
        }
        let (cid, len) = incoming.commit().unwrap();
        assert_eq!((cid, len), (unixfs_cid(&bytes), bytes.len() as u64));
        assert_eq!(cas.get_blocking(&cid).unwrap(), Some(bytes.clone()));
        // The same bytes again keep the stored file; one dropped midway
        // leaves nothing.
        let mut again = cas.incoming().unwrap();
        again.write_all(&bytes).unwrap();
        assert_eq!(again.commit().unwrap().0, cid);
        let mut abandoned = cas.incoming().unwrap();
        abandoned.write_all(b"half a document").unwrap();
        drop(abandoned);
        let names: Vec<_> = std::fs::read_dir(cas.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(cid.to_string())]);
    }
}
