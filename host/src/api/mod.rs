//! The HTTP API: REST routes, WebSocket progress, health and metrics.
//!
//! [`app`] builds the whole router from an [`AppState`]; `serve` (in
//! `crate::service`) runs it next to the queue worker.

pub mod auth;
pub mod error;
pub mod health;
pub mod metrics;
pub mod rest;
pub mod socketio;
pub mod state;
pub mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::timeout::TimeoutLayer;

pub use state::AppState;

/// Largest request body accepted (the API takes small JSON bodies only).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest a request may take (validation included; not WebSockets).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole API.
pub fn app(state: AppState) -> Router {
    let http = rest::router()
        .merge(health::router())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    Router::new()
        .merge(http)
        .merge(ws::router())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(socketio::layer(state.clone()))
        .with_state(state)
}
