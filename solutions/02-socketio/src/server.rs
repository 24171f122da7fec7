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

use crate::adapter::{Adapter, AdapterContext, AdapterFactory, LocalAdapter};
use crate::client::Client;
use crate::config::Config;
use crate::engine::session::{Session, SessionHandler};
use crate::engine::{Engine, EngineHandler, ShutdownReport};
use crate::middleware::ConnectMiddleware;
use crate::namespace::{Namespace, NamespaceConfig};
use crate::session_store::SessionStore;
use crate::socket::Socket;

/// Sets up a [`SocketIo`] server.
pub struct SocketIoBuilder {
    config: Config,
    namespaces: Vec<(String, NamespaceConfig)>,
    middlewares: Vec<Arc<dyn ConnectMiddleware>>,
    adapter: AdapterFactory,
    store: Option<Arc<dyn SessionStore>>,
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

    /// Uses another adapter (chapter 3: Redis); the factory runs once per namespace.
    pub fn adapter(
        mut self,
        factory: impl Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync + 'static,
    ) -> SocketIoBuilder {
        self.adapter = Arc::new(factory);
        self
    }

    /// Keeps the state of dropped sockets for recovery (chapter 5).
    pub fn session_store(mut self, store: impl SessionStore) -> SocketIoBuilder {
        self.store = Some(Arc::new(store));
        self
    }

    /// Builds the server.
    pub fn build(self) -> SocketIo {
        let namespaces: HashMap<String, Arc<Namespace>> = self
            .namespaces
            .into_iter()
            .map(|(name, mut config)| {
                let mut middlewares = self.middlewares.clone();
                middlewares.append(&mut config.middlewares);
                config.middlewares = middlewares;
                let ns = Namespace::new(name.clone(), config, &self.adapter, self.store.clone());
                (name, ns)
            })
            .collect();
        let shared = Arc::new(Shared {
            namespaces: Arc::new(namespaces),
            config: self.config.clone(),
        });
        let engine = Engine::new(self.config, shared.clone());
        SocketIo { shared, engine }
    }
}

struct Shared {
    namespaces: Arc<HashMap<String, Arc<Namespace>>>,
    config: Config,
}

impl EngineHandler for Shared {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        let client = Client::new(
            session.clone(),
            self.namespaces.clone(),
            self.config.max_attachments,
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
            adapter: Arc::new(|context| Arc::new(LocalAdapter::new(context)) as Arc<dyn Adapter>),
            store: None,
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

    /// The number of open Engine.IO sessions.
    pub fn session_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Shuts the server down gracefully, within `deadline`: new connections are refused (503),
    /// every socket is disconnected with "server shutting down" (its client reconnects, to
    /// another instance or to this one restarted), and every session task is awaited. Call it
    /// when the process is told to stop, before axum's graceful shutdown; see the chapter's
    /// `main.rs`.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.engine.shutdown(deadline).await
    }
}
