//! For maintainers: the demo page in a real browser (`cargo xtask verify` runs it).
//!
//! Headless Chromium, driven through chromedriver's WebDriver API, opens the solution's
//! demo page, publishes through the page's send box, and waits until the message shows in
//! all four panes: proof that `fetch` polling, `EventSource` and `WebSocket` work against
//! the server in a real browser, not only with Rust clients.
//!
//! `cargo test -p solution-01-transports --features browser --test browser`
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`),
//! or their paths in `CHROMIUM` and `CHROMEDRIVER`.

use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use kit::{TestServer, within};
use transports::{AppState, Config};

fn from_env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::test]
async fn the_demo_page_shows_a_message_in_all_four_panes_in_chromium() {
    let server = TestServer::start_with(|listener| async move {
        let state = AppState::new(Config::default());
        transports::serve(listener, state, std::future::pending())
            .await
            .expect("the solution's server failed");
    })
    .await;

    let chromedriver = from_env("CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = from_env("CHROMIUM", "/usr/bin/chromium");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port for chromedriver")
        .port();
    let _driver = tokio::process::Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {chromedriver}: {e} (set CHROMEDRIVER)"));
    let profile =
        std::env::temp_dir().join(format!("course-chromium-{}-{}", std::process::id(), port));
    std::fs::create_dir_all(&profile).expect("a temporary profile directory");

    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    // chromedriver needs a moment to listen: retry the session until it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await
        {
            Ok(client) => break client,
            Err(error) if std::time::Instant::now() > deadline => panic!(
                "no WebDriver session from {chromedriver} within 20 s: {error}\n\
                 (is {chromium} a working Chromium? set CHROMIUM and CHROMEDRIVER)"
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };

    client
        .goto(&server.url("/"))
        .await
        .expect("opening the demo page");
    let text = "hello from a real browser";
    let input = client
        .find(Locator::Css("#text"))
        .await
        .expect("the send box #text");
    input.send_keys(text).await.expect("typing");
    client
        .find(Locator::Css("#send button"))
        .await
        .expect("the Publish button")
        .click()
        .await
        .expect("clicking Publish");

    let panes = ["pane-poll", "pane-long-poll", "pane-sse", "pane-ws"];
    let missing = within(
        Duration::from_secs(15),
        async {
            loop {
                let mut missing = Vec::new();
                for pane in panes {
                    let list = client
                        .find(Locator::Css(&format!("#{pane} ol")))
                        .await
                        .expect("each pane has a list");
                    if !list.text().await.unwrap_or_default().contains(text) {
                        missing.push(pane);
                    }
                }
                if missing.is_empty() {
                    return missing;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        },
        "the message in all four panes (poll, long poll, SSE, WebSocket)",
    )
    .await;
    assert!(missing.is_empty());
    client.close().await.expect("closing the browser");
    let _ = std::fs::remove_dir_all(&profile);
}
