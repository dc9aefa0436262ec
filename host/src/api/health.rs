//! `/healthz`, `/readyz`, `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

/// Ready when the queue and the job store answer.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.queue.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("queue unreachable: {e}"),
        );
    }
    if let Err(e) = state.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("job store unreachable: {e}"),
        );
    }
    (StatusCode::OK, "ready".to_string())
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state
        .metrics
        .render(&state.gateway.stats(), &state.registry.list());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
