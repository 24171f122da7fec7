//! One instance of the chat cluster: `cargo run -p solution-03-scaling -- --addr
//! 127.0.0.1:3003 --redis redis://127.0.0.1:6379`, started on several ports with the same
//! Redis. `--redis URL` (or `REDIS_URL`); without either, the instance runs alone with the
//! local adapter and says so.

use axum::serve::ListenerExt;
use scaling::{RedisAdapter, RedisAdapterConfig};
use socketio::Config;

fn redis_url() -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--redis" {
            return iter.next().cloned();
        }
        if let Some(url) = arg.strip_prefix("--redis=") {
            return Some(url.to_owned());
        }
    }
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let adapter = match redis_url() {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(std::io::Error::other)?;
            tracing::info!(%url, "joining the cluster on this Redis");
            Some(RedisAdapter::factory(client, RedisAdapterConfig::default()).0)
        }
        None => {
            tracing::warn!("no --redis URL nor REDIS_URL: running alone with the local adapter");
            None
        }
    };
    let (_io, app) = scaling::demo::app(Config::default(), adapter)
        .await
        .map_err(std::io::Error::other)?;
    let listener = kit::serve::bind_and_announce(kit::serve::addr_from_args(3003)).await?;
    // TCP_NODELAY: small WebSocket frames go out at once, not held back by Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(kit::serve::shutdown_signal())
        .await
}
