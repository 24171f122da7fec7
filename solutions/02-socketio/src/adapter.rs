//! The adapter: room membership, and every operation that reaches the sockets of a namespace,
//! wherever they are. One adapter per namespace.
//!
//! The trait follows the `Adapter` class of Node's socket.io-adapter method for method, since
//! that is the interface Node's Redis adapters implement and the one chapter 3 speaks on the
//! wire: `init`/`close`, `add_all`/`del`/`del_all`, `broadcast`, `broadcast_with_ack`,
//! `add_sockets`/`del_sockets`/`disconnect_sockets`, `fetch_sockets`, `all_rooms`,
//! `server_count`, `server_side_emit`. Membership is local state, so it is synchronous;
//! everything that a cluster adapter sends over the network returns a future with a `Result`.
//!
//! [`LocalAdapter`] (the default) knows only this process. A cluster adapter wraps one: it
//! delegates membership and local delivery to it and forwards the rest to the other instances,
//! which hand what they receive to their own `LocalAdapter`. A broadcast travels as the
//! unencoded [`Packet`] plus its [`BroadcastOptions`]; each instance encodes it once for its own
//! sockets.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, ready};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ack::AckCollector;
use crate::broadcast::EncodedPacket;
use crate::engine::session::lock;
use crate::namespace::Namespace;
use crate::protocol::Packet;
use crate::replayed::Taps;
use crate::rooms::RoomIndex;
use crate::socket::{Socket, SocketInfo};

/// What an adapter operation that may cross the network resolves to.
pub type AdapterFuture<'a, T> = BoxFuture<'a, Result<T, AdapterError>>;

/// Why an adapter operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// Not every server answered in time (socket.io: "timeout reached: only N responses
    /// received out of M").
    #[error(
        "{operation}: timeout reached after {timeout:?}: only {answered} responses received out of {expected}"
    )]
    Timeout {
        operation: &'static str,
        timeout: Duration,
        answered: usize,
        expected: usize,
    },
    /// The other servers cannot be reached (Redis down, not initialised...).
    #[error("the adapter cannot reach the other servers: {0}")]
    Unavailable(String),
    /// This adapter does not do that (for instance `server_side_emit` on one server).
    #[error("{0} is not supported by this adapter")]
    Unsupported(&'static str),
}

/// Modifiers of a broadcast, as socket.io's `BroadcastFlags`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastFlags {
    /// Only the sockets of this instance (`io.local.emit`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
    /// May be dropped for a client that cannot take it now (`io.volatile.emit`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub volatile: bool,
    /// How long `emit_with_ack` waits for every acknowledgement, in milliseconds on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "millis_option"
    )]
    pub timeout: Option<Duration>,
}

/// Who a broadcast or a socket operation is for: socket.io's `BroadcastOptions`.
///
/// A socket is in its own room, named by its id, so `except` also holds socket ids
/// (`socket.broadcast` is `except: {sid}`), exactly as on the wire between Node servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Deliver to sockets in any of these rooms; empty means every socket of the namespace.
    pub rooms: BTreeSet<String>,
    /// Skip the sockets in any of these rooms (or with these ids).
    pub except: BTreeSet<String>,
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Every socket of the namespace.
    pub fn all() -> BroadcastOptions {
        BroadcastOptions::default()
    }
}

// ANCHOR: adapter_trait
/// Room membership and the operations on the sockets of one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Connects and subscribes; runs before the server accepts connections.
    fn init(&self) -> AdapterFuture<'_, ()> {
        ready(Ok(())).boxed()
    }

    /// Unsubscribes and disconnects; runs at shutdown.
    fn close(&self) -> AdapterFuture<'_, ()> {
        ready(Ok(())).boxed()
    }

    /// Puts local socket `sid` in `rooms` (`addAll`).
    fn add_all(&self, sid: &str, rooms: &[String]);
    /// Takes local socket `sid` out of `room` (`del`).
    fn del(&self, sid: &str, room: &str);
    /// Takes local socket `sid` out of every room: it disconnected (`delAll`).
    fn del_all(&self, sid: &str);
    /// The rooms of local socket `sid`, its own room first (`socketRooms`).
    fn rooms_of(&self, sid: &str) -> Vec<String>;
    /// The local sockets in any of `rooms`, each once, sorted.
    fn sockets_in(&self, rooms: &[String]) -> Vec<String>;

    /// Delivers `packet` to the matching sockets, here and on the other servers.
    ///
    /// Local delivery and the hand-off to the network happen before this returns, so dropping
    /// the future does not cancel the broadcast; the future reports how the hand-off went.
    fn broadcast(&self, packet: Packet, options: BroadcastOptions) -> AdapterFuture<'static, ()>;

    /// Like `broadcast`, with an ack id: every server reports through `acks` how many clients
    /// it sent the packet to, and each client's acknowledgement.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        options: BroadcastOptions,
        acks: AckCollector,
    ) -> AdapterFuture<'static, ()>;

    /// Makes the matching sockets, on every server, join `rooms` (`socketsJoin`).
    fn add_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()>;
    /// Makes the matching sockets leave `rooms` (`socketsLeave`).
    fn del_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()>;
    /// Disconnects the matching sockets; `close` also closes their connection.
    fn disconnect_sockets(&self, options: BroadcastOptions, close: bool) -> AdapterFuture<'_, ()>;
    /// Describes the matching sockets of every server (`fetchSockets`).
    fn fetch_sockets(&self, options: BroadcastOptions) -> AdapterFuture<'_, Vec<SocketInfo>>;
    /// Every room with a member, on every server.
    fn all_rooms(&self) -> AdapterFuture<'_, BTreeSet<String>>;
    /// How many servers share this namespace (this one included).
    fn server_count(&self) -> AdapterFuture<'_, usize> {
        ready(Ok(1)).boxed()
    }
    /// Sends event `name` to the OTHER servers' namespace handlers (`serverSideEmit`). With
    /// `ack`, waits that long for every server's answer and returns them.
    fn server_side_emit(
        &self,
        name: String,
        args: Vec<Value>,
        ack: Option<Duration>,
    ) -> AdapterFuture<'_, Vec<Value>>;
}
// ANCHOR_END: adapter_trait

/// Builds the adapter of a namespace; [`crate::SocketIoBuilder::adapter`] takes one. It may
/// connect to a server: it is awaited by [`crate::SocketIoBuilder::start`], inside the runtime.
pub type AdapterFactory =
    Arc<dyn Fn(AdapterContext) -> AdapterFuture<'static, Arc<dyn Adapter>> + Send + Sync>;

/// What an adapter is given: its namespace, and the sockets connected to it on this instance.
#[derive(Clone)]
pub struct AdapterContext {
    pub namespace: String,
    pub sockets: LocalSockets,
    pub(crate) ns: Weak<Namespace>,
}

impl AdapterContext {
    /// The namespace itself, to run its server-side event handlers
    /// ([`Namespace::handle_server_event`]). `None` once the server is gone.
    pub fn namespace(&self) -> Option<Arc<Namespace>> {
        self.ns.upgrade()
    }
}

/// The sockets of one namespace on this instance, by id.
#[derive(Clone, Default)]
pub struct LocalSockets(Arc<RwLock<HashMap<String, Socket>>>, Taps);

impl LocalSockets {
    /// The namespace's taps: recoveries in flight see every broadcast delivered here.
    pub(crate) fn taps(&self) -> &Taps {
        &self.1
    }

    /// Whether a recovery is in flight here: a cluster adapter must then hand over every
    /// broadcast, even one to a room no socket here is in yet (see `crate::replayed`).
    pub fn recovering(&self) -> bool {
        self.1.any_open()
    }

    pub(crate) fn insert(&self, socket: Socket) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(socket.id().to_owned(), socket);
    }

    pub(crate) fn remove(&self, sid: &str) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(sid);
    }

    /// The socket with this id, if it is connected here.
    pub fn get(&self, sid: &str) -> Option<Socket> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(sid).cloned()
    }

    /// The ids of every local socket.
    pub fn ids(&self) -> Vec<String> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.keys().cloned().collect()
    }

    /// Whether a socket with this id is connected here.
    pub fn contains(&self, sid: &str) -> bool {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.contains_key(sid)
    }

    /// How many sockets are connected here.
    pub fn len(&self) -> usize {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.len()
    }

    /// Whether no socket is connected here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `packet` to socket `sid`; false if it is not here (or too slow and dropped).
    pub fn deliver(&self, sid: &str, packet: &EncodedPacket, volatile: bool) -> bool {
        self.get(sid)
            .is_some_and(|socket| socket.deliver_broadcast(packet, volatile))
    }
}

/// The in-memory adapter: rooms in a [`RoomIndex`], delivery to local sockets.
pub struct LocalAdapter {
    sockets: LocalSockets,
    rooms: Mutex<RoomIndex>,
    ns: Weak<Namespace>,
}

impl LocalAdapter {
    /// The default adapter of a namespace.
    pub fn new(context: AdapterContext) -> LocalAdapter {
        LocalAdapter {
            sockets: context.sockets,
            rooms: Mutex::new(RoomIndex::new()),
            ns: context.ns,
        }
    }

    /// The default factory: a `LocalAdapter` for every namespace.
    pub fn factory() -> AdapterFactory {
        Arc::new(|context| {
            let adapter: Arc<dyn Adapter> = Arc::new(LocalAdapter::new(context));
            ready(Ok(adapter)).boxed()
        })
    }

    /// The local sockets in any of `rooms`; a room named like a socket id is that socket.
    fn members<'a>(&self, rooms: impl IntoIterator<Item = &'a String>) -> HashSet<String> {
        let rooms: Vec<String> = rooms.into_iter().cloned().collect();
        let mut members = lock(&self.rooms).members(&rooms);
        for room in rooms {
            if self.sockets.contains(&room) {
                members.insert(room);
            }
        }
        members
    }

    /// The local sockets the options select: each once, exceptions removed.
    pub fn recipients(&self, options: &BroadcastOptions) -> Vec<String> {
        // ANCHOR: recipients
        let targets: HashSet<String> = if options.rooms.is_empty() {
            self.sockets.ids().into_iter().collect()
        } else {
            self.members(&options.rooms)
        };
        let excluded = self.members(&options.except);
        targets
            .into_iter()
            .filter(|sid| !excluded.contains(sid))
            .collect()
        // ANCHOR_END: recipients
    }

    /// The local sockets the options select.
    pub fn local_sockets(&self, options: &BroadcastOptions) -> Vec<Socket> {
        self.recipients(options)
            .iter()
            .filter_map(|sid| self.sockets.get(sid))
            .collect()
    }

    /// Delivers to the local recipients only: what a cluster adapter calls for a broadcast
    /// received from another server. Returns how many sockets it was sent to.
    pub fn broadcast_local(&self, packet: &Packet, options: &BroadcastOptions) -> usize {
        let started = std::time::Instant::now();
        // The packet is encoded once; each delivery clones a reference to the same bytes.
        let encoded = EncodedPacket::new(packet);
        // A recovery in flight sees it too (see crate::replayed).
        let recipients = self
            .sockets
            .taps()
            .show(&encoded, options, || self.recipients(options));
        let volatile = options.flags.volatile;
        let delivered = recipients
            .iter()
            .filter(|sid| self.sockets.deliver(sid, &encoded, volatile))
            .count();
        if let Some(ns) = self.ns.upgrade() {
            ns.observer().broadcast_delivered(
                ns.name(),
                recipients.len(),
                delivered,
                started.elapsed(),
            );
        }
        delivered
    }

    /// `broadcast_with_ack` on the local sockets: one ack id for all of them, each answer
    /// handed to `acks`. Returns how many sockets it was sent to.
    pub fn broadcast_with_ack_local(
        &self,
        mut packet: Packet,
        options: &BroadcastOptions,
        acks: &AckCollector,
    ) -> usize {
        let sockets = self.local_sockets(options);
        let id = match self.ns.upgrade() {
            Some(ns) => ns.next_ack_id(),
            None => return 0,
        };
        packet.id = Some(id);
        let encoded = EncodedPacket::new(&packet);
        let mut sent = 0;
        for socket in sockets {
            socket.expect_ack(id, acks);
            if socket.deliver(&encoded, options.flags.volatile) {
                sent += 1;
            } else {
                socket.acks().forget(id);
            }
        }
        acks.server_reported(sent);
        sent
    }

    /// Every room with a local member.
    pub fn local_rooms(&self) -> BTreeSet<String> {
        lock(&self.rooms).all_rooms().into_iter().collect()
    }
}

impl Adapter for LocalAdapter {
    fn add_all(&self, sid: &str, rooms: &[String]) {
        let mut index = lock(&self.rooms);
        for room in rooms {
            index.join(sid, room);
        }
    }

    fn del(&self, sid: &str, room: &str) {
        lock(&self.rooms).leave(sid, room);
    }

    fn del_all(&self, sid: &str) {
        lock(&self.rooms).leave_all(sid);
    }

    fn rooms_of(&self, sid: &str) -> Vec<String> {
        let mut rooms = vec![sid.to_owned()];
        rooms.extend(lock(&self.rooms).rooms_of(sid));
        rooms
    }

    fn sockets_in(&self, rooms: &[String]) -> Vec<String> {
        let mut sockets: Vec<String> = self.members(rooms).into_iter().collect();
        sockets.sort();
        sockets
    }

    fn broadcast(&self, packet: Packet, options: BroadcastOptions) -> AdapterFuture<'static, ()> {
        self.broadcast_local(&packet, &options);
        ready(Ok(())).boxed()
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        options: BroadcastOptions,
        acks: AckCollector,
    ) -> AdapterFuture<'static, ()> {
        self.broadcast_with_ack_local(packet, &options, &acks);
        ready(Ok(())).boxed()
    }

    fn add_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        for sid in self.recipients(&options) {
            self.add_all(&sid, &rooms);
        }
        ready(Ok(())).boxed()
    }

    fn del_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        for sid in self.recipients(&options) {
            for room in &rooms {
                self.del(&sid, room);
            }
        }
        ready(Ok(())).boxed()
    }

    fn disconnect_sockets(&self, options: BroadcastOptions, close: bool) -> AdapterFuture<'_, ()> {
        for socket in self.local_sockets(&options) {
            socket.disconnect_with(close);
        }
        ready(Ok(())).boxed()
    }

    fn fetch_sockets(&self, options: BroadcastOptions) -> AdapterFuture<'_, Vec<SocketInfo>> {
        let sockets = self
            .local_sockets(&options)
            .iter()
            .map(Socket::info)
            .collect();
        ready(Ok(sockets)).boxed()
    }

    fn all_rooms(&self) -> AdapterFuture<'_, BTreeSet<String>> {
        ready(Ok(self.local_rooms())).boxed()
    }

    fn server_side_emit(
        &self,
        _name: String,
        _args: Vec<Value>,
        ack: Option<Duration>,
    ) -> AdapterFuture<'_, Vec<Value>> {
        // One server has no other server to tell. Like socket.io's in-memory adapter, a plain
        // emit is a no-op; waiting for answers that cannot come is an error.
        let result = match ack {
            None => Ok(Vec::new()),
            Some(_) => Err(AdapterError::Unsupported("server_side_emit with an ack")),
        };
        ready(result).boxed()
    }
}

/// `Option<Duration>` as whole milliseconds, the unit of socket.io's `flags.timeout`.
mod millis_option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}
