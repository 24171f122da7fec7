//! One Engine.IO session: its id, its outgoing queue, its transport and how it ends.
//!
//! Whatever the transport (polling requests or one WebSocket), a session has one queue of
//! [`Outgoing`] packets (see `queue.rs`). The transport currently in charge reads it (a polling
//! GET, or the WebSocket writer); everything else only pushes. Closing is idempotent and runs the
//! layer above's `on_close` exactly once. The session's tasks (heartbeat, the layer above's
//! timers) are spawned on the engine's tracker, so a shutdown can wait for them.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::packet::Outgoing;
use super::queue::{Queue, Reader};

/// The transport a session uses right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling: GET receives, POST sends.
    Polling,
    /// Polling still works while a WebSocket probes (`2probe`/`3probe`) before `5`.
    Upgrading,
    /// One WebSocket carries everything.
    WebSocket,
}

/// Why a session ended. The text is the Socket.IO disconnect reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent `1`, or closed the WebSocket.
    TransportClose,
    /// The WebSocket failed or sent more than `max_payload`.
    TransportError,
    /// No pong within `ping_timeout`.
    PingTimeout,
    /// The client sent something that is not a valid packet.
    ParseError,
    /// The server closed it (the last namespace disconnected, the connect timeout).
    ServerClose,
    /// The client does not read fast enough: its queue is full (packets or bytes).
    SlowClient,
    /// The server is shutting down ([`crate::SocketIo::shutdown`]). The client reconnects, to
    /// another instance or to this one restarted: socket.io treats it as recoverable.
    ServerShutdown,
}

impl CloseReason {
    /// The reason as Socket.IO names it (`socket.on("disconnect", reason => ...)`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ServerClose => "forced server close",
            CloseReason::SlowClient => "transport buffer full",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

/// What the Engine.IO request that opened the session carried, for connect middlewares and
/// for other servers (`fetch_sockets`).
#[derive(Debug, Clone)]
pub struct Handshake {
    pub headers: HeaderMap,
    pub query: HashMap<String, String>,
    /// The peer, when the server is served with `ConnectInfo<SocketAddr>`.
    pub address: Option<SocketAddr>,
    /// When the session was opened.
    pub issued: SystemTime,
    /// The path and query of the request.
    pub url: String,
    /// Whether it came over TLS.
    pub secure: bool,
}

impl Default for Handshake {
    fn default() -> Self {
        Handshake {
            headers: HeaderMap::new(),
            query: HashMap::new(),
            address: None,
            issued: UNIX_EPOCH,
            url: String::new(),
            secure: false,
        }
    }
}

impl Handshake {
    /// `issued` in milliseconds since the Unix epoch.
    pub fn issued_millis(&self) -> u64 {
        self.issued
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// `issued` as JavaScript's `Date.prototype.toString` writes it in UTC, the form Node puts
    /// in `handshake.time`: `Tue Dec 01 2026 21:55:17 GMT+0000 (Coordinated Universal Time)`.
    pub fn time(&self) -> String {
        let secs = self.issued_millis() / 1000;
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {} {day:02} {year} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
            WEEKDAYS[(days % 7) as usize],
            MONTHS[(month - 1) as usize],
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        )
    }
}

/// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A copy of `headers` that owns its bytes. hyper parses header values without copying them:
/// each one is a slice of the connection's read buffer (16 KiB), so keeping the request's own
/// `HeaderMap` for the session's lifetime would keep that whole buffer alive per connection.
pub fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let mut owned = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        owned.append(name.clone(), copy);
    }
    owned
}

/// The layer above a session (Socket.IO), told about every message and the end.
///
/// Messages are handled one at a time: the transport awaits each before reading the next, so
/// the layer above may await (an async middleware, an event hook) and order is kept.
pub trait SessionHandler: Send + Sync + 'static {
    /// A `4` packet's text, without the `4`.
    fn on_message<'a>(&'a self, text: &'a str) -> BoxFuture<'a, ()>;
    /// A binary frame (a Socket.IO attachment).
    fn on_binary(&self, data: Bytes) -> BoxFuture<'_, ()>;
    /// The session ended; called once.
    fn on_close(&self, reason: CloseReason);
}

/// Run once when a session ends: the engine forgets it and tells the observer.
pub(crate) type OnRemoved = Box<dyn FnOnce(CloseReason) + Send>;

/// One Engine.IO session. Shared by its transports, its heartbeat and the sockets above it.
pub struct Session {
    sid: String,
    handshake: Handshake,
    queue: Queue,
    tasks: TaskTracker,
    closed: CancellationToken,
    reason: OnceLock<CloseReason>,
    transport: Mutex<Transport>,
    pub(crate) pong: Notify,
    pub(crate) posting: AtomicBool,
    handler: Mutex<Option<Arc<dyn SessionHandler>>>,
    on_removed: Mutex<Option<OnRemoved>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("sid", &self.sid).finish()
    }
}

impl Session {
    pub(crate) fn new(
        sid: String,
        transport: Transport,
        handshake: Handshake,
        queue: Queue,
        tasks: TaskTracker,
    ) -> Session {
        Session {
            sid,
            handshake,
            queue,
            tasks,
            closed: CancellationToken::new(),
            reason: OnceLock::new(),
            transport: Mutex::new(transport),
            pong: Notify::new(),
            posting: AtomicBool::new(false),
            handler: Mutex::new(None),
            on_removed: Mutex::new(None),
        }
    }

    pub(crate) fn set_handler(&self, handler: Arc<dyn SessionHandler>) {
        *lock(&self.handler) = Some(handler);
    }

    pub(crate) fn set_on_removed(&self, f: OnRemoved) {
        *lock(&self.on_removed) = Some(f);
    }

    pub(crate) fn handler(&self) -> Option<Arc<dyn SessionHandler>> {
        lock(&self.handler).clone()
    }

    /// The Engine.IO session id (`sid` of the open packet).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Headers and query of the request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The transport in charge.
    pub fn transport(&self) -> Transport {
        *lock(&self.transport)
    }

    pub(crate) fn set_transport(&self, transport: Transport) {
        *lock(&self.transport) = transport;
    }

    /// Takes the right to upgrade: only a polling session that nobody is upgrading yet moves to
    /// `Upgrading`. False for a second WebSocket, which must leave the session alone.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut transport = lock(&self.transport);
        if *transport != Transport::Polling || self.is_closed() {
            return false;
        }
        *transport = Transport::Upgrading;
        true
    }

    /// A failed or abandoned upgrade: the session goes back to polling.
    pub(crate) fn abandon_upgrade(&self) {
        let mut transport = lock(&self.transport);
        if *transport == Transport::Upgrading {
            *transport = Transport::Polling;
        }
    }

    /// Queues a packet for the client. A client whose queue is full (`max_buffered_packets` or
    /// `max_buffered_bytes`) is too slow to keep: it is disconnected ("transport buffer full")
    /// rather than letting its queue grow without bound. Returns false if not queued.
    pub fn send(&self, packet: Outgoing) -> bool {
        if self.is_closed() {
            return false;
        }
        if self.queue.push(packet).is_err() {
            self.close(CloseReason::SlowClient);
            return false;
        }
        true
    }

    /// Queues a packet only if the client can take it now, and otherwise drops it: what a
    /// volatile emit wants (a position update that is stale by the time a slow client reads
    /// it). "Now" means the transport in charge waits on an empty queue: a polling GET is
    /// pending, or the WebSocket writer is idle. Nothing queued, a busy writer, or no GET:
    /// dropped. Never closes the session. Returns whether it was queued.
    pub fn send_volatile(&self, packet: Outgoing) -> bool {
        !self.is_closed() && self.queue.push_if_waiting(packet)
    }

    /// Whether a packet sent now would go out at once: the transport in charge waits on an
    /// empty queue (a pending polling GET, an idle WebSocket writer). What `send_volatile` asks.
    pub fn is_writable(&self) -> bool {
        !self.is_closed() && self.queue.is_waiting()
    }

    /// Becomes the queue's reader (the WebSocket writer), waiting for a polling GET to end.
    pub(crate) async fn reader(&self) -> Reader<'_> {
        self.queue.reader().await
    }

    /// Becomes the queue's reader unless another transport request is (a second polling GET).
    pub(crate) fn try_reader(&self) -> Option<Reader<'_>> {
        self.queue.try_reader()
    }

    /// Runs `task` for this session on the engine's tracker, so that
    /// [`Engine::shutdown`](super::Engine::shutdown) waits for it. The task should end when the
    /// session closes (`session.closed()`).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Ends the session (idempotent): transports stop, the layer above hears `on_close`.
    pub fn close(&self, reason: CloseReason) {
        if self.reason.set(reason).is_err() {
            return;
        }
        tracing::debug!(sid = %self.sid, reason = reason.as_str(), "engine.io session closed");
        self.closed.cancel();
        if let Some(removed) = lock(&self.on_removed).take() {
            removed(reason);
        }
        // Taking the handler breaks the session <-> socket reference cycle.
        let handler = lock(&self.handler).take();
        if let Some(handler) = handler {
            handler.on_close(reason);
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        // The reason is set first thing in `close`; reading it is one atomic load, where the
        // token's `is_cancelled` takes a lock (every push asks).
        self.reason.get().is_some()
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    /// Resolves when the session ends.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }
}

/// Locks a std mutex, recovering from poisoning: a panicking handler must not wedge a session.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(max_packets: usize, max_bytes: usize) -> Session {
        let queue = Queue::new(max_packets, max_bytes);
        let handshake = Handshake::default();
        Session::new(
            "s".into(),
            Transport::WebSocket,
            handshake,
            queue,
            TaskTracker::new(),
        )
    }

    #[test]
    fn owned_headers_do_not_share_the_request_buffer() {
        let buffer = Bytes::from(b"GET / HTTP/1.1\r\nx-a: 1\r\n".to_vec());
        let mut headers = HeaderMap::new();
        let shared = HeaderValue::from_maybe_shared(buffer.slice(21..22)).unwrap();
        headers.append("x-a", shared);
        let owned = owned_headers(&headers);
        assert_eq!(owned.get("x-a").unwrap(), "1");
        let (a, b) = (headers["x-a"].as_bytes(), owned["x-a"].as_bytes());
        assert_ne!(a.as_ptr(), b.as_ptr(), "the value was copied");
    }

    #[test]
    fn a_full_queue_closes_the_session() {
        let session = session(2, 1 << 20);
        assert!(session.send(Outgoing::ping()));
        assert!(session.send(Outgoing::ping()));
        assert!(!session.send(Outgoing::ping()));
        assert_eq!(session.close_reason(), Some(CloseReason::SlowClient));
        // Already closed: nothing more is queued.
        assert!(!session.send(Outgoing::ping()));
    }

    #[test]
    fn too_many_queued_bytes_close_the_session() {
        let session = session(1024, 10);
        assert!(session.send(Outgoing::text("4123456789")));
        assert!(!session.send(Outgoing::text("4a")));
        assert_eq!(session.close_reason(), Some(CloseReason::SlowClient));
    }

    #[test]
    fn a_volatile_packet_nobody_waits_for_is_dropped_and_the_session_lives() {
        let session = session(1, 1 << 20);
        assert!(!session.send_volatile(Outgoing::ping()));
        assert!(session.send(Outgoing::ping()));
        assert!(
            !session.send_volatile(Outgoing::ping()),
            "the queue is full"
        );
        assert_eq!(session.close_reason(), None);
    }
}
