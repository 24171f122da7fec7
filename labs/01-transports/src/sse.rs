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

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::{Message, Subscription};
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
    let resume = resume_from(&headers, &query)?;
    // Subscribed before the response starts: once the client has the headers,
    // nothing published afterwards can be missed.
    let subscription = state.feed.subscribe(resume);
    let retry = Event::default().retry(state.config.sse_retry);
    let retry = stream::once(async move { Ok(retry) });
    let events = retry
        .chain(messages(subscription))
        // Ctrl-C ends the stream, so graceful shutdown does not wait for it forever.
        .take_until(state.shutdown.triggered());
    let keep_alive = KeepAlive::new()
        .interval(state.config.keep_alive)
        .text("keep-alive");
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

/// The subscription as a stream of events. It ends if the client fell too far behind:
/// the browser reconnects with `Last-Event-ID` and resumes from the history.
fn messages(subscription: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(subscription, |mut subscription| async move {
        let message = subscription.next().await.ok()?;
        Some((Ok(event_for(&message)), subscription))
    })
}
// ANCHOR_END: sse
