//! The chapter 4 server: `cargo run -p lab-04-security -- --addr 127.0.0.1:3004
//! [--redis URL] [--jwt-secret SECRET] [--jwt-audience chat] [--allowed-origins A,B]
//! [--tls-cert cert.pem --tls-key key.pem] [--log-format json] [--events-per-second N ...]`.
//! Every flag also reads its environment variable (`REDIS_URL`, `JWT_SECRET`, ...). Without a
//! secret, authentication is off, and the server says so: chapter 2's clients still work.

use axum::serve::ListenerExt;
use clap::Parser;
use security::Settings;
use security::logs::LogFormat;

#[derive(Parser)]
#[command(about = "The chat server of chapter 4: JWT, Origin, limits, metrics.")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3004")]
    addr: std::net::SocketAddr,
    /// Redis to share the cluster, the limits and the revocation list through.
    #[arg(long, env = "REDIS_URL")]
    redis: Option<String>,
    /// HS256 secret of the tokens; without it, authentication is off.
    #[arg(long, env = "JWT_SECRET")]
    jwt_secret: Option<String>,
    /// The audience tokens must be minted for.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "chat")]
    jwt_audience: String,
    /// Origins allowed to open a session, comma-separated; without it, every origin.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Option<Vec<String>>,
    /// PEM certificate chain: serve https and wss (with --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Log lines as text, or as one JSON object per line for a log collector.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
    /// Events per second one user may send, sustained (the token bucket's refill).
    #[arg(long, env = "EVENTS_PER_SECOND")]
    events_per_second: Option<f64>,
    /// Events one user may send at once (the token bucket's size).
    #[arg(long, env = "EVENT_BURST")]
    event_burst: Option<f64>,
    /// Handshakes one address may open per second, per instance.
    #[arg(long, env = "HANDSHAKES_PER_SECOND")]
    handshakes_per_second: Option<u32>,
    /// Sockets one user may hold across the cluster (with Redis).
    #[arg(long, env = "CONNECTIONS_PER_USER")]
    connections_per_user: Option<u32>,
    /// Sockets one address may hold across the cluster (with Redis).
    #[arg(long, env = "CONNECTIONS_PER_ADDRESS")]
    connections_per_address: Option<u32>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    security::logs::init(args.log_format);
    let redis = match args.redis.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => Some(redis::Client::open(url).map_err(std::io::Error::other)?),
        None => None,
    };
    // Unset limits keep the defaults of `Settings::default()`, the one place they are written.
    let defaults = Settings::default();
    let settings = Settings {
        jwt_secret: args.jwt_secret.filter(|s| !s.is_empty()),
        jwt_audience: args.jwt_audience,
        allowed_origins: args.allowed_origins,
        redis,
        rate: security::bucket::Rate {
            burst: args.event_burst.unwrap_or(defaults.rate.burst),
            per_second: args.events_per_second.unwrap_or(defaults.rate.per_second),
        },
        handshakes_per_second: args
            .handshakes_per_second
            .unwrap_or(defaults.handshakes_per_second),
        connections_per_user: args
            .connections_per_user
            .unwrap_or(defaults.connections_per_user),
        connections_per_address: args
            .connections_per_address
            .unwrap_or(defaults.connections_per_address),
        ..defaults
    };
    match &settings.jwt_secret {
        Some(_) => {
            tracing::info!(audience = %settings.jwt_audience, "authentication on (JWT, HS256)")
        }
        None => tracing::warn!("authentication OFF: no --jwt-secret nor JWT_SECRET"),
    }
    match &settings.allowed_origins {
        Some(origins) => tracing::info!(?origins, "Origin allow-list on"),
        None => tracing::warn!("every Origin allowed: no --allowed-origins"),
    }
    if settings.redis.is_none() {
        tracing::warn!("no --redis URL nor REDIS_URL: alone, limits kept in this instance");
    }
    // Read before anything listens: a bad certificate is an error at startup, not per client.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(security::tls::config_from_files(cert, key)?),
        _ => None,
    };
    let server = security::start(settings)
        .await
        .map_err(std::io::Error::other)?;
    if let Some(tls) = tls {
        let listener = kit::serve::bind_and_announce_as(args.addr, "https").await?;
        return security::tls::serve(listener, server.router, tls, kit::serve::shutdown_signal())
            .await;
    }
    tracing::warn!("no --tls-cert: plain http and ws, readable by anyone on the path");
    let listener = kit::serve::bind_and_announce(args.addr).await?;
    // TCP_NODELAY: small WebSocket frames go out at once, not held back by Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = server
        .router
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(kit::serve::shutdown_signal())
        .await
}
