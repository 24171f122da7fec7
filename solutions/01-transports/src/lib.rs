//! Chapter 1: one message feed, served four ways.
//!
//! A publisher posts messages; every subscriber receives them, whichever transport it
//! chose. Each module is one idea of the chapter:
//! - [`feed`]: the history, the ids and the broadcast every transport reads from.
//! - [`publish`]: `POST /messages`, with validation shared by the WebSocket.
//! - [`poll`]: short polling, the baseline.
//! - [`long_poll`]: the server holds the request until there is news.
//! - [`sse`]: Server-Sent Events, one response that never ends.
//! - [`websocket`]: a full-duplex connection that starts as an HTTP request.
//! - [`shutdown`]: Ctrl-C ends the open streams too.
//! - [`app`]: the router, CORS for the book, and `serve`.

pub mod app;
pub mod config;
pub mod demo;
pub mod error;
pub mod feed;
pub mod long_poll;
pub mod params;
pub mod poll;
pub mod publish;
pub mod shutdown;
pub mod sse;
pub mod websocket;

pub use app::{AppState, router, serve};
pub use config::Config;
pub use feed::{Feed, Message};
