//! Chapter 2's chat contract with its input checked: room names and message sizes.
//!
//! Chapter 2's `join` accepts any room, and every socket is in a room named after its own id.
//! So a client that joins the room `<victim's sid>` receives everything sent privately to the
//! victim (`io.to(sid).emit(...)`). Here a room name must not be the id of any socket in the
//! cluster, and must match a pattern (lowercase words) that keeps names readable and bounded. A refused `join` is
//! acked `[false]` and answered with a `refused` event saying why; a refused `chat` gets the
//! `refused` event only (it has no ack).

use serde_json::{Map, Value, json};
use socketio::{Event, Socket};

/// The longest room name accepted, in characters.
pub const MAX_ROOM_CHARS: usize = 32;
/// The longest chat `text` accepted, in characters (not bytes: "é" is one).
pub const MAX_TEXT_CHARS: usize = 500;

/// Why a room name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomRefusal {
    #[error("room names are 1 to 32 lowercase letters, digits and dashes")]
    Pattern,
    #[error("a room cannot be named after a socket")]
    SocketId,
    #[error("the cluster could not be asked whether this room is a socket")]
    Unverified,
}

/// The pattern: `[a-z0-9]` then `[a-z0-9-]`, at most [`MAX_ROOM_CHARS`] characters.
// ANCHOR: room_pattern
pub fn room_name_is_valid(name: &str) -> bool {
    // Step 4: tell whether `name` is 1 to 32 lowercase letters, digits and dashes.
    // A lowercase letter or a digit first, then letters, digits and dashes: 32 characters at most.
    todo!(
        "step 4: tell whether {name:?} is 1 to 32 lowercase letters, digits and dashes (book: 04-security/risks.md)"
    )
}
// ANCHOR_END: room_pattern

/// A room `socket` may join: no socket of the cluster has that id (each socket is in the room
/// of its own id, so asking who is in the room tells), and it matches the pattern.
// ANCHOR: socket_id_room
pub async fn check_room(socket: &Socket, name: &str) -> Result<(), RoomRefusal> {
    // Step 4: refuse a room named after a socket of the cluster, then one outside the pattern.
    // Joining the room `<another socket's id>` would deliver that socket's private messages to the
    // joiner. Ask the cluster whether a socket has this id; refuse it, then names outside the pattern.
    todo!(
        "step 4: refuse a room named after a socket of the cluster, then one outside the pattern (book: 04-security/risks.md)"
    )
}
// ANCHOR_END: socket_id_room

/// A chat message that may be sent: its `text` (if any) within [`MAX_TEXT_CHARS`] characters,
/// its `room` (if any) a string that matches the pattern. The room, or why not.
// ANCHOR: chat_input
pub fn check_chat(message: &Map<String, Value>) -> Result<Option<String>, String> {
    // Step 4: check the chat message's text length and room.
    // A `text` longer than `MAX_TEXT_CHARS` characters (not bytes) is refused; a `room`, when given,
    // must be a string that matches the pattern. Answer the room to send to.
    todo!("step 4: check the chat message's text length and room (book: 04-security/risks.md)")
}
// ANCHOR_END: chat_input

/// Registers the contract's handlers, with `join` and `chat` checked.
pub fn register(socket: &Socket) {
    socketio::chat::register(socket);
    socket.on("join", |socket, event| {
        // Asking the cluster awaits; the socket's other packets go on meanwhile.
        tokio::spawn(join(socket, event));
    });
    socket.on("chat", |socket, event| {
        let Some(Value::Object(mut message)) = event.args.into_iter().next() else {
            return refuse(&socket, "chat", "a chat message is an object");
        };
        let room = match check_chat(&message) {
            Ok(room) => room,
            Err(reason) => return refuse(&socket, "chat", &reason),
        };
        message.insert("from".into(), Value::String(socket.id().to_owned()));
        let operator = match room {
            Some(room) => socket.to(room),
            None => socket.broadcast(),
        };
        operator.emit_binary("chat", vec![Value::Object(message)], event.binary);
    });
}

async fn join(socket: Socket, event: Event) {
    let room = event.args.first().and_then(Value::as_str).unwrap_or("");
    let verdict = check_room(&socket, room).await;
    if let Ok(()) = verdict {
        socket.join(room);
    }
    if let Err(refusal) = verdict {
        refuse(&socket, "join", &refusal.to_string());
    }
    if let Some(ack) = event.ack {
        ack.send(vec![Value::Bool(verdict.is_ok())]);
    }
}

fn refuse(socket: &Socket, event: &str, reason: &str) {
    socket.emit("refused", vec![json!({ "event": event, "reason": reason })]);
}
