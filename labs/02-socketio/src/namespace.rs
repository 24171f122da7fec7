//! Namespaces: independent channels (`/`, `/admins`) multiplexed over one connection.
//!
//! Each has its connect middlewares, its connect handler (where the app registers its event
//! handlers on the new socket), its sockets on this instance and its adapter. Connecting runs
//! the middlewares once, answers `CONNECT` (`40{"sid":"..."}`) or `CONNECT_ERROR`, then calls
//! the handler.

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Map, Value, json};

use crate::adapter::{Adapter, AdapterContext, AdapterFactory, LocalSockets};
use crate::broadcast::BroadcastOperator;
use crate::engine::session::Session;
use crate::middleware::{ConnectError, ConnectMiddleware, ConnectRequest};
use crate::protocol::{Packet, PacketType};
use crate::session_store::SessionStore;
use crate::socket::Socket;

/// Called with each socket that connected to a namespace.
pub type ConnectHandler = Arc<dyn Fn(Socket) + Send + Sync>;

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

/// A namespace of a running server.
pub struct Namespace {
    name: String,
    config: NamespaceConfig,
    sockets: LocalSockets,
    adapter: Arc<dyn Adapter>,
    store: Option<Arc<dyn SessionStore>>,
}

impl Namespace {
    pub(crate) fn new(
        name: String,
        config: NamespaceConfig,
        adapter: &AdapterFactory,
        store: Option<Arc<dyn SessionStore>>,
    ) -> Arc<Namespace> {
        let sockets = LocalSockets::default();
        let adapter = adapter(AdapterContext {
            namespace: name.clone(),
            sockets: sockets.clone(),
        });
        Arc::new(Namespace {
            name,
            config,
            sockets,
            adapter,
            store,
        })
    }

    /// Its name, e.g. `/admins`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its adapter (rooms and broadcasts).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// The sockets connected to it on this instance.
    pub fn local_sockets(&self) -> &LocalSockets {
        &self.sockets
    }

    /// The local socket with this id.
    pub fn socket(&self, sid: &str) -> Option<Socket> {
        self.sockets.get(sid)
    }

    /// Emits to every socket of the namespace (`io.of(ns).emit`).
    pub fn emit(self: &Arc<Self>, name: &str, args: Vec<Value>) {
        BroadcastOperator::new(self.clone(), None).emit(name, args);
    }

    /// Emits to the sockets in `room` (`io.of(ns).to(room)`); chain more `to`/`except`.
    pub fn to(self: &Arc<Self>, room: impl Into<String>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), None).to(room)
    }

    /// Emits to every socket except those in `room`.
    pub fn except(self: &Arc<Self>, room: impl Into<String>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), None).except(room)
    }

    pub(crate) fn forget(&self, sid: &str) {
        self.sockets.remove(sid);
        self.adapter.leave_all(sid);
    }

    /// Runs the middlewares, then creates the socket and answers `CONNECT`; a refusal is
    /// answered `CONNECT_ERROR` and returned. The connect handler runs later, in
    /// [`Namespace::on_connect`], once the client knows the socket exists.
    pub(crate) fn connect(
        self: &Arc<Self>,
        session: &Arc<Session>,
        auth: Option<Value>,
    ) -> Result<Socket, ConnectError> {
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

    /// Hands a newly connected socket to the application.
    pub(crate) fn on_connect(&self, socket: Socket) {
        (self.config.on_connect)(socket);
    }

    fn restore(&self, auth: &Value) -> Option<crate::session_store::SavedSession> {
        let store = self.store.as_ref()?;
        let pid = auth.get("pid")?.as_str()?;
        let offset = auth.get("offset").and_then(Value::as_str);
        store
            .restore(pid, offset)
            .filter(|saved| saved.namespace == self.name)
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.store.as_ref()
    }
}

/// The `CONNECT_ERROR` packet for a refusal.
pub fn connect_error(nsp: &str, error: &ConnectError) -> Packet {
    Packet::new(PacketType::ConnectError, nsp, Some(error.to_json()))
}
