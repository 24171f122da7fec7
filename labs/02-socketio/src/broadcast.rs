//! Broadcasts: a packet encoded once, and who should receive it.
//!
//! [`BroadcastOperator`] is the `io.to("room").except("other").emit(...)` builder. Emitting
//! hands the packet and its [`BroadcastOptions`] to the namespace's adapter, which encodes it
//! once into an [`EncodedPacket`] (shared bytes) for the local sockets and, for a cluster
//! adapter, sends it to the other servers, which do the same for theirs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde_json::Value;

use futures_util::FutureExt;

use crate::ack::{AckCollector, AckEvent, AckResponse};
use crate::adapter::{AdapterError, AdapterFuture, BroadcastOptions};
use crate::namespace::Namespace;
use crate::protocol::{Packet, encode};
use crate::socket::SocketInfo;

/// A Socket.IO packet serialised once for all its recipients: cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct EncodedPacket {
    /// The Engine.IO message, `4` included: `42["chat",{}]`.
    pub frame: Utf8Bytes,
    /// The binary attachments, sent as frames after `frame`.
    pub attachments: Arc<[Bytes]>,
}

impl EncodedPacket {
    /// Serialises `packet`.
    pub fn new(packet: &Packet) -> EncodedPacket {
        EncodedPacket::from_socketio_text(&encode(packet), packet.attachments.clone())
    }

    /// Rebuilds an encoded packet from its Socket.IO text (for instance received from another
    /// instance by a remote adapter).
    pub fn from_socketio_text(text: &str, attachments: Vec<Bytes>) -> EncodedPacket {
        EncodedPacket {
            frame: Utf8Bytes::from(format!("4{text}")),
            attachments: Arc::from(attachments),
        }
    }

    /// Its size on the wire: the text frame plus the attachments, in bytes.
    pub fn len(&self) -> usize {
        self.frame.len() + self.attachments.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether it is empty (it never is: a frame holds at least its type).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Socket.IO text, without Engine.IO's `4`.
    pub fn socketio_text(&self) -> &str {
        self.frame.as_str().get(1..).unwrap_or_default()
    }
}

/// Chooses recipients, then emits: `ns.to("a").to("b").except("c").emit("ev", args)`.
///
/// Also the filter of socket.io's cluster-wide socket operations: `fetch_sockets`,
/// `sockets_join`, `sockets_leave`, `disconnect_sockets` act on the sockets it selects, on
/// every server.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<Namespace>,
    options: BroadcastOptions,
}

impl BroadcastOperator {
    /// Every socket of `ns`, except socket `except_sid` (the sender, for `socket.broadcast`).
    pub(crate) fn new(ns: Arc<Namespace>, except_sid: Option<String>) -> BroadcastOperator {
        let mut options = BroadcastOptions::all();
        options.except.extend(except_sid);
        BroadcastOperator { ns, options }
    }

    /// Adds a room to deliver to (a socket in several of them receives the packet once).
    pub fn to(mut self, room: impl Into<String>) -> BroadcastOperator {
        self.options.rooms.insert(room.into());
        self
    }

    /// Adds a room whose members are skipped.
    pub fn except(mut self, room: impl Into<String>) -> BroadcastOperator {
        self.options.except.insert(room.into());
        self
    }

    /// Only the sockets of this server (`io.local`).
    pub fn local(mut self) -> BroadcastOperator {
        self.options.flags.local = true;
        self
    }

    /// The packet may be dropped for a client that cannot take it now (`io.volatile`).
    pub fn volatile(mut self) -> BroadcastOperator {
        self.options.flags.volatile = true;
        self
    }

    /// How long [`BroadcastOperator::emit_with_ack`] waits (`io.timeout(ms)`).
    pub fn timeout(mut self, timeout: Duration) -> BroadcastOperator {
        self.options.flags.timeout = Some(timeout);
        self
    }

    /// Who this operator selects.
    pub fn options(&self) -> &BroadcastOptions {
        &self.options
    }

    /// Emits event `name` with `args` to the chosen sockets.
    pub fn emit(self, name: &str, args: Vec<Value>) {
        self.emit_binary(name, args, Vec::new());
    }

    /// Like [`BroadcastOperator::emit`], with binary attachments (use
    /// [`crate::protocol::binary::placeholder`] in `args` where they go).
    ///
    /// Local delivery happens now; what the adapter sends further is not awaited (an error is
    /// logged). Use [`BroadcastOperator::emit_checked`] to await it.
    pub fn emit_binary(self, name: &str, args: Vec<Value>, binary: Vec<Bytes>) {
        let outcome = self.send(name, args, binary);
        let nsp = self.ns.name().to_owned();
        let log = move |result: Result<(), AdapterError>| {
            if let Err(error) = result {
                tracing::warn!(nsp, %error, "broadcast not sent to the other servers");
            }
        };
        // The local adapter is done already: no task for it.
        let mut outcome = outcome;
        match (&mut outcome).now_or_never() {
            Some(result) => log(result),
            None => {
                tokio::spawn(async move { log(outcome.await) });
            }
        }
    }

    /// Emits and waits until the adapter has handed the broadcast to every server.
    pub async fn emit_checked(self, name: &str, args: Vec<Value>) -> Result<(), AdapterError> {
        self.send(name, args, Vec::new()).await
    }

    fn send(&self, name: &str, args: Vec<Value>, binary: Vec<Bytes>) -> AdapterFuture<'static, ()> {
        let packet = Packet::event(self.ns.name(), name, args, binary);
        self.ns.broadcast(packet, self.options.clone())
    }

    /// Emits event `name` and waits for every recipient's acknowledgement, on every server,
    /// for at most the operator's `timeout` (5 s by default). On timeout the error says how many
    /// answered; the answers that came are lost, as socket.io reports them only with the error.
    pub async fn emit_with_ack(
        self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<Vec<AckResponse>, AdapterError> {
        let timeout = self.options.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        let packet = Packet::event(self.ns.name(), name, args, Vec::new());
        let (collector, mut events) = AckCollector::new();
        let adapter = self.ns.adapter().clone();
        let handed = adapter.broadcast_with_ack(packet, self.options.clone(), collector);
        let servers = if self.options.flags.local {
            1
        } else {
            adapter.server_count().await?
        };
        handed.await?;
        let mut reported = 0;
        let mut expected = 0;
        let mut responses = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while reported < servers || responses.len() < expected {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(AckEvent::ClientCount(count))) => {
                    reported += 1;
                    expected += count;
                }
                Ok(Some(AckEvent::Ack(response))) => responses.push(response),
                Ok(None) | Err(_) => {
                    return Err(AdapterError::Timeout {
                        operation: "emit_with_ack",
                        timeout,
                        answered: responses.len(),
                        expected: expected.max(responses.len()),
                    });
                }
            }
        }
        Ok(responses)
    }

    /// Describes the selected sockets, on every server (`fetchSockets`).
    pub async fn fetch_sockets(self) -> Result<Vec<SocketInfo>, AdapterError> {
        self.ns.adapter().fetch_sockets(self.options).await
    }

    /// Makes the selected sockets join `rooms`, on every server (`socketsJoin`).
    pub async fn sockets_join(self, rooms: Vec<String>) -> Result<(), AdapterError> {
        self.ns.adapter().add_sockets(self.options, rooms).await
    }

    /// Makes the selected sockets leave `rooms`, on every server (`socketsLeave`).
    pub async fn sockets_leave(self, rooms: Vec<String>) -> Result<(), AdapterError> {
        self.ns.adapter().del_sockets(self.options, rooms).await
    }

    /// Disconnects the selected sockets, on every server; `close` also closes their
    /// connection (`disconnectSockets(close)`).
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), AdapterError> {
        self.ns
            .adapter()
            .disconnect_sockets(self.options, close)
            .await
    }
}

/// socket.io's default for `emitWithAck` without `timeout`: its Redis adapter's
/// `requestsTimeout`.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_millis(5000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::packet::Outgoing;
    use serde_json::json;

    #[test]
    fn recipients_share_the_bytes_of_one_encoding() {
        let packet = EncodedPacket::new(&Packet::event("/", "chat", vec![json!({"t": 1})], vec![]));
        // What LocalSockets::deliver queues for each recipient.
        let a = Outgoing {
            text: packet.frame.clone(),
            binary: packet.attachments.clone(),
        };
        let b = Outgoing {
            text: packet.frame.clone(),
            binary: packet.attachments.clone(),
        };
        assert_eq!(a.text.as_str(), "42[\"chat\",{\"t\":1}]");
        assert_eq!(
            a.text.as_ptr(),
            b.text.as_ptr(),
            "one serialisation, shared"
        );
        assert_eq!(packet.socketio_text(), "2[\"chat\",{\"t\":1}]");
    }
}
