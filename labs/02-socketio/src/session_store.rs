//! The session store: keep a socket's state when it drops, and the packets it may miss; give
//! both back on reconnect.
//!
//! This is socket.io's connection state recovery (4.6+) seen from the server; in socket.io it
//! lives in the adapter (`persistSession`, `restoreSession`), here it is its own door so that
//! chapter 5 can keep sessions in memory or in Redis with any adapter. With a store:
//! - the CONNECT answer carries a private id (`pid`);
//! - every broadcast EVENT without an ack id and not volatile is first [`record`]ed: the store
//!   gives it an offset, appended as the packet's last argument (the client keeps the last one
//!   it saw);
//! - a socket that ends for a reason a client may recover from ([`is_recoverable`]) is
//!   [`save`]d under its pid (a store shared by a cluster may keep the sessions of connected
//!   sockets too, [`live_refresh`], so that they outlive a killed instance);
//! - a client that reconnects with `auth.pid` (and `auth.offset`) gets its id, rooms and data
//!   back, and the packets recorded after its offset, written before the CONNECT answer.
//!
//! [`record`]: SessionStore::record
//! [`save`]: SessionStore::save
//! [`live_refresh`]: SessionStore::live_refresh

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use crate::adapter::BroadcastOptions;
use crate::protocol::Packet;

/// Why a store operation failed (Redis unreachable, a corrupt entry...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct StoreError(pub String);

/// What a store operation resolves to.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

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
    /// The newest offset when the socket started ([`SessionStore::watermark`]): a client that
    /// presents no offset (it received nothing yet) missed what came after it.
    pub since: Option<String>,
}

/// A session given back, with the packets recorded after the client's offset that were meant
/// for it (its rooms, not excluded), oldest first, offsets appended.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSession {
    pub session: SavedSession,
    pub missed: Vec<Packet>,
}

/// The disconnect reasons socket.io recovers from: the connection was lost or the server went
/// away. Not a client's or the server's explicit disconnect, not a parse error, not a client
/// dropped for reading too slowly (it would come back to the same flood).
pub fn is_recoverable(reason: &str) -> bool {
    matches!(
        reason,
        "transport error"
            | "transport close"
            | "forced close"
            | "ping timeout"
            | "server shutting down"
            | "forced server close"
    )
}

/// Where saved sessions and recorded packets live (memory, Redis...).
pub trait SessionStore: Send + Sync + 'static {
    /// A socket ended in a recoverable way.
    fn save(&self, session: SavedSession) -> StoreFuture<'_, ()>;

    /// A client reconnects to `namespace` with `auth.pid` and `auth.offset` (the last packet it
    /// saw; `None` if it saw none). Returns its state and missed packets if still known. A
    /// session of another namespace must be left as it is; a restored one is forgotten (a pid
    /// is used once).
    fn restore<'a>(
        &'a self,
        namespace: &'a str,
        pid: &'a str,
        offset: Option<&'a str>,
    ) -> StoreFuture<'a, Option<RestoredSession>>;

    /// A broadcast is about to go out: keep it, and return its offset. `None` keeps nothing
    /// (the packet goes out without an offset).
    fn record<'a>(
        &'a self,
        packet: &'a Packet,
        options: &'a BroadcastOptions,
    ) -> StoreFuture<'a, Option<String>>;

    /// The offset of the newest recorded packet, asked when a socket starts and kept in its
    /// [`SavedSession::since`]. `None` (the default): the store replays nobody without an
    /// offset, as socket.io.
    fn watermark(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Whether a socket that ended for `reason` is saved; by default the reasons socket.io
    /// recovers from ([`is_recoverable`]). A store may keep more (chapter 5 keeps a client
    /// dropped for reading too slowly).
    fn keeps(&self, reason: &str) -> bool {
        is_recoverable(reason)
    }

    /// How often a connected socket's session is written again, for a store that keeps the
    /// sessions of connected sockets too, so that they outlive this instance (see
    /// `live_session`): written when the socket connects, after its own joins, leaves and data
    /// changes, and at least this often. `None` (the default): saved when the socket ends, as
    /// socket.io does.
    fn live_refresh(&self) -> Option<Duration> {
        None
    }

    /// With [`SessionStore::live_refresh`]: a socket ended for a reason it is not
    /// [`kept`](SessionStore::keeps) for (a goodbye); the session written while it was
    /// connected must go.
    fn forget<'a>(&'a self, _pid: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A shared store is a store: an application may keep a handle (`Arc<dyn SessionStore>`) and
/// give the server another. Every method forwards, the defaults included.
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    fn save(&self, session: SavedSession) -> StoreFuture<'_, ()> {
        (**self).save(session)
    }

    fn restore<'a>(
        &'a self,
        namespace: &'a str,
        pid: &'a str,
        offset: Option<&'a str>,
    ) -> StoreFuture<'a, Option<RestoredSession>> {
        (**self).restore(namespace, pid, offset)
    }

    fn record<'a>(
        &'a self,
        packet: &'a Packet,
        options: &'a BroadcastOptions,
    ) -> StoreFuture<'a, Option<String>> {
        (**self).record(packet, options)
    }

    fn watermark(&self) -> StoreFuture<'_, Option<String>> {
        (**self).watermark()
    }

    fn keeps(&self, reason: &str) -> bool {
        (**self).keeps(reason)
    }

    fn live_refresh(&self) -> Option<Duration> {
        (**self).live_refresh()
    }

    fn forget<'a>(&'a self, pid: &'a str) -> StoreFuture<'a, ()> {
        (**self).forget(pid)
    }
}
