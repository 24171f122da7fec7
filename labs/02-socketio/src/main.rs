//! The chat-contract server of chapter 2, with its demo page: `cargo run -p lab-02-socketio`.
//!
//! `--addr 127.0.0.1:PORT` (default 3002). Settings are socket.io's defaults; the environment
//! variables `PING_INTERVAL_MS`, `PING_TIMEOUT_MS` and `MAX_PAYLOAD` override them.
//!
//! On Ctrl-C or SIGTERM it shuts down gracefully: every socket is told "server shutting down"
//! (its client reconnects elsewhere, or here once restarted), then axum finishes the HTTP
//! answers in flight.

use std::time::Duration;

use axum::serve::ListenerExt;
use socketio::Config;

/// How long a shutdown may take: WebSockets get `close_timeout` (3 s) to drain.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut config = Config::default();
    if let Some(ms) = env_number("PING_INTERVAL_MS") {
        config.ping_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = env_number("PING_TIMEOUT_MS") {
        config.ping_timeout = Duration::from_millis(ms);
    }
    if let Some(bytes) = env_number("MAX_PAYLOAD") {
        config.max_payload = bytes as usize;
    }
    let (io, app) = socketio::demo::app(config);
    let listener = kit::serve::bind_and_announce(kit::serve::addr_from_args(3002)).await?;
    let stop = async move {
        kit::serve::shutdown_signal().await;
        let report = io.shutdown(SHUTDOWN_DEADLINE).await;
        tracing::info!(?report, "socket.io sessions closed");
    };
    // With the peer's address, so middlewares and `fetch_sockets` see it.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // TCP_NODELAY: small WebSocket frames go out at once, not held back by Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
