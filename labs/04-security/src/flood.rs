//! The event hook that applies the per-user bucket: an event without a token is dropped; a
//! socket that keeps sending into an empty bucket is disconnected.
//!
//! Dropping is the first answer: a burst from an honest client (a paste, a reconnect that
//! flushes a buffer) loses a few messages and goes on. A client still sending far beyond its
//! rate a second later is not honest: it is disconnected with the reason `rate limit exceeded`,
//! which frees the server from reading it. Other sockets, even on the same instance, are
//! unaffected: only this user's bucket is empty.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};
use serde_json::Value;
use socketio::{Event, EventHook, Socket, Verdict};

use crate::bucket::Buckets;

/// The reason a flooding socket is disconnected with.
pub const FLOOD_REASON: &str = "rate limit exceeded";

/// The hook: [`Buckets`] per user, and how many refused events in one second end a socket.
pub struct FloodGuard {
    pub buckets: Arc<Buckets>,
    pub disconnect_after: u32,
}

/// Refused events of one socket in the current one-second window.
#[derive(Clone)]
struct Strikes(Arc<Mutex<(Instant, u32)>>);

impl FloodGuard {
    // ANCHOR: flood_verdict
    async fn decide(&self, socket: &Socket) -> Verdict {
        // Step 3: pass, drop, or disconnect this socket.
        // An event with a token passes; without one it is dropped. A socket with more than
        // `disconnect_after` refused events within one second is told why (`refused`) and disconnected.
        todo!("step 3: pass, drop, or disconnect this socket (book: 04-security/limits.md)")
    }
    // ANCHOR_END: flood_verdict
}

impl EventHook for FloodGuard {
    fn check<'a>(&'a self, socket: &'a Socket, _event: &'a Event) -> BoxFuture<'a, Verdict> {
        self.decide(socket).boxed()
    }
}

/// Whose bucket: the token's `sub` when authenticated, else the client's IP (an unauthenticated
/// user is an address), else the socket itself.
pub fn user_of(socket: &Socket) -> String {
    if let Some(Value::String(user)) = socket.data().get("user") {
        return format!("user:{user}");
    }
    match socket.handshake().address {
        Some(address) => format!("ip:{}", address.ip()),
        None => format!("sid:{}", socket.id()),
    }
}
