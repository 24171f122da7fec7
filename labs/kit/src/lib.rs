//! The course kit: what every lab's tests (and the labs themselves) stand on.
//!
//! One concept per module:
//! - `redis` (feature `redis`, on by default): a real Redis server for a test:
//!   `REDIS_URL`, else a testcontainers container, else a `redis-server` on `PATH`.
//! - [`server`]: start a server on port 0 and know when it is ready.
//! - [`wait`]: timeouts that fail with a message instead of hanging.
//! - [`transcript`]: record a conversation on the wire for an insta snapshot.
//! - [`serve`]: the `--addr` command line every lab binary shares.

#[cfg(feature = "redis")]
pub mod redis;
pub mod serve;
pub mod server;
pub mod transcript;
pub mod wait;

#[cfg(feature = "redis")]
pub use redis::{RedisProvider, RedisServer, redis_for_test, start_redis};
pub use server::{ServerProcess, TestServer};
pub use transcript::Transcript;
pub use wait::{within, within_or};
