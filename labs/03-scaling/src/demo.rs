//! The chat server of chapter 2 as one instance of a cluster: a page that says which instance
//! it talks to and marks the chats that came from another one, and `/instance`, which says
//! which instance answered, whether it shares a Redis, and which sockets it holds.

use axum::Json;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use socketio::adapter::AdapterFactory;
use socketio::{AdapterError, Config, SocketIo};

/// The page: chapter 2's chat, plus the instance it talks to.
pub const PAGE: &str = include_str!("demo/index.html");

/// What `/instance` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceInfo {
    /// A random id of this process, so the page can show where it is connected.
    pub id: String,
    /// Whether the instance is in a cluster (a Redis adapter) or alone.
    pub clustered: bool,
    /// The ids of the sockets this instance holds on `/`.
    pub sockets: Vec<String>,
}

/// The chat server with `adapter` (or the local one), its page and `/instance`.
pub async fn app(
    config: Config,
    adapter: Option<AdapterFactory>,
) -> Result<(SocketIo, Router), AdapterError> {
    let mut builder = socketio::chat::builder(config);
    let clustered = adapter.is_some();
    if let Some(factory) = adapter {
        builder = builder.adapter(move |context| factory(context));
    }
    let io = builder.start().await?;
    let id = crate::requests::random_id();
    let public = io.of("/");
    let instance = move || {
        let sockets = public
            .as_ref()
            .map(|ns| ns.local_sockets().ids())
            .unwrap_or_default();
        InstanceInfo {
            id: id.clone(),
            clustered,
            sockets,
        }
    };
    let router = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/client.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    socketio::demo::CLIENT_JS,
                )
                    .into_response()
            }),
        )
        .route(
            "/instance",
            get(move || std::future::ready(Json(instance()))),
        )
        .merge(io.router())
        .layer(socketio::demo::cors());
    Ok((io, router))
}
