//! The HTTP API: REST routes, WebSocket progress, health and metrics.
//!
//! [`app`] builds the whole router from an [`AppState`]; `serve` (in
//! `crate::service`) runs it next to the queue worker. Every route is
//! registered from its handler's `#[utoipa::path]`, which is also what
//! `GET /openapi.json` ([`openapi()`]) describes.

pub mod admin;
pub mod auth;
pub mod documents;
pub mod error;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod rest;
pub mod socketio;
pub mod state;
pub mod summary;
pub mod web;
pub mod ws;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

/// Largest request body accepted (the API takes small JSON bodies only;
/// `PUT /plugins/{name}` has its own limit, [`admin::MAX_PLUGIN_BYTES`]).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest a request may take (validation included; not WebSockets).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Every route with its OpenAPI description (socket.io, an axum layer, is
/// added by [`app`]). Register routes only with utoipa-axum's `routes!`, so
/// each one is in `GET /openapi.json`.
fn routes() -> OpenApiRouter<AppState> {
    let http = rest::router()
        .merge(documents::router())
        .merge(summary::router())
        .merge(admin::router())
        .merge(health::router())
        .merge(openapi::router())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(http)
        .merge(ws::router())
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let (router, document) = routes().split_for_parts();
    // The web page is not part of the API: no OpenAPI entry (`api::web`).
    router
        .merge(web::router())
        .layer(Extension(openapi::Document::new(&document)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(socketio::layer(state.clone()))
        .with_state(state)
}

/// The OpenAPI 3.1 document `GET /openapi.json` serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}
