//! LAB (chapter 5): the chat cluster of chapters 3 and 4 with connection state recovery, a
//! slow-client policy and a graceful exit, the learner's steps left as `todo!`.
//! `cargo test -p lab-05-production step1_` checks step 1, and so on; steps.toml lists them.
//! Steps 3 and 4 need a Redis: Docker running, or REDIS_URL.
//!
//! Chapter 5 of *Real-time Web in Rust*: the chat cluster of chapters 3 and 4, made for
//! production.
//!
//! Each practice plugs into one of chapter 2's doors, one concept per module:
//! - [`missed`]: which recorded broadcasts a returning socket missed (rooms, except).
//! - [`memory_store`], [`redis_store`]: connection state recovery (a `SessionStore`) in this
//!   process, or in Redis so that a client recovers on any instance of the cluster.
//! - [`slow_clients`]: when a client reads too slowly to keep (a `SlowClientPolicy`).
//! - [`shutdown`]: leaving the cluster without losing what clients can recover.
//! - [`app`]: chapter 4's server with the store, the policy and `/readyz` saying "draining".

// While steps are `todo!`, the helpers they will use look unused to the compiler.
#![allow(
    unused_imports,
    unused_variables,
    unused_mut,
    dead_code,
    unreachable_code
)]

pub mod app;
pub mod memory_store;
pub mod missed;
pub mod redis_store;
pub mod shutdown;
pub mod slow_clients;

pub use app::{Server, Settings, StoreKind, start};
