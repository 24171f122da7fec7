//! Timeouts that explain themselves.
//!
//! A test that waits forever teaches nothing. Every wait in the course goes through
//! [`within`], which fails the test with what we were waiting for and how long we waited.

use std::future::Future;
use std::time::Duration;

/// Awaits `future`, or panics after `limit` with a message naming `what` we waited for.
///
/// ```no_run
/// # async fn demo(rx: tokio::sync::oneshot::Receiver<u32>) {
/// use std::time::Duration;
/// let value = kit::within(Duration::from_secs(2), rx, "the first message").await;
/// # }
/// ```
#[track_caller]
pub fn within<F: Future>(
    limit: Duration,
    future: F,
    what: &str,
) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    let what = what.to_owned();
    async move {
        match tokio::time::timeout(limit, future).await {
            Ok(output) => output,
            Err(_) => panic!(
                "timed out after {limit:?} waiting for {what} (at {caller})\n\
                 The server never produced it: check the step's book page, then run the test \
                 alone with `-- --nocapture` to see the server's log."
            ),
        }
    }
}

/// Like [`within`], but returns `Err(message)` instead of panicking, for callers that
/// want to report the timeout themselves (the grader, the bench).
pub async fn within_or<F: Future>(
    limit: Duration,
    future: F,
    what: &str,
) -> Result<F::Output, String> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("timed out after {limit:?} waiting for {what}"))
}
