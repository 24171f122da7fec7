//! `GET /long-poll?after=N&timeout_ms=T`: the server holds the request until there is news.
//!
//! `200` with the messages after `after` as soon as there are any (at once if there
//! already are); `204 No Content` when `timeout_ms` passes first; `503` if the server
//! shuts down meanwhile. The client then asks again with the last id it received.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;
use crate::params;

/// How long to hold: `timeout_ms` if given, capped at `max`; `default` otherwise.
pub fn hold_for(
    query: &params::Query,
    default: Duration,
    max: Duration,
) -> Result<Duration, ApiError> {
    Ok(match params::optional_u64(query, "timeout_ms")? {
        Some(ms) => Duration::from_millis(ms).min(max),
        None => default,
    })
}

// ANCHOR: long_poll
pub async fn long_poll(
    State(state): State<AppState>,
    Query(query): Query<params::Query>,
) -> Result<Response, ApiError> {
    let after = params::optional_u64(&query, "after")?.unwrap_or(0);
    let hold = hold_for(
        &query,
        state.config.long_poll_default,
        state.config.long_poll_max,
    )?;
    // Subscribe before looking: a message published while we decide is not missed.
    let mut subscription = state.feed.subscribe(Some(after));
    let news = tokio::select! {
        next = subscription.next() => next.is_ok(),
        _ = tokio::time::sleep(hold) => false,
        _ = state.shutdown.triggered() => {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the server is shutting down".into(),
            });
        }
    };
    if !news {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Everything after `after`, not just the first: a client that was slow catches up
    // in one response.
    Ok(Json(state.feed.since(after)).into_response())
}
// ANCHOR_END: long_poll
