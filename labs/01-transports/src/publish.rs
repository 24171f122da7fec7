//! `POST /messages {"text": "..."}` → `201 {"id": N}`: how messages enter the feed.
//!
//! The WebSocket publishes through the same [`publish_json`], so both paths accept and
//! refuse exactly the same messages.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::Message;

/// What a client sends to publish.
#[derive(Debug, Deserialize)]
pub struct NewMessage {
    pub text: String,
}

// ANCHOR: validate
/// A message's text must be 1 to `max_chars` characters (Unicode scalar values, not bytes).
pub fn validate(text: &str, max_chars: usize) -> Result<(), ApiError> {
    // Step 1: accept `text` only if it has 1 to `max_chars` characters.
    // A text of 1 to `max_chars` characters is accepted, anything else is refused
    // with `422` and a JSON error. Characters, not bytes: 1000 `é` (2000 bytes of
    // UTF-8) are accepted. Book: 01-transports/short-polling.md, "The server side".
    todo!(
        "step 1: accept {text:?} only if it has 1 to {max_chars} characters (book: 01-transports/short-polling.md)"
    )
}
// ANCHOR_END: validate

// ANCHOR: publish_json
/// Reads `{"text": "..."}` from `body`, validates it and publishes it.
/// Not JSON at all: `400`. JSON of the wrong shape, or a bad text: `422`.
pub fn publish_json(state: &AppState, body: &[u8]) -> Result<Message, ApiError> {
    // Step 1: read {"text": ...}, validate it, publish it.
    // A body that is not JSON at all is a `400`; JSON that is not `{"text": "..."}`,
    // or a text that `validate` refuses, is a `422`; otherwise the message is
    // published. Both errors carry `{"error": "..."}`.
    // Book: 01-transports/short-polling.md, "The server side".
    let _ = (state, body);
    todo!(
        "step 1: read {{\"text\": ...}}, validate it, publish it (book: 01-transports/short-polling.md)"
    )
}
// ANCHOR_END: publish_json

/// The handler: `201 Created` with the new id.
pub async fn publish(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let message = publish_json(&state, &body)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": message.id })),
    ))
}
