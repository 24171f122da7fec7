//! Engine.IO v4: sessions over HTTP long-polling and WebSocket, heartbeat, upgrade.
//!
//! One route serves it all (`/socket.io/`): `GET` without `sid` opens a session, `GET`/`POST`
//! with `sid` are polling, and `transport=websocket` upgrades the request to a WebSocket (a new
//! session, or the upgrade of a polling one). The layer above (Socket.IO) sees only
//! [`session::SessionHandler`] calls: messages, binary frames, the end.

pub mod heartbeat;
pub mod packet;
pub mod polling;
mod queue;
pub mod session;
pub mod websocket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, ws::WebSocketUpgrade};
use axum::http::{Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use rand::distr::{Alphanumeric, SampleString};
use tokio_util::task::TaskTracker;

use crate::backpressure::{Bounds, SlowClientPolicy};
use crate::config::Config;
use crate::hooks::{AllowRequest, Refusal, RequestInfo};
use crate::observe::{NoObserver, SharedObserver};
use packet::OpenPacket;
use queue::Queue;
use session::{CloseReason, Handshake, Session, SessionHandler, Transport, lock};

/// Creates the layer above for each new session (the Socket.IO server implements it).
pub trait EngineHandler: Send + Sync + 'static {
    /// A session was opened; returns what handles its messages.
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler>;
}

/// What decides and hears about sessions before the layer above does.
#[derive(Clone)]
pub struct EngineHooks {
    /// Runs on every handshake and upgrade request, before anything is allocated.
    pub allow_request: Option<Arc<dyn AllowRequest>>,
    pub observer: SharedObserver,
    /// Decides when a client is too slow to keep; `None`: the config's [`Bounds`].
    pub slow_clients: Option<Arc<dyn SlowClientPolicy>>,
}

impl Default for EngineHooks {
    fn default() -> Self {
        EngineHooks {
            allow_request: None,
            observer: Arc::new(NoObserver),
            slow_clients: None,
        }
    }
}

/// The Engine.IO server: the sessions alive on this instance.
pub struct Engine {
    pub(crate) config: Config,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    handler: Arc<dyn EngineHandler>,
    hooks: EngineHooks,
    /// Every task of every session (WebSocket, polling requests, heartbeat, timers).
    tasks: TaskTracker,
    /// Set by [`Engine::shutdown`]: new sessions and upgrades are refused.
    stopping: AtomicBool,
}

/// What [`Engine::shutdown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Sessions closed with "server shutting down".
    pub closed_sessions: usize,
    /// Session tasks still running when the deadline passed (0: everything ended in time).
    pub tasks_left: usize,
}

/// Engine.IO's error answers: `{"code":N,"message":"..."}` with status 400.
pub(crate) fn error(code: u8, message: &str) -> Response {
    error_with_status(StatusCode::BAD_REQUEST, code, message)
}

/// An Engine.IO error body with another status (403 for a refused request, as engine.io's
/// `allowRequest`; 503 when the server is full).
pub(crate) fn error_with_status(status: StatusCode, code: u8, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Engine.IO's code for a refused request ("Forbidden").
const FORBIDDEN: u8 = 4;

/// The answer to a handshake or an upgrade during a shutdown: 503, so that a client (or a load
/// balancer) tries again elsewhere, with Engine.IO's error body. Code 3 is the protocol's generic
/// "Bad request"; the message says why.
fn shutting_down() -> Response {
    let body = serde_json::json!({ "code": 3, "message": "Server shutting down" }).to_string();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

impl Engine {
    pub fn new(config: Config, handler: Arc<dyn EngineHandler>) -> Arc<Engine> {
        Engine::with_hooks(config, handler, EngineHooks::default())
    }

    /// An engine whose requests go through `hooks.allow_request` and whose sessions are
    /// reported to `hooks.observer`.
    pub fn with_hooks(
        config: Config,
        handler: Arc<dyn EngineHandler>,
        hooks: EngineHooks,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            config,
            sessions: Mutex::new(HashMap::new()),
            handler,
            hooks,
            tasks: TaskTracker::new(),
            stopping: AtomicBool::new(false),
        })
    }

    /// The refusal of a request that would open or upgrade a session, if it is refused: the
    /// session cap first (it costs nothing), then the application's `allow_request`.
    async fn gate(
        &self,
        parts: &Parts,
        query: &HashMap<String, String>,
        upgrade: bool,
    ) -> Option<Response> {
        let refusal = if !upgrade && self.session_count() >= self.config.max_sessions {
            Some(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "Too many sessions".to_owned(),
            })
        } else if let Some(allow) = &self.hooks.allow_request {
            let request = RequestInfo {
                method: parts.method.clone(),
                url: parts.uri.to_string(),
                headers: parts.headers.clone(),
                query: query.clone(),
                address: peer(parts),
                transport: query.get("transport").cloned().unwrap_or_default(),
                upgrade,
            };
            allow.allow(&request).await.err()
        } else {
            None
        };
        let refusal = refusal?;
        self.hooks
            .observer
            .request_refused(refusal.status.as_u16(), &refusal.message);
        Some(error_with_status(
            refusal.status,
            FORBIDDEN,
            &refusal.message,
        ))
    }

    /// Stops this engine: refuses new sessions and upgrades (503), closes every session with
    /// "server shutting down" (WebSockets get what was queued, then a close frame; a pending
    /// polling GET gets `1`), and waits until every session task has ended, at most `deadline`.
    /// Call it before axum's graceful shutdown, which then finishes the HTTP answers.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        self.stopping.store(true, Ordering::SeqCst);
        // A session opened concurrently sees `stopping` after registering itself (`open`), so
        // it is either in this list or closes itself.
        let sessions: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        for session in &sessions {
            session.close(CloseReason::ServerShutdown);
        }
        self.tasks.close();
        let _ = tokio::time::timeout(deadline, self.tasks.wait()).await;
        ShutdownReport {
            closed_sessions: sessions.len(),
            tasks_left: self.tasks.len(),
        }
    }

    /// Whether [`Engine::shutdown`] has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    fn get(&self, sid: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(sid).cloned()
    }

    /// Opens a session: registers it, starts the heartbeat, hands it to the layer above.
    /// Returns the session and the open packet to send first.
    pub(crate) fn open(
        self: &Arc<Self>,
        transport: Transport,
        handshake: Handshake,
    ) -> (Arc<Session>, String) {
        let sid = Alphanumeric.sample_string(&mut rand::rng(), 20);
        let policy = self.hooks.slow_clients.clone().unwrap_or_else(|| {
            Arc::new(Bounds {
                max_packets: self.config.max_buffered_packets,
                max_bytes: self.config.max_buffered_bytes,
            })
        });
        let queue = Queue::with_policy(policy);
        let session = Arc::new(Session::new(
            sid.clone(),
            transport,
            handshake,
            queue,
            self.tasks.clone(),
        ));
        let opened = tokio::time::Instant::now();
        lock(&self.sessions).insert(sid.clone(), session.clone());
        self.hooks.observer.session_opened(&sid, transport);
        let engine = Arc::downgrade(self);
        let removed_sid = sid.clone();
        session.set_on_removed(Box::new(move |reason| {
            if let Some(engine) = engine.upgrade() {
                lock(&engine.sessions).remove(&removed_sid);
                engine.hooks.observer.session_closed(&removed_sid, reason);
            }
        }));
        let upgrades = match transport {
            Transport::Polling => vec!["websocket".to_owned()],
            _ => Vec::new(),
        };
        let open = OpenPacket {
            sid,
            upgrades,
            ping_interval: self.config.ping_interval.as_millis() as u64,
            ping_timeout: self.config.ping_timeout.as_millis() as u64,
            max_payload: self.config.max_payload,
        }
        .encode();
        session.set_handler(self.handler.on_open(&session));
        heartbeat::spawn(
            session.clone(),
            opened,
            self.config.ping_interval,
            self.config.ping_timeout,
        );
        if self.is_stopping() {
            session.close(CloseReason::ServerShutdown);
        }
        (session, open)
    }

    /// Handles one request to the Engine.IO path.
    pub async fn handle(self: Arc<Self>, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        let query: HashMap<String, String> =
            parts.uri.query().map(url_decode_pairs).unwrap_or_default();
        if query.get("EIO").map(String::as_str) != Some("4") {
            return error(5, "Unsupported protocol version");
        }
        let sid = query.get("sid").cloned();
        let transport = query.get("transport").map(String::as_str);
        // During a shutdown, nothing new starts: no session, no upgrade. Requests of existing
        // sessions go on (a GET collects its `1`).
        if self.is_stopping() && (sid.is_none() || transport == Some("websocket")) {
            return shutting_down();
        }
        let opens = sid.is_none() && parts.method == Method::GET;
        let upgrades =
            sid.is_some() && query.get("transport").map(String::as_str) == Some("websocket");
        if (opens || upgrades)
            && let Some(refused) = self.gate(&parts, &query, upgrades).await
        {
            return refused;
        }
        match transport {
            Some("websocket") => {
                let existing = match &sid {
                    Some(sid) => match self.get(sid) {
                        Some(session) => Some(session),
                        None => return error(1, "Session ID unknown"),
                    },
                    None => None,
                };
                let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                    Ok(ws) => ws,
                    Err(rejection) => return rejection.into_response(),
                };
                // Claimed now, before the 101 answer, so a second WebSocket for the same
                // session (while this one probes, or after the upgrade) is turned away.
                let existing = match existing {
                    None => websocket::Attach::New,
                    Some(session) => match websocket::UpgradeClaim::take(session) {
                        Some(claim) => websocket::Attach::Upgrade(claim),
                        None => websocket::Attach::Refused,
                    },
                };
                let handshake = handshake(&parts, query);
                let max = self.config.max_payload;
                // Taken now, so that a shutdown waits for a WebSocket whose upgrade is under way.
                let task = self.tasks.token();
                ws.max_message_size(max)
                    .max_frame_size(max)
                    .read_buffer_size(self.config.websocket_read_buffer)
                    .on_upgrade(move |socket| async move {
                        websocket::run(self, socket, existing, handshake).await;
                        drop(task);
                    })
            }
            Some("polling") => match (sid, parts.method.clone()) {
                (None, Method::GET) => {
                    let handshake = handshake(&parts, query);
                    let (_session, open) = self.open(Transport::Polling, handshake);
                    polling::text_response(open)
                }
                (Some(sid), method) => {
                    // A shutdown waits for the polling requests in flight too.
                    let _task = self.tasks.token();
                    match self.get(&sid) {
                        None => error(1, "Session ID unknown"),
                        Some(session) if method == Method::GET => {
                            polling::get(&self.config, session).await
                        }
                        Some(session) if method == Method::POST => {
                            polling::post(&self.config, session, Body::new(body)).await
                        }
                        Some(_) => error(2, "Bad handshake method"),
                    }
                }
                (None, _) => error(2, "Bad handshake method"),
            },
            _ => error(0, "Transport unknown"),
        }
    }
}

/// The peer of a request served with `ConnectInfo<SocketAddr>`.
fn peer(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// What a new session keeps of the request that opened it.
fn handshake(parts: &Parts, query: HashMap<String, String>) -> Handshake {
    Handshake {
        headers: session::owned_headers(&parts.headers),
        query,
        address: peer(parts),
        issued: SystemTime::now(),
        url: parts.uri.to_string(),
        secure: parts.uri.scheme_str() == Some("https"),
    }
}

/// Parses `a=1&b=%2F` leniently: a bad escape keeps its raw text.
fn url_decode_pairs(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Routes one decoded text packet of a session (either transport).
pub(crate) async fn dispatch_text(
    session: &Arc<Session>,
    text: &str,
) -> Result<(), packet::PacketError> {
    use packet::Incoming;
    match packet::decode(text)? {
        Incoming::Message(message) => {
            if let Some(handler) = session.handler() {
                guarded(session, handler.on_message(message)).await;
            }
        }
        Incoming::Pong => session.pong.notify_one(),
        Incoming::Close => session.close(CloseReason::TransportClose),
        Incoming::Noop => {}
        // Only meaningful on a probing WebSocket, which handles them itself.
        Incoming::PingProbe => return Err(packet::PacketError::OutOfPlace("2probe")),
        Incoming::Upgrade => return Err(packet::PacketError::OutOfPlace("5")),
    }
    Ok(())
}

/// Runs the layer above's code; a panic there (an application bug, or the lab's `todo!`)
/// closes this session instead of killing the transport task and leaving the client hanging.
pub(crate) async fn guarded(session: &Session, work: impl std::future::Future<Output = ()>) {
    if std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .is_err()
    {
        session.close(session::CloseReason::ServerClose);
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn query_values_are_percent_decoded_without_panicking() {
        assert_eq!(percent_decode("%2Fa+b"), "/a b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%e"), "%e");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
