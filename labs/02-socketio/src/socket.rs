//! A socket: one client connected to one namespace.
//!
//! The application registers event handlers on it (`socket.on("chat", ...)`), emits to it,
//! asks for acknowledgements, puts it in rooms and broadcasts from it. Handlers are plain
//! closures run on the connection's task, in the order packets arrive; spawn a task for
//! anything slow.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::ack::{AckError, AckResponse, AckSender, ForgetOnDrop, PendingAcks};
use crate::broadcast::{BroadcastOperator, EncodedPacket};
use crate::engine::packet::Outgoing;
use crate::engine::session::{Handshake, Session, lock};
use crate::namespace::Namespace;
use crate::protocol::Packet;
use crate::session_store::SavedSession;

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name (first element of the packet's array; a numeric one as its text).
    pub name: String,
    /// The other elements.
    pub args: Vec<Value>,
    /// Binary attachments; `args` hold `{"_placeholder":true,"num":N}` where they go.
    pub binary: Vec<Bytes>,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

/// Handles one event on one socket.
pub type EventHandler = Arc<dyn Fn(Socket, Event) + Send + Sync>;
/// Called once when a socket disconnects, with the reason.
pub type DisconnectHandler = Arc<dyn Fn(Socket, &str) + Send + Sync>;

struct Inner {
    id: String,
    pid: Option<String>,
    ns: Arc<Namespace>,
    session: Arc<Session>,
    auth: Value,
    data: Mutex<Map<String, Value>>,
    handlers: Mutex<HashMap<String, EventHandler>>,
    on_disconnect: Mutex<Vec<DisconnectHandler>>,
    acks: PendingAcks,
    connected: AtomicBool,
}

/// A client connected to a namespace. Cloning gives another handle to the same socket.
#[derive(Clone)]
pub struct Socket {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.ns.name())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        ns: Arc<Namespace>,
        session: Arc<Session>,
        id: String,
        pid: Option<String>,
        auth: Value,
        data: Map<String, Value>,
    ) -> Socket {
        Socket {
            inner: Arc::new(Inner {
                id,
                pid,
                ns,
                session,
                auth,
                data: Mutex::new(data),
                handlers: Mutex::new(HashMap::new()),
                on_disconnect: Mutex::new(Vec::new()),
                acks: PendingAcks::default(),
                connected: AtomicBool::new(true),
            }),
        }
    }

    /// The socket id (`40{"sid":"..."}`), also the name of its own room.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The private id for connection state recovery, when a session store is configured.
    pub fn pid(&self) -> Option<&str> {
        self.inner.pid.as_deref()
    }

    /// Its namespace.
    pub fn namespace(&self) -> &Arc<Namespace> {
        &self.inner.ns
    }

    /// The CONNECT packet's `auth` payload (`{}` if none was sent).
    pub fn auth(&self) -> &Value {
        &self.inner.auth
    }

    /// Headers and query of the Engine.IO handshake.
    pub fn handshake(&self) -> &Handshake {
        self.inner.session.handshake()
    }

    /// The Engine.IO session under this socket.
    pub fn engine_session(&self) -> &Arc<Session> {
        &self.inner.session
    }

    /// The socket's data (filled by middlewares, or by [`Socket::set_data`]).
    pub fn data(&self) -> Map<String, Value> {
        lock(&self.inner.data).clone()
    }

    /// Sets one entry of the socket's data.
    pub fn set_data(&self, key: impl Into<String>, value: Value) {
        lock(&self.inner.data).insert(key.into(), value);
    }

    /// Whether it is still connected.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Registers the handler of event `name` (replacing a previous one).
    pub fn on(
        &self,
        name: impl Into<String>,
        handler: impl Fn(Socket, Event) + Send + Sync + 'static,
    ) {
        lock(&self.inner.handlers).insert(name.into(), Arc::new(handler));
    }

    /// Registers a handler run once when the socket disconnects.
    pub fn on_disconnect(&self, handler: impl Fn(Socket, &str) + Send + Sync + 'static) {
        lock(&self.inner.on_disconnect).push(Arc::new(handler));
    }

    /// Emits event `name` to this client. False if it is gone (or too slow and dropped).
    pub fn emit(&self, name: &str, args: Vec<Value>) -> bool {
        self.emit_binary(name, args, Vec::new())
    }

    /// Emits with binary attachments (placeholders in `args`, see [`crate::protocol::binary`]).
    pub fn emit_binary(&self, name: &str, args: Vec<Value>, binary: Vec<Bytes>) -> bool {
        self.send_packet(&Packet::event(self.inner.ns.name(), name, args, binary))
    }

    /// Emits event `name` and waits up to `timeout` for the client's acknowledgement. The
    /// packet leaves when this is called, not when the future is first polled. On timeout (or if
    /// the future is dropped) the ack id is forgotten: a late ack is ignored.
    pub fn emit_with_ack(
        &self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> impl Future<Output = Result<AckResponse, AckError>> + Send + 'static {
        // ANCHOR: emit_with_ack
        // Step 5: emit with an ack id and wait for the answer with a timeout.
        // The client gets the event with an ack id (`42<id>[...]`); its answer `43<id>[...]` resolves the
        // future, which fails with `AckError::Timeout` after `timeout` and with `AckError::Disconnected`
        // when the socket goes; a pending ack never outlives its future (acks.md).
        std::future::ready::<Result<AckResponse, AckError>>(todo!(
            "step 5: emit with an ack id and wait for the answer with a timeout (book: 02-socketio/acks.md)"
        ))
        // ANCHOR_END: emit_with_ack
    }

    /// How many acknowledgements this socket still waits for.
    pub fn pending_acks(&self) -> usize {
        self.inner.acks.len()
    }

    /// Joins `room`.
    pub fn join(&self, room: impl AsRef<str>) {
        self.inner.ns.adapter().join(&self.inner.id, room.as_ref());
    }

    /// Leaves `room`.
    pub fn leave(&self, room: impl AsRef<str>) {
        self.inner.ns.adapter().leave(&self.inner.id, room.as_ref());
    }

    /// Its rooms, its own room first.
    pub fn rooms(&self) -> Vec<String> {
        self.inner.ns.adapter().rooms_of(&self.inner.id)
    }

    /// Emits to the sockets in `room`, except this one (`socket.to(room)`).
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Emits to every socket of the namespace except this one (`socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.inner.ns.clone(), Some(self.inner.id.clone()))
    }

    /// Disconnects this socket from its namespace (`1` to the client); the connection stays.
    pub fn disconnect(&self) {
        let packet = Packet::new(
            crate::protocol::PacketType::Disconnect,
            self.inner.ns.name(),
            None,
        );
        self.send_packet(&packet);
        self.close("server namespace disconnect");
    }

    /// The Engine.IO frame of a packet.
    pub(crate) fn frame(packet: &Packet) -> Outgoing {
        let encoded = EncodedPacket::new(packet);
        Outgoing {
            text: encoded.frame,
            binary: encoded.attachments,
        }
    }

    /// Sends one packet to this client.
    pub(crate) fn send_packet(&self, packet: &Packet) -> bool {
        self.is_connected() && self.inner.session.send(Socket::frame(packet))
    }

    /// Sends a packet encoded once for many sockets.
    pub(crate) fn deliver(&self, packet: &EncodedPacket) -> bool {
        self.is_connected()
            && self.inner.session.send(Outgoing {
                text: packet.frame.clone(),
                binary: packet.attachments.clone(),
            })
    }

    pub(crate) fn acks(&self) -> &PendingAcks {
        &self.inner.acks
    }

    /// An EVENT from the client: find the handler and run it.
    pub(crate) fn on_event(&self, packet: Packet) {
        // The codec checked that data is an array starting with a string or a number.
        let Some(Value::Array(mut items)) = packet.data else {
            return;
        };
        // A numeric name (`42[7]`) is handled as its text (`"7"`), as Node's EventEmitter does.
        let name = match (!items.is_empty()).then(|| items.remove(0)) {
            Some(Value::String(name)) => name,
            Some(Value::Number(number)) => number.to_string(),
            _ => return,
        };
        let handler = lock(&self.inner.handlers).get(&name).cloned();
        let Some(handler) = handler else {
            tracing::debug!(sid = self.id(), event = name, "no handler for event");
            return;
        };
        let ack = packet.id.map(|id| AckSender::new(self.clone(), id));
        handler(
            self.clone(),
            Event {
                name,
                args: items,
                binary: packet.attachments,
                ack,
            },
        );
    }

    /// An ACK from the client: wake whoever waits for it.
    pub(crate) fn on_ack(&self, packet: Packet) {
        // ANCHOR: on_ack
        // Step 5: resolve the pending ack a client answered.
        // A client's `43<id>[...]` resolves the server's pending ack of that id, once; a late or unknown
        // id is ignored (acks.md).
        todo!("step 5: resolve the pending ack a client answered (book: 02-socketio/acks.md)")
        // ANCHOR_END: on_ack
    }

    /// Ends the socket: out of its rooms and namespace, pending acks failed, handlers told.
    pub(crate) fn close(&self, reason: &str) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        let recoverable = !matches!(
            reason,
            "client namespace disconnect" | "server namespace disconnect"
        );
        if let (true, Some(store), Some(pid)) = (recoverable, self.inner.ns.store(), self.pid()) {
            let rooms = self
                .rooms()
                .into_iter()
                .filter(|r| r != self.id())
                .collect();
            store.save(SavedSession {
                pid: pid.to_owned(),
                sid: self.id().to_owned(),
                namespace: self.inner.ns.name().to_owned(),
                rooms,
                data: self.data(),
            });
        }
        self.inner.ns.forget(&self.inner.id);
        self.inner.acks.clear();
        let handlers = std::mem::take(&mut *lock(&self.inner.on_disconnect));
        lock(&self.inner.handlers).clear();
        for handler in handlers {
            handler(self.clone(), reason);
        }
    }
}
