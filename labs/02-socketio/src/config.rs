//! Server settings: the Engine.IO timings and the limits that protect the server from a client.
//!
//! The defaults match socket.io's own (pingInterval 25000 ms, pingTimeout 20000 ms, maxPayload
//! 1000000 bytes, connectTimeout 45000 ms), so an unmodified socket.io client behaves the same
//! against this server as against Node.

use std::time::Duration;

/// Everything a [`crate::SocketIo`] server can be tuned with. Build it with struct update syntax:
/// `Config { ping_interval: Duration::from_millis(300), ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The mount path of the Engine.IO endpoint. Clients use `/socket.io/` unless told otherwise.
    pub path: String,
    /// How often the server sends a ping (`2`). Sent to the client in the open packet.
    pub ping_interval: Duration,
    /// How long the server waits for the pong (`3`) before closing the session.
    pub ping_timeout: Duration,
    /// The largest WebSocket message or polling body the server reads, in bytes. Larger is closed.
    pub max_payload: usize,
    /// How long a new session may stay without connecting to any namespace.
    pub connect_timeout: Duration,
    /// How long a WebSocket upgrade may take between `2probe` and `5`.
    pub upgrade_timeout: Duration,
    /// The most binary attachments one Socket.IO packet may announce (`51-` means one).
    pub max_attachments: usize,
    /// Packets queued for one client before it is considered too slow and disconnected.
    pub max_buffered_packets: usize,
    /// Engine.IO sessions this server holds at most; a handshake beyond is answered 503.
    /// Handshakes cost nothing to send, so without a cap they are a way to exhaust memory.
    pub max_sessions: usize,
    /// Restored sockets skip the connect middlewares (socket.io's `skipMiddlewares`). Off by
    /// default, unlike socket.io: a token revoked while the client was away must not come back.
    pub recovery_skips_middlewares: bool,
    /// Bytes queued for one client (text and attachments) before it is considered too slow and
    /// disconnected ("transport buffer full"). A packet count alone lets 1,024 packets of up to
    /// `max_payload` each pile up per client; this bounds the memory a stalled client can hold.
    /// The default, 1 MiB, is thousands of chat messages, seconds behind on any link; a single
    /// packet larger than the bound still goes to a client whose queue is empty.
    pub max_buffered_bytes: usize,
    /// How long a closing WebSocket may take to write what was queued and its close frame. Then
    /// the connection is dropped, whatever the peer does: a peer that stopped reading cannot
    /// keep the task, its queue and the socket alive.
    pub close_timeout: Duration,
    /// The WebSocket read buffer of each connection, in bytes: also the most read per system
    /// call. tungstenite's default (128 KiB) is zero-filled on the first read, so it is resident
    /// memory for every idle connection. 2 KiB holds a chat-sized message in one read; a larger
    /// message still grows the buffer as needed, up to `max_payload`. Measured with
    /// `cargo xtask bench socketio` (idle scenario): 147 KiB per idle connection before, 10.9 KiB
    /// with this buffer and the handshake headers copied out of hyper's read buffer.
    pub websocket_read_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            connect_timeout: Duration::from_millis(45_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_attachments: 10,
            max_buffered_packets: 1024,
            max_sessions: 100_000,
            recovery_skips_middlewares: false,
            max_buffered_bytes: 1 << 20,
            close_timeout: Duration::from_millis(3_000),
            websocket_read_buffer: 2048,
        }
    }
}
