//! `/metrics` after a scripted session, linted by Prometheus' own `promtool check metrics`:
//! the format, the names (`_total` on counters, base units), HELP and TYPE lines.
//!
//! Behind the `promtool` feature (Debian's `prometheus` package has the tool). `cargo xtask
//! verify` runs it when promtool is installed:
//! `cargo test -p solution-04-security --features promtool --test promtool`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

const PAGE: &str = "book/src/04-security/monitoring.md";
const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn promtool_accepts_the_metrics_page() {
    let server = security::start(security::Settings::default())
        .await
        .expect("the chapter 4 server starts alone");
    let router = server.router.clone();
    let http = kit::TestServer::start_with(|listener| async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.expect("serving");
    })
    .await;
    // A session that fills every family: a connect, events, a broadcast, a refusal.
    let url = http.ws_url("/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = kit::within(
        WAIT,
        tokio_tungstenite::connect_async(&url),
        "the WebSocket",
    )
    .await
    .expect("a WebSocket");
    for frame in [
        "40",
        r#"421["echo","x"]"#,
        r#"42["chat",{"text":"hi"}]"#,
        "40/nowhere,",
    ] {
        ws.send(Message::text(frame)).await.expect("sending");
    }
    kit::within(
        WAIT,
        async {
            while let Some(Ok(message)) = ws.next().await {
                if message.to_text().is_ok_and(|t| t.starts_with("44/nowhere")) {
                    return;
                }
            }
        },
        "the CONNECT_ERROR of an unknown namespace",
    )
    .await;
    let page = kit::within(WAIT, reqwest::get(http.url("/metrics")), "/metrics")
        .await
        .expect("an answer")
        .text()
        .await
        .expect("a body");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("promtool could not start ({e}): apt install prometheus"));
    let mut stdin = promtool.stdin.take().expect("promtool's stdin");
    stdin
        .write_all(page.as_bytes())
        .await
        .expect("writing to promtool");
    drop(stdin);
    let output = kit::within(WAIT, promtool.wait_with_output(), "promtool's verdict")
        .await
        .expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "expected `promtool check metrics` to find nothing to say about /metrics, it said \
         ({}):\n{said}\nthe page was:\n{page}\n(see {PAGE})",
        output.status
    );
}
