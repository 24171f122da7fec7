//! The Socket.IO side of one Engine.IO session: its sockets (one per namespace) and the
//! binary packet being assembled.
//!
//! Everything a client sends comes through here, in order: decoded, checked, then routed to
//! its namespace's socket. Invalid input closes the session ("parse error"); packets for a
//! namespace the client has not connected to are dropped (socket.io's own server closes the
//! connection instead, `client.ts` "invalid state"; its client never sends them anyway).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};

use crate::engine::session::{CloseReason, Session, SessionHandler, lock};
use crate::middleware::ConnectError;
use crate::namespace::{Namespace, connect_error};
use crate::observe::{ConnectErrorKind, SharedObserver};
use crate::protocol::binary::PartialPacket;
use crate::protocol::{Decoded, Packet, PacketType, decode};
use crate::socket::Socket;

#[derive(Default)]
struct State {
    sockets: HashMap<String, Socket>,
    partial: Option<PartialPacket>,
}

/// One client connection (an Engine.IO session) as the Socket.IO server sees it.
pub(crate) struct Client {
    session: Arc<Session>,
    namespaces: Arc<HashMap<String, Arc<Namespace>>>,
    max_attachments: usize,
    observer: SharedObserver,
    state: Mutex<State>,
}

impl Client {
    pub(crate) fn new(
        session: Arc<Session>,
        namespaces: Arc<HashMap<String, Arc<Namespace>>>,
        max_attachments: usize,
        observer: SharedObserver,
    ) -> Arc<Client> {
        Arc::new(Client {
            session,
            namespaces,
            max_attachments,
            observer,
            state: Mutex::new(State::default()),
        })
    }

    /// Closes the session if no namespace was joined within `timeout`. Spawned on the
    /// session's tracker, so that a shutdown waits for it.
    pub(crate) fn spawn_connect_timeout(
        client: Weak<Client>,
        session: Arc<Session>,
        timeout: std::time::Duration,
    ) {
        session.clone().spawn(async move {
            tokio::select! {
                _ = session.closed() => {}
                _ = tokio::time::sleep(timeout) => {
                    let idle = client.upgrade().is_none_or(|c| lock(&c.state).sockets.is_empty());
                    if idle {
                        session.close(CloseReason::ServerClose);
                    }
                }
            }
        });
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        let mut state = lock(&self.state);
        match state.sockets.get(nsp) {
            Some(socket) if socket.is_connected() => Some(socket.clone()),
            Some(_) => {
                state.sockets.remove(nsp);
                None
            }
            None => None,
        }
    }

    fn invalid(&self, why: &dyn std::fmt::Display) {
        tracing::debug!(sid = self.session.sid(), %why, "invalid socket.io packet, closing");
        self.session.close(CloseReason::ParseError);
    }

    async fn dispatch(&self, packet: Packet, bytes: usize) {
        let event = match (&packet.kind, &packet.data) {
            (
                PacketType::Event | PacketType::BinaryEvent,
                Some(serde_json::Value::Array(items)),
            ) => items.first().and_then(|name| name.as_str()),
            _ => None,
        };
        self.observer.packet_in(&packet.nsp, event, bytes);
        match packet.kind {
            PacketType::Connect => self.connect(packet).await,
            PacketType::Disconnect => {
                let socket = lock(&self.state).sockets.remove(&packet.nsp);
                if let Some(socket) = socket {
                    socket.close("client namespace disconnect");
                }
            }
            PacketType::Event | PacketType::BinaryEvent => match self.socket(&packet.nsp) {
                Some(socket) => socket.on_event(packet).await,
                None => tracing::debug!(nsp = packet.nsp, "event before CONNECT, dropped"),
            },
            PacketType::Ack | PacketType::BinaryAck => {
                if let Some(socket) = self.socket(&packet.nsp) {
                    socket.on_ack(packet);
                }
            }
            PacketType::ConnectError => self.invalid(&"CONNECT_ERROR is sent by servers only"),
        }
    }

    async fn connect(&self, packet: Packet) {
        // A second CONNECT to a namespace is ignored: the middlewares must not run twice, and
        // the first socket stays as it is.
        if self.socket(&packet.nsp).is_some() {
            tracing::debug!(nsp = packet.nsp, "second CONNECT ignored");
            return;
        }
        let Some(ns) = self.namespaces.get(&packet.nsp).cloned() else {
            let error = ConnectError::new("Invalid namespace");
            self.observer.connect_error(
                &packet.nsp,
                ConnectErrorKind::InvalidNamespace,
                &error.message,
            );
            self.session
                .send(Socket::frame(&connect_error(&packet.nsp, &error)));
            return;
        };
        let Ok(socket) = ns.connect(&self.session, packet.data).await else {
            return;
        };
        lock(&self.state).sockets.insert(packet.nsp, socket.clone());
        ns.on_connect(socket);
    }
}

impl Client {
    async fn message(&self, text: &str) {
        if lock(&self.state).partial.is_some() {
            return self.invalid(&"text packet while waiting for binary attachments");
        }
        match decode(text, self.max_attachments) {
            Ok(Decoded::Packet(packet)) => self.dispatch(packet, text.len()).await,
            Ok(Decoded::Partial(partial)) => lock(&self.state).partial = Some(partial),
            Err(error) => self.invalid(&error),
        }
    }

    async fn binary(&self, data: Bytes) {
        let done = {
            let mut state = lock(&self.state);
            let Some(partial) = state.partial.as_mut() else {
                drop(state);
                return self.invalid(&"binary frame nobody announced");
            };
            let done = partial.push(data);
            if done.is_some() {
                state.partial = None;
            }
            done
        };
        match done {
            None => {}
            Some(Ok(packet)) => {
                let bytes = packet.attachments.iter().map(Bytes::len).sum();
                self.dispatch(packet, bytes).await
            }
            Some(Err(error)) => self.invalid(&error),
        }
    }
}

impl SessionHandler for Client {
    fn on_message<'a>(&'a self, text: &'a str) -> BoxFuture<'a, ()> {
        self.message(text).boxed()
    }

    fn on_binary(&self, data: Bytes) -> BoxFuture<'_, ()> {
        self.binary(data).boxed()
    }

    fn on_close(&self, reason: CloseReason) {
        let sockets: Vec<Socket> = lock(&self.state).sockets.drain().map(|(_, s)| s).collect();
        for socket in sockets {
            socket.close(reason.as_str());
        }
    }
}
