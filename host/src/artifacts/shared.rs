//! Documents shared by the hosts of a cluster: Redis values keyed by CID.
//!
//! In Redis mode a job may be run by one host and downloaded through
//! another, and the host that ran it may be gone. So a finished job's
//! documents are written, besides the local store, to Redis under
//! `{namespace}:doc:{cid}`; a host asked for a CID it does not hold reads
//! it from there, checks the bytes against the CID, and keeps a copy in its
//! local store (a per-host cache: content-addressed bytes never change, so
//! the copy never goes stale). Redis holds every document of the cluster:
//! size its memory for them (see README, "Sizing"), or put them on IPFS as
//! well, which every host can also read through.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cid::Cid;
use redis::aio::ConnectionManager;

use super::cid::unixfs_cid;
use super::{ArtifactError, ArtifactStore};

/// How long one document transfer may take (they can be megabytes).
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Content-addressed documents in Redis.
#[derive(Clone)]
pub struct RedisBlobs {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBlobs")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBlobs {
    /// Connects; documents live under `{namespace}:doc:`.
    pub async fn connect(client: &redis::Client, namespace: &str) -> Result<Self, ArtifactError> {
        let config =
            redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(REPLY_TIMEOUT));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| ArtifactError::Unreachable(format!("redis: {e}")))?;
        Ok(RedisBlobs {
            conn,
            prefix: format!("{namespace}:doc"),
        })
    }

    fn key(&self, cid: &Cid) -> String {
        format!("{}:{cid}", self.prefix)
    }
}

fn redis_error(e: redis::RedisError) -> ArtifactError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        ArtifactError::Unreachable(format!("redis: {e}"))
    } else {
        ArtifactError::Upstream(format!("redis: {e}"))
    }
}

async fn cid_of(bytes: Bytes) -> Result<Cid, ArtifactError> {
    tokio::task::spawn_blocking(move || unixfs_cid(&bytes))
        .await
        .map_err(|e| ArtifactError::Io(e.to_string()))
}

#[async_trait]
impl ArtifactStore for RedisBlobs {
    async fn put(&self, bytes: Bytes) -> Result<Cid, ArtifactError> {
        let cid = cid_of(bytes.clone()).await?;
        let mut conn = self.conn.clone();
        // The same CID is the same bytes: an existing value is left alone.
        redis::cmd("SET")
            .arg(self.key(&cid))
            .arg(bytes.as_ref())
            .arg("NX")
            .query_async::<Option<String>>(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(cid)
    }

    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, ArtifactError> {
        let mut conn = self.conn.clone();
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.key(cid))
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let Some(bytes) = bytes.map(Bytes::from) else {
            return Ok(None);
        };
        let actual = cid_of(bytes.clone()).await?;
        if actual != *cid {
            return Err(ArtifactError::Mismatch {
                expected: cid.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(bytes))
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
