//! The server's heartbeat: every `pingInterval` a `2`, and a `3` expected within `pingTimeout`.
//!
//! In Engine.IO v4 the server pings (v3 had the client ping). A client that does not answer in
//! time is gone (a laptop lid closed, a dead NAT mapping): the session is closed with
//! "ping timeout", which is how the server finds out at all.
//!
//! Both waits end at instants fixed in advance (`sleep_until`), not after durations started
//! whenever the task got to run: the first ping is due `interval` after the session opened,
//! and the session closes `timeout` after the ping was due. A late wake-up then delays nothing
//! else, and a client that never answers is gone at `interval + timeout`, as in the reference
//! server.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::{Instant, sleep_until};

use super::packet::Outgoing;
use super::session::{CloseReason, Session};

/// Runs until the session closes: ping, wait for the pong, repeat. `opened` is when the
/// session was opened: the first ping is due `interval` later.
pub async fn run(session: Arc<Session>, opened: Instant, interval: Duration, timeout: Duration) {
    // ANCHOR: heartbeat
    // Step 1: ping every ping_interval and close on a missing pong.
    // Every `interval` the client gets a ping (`2`), the first one `interval` after the session opened;
    // a session whose pong (`3`) has not come `timeout` after the instant that ping was due is closed with
    // `CloseReason::PingTimeout`. The loop ends when its session closes. The page's section on the
    // heartbeat says who notices a dead peer, and why.
    todo!(
        "step 1: ping every ping_interval and close on a missing pong (book: 02-socketio/engine-io.md)"
    )
    // ANCHOR_END: heartbeat
}

/// Starts the heartbeat on the session's tracker; if it panics (a bug, or the lab's `todo!`),
/// the session is closed instead of living on without a heartbeat. One task: the panic is
/// caught where it happens, not by a second task watching the first.
pub fn spawn(session: Arc<Session>, opened: Instant, interval: Duration, timeout: Duration) {
    let beat = run(session.clone(), opened, interval, timeout);
    session.clone().spawn(supervised(session, beat));
}

async fn supervised(session: Arc<Session>, beat: impl Future<Output = ()>) {
    if std::panic::AssertUnwindSafe(beat)
        .catch_unwind()
        .await
        .is_err()
    {
        session.close(CloseReason::ServerClose);
    }
}
