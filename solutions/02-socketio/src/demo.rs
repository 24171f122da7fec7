//! The demo: the chat server plus a page at `/` whose Socket.IO client is plain JS, written by
//! hand for the course (WebSocket transport, Engine.IO and Socket.IO spoken directly).
//!
//! CORS is answered for the book's origin, so the book's live panels can talk to it.

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;
use crate::server::SocketIo;

/// The page, with its client inline.
pub const PAGE: &str = include_str!("demo/index.html");
/// The hand-written client, also served alone at `/client.js`.
pub const CLIENT_JS: &str = include_str!("demo/client.js");

/// Whether `origin` is the book served on this machine, on any port (`cargo xtask serve
/// --port N`): `http://127.0.0.1:PORT` or `http://localhost:PORT`.
pub fn is_book_origin(origin: &HeaderValue) -> bool {
    let origin = origin.to_str().unwrap_or("");
    ["http://127.0.0.1:", "http://localhost:"]
        .iter()
        .filter_map(|local| origin.strip_prefix(local))
        .any(|port| port.parse::<u16>().is_ok())
}

/// CORS for the book's origins.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| is_book_origin(origin)))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE])
        .allow_credentials(true)
}

/// The chat server with its page: `/`, `/client.js` and `/socket.io/`.
pub fn app(config: Config) -> (SocketIo, Router) {
    let io = crate::chat::builder(config).build();
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/client.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript")], CLIENT_JS).into_response()
            }),
        )
        .merge(io.router())
        .layer(cors());
    (io, router)
}
