//! `GET /ws`: a WebSocket. It starts as an HTTP/1.1 request (`Upgrade: websocket`), the
//! server answers `101 Switching Protocols`, and from then on both sides send frames on
//! the same TCP connection, in both directions, whenever they like.
//!
//! Server → client: each new message as a JSON text frame `{"id":N,"text":"..."}`, a
//! Ping after each quiet interval, and a Close frame on shutdown (1001) or when the client
//! fell too far behind (1008). Client → server: a text frame `{"text":"..."}` publishes
//! (an invalid one is answered by `{"error":"..."}`; the connection stays open).
//! axum answers the client's Pings with Pongs by itself.

// Your step 5 code will need `axum::extract::ws::close_code`, `futures_util::{SinkExt, StreamExt}`,
// `crate::feed::Ended` and `crate::publish::publish_json` too.
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::Subscription;
use crate::params;

/// The largest frame a client may send: a 1000-character message in JSON, with room.
pub const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

// ANCHOR: upgrade
/// The handshake. `?after=N` replays from the history first, like `Last-Event-ID`.
pub async fn websocket(
    upgrade: WebSocketUpgrade,
    State(state): State<AppState>,
    Query(query): Query<params::Query>,
) -> Result<Response, ApiError> {
    let after = params::optional_u64(&query, "after")?;
    // Subscribed before the `101` goes out: a client that has completed the handshake
    // receives every message published after it.
    let subscription = state.feed.subscribe(after);
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection(socket, state, subscription))
        .into_response())
}
// ANCHOR_END: upgrade

// ANCHOR: connection
/// One connection, until either side closes it.
async fn connection(socket: WebSocket, state: AppState, subscription: Subscription) {
    // Step 5: relay messages both ways until either side closes.
    // Once upgraded: each message of the subscription goes out as a JSON text frame;
    // each text frame from the client is published (an invalid one is answered with
    // an `{"error": ...}` text frame, a binary frame too, and the connection stays
    // open); a Ping goes out every `keep_alive` interval, the first one a whole
    // interval after the upgrade; a Close from the client is answered with a Close
    // before the connection ends; a subscriber that fell behind gets Close 1008, and
    // shutdown sends Close 1001. Book: 01-transports/websocket.md, "The server side"
    // and "Closing".
    let _ = (socket, state, subscription, MAX_CLIENT_MESSAGE);
    todo!(
        "step 5: relay messages both ways until either side closes (book: 01-transports/websocket.md)"
    )
}
// ANCHOR_END: connection

/// A Close frame with a status code (RFC 6455, section 7.4) and a reason.
pub fn close_frame(code: u16, reason: &'static str) -> Frame {
    Frame::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
