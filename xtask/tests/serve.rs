//! `cargo xtask serve` end to end: the book is served, an edit reloads open pages, and
//! Ctrl-C exits promptly even with a page (its live-reload socket) still open.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use kit::within;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn serve_answers_reloads_on_edit_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting `xtask serve`");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = within(
        LIMIT,
        async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("serving the book at ").nth(1) {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("`xtask serve` exited without printing its URL");
        },
        "`serving the book at http://...`",
    )
    .await;

    let index = reqwest::get(&url)
        .await
        .expect("GET /")
        .text()
        .await
        .unwrap();
    assert!(
        index.contains("Real-time Web in Rust"),
        "GET / should be the book"
    );
    assert!(
        index.contains("__livereload"),
        "served pages carry the live-reload script"
    );
    // mdBook 0.5 renders the sidebar once, in toc.html (and a script for the pages).
    let toc = reqwest::get(format!("{url}toc.html"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for part in [
        "Part I: Transports",
        "Part II: Socket.IO",
        "Part III: Scaling",
        "Part IV: Security",
        "Part V: Best practices",
    ] {
        assert!(toc.contains(part), "the sidebar should list {part:?}");
    }

    let ws_url = format!("{}__livereload", url.replacen("http://", "ws://", 1));
    let (mut socket, _) = within(
        LIMIT,
        tokio_tungstenite::connect_async(&ws_url),
        "the live-reload socket",
    )
    .await
    .expect("connecting to the live-reload socket");

    // An edit that changes nothing: rewrite a page with its own content.
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../book/src/introduction.md");
    let text = std::fs::read(&page).unwrap();
    std::fs::write(&page, text).unwrap();
    let message = within(LIMIT, socket.next(), "`reload` after editing a page")
        .await
        .expect("the live-reload socket closed")
        .expect("the live-reload socket failed");
    assert_eq!(message.into_text().unwrap().as_str(), "reload");

    // Open a second page, then Ctrl-C: the server must not wait for it.
    let (_open_page, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let pid = child.id().expect("the server is running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = within(
        Duration::from_secs(5),
        child.wait(),
        "`xtask serve` to exit after Ctrl-C",
    )
    .await
    .unwrap();
    assert!(
        exit.success(),
        "Ctrl-C should end `serve` cleanly, got {exit}"
    );
}
