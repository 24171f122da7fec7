//! Socket.IO v5: the packets that travel inside Engine.IO messages.
//!
//! - [`packet`]: what a packet is (type, namespace, ack id, JSON data, attachments).
//! - [`codec`]: the text form, `2/admins,12["chat",{}]`, both ways, with validation.
//! - [`binary`]: attachments, announced as `51-` and sent as separate binary frames.

pub mod binary;
pub mod codec;
pub mod packet;

pub use codec::{DecodeError, Decoded, decode, encode};
pub use packet::{Packet, PacketType};
