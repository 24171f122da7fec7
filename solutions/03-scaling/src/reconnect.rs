//! Staying subscribed: the subscriber connection's reconnect loop, and the counters of what
//! the adapter ignored or lost.
//!
//! Redis Pub/Sub keeps nothing: while an instance is disconnected, what the others publish is
//! gone for it. What it can do is keep serving its own sockets, reconnect with backoff,
//! subscribe again, and say so in its logs and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::Msg;
use tokio::sync::{oneshot, watch};

use crate::channels::Channels;

/// What the adapter counted; read them with [`crate::RedisAdapter::stats`].
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages that could not be decoded (garbled, or another protocol on our channels).
    pub garbled: AtomicU64,
    /// Messages on a channel the adapter does not know.
    pub foreign: AtomicU64,
    /// Times the subscriber connection came back after losing Redis.
    pub reconnects: AtomicU64,
    /// Publications that failed (Redis unreachable): their messages are lost.
    pub publish_failures: AtomicU64,
    /// Publications Redis accepted.
    pub published: AtomicU64,
    /// Messages that arrived on the adapter's channels (its own broadcasts included).
    pub received: AtomicU64,
    /// Publications waiting in the outbox: grows when Redis is slow or away.
    pub queued: AtomicU64,
    /// Time the accepted publications spent between the emit and Redis' reply, summed (µs):
    /// with `published`, the mean lag a broadcast adds before any other instance can see it.
    pub publish_lag_micros: AtomicU64,
}

impl Stats {
    pub fn garbled(&self) -> u64 {
        self.garbled.load(Ordering::Relaxed)
    }
    pub fn foreign(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }
    pub fn publish_failures(&self) -> u64 {
        self.publish_failures.load(Ordering::Relaxed)
    }
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
    /// The summed lag of the accepted publications, in seconds.
    pub fn publish_lag_seconds(&self) -> f64 {
        self.publish_lag_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// Delays between reconnect attempts: doubling from 50 ms up to 2 s, so a Redis that comes
/// back is found again within about 2 s, and a dead one is not hammered.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(50);
    pub const MAX: Duration = Duration::from_secs(2);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

async fn subscribe(
    client: &redis::Client,
    channels: &Channels,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe(channels.pattern()).await?;
    pubsub
        .subscribe(&[
            channels.request.as_str(),
            channels.response.as_str(),
            channels.specific_response.as_str(),
        ])
        .await?;
    Ok(pubsub)
}

/// Subscribes, reports the first outcome on `ready`, then hands every message to `on_message`
/// until `shutdown` turns true; reconnects with [`Backoff`] whenever the connection drops.
pub async fn run_subscriber(
    client: redis::Client,
    channels: Channels,
    stats: std::sync::Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
    ready: oneshot::Sender<redis::RedisResult<()>>,
    on_message: impl Fn(Msg) + Send + 'static,
) {
    let mut ready = Some(ready);
    let mut backoff = Backoff::new();
    let mut failed_attempts = 0u32;
    loop {
        let mut pubsub = match subscribe(&client, &channels).await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(error));
                    return;
                }
                failed_attempts += 1;
                if failed_attempts == 1 {
                    tracing::warn!(%error, "Redis unreachable, retrying with backoff");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if let Some(ready) = ready.take() {
            let _ = ready.send(Ok(()));
        } else {
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                attempts = failed_attempts + 1,
                "reconnected to Redis and subscribed again; what was published meanwhile is lost"
            );
        }
        backoff = Backoff::new();
        failed_attempts = 0;
        let closing = {
            let mut messages = pubsub.on_message();
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => on_message(message),
                        None => break false,
                    },
                    _ = shutdown.changed() => break true,
                }
            }
        };
        if closing {
            // Leave the channels explicitly, as Node's `close` does, then drop the connection.
            let _ = pubsub.punsubscribe(channels.pattern()).await;
            let _ = pubsub
                .unsubscribe(&[
                    channels.request.as_str(),
                    channels.response.as_str(),
                    channels.specific_response.as_str(),
                ])
                .await;
            return;
        }
        tracing::warn!("lost the Redis subscription; local delivery goes on, reconnecting");
    }
}
