//! Hooks that decide before the application does: on every incoming event (socket.io's
//! `socket.use`), and on every Engine.IO handshake or upgrade request (engine.io's
//! `allowRequest`).
//!
//! An [`EventHook`] runs before the event's handler and answers with a [`Verdict`]: let the
//! event through, drop it, answer the client with an event of its own, or disconnect the
//! socket. Hooks run in order, on the connection's task, and may await (chapter 4 checks a
//! token bucket kept in Redis); the next packet of that connection waits, so order is kept.
//!
//! An [`AllowRequest`] hook sees the HTTP request that would open a session (or upgrade one)
//! before anything is allocated for it: the place for `Origin` and per-IP checks.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, StatusCode};
use futures_util::future::{BoxFuture, FutureExt, ready};
use serde_json::Value;

use crate::socket::{Event, Socket};

/// What an event hook decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go on to the next hook, then the handler.
    Pass,
    /// Drop the event silently (no handler runs, no ack is sent).
    Drop,
    /// Drop the event and emit `event` with `args` to the client instead.
    Reply { event: String, args: Vec<Value> },
    /// Drop the event and disconnect the socket with this reason (the client gets `1`).
    Disconnect(String),
}

impl Verdict {
    /// A short name for counters: `pass`, `drop`, `reply`, `disconnect`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Drop => "drop",
            Verdict::Reply { .. } => "reply",
            Verdict::Disconnect(_) => "disconnect",
        }
    }
}

/// Runs on each incoming event before its handler. Any
/// `Fn(&Socket, &Event) -> Verdict` is one; implement the trait for a hook that awaits.
pub trait EventHook: Send + Sync + 'static {
    fn check<'a>(&'a self, socket: &'a Socket, event: &'a Event) -> BoxFuture<'a, Verdict>;
}

impl<F> EventHook for F
where
    F: Fn(&Socket, &Event) -> Verdict + Send + Sync + 'static,
{
    fn check<'a>(&'a self, socket: &'a Socket, event: &'a Event) -> BoxFuture<'a, Verdict> {
        ready(self(socket, event)).boxed()
    }
}

/// The request that would open (or upgrade) an Engine.IO session.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: Method,
    /// Path and query, as received.
    pub url: String,
    pub headers: HeaderMap,
    pub query: HashMap<String, String>,
    /// The peer's address, when the server is served with `ConnectInfo<SocketAddr>`.
    pub address: Option<SocketAddr>,
    /// `websocket` or `polling`.
    pub transport: String,
    /// True for a WebSocket that upgrades an existing polling session.
    pub upgrade: bool,
}

/// A refused request: the HTTP status and the message of the Engine.IO error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    /// `403 Forbidden` with this message (engine.io answers a failed `allowRequest` so).
    pub fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

/// Decides whether a handshake or upgrade may go on. Any
/// `Fn(&RequestInfo) -> Result<(), Refusal>` is one; implement the trait to await.
pub trait AllowRequest: Send + Sync + 'static {
    fn allow<'a>(&'a self, request: &'a RequestInfo) -> BoxFuture<'a, Result<(), Refusal>>;
}

impl<F> AllowRequest for F
where
    F: Fn(&RequestInfo) -> Result<(), Refusal> + Send + Sync + 'static,
{
    fn allow<'a>(&'a self, request: &'a RequestInfo) -> BoxFuture<'a, Result<(), Refusal>> {
        ready(self(request)).boxed()
    }
}
