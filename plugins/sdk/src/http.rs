//! Outbound HTTP through the host (the plugin's only way out).
//!
//! The host enforces the allow-list, rate limits, retries with backoff and the
//! response size cap, so plugins just send and parse.

use serde::de::DeserializeOwned;

use crate::PluginError;
use crate::bindings::snapshot::plugin::http as wit;

pub use wit::{Request, Response};

impl Request {
    /// A `GET` request for `url` asking for JSON.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: None,
        }
    }

    /// A `POST` request for `url` with a JSON body.
    pub fn post_json(url: impl Into<String>, body: &impl serde::Serialize) -> Self {
        Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                ("accept".into(), "application/json".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: Some(serde_json::to_vec(body).expect("a serde value serializes to JSON")),
        }
    }
}

impl Response {
    /// The body parsed as JSON; a malformed body is an `upstream` error that
    /// says where it came from.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            PluginError::Upstream(format!(
                "{what}: malformed reply (HTTP {}): {e}; body starts with {:?}",
                self.status,
                body_preview(&self.body)
            ))
        })
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, cut to a readable length, for error messages.
    pub fn preview(&self) -> String {
        body_preview(&self.body)
    }
}

fn body_preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// Sends one request.
pub fn send(req: &Request) -> Result<Response, PluginError> {
    wit::send(req)
}

/// Sends several requests concurrently; results come back in order.
pub fn send_all(reqs: &[Request]) -> Vec<Result<Response, PluginError>> {
    wit::send_all(reqs)
}

/// Tells the host the upstream asked us to slow down (see the WIT `throttle`).
pub fn throttle(url: &str, retry_after_ms: Option<u32>) {
    wit::throttle(url, retry_after_ms)
}

/// Starts a request without waiting; collect it with [`wait_any`].
pub fn start(req: &Request) -> u64 {
    wit::start(req)
}

/// Waits for at least one started request; returns every finished one.
pub fn wait_any() -> Vec<(u64, Result<Response, PluginError>)> {
    wit::wait_any()
}
