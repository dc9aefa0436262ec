//! socket.io on namespace `/snapshots`, for the original library's clients
//! (`io(url + '/snapshots', {auth: {accessToken}})`): the handshake's
//! `auth.accessToken` is checked like a Bearer token, each socket joins its
//! wallet's room, and job events arrive as `snapshots_events` with
//! `{type, payload}`. On connect a client first gets the state of its
//! unfinished and recently finished jobs, as on the plain WebSocket.

use serde::Deserialize;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use tokio::sync::broadcast::error::RecvError;

use crate::api::auth::AuthError;
use crate::api::state::AppState;
use crate::api::ws::current_states;

/// The namespace and event name of the original library.
pub const NAMESPACE: &str = "/snapshots";
pub const EVENT: &str = "snapshots_events";

/// The handshake payload: `{accessToken}`.
#[derive(Debug, Deserialize)]
struct Handshake {
    #[serde(rename = "accessToken")]
    access_token: Option<String>,
}

/// The wallet a connected socket speaks for.
#[derive(Clone, Debug)]
struct Wallet(String);

/// The socket.io layer, and the task forwarding job events to it.
pub fn layer(state: AppState) -> SocketIoLayer {
    let events = state.events.subscribe();
    let (layer, io) = SocketIo::builder().with_state(state.clone()).build_layer();
    io.ns(NAMESPACE, on_connect.with(authenticate));
    tokio::spawn(forward(io, events, state));
    layer
}

/// Refuses the connection (a socket.io `connect_error`) without a valid
/// token.
async fn authenticate(
    socket: SocketRef,
    TryData(handshake): TryData<Handshake>,
    State(state): State<AppState>,
) -> Result<(), AuthError> {
    let token = handshake
        .ok()
        .and_then(|h| h.access_token)
        .ok_or(AuthError::MissingToken)?;
    let caller = state.auth.authenticate(&token)?;
    socket.extensions.insert(Wallet(caller.wallet_id));
    Ok(())
}

async fn on_connect(socket: SocketRef, State(state): State<AppState>) {
    let Some(Wallet(wallet)) = socket.extensions.get::<Wallet>() else {
        return;
    };
    socket.join(wallet.clone());
    for event in current_states(&state, &wallet).await {
        if socket.emit(EVENT, &event).is_err() {
            return;
        }
    }
}

/// Sends every job event to the room of its wallet.
async fn forward(io: SocketIo, mut events: crate::jobs::events::EventReceiver, state: AppState) {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(ns) = io.of(NAMESPACE)
                    && let Err(e) = ns.to(event.wallet_id.clone()).emit(EVENT, &event).await
                {
                    tracing::debug!("socket.io broadcast failed: {e}");
                }
            }
            // Events were missed (this task fell behind, or the cluster's
            // event channel was restored): every socket gets its jobs'
            // current state again, as on connect.
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("socket.io missed {n} events; replaying job states");
                let Some(ns) = io.of(NAMESPACE) else { continue };
                for socket in ns.sockets() {
                    let Some(Wallet(wallet)) = socket.extensions.get::<Wallet>() else {
                        continue;
                    };
                    for event in current_states(&state, &wallet).await {
                        if socket.emit(EVENT, &event).is_err() {
                            break;
                        }
                    }
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
