//! The course's chat contract: the events every chapter's server answers the same way.
//!
//! | event | arguments | server does |
//! |---|---|---|
//! | `join` | room, with ack | joins the room, acks `[true]` |
//! | `leave` | room, with ack | leaves the room, acks `[true]` |
//! | `chat` | object with optional `room` | emits `chat` with the object plus `from` to the room (or the whole namespace), except the sender |
//! | `echo` | anything, with ack | acks with the same arguments |

use serde_json::Value;

use crate::config::Config;
use crate::server::{SocketIo, SocketIoBuilder};
use crate::socket::{Event, Socket};

/// The namespaces of the contract: public chat, and the support desk's two sides.
pub const NAMESPACES: [&str; 3] = ["/", "/clients", "/admins"];

/// The rooms the demo page offers.
pub const DEMO_ROOMS: [&str; 3] = ["general", "music", "video-games"];

/// Registers the contract's handlers on a newly connected socket.
pub fn register(socket: &Socket) {
    socket.on("join", |socket, event| {
        let ok = room_arg(&event).inspect(|room| socket.join(room)).is_some();
        ack(event, vec![Value::Bool(ok)]);
    });
    socket.on("leave", |socket, event| {
        let ok = room_arg(&event)
            .inspect(|room| socket.leave(room))
            .is_some();
        ack(event, vec![Value::Bool(ok)]);
    });
    socket.on("chat", |socket, event| {
        let Some(Value::Object(mut message)) = event.args.into_iter().next() else {
            return;
        };
        let room = message
            .get("room")
            .and_then(Value::as_str)
            .map(str::to_owned);
        message.insert("from".into(), Value::String(socket.id().to_owned()));
        let operator = match room {
            Some(room) => socket.to(room),
            None => socket.broadcast(),
        };
        operator.emit_binary("chat", vec![Value::Object(message)], event.binary);
    });
    socket.on("echo", |_socket, event| {
        if let Some(ack) = event.ack {
            ack.send_binary(event.args, event.binary);
        }
    });
}

fn room_arg(event: &Event) -> Option<String> {
    event
        .args
        .first()
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn ack(event: Event, args: Vec<Value>) {
    if let Some(ack) = event.ack {
        ack.send(args);
    }
}

/// A builder with the contract's namespaces and handlers; add middlewares or an adapter, then
/// build.
pub fn builder(config: Config) -> SocketIoBuilder {
    NAMESPACES
        .iter()
        .fold(SocketIo::builder().config(config), |builder, name| {
            builder.ns(name, |socket| register(&socket))
        })
}
