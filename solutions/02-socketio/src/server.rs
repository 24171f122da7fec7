//! The axum integration: build a server, mount its router at `/socket.io/`.
//!
//! ```no_run
//! use socketio::{SocketIo, Config};
//! let io = SocketIo::builder()
//!     .config(Config::default())
//!     .ns("/", |socket| {
//!         socket.on("ping", |_socket, event| {
//!             if let Some(ack) = event.ack { ack.send(vec!["pong".into()]); }
//!         });
//!     })
//!     .build();
//! let app: axum::Router = io.router();
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use futures_util::FutureExt;
use futures_util::future::try_join_all;

use crate::adapter::{
    Adapter, AdapterContext, AdapterError, AdapterFactory, AdapterFuture, LocalAdapter,
};
use crate::backpressure::SlowClientPolicy;
use crate::client::Client;
use crate::config::Config;
use crate::engine::session::{Session, SessionHandler};
use crate::engine::{Engine, EngineHandler, EngineHooks, ShutdownReport};
use crate::hooks::{AllowRequest, EventHook};
use crate::middleware::ConnectMiddleware;
use crate::namespace::{self, Namespace, NamespaceConfig};
use crate::observe::{NoObserver, Observer, SharedObserver};
use crate::session_store::SessionStore;
use crate::socket::Socket;

/// Sets up a [`SocketIo`] server.
pub struct SocketIoBuilder {
    config: Config,
    namespaces: Vec<(String, NamespaceConfig)>,
    middlewares: Vec<Arc<dyn ConnectMiddleware>>,
    adapter: AdapterFactory,
    store: Option<Arc<dyn SessionStore>>,
    observer: SharedObserver,
    hooks: Vec<Arc<dyn EventHook>>,
    allow_request: Option<Arc<dyn AllowRequest>>,
    slow_clients: Option<Arc<dyn SlowClientPolicy>>,
}

impl SocketIoBuilder {
    /// Replaces the settings.
    pub fn config(mut self, config: Config) -> SocketIoBuilder {
        self.config = config;
        self
    }

    /// Adds namespace `name`; `on_connect` receives each socket that connects to it.
    pub fn ns(
        self,
        name: &str,
        on_connect: impl Fn(Socket) + Send + Sync + 'static,
    ) -> SocketIoBuilder {
        self.ns_with(name, NamespaceConfig::new(on_connect))
    }

    /// Adds namespace `name` with its own middlewares.
    pub fn ns_with(mut self, name: &str, config: NamespaceConfig) -> SocketIoBuilder {
        self.namespaces.push((name.to_owned(), config));
        self
    }

    /// Adds a connect middleware to every namespace (run before the namespace's own ones).
    pub fn middleware(mut self, middleware: impl ConnectMiddleware) -> SocketIoBuilder {
        self.middlewares.push(Arc::new(middleware));
        self
    }

    /// Uses another adapter (chapter 3: Redis); the factory runs once per namespace, in
    /// [`SocketIoBuilder::start`], and may connect to a server.
    pub fn adapter(
        mut self,
        factory: impl Fn(AdapterContext) -> AdapterFuture<'static, Arc<dyn Adapter>>
        + Send
        + Sync
        + 'static,
    ) -> SocketIoBuilder {
        self.adapter = Arc::new(factory);
        self
    }

    /// Keeps the state of dropped sockets, and the broadcasts they miss, for recovery
    /// (chapter 5).
    pub fn session_store(mut self, store: impl SessionStore) -> SocketIoBuilder {
        self.store = Some(Arc::new(store));
        self
    }

    /// Tells `observer` what happens (sessions, packets, errors, broadcasts): metrics.
    pub fn observer(mut self, observer: impl Observer) -> SocketIoBuilder {
        self.observer = Arc::new(observer);
        self
    }

    /// Runs `hook` on every incoming event of every socket, before its handler (a server-wide
    /// `socket.use`); hooks run in the order added.
    pub fn event_hook(mut self, hook: impl EventHook) -> SocketIoBuilder {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Runs `allow` on every Engine.IO handshake and upgrade request, before any session
    /// exists (engine.io's `allowRequest`): `Origin` and per-IP checks go here.
    pub fn allow_request(mut self, allow: impl AllowRequest) -> SocketIoBuilder {
        self.allow_request = Some(Arc::new(allow));
        self
    }

    /// Decides with `policy` when a client reads too slowly to keep (chapter 5); without it,
    /// `Config::max_buffered_packets` and `max_buffered_bytes` do.
    pub fn slow_clients(mut self, policy: impl SlowClientPolicy) -> SocketIoBuilder {
        self.slow_clients = Some(Arc::new(policy));
        self
    }

    /// Builds the server with the default adapter, which needs no connection.
    ///
    /// # Panics
    /// If an adapter set with [`SocketIoBuilder::adapter`] does not build and init at once:
    /// such an adapter connects somewhere, use `start().await`.
    pub fn build(self) -> SocketIo {
        match self.start().now_or_never() {
            Some(Ok(io)) => io,
            Some(Err(error)) => panic!("the adapter failed to start: {error}"),
            None => panic!("this adapter connects to a server: use `start().await`, not `build()`"),
        }
    }

    /// Builds the server: every namespace's adapter is created and initialised (connected and
    /// subscribed) before this returns, so nothing is accepted before the cluster is joined.
    pub async fn start(self) -> Result<SocketIo, AdapterError> {
        let shared = namespace::Shared {
            store: self.store,
            observer: self.observer.clone(),
            hooks: self.hooks,
            skip_middlewares: self.config.recovery_skips_middlewares,
        };
        let mut namespaces: HashMap<String, Arc<Namespace>> = HashMap::new();
        for (name, mut config) in self.namespaces {
            let mut middlewares = self.middlewares.clone();
            middlewares.append(&mut config.middlewares);
            config.middlewares = middlewares;
            let ns = Namespace::new(name.clone(), config, shared.clone());
            let adapter = (self.adapter)(ns.adapter_context()).await?;
            adapter.init().await?;
            ns.set_adapter(adapter);
            namespaces.insert(name, ns);
        }
        let shared = Arc::new(Shared {
            namespaces: Arc::new(namespaces),
            config: self.config.clone(),
            observer: self.observer.clone(),
        });
        let hooks = EngineHooks {
            allow_request: self.allow_request,
            observer: self.observer,
            slow_clients: self.slow_clients,
        };
        let engine = Engine::with_hooks(self.config, shared.clone(), hooks);
        Ok(SocketIo { shared, engine })
    }
}

struct Shared {
    namespaces: Arc<HashMap<String, Arc<Namespace>>>,
    config: Config,
    observer: SharedObserver,
}

impl EngineHandler for Shared {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        let client = Client::new(
            session.clone(),
            self.namespaces.clone(),
            self.config.max_attachments,
            self.observer.clone(),
        );
        Client::spawn_connect_timeout(
            Arc::downgrade(&client),
            session.clone(),
            self.config.connect_timeout,
        );
        client
    }
}

/// A running Socket.IO server. Cloning gives another handle to the same server.
#[derive(Clone)]
pub struct SocketIo {
    shared: Arc<Shared>,
    engine: Arc<Engine>,
}

impl SocketIo {
    /// Starts setting up a server (default [`Config`], in-memory adapter, no namespace).
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder {
            config: Config::default(),
            namespaces: Vec::new(),
            middlewares: Vec::new(),
            adapter: LocalAdapter::factory(),
            store: None,
            observer: Arc::new(NoObserver),
            hooks: Vec::new(),
            allow_request: None,
            slow_clients: None,
        }
    }

    /// The router serving Engine.IO at the configured path (`/socket.io/`); merge it into yours.
    pub fn router(&self) -> Router {
        let engine = self.engine.clone();
        let handler = any(move |request: Request| engine.clone().handle(request));
        let path = self.shared.config.path.clone();
        let router = Router::new().route(&path, handler.clone());
        match path.strip_suffix('/') {
            Some(bare) if !bare.is_empty() => router.route(bare, handler),
            _ => router,
        }
    }

    /// The namespace called `name`, to emit from the server (`io.of("/").to("room").emit(...)`).
    pub fn of(&self, name: &str) -> Option<Arc<Namespace>> {
        self.shared.namespaces.get(name).cloned()
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Closes every namespace's adapter (unsubscribes, disconnects): the last step of a
    /// shutdown.
    pub async fn close_adapters(&self) -> Result<(), AdapterError> {
        let closing = self
            .shared
            .namespaces
            .values()
            .map(|ns| ns.adapter().close());
        try_join_all(closing).await.map(drop)
    }

    /// The number of open Engine.IO sessions.
    pub fn session_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Shuts the server down gracefully, within `deadline`: new connections are refused (503),
    /// every socket is disconnected with "server shutting down" (its client reconnects, to
    /// another instance or to this one restarted), and every session task is awaited. Call it
    /// when the process is told to stop, before axum's graceful shutdown; see the chapter's
    /// `main.rs`. Last, every namespace's adapter is closed (a cluster adapter unsubscribes),
    /// once no socket is left to deliver to.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let report = self.engine.shutdown(deadline).await;
        if let Err(error) = self.close_adapters().await {
            tracing::warn!(%error, "an adapter did not close cleanly");
        }
        report
    }
}
