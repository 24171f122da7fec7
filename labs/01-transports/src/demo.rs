//! `GET /`: the demo page, four panes fed by the four transports, and a send box.
//!
//! Plain HTML and the browser's own APIs (`fetch`, `EventSource`, `WebSocket`); the page
//! is compiled into the binary so `cargo run` needs no other file.

use axum::response::Html;

/// The page's source, `src/demo.html`.
pub const PAGE: &str = include_str!("demo.html");

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}
