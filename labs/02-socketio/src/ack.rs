//! Acknowledgements, both ways.
//!
//! Client to server: an event with an id (`21["echo","hi"]`) hands the handler an
//! [`AckSender`]; sending it answers `31["hi"]` once. Server to client:
//! [`crate::Socket::emit_with_ack`] registers the id in [`PendingAcks`], and the client's `3<id>`
//! resolves it. A timeout (or dropping the future) removes the id, so a late ack is ignored and
//! nothing accumulates; a disconnect fails every pending ack.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::engine::session::lock;
use crate::protocol::Packet;
use crate::socket::Socket;

/// What a client acknowledged with.
#[derive(Debug, Clone, PartialEq)]
pub struct AckResponse {
    pub args: Vec<Value>,
    pub binary: Vec<Bytes>,
}

/// Why no acknowledgement came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
}

/// The acks a socket waits for, by id.
#[derive(Debug, Default)]
pub(crate) struct PendingAcks {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<AckResponse>>>,
}

impl PendingAcks {
    /// A fresh id and the receiver its ack will arrive on.
    pub(crate) fn register(&self) -> (u64, oneshot::Receiver<AckResponse>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(id, tx);
        (id, rx)
    }

    /// Hands an ack to its waiter; false for an id nobody waits for (late, or made up).
    pub(crate) fn resolve(&self, id: u64, response: AckResponse) -> bool {
        let waiter = lock(&self.waiting).remove(&id);
        waiter.is_some_and(|tx| tx.send(response).is_ok())
    }

    /// Stops waiting for `id`.
    pub(crate) fn forget(&self, id: u64) {
        lock(&self.waiting).remove(&id);
    }

    /// Fails every waiter (their receivers see the sender dropped).
    pub(crate) fn clear(&self) {
        lock(&self.waiting).clear();
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.waiting).len()
    }
}

/// Removes a pending ack when its future ends in any way (answered, timed out, dropped).
pub(crate) struct ForgetOnDrop {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
}

impl Drop for ForgetOnDrop {
    fn drop(&mut self) {
        self.socket.acks().forget(self.id);
    }
}

/// Answers one client event that asked for an acknowledgement. Sending consumes it: an ack is
/// sent at most once.
#[derive(Clone, Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: u64) -> AckSender {
        AckSender { socket, id }
    }

    /// Acknowledges with `args` (`3<id>[...args]`).
    pub fn send(self, args: Vec<Value>) -> bool {
        self.send_binary(args, Vec::new())
    }

    /// Acknowledges with `args` and binary attachments (`6<n>-<id>[...]`).
    pub fn send_binary(self, args: Vec<Value>, binary: Vec<Bytes>) -> bool {
        // ANCHOR: ack_sender
        // Step 5: send the ACK packet for a client's event.
        // The client that sent `42<id>[...]` gets `43<id>[...args]` in the same namespace (or
        // `6<n>-<id>[...]` with attachments): acks.md, "On the wire".
        todo!("step 5: send the ACK packet for a client's event (book: 02-socketio/acks.md)")
        // ANCHOR_END: ack_sender
    }
}
