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
    // Step 2: say whether this socket would have received that broadcast.
    // A broadcast was meant for a socket when it is of the socket's namespace, goes to every
    // socket or to one of the socket's rooms (its own id included), and does not except any of them.
    todo!(
        "step 2: say whether this socket would have received that broadcast (book: 05-production/recovery.md)"
    )
    // ANCHOR_END: meant_for
}

/// The rooms a socket is in: the ones it joined, and its own.
fn rooms_of(session: &SavedSession) -> BTreeSet<String> {
    let mut rooms: BTreeSet<String> = session.rooms.iter().cloned().collect();
    rooms.insert(session.sid.clone());
    rooms
}
