//! The chat contract's `join` and `chat` (see the course design) on socketioxide 0.18: what a
//! team writing Socket.IO in Rust would pick instead of the course's server.
//! `cargo xtask bench socketio` starts it like the course's server: `--addr 127.0.0.1:0`,
//! `PING_INTERVAL_MS` from the environment, and `listening on http://ADDR` on stdout.

use std::time::Duration;

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::ConnectHandler;

/// Registers the event handlers. As a connect *middleware* it runs before the CONNECT answer
/// is sent; the connect handler runs after it, so a client emitting `join` as soon as it reads
/// `40{...}` could otherwise reach a socket with no handler yet.
async fn register(socket: SocketRef) -> Result<(), std::convert::Infallible> {
    socket.on(
        "join",
        async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
            socket.join(room);
            let _ = ack.send(&true);
        },
    );
    socket.on(
        "chat",
        async |socket: SocketRef, Data(mut chat): Data<Value>| {
            let Some(fields) = chat.as_object_mut() else {
                return;
            };
            fields.insert("from".into(), Value::String(socket.id.to_string()));
            // `to` and `broadcast` on a socket leave the sender out, as the contract asks.
            let room = fields
                .get("room")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let _ = match room {
                Some(room) => socket.to(room).emit("chat", &chat).await,
                None => socket.broadcast().emit("chat", &chat).await,
            };
        },
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .skip_while(|arg| arg != "--addr")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let mut builder = SocketIo::builder();
    if let Some(ms) = std::env::var("PING_INTERVAL_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        builder = builder.ping_interval(Duration::from_millis(ms));
    }
    let (layer, io) = builder.build_layer();
    io.ns("/", (async |_: SocketRef| {}).with(register));
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // TCP_NODELAY, as the course's server sets it: a small frame must not wait for an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
