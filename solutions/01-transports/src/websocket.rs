//! `GET /ws`: a WebSocket. It starts as an HTTP/1.1 request (`Upgrade: websocket`), the
//! server answers `101 Switching Protocols`, and from then on both sides send frames on
//! the same TCP connection, in both directions, whenever they like.
//!
//! Server → client: each new message as a JSON text frame `{"id":N,"text":"..."}`, a
//! Ping after each quiet interval, and a Close frame on shutdown (1001) or when the client
//! fell too far behind (1008). Client → server: a text frame `{"text":"..."}` publishes
//! (an invalid one is answered by `{"error":"..."}`; the connection stays open).
//! axum answers the client's Pings with Pongs by itself.

use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::{Ended, Subscription};
use crate::params;
use crate::publish::publish_json;

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
async fn connection(socket: WebSocket, state: AppState, mut subscription: Subscription) {
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval(state.config.keep_alive);
    ping.tick().await; // the first tick is immediate
    let shutdown = state.shutdown.triggered();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = subscription.next() => {
                let frame = match next {
                    Ok(message) => Frame::Text(
                        serde_json::to_string(&message).expect("a message serializes").into(),
                    ),
                    Err(Ended::FellBehind { .. }) => close_frame(close_code::POLICY, "fell behind; reconnect"),
                    Err(Ended::Closed) => close_frame(close_code::AWAY, "feed closed"),
                };
                let closing = matches!(frame, Frame::Close(_));
                if sink.send(frame).await.is_err() || closing {
                    break;
                }
            }
            frame = incoming.next() => match frame {
                Some(Ok(Frame::Text(text))) => {
                    if let Err(error) = publish_json(&state, text.as_bytes()) {
                        let reply = Frame::Text(error.body().to_string().into());
                        if sink.send(reply).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Frame::Binary(_))) => {
                    let error = ApiError::unprocessable("send text frames with {\"text\": \"...\"}");
                    if sink.send(Frame::Text(error.body().to_string().into())).await.is_err() {
                        break;
                    }
                }
                // Pongs answer our pings; axum already answered the client's pings.
                Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
                // The client closes: flushing sends our Close reply, then we are done.
                Some(Ok(Frame::Close(_))) => {
                    let _ = sink.flush().await;
                    break;
                }
                Some(Err(_)) | None => break,
            },
            _ = ping.tick() => {
                if sink.send(Frame::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = &mut shutdown => {
                let _ = sink.send(close_frame(close_code::AWAY, "server shutting down")).await;
                break;
            }
        }
    }
}
// ANCHOR_END: connection

/// A Close frame with a status code (RFC 6455, section 7.4) and a reason.
pub fn close_frame(code: u16, reason: &'static str) -> Frame {
    Frame::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
