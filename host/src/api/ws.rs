//! `GET /snapshots/ws`: job events over a plain WebSocket, for clients
//! without socket.io. Each message is the same `{type, payload}` JSON the
//! socket.io transport sends as `snapshots_events`.
//!
//! On connect the client first gets the current state of each of its
//! unfinished jobs and of those that ended in the last few minutes, so a
//! client that was offline misses no completion; then live events.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::WsCaller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::TAG_EVENTS;
use crate::api::state::AppState;
use crate::jobs::events::JobEvent;
use crate::jobs::worker::now_ms;
use crate::registry::PluginChange;

/// Read buffer of each connection. Clients send nothing the server uses, and
/// tungstenite zero-fills this whole buffer on every read attempt: with the
/// default 128 KiB, every connection memset 128 KiB each time any job event
/// woke it (63% of the host's CPU with 1,000 subscribers) and held it resident.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// How long a finished job is still replayed to a (re)connecting client.
pub const RECENTLY_FINISHED: Duration = Duration::from_secs(10 * 60);

/// The upgrade route, registered from its `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(upgrade))
}

/// Job events over a WebSocket
///
/// A WebSocket upgrade (RFC 6455 handshake, `Upgrade: websocket`), not a
/// REST call. Once upgraded, the server sends text messages, each a JSON
/// `{type, payload}` (what socket.io clients get as `snapshots_events`):
/// `type` is `snapshots_waiting`, `snapshots_active`, `snapshots_progress`
/// (at most 4 per second per job), `snapshots_completed` or
/// `snapshots_failed`; `payload` holds `jobId`, `jobName`
/// (`generate_snapshot`), `snapshotId` (the token), `status` and `progress`,
/// plus `holderCount`, `resolvedAt` and the document CIDs on completion and
/// `error` on failure. On connect, first the state of each of the caller's
/// unfinished jobs and of those finished in the last 10 minutes, then live
/// events of the caller's jobs only. Callers with the `admin` role also
/// get `plugins_changed` events, `payload` `{action, name, version, sha256,
/// previousVersion, previousSha256, file, reason}` with `action` `added`,
/// `replaced`, `removed`, `restored` (the bundled plugin serves again) or
/// `rejected` (a plugin file failed validation; the previous version stays
/// live). Messages from the client are ignored.
/// The token comes in `Authorization` or, for browsers, as `?access_token=`.
#[utoipa::path(
    get,
    path = "/snapshots/ws",
    tag = TAG_EVENTS,
    params(
        ("access_token" = Option<String>, Query, description = "The JWT, for clients that cannot set `Authorization` (browsers). Ignored when the header is present."),
    ),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; job events follow as text messages."),
        (status = 400, description = "Not a WebSocket handshake.", body = ErrorBody),
        (status = 401, description = "Missing or invalid token (header or `access_token`).", body = ErrorBody),
    ),
    security(("bearerAuth" = []), ("accessTokenQuery" = [])),
)]
async fn upgrade(
    State(state): State<AppState>,
    WsCaller(caller): WsCaller,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    Ok(ws?
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            let admin = caller.is_admin();
            serve(socket, state, caller.wallet_id, admin)
        }))
}

/// The events that describe the wallet's unfinished and recently finished
/// jobs, oldest first.
pub async fn current_states(state: &AppState, wallet_id: &str) -> Vec<JobEvent> {
    let since = now_ms() - RECENTLY_FINISHED.as_millis() as i64;
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    // Newest first; stop at the first page holding only old, finished jobs.
    for _ in 0..10 {
        let Ok(page) = state.store.history(wallet_id, 100, cursor.as_deref()).await else {
            break;
        };
        let mut relevant = false;
        for job in &page.jobs {
            if !job.status.is_finished() || job.completed_at.is_some_and(|t| t >= since) {
                relevant = true;
                events.push(JobEvent::for_state(job));
            }
        }
        match page.next_cursor {
            Some(next) if relevant => cursor = Some(next),
            _ => break,
        }
    }
    events.reverse();
    events
}

/// The `type` of plugin change events, sent to admins only.
pub const PLUGINS_CHANGED: &str = "plugins_changed";

/// A plugin change as admins receive it: `{type, payload}`.
#[derive(Serialize)]
struct PluginsChanged<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: &'a PluginChange,
}

/// The next plugin change, or never for a connection that gets none.
async fn next_change(
    changes: &mut Option<broadcast::Receiver<PluginChange>>,
) -> Result<PluginChange, RecvError> {
    match changes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn serve(mut socket: WebSocket, state: AppState, wallet_id: String, admin: bool) {
    // Subscribe before reading the states, so nothing falls between them.
    let mut rx = state.events.subscribe();
    let mut plugin_changes = admin.then(|| state.registry.subscribe());
    for event in current_states(&state, &wallet_id).await {
        if send(&mut socket, &event).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Ok(event) if event.wallet_id == wallet_id => {
                    if send(&mut socket, &event).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // Fell behind: resend the current state of every job.
                Err(RecvError::Lagged(_)) => {
                    for event in current_states(&state, &wallet_id).await {
                        if send(&mut socket, &event).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Closed) => return,
            },
            change = next_change(&mut plugin_changes) => match change {
                Ok(change) => {
                    let message = PluginsChanged { kind: PLUGINS_CHANGED, payload: &change };
                    let text = serde_json::to_string(&message).expect("a change serializes");
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // Missed changes: `GET /plugins` has the current state.
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "an admin WebSocket missed plugin changes");
                }
                Err(RecvError::Closed) => plugin_changes = None,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send(socket: &mut WebSocket, event: &JobEvent) -> Result<(), axum::Error> {
    let text = serde_json::to_string(event).expect("an event serializes");
    socket.send(Message::Text(text.into())).await
}
