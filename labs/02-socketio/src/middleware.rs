//! Connect middlewares: code that runs before a socket joins a namespace, and may refuse it.
//!
//! A middleware sees the CONNECT's `auth` payload and the handshake (headers, query), may store
//! data on the future socket (`request.data`, e.g. a user id from a token, chapter 4), or
//! refuse: its [`ConnectError`] reaches the client as `CONNECT_ERROR`
//! (`44{"message":"...","data":...}`), the same as socket.io's `next(new Error(...))`.
//!
//! Middlewares are asynchronous (a token may be checked against a revocation list in Redis):
//! any `Fn(&mut ConnectRequest) -> Result<(), ConnectError>` is one, and a type that needs to
//! await implements [`ConnectMiddleware`] itself. With connection state recovery, a restored
//! socket runs them too (unless configured otherwise), and what they put in `data` wins over the
//! saved data: a role taken away must not come back with the session.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::http::{Extensions, HeaderMap};
use futures_util::future::{BoxFuture, FutureExt, ready};
use serde_json::{Map, Value, json};

use crate::engine::session::Handshake;

/// What a middleware may look at and change.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The namespace being joined.
    pub namespace: String,
    /// The CONNECT packet's payload (`{}` when the client sent none).
    pub auth: Value,
    /// Headers of the Engine.IO handshake request.
    pub headers: HeaderMap,
    /// Query of the Engine.IO handshake request.
    pub query: HashMap<String, String>,
    /// The client's address, when the server is served with `ConnectInfo<SocketAddr>`.
    pub address: Option<SocketAddr>,
    /// Data the socket will carry (`socket.data()`), for middlewares to fill.
    pub data: Map<String, Value>,
    /// Typed values the socket will carry (`socket.extension::<T>()`): claims, limiter state.
    pub extensions: Extensions,
}

impl ConnectRequest {
    /// The request of a CONNECT to `namespace` on a session opened with `handshake`.
    pub fn new(namespace: &str, auth: Value, handshake: &Handshake) -> ConnectRequest {
        ConnectRequest {
            namespace: namespace.to_owned(),
            auth,
            headers: handshake.headers.clone(),
            query: handshake.query.clone(),
            address: handshake.address,
            data: Map::new(),
            extensions: Extensions::new(),
        }
    }
}

/// A refusal, sent to the client as `CONNECT_ERROR`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with this message (the client's `err.message`).
    pub fn new(message: impl Into<String>) -> ConnectError {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds details (the client's `err.data`).
    pub fn with_data(mut self, data: Value) -> ConnectError {
        self.data = Some(data);
        self
    }

    /// The payload of the CONNECT_ERROR packet.
    pub fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({ "message": self.message, "data": data }),
            None => json!({ "message": self.message }),
        }
    }
}

/// What a middleware resolves to.
pub type MiddlewareFuture<'a> = BoxFuture<'a, Result<(), ConnectError>>;

/// A connect middleware. Any `Fn(&mut ConnectRequest) -> Result<(), ConnectError>` is one.
pub trait ConnectMiddleware: Send + Sync + 'static {
    /// Accepts (`Ok`) or refuses the connection.
    fn call<'a>(&'a self, request: &'a mut ConnectRequest) -> MiddlewareFuture<'a>;
}

impl<F> ConnectMiddleware for F
where
    F: Fn(&mut ConnectRequest) -> Result<(), ConnectError> + Send + Sync + 'static,
{
    fn call<'a>(&'a self, request: &'a mut ConnectRequest) -> MiddlewareFuture<'a> {
        ready(self(request)).boxed()
    }
}
