//! Engine.IO v4 packets: one digit for the type, then the data.
//!
//! `0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop. Binary data
//! travels as a WebSocket binary frame (no prefix) or, over polling, as `b` + base64.
//! Frames leave the server as [`Outgoing`]: the text is an `Utf8Bytes`, whose clone shares the
//! bytes, so a broadcast serialises a packet once for all its recipients.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde::Serialize;

/// What a client may send us as text, once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// `1`: the client closes the session.
    Close,
    /// `2probe`: the first packet on a WebSocket that upgrades a polling session.
    PingProbe,
    /// `3`: the answer to our ping.
    Pong,
    /// `4...`: a message for the layer above (Socket.IO).
    Message(&'a str),
    /// `5`: the client switches to the WebSocket it probed.
    Upgrade,
    /// `6`: nothing (used during the upgrade).
    Noop,
}

/// Why a text frame is not a packet a client may send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A v4 client never pings: the server does (v3 had it the other way round).
    #[error("invalid heartbeat direction: clients must not send ping in Engine.IO v4")]
    ClientPing,
    #[error("the client sent a packet only a server sends ({0})")]
    ServerOnly(&'static str),
    /// `2probe` and `5` belong to an upgrade, on the probing WebSocket only.
    #[error("{0} is only valid while upgrading, on the new WebSocket")]
    OutOfPlace(&'static str),
}

/// Decodes one text packet from a client.
pub fn decode(text: &str) -> Result<Incoming<'_>, PacketError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(PacketError::Empty)?;
    // Every type is one ASCII digit, so the rest starts at byte 1.
    let rest = chars.as_str();
    match kind {
        '0' => Err(PacketError::ServerOnly("open")),
        '1' => Ok(Incoming::Close),
        '2' if rest == "probe" => Ok(Incoming::PingProbe),
        '2' => Err(PacketError::ClientPing),
        '3' => Ok(Incoming::Pong),
        '4' => Ok(Incoming::Message(rest)),
        '5' => Ok(Incoming::Upgrade),
        '6' => Ok(Incoming::Noop),
        other => Err(PacketError::UnknownType(other)),
    }
}

/// One packet on its way to a client: an Engine.IO text packet and the binary frames that
/// follow it (Socket.IO attachments). Cloning it is cheap: the bytes are shared.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The whole Engine.IO text packet, type digit included (`2`, `42["chat",{}]`).
    pub text: Utf8Bytes,
    /// Binary frames sent right after `text`, in order.
    pub binary: Arc<[Bytes]>,
}

impl Outgoing {
    /// A text-only packet.
    pub fn text(text: impl Into<Utf8Bytes>) -> Outgoing {
        Outgoing {
            text: text.into(),
            binary: Arc::from(Vec::new()),
        }
    }

    /// A lone binary message (no text packet before it): what an Engine.IO application sends
    /// with `socket.send(buffer)`. Socket.IO never does, its binary frames are attachments.
    pub fn binary(data: Bytes) -> Outgoing {
        Outgoing {
            text: Utf8Bytes::from_static(""),
            binary: Arc::from(vec![data]),
        }
    }

    /// `2`: the server's heartbeat.
    pub fn ping() -> Outgoing {
        Outgoing::text(Utf8Bytes::from_static("2"))
    }

    /// `6`: makes a pending polling request return during an upgrade.
    pub fn noop() -> Outgoing {
        Outgoing::text(Utf8Bytes::from_static("6"))
    }

    /// The bytes this packet holds (text and attachments): what it weighs in a client's queue.
    pub fn size(&self) -> usize {
        self.text.len() + self.binary.iter().map(Bytes::len).sum::<usize>()
    }

    /// The bytes this packet takes in a polling payload: its text, then `\x1e` and
    /// `b` + padded base64 for each attachment (see `polling::encode_payload`).
    pub fn polling_len(&self) -> usize {
        let attachments: usize = self
            .binary
            .iter()
            .map(|data| 2 + data.len().div_ceil(3) * 4)
            .sum();
        if self.text.is_empty() {
            // A lone binary message has no text part, hence no separator before its first part.
            attachments.saturating_sub(1)
        } else {
            self.text.len() + attachments
        }
    }
}

/// The data of the open packet (`0{...}`), the first thing a client receives.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    pub sid: String,
    pub upgrades: Vec<String>,
    pub ping_interval: u64,
    pub ping_timeout: u64,
    pub max_payload: usize,
}

impl OpenPacket {
    /// The text of the open packet: `0` followed by the JSON object.
    pub fn encode(&self) -> String {
        // ANCHOR: open_packet
        // Step 1: encode the open packet.
        // The first frame the client receives: `0` then this struct as JSON, with camelCase field names
        // (`pingInterval`, `pingTimeout`, `maxPayload`), as the handshake section of the page shows.
        todo!("step 1: encode the open packet (book: 02-socketio/engine-io.md)")
        // ANCHOR_END: open_packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_packets_decode_and_server_only_ones_are_refused() {
        assert_eq!(decode("3"), Ok(Incoming::Pong));
        assert_eq!(decode("4héllo"), Ok(Incoming::Message("héllo")));
        assert_eq!(decode("2probe"), Ok(Incoming::PingProbe));
        assert_eq!(decode("2"), Err(PacketError::ClientPing));
        assert_eq!(decode(""), Err(PacketError::Empty));
        assert_eq!(decode("é"), Err(PacketError::UnknownType('é')));
        assert!(decode("0{}").is_err());
    }
}
