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
    // `GET /poll?after=N` answers at once, `200` and a JSON array of the messages
    // with an id above `N` (`[]` if there are none); no `after` means 0, a bad one
    // is a `400`. Book: 01-transports/short-polling.md, "Principle".
    let _ = (state, query);
    todo!(
        "step 2: answer the messages after `after` at once (book: 01-transports/short-polling.md)"
    )
}
// ANCHOR_END: poll
