//! Job events across the hosts of a cluster, through Redis pub/sub.
//!
//! Every host publishes its events to one channel, `{namespace}:events`,
//! and delivers to its local subscribers (WebSocket, socket.io) only what
//! its own subscription to that channel receives — its own events included.
//! With one path there are no duplicates, and since one host publishes a
//! job's events from a single task over one connection, they arrive in the
//! order they were published.
//!
//! Pub/sub keeps nothing for a subscriber that is away. When the
//! subscription breaks (Redis restarted, connection lost, or a periodic
//! ping unanswered), the relay logs it, reconnects with backoff,
//! subscribes again and then tells local subscribers to resync: they replay
//! the current state of their jobs from the job store, as on connect. A
//! publish that fails is retried, in order, until Redis takes it; an event
//! is dropped only if Redis stays away longer than [`PUBLISH_GIVE_UP`]
//! (the resync covers it).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::events::{EventBus, EventType, JobEvent};

/// How often the subscription proves it is alive.
const PING_EVERY: Duration = Duration::from_secs(10);
/// How long a ping (or a publish) may take before the connection counts as
/// lost.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long one event waits for Redis before it is dropped.
const PUBLISH_GIVE_UP: Duration = Duration::from_secs(60);

/// An event on the channel: the event plus the routing fields clients never
/// see.
#[derive(Serialize, Deserialize)]
struct Wire {
    wallet: String,
    job: String,
    #[serde(rename = "type")]
    kind: EventType,
    payload: Value,
}

/// The channel a namespace's events go through.
pub fn channel_name(namespace: &str) -> String {
    format!("{namespace}:events")
}

/// Connects `bus` to the cluster channel: from now on its events go through
/// Redis and come back to its subscribers from there. Returns once the
/// subscription is in place (so nothing published after is missed); the
/// relay then runs for the life of the process.
pub async fn start(
    bus: Arc<EventBus>,
    client: redis::Client,
    namespace: &str,
) -> anyhow::Result<()> {
    let channel = channel_name(namespace);
    let first = subscribe(&client, &channel).await?;
    let publisher = client
        .get_connection_manager_with_config(
            redis::aio::ConnectionManagerConfig::new()
                .set_response_timeout(Some(REPLY_TIMEOUT))
                .set_max_delay(BACKOFF_MAX),
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    bus.relay_through(tx).map_err(|e| anyhow::anyhow!(e))?;
    tokio::spawn(publish_loop(rx, publisher, channel.clone()));
    tokio::spawn(subscribe_loop(bus, client, channel, first));
    Ok(())
}

/// Publishes events one at a time, in order, retrying while Redis is away.
async fn publish_loop(
    mut rx: mpsc::UnboundedReceiver<JobEvent>,
    mut conn: redis::aio::ConnectionManager,
    channel: String,
) {
    while let Some(event) = rx.recv().await {
        let wire = Wire {
            wallet: event.wallet_id,
            job: event.job_id,
            kind: event.kind,
            payload: event.payload,
        };
        let text = serde_json::to_string(&wire).expect("an event serializes");
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&text)
                .query_async(&mut conn)
                .await;
            match sent {
                Ok(_) => break,
                Err(e) if started.elapsed() < PUBLISH_GIVE_UP => {
                    tracing::warn!(job_id = %wire.job, "publishing a job event to Redis failed, retrying: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
                Err(e) => {
                    tracing::error!(job_id = %wire.job, "dropping a job event Redis did not take: {e}");
                    break;
                }
            }
        }
    }
}

type Subscription = (redis::aio::PubSubSink, redis::aio::PubSubStream);

async fn subscribe(client: &redis::Client, channel: &str) -> redis::RedisResult<Subscription> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.split())
}

/// Delivers the channel's events to the local bus; on a lost subscription,
/// reconnects, resubscribes and resyncs local subscribers.
async fn subscribe_loop(
    bus: Arc<EventBus>,
    client: redis::Client,
    channel: String,
    first: Subscription,
) {
    let mut current = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        let (mut sink, mut stream) = match current.take() {
            Some(s) => s,
            None => match subscribe(&client, &channel).await {
                Ok(s) => {
                    tracing::info!(channel, "job event subscription restored; clients resync");
                    backoff = Duration::from_millis(100);
                    // Subscribed again: whatever passed meanwhile is in
                    // the job store, and clients replay it from there.
                    bus.resync();
                    s
                }
                Err(e) => {
                    tracing::warn!(channel, retry_in = ?backoff, "resubscribing to job events failed: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            },
        };
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let reason = loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => deliver(&bus, &message),
                    None => break "connection closed".to_string(),
                },
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(
                        REPLY_TIMEOUT,
                        sink.ping::<redis::Value>(),
                    ).await;
                    match pong {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => break format!("ping failed: {e}"),
                        Err(_) => break "ping unanswered".to_string(),
                    }
                }
            }
        };
        tracing::warn!(
            channel,
            "job event subscription lost ({reason}); resubscribing"
        );
    }
}

fn deliver(bus: &EventBus, message: &redis::Msg) {
    let payload = message.get_payload_bytes();
    match serde_json::from_slice::<Wire>(payload) {
        Ok(w) => bus.deliver(JobEvent {
            wallet_id: w.wallet,
            job_id: w.job,
            kind: w.kind,
            payload: w.payload,
        }),
        Err(e) => tracing::warn!("ignoring an unreadable job event on the channel: {e}"),
    }
}
