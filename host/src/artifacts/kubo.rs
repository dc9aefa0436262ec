//! An IPFS node through the Kubo RPC API (`/api/v0/...`): Kubo itself,
//! js-ipfs, and hosted pinning services that speak it.
//!
//! A small client on the reqwest the host already has: the crate written for
//! this (`ipfs-api-backend-hyper`) no longer resolves on a fresh machine and
//! pins hyper 0.14. Every call is a POST, as the RPC API requires.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cid::Cid;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;
use url::Url;

use super::cid::{IMPORT, unixfs_cid};
use super::{ArtifactError, ArtifactStore};

/// How to reach the node (`IPFS_API_URL` and its credentials).
#[derive(Clone, Debug)]
pub struct KuboConfig {
    /// The API base, e.g. `http://127.0.0.1:5001` (a trailing `/api/v0` is
    /// accepted too).
    pub api_url: Url,
    /// `Authorization` header value for hosted endpoints: `Bearer …` from
    /// `IPFS_API_TOKEN`, or `Basic …` from `IPFS_API_USERNAME` /
    /// `IPFS_API_PASSWORD`.
    pub authorization: Option<String>,
    /// Longest one call may take (a multi-MiB `add` included).
    pub timeout: Duration,
}

impl KuboConfig {
    pub fn new(api_url: &str) -> Result<Self, String> {
        let mut url = Url::parse(api_url.trim())
            .map_err(|e| format!("IPFS_API_URL {api_url:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("IPFS_API_URL {api_url:?} must be http or https"));
        }
        let path = url
            .path()
            .trim_end_matches('/')
            .trim_end_matches("/api/v0")
            .to_string();
        url.set_path(&format!("{path}/api/v0/"));
        Ok(KuboConfig {
            api_url: url,
            authorization: None,
            timeout: Duration::from_secs(120),
        })
    }

    /// Adds the credentials of a hosted endpoint from the environment:
    /// `IPFS_API_TOKEN` (bearer), or `IPFS_API_USERNAME` and
    /// `IPFS_API_PASSWORD` (basic).
    pub fn with_env_credentials(mut self) -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        self.authorization = match (
            var("IPFS_API_TOKEN"),
            var("IPFS_API_USERNAME"),
            var("IPFS_API_PASSWORD"),
        ) {
            (Some(_), Some(_), _) => {
                return Err("set IPFS_API_TOKEN or IPFS_API_USERNAME, not both".into());
            }
            (Some(token), None, _) => Some(format!("Bearer {}", token.trim())),
            (None, Some(user), password) => {
                use base64::Engine;
                let pair = format!("{user}:{}", password.unwrap_or_default());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (None, None, Some(_)) => {
                return Err("IPFS_API_PASSWORD is set without IPFS_API_USERNAME".into());
            }
            (None, None, None) => None,
        };
        Ok(self)
    }
}

/// How long the node may look for content it does not hold.
pub const CAT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Kubo RPC client.
#[derive(Clone, Debug)]
pub struct KuboClient {
    config: KuboConfig,
    http: reqwest::Client,
    authorization: Option<HeaderValue>,
}

impl KuboClient {
    pub fn new(config: KuboConfig) -> Result<Self, String> {
        let authorization = match &config.authorization {
            Some(v) => {
                let mut value = HeaderValue::from_str(v)
                    .map_err(|_| "the IPFS API credentials are not a valid header".to_string())?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("building the IPFS client: {e}"))?;
        Ok(KuboClient {
            config,
            http,
            authorization,
        })
    }

    /// The API base this client talks to (credentials not included).
    pub fn api_url(&self) -> &Url {
        &self.config.api_url
    }

    async fn call(
        &self,
        command: &str,
        query: &str,
        form: Option<reqwest::multipart::Form>,
    ) -> Result<Bytes, ArtifactError> {
        let mut url = self
            .config
            .api_url
            .join(command)
            .map_err(|e| ArtifactError::Unreachable(format!("IPFS API URL: {e}")))?;
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        let mut request = self.http.post(url);
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if let Some(form) = form {
            request = request.multipart(form);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ArtifactError::Unreachable(format!("IPFS {command}: {e}")))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            ArtifactError::Unreachable(format!("IPFS {command}: reading the reply: {e}"))
        })?;
        if !status.is_success() {
            // Kubo answers errors as {"Message": ..., "Code": ..., "Type": "error"}.
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
                });
            return Err(ArtifactError::Upstream(format!(
                "IPFS {command} answered {status}: {message}"
            )));
        }
        Ok(body)
    }

    /// The node's version (`/api/v0/version`): the start-up probe.
    pub async fn version(&self) -> Result<String, ArtifactError> {
        let body = self.call("version", "", None).await?;
        let reply: Value = serde_json::from_slice(&body)
            .map_err(|e| ArtifactError::Upstream(format!("IPFS version: not JSON: {e}")))?;
        reply
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ArtifactError::Upstream("IPFS version: no `Version` in the reply".into())
            })
    }

    /// Adds and pins `bytes` as one file, imported as [`IMPORT`] says.
    pub async fn add(&self, bytes: Bytes) -> Result<Cid, ArtifactError> {
        let part = reqwest::multipart::Part::stream(bytes)
            .file_name("snapshot")
            .mime_str("application/octet-stream")
            .expect("a valid mime type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let query = format!("{}&pin=true&progress=false", IMPORT.kubo_add_query());
        let body = self.call("add", &query, Some(form)).await?;
        parse_add_reply(&body)
    }

    /// The bytes of `cid`. A node looks for content it lacks on the
    /// network, possibly for ever: it gives up after [`CAT_TIMEOUT`].
    pub async fn cat(&self, cid: &Cid) -> Result<Bytes, ArtifactError> {
        let query = format!("arg={cid}&timeout={}s", CAT_TIMEOUT.as_secs());
        self.call("cat", &query, None).await
    }

    /// Pins `cid` (recursively).
    pub async fn pin(&self, cid: &Cid) -> Result<(), ArtifactError> {
        self.call("pin/add", &format!("arg={cid}"), None)
            .await
            .map(|_| ())
    }
}

/// The root CID of an `add` reply: newline-delimited JSON objects, the last
/// one with a `Hash` being the file (Kubo writes `Size` as a string, js-ipfs
/// as a number; neither is needed here).
pub fn parse_add_reply(body: &[u8]) -> Result<Cid, ArtifactError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ArtifactError::Upstream("IPFS add: the reply is not UTF-8".into()))?;
    let mut last = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let entry: Value = serde_json::from_str(line).map_err(|e| {
            ArtifactError::Upstream(format!("IPFS add: a reply line is not JSON: {e}"))
        })?;
        if let Some(message) = entry.get("Message").and_then(Value::as_str) {
            return Err(ArtifactError::Upstream(format!("IPFS add: {message}")));
        }
        if let Some(hash) = entry.get("Hash").and_then(Value::as_str) {
            last = Some(hash.to_string());
        }
    }
    let hash =
        last.ok_or_else(|| ArtifactError::Upstream("IPFS add: no `Hash` in the reply".into()))?;
    hash.parse()
        .map_err(|e| ArtifactError::Upstream(format!("IPFS add: {hash:?} is not a CID: {e}")))
}

#[async_trait]
impl ArtifactStore for KuboClient {
    async fn put(&self, bytes: Bytes) -> Result<Cid, ArtifactError> {
        self.add(bytes).await
    }

    /// Fetches `cid` and checks that the bytes are what it names: a node is
    /// not trusted to answer the right content.
    async fn get(&self, cid: &Cid) -> Result<Option<Bytes>, ArtifactError> {
        let bytes = match self.cat(cid).await {
            Ok(b) => b,
            // The node does not have it, and did not find it in time.
            Err(ArtifactError::Upstream(m))
                if ["not found", "no link", "timed out", "timeout"]
                    .iter()
                    .any(|s| m.contains(s)) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let check = bytes.clone();
        let actual = tokio::task::spawn_blocking(move || unixfs_cid(&check))
            .await
            .map_err(|e| ArtifactError::Io(e.to_string()))?;
        if actual != *cid {
            return Err(ArtifactError::Mismatch {
                expected: cid.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(bytes))
    }

    fn name(&self) -> &'static str {
        "ipfs"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_replies_from_kubo_and_js_ipfs_both_parse() {
        let cid = unixfs_cid(b"x").to_string();
        let kubo = format!("{{\"Name\":\"snapshot\",\"Hash\":\"{cid}\",\"Size\":\"1\"}}\n");
        let js = format!("{{\"Name\":\"snapshot\",\"Hash\":\"{cid}\",\"Size\":1}}\n");
        assert_eq!(parse_add_reply(kubo.as_bytes()).unwrap().to_string(), cid);
        assert_eq!(parse_add_reply(js.as_bytes()).unwrap().to_string(), cid);
        let progress = format!("{{\"Name\":\"snapshot\",\"Bytes\":1}}\n{kubo}");
        assert_eq!(
            parse_add_reply(progress.as_bytes()).unwrap().to_string(),
            cid
        );
        for bad in [
            &b""[..],
            b"<html>",
            b"{\"Name\":\"x\"}",
            b"{\"Hash\":\"not-a-cid\"}",
            b"{\"Message\":\"blockstore full\",\"Type\":\"error\"}",
        ] {
            assert!(
                parse_add_reply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn api_urls_are_normalised() {
        for given in [
            "http://127.0.0.1:5001",
            "http://127.0.0.1:5001/",
            "http://127.0.0.1:5001/api/v0",
            "http://127.0.0.1:5001/api/v0/",
        ] {
            assert_eq!(
                KuboConfig::new(given).unwrap().api_url.as_str(),
                "http://127.0.0.1:5001/api/v0/"
            );
        }
        assert_eq!(
            KuboConfig::new("https://pin.example/ipfs")
                .unwrap()
                .api_url
                .as_str(),
            "https://pin.example/ipfs/api/v0/"
        );
        assert!(KuboConfig::new("ftp://x").is_err());
        assert!(KuboConfig::new("not a url").is_err());
    }
}
