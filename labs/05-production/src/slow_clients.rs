//! When a client reads too slowly to keep, and what it may do afterwards.
//!
//! A broadcast never waits for a client: it is pushed on each client's bounded queue
//! (chapter 2), and a client whose queue refuses the push is disconnected ("transport buffer
//! full"). Bounds in packets and bytes alone are not enough on a quiet channel: at 5 messages
//! a second, 1,024 packets take three and a half minutes to fill, and all that time the
//! client is silently behind. [`LagPolicy`] also bounds how long the oldest packet may wait,
//! which drops a stalled client within seconds whatever the rate. Volatile packets never reach
//! the policy: they are queued only when the client can take them at once.
//!
//! A dropped client reconnects (it is the client's backoff loop that does), and, because the
//! store keeps its session ([`keeps_session`]), gets back what it missed: being slow costs it
//! a reconnect, not its messages. If it is slow for good, it will be dropped again; the
//! window and the log's size bound what that costs the server.

use std::time::Duration;

use socketio::session_store::is_recoverable;
use socketio::{Backlog, Bounds, SlowClientPolicy};

/// The reason chapter 2's queue gives when it drops a slow client.
pub const TOO_SLOW: &str = "transport buffer full";

/// Bounds in packets and bytes, and in how long the oldest queued packet has waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagPolicy {
    pub bounds: Bounds,
    /// A client whose oldest queued packet waited longer is too slow.
    pub max_wait: Duration,
}

impl SlowClientPolicy for LagPolicy {
    fn admits(&self, backlog: &Backlog, size: usize) -> bool {
        // ANCHOR: admits
        // Step 1: admit the push only within the bounds and while the oldest packet waited at most max_wait.
        // A stalled client must be dropped within `max_wait` of falling behind, whatever the rate;
        // a client that keeps up is never dropped; the packet and byte bounds still hold.
        todo!(
            "step 1: admit the push only within the bounds and while the oldest packet waited at most max_wait (book: 05-production/backpressure.md)"
        )
        // ANCHOR_END: admits
    }
}

/// Whether a socket that ended for `reason` keeps its session for recovery: socket.io's
/// reasons, and a client dropped for being too slow.
pub fn keeps_session(reason: &str) -> bool {
    // ANCHOR: keeps_session
    // Step 1: say whether a socket that ended for `reason` keeps its session.
    // socket.io's recoverable reasons, and "transport buffer full": a client dropped for
    // reading too slowly comes back and recovers what it missed.
    todo!(
        "step 1: say whether a socket that ended for {reason:?} keeps its session (book: 05-production/backpressure.md)"
    )
    // ANCHOR_END: keeps_session
}
