//! Storing a finished job's documents: locally first, then on IPFS, with
//! uploads that failed retried in the background until the node has them.
//!
//! The local copy is written (and synced) before anything else, so no
//! document is ever only on a node that may be down. A job whose upload
//! fails still completes, with `ipfsStatus: "pending"` and the CIDs it will
//! have on IPFS (the local store computes the same ones); a marker file
//! under `pending/` remembers the upload, so it survives a restart, and the
//! uploader moves the job to `pinned` once the node has both documents.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use url::Url;

use super::{ArtifactError, ArtifactStore, KuboClient, LocalCas};
use crate::jobs::store::SharedJobStore;

/// Where a job's documents are, as its status says (`ipfsStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpfsStatus {
    /// No IPFS node is configured: the documents are in the local
    /// content-addressed store only, under the CIDs IPFS would give them.
    Local,
    /// Stored locally; the upload to the IPFS node has not succeeded yet and
    /// is being retried.
    Pending,
    /// The IPFS node holds and pins both documents.
    Pinned,
    /// The node named the documents with other CIDs (it imports with other
    /// parameters): retrying cannot help; the local copies stay.
    Failed,
}

/// The IPFS side of [`Artifacts`].
#[derive(Clone, Debug)]
pub struct IpfsOptions {
    pub client: KuboClient,
    /// First wait after a failed upload; doubled after each failure.
    pub retry_initial: Duration,
    /// Longest wait between attempts (`SNAPSHOT_IPFS_RETRY_MAX_SECS`).
    pub retry_max: Duration,
}

/// Where a job's two documents went.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDocuments {
    pub json_cid: String,
    pub csv_cid: String,
    pub status: IpfsStatus,
    /// Public gateway links, when `IPFS_GATEWAY_URL` is set.
    pub json_url: Option<String>,
    pub csv_url: Option<String>,
}

/// An upload still owed to the IPFS node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingUpload {
    job_id: String,
    json_cid: String,
    csv_cid: String,
}

/// The documents of finished jobs: local store, IPFS node, gateway links.
pub struct Artifacts {
    local: LocalCas,
    /// In a cluster: the store every host reads (see [`super::shared`]).
    shared: Option<std::sync::Arc<dyn ArtifactStore>>,
    ipfs: Option<IpfsOptions>,
    gateway: Option<Url>,
    pending_dir: PathBuf,
    wake: Notify,
}

impl Artifacts {
    /// `dir` holds the local store; `pending/` inside it the owed uploads.
    pub fn new(dir: &Path, ipfs: Option<IpfsOptions>, gateway: Option<Url>) -> Self {
        Artifacts {
            local: LocalCas::new(dir),
            shared: None,
            ipfs,
            gateway,
            pending_dir: dir.join("pending"),
            wake: Notify::new(),
        }
    }

    /// Also keeps every document in `shared`, which all hosts of a cluster
    /// read; the local store becomes this host's cache of it.
    pub fn with_shared(mut self, shared: std::sync::Arc<dyn ArtifactStore>) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn local(&self) -> &LocalCas {
        &self.local
    }

    pub fn ipfs(&self) -> Option<&KuboClient> {
        self.ipfs.as_ref().map(|i| &i.client)
    }

    /// The public gateway URL of `cid`, when a gateway is configured.
    pub fn gateway_url(&self, cid: &str) -> Option<String> {
        let base = self.gateway.as_ref()?;
        let base = base.as_str().trim_end_matches('/');
        Some(if base.ends_with("/ipfs") {
            format!("{base}/{cid}")
        } else {
            format!("{base}/ipfs/{cid}")
        })
    }

    /// Publishes a finished job's documents, already in the local store
    /// (rendered there by [`crate::jobs::documents::render_into`], synced):
    /// to the cluster's shared store, then to the IPFS node if one is
    /// configured. An upload that fails leaves the job `pending` and is
    /// retried by [`Artifacts::run_uploader`]; only a local or shared-store
    /// failure is an error. The documents are read back into memory only
    /// when they go somewhere else.
    pub async fn store(
        &self,
        job_id: &str,
        json_cid: Cid,
        csv_cid: Cid,
    ) -> Result<StoredDocuments, ArtifactError> {
        let docs = if self.shared.is_some() || self.ipfs.is_some() {
            let mut docs = Vec::with_capacity(2);
            for cid in [json_cid, csv_cid] {
                let bytes = self.local.get(&cid).await?.ok_or_else(|| {
                    ArtifactError::Io(format!("document {cid} is missing from the local store"))
                })?;
                docs.push((cid, bytes));
            }
            docs
        } else {
            Vec::new()
        };
        if let Some(shared) = &self.shared {
            // Before the job completes: once it says so, any host must be
            // able to serve its documents.
            for (_, bytes) in &docs {
                shared.put(bytes.clone()).await.map_err(|e| {
                    ArtifactError::Unreachable(format!(
                        "storing the document in the {} store: {e}",
                        shared.name()
                    ))
                })?;
            }
        }
        let status = match &self.ipfs {
            None => IpfsStatus::Local,
            Some(ipfs) => match publish(&ipfs.client, &docs).await {
                Ok(()) => IpfsStatus::Pinned,
                Err(e @ ArtifactError::Mismatch { .. }) => {
                    tracing::error!(job_id, "IPFS upload refused: {e}");
                    IpfsStatus::Failed
                }
                Err(e) => {
                    tracing::warn!(job_id, "IPFS upload failed, will retry: {e}");
                    self.remember(job_id, &json_cid, &csv_cid)?;
                    self.wake.notify_one();
                    IpfsStatus::Pending
                }
            },
        };
        let (json_cid, csv_cid) = (json_cid.to_string(), csv_cid.to_string());
        Ok(StoredDocuments {
            json_url: self.gateway_url(&json_cid),
            csv_url: self.gateway_url(&csv_cid),
            json_cid,
            csv_cid,
            status,
        })
    }

    /// The bytes of `cid`: from the local store, else from the cluster's
    /// shared store (copied into the local one), else from the IPFS node
    /// (checked against the CID).
    pub async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, ArtifactError> {
        if let Some(bytes) = self.local.get(cid).await? {
            return Ok(Some(bytes));
        }
        if let Some(shared) = &self.shared {
            match shared.get(cid).await {
                Ok(Some(bytes)) => {
                    // A cache fill: failing it costs a later re-read only.
                    if let Err(e) = self.local.put(bytes.clone()).await {
                        tracing::warn!(%cid, "caching a shared document locally: {e}");
                    }
                    return Ok(Some(bytes));
                }
                Ok(None) => {}
                // The node may still have it: try there before failing.
                Err(e) if self.ipfs.is_some() => {
                    tracing::warn!(%cid, "reading the {} store: {e}", shared.name());
                }
                Err(e) => return Err(e),
            }
        }
        match &self.ipfs {
            Some(ipfs) => ipfs.client.get(cid).await,
            None => Ok(None),
        }
    }

    /// Writes the marker of an owed upload (synced: it must survive a crash).
    fn remember(&self, job_id: &str, json_cid: &Cid, csv_cid: &Cid) -> Result<(), ArtifactError> {
        let io =
            |e: std::io::Error| ArtifactError::Io(format!("{}: {e}", self.pending_dir.display()));
        std::fs::create_dir_all(&self.pending_dir).map_err(io)?;
        let marker = PendingUpload {
            job_id: job_id.to_string(),
            json_cid: json_cid.to_string(),
            csv_cid: csv_cid.to_string(),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.pending_dir).map_err(io)?;
        serde_json::to_writer(&mut tmp, &marker).expect("a marker serializes");
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(self.marker_path(job_id))
            .map_err(|e| io(e.error))?;
        Ok(())
    }

    fn marker_path(&self, job_id: &str) -> PathBuf {
        // Job ids are ULIDs we generate; keep only what they are made of.
        let safe: String = job_id.chars().filter(char::is_ascii_alphanumeric).collect();
        self.pending_dir.join(format!("{safe}.json"))
    }

    /// Uploads owed to the node, oldest first.
    fn pending(&self) -> Vec<(PathBuf, PendingUpload)> {
        let Ok(dir) = std::fs::read_dir(&self.pending_dir) else {
            return Vec::new();
        };
        let mut owed: Vec<(PathBuf, PendingUpload)> = dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(
                |p| match std::fs::read(&p).map(|b| serde_json::from_slice(&b)) {
                    Ok(Ok(marker)) => Some((p, marker)),
                    // A marker is written whole and renamed; anything else in
                    // the directory is not ours to act on.
                    _ => {
                        tracing::warn!(path = %p.display(), "ignoring an unreadable upload marker");
                        None
                    }
                },
            )
            .collect();
        owed.sort_by(|a, b| a.1.job_id.cmp(&b.1.job_id));
        owed
    }

    /// Retries owed uploads until `stop` resolves: at once when a job adds
    /// one, then with exponential backoff while the node keeps failing. A
    /// job whose documents are on the node moves to `pinned`.
    pub async fn run_uploader(
        self: Arc<Self>,
        jobs: SharedJobStore,
        stop: impl Future<Output = ()> + Send,
    ) {
        let Some(ipfs) = self.ipfs.clone() else {
            return;
        };
        tokio::pin!(stop);
        let mut backoff = ipfs.retry_initial;
        loop {
            let mut failed = false;
            for (path, owed) in self.pending() {
                match self.upload(&ipfs.client, &owed).await {
                    Ok(status) => {
                        let change = move |r: &mut crate::jobs::store::JobRecord| {
                            r.ipfs_status = Some(status);
                        };
                        if let Err(e) = jobs.update(&owed.job_id, &change).await {
                            // Keep the marker: the record must say where the
                            // documents are before we forget the upload.
                            tracing::warn!(job_id = owed.job_id, "recording the upload: {e}");
                            failed = true;
                            break;
                        }
                        let _ = std::fs::remove_file(&path);
                        tracing::info!(job_id = owed.job_id, ?status, "owed IPFS upload done");
                    }
                    Err(e) => {
                        tracing::warn!(job_id = owed.job_id, retry_in = ?backoff, "IPFS upload failed: {e}");
                        failed = true;
                        break;
                    }
                }
            }
            let wait = if failed {
                let wait = backoff;
                backoff = (backoff * 2).min(ipfs.retry_max);
                Some(wait)
            } else {
                backoff = ipfs.retry_initial;
                None
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = async {
                    match wait {
                        Some(w) => tokio::time::sleep(w).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// One owed upload; the status the job moves to.
    async fn upload(
        &self,
        client: &KuboClient,
        owed: &PendingUpload,
    ) -> Result<IpfsStatus, ArtifactError> {
        let mut docs = Vec::new();
        for text in [&owed.json_cid, &owed.csv_cid] {
            let cid: Cid = text
                .parse()
                .map_err(|e| ArtifactError::Io(format!("marker CID {text:?}: {e}")))?;
            let bytes = self.local.get(&cid).await?.ok_or_else(|| {
                ArtifactError::Io(format!("{cid} is missing from the local store"))
            })?;
            docs.push((cid, bytes));
        }
        match publish(client, &docs).await {
            Ok(()) => Ok(IpfsStatus::Pinned),
            Err(e @ ArtifactError::Mismatch { .. }) => {
                tracing::error!(job_id = owed.job_id, "IPFS upload refused: {e}");
                Ok(IpfsStatus::Failed)
            }
            Err(e) => Err(e),
        }
    }
}

/// Adds (and pins) each document; the node must name it with our CID.
async fn publish(client: &KuboClient, docs: &[(Cid, Bytes)]) -> Result<(), ArtifactError> {
    for (expected, bytes) in docs {
        let actual = client.add(bytes.clone()).await?;
        if actual != *expected {
            return Err(ArtifactError::Mismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    Ok(())
}
