//! Ctrl-C must end the open streams too.
//!
//! axum's graceful shutdown stops accepting connections and then waits for the open ones
//! to finish. An SSE stream, a WebSocket or a held long poll never finishes by itself, so
//! without help the server would wait forever. Every long-lived handler also waits on
//! this [`Shutdown`] and ends its response when it fires.

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Shared by every handler; cloning it is cheap.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Tells every open stream to end.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the shutdown is triggered (at once if it already was).
    pub fn triggered(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }
}
