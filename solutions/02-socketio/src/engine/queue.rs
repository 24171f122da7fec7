//! A session's outgoing queue: bounded in packets and in bytes, read by one transport at a time.
//!
//! Everything that sends to a client pushes here; the transport in charge (a polling GET or the
//! WebSocket writer) takes a [`Reader`] and pops. Two bounds, because either alone lets a
//! stalled client pin memory: 1,024 packets may each be as large as `max_payload`, and a million
//! tiny packets fit in a few megabytes. Over a bound the push fails and the session closes the
//! client as too slow. The queue also knows whether its reader is parked on an empty queue,
//! which is what a volatile packet needs: it is queued only then, and dropped otherwise.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::backpressure::{Backlog, SlowClientPolicy};

use super::packet::Outgoing;
use super::session::lock;

/// The packets waiting for the client and what they weigh.
#[derive(Default)]
struct State {
    packets: VecDeque<Outgoing>,
    /// When each packet of `packets` was queued, in the same order.
    queued_at: VecDeque<Instant>,
    bytes: usize,
    /// The reader found the queue empty and waits: the client can take a packet right now.
    waiting: bool,
}

/// The queue, with its limits.
pub(crate) struct Queue {
    state: Mutex<State>,
    ready: Notify,
    /// One reader at a time: a second polling GET is refused, the WebSocket writer waits.
    reader: tokio::sync::Mutex<()>,
    policy: Arc<dyn SlowClientPolicy>,
}

/// A push refused: the policy says the client is too slow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

impl Queue {
    /// A queue with the default policy: at most `max_packets` and `max_bytes`.
    #[cfg(test)]
    pub(crate) fn new(max_packets: usize, max_bytes: usize) -> Queue {
        Queue::with_policy(Arc::new(crate::backpressure::Bounds {
            max_packets,
            max_bytes,
        }))
    }

    /// A queue whose pushes `policy` admits or refuses.
    pub(crate) fn with_policy(policy: Arc<dyn SlowClientPolicy>) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            reader: tokio::sync::Mutex::new(()),
            policy,
        }
    }

    /// Queues `packet`, unless the policy refuses it (the client is too slow).
    pub(crate) fn push(&self, packet: Outgoing) -> Result<(), Full> {
        let size = packet.size();
        let mut state = lock(&self.state);
        let backlog = Backlog {
            packets: state.packets.len(),
            bytes: state.bytes,
            oldest_wait: state.queued_at.front().map(Instant::elapsed),
        };
        if !self.policy.admits(&backlog, size) {
            return Err(Full);
        }
        state.bytes += size;
        state.packets.push_back(packet);
        state.queued_at.push_back(Instant::now());
        state.waiting = false;
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Queues `packet` only if the reader waits on an empty queue (the client can take it
    /// now); returns whether it was queued. At most one such packet is queued per wait.
    pub(crate) fn push_if_waiting(&self, packet: Outgoing) -> bool {
        let mut state = lock(&self.state);
        if !state.waiting || !state.packets.is_empty() {
            return false;
        }
        state.bytes += packet.size();
        state.packets.push_back(packet);
        state.queued_at.push_back(Instant::now());
        state.waiting = false;
        drop(state);
        self.ready.notify_one();
        true
    }

    /// Whether the reader waits on an empty queue: a packet pushed now goes out at once.
    pub(crate) fn is_waiting(&self) -> bool {
        let state = lock(&self.state);
        state.waiting && state.packets.is_empty()
    }

    /// Becomes the reader, waiting for the current one to finish.
    pub(crate) async fn reader(&self) -> Reader<'_> {
        Reader {
            queue: self,
            _turn: self.reader.lock().await,
        }
    }

    /// Becomes the reader if nobody is.
    pub(crate) fn try_reader(&self) -> Option<Reader<'_>> {
        let turn = self.reader.try_lock().ok()?;
        Some(Reader {
            queue: self,
            _turn: turn,
        })
    }

    /// Packets and bytes queued now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        let state = lock(&self.state);
        (state.packets.len(), state.bytes)
    }
}

/// The right to take packets from the queue, held by the transport in charge.
pub(crate) struct Reader<'a> {
    queue: &'a Queue,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Reader<'_> {
    /// The next packet, waiting for one.
    pub(crate) async fn recv(&self) -> Outgoing {
        loop {
            {
                let mut state = lock(&self.queue.state);
                if let Some(packet) = state.packets.pop_front() {
                    state.queued_at.pop_front();
                    state.bytes -= packet.size();
                    state.waiting = false;
                    return packet;
                }
                state.waiting = true;
            }
            // A push between the unlock and here stores a permit: no wake-up is lost.
            self.queue.ready.notified().await;
        }
    }

    /// The next packet if one is queued.
    pub(crate) fn try_recv(&self) -> Option<Outgoing> {
        let mut state = lock(&self.queue.state);
        let packet = state.packets.pop_front()?;
        state.queued_at.pop_front();
        state.bytes -= packet.size();
        Some(packet)
    }

    /// Gives back a packet `try_recv` returned: it comes out first next time.
    pub(crate) fn put_back(&self, packet: Outgoing) {
        let mut state = lock(&self.queue.state);
        state.bytes += packet.size();
        state.packets.push_front(packet);
        // It was taken just now: it has not waited for the client, as far as the policy goes.
        state.queued_at.push_front(Instant::now());
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // Nobody waits any more: until the next reader parks, the client cannot take a packet.
        lock(&self.queue.state).waiting = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(len: usize) -> Outgoing {
        Outgoing::text("x".repeat(len))
    }

    #[test]
    fn both_bounds_refuse_a_push_and_an_empty_queue_takes_any_packet() {
        let queue = Queue::new(3, 100);
        assert_eq!(
            queue.push(sized(200)),
            Ok(()),
            "an empty queue takes any size"
        );
        assert_eq!(queue.push(sized(1)), Err(Full), "200 + 1 bytes > 100");
        let reader = queue.try_reader().expect("no reader yet");
        assert_eq!(reader.try_recv().map(|p| p.size()), Some(200));
        for _ in 0..3 {
            assert_eq!(queue.push(sized(1)), Ok(()));
        }
        assert_eq!(queue.push(sized(1)), Err(Full), "3 packets at most");
        assert_eq!(queue.len(), (3, 3));
    }

    #[test]
    fn put_back_comes_out_first_and_counts_again() {
        let queue = Queue::new(10, 100);
        queue.push(sized(1)).unwrap();
        queue.push(sized(2)).unwrap();
        let reader = queue.try_reader().unwrap();
        let first = reader.try_recv().unwrap();
        assert_eq!(queue.len(), (1, 2));
        reader.put_back(first);
        assert_eq!(queue.len(), (2, 3));
        assert_eq!(reader.try_recv().map(|p| p.size()), Some(1));
        assert!(queue.try_reader().is_none(), "one reader at a time");
    }

    #[tokio::test]
    async fn volatile_packets_go_only_to_a_waiting_reader() {
        let queue = Queue::new(10, 100);
        assert!(!queue.push_if_waiting(sized(1)), "no reader waits");
        let reader = queue.try_reader().unwrap();
        let received = async {
            let (packet, ()) = tokio::join!(reader.recv(), async {
                // Let `recv` park on the empty queue first.
                while !queue.push_if_waiting(sized(4)) {
                    tokio::task::yield_now().await;
                }
                assert!(!queue.push_if_waiting(sized(5)), "one per wait");
            });
            packet
        };
        let packet = tokio::time::timeout(std::time::Duration::from_secs(2), received)
            .await
            .expect("the volatile packet reached the waiting reader");
        assert_eq!(packet.size(), 4);
    }
}
