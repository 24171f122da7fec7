//! The text form of a Socket.IO packet, both ways.
//!
//! `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`, for example `0`, `40{"sid":"x"}`,
//! `2/admins,12["chat",{"text":"hi"}]`, `451-["up",{"_placeholder":true,"num":0}]`.
//! The decoder never trusts its input: it slices only at ASCII delimiters (so a multi-byte
//! character never splits), bounds the attachment count, lets serde_json bound the nesting
//! depth, and checks that the payload fits the type (an event is a non-empty array whose first
//! element is a non-reserved name, or a number: socket.io-parser accepts `42[7]` too).

use std::fmt::Write as _;

use serde_json::Value;

use super::binary::PartialPacket;
use super::packet::{Packet, PacketType};

/// Event names that belong to Socket.IO itself; a client may not send them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// What the decoder made of a text packet.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// A complete packet.
    Packet(Packet),
    /// A binary packet that waits for its attachments.
    Partial(PartialPacket),
}

/// Why a text is not a valid Socket.IO packet. Each ends the client's session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    #[error("invalid attachment count")]
    InvalidAttachments,
    #[error("{count} attachments announced, at most {max} allowed")]
    TooManyAttachments { count: usize, max: usize },
    #[error("invalid ack id")]
    InvalidId,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid payload for {0:?}: {1}")]
    InvalidPayload(PacketType, &'static str),
    #[error("reserved event name {0:?}")]
    ReservedEvent(String),
}

/// Encodes the text part of `packet` (attachments travel as separate frames).
pub fn encode(packet: &Packet) -> String {
    // ANCHOR: encode
    // Step 2: encode a Socket.IO packet.
    // The text form of a packet, as the page's table of frames shows: `2["chat",...]`,
    // `451-[...]`, `2/admins,12[...]`.
    todo!("step 2: encode a Socket.IO packet (book: 02-socketio/packets.md)")
    // ANCHOR_END: encode
}

/// Decodes one text packet; binary ones come back [`Decoded::Partial`] until their
/// attachments arrive. `max_attachments` bounds what a packet may announce.
pub fn decode(text: &str, max_attachments: usize) -> Result<Decoded, DecodeError> {
    // ANCHOR: decode
    // Step 2: decode a Socket.IO packet without trusting it.
    // The reverse of `encode`, for text a client may have forged: anything the page calls invalid is
    // a `DecodeError`, nothing panics, and a packet that announces attachments is `Decoded::Partial`
    // until they arrive. The page's "The format" section lists what is valid.
    todo!("step 2: decode a Socket.IO packet without trusting it (book: 02-socketio/packets.md)")
    // ANCHOR_END: decode
}

/// Checks that the payload fits the packet type, as socket.io-parser does.
fn validate(kind: PacketType, id: Option<u64>, data: Option<&Value>) -> Result<(), DecodeError> {
    let invalid = |why| Err(DecodeError::InvalidPayload(kind, why));
    match kind {
        PacketType::Connect => match data {
            None | Some(Value::Object(_)) => Ok(()),
            _ => invalid("CONNECT data must be an object"),
        },
        PacketType::Disconnect => match data {
            None => Ok(()),
            _ => invalid("DISCONNECT has no data"),
        },
        PacketType::Event | PacketType::BinaryEvent => match data {
            Some(Value::Array(items)) => match items.first() {
                Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
                    Err(DecodeError::ReservedEvent(name.clone()))
                }
                Some(Value::String(_) | Value::Number(_)) => Ok(()),
                Some(_) => invalid("the event name must be a string or a number"),
                None => invalid("an event needs a name"),
            },
            _ => invalid("event data must be an array"),
        },
        PacketType::Ack | PacketType::BinaryAck => match (id, data) {
            (None, _) => invalid("an ACK needs an id"),
            (Some(_), Some(Value::Array(_))) => Ok(()),
            _ => invalid("ack data must be an array"),
        },
        PacketType::ConnectError => match data {
            Some(Value::Object(_) | Value::String(_)) => Ok(()),
            _ => invalid("CONNECT_ERROR data must be an object or a string"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn complete(text: &str) -> Packet {
        match decode(text, 10) {
            Ok(Decoded::Packet(p)) => p,
            other => panic!("{text:?} should decode to a complete packet, got {other:?}"),
        }
    }

    #[test]
    fn the_examples_of_the_protocol_decode() {
        assert_eq!(complete("0"), Packet::new(PacketType::Connect, "/", None));
        let p = complete("2/admins,12[\"chat\",{\"text\":\"hi\"}]");
        assert_eq!(p.nsp, "/admins");
        assert_eq!(p.id, Some(12));
        assert_eq!(p.data, Some(json!(["chat", {"text": "hi"}])));
        assert_eq!(complete("0/custom,").nsp, "/custom");
        assert_eq!(complete("0/custom").nsp, "/custom");
        // socket.io-parser accepts a numeric event name.
        assert_eq!(complete("2[7,\"a\"]").data, Some(json!([7, "a"])));
        assert!(matches!(
            decode("51-[\"up\",{\"_placeholder\":true,\"num\":0}]", 10),
            Ok(Decoded::Partial(_))
        ));
    }

    #[test]
    fn encoding_writes_only_what_is_there() {
        assert_eq!(encode(&Packet::new(PacketType::Connect, "/", None)), "0");
        let ack = Packet::ack("/admins", 3, vec![json!(true)], Vec::new());
        assert_eq!(encode(&ack), "3/admins,3[true]");
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        for text in [
            "",
            "7",
            "é",
            "5",
            "5-[\"a\"]",
            "5x-[\"a\"]",
            "599999999999999999999999-[\"a\"]",
            "2[",
            "2{}",
            "2[]",
            "2[true]",
            "2[\"connect\"]",
            "1{}",
            "0[]",
            "3[]",
            "2/é",
            "299999999999999999999999[\"a\"]",
        ] {
            assert!(decode(text, 10).is_err(), "{text:?} should be refused");
        }
        assert_eq!(
            decode("511-[\"a\"]", 10).err(),
            Some(DecodeError::TooManyAttachments { count: 11, max: 10 })
        );
        let deep = format!("2[\"a\",{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(decode(&deep, 10), Err(DecodeError::Json(_))));
    }
}
