//! For maintainers: the book's live panels in a real browser (`cargo xtask verify` runs it).
//!
//! The book is built (`xtask build`) into a temporary folder and served on a free port, each
//! chapter's server is started on another, and headless Chromium opens every page that has a
//! live panel, pointed at that server with `?server=...`:
//! - against the SOLUTION, the panel must connect and show data (a message in all four panes;
//!   three Socket.IO clients connected), with no JavaScript error on the page;
//! - against the LAB as shipped, it must say that step 1 is not done yet, with no error either.
//!
//! The page's errors are collected by `book/theme/head.hbs` in `window.coursePageErrors`, from
//! before the content is parsed, so an inline script that throws is caught too.
//!
//! `cargo test -p xtask --features browser --test panels`

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use kit::{TestServer, within};
use serde_json::{Value, json};
use tower_http::services::ServeDir;
use webdriver::Browser;

#[path = "../../solutions/01-transports/tests/webdriver/mod.rs"]
mod webdriver;

const PANEL_WAIT_MS: u64 = 15_000;

/// Which server a panel's page talks to.
#[derive(Clone, Copy, Debug)]
enum Chapter {
    Transports,
    SocketIo,
}

#[derive(Clone, Copy, Debug)]
enum Build {
    Solution,
    Lab,
}

async fn start(chapter: Chapter, build: Build) -> TestServer {
    match (chapter, build) {
        (Chapter::Transports, Build::Solution) => {
            TestServer::start_with(|listener| async move {
                let state = transports::AppState::new(transports::Config::default());
                let _ = transports::serve(listener, state, std::future::pending()).await;
            })
            .await
        }
        (Chapter::Transports, Build::Lab) => {
            TestServer::start_with(|listener| async move {
                let state = lab_transports::AppState::new(lab_transports::Config::default());
                let _ = lab_transports::serve(listener, state, std::future::pending()).await;
            })
            .await
        }
        (Chapter::SocketIo, Build::Solution) => {
            TestServer::start_with(|listener| async move {
                // The SocketIo handle lives as long as the server.
                let (_io, app) = socketio::demo::app(socketio::Config::default());
                let _ = axum::serve(listener, app).await;
            })
            .await
        }
        (Chapter::SocketIo, Build::Lab) => {
            TestServer::start_with(|listener| async move {
                let (_io, app) = lab_socketio::demo::app(lab_socketio::Config::default());
                let _ = axum::serve(listener, app).await;
            })
            .await
        }
    }
}

/// Every page of the built book with a live panel: (page, panel name, chapter).
fn pages_with_panels(book: &Path) -> Vec<(String, String, Chapter)> {
    let mut found = Vec::new();
    for chapter_dir in std::fs::read_dir(book).expect("the built book").flatten() {
        let dir = chapter_dir.path();
        if !dir.is_dir() {
            continue;
        }
        for page in std::fs::read_dir(&dir)
            .expect("a chapter's folder")
            .flatten()
        {
            let path = page.path();
            if path.extension().is_none_or(|e| e != "html") {
                continue;
            }
            let html = std::fs::read_to_string(&path).expect("a page");
            for piece in html.split("class=\"live-panel\"").skip(1) {
                let name = piece
                    .split("data-panel=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_owned();
                let relative = path
                    .strip_prefix(book)
                    .expect("inside the book")
                    .display()
                    .to_string();
                let chapter = if relative.starts_with("01-") {
                    Chapter::Transports
                } else if relative.starts_with("02-") {
                    Chapter::SocketIo
                } else {
                    panic!(
                        "{relative} has a live panel, but this test knows no server for its chapter: \
                         add one to xtask/tests/panels.rs"
                    )
                };
                found.push((relative, name, chapter));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Waits (in the page, with a MutationObserver) until the panel's state is `wanted`, or
/// PANEL_WAIT_MS passes; returns its state, its status line and the page's errors.
async fn panel_state(client: &Client, panel: &str, wanted: &str) -> Value {
    let script = r#"
        const [name, wanted, limit, done] = arguments;
        const panel = document.querySelector(`.live-panel[data-panel="${name}"]`);
        const report = () => ({
            state: (panel && panel.dataset.liveState) || null,
            status: (panel && panel.querySelector(".live-status")
                && panel.querySelector(".live-status").textContent) || null,
            errors: window.coursePageErrors || ["book/theme/head.hbs did not run"],
        });
        const reached = () => panel && panel.dataset.liveState === wanted;
        if (reached()) return done(report());
        const observer = new MutationObserver(() => {
            if (reached()) { observer.disconnect(); done(report()); }
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
        setTimeout(() => { observer.disconnect(); done(report()); }, limit);
    "#;
    within(
        Duration::from_millis(PANEL_WAIT_MS + 10_000),
        client.execute_async(
            script,
            vec![json!(panel), json!(wanted), json!(PANEL_WAIT_MS)],
        ),
        "the panel's state",
    )
    .await
    .expect("running the waiting script in the page")
}

/// Waits until `condition` (a JS expression over `panel`) holds; returns whether it did.
async fn panel_shows(client: &Client, panel: &str, condition: &str) -> bool {
    let script = format!(
        r#"
        const [name, limit, done] = arguments;
        const panel = document.querySelector(`.live-panel[data-panel="${{name}}"]`);
        const holds = () => {{ try {{ return Boolean({condition}); }} catch (_) {{ return false; }} }};
        if (holds()) return done(true);
        const observer = new MutationObserver(() => {{
            if (holds()) {{ observer.disconnect(); done(true); }}
        }});
        observer.observe(document.body, {{ subtree: true, childList: true, characterData: true }});
        setTimeout(() => {{ observer.disconnect(); done(holds()); }}, limit);
    "#
    );
    within(
        Duration::from_millis(PANEL_WAIT_MS + 10_000),
        client.execute_async(&script, vec![json!(panel), json!(PANEL_WAIT_MS)]),
        "the panel's data",
    )
    .await
    .expect("running the waiting script in the page")
        == json!(true)
}

/// Makes the panel show data, and says what it should have shown when it does not.
async fn exercise(client: &Client, panel: &str) -> Result<(), String> {
    match panel {
        "four-transports" => {
            let text = "hello from the book's panel";
            let input = client
                .find(Locator::Css(".ft-text"))
                .await
                .map_err(|e| format!("no text box .ft-text in the panel: {e}"))?;
            input.clear().await.map_err(|e| e.to_string())?;
            input.send_keys(text).await.map_err(|e| e.to_string())?;
            client
                .find(Locator::Css(".ft-send"))
                .await
                .map_err(|e| format!("no Publish button .ft-send: {e}"))?
                .click()
                .await
                .map_err(|e| e.to_string())?;
            let all_panes = format!(
                "[...panel.querySelectorAll('.live-pane pre')].length === 4 && \
                 [...panel.querySelectorAll('.live-pane pre')].every((p) => p.textContent.includes({text:?}))"
            );
            if panel_shows(client, panel, &all_panes).await {
                Ok(())
            } else {
                Err(format!(
                    "the published message {text:?} did not reach all four panes (poll, long poll, \
                     SSE, WebSocket)"
                ))
            }
        }
        "rooms" => {
            let connected = "[...panel.querySelectorAll('.live-pane pre')].length === 3 && \
                 [...panel.querySelectorAll('.live-pane pre')].every((p) => p.textContent.includes('< 40{'))";
            if panel_shows(client, panel, connected).await {
                Ok(())
            } else {
                Err(
                    "the three clients (Alice, Bob, Chloé) did not all get `40{\"sid\":...}`"
                        .into(),
                )
            }
        }
        other => Err(format!(
            "no check for the panel {other:?}: say in xtask/tests/panels.rs what it must show"
        )),
    }
}

#[tokio::test]
async fn every_live_panel_works_on_the_solution_and_names_the_missing_step_on_the_lab() {
    let out = tempfile::tempdir().expect("a temporary folder for the book");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("build")
        .arg("--out")
        .arg(out.path())
        .status()
        .await
        .expect("running `xtask build`");
    assert!(status.success(), "`xtask build` failed: {status}");
    let pages = pages_with_panels(out.path());
    assert!(
        pages.len() >= 2,
        "expected the live panels of comparison.md and rooms.md, found {pages:?}"
    );
    let book =
        TestServer::start(axum::Router::new().fallback_service(ServeDir::new(out.path()))).await;
    let browser = Browser::start().await;
    let client = &browser.client;

    let mut problems = Vec::new();
    for (page, panel, chapter) in &pages {
        for build in [Build::Solution, Build::Lab] {
            let server = start(*chapter, build).await;
            let url = book.url(&format!("/{page}?server={}", server.url("")));
            client.goto(&url).await.expect("opening the page");
            let what = format!("{page} (panel {panel:?}) against the {build:?}");
            let (wanted, expected) = match build {
                Build::Solution => ("online", "Connected to your server".to_owned()),
                Build::Lab => ("unfinished", "step 1 is not done yet".to_owned()),
            };
            let report = panel_state(client, panel, wanted).await;
            let status = report["status"].as_str().unwrap_or("(no status line)");
            if report["state"] != json!(wanted) || !status.contains(&expected) {
                problems.push(format!(
                    "{what}: expected the status {expected:?}, the panel says {status:?}"
                ));
            } else if let Build::Solution = build
                && let Err(problem) = exercise(client, panel).await
            {
                problems.push(format!("{what}: {problem}"));
            }
            let errors = client
                .execute("return window.coursePageErrors || null;", vec![])
                .await
                .expect("reading the page's errors");
            if errors != json!([]) {
                problems.push(format!("{what}: JavaScript errors on the page: {errors}"));
            }
        }
    }
    browser.close().await;
    assert!(
        problems.is_empty(),
        "the book's live panels (book/assets/live-panels.js; see CONTRIBUTING.md, \"Book pages\"):\n  {}",
        problems.join("\n  ")
    );
}
