//! The queries this instance is waiting on: answers arrive on the response channel, in any
//! order and from any server, and are routed to their request by `requestId`.
//!
//! A requester knows how many answers to expect only from Redis: `PUBSUB NUMSUB` on the
//! request channel counts every subscriber, itself included. So one subscriber that never
//! answers (a crashed handler, an incompatible implementation) makes every query wait for
//! the whole timeout and fail: [`collect`] then says how many answered out of how many.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;
use socketio::AdapterError;
use tokio::sync::mpsc;

use crate::wire::Response;

/// Node's request ids and instance uids: 6 random characters (`uid2(6)`).
pub fn random_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(6)
        .map(char::from)
        .collect()
}

/// The requests waiting for answers, by request id.
#[derive(Default)]
pub struct Pending {
    waiting: Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>,
}

impl Pending {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Response>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts waiting for the answers to `request_id`.
    pub fn register(&self, request_id: &str) -> mpsc::UnboundedReceiver<Response> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.map().insert(request_id.to_owned(), tx);
        rx
    }

    /// Whether this instance sent `request_id` (its own requests come back to it too).
    pub fn contains(&self, request_id: &str) -> bool {
        self.map().contains_key(request_id)
    }

    /// Hands an answer to its request; false for an answer nobody waits for.
    pub fn deliver(&self, response: Response) -> bool {
        let map = self.map();
        match map.get(response.request_id()) {
            Some(tx) => tx.send(response).is_ok(),
            None => false,
        }
    }

    /// Stops waiting for `request_id`.
    pub fn remove(&self, request_id: &str) {
        self.map().remove(request_id);
    }

    /// How many requests wait (tests check that nothing accumulates).
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Waits for `expected` answers, at most `timeout`; the error says how many came.
pub async fn collect(
    answers: mpsc::UnboundedReceiver<Response>,
    expected: usize,
    timeout: Duration,
    operation: &'static str,
) -> Result<Vec<Response>, AdapterError> {
    // ANCHOR: collect
    // Step 4: wait for the expected answers or time out.
    // Collect answers until `expected` came; past `timeout`, fail with `AdapterError::Timeout` saying how many answered.
    todo!("step 4: wait for the expected answers or time out (book: 03-scaling/wire.md)")
    // ANCHOR_END: collect
}
