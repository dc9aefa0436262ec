//! `/healthz`, `/readyz`, `/metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::openapi::TAG_OPERATIONS;
use crate::api::state::AppState;

/// The routes, each registered from its `#[utoipa::path]`. None needs a
/// token.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// Liveness
///
/// The process answers HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = TAG_OPERATIONS,
    responses((status = 200, description = "Alive.", body = String, content_type = "text/plain; charset=utf-8", example = "ok")),
)]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness
///
/// Ready when the queue and the job store answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = TAG_OPERATIONS,
    responses(
        (status = 200, description = "The queue and the job store answer.", body = String, content_type = "text/plain; charset=utf-8", example = "ready"),
        (status = 408, description = "A check took longer than the request timeout (60 s). Empty body."),
        (status = 503, description = "The queue or the job store is unreachable; the text says which.", body = String, content_type = "text/plain; charset=utf-8", example = "queue unreachable: connection refused"),
    ),
)]
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

/// Prometheus metrics
///
/// Jobs by state, holders fetched, upstream requests / 429s / retries per
/// host, plugin load time.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = TAG_OPERATIONS,
    responses((status = 200, description = "Prometheus text exposition format 0.0.4.", body = String, content_type = "text/plain; version=0.0.4")),
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state
        .metrics
        .render(&state.gateway.stats(), &state.registry.list());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
