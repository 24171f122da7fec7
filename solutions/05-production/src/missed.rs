//! Which recorded broadcasts a returning socket missed.
//!
//! A store keeps every recorded broadcast with its namespace, rooms and exceptions, not one
//! copy per recipient: the log grows with the messages, not with the audience. On recovery,
//! the store walks the packets after the client's offset and keeps those this socket would
//! have received, had it been connected: same namespace, in one of its rooms (or to every
//! socket), not excluded. A socket is in the room named by its id, so a direct emit
//! (`io.to(sid)`) is replayed too.

use std::collections::BTreeSet;

use socketio::{BroadcastOptions, SavedSession};

/// Whether `session` would have received a broadcast of `namespace` sent with `options`.
pub fn was_meant_for(session: &SavedSession, namespace: &str, options: &BroadcastOptions) -> bool {
    // ANCHOR: meant_for
    let rooms = rooms_of(session);
    let in_rooms = options.rooms.is_empty() || !options.rooms.is_disjoint(&rooms);
    let excluded = !options.except.is_disjoint(&rooms);
    namespace == session.namespace && in_rooms && !excluded
    // ANCHOR_END: meant_for
}

/// The rooms a socket is in: the ones it joined, and its own.
fn rooms_of(session: &SavedSession) -> BTreeSet<String> {
    let mut rooms: BTreeSet<String> = session.rooms.iter().cloned().collect();
    rooms.insert(session.sid.clone());
    rooms
}
