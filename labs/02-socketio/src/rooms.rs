//! Room membership: which sockets are in which room, both ways.
//!
//! Two maps, room -> sockets and socket -> rooms, so that joining, leaving, leaving everything
//! on disconnect and finding the members of several rooms are all cheap. A socket's own room
//! (named by its id) is not stored: the adapter treats a room named like a local socket id as
//! that socket (see [`crate::adapter::LocalAdapter`]).

use std::collections::{HashMap, HashSet};

/// The rooms of the sockets of one namespace on this instance.
#[derive(Debug, Default)]
pub struct RoomIndex {
    rooms: HashMap<String, HashSet<String>>,
    by_socket: HashMap<String, HashSet<String>>,
}

impl RoomIndex {
    /// An empty index.
    pub fn new() -> RoomIndex {
        RoomIndex::default()
    }

    /// Puts socket `sid` in `room` (joining twice is joining once).
    pub fn join(&mut self, sid: &str, room: &str) {
        // ANCHOR: join
        // Step 4: put a socket in a room.
        // After `join`, the socket is a member of the room (a second join changes nothing): the page's
        // rules.
        todo!("step 4: put a socket in a room (book: 02-socketio/rooms.md)")
        // ANCHOR_END: join
    }

    /// Takes socket `sid` out of `room`; an empty room disappears.
    pub fn leave(&mut self, sid: &str, room: &str) {
        // ANCHOR: leave
        // Step 4: take a socket out of a room.
        // After `leave`, the socket is no longer a member, and a room nobody is in no longer exists.
        todo!("step 4: take a socket out of a room (book: 02-socketio/rooms.md)")
        // ANCHOR_END: leave
    }

    /// Takes socket `sid` out of every room (on disconnect).
    pub fn leave_all(&mut self, sid: &str) {
        for room in self.by_socket.remove(sid).unwrap_or_default() {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(sid);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    /// The rooms socket `sid` joined, sorted.
    pub fn rooms_of(&self, sid: &str) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .by_socket
            .get(sid)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    /// The sockets in any of `rooms`, each once even if it is in several of them.
    pub fn members(&self, rooms: &[String]) -> HashSet<String> {
        // ANCHOR: members
        // Step 4: the sockets in any of several rooms, each once.
        // Every socket in at least one of the rooms, each once.
        todo!("step 4: the sockets in any of several rooms, each once (book: 02-socketio/rooms.md)")
        // ANCHOR_END: members
    }

    /// Every room with at least one member, sorted.
    pub fn all_rooms(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.rooms.keys().cloned().collect();
        rooms.sort();
        rooms
    }
}
