//! Namespaces: independent channels (`/`, `/admins`) multiplexed over one connection.
//!
//! Each has its connect middlewares, its connect handler (where the app registers its event
//! handlers on the new socket), its sockets on this instance, its adapter, and handlers for
//! events other servers send (`server_side_emit`). Connecting runs the middlewares, answers
//! `CONNECT` (`40{"sid":"..."}`) or `CONNECT_ERROR`, then calls the handler.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures_util::future::{FutureExt, ready};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::adapter::{Adapter, AdapterContext, AdapterError, AdapterFuture, BroadcastOptions};
use crate::broadcast::{BroadcastOperator, EncodedPacket};
use crate::engine::session::{Session, lock};
use crate::hooks::EventHook;
use crate::middleware::{ConnectError, ConnectMiddleware, ConnectRequest};
use crate::observe::{ConnectErrorKind, SharedObserver};
use crate::protocol::{Packet, PacketType};
use crate::replayed::Tap;
use crate::session_store::{RestoredSession, SessionStore};
use crate::socket::Socket;

/// Called with each socket that connected to a namespace.
pub type ConnectHandler = Arc<dyn Fn(Socket) + Send + Sync>;

/// Handles an event sent by another server (`io.on("name", ...)` on the server side). `ack` is
/// present when the sender waits for an answer: send it one value.
pub type ServerEventHandler = Arc<dyn Fn(Vec<Value>, Option<ServerAck>) + Send + Sync>;

/// The answer to a server-side event that asked for one.
#[derive(Debug)]
pub struct ServerAck(oneshot::Sender<Value>);

impl ServerAck {
    /// An answer channel: the adapter awaits the receiver and sends the value back.
    pub fn new() -> (ServerAck, oneshot::Receiver<Value>) {
        let (tx, rx) = oneshot::channel();
        (ServerAck(tx), rx)
    }

    /// Answers the server that asked.
    pub fn send(self, value: Value) {
        let _ = self.0.send(value);
    }
}

/// How a namespace is set up: its handler and middlewares.
#[derive(Clone)]
pub struct NamespaceConfig {
    pub(crate) on_connect: ConnectHandler,
    pub(crate) middlewares: Vec<Arc<dyn ConnectMiddleware>>,
}

impl NamespaceConfig {
    /// A namespace whose connected sockets are handed to `on_connect`.
    pub fn new(on_connect: impl Fn(Socket) + Send + Sync + 'static) -> NamespaceConfig {
        NamespaceConfig {
            on_connect: Arc::new(on_connect),
            middlewares: Vec::new(),
        }
    }

    /// Adds a connect middleware; they run in the order added.
    pub fn middleware(mut self, middleware: impl ConnectMiddleware) -> NamespaceConfig {
        self.middlewares.push(Arc::new(middleware));
        self
    }
}

/// What the server gives every namespace.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    pub(crate) observer: SharedObserver,
    pub(crate) hooks: Vec<Arc<dyn EventHook>>,
    /// Restored sockets skip the middlewares (socket.io's `skipMiddlewares`).
    pub(crate) skip_middlewares: bool,
}

/// What the store gave a CONNECT (see [`Namespace::restore`]).
#[derive(Default)]
pub(crate) struct Recovery {
    session: Option<RestoredSession>,
    since: Option<String>,
}

/// The offset a recorded packet carries: its last argument, a string.
fn offset_of(packet: &Packet) -> Option<&str> {
    packet.data.as_ref()?.as_array()?.last()?.as_str()
}

/// A broadcast waiting for its offset, in the order emitted.
type Recording = (
    Packet,
    BroadcastOptions,
    oneshot::Sender<Result<(), AdapterError>>,
);

/// A namespace of a running server.
pub struct Namespace {
    name: String,
    config: NamespaceConfig,
    sockets: crate::adapter::LocalSockets,
    adapter: OnceLock<Arc<dyn Adapter>>,
    shared: Shared,
    ack_ids: Arc<AtomicU64>,
    server_handlers: Mutex<HashMap<String, ServerEventHandler>>,
    recorder: OnceLock<mpsc::UnboundedSender<Recording>>,
}

impl Namespace {
    pub(crate) fn new(name: String, config: NamespaceConfig, shared: Shared) -> Arc<Namespace> {
        Arc::new(Namespace {
            name,
            config,
            sockets: Default::default(),
            adapter: OnceLock::new(),
            shared,
            ack_ids: Arc::new(AtomicU64::new(0)),
            server_handlers: Mutex::new(HashMap::new()),
            recorder: OnceLock::new(),
        })
    }

    /// What its adapter factory is given.
    pub(crate) fn adapter_context(self: &Arc<Self>) -> AdapterContext {
        AdapterContext {
            namespace: self.name.clone(),
            sockets: self.sockets.clone(),
            ns: Arc::downgrade(self),
        }
    }

    pub(crate) fn set_adapter(&self, adapter: Arc<dyn Adapter>) {
        let _ = self.adapter.set(adapter);
    }

    /// Its name, e.g. `/admins`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its adapter (rooms and broadcasts).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        self.adapter
            .get()
            .expect("a namespace gets its adapter when the server is built")
    }

    /// The sockets connected to it on this instance.
    pub fn local_sockets(&self) -> &crate::adapter::LocalSockets {
        &self.sockets
    }

    /// The local socket with this id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.sockets.get(sid)
    }

    pub(crate) fn observer(&self) -> &SharedObserver {
        &self.shared.observer
    }

    pub(crate) fn hooks(&self) -> &[Arc<dyn EventHook>] {
        &self.shared.hooks
    }

    pub(crate) fn ack_ids(&self) -> &Arc<AtomicU64> {
        &self.ack_ids
    }

    /// A fresh ack id, unique in this namespace (for a broadcast with acks).
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The operator for every socket of the namespace (`io.of(ns)`); chain `to`, `except`,
    /// `local`, `volatile`, `timeout`.
    pub fn operator(self: &Arc<Self>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), None)
    }

    /// Emits to every socket of the namespace (`io.of(ns).emit`).
    pub fn emit(self: &Arc<Self>, name: &str, args: Vec<Value>) {
        self.operator().emit(name, args);
    }

    /// Emits to the sockets in `room` (`io.of(ns).to(room)`); chain more `to`/`except`.
    pub fn to(self: &Arc<Self>, room: impl Into<String>) -> BroadcastOperator {
        self.operator().to(room)
    }

    /// Emits to every socket except those in `room`.
    pub fn except(self: &Arc<Self>, room: impl Into<String>) -> BroadcastOperator {
        self.operator().except(room)
    }

    /// Hands a broadcast to the adapter. With a session store, an event (binary or not) without
    /// ack id that is not volatile is recorded first, and gets its offset as last argument; recordings go
    /// through one queue, so offsets follow the order of the emits.
    pub(crate) fn broadcast(
        self: &Arc<Self>,
        packet: Packet,
        options: BroadcastOptions,
    ) -> AdapterFuture<'static, ()> {
        let recorded = matches!(packet.kind, PacketType::Event | PacketType::BinaryEvent)
            && packet.id.is_none()
            && !options.flags.volatile
            && self.shared.store.is_some();
        if !recorded {
            return self.adapter().broadcast(packet, options);
        }
        let (done, result) = oneshot::channel();
        let queue = self.recorder.get_or_init(|| self.spawn_recorder());
        if queue.send((packet, options, done)).is_err() {
            return ready(Err(AdapterError::Unavailable("recorder stopped".into()))).boxed();
        }
        async move {
            result
                .await
                .unwrap_or_else(|_| Err(AdapterError::Unavailable("recorder stopped".into())))
        }
        .boxed()
    }

    fn spawn_recorder(self: &Arc<Self>) -> mpsc::UnboundedSender<Recording> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Recording>();
        let ns: Weak<Namespace> = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some((mut packet, options, done)) = rx.recv().await {
                let Some(ns) = ns.upgrade() else { return };
                let Some(store) = ns.shared.store.clone() else {
                    return;
                };
                match store.record(&packet, &options).await {
                    Ok(Some(offset)) => {
                        if let Some(Value::Array(items)) = packet.data.as_mut() {
                            items.push(Value::String(offset));
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(nsp = ns.name, %error, "broadcast not recorded");
                    }
                }
                let _ = done.send(ns.adapter().broadcast(packet, options).await);
            }
        });
        tx
    }

    /// Registers the handler of server-side event `name` (replacing a previous one).
    pub fn on_server_event(
        &self,
        name: impl Into<String>,
        handler: impl Fn(Vec<Value>, Option<ServerAck>) + Send + Sync + 'static,
    ) {
        lock(&self.server_handlers).insert(name.into(), Arc::new(handler));
    }

    /// Runs the handler of a server-side event received from another server; false if none.
    /// The adapter calls it.
    pub fn handle_server_event(
        &self,
        name: &str,
        args: Vec<Value>,
        ack: Option<ServerAck>,
    ) -> bool {
        let handler = lock(&self.server_handlers).get(name).cloned();
        match handler {
            Some(handler) => {
                handler(args, ack);
                true
            }
            None => false,
        }
    }

    /// Sends event `name` to the other servers (`serverSideEmit`).
    pub async fn server_side_emit(&self, name: &str, args: Vec<Value>) -> Result<(), AdapterError> {
        self.adapter()
            .server_side_emit(name.to_owned(), args, None)
            .await
            .map(drop)
    }

    /// Sends event `name` to the other servers and waits up to `timeout` for each one's answer
    /// (`serverSideEmitWithAck`).
    pub async fn server_side_emit_with_ack(
        &self,
        name: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, AdapterError> {
        self.adapter()
            .server_side_emit(name.to_owned(), args, Some(timeout))
            .await
    }

    pub(crate) fn forget(&self, sid: &str) {
        self.sockets.remove(sid);
        self.adapter().del_all(sid);
    }

    /// Runs the middlewares, then creates the socket and answers `CONNECT`; a refusal is
    /// answered `CONNECT_ERROR` and returned. The connect handler runs later, in
    /// [`Namespace::on_connect`], once the client knows the socket exists.
    pub(crate) async fn connect(
        self: &Arc<Self>,
        session: &Arc<Session>,
        auth: Option<Value>,
    ) -> Result<Socket, ConnectError> {
        let auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
        // Opened before the store is asked: what is delivered meanwhile is not lost to a
        // recovering socket. Only a CONNECT with a pid may recover.
        let tap = (self.shared.store.is_some() && auth.get("pid").is_some())
            .then(|| self.sockets.taps().open());
        let restored = self.restore(&auth).await;
        let middlewares = self.middlewares_for(restored.session.is_some());
        // ANCHOR: connect
        // Step 3: run the middlewares, create the socket and answer CONNECT.
        // A client that sends `40` (or `40/admins,`) gets `40{"sid":...}` with a socket id of its own,
        // or `44{"message":...}` when a middleware refuses it; with a session store the answer also has
        // a `pid`, and a client that comes back with it gets its socket back. The page's "What a socket
        // carries" section explains each part.
        todo!(
            "step 3: run the middlewares, create the socket and answer CONNECT (book: 02-socketio/namespaces.md)"
        )
        // ANCHOR_END: connect
    }

    /// The middlewares a CONNECT runs: all of them, unless a restored socket skips them
    /// (`Config::recovery_skips_middlewares`).
    fn middlewares_for(&self, restored: bool) -> &[Arc<dyn ConnectMiddleware>] {
        if restored && self.shared.skip_middlewares {
            &[]
        } else {
            &self.config.middlewares
        }
    }

    /// Answers a refused CONNECT; a session being restored is saved again, so the client can
    /// still recover once it is allowed back (with a fresh token, say).
    async fn refuse(&self, session: &Arc<Session>, error: &ConnectError, restored: Recovery) {
        self.observer()
            .connect_error(&self.name, ConnectErrorKind::Refused, &error.message);
        session.send(Socket::frame(&connect_error(&self.name, error)));
        if let (Some(store), Some(restored)) = (&self.shared.store, restored.session)
            && let Err(error) = store.save(restored.session).await
        {
            tracing::warn!(nsp = self.name, %error, "session not saved back");
        }
    }

    /// The socket of an accepted CONNECT: a fresh id (and a pid, with a store), or the restored
    /// one with its rooms, its data under the middlewares' fresh data, and its missed packets
    /// written now, before the CONNECT answer, as socket.io does.
    fn open_socket(
        self: &Arc<Self>,
        session: &Arc<Session>,
        auth: Value,
        request: ConnectRequest,
        restored: Recovery,
        tap: Option<Tap>,
    ) -> Socket {
        let random_id = || Alphanumeric.sample_string(&mut rand::rng(), 20);
        let ConnectRequest {
            data: fresh,
            extensions,
            ..
        } = request;
        let Recovery {
            session: restored,
            since,
        } = restored;
        let Some(RestoredSession {
            session: saved,
            missed,
        }) = restored
        else {
            let pid = self.shared.store.as_ref().map(|_| random_id());
            self.observer().socket_connected(&self.name, false);
            let socket = Socket::new(
                self.clone(),
                session.clone(),
                random_id(),
                pid,
                auth,
                fresh,
                extensions,
            );
            socket.set_since(since);
            return socket;
        };
        let mut data = saved.data;
        data.extend(fresh);
        let socket = Socket::new(
            self.clone(),
            session.clone(),
            saved.sid,
            Some(saved.pid),
            auth,
            data,
            extensions,
        );
        socket.mark_recovered();
        // Next time, a client without an offset missed what comes after what it has now.
        let latest = missed
            .last()
            .and_then(|packet| offset_of(packet).map(str::to_owned));
        socket.set_since(latest.or(since).or(saved.since));
        for packet in &missed {
            socket.send_packet(packet);
        }
        // Before it rejoins its rooms: a broadcast of the replay may also arrive live. Then
        // what was delivered while the store was read, if meant for it and not replayed.
        socket.remember_replayed(
            missed
                .iter()
                .filter_map(|p| offset_of(p).map(str::to_owned)),
        );
        let mut rooms: BTreeSet<String> = saved.rooms.iter().cloned().collect();
        rooms.insert(socket.id().to_owned());
        let reachable = |caught: Vec<EncodedPacket>| {
            self.adapter().add_all(socket.id(), &saved.rooms);
            self.sockets.insert(socket.clone());
            for packet in &caught {
                socket.deliver_broadcast(packet, false);
            }
        };
        match tap {
            Some(tap) => tap.close(&rooms, reachable),
            None => reachable(Vec::new()),
        }
        self.observer().socket_connected(&self.name, true);
        socket
    }

    /// Hands a newly connected socket to the application.
    pub(crate) fn on_connect(&self, socket: Socket) {
        if let Some(store) = self.store()
            && let Some(every) = store.live_refresh()
        {
            crate::live_session::keep(socket.clone(), store.clone(), every);
        }
        let span = socket.span().clone();
        let _in_span = span.enter();
        (self.config.on_connect)(socket);
    }

    /// What the store knows of a CONNECT: the saved session of `auth.pid`, if the store knows
    /// it in this namespace and its socket id is not connected here already (a second tab
    /// presenting the same pid must not take over the first one's socket); and the offset the
    /// socket starts from (the client's, else the store's watermark).
    async fn restore(&self, auth: &Value) -> Recovery {
        let Some(store) = self.shared.store.as_ref() else {
            return Recovery::default();
        };
        let offset = auth.get("offset").and_then(Value::as_str);
        let session = match auth.get("pid").and_then(Value::as_str) {
            Some(pid) => self.restore_session(store, pid, offset).await,
            None => None,
        };
        let since = match &session {
            // A restored socket goes on from where its client stands.
            Some(_) => offset.map(str::to_owned),
            // A fresh one starts now, whatever offset an earlier session left in the client.
            None => store.watermark().await.unwrap_or_else(|error| {
                tracing::warn!(nsp = self.name, %error, "no watermark for the new socket");
                None
            }),
        };
        Recovery { session, since }
    }

    async fn restore_session(
        &self,
        store: &Arc<dyn SessionStore>,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<RestoredSession> {
        let restored = match store.restore(&self.name, pid, offset).await {
            Ok(restored) => restored?,
            Err(error) => {
                tracing::warn!(nsp = self.name, %error, "session not restored");
                return None;
            }
        };
        if self.sockets.contains(&restored.session.sid) {
            tracing::debug!(
                nsp = self.name,
                "restored socket id is connected, fresh session"
            );
            return None;
        }
        Some(restored)
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.shared.store.as_ref()
    }
}

/// The `CONNECT_ERROR` packet for a refusal.
pub fn connect_error(nsp: &str, error: &ConnectError) -> Packet {
    Packet::new(PacketType::ConnectError, nsp, Some(error.to_json()))
}
