//! Connection state recovery kept in this process: sessions for a window, broadcasts in a
//! bounded log.
//!
//! The store sees every broadcast before it goes out (`record`) and gives it an offset, a
//! number that only grows; the core appends it as the packet's last argument, and the client
//! keeps the last one it saw. When a socket drops for a reason a client recovers from, its
//! session (id, rooms, data) is kept for `window`. The client that comes back presents its pid
//! and offset; the store gives back the session and every logged packet after that offset that
//! was meant for it. Two limits make this a window, not durability: a session expires, and the
//! log keeps only the newest `max_packets`. If the packets after a client's offset are no
//! longer all there, the store refuses the recovery rather than replay with a hole: the client
//! starts a fresh session and knows it (`socket.recovered` is false).
//!
//! One process only: a client that reconnects to another instance finds nothing here. That is
//! what [`crate::redis_store`] is for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use socketio::protocol::Packet;
use socketio::{BroadcastOptions, RestoredSession, SavedSession, SessionStore, StoreFuture};
use tokio::time::Instant;

use crate::missed::was_meant_for;
use crate::slow_clients::keeps_session;

/// A recorded broadcast.
#[derive(Clone)]
struct Recorded {
    offset: u64,
    packet: Packet,
    options: BroadcastOptions,
}

/// Everything the store holds, behind one lock.
#[derive(Default)]
struct Log {
    /// The offset the last recorded packet got; 0 before the first.
    last: u64,
    /// The newest packets, oldest first, offsets increasing.
    packets: VecDeque<Recorded>,
    /// The highest offset dropped from the front of `packets`; 0 if none ever was.
    dropped_up_to: u64,
    /// Saved sessions by pid, with when they expire.
    sessions: HashMap<String, (SavedSession, Instant)>,
}

/// Sessions and the broadcast log, in memory.
#[derive(Clone)]
pub struct MemoryStore {
    log: Arc<Mutex<Log>>,
    window: Duration,
    max_packets: usize,
}

impl MemoryStore {
    /// Sessions kept for `window` (socket.io: `maxDisconnectionDuration`, 2 minutes); the
    /// newest `max_packets` broadcasts kept for replay.
    pub fn new(window: Duration, max_packets: usize) -> MemoryStore {
        MemoryStore {
            log: Arc::default(),
            window,
            max_packets: max_packets.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Packets recorded since the store was made (the last offset given).
    pub fn recorded(&self) -> u64 {
        self.lock().last
    }

    /// Packets in the log now (for tests and metrics).
    pub fn logged(&self) -> usize {
        self.lock().packets.len()
    }

    /// Sessions waiting for their client now, expired ones excluded.
    pub fn sessions(&self) -> usize {
        let now = Instant::now();
        let log = self.lock();
        log.sessions
            .values()
            .filter(|(_, until)| *until > now)
            .count()
    }

    fn record_now(&self, packet: &Packet, options: &BroadcastOptions) -> String {
        let mut log = self.lock();
        // ANCHOR: memory_record
        // Step 2: give the packet the next offset, log it, keep at most max_packets.
        // Offsets only grow (1, 2, 3...), sent as text as the packet's last argument. The log is
        // bounded: drop the oldest beyond `max_packets`, and remember the newest offset dropped.
        todo!(
            "step 2: give the packet the next offset, log it, keep at most max_packets (book: 05-production/recovery.md)"
        )
        // ANCHOR_END: memory_record
    }

    fn restore_now(
        &self,
        namespace: &str,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<RestoredSession> {
        let mut log = self.lock();
        let now = Instant::now();
        log.sessions.retain(|_, (_, until)| *until > now);
        // ANCHOR: memory_restore
        // Step 2: give back the session of `pid` and the packets it missed after its offset.
        // Only a session of this namespace is restored, and only once. The client's offset (or,
        // without one, the offset at which the socket started) must not be older than what the log dropped:
        // otherwise the replay would have a hole, and the client gets a fresh session instead.
        todo!(
            "step 2: give back the session of {pid} and the packets it missed after its offset (book: 05-production/recovery.md)"
        )
        // ANCHOR_END: memory_restore
    }
}

/// The packet as it went out: its offset appended as the last argument.
pub(crate) fn with_offset(packet: &Packet, offset: impl ToString) -> Packet {
    let mut packet = packet.clone();
    if let Some(Value::Array(items)) = packet.data.as_mut() {
        items.push(Value::String(offset.to_string()));
    }
    packet
}

impl SessionStore for MemoryStore {
    fn save(&self, session: SavedSession) -> StoreFuture<'_, ()> {
        let until = Instant::now() + self.window;
        self.lock()
            .sessions
            .insert(session.pid.clone(), (session, until));
        Box::pin(std::future::ready(Ok(())))
    }

    fn restore<'a>(
        &'a self,
        namespace: &'a str,
        pid: &'a str,
        offset: Option<&'a str>,
    ) -> StoreFuture<'a, Option<RestoredSession>> {
        Box::pin(std::future::ready(Ok(
            self.restore_now(namespace, pid, offset)
        )))
    }

    fn record<'a>(
        &'a self,
        packet: &'a Packet,
        options: &'a BroadcastOptions,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(std::future::ready(Ok(Some(
            self.record_now(packet, options),
        ))))
    }

    fn watermark(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(std::future::ready(Ok(Some(self.lock().last.to_string()))))
    }

    fn keeps(&self, reason: &str) -> bool {
        keeps_session(reason)
    }
}
