//! What every route handler can reach.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::FromRef;

use crate::api::auth::AuthConfig;
use crate::api::metrics::Metrics;
use crate::artifacts::Artifacts;
use crate::jobs::events::EventBus;
use crate::jobs::queue::JobQueue;
use crate::jobs::store::SharedJobStore;
use crate::net::HttpGateway;
use crate::registry::PluginRegistry;

/// Shared state of the HTTP API.
#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthConfig>,
    pub registry: Arc<PluginRegistry>,
    pub gateway: Arc<HttpGateway>,
    pub queue: Arc<JobQueue>,
    pub store: SharedJobStore,
    pub events: Arc<EventBus>,
    /// Finished documents (local content-addressed store, IPFS).
    pub artifacts: Arc<Artifacts>,
    pub metrics: Arc<Metrics>,
    /// Endpoint override per chain (`SNAPSHOT_ENDPOINT_<CHAIN>`).
    pub endpoints: Arc<BTreeMap<String, String>>,
}

impl FromRef<AppState> for Arc<AuthConfig> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}
