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
    // Count characters with `text.chars().count()` (bytes would refuse 600 `é`).
    // Empty or longer than `max_chars`: `Err(ApiError::unprocessable("..."))`.
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
    // Parse `body` as a `serde_json::Value` first (failure: 400, `ApiError::bad_request`),
    // then convert it into a `NewMessage` (failure: 422, `ApiError::unprocessable`), then
    // `validate` the text against `state.config.max_text_chars` and `state.feed.publish` it.
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
