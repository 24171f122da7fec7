//! LAB (chapter 2): the course's Socket.IO server with the learner's steps left as `todo!`.
//! `cargo test -p lab-02-socketio step1_` checks step 1, and so on; steps.toml lists them.
//!
//! A Socket.IO v5 server (Engine.IO v4, WebSocket and HTTP long-polling) for axum, built
//! from the wire up for chapter 2 of *Real-time Web in Rust*.
//!
//! One concept per module:
//! - [`engine`]: Engine.IO sessions, transports, heartbeat, upgrade.
//! - [`protocol`]: Socket.IO packets, their codec, binary attachments.
//! - [`namespace`], [`socket`], [`rooms`], [`adapter`], [`broadcast`], [`ack`]: the server model.
//! - [`middleware`]: connect middlewares (chapter 4 adds authentication with one).
//! - [`hooks`]: event hooks (`socket.use`) and `allow_request`, where chapter 4's limits go.
//! - [`observe`]: observer hooks, from which chapter 4 builds its metrics.
//! - [`session_store`]: the door for connection state recovery (chapter 5).
//! - [`backpressure`]: the door deciding when a client is too slow to keep (chapter 5).
//! - [`config`], [`server`]: settings and the axum integration ([`SocketIo::builder`]).
//! - [`chat`], [`demo`]: the course's chat contract and its demo page.
//!
//! Later chapters extend it through these doors: an [`Adapter`] (chapter 3, Redis, modelled on
//! socket.io-adapter), [`ConnectMiddleware`]s, [`EventHook`]s, [`AllowRequest`] and an
//! [`Observer`] (chapter 4), and a [`SessionStore`] (chapter 5).

// While steps are `todo!`, the helpers they will use look unused to the compiler.
#![allow(unused_imports, unused_variables, dead_code, unreachable_code)]

pub mod ack;
pub mod adapter;
pub mod backpressure;
pub mod broadcast;
pub mod chat;
mod client;
pub mod config;
pub mod demo;
pub mod engine;
pub mod hooks;
mod live_session;
pub mod middleware;
pub mod namespace;
pub mod observe;
pub mod protocol;
mod replayed;
pub mod rooms;
pub mod server;
pub mod session_store;
pub mod socket;

pub use ack::{AckCollector, AckError, AckEvent, AckResponse, AckSender};
pub use adapter::{
    Adapter, AdapterContext, AdapterError, AdapterFuture, BroadcastFlags, BroadcastOptions,
    LocalAdapter, LocalSockets,
};
pub use backpressure::{Backlog, Bounds, SlowClientPolicy};
pub use broadcast::{BroadcastOperator, EncodedPacket};
pub use config::Config;
pub use hooks::{AllowRequest, EventHook, Refusal, RequestInfo, Verdict};
pub use middleware::{ConnectError, ConnectMiddleware, ConnectRequest, MiddlewareFuture};
pub use namespace::{Namespace, NamespaceConfig, ServerAck};
pub use observe::{ConnectErrorKind, NoObserver, Observer};
pub use server::{SocketIo, SocketIoBuilder};
pub use session_store::{RestoredSession, SavedSession, SessionStore, StoreError, StoreFuture};
pub use socket::{Event, HandshakeInfo, Socket, SocketInfo};
