//! What an operator relies on beyond the graded steps: the adapter's families on `/metrics`,
//! JSON logs carrying each socket's span, and what every limit does while Redis is down (the
//! table at the end of book/src/04-security/limits.md). Real Redis, real WebSocket clients, the
//! real binary for the logs.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use security::{Claims, Role, Settings};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);
const SECRET: &str = "a-test-secret-of-32-bytes-or-more!";
const MONITORING_PAGE: &str = "book/src/04-security/monitoring.md";
const LIMITS_PAGE: &str = "book/src/04-security/limits.md";

fn token(sub: &str) -> String {
    let claims = Claims {
        sub: sub.to_owned(),
        role: Role::User,
        exp: security::jwt::now_secs() + 600,
        aud: "chat".to_owned(),
        jti: security::random_id(),
    };
    security::jwt::sign(SECRET.as_bytes(), &claims)
}

/// A chapter 4 server in this process, on port 0.
struct Instance {
    http: kit::TestServer,
}

impl Instance {
    async fn start(settings: Settings) -> Instance {
        let server = security::start(settings)
            .await
            .unwrap_or_else(|e| panic!("the chapter 4 server did not start: {e}"));
        let http = kit::TestServer::start_with(|listener| async move {
            let app = server
                .router
                .into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.expect("serving");
        })
        .await;
        Instance { http }
    }

    async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = kit::within(
            WAIT,
            async {
                reqwest::get(self.http.url("/metrics"))
                    .await
                    .expect("an answer from /metrics")
                    .text()
                    .await
                    .expect("a body")
            },
            "/metrics",
        )
        .await;
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .unwrap_or_else(|e| panic!("/metrics must parse as Prometheus text: {e}"))
    }

    /// Scrapes until `name{labels}` reaches `at_least`; its last value otherwise, after WAIT.
    async fn wait_for_sample(&self, name: &str, labels: &[(&str, &str)], at_least: f64) -> f64 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let value = sample(&self.scrape().await, name, labels).unwrap_or(f64::NAN);
            if value >= at_least || tokio::time::Instant::now() >= deadline {
                return value;
            }
            // Counters move when a background task (the publisher) is done: poll /metrics
            // as a scraper would, a few times, within the deadline.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Socket.IO client on the WebSocket transport, in the main namespace.
struct Client {
    stream: Stream,
    sid: String,
}

impl Client {
    /// Connects with `auth`: the client, or the text of the refusal.
    async fn connect(addr: SocketAddr, auth: Value) -> Result<Client, String> {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (stream, _) = kit::within(WAIT, tokio_tungstenite::connect_async(url), "a WebSocket")
            .await
            .expect("the WebSocket handshake is answered");
        let mut client = Client {
            stream,
            sid: String::new(),
        };
        let open = client.recv("the open packet").await;
        assert!(
            open.starts_with("0{"),
            "expected the open packet, got {open:?}"
        );
        client.send(&format!("40{auth}")).await;
        let answer = client.recv("the CONNECT answer").await;
        let Some(json) = answer.strip_prefix("40") else {
            return Err(answer);
        };
        let value: Value = serde_json::from_str(json).expect("JSON in the CONNECT answer");
        client.sid = value["sid"].as_str().expect("a sid").to_owned();
        Ok(client)
    }

    async fn send(&mut self, text: &str) {
        let _ = self.stream.send(Message::text(text)).await;
    }

    /// The next Socket.IO text frame (engine.io pings answered).
    async fn recv(&mut self, what: &str) -> String {
        kit::within(WAIT, self.next(), what)
            .await
            .unwrap_or_else(|| panic!("the connection closed while we waited for {what}"))
    }

    async fn next(&mut self) -> Option<String> {
        while let Some(frame) = self.stream.next().await {
            match frame.ok()? {
                Message::Text(text) if text.as_str() == "2" => self.send("3").await,
                Message::Text(text) => return Some(text.as_str().to_owned()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
        None
    }
}

#[tokio::test]
async fn the_adapter_counts_its_messages_its_queue_and_its_lag() {
    let redis = kit::redis_for_test().await;
    let key = format!("ops-{}", security::random_id());
    let cluster = || Settings {
        redis: Some(redis.client()),
        key: key.clone(),
        ..Settings::default()
    };
    let one = Instance::start(cluster()).await;
    let two = Instance::start(cluster()).await;
    let mut alice = Client::connect(one.http.addr(), json!({}))
        .await
        .expect("connects");
    let mut bob = Client::connect(two.http.addr(), json!({}))
        .await
        .expect("connects");
    alice.send(r#"42["chat",{"text":"across"}]"#).await;
    let got = bob.recv("alice's chat, through Redis").await;
    assert!(
        got.contains("across"),
        "expected alice's chat on the other instance, got {got:?}"
    );
    let published = one
        .wait_for_sample(
            "socket_io_adapter_messages_total",
            &[("namespace", "/"), ("direction", "published")],
            1.0,
        )
        .await;
    assert!(
        published >= 1.0,
        "expected socket_io_adapter_messages_total{{direction=\"published\"}} >= 1 on the sender's \
         instance after a broadcast, got {published} (see {MONITORING_PAGE})"
    );
    let received = two
        .wait_for_sample(
            "socket_io_adapter_messages_total",
            &[("namespace", "/"), ("direction", "received")],
            1.0,
        )
        .await;
    assert!(
        received >= 1.0,
        "expected socket_io_adapter_messages_total{{direction=\"received\"}} >= 1 on the other \
         instance, got {received} (see {MONITORING_PAGE})"
    );
    let scrape = one.scrape().await;
    let lag_count = sample(
        &scrape,
        "socket_io_adapter_publish_lag_seconds_count",
        &[("namespace", "/")],
    );
    let lag_sum = sample(
        &scrape,
        "socket_io_adapter_publish_lag_seconds_sum",
        &[("namespace", "/")],
    );
    assert_eq!(
        lag_count,
        Some(published),
        "the lag summary counts every accepted publication (see {MONITORING_PAGE})"
    );
    assert!(
        lag_sum.is_some_and(|s| s > 0.0 && s < 5.0),
        "expected a publish lag sum between 0 and 5 s for one broadcast, got {lag_sum:?} (see \
         {MONITORING_PAGE})"
    );
    assert_eq!(
        sample(&scrape, "socket_io_adapter_queued", &[("namespace", "/")]),
        Some(0.0),
        "nothing waits in the outbox once Redis took the broadcast (see {MONITORING_PAGE})"
    );
    let _ = alice;
}

#[tokio::test]
async fn json_logs_carry_the_socket_span_and_never_the_token() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_solution-04-security"))
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .env("JWT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .env_remove("REDIS_URL")
        .env_remove("LOG_FORMAT")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the chapter 4 binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut logged = Vec::new();
    let addr: SocketAddr = kit::within(
        WAIT,
        async {
            while let Some(line) = lines.next_line().await.expect("stdout") {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    return addr.parse().expect("an address");
                }
                logged.push(line);
            }
            panic!("the server exited before listening")
        },
        "the ready line `listening on http://...`",
    )
    .await;
    let secret_token = token("alice");
    let client = Client::connect(addr, json!({ "token": secret_token }))
        .await
        .expect("alice connects");
    let sid = client.sid.clone();
    drop(client);
    // Read until the disconnect of alice's socket is logged, keeping every line.
    let mut objects = Vec::new();
    kit::within(
        WAIT,
        async {
            while let Some(line) = lines.next_line().await.expect("stdout") {
                let object: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("with --log-format json every line is JSON ({e}): {line:?}")
                });
                logged.push(line);
                let done = object["fields"]["message"] == "socket disconnected";
                objects.push(object);
                if done {
                    return;
                }
            }
        },
        "the log line `socket disconnected`",
    )
    .await;
    for message in ["socket connected", "socket disconnected"] {
        let line = objects
            .iter()
            .find(|o| o["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("expected a `{message}` line, got {logged:#?}"));
        assert_eq!(
            line["span"],
            json!({ "name": "socket", "id": sid, "nsp": "/", "sub": "alice" }),
            "the `{message}` line is written in the socket's span, which names its id, namespace \
             and user (see {MONITORING_PAGE}): {line}"
        );
    }
    assert!(
        logged.iter().all(|line| !line.contains(&secret_token)),
        "a token must never reach the logs (see book/src/04-security/risks.md)"
    );
}

#[tokio::test]
async fn with_redis_down_each_limit_does_what_the_book_says() {
    let redis = kit::redis_for_test().await;
    let settings = Settings {
        jwt_secret: Some(SECRET.to_owned()),
        redis: Some(redis.client()),
        key: format!("ops-{}", security::random_id()),
        rate: security::bucket::Rate {
            burst: 3.0,
            per_second: 0.1,
        },
        disconnect_after: 1000,
        ..Settings::default()
    };
    let server = Instance::start(settings).await;
    redis.stop().await.expect("Redis stops");
    let mut client = Client::connect(server.http.addr(), json!({ "token": token("carol") }))
        .await
        .expect("with Redis down, a valid token on a public namespace is let in (fail open)");
    let scrape = server.scrape().await;
    for check in ["revocation", "connections"] {
        assert_eq!(
            sample(
                &scrape,
                "socket_io_unchecked_total",
                &[("namespace", "/"), ("check", check)]
            ),
            Some(1.0),
            "a connection let in without its `{check}` check is counted (see {LIMITS_PAGE})"
        );
    }
    for i in 0..6 {
        client.send(&format!(r#"42{i}["echo",{i}]"#)).await;
    }
    // Events of one socket are handled in order: once 3 are counted as dropped, all 6 were
    // judged, and the 3 acks that passed were sent before.
    let dropped = server
        .wait_for_sample(
            "socket_io_rate_limited_events_total",
            &[("namespace", "/"), ("action", "drop")],
            3.0,
        )
        .await;
    assert_eq!(
        dropped, 3.0,
        "with Redis down the bucket falls back to this instance's: of 6 events with a burst of \
         3, expected 3 dropped and counted, got {dropped} (see {LIMITS_PAGE})"
    );
    for i in 0..3 {
        assert_eq!(
            client.recv("an echo within the local bucket").await,
            format!("43{i}[{i}]"),
            "the first 3 echoes pass the local bucket (see {LIMITS_PAGE})"
        );
    }
}
