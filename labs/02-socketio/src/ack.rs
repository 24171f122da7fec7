//! Acknowledgements, both ways.
//!
//! Client to server: an event with an id (`21["echo","hi"]`) hands the handler an
//! [`AckSender`]; sending it answers `31["hi"]` once. Server to client:
//! [`crate::Socket::emit_with_ack`] registers the id in [`PendingAcks`], and the client's `3<id>`
//! resolves it. A timeout (or dropping the future) removes the id, so a late ack is ignored and
//! nothing accumulates; a disconnect fails every pending ack. A broadcast with acks
//! ([`crate::BroadcastOperator::emit_with_ack`]) sends one id to many sockets, possibly on many
//! servers: their answers meet in an [`AckCollector`].
//!
//! Ack ids come from the namespace, not the socket, so one encoded packet can carry the same id
//! to every recipient of a broadcast without clashing with a socket's own `emit_with_ack`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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

/// Who waits for one ack: a socket's own `emit_with_ack`, or a broadcast's collector.
#[derive(Debug)]
enum Waiter {
    One(oneshot::Sender<AckResponse>),
    Broadcast(AckCollector),
}

/// The acks a socket waits for, by id.
#[derive(Debug)]
pub(crate) struct PendingAcks {
    next_id: Arc<AtomicU64>,
    waiting: Mutex<HashMap<u64, Waiter>>,
}

impl PendingAcks {
    /// Pending acks whose ids come from `ids` (the namespace's counter).
    pub(crate) fn new(ids: Arc<AtomicU64>) -> PendingAcks {
        PendingAcks {
            next_id: ids,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh id and the receiver its ack will arrive on.
    pub(crate) fn register(&self) -> (u64, oneshot::Receiver<AckResponse>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(id, Waiter::One(tx));
        (id, rx)
    }

    /// Waits for the ack `id` of a broadcast: the answer goes to `collector`.
    pub(crate) fn register_broadcast(&self, id: u64, collector: &AckCollector) {
        let mut waiting = lock(&self.waiting);
        // Broadcasts that stopped waiting (timed out) leave their ids behind: prune them here,
        // so a socket that never answers does not accumulate them.
        waiting.retain(|_, waiter| !matches!(waiter, Waiter::Broadcast(c) if c.tx.is_closed()));
        waiting.insert(id, Waiter::Broadcast(collector.clone()));
    }

    /// Hands an ack to its waiter; false for an id nobody waits for (late, or made up).
    pub(crate) fn resolve(&self, id: u64, response: AckResponse) -> bool {
        let waiter = lock(&self.waiting).remove(&id);
        match waiter {
            Some(Waiter::One(tx)) => tx.send(response).is_ok(),
            Some(Waiter::Broadcast(collector)) => collector.ack(response),
            None => false,
        }
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

/// What the servers of a broadcast with acks report, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum AckEvent {
    /// One server sent the packet to this many clients.
    ClientCount(usize),
    /// One client acknowledged.
    Ack(AckResponse),
}

/// Where the answers to one broadcast with acks meet: every server reports its client count
/// (socket.io's `clientCountCallback`) and every client's ack (its `ack` callback). Cloning
/// gives another handle to the same collector.
#[derive(Debug, Clone)]
pub struct AckCollector {
    tx: tokio::sync::mpsc::UnboundedSender<AckEvent>,
}

impl AckCollector {
    /// A collector and the receiver of its events.
    pub fn new() -> (AckCollector, tokio::sync::mpsc::UnboundedReceiver<AckEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (AckCollector { tx }, rx)
    }

    /// One server sent the packet to `clients` clients.
    pub fn server_reported(&self, clients: usize) {
        let _ = self.tx.send(AckEvent::ClientCount(clients));
    }

    /// One client acknowledged; false if nobody waits any more (timed out).
    pub fn ack(&self, response: AckResponse) -> bool {
        self.tx.send(AckEvent::Ack(response)).is_ok()
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
