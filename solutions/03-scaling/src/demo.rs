//! The chat server of chapter 2 as one instance of a cluster: chapter 2's page, plus
//! `/instance`, which says which instance answered and whether it shares a Redis.

use axum::Json;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use socketio::adapter::AdapterFactory;
use socketio::{AdapterError, Config, SocketIo};

/// What `/instance` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceInfo {
    /// A random id of this process, so the page can show where it is connected.
    pub id: String,
    /// Whether the instance is in a cluster (a Redis adapter) or alone.
    pub clustered: bool,
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
    let info = InstanceInfo {
        id: crate::requests::random_id(),
        clustered,
    };
    let router = Router::new()
        .route("/", get(|| async { Html(socketio::demo::PAGE) }))
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
        .route("/instance", get(move || async move { Json(info.clone()) }))
        .merge(io.router())
        .layer(socketio::demo::cors());
    Ok((io, router))
}
