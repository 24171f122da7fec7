//! The server's heartbeat: every `pingInterval` a `2`, and a `3` expected within `pingTimeout`.
//!
//! In Engine.IO v4 the server pings (v3 had the client ping). A client that does not answer in
//! time is gone (a laptop lid closed, a dead NAT mapping): the session is closed with
//! "ping timeout", which is how the server finds out at all.

use std::sync::Arc;
use std::time::Duration;

use super::packet::Outgoing;
use super::session::{CloseReason, Session};

/// Runs until the session closes: ping, wait for the pong, repeat.
pub async fn run(session: Arc<Session>, interval: Duration, timeout: Duration) {
    // ANCHOR: heartbeat
    // Step 1: ping every ping_interval and close on a missing pong.
    // Every `interval` the client gets a ping (`2`); a session whose pong (`3`) has not come
    // `timeout` after that ping is closed with `CloseReason::PingTimeout`. The loop ends when its
    // session closes. The page's section on the heartbeat says who notices a dead peer, and why.
    todo!(
        "step 1: ping every ping_interval and close on a missing pong (book: 02-socketio/engine-io.md)"
    )
    // ANCHOR_END: heartbeat
}

/// Starts the heartbeat; if it panics (a bug, or the lab's `todo!`), the session is closed
/// instead of living on without a heartbeat.
pub fn spawn(session: Arc<Session>, interval: Duration, timeout: Duration) {
    let task = tokio::spawn(run(session.clone(), interval, timeout));
    tokio::spawn(async move {
        if task.await.is_err() {
            session.close(CloseReason::ServerClose);
        }
    });
}
