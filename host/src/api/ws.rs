//! `GET /snapshots/ws`: job events over a plain WebSocket, for clients
//! without socket.io. Each message is the same `{type, payload}` JSON the
//! socket.io transport sends as `snapshots_events`.
//!
//! On connect the client first gets the current state of each of its
//! unfinished jobs and of those that ended in the last few minutes, so a
//! client that was offline misses no completion; then live events.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use tokio::sync::broadcast::error::RecvError;

use crate::api::auth::WsCaller;
use crate::api::state::AppState;
use crate::jobs::events::JobEvent;
use crate::jobs::worker::now_ms;

/// How long a finished job is still replayed to a (re)connecting client.
pub const RECENTLY_FINISHED: Duration = Duration::from_secs(10 * 60);

pub fn router() -> Router<AppState> {
    Router::new().route("/snapshots/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    WsCaller(caller): WsCaller,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state, caller.wallet_id))
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

async fn serve(mut socket: WebSocket, state: AppState, wallet_id: String) {
    // Subscribe before reading the states, so nothing falls between them.
    let mut rx = state.events.subscribe();
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
