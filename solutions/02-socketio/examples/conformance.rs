//! The server contract of the official Socket.IO v5 test suite (socketio/socket.io-protocol,
//! `test-suite/`), so that suite can be run against this library:
//! `cargo run -p solution-02-socketio --example conformance` (port 3000, `--addr` accepted).
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, connectTimeout 1000 ms; on
//! connect emit `auth` with the handshake auth; `message` answered by `message-back`;
//! `message-with-ack` acked with the same arguments; namespace `/custom` as well.

use std::time::Duration;

use socketio::{Config, Socket, SocketIo};
use tower_http::cors::CorsLayer;

fn on_connect(socket: Socket) {
    socket.emit("auth", vec![socket.auth().clone()]);
    socket.on("message", |socket, event| {
        socket.emit_binary("message-back", event.args, event.binary);
    });
    socket.on("message-with-ack", |_socket, event| {
        if let Some(ack) = event.ack {
            ack.send_binary(event.args, event.binary);
        }
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        connect_timeout: Duration::from_millis(1000),
        ..Config::default()
    };
    let io = SocketIo::builder()
        .config(config)
        .ns("/", on_connect)
        .ns("/custom", on_connect)
        .build();
    // The suite may run from a browser page on another origin.
    let app = io.router().layer(CorsLayer::permissive());
    let listener = kit::serve::bind_and_announce(kit::serve::addr_from_args(3000)).await?;
    // Ctrl-C or SIGTERM: sockets are told "server shutting down", then axum finishes.
    let stop = async move {
        kit::serve::shutdown_signal().await;
        io.shutdown(Duration::from_secs(5)).await;
    };
    // With the peer's address, so middlewares and `fetch_sockets` see it.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
