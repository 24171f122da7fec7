//! The server's settings: limits, intervals and queue sizes, in one place.
//!
//! Tests shorten the intervals (a 15-second keep-alive would make a slow test) and shrink
//! the queues (to make a slow client fall behind on purpose).

use std::time::Duration;

/// Everything a test or the binary may tune.
#[derive(Debug, Clone)]
pub struct Config {
    /// How many messages the feed remembers, for `after=N`, `Last-Event-ID` and resync.
    pub history: usize,
    /// How many messages may wait for one subscriber before it counts as fallen behind.
    pub client_queue: usize,
    /// Longest accepted message, in characters (Unicode scalar values).
    pub max_text_chars: usize,
    /// Silence after which SSE sends a `: keep-alive` comment and WebSocket a Ping.
    pub keep_alive: Duration,
    /// The `retry:` an SSE stream announces: how long EventSource waits before reconnecting.
    pub sse_retry: Duration,
    /// How long a long poll waits when the client does not say (`timeout_ms`).
    pub long_poll_default: Duration,
    /// The longest a long poll may wait, whatever the client asks.
    pub long_poll_max: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            history: 1000,
            client_queue: 64,
            max_text_chars: 1000,
            keep_alive: Duration::from_secs(15),
            sse_retry: Duration::from_secs(3),
            long_poll_default: Duration::from_millis(25_000),
            long_poll_max: Duration::from_millis(60_000),
        }
    }
}
