//! The chapter 5 server: chapter 4's server with connection state recovery, the slow-client
//! policy, and a `/readyz` that says "draining" while the instance leaves.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;
use socketio::{AdapterError, Bounds, SessionStore, SocketIo};

use crate::memory_store::MemoryStore;
use crate::redis_store::RedisStore;
use crate::shutdown::{Draining, Leave};
use crate::slow_clients::LagPolicy;

/// Where sessions and the broadcast log are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// In this process: a client recovers only on the instance it left.
    Memory,
    /// In Redis (`security.redis` must be set): a client recovers on any instance.
    Redis,
}

/// Chapter 4's settings, and what chapter 5 adds.
#[derive(Clone)]
pub struct Settings {
    pub security: security::Settings,
    pub store: StoreKind,
    /// How long a session waits for its client (socket.io's `maxDisconnectionDuration`).
    pub window: Duration,
    /// Broadcasts kept for replay.
    pub max_packets: usize,
    /// How long a packet may wait in a client's queue before the client is too slow.
    pub max_wait: Duration,
    pub leave: Leave,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            security: security::Settings::default(),
            store: StoreKind::Memory,
            window: Duration::from_secs(120),
            max_packets: 10_000,
            max_wait: Duration::from_secs(2),
            leave: Leave {
                notice: Duration::ZERO,
                deadline: Duration::from_secs(10),
            },
        }
    }
}

/// A running server's parts.
pub struct Server {
    pub io: SocketIo,
    pub router: Router,
    pub draining: Draining,
    pub leave: Leave,
    pub security: security::Server,
    /// The store, when it is [`StoreKind::Memory`] (tests and metrics read it).
    pub memory: Option<MemoryStore>,
}

impl Server {
    /// Leaves the cluster (see [`crate::shutdown`]).
    pub async fn leave(&self) -> socketio::engine::ShutdownReport {
        let report = crate::shutdown::leave(&self.io, &self.draining, self.leave).await;
        tracing::info!(?report, "left the cluster");
        report
    }
}

/// Builds and starts the server.
pub async fn start(settings: Settings) -> Result<Server, AdapterError> {
    let memory = (settings.store == StoreKind::Memory)
        .then(|| MemoryStore::new(settings.window, settings.max_packets));
    let store: Arc<dyn SessionStore> = match &memory {
        Some(memory) => Arc::new(memory.clone()),
        None => {
            let client = settings.security.redis.clone().ok_or_else(|| {
                AdapterError::Unavailable("the Redis store needs a Redis URL (--redis)".into())
            })?;
            let redis = ConnectionManager::new(client)
                .await
                .map_err(|e| AdapterError::Unavailable(e.to_string()))?;
            Arc::new(RedisStore::new(
                redis,
                format!("{}:recovery", settings.security.key),
                settings.window,
                settings.max_packets,
            ))
        }
    };
    let config = &settings.security.config;
    let policy = LagPolicy {
        bounds: Bounds {
            max_packets: config.max_buffered_packets,
            max_bytes: config.max_buffered_bytes,
        },
        max_wait: settings.max_wait,
    };
    let security = security::start(security::Settings {
        extend: Some(Arc::new(move |builder| {
            builder.session_store(store.clone()).slow_clients(policy)
        })),
        ..settings.security.clone()
    })
    .await?;
    let draining = Draining::default();
    let router = security
        .router
        .clone()
        .layer(axum::middleware::from_fn_with_state(
            draining.clone(),
            ready_unless_draining,
        ));
    Ok(Server {
        io: security.io.clone(),
        router,
        draining,
        leave: settings.leave,
        security,
        memory,
    })
}

/// `/readyz` answers 503 while the instance drains; every other path is chapter 4's.
async fn ready_unless_draining(
    State(draining): State<Draining>,
    request: Request,
    next: Next,
) -> Response {
    if draining.is_draining() && request.uri().path() == "/readyz" {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    next.run(request).await
}
