//! The chapter 5 server: `cargo run -p lab-05-production -- --addr 127.0.0.1:3005
//! [--redis URL] [--store memory|redis] [--window-secs 120] [--max-wait-ms 2000]
//! [--drain-notice-ms 0] [--jwt-secret SECRET] [--log-format json]`.
//!
//! On Ctrl-C or SIGTERM it leaves the cluster (see `shutdown.rs`): `/readyz` says "draining",
//! it waits `--drain-notice-ms` for the load balancer to notice, tells every client "server
//! shutting down" (they reconnect elsewhere and recover), then exits.

use std::time::Duration;

use axum::serve::ListenerExt;
use clap::Parser;
use production::{Settings, StoreKind};
use security::logs::LogFormat;

#[derive(Parser)]
#[command(about = "The chat server of chapter 5: recovery, slow clients, graceful shutdown.")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3005")]
    addr: std::net::SocketAddr,
    /// Redis to share the cluster, the limits and (with `--store redis`) the sessions through.
    #[arg(long, env = "REDIS_URL")]
    redis: Option<String>,
    /// Where sessions are kept: `redis` (the default with --redis) or `memory`.
    #[arg(long, env = "SESSION_STORE", value_enum)]
    store: Option<Store>,
    /// Seconds a dropped session waits for its client.
    #[arg(long, default_value_t = 120)]
    window_secs: u64,
    /// Broadcasts kept for replay.
    #[arg(long, default_value_t = 10_000)]
    max_packets: usize,
    /// Milliseconds a packet may wait for a slow client before it is dropped.
    #[arg(long, default_value_t = 2000)]
    max_wait_ms: u64,
    /// Milliseconds between "draining" and closing the sockets (the balancer's check time).
    #[arg(long, env = "DRAIN_NOTICE_MS", default_value_t = 0)]
    drain_notice_ms: u64,
    /// Milliseconds between pings (Socket.IO's pingInterval).
    #[arg(long, default_value_t = 25_000)]
    ping_interval_ms: u64,
    /// HS256 secret of the tokens; without it, authentication is off.
    #[arg(long, env = "JWT_SECRET")]
    jwt_secret: Option<String>,
    /// Log lines as text, or as one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Store {
    Memory,
    Redis,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    security::logs::init(args.log_format);
    let redis = match args.redis.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) => Some(redis::Client::open(url).map_err(std::io::Error::other)?),
        None => None,
    };
    let store = match (args.store, &redis) {
        (Some(Store::Memory), _) | (None, None) => StoreKind::Memory,
        (Some(Store::Redis), _) | (None, Some(_)) => StoreKind::Redis,
    };
    let defaults = Settings::default();
    let mut security = security::Settings {
        jwt_secret: args.jwt_secret.filter(|s| !s.is_empty()),
        redis,
        ..defaults.security.clone()
    };
    security.config.ping_interval = Duration::from_millis(args.ping_interval_ms);
    let settings = Settings {
        security,
        store,
        window: Duration::from_secs(args.window_secs),
        max_packets: args.max_packets,
        max_wait: Duration::from_millis(args.max_wait_ms),
        leave: production::shutdown::Leave {
            notice: Duration::from_millis(args.drain_notice_ms),
            ..defaults.leave
        },
    };
    tracing::info!(?store, "connection state recovery on");
    let server = production::start(settings)
        .await
        .map_err(std::io::Error::other)?;
    let listener = kit::serve::bind_and_announce(args.addr).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = server
        .router
        .clone()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    // The listener stays open while the instance drains: the balancer moves clients away on
    // its own schedule, and a late request still gets an answer.
    let leave = async move {
        kit::serve::shutdown_signal().await;
        server.leave().await;
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(leave)
        .await
}
