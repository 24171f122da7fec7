//! A Socket.IO packet, as the codec reads and writes it.

use bytes::Bytes;
use serde_json::Value;

/// The seven packet types of Socket.IO v5, numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit, if it is one.
    pub fn from_digit(digit: char) -> Option<PacketType> {
        Some(match digit {
            '0' => PacketType::Connect,
            '1' => PacketType::Disconnect,
            '2' => PacketType::Event,
            '3' => PacketType::Ack,
            '4' => PacketType::ConnectError,
            '5' => PacketType::BinaryEvent,
            '6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit.
    pub fn digit(self) -> char {
        char::from(b'0' + self as u8)
    }

    /// Whether attachments follow this packet (`5` and `6`).
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// One Socket.IO packet. Binary attachments stay out of `data`: where one goes, `data` holds
/// the placeholder `{"_placeholder":true,"num":N}` and `attachments[N]` holds the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketType,
    /// `/` unless the packet names another namespace.
    pub nsp: String,
    /// The ack id: the sender wants an ACK with this id.
    pub id: Option<u64>,
    /// The JSON payload: an array for events and acks, an object for CONNECT.
    pub data: Option<Value>,
    /// Binary attachments, only for `BinaryEvent` and `BinaryAck`.
    pub attachments: Vec<Bytes>,
}

impl Packet {
    /// A packet with no id and no attachments.
    pub fn new(kind: PacketType, nsp: impl Into<String>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data,
            attachments: Vec::new(),
        }
    }

    /// `EVENT` (or `BINARY_EVENT` when there are attachments): `[name, ...args]`.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, attachments: Vec<Bytes>) -> Packet {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::String(name.to_owned()));
        data.extend(args);
        let kind = if attachments.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id: None,
            data: Some(Value::Array(data)),
            attachments,
        }
    }

    /// `ACK` (or `BINARY_ACK`) for `id` with these arguments.
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>, attachments: Vec<Bytes>) -> Packet {
        let kind = if attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id: Some(id),
            data: Some(Value::Array(args)),
            attachments,
        }
    }
}
