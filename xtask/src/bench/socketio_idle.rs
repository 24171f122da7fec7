//! The idle scenario of `cargo xtask bench socketio`: what one mostly idle connection costs.
//!
//! Most connections of a real-time service are idle most of the time (a chat open in a
//! background tab), so their memory is what decides how many one server holds. A fresh server
//! (release build, child process, pinging every 2 s) gets `--idle-clients` WebSocket clients
//! that do the Engine.IO handshake and the Socket.IO CONNECT, then only answer pings for
//! `--idle-hold` seconds. The figure is (server RSS with the clients - RSS before) / clients,
//! read from `/proc/PID/status` of the server alone, so the clients' memory is not counted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::chat_load::{CONNECTS_IN_FLIGHT, Ws, next_text};
use super::child::Server;
use super::socketio::Args;
use crate::ui;

/// The server's ping interval in this scenario: several pings reach every client while held.
const PING_INTERVAL_MS: u64 = 2_000;

pub(super) struct IdleReport {
    clients: usize,
    connect_total: Duration,
    rss_before_kib: u64,
    rss_connected_kib: u64,
    rss_held_kib: u64,
    pongs: u64,
    closed_by_server: u64,
    hold: Duration,
}

/// Handshake and CONNECT to `/`; the client is then idle.
async fn connect(url: &str) -> Result<Ws> {
    // The bench's own clients keep small buffers: 10,000 of them share the machine.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
    let open = next_text(&mut ws, "the open packet").await?;
    ensure!(open.starts_with("0{"), "expected `0{{...}}`, got {open}");
    ws.send(Message::text("40")).await?;
    let connected = next_text(&mut ws, "the namespace connect `40{...}`").await?;
    ensure!(
        connected.starts_with("40{"),
        "expected `40{{\"sid\":...}}`, got {connected}"
    );
    Ok(ws)
}

pub(super) async fn measure(binary: &Path, args: &Args) -> Result<IdleReport> {
    let server = Server::start(binary, Some(PING_INTERVAL_MS)).await?;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let rss_before_kib = server.rss_kib()?;
    ui::step(&format!(
        "idle scenario: connecting {} clients that only answer pings",
        args.idle_clients
    ));
    let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let started = Instant::now();
    let mut pending = Vec::with_capacity(args.idle_clients);
    for _ in 0..args.idle_clients {
        let (gate, url) = (gate.clone(), url.clone());
        pending.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            connect(&url).await
        }));
    }
    let mut sockets = Vec::with_capacity(args.idle_clients);
    for (i, task) in pending.into_iter().enumerate() {
        sockets.push(task.await?.with_context(|| {
            format!("idle client {i} failed to connect (is the fd limit high enough?)")
        })?);
    }
    let connect_total = started.elapsed();
    let rss_connected_kib = server.rss_kib()?;

    let pongs = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let mut clients = Vec::with_capacity(sockets.len());
    for mut ws in sockets {
        let (pongs, closed, mut stopped) = (pongs.clone(), closed.clone(), stopped.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let frame = tokio::select! {
                    _ = stopped.changed() => return,
                    frame = ws.next() => frame,
                };
                match frame {
                    Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                        if ws.send(Message::text("3")).await.is_err() {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        pongs.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    // Holding is the measurement: the clients sit idle while the server pings them.
    let hold = Duration::from_secs(args.idle_hold);
    tokio::time::sleep(hold).await;
    let rss_held_kib = server.rss_kib()?;
    let _ = stop.send(true);
    for client in clients {
        client.await?;
    }
    Ok(IdleReport {
        clients: args.idle_clients,
        connect_total,
        rss_before_kib,
        rss_connected_kib,
        rss_held_kib,
        pongs: pongs.load(Ordering::Relaxed),
        closed_by_server: closed.load(Ordering::Relaxed),
        hold,
    })
}

impl IdleReport {
    /// The table rows of this scenario, appended to the main scenario's.
    pub(super) fn rows(&self) -> Vec<(String, String)> {
        let per = |kib: u64| kib.saturating_sub(self.rss_before_kib) as f64 / self.clients as f64;
        vec![
            (
                "idle load".to_owned(),
                format!(
                    "{} WebSocket clients (handshake, `40`, then only pongs; ping every {} s), \
                     held {} s",
                    self.clients,
                    PING_INTERVAL_MS / 1000,
                    self.hold.as_secs()
                ),
            ),
            (
                "idle: connect time, all clients".to_owned(),
                format!("{:.2} s", self.connect_total.as_secs_f64()),
            ),
            (
                "idle: server RSS before / connected / held".to_owned(),
                format!(
                    "{:.1} / {:.1} / {:.1} MiB",
                    self.rss_before_kib as f64 / 1024.0,
                    self.rss_connected_kib as f64 / 1024.0,
                    self.rss_held_kib as f64 / 1024.0
                ),
            ),
            (
                "idle: server RSS per connection, connected / held".to_owned(),
                format!(
                    "{:.1} / {:.1} KiB",
                    per(self.rss_connected_kib),
                    per(self.rss_held_kib)
                ),
            ),
            (
                "idle: pongs sent / connections closed by the server".to_owned(),
                format!("{} / {}", self.pongs, self.closed_by_server),
            ),
        ]
    }
}
