//! The router, CORS for the book's live panels, and `serve` with a shutdown that works.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;
use crate::feed::Feed;
use crate::shutdown::Shutdown;
use crate::{demo, long_poll, poll, publish, sse, websocket};

/// Whether `origin` is the book served on this machine, on any port (`cargo xtask serve
/// --port N`): `http://127.0.0.1:PORT` or `http://localhost:PORT`.
pub fn is_book_origin(origin: &HeaderValue) -> bool {
    let origin = origin.to_str().unwrap_or("");
    ["http://127.0.0.1:", "http://localhost:"]
        .iter()
        .filter_map(|local| origin.strip_prefix(local))
        .any(|port| port.parse::<u16>().is_ok())
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub feed: Feed,
    pub config: Arc<Config>,
    pub shutdown: Shutdown,
}

impl AppState {
    pub fn new(config: Config) -> AppState {
        AppState {
            feed: Feed::new(config.history, config.client_queue),
            config: Arc::new(config),
            shutdown: Shutdown::new(),
        }
    }
}

/// Every route of the chapter.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| is_book_origin(origin)))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, "last-event-id".parse().unwrap()]);
    Router::new()
        .route("/", get(demo::page))
        .route("/messages", post(publish::publish))
        .route("/poll", get(poll::poll))
        .route("/long-poll", get(long_poll::long_poll))
        .route("/sse", get(sse::sse))
        .route("/ws", get(websocket::websocket))
        .layer(cors)
        .with_state(state)
}

// ANCHOR: serve
/// Serves until `signal` resolves, then ends the open streams and waits for the rest.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            signal.await;
            // ANCHOR: trigger
            // Step 6: end the open streams when Ctrl-C comes.
            // After Ctrl-C, open SSE streams, WebSockets and held long polls must end
            // promptly, so that graceful shutdown can finish. Book: 01-transports/lab.md,
            // "Step 6".
            let _ = shutdown;
            todo!("step 6: end the open streams when Ctrl-C comes (book: 01-transports/lab.md)")
            // ANCHOR_END: trigger
        })
        .await
}
// ANCHOR_END: serve
