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

use fantoccini::Locator;
use kit::{TestServer, within};
use transports::{AppState, Config};
use webdriver::Browser;

mod webdriver;

#[tokio::test]
async fn the_demo_page_shows_a_message_in_all_four_panes_in_chromium() {
    let server = TestServer::start_with(|listener| async move {
        let state = AppState::new(Config::default());
        transports::serve(listener, state, std::future::pending())
            .await
            .expect("the solution's server failed");
    })
    .await;
    let browser = Browser::start().await;
    let client = &browser.client;

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
    browser.close().await;
}
