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
use tokio::io::AsyncBufReadExt;
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
    let mut driver = tokio::process::Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {chromedriver}: {e} (set CHROMEDRIVER)"));
    // chromedriver says when it listens: wait for that line rather than retrying.
    let stdout = driver.stdout.take().expect("chromedriver's stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    within(
        Duration::from_secs(20),
        async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) if line.contains("started successfully") => return,
                    Ok(Some(_)) => continue,
                    _ => panic!("{chromedriver} exited before listening (set CHROMEDRIVER)"),
                }
            }
        },
        "chromedriver's 'started successfully' line",
    )
    .await;
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
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
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = within(
        Duration::from_secs(20),
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver),
        "a WebDriver session",
    )
    .await
    .unwrap_or_else(|error| {
        panic!(
            "no WebDriver session from {chromedriver}: {error}\n\
             (is {chromium} a working Chromium? set CHROMIUM and CHROMEDRIVER)"
        )
    });

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
    // In the page: resolve once every pane shows the text (a MutationObserver, no polling),
    // or after 15 s with the panes still missing it.
    let script = r#"
        const [text, panes, done] = arguments;
        const missing = () => panes.filter(
            (pane) => !document.querySelector(`#${pane} ol`).textContent.includes(text));
        if (missing().length === 0) return done([]);
        const observer = new MutationObserver(() => {
            if (missing().length === 0) { observer.disconnect(); done([]); }
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        setTimeout(() => { observer.disconnect(); done(missing()); }, 15000);
    "#;
    let missing = within(
        Duration::from_secs(20),
        client.execute_async(
            script,
            vec![serde_json::json!(text), serde_json::json!(panes)],
        ),
        "the message in all four panes (poll, long poll, SSE, WebSocket)",
    )
    .await
    .expect("running the waiting script in the page");
    assert_eq!(
        missing,
        serde_json::json!([]),
        "these panes never showed the published message within 15 s"
    );
    client.close().await.expect("closing the browser");
    let _ = std::fs::remove_dir_all(&profile);
}
