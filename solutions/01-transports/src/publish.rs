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
    let chars = text.chars().count();
    if chars == 0 {
        return Err(ApiError::unprocessable("`text` must not be empty"));
    }
    if chars > max_chars {
        return Err(ApiError::unprocessable(format!(
            "`text` has {chars} characters; at most {max_chars} are allowed"
        )));
    }
    Ok(())
}
// ANCHOR_END: validate

// ANCHOR: publish_json
/// Reads `{"text": "..."}` from `body`, validates it and publishes it.
/// Not JSON at all: `400`. JSON of the wrong shape, or a bad text: `422`.
pub fn publish_json(state: &AppState, body: &[u8]) -> Result<Message, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let new: NewMessage = serde_json::from_value(value)
        .map_err(|e| ApiError::unprocessable(format!("expected {{\"text\": \"...\"}}: {e}")))?;
    validate(&new.text, state.config.max_text_chars)?;
    Ok(state.feed.publish(new.text))
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
