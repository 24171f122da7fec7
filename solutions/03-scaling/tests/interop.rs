//! Interop: a Node socket.io 4.8 server with `@socket.io/redis-adapter` 8.3 in a cluster with
//! two Rust instances, on one real Redis.
//!
//! Our adapter claims Node's wire format; only Node itself can prove it. Each test starts a
//! Redis (the kit's), two Rust instances in process and `tests/interop/node_instance.mjs`, and
//! checks each feature of the adapter in both directions, Node to Rust and Rust to Node. The
//! clients are the official `socket.io-client` 4.8, held by the Node process. The script only
//! acts and observes; the assertions are here, with the book page that explains them.
//!
//! Behind the `interop` feature (plain `cargo test` needs no Node). `cargo xtask verify`
//! installs the npm packages into `target/interop/node-cluster/` and runs:
//! `cargo test -p solution-03-scaling --features interop --test interop`.

// The test groups, one file each, and what they stand on.
#[path = "interop/broadcasts.rs"]
mod broadcasts;
#[path = "interop/cluster.rs"]
mod cluster;
#[path = "interop/node.rs"]
mod node;
#[path = "interop/queries.rs"]
mod queries;
#[path = "interop/remote_ops.rs"]
mod remote_ops;
#[path = "interop/response_channels.rs"]
mod response_channels;

/// The chapter page every failure points to.
const PAGE: &str = "book/src/03-scaling/index.md";
