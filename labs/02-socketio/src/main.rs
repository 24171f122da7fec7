//! The chat-contract server of chapter 2, with its demo page: `cargo run -p lab-02-socketio`.
//!
//! `--addr 127.0.0.1:PORT` (default 3002). Settings are socket.io's defaults; the environment
//! variables `PING_INTERVAL_MS`, `PING_TIMEOUT_MS` and `MAX_PAYLOAD` override them.

use std::time::Duration;

use socketio::Config;

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
    let (_io, app) = socketio::demo::app(config);
    let listener = kit::serve::bind_and_announce(kit::serve::addr_from_args(3002)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(kit::serve::shutdown_signal())
        .await
}
