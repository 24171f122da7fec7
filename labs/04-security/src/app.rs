//! The chapter 4 server: chapter 3's cluster member with its security layers on.
//!
//! Layers, in the order a client meets them: the gate (Origin, handshakes per address) before
//! any session; the JWT middleware on every CONNECT (when a secret is set); the flood guard on
//! every event; the checked chat handlers. `/metrics`, `/healthz` and `/readyz` sit beside
//! `/socket.io/`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use scaling::{RedisAdapter, RedisAdapterConfig};
use serde_json::Value;
use socketio::{AdapterError, Config, SocketIo, SocketIoBuilder};

use crate::auth::Authenticator;
use crate::bucket::{Buckets, Rate};
use crate::connections::{Admission, ConnectionLimit};
use crate::flood::FloodGuard;
use crate::gate::{Gate, HandshakeLimit};
use crate::jwt::Verifier;
use crate::metrics::Metrics;
use crate::origin::OriginPolicy;
use crate::revocation::Revocations;

/// Everything the server is configured with; [`Settings::default`] is chapter 3's server with
/// authentication off and generous limits.
#[derive(Clone)]
pub struct Settings {
    pub config: Config,
    /// The HS256 secret; `None`: authentication is off.
    pub jwt_secret: Option<String>,
    pub jwt_audience: String,
    /// `None`: every origin is allowed.
    pub allowed_origins: Option<Vec<String>>,
    pub redis: Option<redis::Client>,
    /// The prefix of every key and channel in Redis (instances sharing it form one cluster).
    pub key: String,
    pub rate: Rate,
    /// Refused events within one second after which a socket is disconnected.
    pub disconnect_after: u32,
    pub handshakes_per_second: u32,
    /// Sockets one user (a token's `sub`) may hold across the cluster (with Redis only).
    pub connections_per_user: u32,
    /// Sockets one client address may hold across the cluster (with Redis only).
    pub connections_per_address: u32,
    /// Adds to the server once the layers are on, before it starts (chapter 5 adds a session
    /// store and a slow-client policy).
    pub extend: Option<Extend>,
}

/// What [`Settings::extend`] does to the builder.
pub type Extend = Arc<dyn Fn(SocketIoBuilder) -> SocketIoBuilder + Send + Sync>;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: Config::default(),
            jwt_secret: None,
            jwt_audience: "chat".to_owned(),
            allowed_origins: None,
            redis: None,
            key: "socket.io".to_owned(),
            rate: Rate {
                burst: 20.0,
                per_second: 10.0,
            },
            disconnect_after: 50,
            handshakes_per_second: 20,
            connections_per_user: 10,
            connections_per_address: 100,
            extend: None,
        }
    }
}

/// A running server's parts.
pub struct Server {
    pub io: SocketIo,
    pub router: Router,
    pub metrics: Metrics,
    pub revocations: Arc<Revocations>,
}

/// What `/readyz` needs: a Redis to ping, when the server is in a cluster.
#[derive(Clone)]
struct Readiness {
    redis: Option<ConnectionManager>,
}

/// Builds and starts the server (connecting to Redis first when one is configured).
pub async fn start(settings: Settings) -> Result<Server, AdapterError> {
    let metrics = Metrics::default();
    for name in socketio::chat::NAMESPACES {
        metrics.declare_namespace(name);
    }
    let connection = match &settings.redis {
        Some(client) => Some(
            ConnectionManager::new_with_config(client.clone(), redis_config())
                .await
                .map_err(|e| AdapterError::Unavailable(e.to_string()))?,
        ),
        None => None,
    };
    let revocations = Arc::new(match &connection {
        Some(c) => Revocations::in_redis(c.clone(), settings.key.clone()),
        None => Revocations::in_memory(),
    });
    let buckets = match &connection {
        Some(c) => Buckets::shared(settings.rate, c.clone(), settings.key.clone()),
        None => Buckets::local(settings.rate),
    };
    // Counted in Redis or not at all: a cap per instance would not be the cluster's cap.
    let limit = connection.as_ref().map(|c| {
        Arc::new(ConnectionLimit::start(
            c.clone(),
            settings.key.clone(),
            settings.connections_per_user,
            settings.connections_per_address,
            metrics.clone(),
        ))
    });
    let mut builder = socketio::chat::NAMESPACES.iter().fold(
        SocketIo::builder().config(settings.config.clone()),
        |builder, name| {
            let limit = limit.clone();
            builder.ns(name, move |socket| {
                // The socket's span (chapter 2) now names the user: every line logged for
                // this socket says who, and the token itself is never logged.
                if let Some(Value::String(user)) = socket.data().get("user") {
                    socket.span().record("sub", user.as_str());
                }
                tracing::info!(recovered = socket.recovered(), "socket connected");
                crate::chat::register(&socket);
                let limit = limit.clone();
                socket.on_disconnect(move |socket, reason| {
                    tracing::info!(reason, "socket disconnected");
                    if let Some(limit) = &limit {
                        limit.release(&socket);
                    }
                });
            })
        },
    );
    // In order: who it is, then whether they may hold one more connection.
    if let Some(secret) = &settings.jwt_secret {
        builder = builder.middleware(Authenticator {
            verifier: Verifier::new(secret.as_bytes(), &settings.jwt_audience),
            revocations: revocations.clone(),
            metrics: metrics.clone(),
        });
    }
    if let Some(limit) = &limit {
        builder = builder.middleware(Admission(limit.clone()));
    }
    builder = builder
        .event_hook(FloodGuard {
            buckets: Arc::new(buckets),
            disconnect_after: settings.disconnect_after,
        })
        .allow_request(Gate {
            origins: settings.allowed_origins.as_ref().map(OriginPolicy::allow),
            handshakes: HandshakeLimit::new(settings.handshakes_per_second),
        })
        .observer(metrics.clone());
    let mut handles = None;
    if let Some(client) = &settings.redis {
        let config = RedisAdapterConfig {
            key: settings.key.clone(),
            ..RedisAdapterConfig::default()
        };
        let (factory, created) = RedisAdapter::factory(client.clone(), config);
        builder = builder.adapter(move |context| factory(context));
        handles = Some(created);
    }
    if let Some(extend) = &settings.extend {
        builder = extend(builder);
    }
    let io = builder.start().await?;
    if let Some(handles) = handles {
        for name in socketio::chat::NAMESPACES {
            if let Some(adapter) = handles.get(name) {
                metrics.watch_adapter(name, adapter.stats().clone());
            }
        }
    }
    let readiness = Readiness { redis: connection };
    let router = Router::new()
        .route("/", get(|| async { Html(socketio::demo::PAGE) }))
        .route("/metrics", get(metrics_page).with_state(metrics.clone()))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready).with_state(readiness))
        .merge(io.router())
        .layer(socketio::demo::cors());
    Ok(Server {
        io,
        router,
        metrics,
        revocations,
    })
}

/// Redis answers the limits on the path of every CONNECT and event: while it is down, a check
/// must fail within about a second (and the limit fall back as limits.md says), not hold the
/// client through the default reconnect schedule.
fn redis_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1))
}

async fn metrics_page(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// Ready: alone, always; in a cluster, when Redis answers a PING within 1 s (without it, the
/// instance would accept clients it cannot reach from the rest of the cluster).
async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let Some(mut redis) = readiness.redis else {
        return (StatusCode::OK, "ready (alone)");
    };
    let ping = redis::cmd("PING");
    match tokio::time::timeout(
        Duration::from_secs(1),
        ping.query_async::<String>(&mut redis),
    )
    .await
    {
        Ok(Ok(_)) => (StatusCode::OK, "ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable"),
    }
}
