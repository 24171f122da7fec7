//! Chapter 3 of *Real-time Web in Rust*: scaling Socket.IO out with Redis Pub/Sub.
//!
//! [`RedisAdapter`] plugs into chapter 2's [`socketio::Adapter`] door and speaks the wire
//! protocol of Node's `@socket.io/redis-adapter` 8.3 (the classic adapter, not the sharded one),
//! so Rust and Node instances can share one Redis. One concept per module:
//! - [`channels`]: the names of the Redis channels.
//! - [`wire`]: the msgpack and JSON messages on them.
//! - [`requests`]: the queries waiting for other servers' answers.
//! - [`replies`]: which response channel this instance answers on.
//! - [`reconnect`]: the subscriber's reconnect loop and the counters of what was ignored.
//! - [`adapter`]: the adapter itself.
//! - [`demo`]: the chat server of chapter 2 with an instance id, for a cluster you can run.

pub mod adapter;
pub mod channels;
pub mod demo;
pub mod reconnect;
pub mod replies;
pub mod requests;
pub mod wire;

pub use adapter::{RedisAdapter, RedisAdapterConfig};
pub use reconnect::Stats;
