//! A raw Socket.IO client over one WebSocket (tokio-tungstenite): it answers pings itself, so a
//! test reads only what it waits for.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(3);

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Client {
    stream: Stream,
}

impl Client {
    /// A WebSocket session on `server`, its open packet read.
    pub async fn open(server: &kit::TestServer) -> Client {
        let url = server.ws_url("/socket.io/?EIO=4&transport=websocket");
        let (stream, _) = kit::within(
            WAIT,
            tokio_tungstenite::connect_async(&url),
            "the WebSocket",
        )
        .await
        .unwrap_or_else(|e| panic!("the WebSocket to {url} failed: {e}"));
        let mut client = Client { stream };
        let open = client.recv("the open packet").await;
        assert!(
            open.starts_with("0{"),
            "expected the open packet, got {open:?}"
        );
        client
    }

    pub async fn send(&mut self, text: &str) {
        let _ = self.stream.send(Message::text(text)).await;
    }

    /// The next text frame, pings answered; panics on a close.
    pub async fn recv(&mut self, what: &str) -> String {
        match self.next(what).await {
            Some(text) => text,
            None => panic!("the server closed the connection while we waited for {what}"),
        }
    }

    /// The next text frame, or `None` once the connection is closed.
    async fn next(&mut self, what: &str) -> Option<String> {
        kit::within(
            WAIT,
            async {
                loop {
                    match self.stream.next().await {
                        Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                            let _ = self.stream.send(Message::text("3")).await;
                        }
                        Some(Ok(Message::Text(text))) => return Some(text.to_string()),
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                        Some(Ok(_)) => {}
                    }
                }
            },
            what,
        )
        .await
    }

    /// CONNECT to `nsp` and its answer's payload; panics on a refusal.
    pub async fn connect(&mut self, nsp: &str, auth: Option<Value>) -> Value {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        self.send(&format!("40{prefix}{auth}")).await;
        let answer = self.recv(&format!("the CONNECT answer of {nsp}")).await;
        let json = answer
            .strip_prefix(&format!("40{prefix}"))
            .unwrap_or_else(|| panic!("expected `40{prefix}{{...}}`, got {answer:?}"));
        serde_json::from_str(json).expect("the CONNECT answer is JSON")
    }

    /// Checks that nothing but pings arrives: an `echo` round trip comes back first.
    pub async fn assert_nothing(&mut self, why: &str) {
        self.send(r#"42999["echo","probe"]"#).await;
        let next = self.recv(why).await;
        assert_eq!(next, r#"43999["probe"]"#, "{why}: got {next:?} first");
    }

    /// Waits for the server to close the connection.
    pub async fn expect_closed(&mut self, what: &str) {
        while self.next(what).await.is_some() {}
    }
}

/// The JSON after `prefix` in a packet's text (`payload("42[1]", "42")` is `[1]`), so tests
/// compare values, not key order.
pub fn payload(text: &str, prefix: &str) -> Value {
    let json = text
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected a packet starting with {prefix:?}, got {text:?}"));
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("not JSON after {prefix:?} in {text:?}: {e}"))
}
