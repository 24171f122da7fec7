//! Query parameters, read by hand so that a bad one is a `400` with a JSON reason.

use std::collections::HashMap;

use crate::error::ApiError;

/// The query string as name → value (the last one wins if a name repeats).
pub type Query = HashMap<String, String>;

/// `name` as a non-negative integer, or `None` when absent.
pub fn optional_u64(query: &Query, name: &str) -> Result<Option<u64>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(value) => value.trim().parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "`{name}` must be a non-negative integer, got {value:?}"
            ))
        }),
    }
}
