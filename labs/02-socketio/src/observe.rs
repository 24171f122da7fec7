//! Observer hooks: what a metrics exporter or a tracer needs to see, without patching the core.
//!
//! Every method has an empty default, so an observer implements only what it counts. They run
//! on the connection's task, on the hot path: keep them to a counter increment or a histogram
//! observation (chapter 4 builds its Prometheus metrics on them).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::session::{CloseReason, Transport};

/// Why a client could not connect to a namespace, as counted by `connect_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectErrorKind {
    /// The namespace does not exist.
    InvalidNamespace,
    /// A middleware refused it.
    Refused,
}

/// Hears what happens in a server. Register one with [`crate::SocketIoBuilder::observer`].
pub trait Observer: Send + Sync + 'static {
    /// An Engine.IO session opened.
    fn session_opened(&self, _sid: &str, _transport: Transport) {}
    /// An Engine.IO session closed. `SlowClient` is a client dropped for not reading.
    fn session_closed(&self, _sid: &str, _reason: CloseReason) {}
    /// A handshake or upgrade was refused before any session existed (`allow_request`, the
    /// session cap, shutdown), with the HTTP status sent.
    fn request_refused(&self, _status: u16, _message: &str) {}
    /// A Socket.IO packet arrived. `event` is the event name for EVENT packets; `bytes` is
    /// the size of its text plus attachments.
    fn packet_in(&self, _nsp: &str, _event: Option<&str>, _bytes: usize) {}
    /// A Socket.IO packet was queued for one client.
    fn packet_out(&self, _nsp: &str, _bytes: usize) {}
    /// A CONNECT was answered with CONNECT_ERROR; `message` is the error's message.
    fn connect_error(&self, _nsp: &str, _kind: ConnectErrorKind, _message: &str) {}
    /// A socket joined a namespace (`recovered`: with its previous session).
    fn socket_connected(&self, _nsp: &str, _recovered: bool) {}
    /// A socket left a namespace.
    fn socket_disconnected(&self, _nsp: &str, _reason: &str) {}
    /// An incoming event was dropped, answered or ended its socket by an event hook.
    fn event_refused(&self, _nsp: &str, _event: &str, _verdict: &str) {}
    /// A broadcast reached the local sockets: `recipients` matched, `delivered` were queued
    /// (the others were gone, too slow, or skipped a volatile packet), in `elapsed` (encoding
    /// once and queueing for every recipient: what a broadcast costs this instance).
    fn broadcast_delivered(
        &self,
        _nsp: &str,
        _recipients: usize,
        _delivered: usize,
        _elapsed: Duration,
    ) {
    }
}

/// The default: hears nothing.
pub struct NoObserver;

impl Observer for NoObserver {}

/// The observer every part of a server shares.
pub type SharedObserver = Arc<dyn Observer>;
