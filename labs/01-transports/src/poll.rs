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
    // Step 2: answer the messages after `after` at once.
    // Read `after` with `params::optional_u64` (absent means 0), then answer at once
    // with `state.feed.since(after)` as JSON, even if it is empty.
    let _ = (state, query);
    todo!(
        "step 2: answer the messages after `after` at once (book: 01-transports/short-polling.md)"
    )
}
// ANCHOR_END: poll
