//! The door for slow clients: what a client's outgoing queue may hold before the client is
//! too slow to keep.
//!
//! Every packet for a client is pushed on its bounded queue (`engine/queue.rs`); the transport
//! in charge pops. When a client reads slower than the server writes, the queue grows, and
//! something must give: the server's memory, the other clients (if the broadcast waited), or
//! this client. The queue asks a [`SlowClientPolicy`] on every push; a refused push
//! disconnects the client ("transport buffer full") and never blocks the sender. The default,
//! [`Bounds`], caps packets and bytes; chapter 5 also caps how long a packet may wait, which
//! drops a stalled client in seconds whatever the message rate.

use std::time::Duration;

/// What a client's queue holds when a packet is about to join it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Packets waiting.
    pub packets: usize,
    /// Their bytes (text and attachments).
    pub bytes: usize,
    /// How long the oldest of them has waited; `None` when the queue is empty.
    pub oldest_wait: Option<Duration>,
}

/// Decides whether a client keeps up.
pub trait SlowClientPolicy: Send + Sync + 'static {
    /// A packet of `size` bytes is about to be queued on `backlog`: true queues it, false
    /// disconnects the client as too slow (the packet is not queued).
    fn admits(&self, backlog: &Backlog, size: usize) -> bool;
}

/// The bounds of `Config::max_buffered_packets` and `max_buffered_bytes`. An empty queue
/// takes any packet: a client must be able to receive every packet `max_payload` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_packets: usize,
    pub max_bytes: usize,
}

impl SlowClientPolicy for Bounds {
    fn admits(&self, backlog: &Backlog, size: usize) -> bool {
        let over_bytes = backlog.packets > 0 && backlog.bytes + size > self.max_bytes;
        backlog.packets < self.max_packets.max(1) && !over_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(packets: usize, bytes: usize) -> Backlog {
        Backlog {
            packets,
            bytes,
            oldest_wait: None,
        }
    }

    #[test]
    fn bounds_cap_packets_and_bytes_but_an_empty_queue_takes_anything() {
        let bounds = Bounds {
            max_packets: 3,
            max_bytes: 100,
        };
        assert!(
            bounds.admits(&backlog(0, 0), 1_000),
            "empty queue, big packet"
        );
        assert!(
            bounds.admits(&backlog(1, 50), 50),
            "50 + 50 bytes fit in 100"
        );
        assert!(!bounds.admits(&backlog(1, 50), 51), "50 + 51 bytes > 100");
        assert!(bounds.admits(&backlog(2, 2), 1), "the third packet fits");
        assert!(!bounds.admits(&backlog(3, 3), 1), "3 packets at most");
    }
}
