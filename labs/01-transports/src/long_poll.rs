//! `GET /long-poll?after=N&timeout_ms=T`: the server holds the request until there is news.
//!
//! `200` with the messages after `after` as soon as there are any (at once if there
//! already are); `204 No Content` when `timeout_ms` passes first; `503` if the server
//! shuts down meanwhile. The client then asks again with the last id it received.

use std::time::Duration;

// Your step 3 code will need `axum::Json`, `axum::http::StatusCode` and
// `axum::response::IntoResponse` too.
use axum::extract::{Query, State};
use axum::response::Response;

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
    // Step 3: hold the request until news or timeout.
    // `GET /long-poll?after=N&timeout_ms=T`: if messages newer than `N` exist,
    // `200` with all of them at once; otherwise hold the request until one is
    // published (`200`), until the hold time passes (`204 No Content`), or until
    // the server shuts down (`503`). A message published at any moment is never
    // missed. Book: 01-transports/long-polling.md, "How the server holds a request
    // without losing a message".
    let _ = (state, query, hold_for);
    todo!("step 3: hold the request until news or timeout (book: 01-transports/long-polling.md)")
}
// ANCHOR_END: long_poll
