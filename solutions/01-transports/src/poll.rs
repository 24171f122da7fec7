//! `GET /poll?after=N`: short polling, the baseline. Answers at once, news or not.

use axum::Json;
use axum::extract::{Query, State};

use crate::app::AppState;
use crate::error::ApiError;
use crate::feed::Message;
use crate::params;

// ANCHOR: poll
/// Every message after `after` (default 0: the whole history), possibly none.
pub async fn poll(
    State(state): State<AppState>,
    Query(query): Query<params::Query>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let after = params::optional_u64(&query, "after")?.unwrap_or(0);
    Ok(Json(state.feed.since(after)))
}
// ANCHOR_END: poll
