//! The server contract of the official Engine.IO v4 test suite (socketio/engine.io-protocol,
//! `test-suite/`): the Engine.IO layer alone, mounted at `/engine.io/`, echoing every message.
//! `cargo run -p solution-02-socketio --example engine_conformance` (port 3000, `--addr` accepted).
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000; each text message is sent back
//! as is, and each binary message too (the suite's reference server is engine.io's `listen(3000,
//! ...)` with `socket.on("data", (...args) => socket.send(...args))`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::any;
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, ready};
use socketio::Config;
use socketio::engine::packet::Outgoing;
use socketio::engine::session::{CloseReason, Session, SessionHandler};
use socketio::engine::{Engine, EngineHandler};
use tower_http::cors::CorsLayer;

/// Sends every message of its session back.
struct Echo(Weak<Session>);

impl SessionHandler for Echo {
    fn on_message<'a>(&'a self, text: &'a str) -> BoxFuture<'a, ()> {
        if let Some(session) = self.0.upgrade() {
            session.send(Outgoing::text(format!("4{text}")));
        }
        ready(()).boxed()
    }

    fn on_binary(&self, data: Bytes) -> BoxFuture<'_, ()> {
        if let Some(session) = self.0.upgrade() {
            session.send(Outgoing::binary(data));
        }
        ready(()).boxed()
    }

    fn on_close(&self, _reason: CloseReason) {}
}

struct EchoServer;

impl EngineHandler for EchoServer {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        Arc::new(Echo(Arc::downgrade(session)))
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = Config {
        path: "/engine.io/".to_owned(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        ..Config::default()
    };
    let engine = Engine::new(config, Arc::new(EchoServer));
    let serving = engine.clone();
    let handler = any(move |request: Request| serving.clone().handle(request));
    let app = Router::new()
        .route("/engine.io/", handler)
        // The suite may run from a browser page on another origin.
        .layer(CorsLayer::permissive());
    let listener = kit::serve::bind_and_announce(kit::serve::addr_from_args(3000)).await?;
    // Ctrl-C or SIGTERM: sessions are closed ("server shutting down"), then axum finishes.
    let stop = async move {
        kit::serve::shutdown_signal().await;
        engine.shutdown(Duration::from_secs(5)).await;
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}
