//! `GET /sse`: Server-Sent Events, one HTTP response that never ends.
//!
//! The body is `text/event-stream`: a `retry:` line once, then one event per message,
//! with the message id as the event id:
//!
//! ```text
//! id: 7
//! event: message
//! data: {"id":7,"text":"hello"}
//!
//! ```
//!
//! plus a `: keep-alive` comment after each quiet interval, so proxies and the browser
//! see the connection is alive. A browser that reconnects sends `Last-Event-ID: 7`; we
//! replay what it missed from the history, then go live, with no gap and no duplicate.

// Your step 4 code will need `std::convert::Infallible`, `axum::response::sse::{KeepAlive, Sse}`,
// `axum::response::IntoResponse`, `futures_util::{Stream, StreamExt, stream}` and
// `crate::feed::Subscription` too.
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::response::sse::Event;

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::Message;
use crate::params;

/// Where to resume: the `Last-Event-ID` header (what EventSource sends when it
/// reconnects), else the `lastEventId` query parameter (for curl and for tests).
pub fn resume_from(headers: &HeaderMap, query: &params::Query) -> Result<Option<u64>, ApiError> {
    if let Some(value) = headers.get("last-event-id") {
        let text = value.to_str().unwrap_or("");
        return text.trim().parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "`Last-Event-ID` must be a message id, got {text:?}"
            ))
        });
    }
    params::optional_u64(query, "lastEventId")
}

/// One message as one event.
pub fn event_for(message: &Message) -> Event {
    let data = serde_json::to_string(message).expect("a message always serializes");
    Event::default()
        .id(message.id.to_string())
        .event("message")
        .data(data)
}

// ANCHOR: sse
pub async fn sse(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<params::Query>,
) -> Result<Response, ApiError> {
    // Step 4: answer a text/event-stream that replays, then goes live.
    // `GET /sse` answers `text/event-stream`: a `retry:` first, then every message
    // after the client's cursor (`Last-Event-ID`, or `?lastEventId=`) from the
    // history, then the live ones, each once, in order, as `id:`/`event:`/`data:`;
    // a `: keep-alive` comment after each quiet `keep_alive` interval; the stream
    // ends when the server shuts down. Book: 01-transports/sse.md, "Replay without
    // a gap or a duplicate" and "Building the stream".
    let _ = (state, headers, query);
    todo!(
        "step 4: answer a text/event-stream that replays, then goes live (book: 01-transports/sse.md)"
    )
}
// ANCHOR_END: sse
