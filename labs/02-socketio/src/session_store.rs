//! The session store hook: keep a socket's state when it drops, give it back on reconnect.
//!
//! This is Socket.IO's connection state recovery seen from the server. With a store
//! configured, the CONNECT answer carries a private id (`pid`); when a socket ends for a reason
//! a client may recover from (not an explicit disconnect), its state is saved under that pid;
//! a client that reconnects with `auth.pid` gets the same socket id, rooms and data back.
//! Chapter 5 implements a store (and replays missed packets using `auth.offset`).

use serde_json::{Map, Value};

/// The state of a socket that went away.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSession {
    /// The private id the client will present.
    pub pid: String,
    /// The socket id it had (and will have again).
    pub sid: String,
    /// The namespace it was connected to.
    pub namespace: String,
    /// The rooms it had joined (its own room excluded).
    pub rooms: Vec<String>,
    /// Its `socket.data()`.
    pub data: Map<String, Value>,
}

/// Where saved sessions live (memory, Redis...). Both calls must be quick: they run on the
/// connection's task.
pub trait SessionStore: Send + Sync + 'static {
    /// A socket ended in a recoverable way.
    fn save(&self, session: SavedSession);
    /// A client reconnects with `auth.pid` (and `auth.offset`, the last packet it saw);
    /// returns its state if it is still known. Must forget it (a pid is used once).
    fn restore(&self, pid: &str, offset: Option<&str>) -> Option<SavedSession>;
}
