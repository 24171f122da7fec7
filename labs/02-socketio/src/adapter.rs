//! The adapter: room membership and delivery of broadcasts, one instance per namespace.
//!
//! [`LocalAdapter`] (the default) knows only this process. A remote adapter (chapter 3's Redis
//! one) wraps a `LocalAdapter`: it delegates membership and local delivery to it, and also
//! forwards each [`Broadcast`] to the other instances, which hand it to their own
//! `LocalAdapter::broadcast`. Everything a broadcast needs travels in the `Broadcast` itself:
//! namespace, rooms, except rooms, except sid and the encoded packet.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use crate::broadcast::{Broadcast, EncodedPacket};
use crate::engine::session::lock;
use crate::rooms::RoomIndex;
use crate::socket::Socket;

/// Room membership and broadcast delivery for one namespace.
pub trait Adapter: Send + Sync + 'static {
    /// Puts socket `sid` in `room`.
    fn join(&self, sid: &str, room: &str);
    /// Takes socket `sid` out of `room`.
    fn leave(&self, sid: &str, room: &str);
    /// Takes socket `sid` out of every room (it disconnected).
    fn leave_all(&self, sid: &str);
    /// The rooms of socket `sid`, its own room included.
    fn rooms_of(&self, sid: &str) -> Vec<String>;
    /// The local sockets in any of `rooms`, each once.
    fn sockets_in(&self, rooms: &[String]) -> Vec<String>;
    /// Delivers `broadcast` to the matching sockets (here, and elsewhere for a remote adapter).
    fn broadcast(&self, broadcast: Broadcast);
}

/// Builds the adapter of a namespace; [`crate::SocketIoBuilder::adapter`] takes one.
pub type AdapterFactory = Arc<dyn Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync>;

/// What an adapter is given: its namespace and the sockets connected to it on this instance.
#[derive(Clone)]
pub struct AdapterContext {
    pub namespace: String,
    pub sockets: LocalSockets,
}

/// The sockets of one namespace on this instance, by id.
#[derive(Clone, Default)]
pub struct LocalSockets(Arc<RwLock<HashMap<String, Socket>>>);

impl LocalSockets {
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

    /// Sends `packet` to socket `sid`; false if it is not here (or too slow and dropped).
    pub fn deliver(&self, sid: &str, packet: &EncodedPacket) -> bool {
        self.get(sid).is_some_and(|socket| socket.deliver(packet))
    }
}

/// The in-memory adapter: rooms in a [`RoomIndex`], delivery to local sockets.
pub struct LocalAdapter {
    sockets: LocalSockets,
    rooms: Mutex<RoomIndex>,
}

impl LocalAdapter {
    /// The default adapter of a namespace.
    pub fn new(context: AdapterContext) -> LocalAdapter {
        LocalAdapter {
            sockets: context.sockets,
            rooms: Mutex::new(RoomIndex::new()),
        }
    }

    /// The local sockets in any of `rooms`; a room named like a socket id is that socket.
    fn members(&self, rooms: &[String]) -> HashSet<String> {
        let mut members = lock(&self.rooms).members(rooms);
        for room in rooms {
            if self.sockets.contains(room) {
                members.insert(room.clone());
            }
        }
        members
    }

    /// The local sockets a broadcast is for: each once, exceptions removed.
    pub fn recipients(&self, broadcast: &Broadcast) -> Vec<String> {
        // ANCHOR: recipients
        // Step 5: choose the recipients of a broadcast.
        // Who gets a broadcast: the members of its rooms (every socket of the namespace when it names none),
        // minus the members of its excepted rooms and the excepted socket, each once. The page's table of
        // the four variants says which is which.
        todo!("step 5: choose the recipients of a broadcast (book: 02-socketio/broadcast.md)")
        // ANCHOR_END: recipients
    }
}

impl Adapter for LocalAdapter {
    fn join(&self, sid: &str, room: &str) {
        lock(&self.rooms).join(sid, room);
    }

    fn leave(&self, sid: &str, room: &str) {
        lock(&self.rooms).leave(sid, room);
    }

    fn leave_all(&self, sid: &str) {
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

    fn broadcast(&self, broadcast: Broadcast) {
        // The packet was encoded once; each delivery clones a reference to the same bytes.
        for sid in self.recipients(&broadcast) {
            self.sockets.deliver(&sid, &broadcast.packet);
        }
    }
}
