//! A socket: one client connected to one namespace.
//!
//! The application registers event handlers on it (`socket.on("chat", ...)`), emits to it,
//! asks for acknowledgements, puts it in rooms and broadcasts from it. Handlers are plain
//! closures run on the connection's task, in the order packets arrive; spawn a task for
//! anything slow. Event hooks ([`crate::hooks::EventHook`]) run before them and may await.
//!
//! Besides its JSON `data` (what travels to other servers in `fetch_sockets` and is saved for
//! recovery), a socket carries typed extensions for what stays in this process: decoded token
//! claims, rate-limiter state.
//!
//! Each socket has a tracing span (`socket{id nsp sub}`), entered while its connect handler,
//! event hooks, handlers and disconnect handlers run: every log line they write says which
//! socket it is about, without each call site repeating it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Extensions;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ack::{AckCollector, AckError, AckResponse, AckSender, ForgetOnDrop, PendingAcks};
use crate::broadcast::{BroadcastOperator, EncodedPacket};
use crate::engine::packet::Outgoing;
use crate::engine::session::{Handshake, Session, lock};
use crate::hooks::{EventHook, Verdict};
use crate::live_session::{LastWrite, LiveSession};
use crate::namespace::Namespace;
use crate::protocol::Packet;
use crate::replayed::ReplayedOffsets;
use crate::session_store::SavedSession;

/// A socket as other servers see it: what socket.io's `fetchSockets` returns, with the same
/// field names on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    pub id: String,
    pub handshake: HandshakeInfo,
    /// Its rooms, its own room included.
    pub rooms: Vec<String>,
    /// Its `socket.data` (`{}` in Node when never set, as here).
    pub data: Value,
}

/// socket.io's `socket.handshake`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandshakeInfo {
    pub headers: Map<String, Value>,
    /// When the session opened, as JavaScript's `Date.toString()` prints it.
    pub time: String,
    pub address: String,
    pub xdomain: bool,
    pub secure: bool,
    /// When the session opened, in milliseconds since the Unix epoch.
    pub issued: u64,
    pub url: String,
    pub query: Map<String, Value>,
    pub auth: Value,
}

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
    /// With a store: the newest offset when this socket (re)started, from which a client that
    /// never saw an offset is replayed.
    since: Mutex<Option<String>>,
    ns: Arc<Namespace>,
    session: Arc<Session>,
    auth: Value,
    data: Mutex<Map<String, Value>>,
    handlers: Mutex<HashMap<String, EventHandler>>,
    on_disconnect: Mutex<Vec<DisconnectHandler>>,
    acks: PendingAcks,
    connected: AtomicBool,
    recovered: AtomicBool,
    /// What its replay gave a recovered socket, not to be delivered twice.
    replayed: ReplayedOffsets,
    /// With a store that keeps sessions of connected sockets (see [`crate::live_session`]).
    live: Arc<LiveSession>,
    extensions: Mutex<Extensions>,
    hooks: Mutex<Vec<Arc<dyn EventHook>>>,
    span: tracing::Span,
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
        extensions: Extensions,
    ) -> Socket {
        let acks = PendingAcks::new(ns.ack_ids().clone());
        let hooks = ns.hooks().to_vec();
        // `sub` stays empty until a middleware knows who the client is (chapter 4's JWT).
        let span = tracing::info_span!(
            "socket",
            id = %id,
            nsp = %ns.name(),
            sub = tracing::field::Empty
        );
        Socket {
            inner: Arc::new(Inner {
                id,
                pid,
                since: Mutex::new(None),
                ns,
                session,
                auth,
                data: Mutex::new(data),
                handlers: Mutex::new(HashMap::new()),
                on_disconnect: Mutex::new(Vec::new()),
                acks,
                connected: AtomicBool::new(true),
                recovered: AtomicBool::new(false),
                replayed: ReplayedOffsets::default(),
                live: Arc::default(),
                extensions: Mutex::new(extensions),
                hooks: Mutex::new(hooks),
                span,
            }),
        }
    }

    pub(crate) fn set_since(&self, offset: Option<String>) {
        *lock(&self.inner.since) = offset;
    }

    pub(crate) fn mark_recovered(&self) {
        self.inner.recovered.store(true, Ordering::Release);
    }

    /// Remembers the offsets its replay gave, so that the same broadcasts arriving live are
    /// skipped (see [`crate::replayed`]).
    pub(crate) fn remember_replayed(&self, offsets: impl IntoIterator<Item = String>) {
        self.inner.replayed.remember(offsets);
    }

    pub(crate) fn live_session(&self) -> &Arc<LiveSession> {
        &self.inner.live
    }

    /// Its state as a store keeps it, if it has a pid: rooms (its own excluded), data, and
    /// the offset it started from.
    pub(crate) fn saved_session(&self) -> Option<SavedSession> {
        let pid = self.pid()?.to_owned();
        let rooms = self
            .rooms()
            .into_iter()
            .filter(|r| r != self.id())
            .collect();
        Some(SavedSession {
            pid,
            sid: self.id().to_owned(),
            namespace: self.inner.ns.name().to_owned(),
            rooms,
            data: self.data(),
            since: lock(&self.inner.since).clone(),
        })
    }

    /// Whether this socket got its previous session back (socket.io's `socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    /// This socket's tracing span; `span().record("sub", user)` names who it is.
    pub fn span(&self) -> &tracing::Span {
        &self.inner.span
    }

    /// The typed extension `T`, if a middleware or handler inserted one.
    pub fn extension<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.extensions).get::<T>().cloned()
    }

    /// Inserts (or replaces) the typed extension `T`.
    pub fn insert_extension<T: Clone + Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.extensions).insert(value);
    }

    /// Adds an event hook for this socket (socket.io's `socket.use`), after the server's.
    pub fn use_hook(&self, hook: impl EventHook) {
        lock(&self.inner.hooks).push(Arc::new(hook));
    }

    /// What other servers see of this socket (`fetchSockets`).
    pub fn info(&self) -> SocketInfo {
        let handshake = self.handshake();
        let headers = handshake
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((name.as_str().to_owned(), Value::String(value.to_owned())))
            })
            .collect();
        let query = handshake
            .query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        SocketInfo {
            id: self.id().to_owned(),
            handshake: HandshakeInfo {
                headers,
                time: handshake.time(),
                address: handshake
                    .address
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
                xdomain: handshake.headers.contains_key("origin"),
                secure: handshake.secure,
                issued: handshake.issued_millis(),
                url: handshake.url.clone(),
                query,
                auth: self.auth().clone(),
            },
            rooms: self.rooms(),
            data: Value::Object(self.data()),
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
        self.inner.live.changed();
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
        let (id, rx) = self.inner.acks.register();
        let guard = ForgetOnDrop {
            socket: self.clone(),
            id,
        };
        let mut packet = Packet::event(self.inner.ns.name(), name, args, Vec::new());
        packet.id = Some(id);
        let sent = self.send_packet(&packet);
        async move {
            let _guard = guard;
            if !sent {
                return Err(AckError::Disconnected);
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => Err(AckError::Timeout(timeout)),
            }
        }
        // ANCHOR_END: emit_with_ack
    }

    /// How many acknowledgements this socket still waits for.
    pub fn pending_acks(&self) -> usize {
        self.inner.acks.len()
    }

    /// Joins `room`.
    pub fn join(&self, room: impl AsRef<str>) {
        let rooms = [room.as_ref().to_owned()];
        self.inner.ns.adapter().add_all(&self.inner.id, &rooms);
        self.inner.live.changed();
    }

    /// Leaves `room`.
    pub fn leave(&self, room: impl AsRef<str>) {
        self.inner.ns.adapter().del(&self.inner.id, room.as_ref());
        self.inner.live.changed();
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
        self.disconnect_for("server namespace disconnect");
    }

    /// Disconnects this socket; with `close`, also closes the connection under it, and every
    /// other namespace on it (socket.io's `disconnect(true)`).
    pub fn disconnect_with(&self, close: bool) {
        self.disconnect();
        if close {
            self.inner
                .session
                .close(crate::engine::session::CloseReason::ServerClose);
        }
    }

    /// Disconnects this socket (`1` to the client) and tells its disconnect handlers `reason`
    /// (an event hook ending a flooding socket says why).
    pub fn disconnect_for(&self, reason: &str) {
        let packet = Packet::new(
            crate::protocol::PacketType::Disconnect,
            self.inner.ns.name(),
            None,
        );
        self.send_packet(&packet);
        self.close(reason);
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
        self.deliver(&EncodedPacket::new(packet), false)
    }

    /// Delivers a broadcast, unless its replay gave this recovered socket the same broadcast
    /// already (then it counts as delivered: once).
    pub(crate) fn deliver_broadcast(&self, packet: &EncodedPacket, volatile: bool) -> bool {
        if !volatile && self.inner.replayed.already_gave(packet.socketio_text()) {
            return self.is_connected();
        }
        self.deliver(packet, volatile)
    }

    /// Sends a packet encoded once for many sockets. A volatile one is dropped rather than
    /// queued when the client cannot take it now.
    pub(crate) fn deliver(&self, packet: &EncodedPacket, volatile: bool) -> bool {
        if !self.is_connected() {
            return false;
        }
        let outgoing = Outgoing {
            text: packet.frame.clone(),
            binary: packet.attachments.clone(),
        };
        let sent = if volatile {
            self.inner.session.send_volatile(outgoing)
        } else {
            self.inner.session.send(outgoing)
        };
        if sent {
            self.inner
                .ns
                .observer()
                .packet_out(self.inner.ns.name(), packet.len());
        }
        sent
    }

    /// Waits for ack `id` of a broadcast: the answer goes to `collector`.
    pub(crate) fn expect_ack(&self, id: u64, collector: &AckCollector) {
        self.inner.acks.register_broadcast(id, collector);
    }

    pub(crate) fn acks(&self) -> &PendingAcks {
        &self.inner.acks
    }

    /// An EVENT from the client: run the hooks, then find the handler and run it.
    pub(crate) async fn on_event(&self, packet: Packet) {
        use tracing::Instrument as _;
        let span = self.inner.span.clone();
        self.handle_event(packet).instrument(span).await
    }

    async fn handle_event(&self, packet: Packet) {
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
        let ack = packet.id.map(|id| AckSender::new(self.clone(), id));
        let event = Event {
            name,
            args: items,
            binary: packet.attachments,
            ack,
        };
        if !self.passes_hooks(&event).await {
            return;
        }
        let handler = lock(&self.inner.handlers).get(&event.name).cloned();
        let Some(handler) = handler else {
            tracing::debug!(sid = self.id(), event = event.name, "no handler for event");
            return;
        };
        handler(self.clone(), event);
    }

    /// Runs the event hooks in order; false if one stopped the event (and acted on it).
    async fn passes_hooks(&self, event: &Event) -> bool {
        let hooks = lock(&self.inner.hooks).clone();
        for hook in hooks {
            let verdict = hook.check(self, event).await;
            if verdict == Verdict::Pass {
                continue;
            }
            self.inner.ns.observer().event_refused(
                self.inner.ns.name(),
                &event.name,
                verdict.label(),
            );
            match verdict {
                Verdict::Pass | Verdict::Drop => {}
                Verdict::Reply { event, args } => {
                    self.emit(&event, args);
                }
                Verdict::Disconnect(reason) => self.disconnect_for(&reason),
            }
            return false;
        }
        true
    }

    /// An ACK from the client: wake whoever waits for it.
    pub(crate) fn on_ack(&self, packet: Packet) {
        // ANCHOR: on_ack
        let (Some(id), Some(Value::Array(args))) = (packet.id, packet.data) else {
            return;
        };
        let response = AckResponse {
            args,
            binary: packet.attachments,
        };
        // A late or unknown id resolves nothing: the ack is dropped.
        let awaited = self.inner.acks.resolve(id, response);
        tracing::debug!(sid = self.id(), id, awaited, "ack from the client");
        // ANCHOR_END: on_ack
    }

    /// Ends the socket: out of its rooms and namespace, pending acks failed, handlers told.
    pub(crate) fn close(&self, reason: &str) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(store) = self.inner.ns.store()
            && let Some(saved) = self.saved_session()
        {
            let last = if store.keeps(reason) {
                LastWrite::Save(saved)
            } else {
                LastWrite::Forget(saved.pid)
            };
            // A live task writes the last state itself, after any write under way. Otherwise
            // the save runs here, on the engine's tracker (closing runs on the transport's
            // task, which must not wait for a remote store): a shutdown waits for it.
            if let Some(LastWrite::Save(saved)) = self.inner.live.end(last) {
                let store = store.clone();
                self.inner.session.spawn(async move {
                    if let Err(error) = store.save(saved).await {
                        tracing::warn!(%error, "session not saved for recovery");
                    }
                });
            }
        }
        self.inner
            .ns
            .observer()
            .socket_disconnected(self.inner.ns.name(), reason);
        self.inner.ns.forget(&self.inner.id);
        self.inner.acks.clear();
        let handlers = std::mem::take(&mut *lock(&self.inner.on_disconnect));
        lock(&self.inner.handlers).clear();
        let _in_span = self.inner.span.enter();
        for handler in handlers {
            handler(self.clone(), reason);
        }
    }
}
