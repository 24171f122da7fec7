//! Leaving the cluster without losing what clients can recover.
//!
//! An instance that stops (a deploy, a scale-in) holds sockets. Killing it makes every client
//! wait for a ping timeout, and a load balancer would keep sending it new clients until its
//! health check fails. Leaving well takes three moves, in this order:
//! 1. say "draining": `/readyz` answers 503, and the balancer stops sending new clients here
//!    at its next check;
//! 2. wait for that check (`notice`): a client that arrives meanwhile is still served;
//! 3. shut the Socket.IO server down: every socket is told "server shutting down", a reason
//!    clients recover from, so they reconnect through the balancer to another instance and,
//!    with the Redis store, get their session and missed messages back there; then sessions
//!    and adapters are closed, within `deadline`.
//!
//! Only then may the process exit (axum's graceful shutdown closes the listener).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socketio::SocketIo;
use socketio::engine::ShutdownReport;

/// Whether this instance is leaving; `/readyz` reads it.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How long each move may take.
#[derive(Debug, Clone, Copy)]
pub struct Leave {
    /// How long the balancer takes to see `/readyz` fail (its check interval, times its
    /// `fall` count).
    pub notice: Duration,
    /// How long sockets and adapters get to close.
    pub deadline: Duration,
}

/// Leaves the cluster: draining, then the balancer's notice, then the shutdown.
pub async fn leave(io: &SocketIo, draining: &Draining, leave: Leave) -> ShutdownReport {
    // ANCHOR: leave
    // Step 4: drain, wait for the balancer's notice, then shut down.
    // `/readyz` answers 503 first, for `notice`; only then is every socket told "server shutting
    // down" (clients recover elsewhere), and the report of the shutdown returned.
    todo!(
        "step 4: drain, wait for the balancer's notice, then shut down (book: 05-production/deploys.md)"
    )
    // ANCHOR_END: leave
}
