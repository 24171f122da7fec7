//! Broadcasts: a packet encoded once, and who should receive it.
//!
//! [`BroadcastOperator`] is the `io.to("room").except("other").emit(...)` builder. Emitting
//! encodes the packet once into an [`EncodedPacket`] (shared bytes) and hands a [`Broadcast`] to
//! the namespace's adapter, which delivers it here and, for a remote adapter, elsewhere.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde_json::Value;

use crate::namespace::Namespace;
use crate::protocol::{Packet, encode};

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

    /// The Socket.IO text, without Engine.IO's `4`.
    pub fn socketio_text(&self) -> &str {
        self.frame.as_str().get(1..).unwrap_or_default()
    }
}

/// One broadcast: what a remote adapter forwards to the other instances.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// The namespace, e.g. `/admins`.
    pub namespace: String,
    /// Deliver to sockets in any of these rooms; empty means every socket of the namespace.
    pub rooms: Vec<String>,
    /// Skip sockets in any of these rooms.
    pub except_rooms: Vec<String>,
    /// Skip this socket (the sender, for `socket.broadcast` and `socket.to`).
    pub except_sid: Option<String>,
    /// The packet, serialised once.
    pub packet: EncodedPacket,
}

/// Chooses recipients, then emits: `ns.to("a").to("b").except("c").emit("ev", args)`.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<Namespace>,
    rooms: Vec<String>,
    except_rooms: Vec<String>,
    except_sid: Option<String>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<Namespace>, except_sid: Option<String>) -> BroadcastOperator {
        BroadcastOperator {
            ns,
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except_sid,
        }
    }

    /// Adds a room to deliver to (a socket in several of them receives the packet once).
    pub fn to(mut self, room: impl Into<String>) -> BroadcastOperator {
        self.rooms.push(room.into());
        self
    }

    /// Adds a room whose members are skipped.
    pub fn except(mut self, room: impl Into<String>) -> BroadcastOperator {
        self.except_rooms.push(room.into());
        self
    }

    /// Emits event `name` with `args` to the chosen sockets.
    pub fn emit(self, name: &str, args: Vec<Value>) {
        self.emit_binary(name, args, Vec::new());
    }

    /// Like [`BroadcastOperator::emit`], with binary attachments (use
    /// [`crate::protocol::binary::placeholder`] in `args` where they go).
    pub fn emit_binary(self, name: &str, args: Vec<Value>, binary: Vec<Bytes>) {
        let packet = Packet::event(self.ns.name(), name, args, binary);
        let broadcast = Broadcast {
            namespace: self.ns.name().to_owned(),
            rooms: self.rooms,
            except_rooms: self.except_rooms,
            except_sid: self.except_sid,
            packet: EncodedPacket::new(&packet),
        };
        self.ns.adapter().broadcast(broadcast);
    }
}

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
