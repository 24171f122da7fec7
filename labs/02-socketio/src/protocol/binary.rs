//! Binary attachments: `{"_placeholder":true,"num":N}` in the JSON, the bytes in frame N.
//!
//! A `BINARY_EVENT` announces how many frames follow (`51-`); the packet is complete only when
//! they have all arrived. The announced count is checked against a limit first: a client must
//! not make the server wait for (and buffer) a million attachments.

use bytes::Bytes;
use serde_json::{Value, json};

use super::packet::Packet;

/// The JSON that stands for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    json!({ "_placeholder": true, "num": num })
}

/// A packet waiting for its binary frames.
#[derive(Debug, Clone)]
pub struct PartialPacket {
    packet: Packet,
    expected: usize,
}

impl PartialPacket {
    /// `packet` announced `expected` attachments.
    pub fn new(packet: Packet, expected: usize) -> PartialPacket {
        PartialPacket { packet, expected }
    }

    /// Adds one frame; returns the packet once the last one arrived and every placeholder
    /// points at an attachment, or `Err` if a placeholder points nowhere.
    pub fn push(&mut self, data: Bytes) -> Option<Result<Packet, InvalidPlaceholder>> {
        // ANCHOR: attachments
        // Step 2: collect attachments until the packet is complete.
        // The packet is complete when its announced number of binary frames has arrived, and only if every
        // placeholder points at one of them (the page's section on binary attachments).
        todo!(
            "step 2: collect attachments until the packet is complete (book: 02-socketio/packets.md)"
        )
        // ANCHOR_END: attachments
    }
}

/// A placeholder whose `num` is not an attachment of its packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a placeholder points at an attachment that does not exist")]
pub struct InvalidPlaceholder;

/// Whether every placeholder in `value` has `num < count`. Depth is bounded by serde_json's
/// recursion limit (128), applied when the JSON was parsed.
fn placeholders_valid(value: &Value, count: usize) -> bool {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => map
            .get("num")
            .and_then(Value::as_u64)
            .is_some_and(|num| (num as usize) < count),
        Value::Object(map) => map.values().all(|v| placeholders_valid(v, count)),
        Value::Array(items) => items.iter().all(|v| placeholders_valid(v, count)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PacketType;

    #[test]
    fn a_packet_completes_with_its_last_attachment() {
        let packet = Packet::new(
            PacketType::BinaryEvent,
            "/",
            Some(json!(["up", placeholder(0), placeholder(1)])),
        );
        let mut partial = PartialPacket::new(packet, 2);
        assert!(partial.push(Bytes::from_static(b"a")).is_none());
        let done = partial.push(Bytes::from_static(b"b")).unwrap().unwrap();
        assert_eq!(done.attachments.len(), 2);
    }

    #[test]
    fn a_placeholder_beyond_the_attachments_is_refused() {
        let packet = Packet::new(
            PacketType::BinaryEvent,
            "/",
            Some(json!(["up", placeholder(5)])),
        );
        let mut partial = PartialPacket::new(packet, 1);
        assert_eq!(partial.push(Bytes::new()), Some(Err(InvalidPlaceholder)));
    }
}
