//! The feed: numbered messages, a bounded history, and a broadcast to every subscriber.
//!
//! All four transports read from this one place, so they agree on what happened:
//! - ids start at 1 and increase by one per message; the id is the cursor every client
//!   keeps (`after=N` for polling, `Last-Event-ID` for SSE);
//! - the history keeps the last `Config::history` messages, so a client that was away
//!   can catch up;
//! - each subscriber has a bounded queue (a `tokio::sync::broadcast` receiver): the
//!   publisher never waits for anyone.
//!
//! Taking the history snapshot and subscribing happen under the same lock as publishing,
//! so a subscriber sees every message exactly once: either in its backlog or live.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// One published message, as every transport sends it: `{"id":1,"text":"hello"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub text: String,
}

/// The shared feed. Cloning it is cheap: clones share the same history.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    sender: broadcast::Sender<Message>,
    #[allow(dead_code)] // read by your step 1 code
    history_capacity: usize,
}

struct State {
    last_id: u64,
    history: VecDeque<Message>,
}

impl Feed {
    /// A feed remembering `history` messages, with room for `client_queue` unread
    /// messages per subscriber.
    pub fn new(history: usize, client_queue: usize) -> Feed {
        let (sender, _) = broadcast::channel(client_queue.max(1));
        Feed {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    last_id: 0,
                    history: VecDeque::with_capacity(history),
                }),
                sender,
                history_capacity: history.max(1),
            }),
        }
    }

    // ANCHOR: publish
    /// Gives `text` the next id, remembers it, and hands it to every subscriber.
    pub fn publish(&self, text: String) -> Message {
        // Step 1: give `text` the next id, keep it in the history, broadcast it.
        // On the wire: `POST /messages` answers `201 {"id": N}` with ids 1, 2, 3... in
        // order of publication; `GET /poll?after=0` then lists what the history still
        // holds, at most `history_capacity` messages, the newest last; every open
        // subscriber receives the message, and publishing never waits for one (there may
        // be none). Book: 01-transports/short-polling.md, "The server side".
        todo!(
            "step 1: give {text:?} the next id, keep it in the history, broadcast it (book: 01-transports/short-polling.md)"
        )
    }
    // ANCHOR_END: publish

    /// Every message still in the history with an id greater than `after`, oldest first.
    pub fn since(&self, after: u64) -> Vec<Message> {
        let state = self.lock();
        state
            .history
            .iter()
            .filter(|m| m.id > after)
            .cloned()
            .collect()
    }

    /// How many subscriptions are open: one per SSE stream, WebSocket and held long poll.
    /// Tests wait on it to know a request is held; a metrics endpoint would export it.
    pub fn subscribers(&self) -> usize {
        self.inner.sender.receiver_count()
    }

    /// The id of the latest message, 0 before the first.
    pub fn last_id(&self) -> u64 {
        self.lock().last_id
    }

    // ANCHOR: subscribe
    /// Subscribes to the feed. With `Some(after)` the subscription first replays what the
    /// history holds after that id; with `None` it starts with the next message.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let state = self.lock();
        // Under the lock: no message can be published between the snapshot and the
        // subscription, so nothing falls in between and nothing comes twice.
        let receiver = self.inner.sender.subscribe();
        let cursor = after.unwrap_or(state.last_id);
        let backlog = state
            .history
            .iter()
            .filter(|m| m.id > cursor)
            .cloned()
            .collect();
        Subscription {
            feed: self.clone(),
            receiver,
            backlog,
            cursor,
        }
    }
    // ANCHOR_END: subscribe

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated (every
        // update is a push and a counter), so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a subscription gave no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The subscriber fell so far behind that the history no longer holds the message
    /// after its cursor: it must be disconnected (its client reconnects and resumes).
    FellBehind { cursor: u64, oldest: u64 },
    /// The feed is gone.
    Closed,
}

/// One subscriber's view of the feed: a backlog to replay, then live messages, in order.
pub struct Subscription {
    #[allow(dead_code)] // read by your step 6 code
    feed: Feed,
    receiver: broadcast::Receiver<Message>,
    backlog: VecDeque<Message>,
    cursor: u64,
}

impl Subscription {
    /// The next message, waiting if there is none yet. Cancel-safe: usable in `select!`.
    pub async fn next(&mut self) -> Result<Message, Ended> {
        loop {
            if let Some(message) = self.backlog.pop_front() {
                self.cursor = message.id;
                return Ok(message);
            }
            match self.receiver.recv().await {
                Ok(message) if message.id <= self.cursor => continue,
                Ok(message) => {
                    self.cursor = message.id;
                    return Ok(message);
                }
                Err(RecvError::Lagged(_)) => self.resync()?,
                Err(RecvError::Closed) => return Err(Ended::Closed),
            }
        }
    }

    // ANCHOR: resync
    /// The queue overflowed: start again from the history, after the cursor.
    fn resync(&mut self) -> Result<(), Ended> {
        // Step 6: resynchronise a subscriber that fell behind.
        // A subscriber whose queue overflowed carries on from the history: its client
        // still gets every message after its cursor, once, in order. If the history
        // has already forgotten the message right after the cursor, the subscription
        // ends with `Ended::FellBehind`. Book: 01-transports/lab.md, "Step 6".
        todo!("step 6: resynchronise a subscriber that fell behind (book: 01-transports/lab.md)")
    }
    // ANCHOR_END: resync
}
