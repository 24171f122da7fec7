//! `cargo xtask serve`: the book on 127.0.0.1 with live reload.
//!
//! Pages built with a live-reload endpoint open a WebSocket to `/__livereload`; when a
//! file under `book/`, `labs/` or `solutions/` changes (included code and snapshots live
//! there), we rebuild and send `reload`. Ctrl-C closes those sockets, so shutdown does
//! not wait on open tabs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use notify::{RecursiveMode, Watcher};
use tokio::sync::{broadcast, watch};
use tower_http::services::ServeDir;

use crate::{book, ui, workspace};

const LIVE_RELOAD: &str = "__livereload";

#[derive(Clone)]
struct Reload {
    reloads: broadcast::Sender<()>,
    shutdown: watch::Receiver<bool>,
}

pub fn run(port: u16, open: bool) -> Result<()> {
    let out = book::book_dir().join("build");
    let started = Instant::now();
    book::build(&out, Some(LIVE_RELOAD))?;
    println!("built the book in {:.1} s", started.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(out, port, open))
}

async fn serve(out: PathBuf, port: u16, open: bool) -> Result<()> {
    let (reloads, _) = broadcast::channel(16);
    let (shutdown_tx, shutdown) = watch::channel(false);
    let state = Reload {
        reloads: reloads.clone(),
        shutdown,
    };

    let app = Router::new()
        .route(&format!("/{LIVE_RELOAD}"), get(live_reload))
        .with_state(state)
        .fallback_service(ServeDir::new(&out).append_index_html_on_directories(true));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "port {port} is taken; try `cargo xtask serve --port {}`",
            port + 1
        )
    })?;
    // Port 0 picks a free port; print the real one (tests rely on this line).
    let url = format!("http://{}/", listener.local_addr()?);
    println!(
        "{} {url}  {}",
        ui::green("serving the book at"),
        ui::dim("(Ctrl-C to stop)")
    );
    if open {
        open_browser(&url);
    }

    let _watcher = watch_and_rebuild(out, reloads)?;
    let shutdown_signal = async move {
        let _ = tokio::signal::ctrl_c().await;
        println!("\nstopping");
        let _ = shutdown_tx.send(true);
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal)
        .await
        .context("serving the book")
}

async fn live_reload(ws: WebSocketUpgrade, State(state): State<Reload>) -> Response {
    ws.on_upgrade(move |socket| reload_when_told(socket, state))
}

async fn reload_when_told(mut socket: WebSocket, state: Reload) {
    let mut reloads = state.reloads.subscribe();
    let mut shutdown = state.shutdown;
    tokio::select! {
        Ok(()) = reloads.recv() => {
            let _ = socket.send(Message::Text("reload".into())).await;
        }
        () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => {}
        // The page went away.
        _ = async { while let Some(Ok(_)) = socket.recv().await {} } => {}
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Watches the sources of the book on a thread; rebuilds after a quiet 200 ms.
fn watch_and_rebuild(
    out: PathBuf,
    reloads: broadcast::Sender<()>,
) -> Result<notify::RecommendedWatcher> {
    let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx)?;
    let root = workspace::root();
    for dir in [
        "book/src",
        "book/assets",
        "book/measurements",
        "labs",
        "solutions",
    ] {
        let path = root.join(dir);
        if path.exists() {
            watcher.watch(&path, RecursiveMode::Recursive)?;
        }
    }
    watcher.watch(&root.join("book/book.toml"), RecursiveMode::NonRecursive)?;
    std::thread::spawn(move || {
        while let Ok(first) = rx.recv() {
            if !is_source_change(&first) {
                continue;
            }
            // Debounce: editors write several events per save.
            while rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
            let started = Instant::now();
            match book::build(&out, Some(LIVE_RELOAD)) {
                Ok(()) => {
                    println!(
                        "rebuilt in {} ms; reloading open pages",
                        started.elapsed().as_millis()
                    );
                    let _ = reloads.send(());
                }
                Err(error) => ui::error(&format!("rebuild failed: {error:#}")),
            }
        }
    });
    Ok(watcher)
}

fn is_source_change(event: &notify::Result<notify::Event>) -> bool {
    let Ok(event) = event else { return false };
    if event.kind.is_access() {
        return false;
    }
    event.paths.iter().any(|p| !is_generated(p))
}

fn is_generated(path: &Path) -> bool {
    path.components().any(|c| {
        let c = c.as_os_str();
        c == "build" || c == "generated" || c == "target" || c == ".git"
    })
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        println!("could not open a browser; open {url} yourself");
    }
}
