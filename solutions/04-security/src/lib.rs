//! Chapter 4 of *Real-time Web in Rust*: securing and watching the chat cluster.
//!
//! Each layer plugs into one of chapter 2's doors, one concept per module:
//! - [`claims`], [`jwt`], [`revocation`], [`auth`]: who connects (a connect middleware).
//! - [`origin`], [`gate`]: which pages and how many handshakes (`allow_request`).
//! - [`bucket`], [`flood`]: how many events per user, shared by the cluster (an event hook).
//! - [`connections`]: how many sockets per user and per address, shared by the cluster.
//! - [`chat`]: the chat contract with room names and message sizes checked.
//! - [`metrics`], [`histogram`]: `/metrics` in Prometheus' format (an observer).
//! - [`tls`]: `https://` and `wss://` with rustls.
//! - [`logs`]: text or JSON log lines, with each socket's span.
//! - [`app`]: the server with every layer, `/healthz` and `/readyz`.

pub mod app;
pub mod auth;
pub mod bucket;
pub mod chat;
pub mod claims;
pub mod connections;
pub mod flood;
pub mod gate;
pub mod histogram;
pub mod jwt;
pub mod logs;
pub mod metrics;
pub mod origin;
pub mod revocation;
pub mod tls;

pub use app::{Extend, Server, Settings, start};
pub use claims::{Claims, Role};

/// A random id: for a token's `jti`.
pub fn random_id() -> String {
    scaling::requests::random_id()
}
