//! Chapter 1's graded tests: one feed, four transports, real clients on 127.0.0.1.
//!
//! Run them with `cargo test -p lab-01-transports` (or `cargo xtask check`). Tests are
//! named by step; do the steps in order. Each failure names the book page to read.
//!
//! Clients used, all real: reqwest (HTTP), eventsource-stream (an SSE parser written by
//! someone else, over reqwest's byte stream), tokio-tungstenite (WebSocket), and a plain
//! `TcpStream` where we want the exact bytes for the book's snapshots.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::{SinkExt, Stream, StreamExt};
use kit::{TestServer, Transcript, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use transports::feed::{Ended, Feed};
use transports::{AppState, Config, Message};

// ---------------------------------------------------------------------------------------
// Helpers: start a server, publish, read each transport.
// ---------------------------------------------------------------------------------------

/// A short wait for anything that should be immediate.
const SOON: Duration = Duration::from_secs(5);

/// Test settings: short intervals so nothing waits 15 seconds.
fn config() -> Config {
    Config {
        keep_alive: Duration::from_millis(500),
        sse_retry: Duration::from_millis(1000),
        ..Config::default()
    }
}

/// The lab's server on 127.0.0.1:0, with a Ctrl-C we can press.
struct Lab {
    server: TestServer,
    /// The server's feed, to see how many clients wait on it.
    feed: Feed,
    http: reqwest::Client,
    ctrl_c: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<std::io::Result<()>>>,
}

async fn start(config: Config) -> Lab {
    let state = AppState::new(config);
    let feed = state.feed.clone();
    let (ctrl_c, pressed) = oneshot::channel::<()>();
    let (done, stopped) = oneshot::channel();
    let server = TestServer::start_with(move |listener| async move {
        let signal = async move {
            let _ = pressed.await;
        };
        let result = transports::serve(listener, state, signal).await;
        let _ = done.send(result);
    })
    .await;
    Lab {
        server,
        feed,
        http: reqwest::Client::new(),
        ctrl_c: Some(ctrl_c),
        stopped: Some(stopped),
    }
}

impl Lab {
    /// Waits until `n` subscriptions are open on the feed: proof that the requests the
    /// test sent are held by the server (a long poll waits on a subscription).
    async fn until_subscribers(&self, n: usize, what: &str) {
        let feed = &self.feed;
        within(
            SOON,
            async {
                while feed.subscribers() < n {
                    tokio::task::yield_now().await;
                }
            },
            &format!(
                "{what}: {n} subscription(s) on the feed, as a held long poll waits on \
                 `state.feed.subscribe(...)` (book: 01-transports/long-polling.md)"
            ),
        )
        .await;
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `POST /messages {"text": text}`: the status and the JSON body.
    async fn post_json(&self, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw(body.to_string()).await
    }

    async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
        let response = within(
            SOON,
            self.http
                .post(self.url("/messages"))
                .header("content-type", "application/json")
                .body(body)
                .send(),
            "the answer to POST /messages",
        )
        .await
        .expect("POST /messages failed: is the handler implemented? (book: 01-transports/lab.md, step 1)");
        let status = response.status().as_u16();
        let text = within(
            SOON,
            response.text(),
            "the body of the answer to POST /messages",
        )
        .await
        .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    /// Publishes `text` and returns its id, failing the test if the server refuses.
    async fn publish(&self, text: &str) -> u64 {
        let (status, body) = self.post_json(&serde_json::json!({ "text": text })).await;
        assert_eq!(
            status, 201,
            "POST /messages {{\"text\": {text:?}}} should answer 201, got {status} {body}\n\
             (book: 01-transports/short-polling.md)"
        );
        body["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("201 body should be {{\"id\": N}}, got {body}"))
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        within(SOON, self.http.get(self.url(path)).send(), path)
            .await
            .unwrap_or_else(|e| panic!("GET {path} failed: {e} (is the handler implemented?)"))
    }

    /// `GET /poll?after=N`, expecting `200` and a JSON array.
    async fn poll(&self, after: u64) -> Vec<Message> {
        let response = self.get(&format!("/poll?after={after}")).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "GET /poll?after={after} should answer 200 (book: 01-transports/short-polling.md)"
        );
        within(SOON, response.json(), "the body of GET /poll")
            .await
            .expect("GET /poll should answer a JSON array of {id, text}")
    }

    /// Opens `GET /sse` with an optional `Last-Event-ID` and parses it with eventsource-stream.
    async fn sse(
        &self,
        last_event_id: Option<u64>,
    ) -> impl Stream<Item = eventsource_stream::Event> + Unpin + use<> {
        let mut request = self.http.get(self.url("/sse"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = within(SOON, request.send(), "the headers of GET /sse")
            .await
            .expect("GET /sse failed: is the handler implemented? (book: 01-transports/sse.md)");
        assert_eq!(
            response.status().as_u16(),
            200,
            "GET /sse should answer 200"
        );
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert_eq!(
            content_type, "text/event-stream",
            "GET /sse must be served as text/event-stream (book: 01-transports/sse.md)"
        );
        Box::pin(
            response
                .bytes_stream()
                .eventsource()
                .filter_map(|event| async move { event.ok() }),
        )
    }

    /// Opens `/ws` (with `?after=N` if given) with tokio-tungstenite.
    async fn ws(&self, after: Option<u64>) -> Ws {
        let path = match after {
            Some(after) => format!("/ws?after={after}"),
            None => "/ws".to_owned(),
        };
        let (socket, response) = within(
            SOON,
            tokio_tungstenite::connect_async(self.server.ws_url(&path)),
            "the WebSocket handshake",
        )
        .await
        .expect("the WebSocket handshake failed: is /ws implemented? (book: 01-transports/websocket.md)");
        assert_eq!(response.status().as_u16(), 101);
        socket
    }

    /// Presses Ctrl-C: the server's shutdown signal resolves.
    fn press_ctrl_c(&mut self) {
        if let Some(ctrl_c) = self.ctrl_c.take() {
            let _ = ctrl_c.send(());
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// The next frame that is not a ping or a pong (or the end of the stream).
async fn next_data_frame(
    ws: &mut Ws,
    what: &str,
) -> Option<Result<Frame, tokio_tungstenite::tungstenite::Error>> {
    within(
        SOON,
        async {
            loop {
                match ws.next().await {
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
                    other => return other,
                }
            }
        },
        what,
    )
    .await
}

/// The next data frame's JSON, skipping pings and pongs.
async fn next_json(ws: &mut Ws, what: &str) -> serde_json::Value {
    match next_data_frame(ws, what).await {
        Some(Ok(Frame::Text(text))) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: a text frame should hold JSON ({e}): {text}")),
        other => panic!(
            "{what}: expected a Text frame holding JSON, got {} (book: 01-transports/websocket.md)",
            describe(&other)
        ),
    }
}

/// A frame as a failure message names it: its kind, and its payload in hex (as the
/// book reads frames) or as text.
fn describe(frame: &Option<Result<Frame, tokio_tungstenite::tungstenite::Error>>) -> String {
    let hex = |bytes: &[u8]| match bytes {
        [] => "empty payload".to_owned(),
        bytes => format!("payload {}", kit::transcript::hex(bytes).replace('\n', " ")),
    };
    match frame {
        None => "the end of the stream (the server closed the TCP connection)".into(),
        Some(Err(e)) => format!("an error ({e})"),
        Some(Ok(Frame::Text(t))) => format!("a Text frame {:.200}", t.as_str()),
        Some(Ok(Frame::Binary(b))) => format!("a Binary frame ({})", hex(b)),
        Some(Ok(Frame::Ping(b))) => format!("a Ping frame ({})", hex(b)),
        Some(Ok(Frame::Pong(b))) => format!("a Pong frame ({})", hex(b)),
        Some(Ok(Frame::Close(c))) => format!("a Close frame ({c:?})"),
        Some(Ok(Frame::Frame(f))) => format!("a raw frame ({f})"),
    }
}

/// The name of a raw frame's kind, from its first byte (FIN and opcode, RFC 6455 5.2).
fn frame_kind(first_byte: u8) -> &'static str {
    match first_byte & 0x0f {
        0x0 => "Continuation",
        0x1 => "Text",
        0x2 => "Binary",
        0x8 => "Close",
        0x9 => "Ping",
        0xa => "Pong",
        _ => "reserved-opcode",
    }
}

/// What a raw byte buffer holds, for a failure message: its length, its bytes in hex.
fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing".into();
    }
    format!(
        "{} bytes: {}",
        bytes.len(),
        kit::transcript::hex(bytes).replace('\n', " ")
    )
}

/// The next `n` SSE events as messages, checking `id:` and `event:` on the way.
async fn next_events<S>(events: &mut S, n: usize, what: &str) -> Vec<Message>
where
    S: Stream<Item = eventsource_stream::Event> + Unpin,
{
    let mut messages = Vec::new();
    while messages.len() < n {
        let event = within(SOON, events.next(), what)
            .await
            .unwrap_or_else(|| panic!("{what}: the SSE stream ended early"));
        assert_eq!(
            event.event, "message",
            "SSE events must be `event: message`"
        );
        let message: Message = serde_json::from_str(&event.data).unwrap_or_else(|e| {
            panic!("`data:` should be the message's JSON ({e}): {}", event.data)
        });
        assert_eq!(
            event.id,
            message.id.to_string(),
            "the SSE `id:` must be the message id (book: 01-transports/sse.md)"
        );
        messages.push(message);
    }
    messages
}

fn ids(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.id).collect()
}

/// Sends raw bytes and reads until `done` says the reply is complete.
async fn raw_exchange(
    stream: &mut TcpStream,
    request: &[u8],
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    stream
        .write_all(request)
        .await
        .expect("writing the request");
    read_until(stream, Vec::new(), done, "the raw reply").await
}

async fn read_until(
    stream: &mut TcpStream,
    mut buffer: Vec<u8>,
    done: impl Fn(&[u8]) -> bool,
    what: &str,
) -> Vec<u8> {
    within(
        SOON,
        async {
            let mut chunk = [0u8; 8192];
            while !done(&buffer) {
                let n = stream
                    .read(&mut chunk)
                    .await
                    .unwrap_or_else(|e| panic!("reading {what} failed: {e}"));
                assert!(
                    n > 0,
                    "the server closed the connection while we waited for {what}; \
                     before closing it had sent {}",
                    match buffer.is_empty() {
                        true => "nothing".to_owned(),
                        false => format!(
                            "{} (as text: {:?})",
                            describe_bytes(&buffer),
                            String::from_utf8_lossy(&buffer)
                        ),
                    }
                );
                buffer.extend_from_slice(&chunk[..n]);
            }
        },
        what,
    )
    .await;
    buffer
}

/// Whether `buffer` holds a whole HTTP response with a `content-length` body.
fn whole_response(buffer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(buffer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}

/// Redacts what changes between runs: the `date:` header and the port.
fn redact_run(transcript: &mut Transcript, wire: &str, addr: SocketAddr) {
    for line in wire.lines() {
        if let Some(date) = line.strip_prefix("date: ") {
            transcript.redact(date.trim_end_matches('\r'), "date");
        }
    }
    transcript.redact(addr.to_string(), "127.0.0.1:PORT");
}

// ---------------------------------------------------------------------------------------
// Step 1: publish and validate. Book: 01-transports/short-polling.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step1_publish_answers_201_with_ids_from_1() {
    let lab = start(config()).await;
    let (status, body) = lab.post_json(&serde_json::json!({"text": "hello"})).await;
    assert_eq!(
        (status, body.clone()),
        (201, serde_json::json!({"id": 1})),
        "the first message gets id 1, answered `201 {{\"id\": 1}}` (book: 01-transports/short-polling.md)"
    );
    let second = lab.publish("again").await;
    let third = lab.publish("and again").await;
    assert_eq!((second, third), (2, 3), "ids increase by one per message");
}

#[tokio::test]
async fn step1_publish_validates_the_text() {
    let lab = start(config()).await;
    let (status, body) = lab.post_json(&serde_json::json!({"text": ""})).await;
    assert_eq!(
        status, 422,
        "an empty text is refused with 422, got {status} {body}"
    );
    assert!(
        body["error"].is_string(),
        "a refusal is JSON with an `error` sentence, got {body}"
    );
    let too_long = "x".repeat(1001);
    let (status, _) = lab.post_json(&serde_json::json!({"text": too_long})).await;
    assert_eq!(status, 422, "1001 characters is one too many: 422");
    // 1000 characters, 2000 bytes: the limit counts characters.
    let accents = "é".repeat(1000);
    let (status, body) = lab.post_json(&serde_json::json!({"text": accents})).await;
    assert_eq!(
        status, 201,
        "1000 characters is allowed even when it is 2000 bytes (count chars, not bytes), got {body}"
    );
    let (status, body) = lab.post_raw("{not json").await;
    assert_eq!(status, 400, "malformed JSON is a 400, got {status} {body}");
    assert!(
        body["error"].is_string(),
        "a 400 carries a JSON error too, got {body}"
    );
}

#[tokio::test]
async fn step1_the_feed_keeps_a_bounded_history() {
    let feed = Feed::new(3, 8);
    for text in ["a", "b", "c", "d", "e"] {
        feed.publish(text.to_owned());
    }
    assert_eq!(feed.last_id(), 5, "five messages published: last id 5");
    assert_eq!(
        ids(&feed.since(0)),
        vec![3, 4, 5],
        "a history of 3 keeps the 3 newest messages, oldest first"
    );
}

#[tokio::test]
async fn step1_publish_hands_each_message_to_every_subscriber() {
    // The transports of steps 3 to 5 wait on subscriptions: a message kept in the history
    // but never sent would reach a poll, never a held request or a stream.
    let feed = Feed::new(3, 8);
    let mut first = feed.subscribe(None);
    let mut second = feed.subscribe(None);
    let published = feed.publish("to everyone".to_owned());
    for (who, subscription) in [("first", &mut first), ("second", &mut second)] {
        let got = within(
            SOON,
            subscription.next(),
            &format!(
                "the {who} subscriber's copy of the published message: `publish` sends it with \
                 `self.inner.sender.send(...)` (book: 01-transports/short-polling.md)"
            ),
        )
        .await;
        assert_eq!(
            got,
            Ok(published.clone()),
            "expected the {who} subscriber to receive the message just published: `publish` \
             sends it with `self.inner.sender.send(...)` (book: 01-transports/short-polling.md)"
        );
    }
}

#[tokio::test]
async fn step1_json_of_the_wrong_shape_is_422_and_the_limit_is_the_configured_one() {
    let lab = start(Config {
        max_text_chars: 5,
        ..config()
    })
    .await;
    for body in [r#"{"txt": "hello"}"#, r#"{"text": 5}"#, "[]"] {
        let (status, answer) = lab.post_raw(body).await;
        assert_eq!(
            status, 422,
            "expected 422 for {body}: it is JSON, but not {{\"text\": \"...\"}} (400 is for what is \
             not JSON at all); got {status} {answer} (book: 01-transports/short-polling.md)"
        );
    }
    let (status, answer) = lab.post_json(&serde_json::json!({"text": "123456"})).await;
    assert_eq!(
        status, 422,
        "expected 422 for 6 characters with `max_text_chars` = 5: validate against \
         `state.config.max_text_chars`, not a number of your own; got {status} {answer} \
         (book: 01-transports/short-polling.md)"
    );
    let (status, answer) = lab.post_json(&serde_json::json!({"text": "12345"})).await;
    assert_eq!(
        status, 201,
        "expected 201 for 5 characters with `max_text_chars` = 5, got {status} {answer} \
         (book: 01-transports/short-polling.md)"
    );
}

#[tokio::test]
async fn step1_refusals_say_why_with_the_right_status() {
    // 1000 characters is the limit, and it counts characters: 1000 `é` are 2000 bytes.
    let lab = start(config()).await;
    let cases = [
        (serde_json::json!({"text": ""}), 422, "an empty text"),
        (
            serde_json::json!({"text": "x".repeat(1001)}),
            422,
            "1001 characters",
        ),
        (
            serde_json::json!({"text": "x".repeat(1000)}),
            201,
            "1000 characters",
        ),
        (
            serde_json::json!({"text": "é".repeat(1000)}),
            201,
            "1000 `é` (2000 bytes)",
        ),
    ];
    for (body, expected, what) in cases {
        let (status, answer) = lab.post_json(&body).await;
        assert_eq!(
            status, expected,
            "expected {expected} for {what}, got {status} {answer} (book: 01-transports/short-polling.md)"
        );
    }
    let (status, answer) = lab.post_raw("{not json").await;
    assert_eq!(
        status, 400,
        "expected 400 for a body that is not JSON, got {status} {answer} (book: 01-transports/short-polling.md)"
    );
}

#[tokio::test]
async fn step1_ids_start_at_1_and_the_history_keeps_the_newest() {
    let feed = Feed::new(3, 8);
    let first = feed.publish("a".to_owned());
    assert_eq!(
        first.id, 1,
        "expected the first message to get id 1 (book: 01-transports/short-polling.md)"
    );
    for text in ["b", "c", "d", "e"] {
        feed.publish(text.to_owned());
    }
    assert_eq!(
        ids(&feed.since(0)),
        vec![3, 4, 5],
        "expected a history of 3 to keep the 3 newest of 5 messages, oldest first: drop the \
         oldest (`pop_front`) once it holds `history_capacity` (book: 01-transports/short-polling.md)"
    );
}

// ---------------------------------------------------------------------------------------
// Step 2: short polling. Book: 01-transports/short-polling.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step2_poll_returns_what_is_after_the_cursor_at_once() {
    let lab = start(config()).await;
    assert_eq!(lab.poll(0).await, vec![], "an empty feed polls as []");
    for text in ["one", "two", "three"] {
        lab.publish(text).await;
    }
    let all = lab.poll(0).await;
    assert_eq!(
        ids(&all),
        vec![1, 2, 3],
        "after=0 is everything in the history"
    );
    assert_eq!(all[0].text, "one");
    assert_eq!(
        ids(&lab.poll(2).await),
        vec![3],
        "after=2 is what came after id 2"
    );
    let started = Instant::now();
    assert_eq!(lab.poll(3).await, vec![], "nothing after the last id: []");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "short polling answers at once, even with no news"
    );
}

#[tokio::test]
async fn step2_poll_after_zero_is_what_the_history_still_holds() {
    let lab = start(Config {
        history: 5,
        ..config()
    })
    .await;
    for i in 1..=8 {
        lab.publish(&format!("m{i}")).await;
    }
    assert_eq!(
        ids(&lab.poll(0).await),
        vec![4, 5, 6, 7, 8],
        "with a history of 5, after=0 gives the 5 newest"
    );
}

#[tokio::test]
async fn step2_poll_without_after_is_the_whole_history() {
    let lab = start(config()).await;
    for text in ["one", "two"] {
        lab.publish(text).await;
    }
    let response = lab.get("/poll").await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "expected 200 for GET /poll without `after`: absent means 0 (book: 01-transports/short-polling.md)"
    );
    let messages: Vec<Message> = within(SOON, response.json(), "the body of GET /poll")
        .await
        .expect("GET /poll should answer a JSON array of {id, text}");
    assert_eq!(
        ids(&messages),
        vec![1, 2],
        "expected GET /poll without `after` to be the whole history, as after=0 (book: 01-transports/short-polling.md)"
    );
    assert_eq!(
        ids(&lab.poll(1).await),
        vec![2],
        "expected only what comes after the cursor for after=1 (book: 01-transports/short-polling.md)"
    );
}

// ---------------------------------------------------------------------------------------
// Step 3: long polling. Book: 01-transports/long-polling.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step3_long_poll_answers_at_once_when_there_is_news() {
    let lab = start(config()).await;
    lab.publish("already there").await;
    let started = Instant::now();
    let response = lab.get("/long-poll?after=0&timeout_ms=10000").await;
    assert_eq!(response.status().as_u16(), 200);
    let messages: Vec<Message> = within(SOON, response.json(), "the body of the long poll")
        .await
        .expect("a JSON array");
    assert_eq!(ids(&messages), vec![1]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "news already there: no waiting (book: 01-transports/long-polling.md)"
    );
}

#[tokio::test]
async fn step3_long_poll_holds_the_request_until_a_message_arrives() {
    let lab = start(config()).await;
    lab.publish("before").await;
    let url = lab.url("/long-poll?after=1&timeout_ms=10000");
    let http = lab.http.clone();
    let mut held = tokio::spawn(async move { http.get(url).send().await });
    // Message 2 does not exist yet: the server must hold the request until it is published.
    tokio::select! {
        () = lab.until_subscribers(1, "the long poll to be held") => {}
        early = &mut held => panic!(
            "GET /long-poll?after=1 answered before message 2 existed ({:?}); it should be \
             held until news or timeout (book: 01-transports/long-polling.md)",
            early.map(|answer| answer.map(|response| response.status()))
        ),
    }
    lab.publish("the news").await;
    let response = within(SOON, held, "the held long poll to return")
        .await
        .expect("the request task")
        .expect("GET /long-poll failed: is it implemented? (book: 01-transports/long-polling.md)");
    assert_eq!(response.status().as_u16(), 200, "news arrived: 200");
    let messages: Vec<Message> = within(SOON, response.json(), "the body of the long poll")
        .await
        .expect("a JSON array");
    assert_eq!(
        messages,
        vec![Message {
            id: 2,
            text: "the news".into()
        }],
        "the held request returns the message published while it waited"
    );
}

#[tokio::test]
async fn step3_long_poll_times_out_with_204_and_the_timeout_is_capped() {
    let lab = start(Config {
        long_poll_default: Duration::from_millis(300),
        long_poll_max: Duration::from_millis(400),
        ..config()
    })
    .await;
    let started = Instant::now();
    let response = lab.get("/long-poll?after=0&timeout_ms=200").await;
    assert_eq!(
        response.status().as_u16(),
        204,
        "no news before timeout_ms: 204 No Content (book: 01-transports/long-polling.md)"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the request must be held for timeout_ms, it returned after {:?}",
        started.elapsed()
    );
    // Asked for 100 s, but the cap (400 ms here, 60 s by default) wins.
    let response = lab.get("/long-poll?after=0&timeout_ms=100000").await;
    assert_eq!(
        response.status().as_u16(),
        204,
        "timeout_ms is capped at the maximum"
    );
    // No timeout_ms: the default (300 ms here, 25 s by default).
    let response = lab.get("/long-poll?after=0").await;
    assert_eq!(
        response.status().as_u16(),
        204,
        "without timeout_ms the default applies"
    );
}

#[tokio::test]
async fn step3_long_poll_answers_every_message_after_the_cursor() {
    // The answer is everything after `after`, not just the message that ended the wait:
    // a client that was slow catches up in one response.
    let lab = start(config()).await;
    for text in ["one", "two", "three"] {
        lab.publish(text).await;
    }
    let response = within(
        SOON,
        lab.http
            .get(lab.url("/long-poll?after=1&timeout_ms=10000"))
            .send(),
        "the answer at once to GET /long-poll?after=1: messages 2 and 3 are already after the \
         cursor, and `subscribe(Some(after))` replays them (book: 01-transports/long-polling.md)",
    )
    .await
    .expect("GET /long-poll failed: is it implemented? (book: 01-transports/long-polling.md)");
    assert_eq!(
        response.status().as_u16(),
        200,
        "expected 200 at once: messages 2 and 3 are already after the cursor (book: 01-transports/long-polling.md)"
    );
    let messages: Vec<Message> = within(SOON, response.json(), "the body of the long poll")
        .await
        .expect("a JSON array");
    assert_eq!(
        ids(&messages),
        vec![2, 3],
        "expected every message after the cursor (`state.feed.since(after)`), not only the \
         one that woke the request (book: 01-transports/long-polling.md)"
    );
}

#[tokio::test]
async fn step3_a_held_long_poll_answers_503_when_the_server_shuts_down() {
    // The shutdown is triggered by hand here; step 6 wires it to Ctrl-C.
    let state = AppState::new(config());
    let (feed, shutdown) = (state.feed.clone(), state.shutdown.clone());
    let server = TestServer::start(transports::router(state)).await;
    let url = server.url("/long-poll?after=0&timeout_ms=30000");
    let held = tokio::spawn(async move { reqwest::get(url).await });
    within(
        SOON,
        async {
            while feed.subscribers() < 1 {
                tokio::task::yield_now().await;
            }
        },
        "the long poll to be held on a subscription (book: 01-transports/long-polling.md)",
    )
    .await;
    shutdown.trigger();
    let response = within(
        SOON,
        held,
        "the held long poll's answer once the shutdown is triggered: `select!` on \
         `state.shutdown.triggered()` too (book: 01-transports/long-polling.md)",
    )
    .await
    .expect("the request task")
    .expect("GET /long-poll failed");
    assert_eq!(
        response.status().as_u16(),
        503,
        "expected 503 Service Unavailable for a held poll when the server shuts down (book: 01-transports/long-polling.md)"
    );
}

// ---------------------------------------------------------------------------------------
// Step 4: Server-Sent Events. Book: 01-transports/sse.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step4_sse_delivers_each_message_as_an_event_with_its_id() {
    let lab = start(config()).await;
    let mut events = lab.sse(None).await;
    lab.publish("first").await;
    lab.publish("second").await;
    let received = next_events(&mut events, 2, "two SSE events").await;
    assert_eq!(
        received,
        vec![
            Message {
                id: 1,
                text: "first".into()
            },
            Message {
                id: 2,
                text: "second".into()
            },
        ],
        "each published message arrives once, in order"
    );
}

#[tokio::test]
async fn step4_sse_replays_from_last_event_id_then_goes_live() {
    let lab = start(config()).await;
    for i in 1..=5 {
        lab.publish(&format!("m{i}")).await;
    }
    let mut events = lab.sse(Some(3)).await;
    let replayed = next_events(&mut events, 2, "the replay after Last-Event-ID: 3").await;
    assert_eq!(
        ids(&replayed),
        vec![4, 5],
        "Last-Event-ID: 3 replays 4 and 5 first"
    );
    lab.publish("live").await;
    let live = next_events(&mut events, 1, "the live event after the replay").await;
    assert_eq!(ids(&live), vec![6], "then goes live: no gap, no duplicate");

    // The same cursor as a query parameter, for curl and manual tests.
    let response = lab.get("/sse?lastEventId=5").await;
    let mut events = Box::pin(
        response
            .bytes_stream()
            .eventsource()
            .filter_map(|e| async move { e.ok() }),
    );
    let replayed = next_events(&mut events, 1, "the replay after ?lastEventId=5").await;
    assert_eq!(ids(&replayed), vec![6], "?lastEventId=5 replays from 6");
}

#[tokio::test]
async fn step4_sse_live_messages_at_or_before_the_cursor_are_not_sent() {
    // A client may resume with a cursor the feed has not reached yet (it saw ids from a
    // server that had published more). `Last-Event-ID: 2` means "I have everything up to
    // 2": ids 1 and 2, when they are published later, are not news to it.
    let lab = start(config()).await;
    let mut events = lab.sse(Some(2)).await;
    for i in 1..=3 {
        lab.publish(&format!("m{i}")).await;
    }
    let received = next_events(&mut events, 1, "the first event after Last-Event-ID: 2").await;
    assert_eq!(
        ids(&received),
        vec![3],
        "with Last-Event-ID: 2, the live messages 1 and 2 must be skipped and 3 sent first; \
         `Subscription::next` must skip a live message whose id is not above the cursor \
         (book: 01-transports/sse.md, \"Replay without a gap or a duplicate\")"
    );
}

#[tokio::test]
async fn step4_sse_announces_retry_and_sends_keep_alive_comments() {
    let lab = start(Config {
        keep_alive: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut stream = TcpStream::connect(lab.addr()).await.expect("connect");
    stream
        .write_all(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .expect("writing the request");
    let reply = read_until(
        &mut stream,
        Vec::new(),
        |b| String::from_utf8_lossy(b).contains(": keep-alive\n\n"),
        "a `: keep-alive` comment every `keep_alive` (200 ms here): `Sse::keep_alive` with the \
         text \"keep-alive\" (book: 01-transports/sse.md)",
    )
    .await;
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("retry: 1000\n"),
        "expected the stream to start with `retry: <ms>` from the config (book: 01-transports/sse.md):\n{text}"
    );
}

#[tokio::test]
async fn step4_reconnecting_sse_client_resumes_without_loss() {
    let lab = start(config()).await;
    let mut events = lab.sse(None).await;
    for i in 1..=3 {
        lab.publish(&format!("m{i}")).await;
    }
    let first = next_events(&mut events, 3, "the first three events").await;
    let last_seen = first.last().expect("three events").id;
    drop(events); // the connection drops, as on a network change
    for i in 4..=6 {
        lab.publish(&format!("m{i}")).await;
    }
    let mut events = lab.sse(Some(last_seen)).await;
    lab.publish("m7").await;
    let resumed = next_events(&mut events, 4, "the events after reconnecting").await;
    let mut all = first;
    all.extend(resumed);
    assert_eq!(
        ids(&all),
        (1..=7).collect::<Vec<_>>(),
        "across the reconnection: every message once, in order (book: 01-transports/sse.md)"
    );
    assert_eq!(all[6].text, "m7");
}

#[tokio::test]
async fn step4_sse_stream_bytes_snapshot() {
    let lab = start(Config {
        keep_alive: Duration::from_secs(2),
        sse_retry: Duration::from_secs(3),
        ..config()
    })
    .await;
    lab.publish("hello").await;
    lab.publish("you missed this one").await;
    let request = "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nLast-Event-ID: 1\r\n\r\n";
    let mut stream = TcpStream::connect(lab.addr()).await.expect("connect");
    let replay = raw_exchange(&mut stream, request.as_bytes(), |b| {
        String::from_utf8_lossy(b).contains("\"id\":2")
    })
    .await;
    lab.publish("and this one is live").await;
    let live = read_until(
        &mut stream,
        replay,
        |b| String::from_utf8_lossy(b).contains("\"id\":3"),
        "event 3",
    )
    .await;
    let seen = live.len();
    let all = read_until(
        &mut stream,
        live,
        |b| String::from_utf8_lossy(&b[seen..]).contains("keep-alive"),
        "a keep-alive comment",
    )
    .await;
    let wire = String::from_utf8_lossy(&all).into_owned();
    let mut transcript = Transcript::new();
    transcript
        .note("The client resumes after id 1 (EventSource sends Last-Event-ID when it reconnects).")
        .client(request)
        .note("Headers, then a chunked body: each chunk is its length in hex, CR LF, the bytes, CR LF.")
        .server(&wire);
    redact_run(&mut transcript, &wire, lab.addr());
    let sse_stream = transcript.render();
    insta::assert_snapshot!("sse_stream", sse_stream);
}

#[tokio::test]
async fn step4_a_new_sse_client_starts_with_the_next_message() {
    // Without `Last-Event-ID` a client has seen nothing and wants what comes next: the
    // history is for clients that resume.
    let lab = start(config()).await;
    for text in ["old", "older"] {
        lab.publish(text).await;
    }
    let mut events = lab.sse(None).await;
    lab.until_subscribers(1, "the SSE stream").await;
    lab.publish("new").await;
    let first = next_events(&mut events, 1, "the first SSE event of a new client").await;
    assert_eq!(
        ids(&first),
        vec![3],
        "expected a client without Last-Event-ID to start with the next message, not the \
         history (book: 01-transports/sse.md)"
    );
}

#[tokio::test]
async fn step4_the_sse_stream_ends_when_the_server_shuts_down() {
    // The shutdown is triggered by hand here; step 6 wires it to Ctrl-C.
    let state = AppState::new(config());
    let shutdown = state.shutdown.clone();
    let server = TestServer::start(transports::router(state)).await;
    let response = within(
        SOON,
        reqwest::get(server.url("/sse")),
        "the headers of GET /sse",
    )
    .await
    .expect("GET /sse failed: is the handler implemented? (book: 01-transports/sse.md)");
    let mut body = response.bytes_stream();
    // The retry field comes first: the stream is open.
    within(
        SOON,
        body.next(),
        "the first bytes of the SSE stream (book: 01-transports/sse.md)",
    )
    .await;
    shutdown.trigger();
    within(
        SOON,
        async { while let Some(Ok(_)) = body.next().await {} },
        "the end of the SSE stream once the shutdown is triggered \
         (`take_until(state.shutdown.triggered())`, book: 01-transports/sse.md)",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Step 5: WebSocket. Book: 01-transports/websocket.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step5_ws_receives_each_message_as_a_json_text_frame() {
    let lab = start(config()).await;
    let mut ws = lab.ws(None).await;
    lab.publish("over the socket").await;
    let frame = next_json(&mut ws, "the published message as a frame").await;
    assert_eq!(
        frame,
        serde_json::json!({"id": 1, "text": "over the socket"})
    );
}

#[tokio::test]
async fn step5_ws_text_frames_publish_to_every_transport() {
    let lab = start(config()).await;
    let mut sender = lab.ws(None).await;
    let mut listener = lab.ws(None).await;
    let mut events = lab.sse(None).await;
    sender
        .send(Frame::text(r#"{"text":"from a socket"}"#))
        .await
        .expect("sending a frame");
    let expected = serde_json::json!({"id": 1, "text": "from a socket"});
    assert_eq!(
        next_json(&mut listener, "the frame on another socket").await,
        expected
    );
    assert_eq!(
        next_json(&mut sender, "the frame back on the sender").await,
        expected
    );
    assert_eq!(
        ids(&next_events(&mut events, 1, "the SSE event").await),
        vec![1]
    );
    assert_eq!(ids(&lab.poll(0).await), vec![1], "and it is in the history");
}

#[tokio::test]
async fn step5_ws_invalid_frame_gets_an_error_frame_and_stays_open() {
    let lab = start(config()).await;
    let mut ws = lab.ws(None).await;
    ws.send(Frame::text(r#"{"text":""}"#)).await.expect("send");
    let error = next_json(
        &mut ws,
        "the error frame for an empty text (book: 01-transports/websocket.md)",
    )
    .await;
    assert!(
        error["error"].is_string(),
        "an invalid frame is answered with {{\"error\": ...}}, got {error}"
    );
    ws.send(Frame::text("not json")).await.expect("send");
    let error = next_json(&mut ws, "the error frame for malformed JSON").await;
    assert!(error["error"].is_string(), "got {error}");
    ws.send(Frame::text(r#"{"text":"still here"}"#))
        .await
        .expect("send");
    let ok = next_json(&mut ws, "the valid message after two errors").await;
    assert_eq!(
        ok,
        serde_json::json!({"id": 1, "text": "still here"}),
        "the connection stays open and the invalid frames published nothing"
    );
}

#[tokio::test]
async fn step5_ws_binary_frame_gets_an_error_frame_and_stays_open() {
    // Messages are JSON text; a Binary frame is refused with an error frame, like bad JSON.
    let lab = start(config()).await;
    let mut ws = lab.ws(None).await;
    ws.send(Frame::binary(b"{\"text\":\"hi\"}".to_vec()))
        .await
        .expect("send");
    let error = next_json(
        &mut ws,
        "the error frame for a Binary frame (book: 01-transports/websocket.md)",
    )
    .await;
    assert!(
        error["error"].is_string(),
        "expected {{\"error\": ...}} for a Binary frame, got {error} (book: 01-transports/websocket.md)"
    );
    ws.send(Frame::text(r#"{"text":"after binary"}"#))
        .await
        .expect("send");
    let ok = next_json(
        &mut ws,
        "the message published after a Binary frame: the connection stays open \
         (book: 01-transports/websocket.md)",
    )
    .await;
    assert_eq!(
        ok,
        serde_json::json!({"id": 1, "text": "after binary"}),
        "expected the connection to stay open and the Binary frame to publish nothing \
         (book: 01-transports/websocket.md)"
    );
}

#[tokio::test]
async fn step5_ws_accepts_a_frame_of_1000_two_byte_characters() {
    // 1000 `é` are 1000 characters (the limit) but 2000 bytes, 2011 with the JSON around
    // them: the frame size limit (`MAX_CLIENT_MESSAGE`) must leave room for that.
    let lab = start(config()).await;
    let mut ws = lab.ws(None).await;
    let text = "é".repeat(1000);
    ws.send(Frame::text(serde_json::json!({ "text": text }).to_string()))
        .await
        .expect("send");
    let frame = next_data_frame(&mut ws, "the answer to a 2011-byte text frame").await;
    let expected = serde_json::json!({ "id": 1, "text": text });
    match frame {
        Some(Ok(Frame::Text(reply)))
            if serde_json::from_str::<serde_json::Value>(&reply).ok() == Some(expected.clone()) => {
        }
        other => panic!(
            "a frame {{\"text\": 1000 × \"é\"}} (2011 bytes) is valid and should be published \
             and sent back as {{\"id\":1,...}}; got {}\n\
             (is the frame size limit counted in bytes too small? book: 01-transports/websocket.md)",
            match &other {
                Some(Ok(Frame::Text(t))) => format!("the text frame {:.120}", t.as_str()),
                other => format!("{other:?}"),
            }
        ),
    }
}

#[tokio::test]
async fn step5_ws_answers_pings_sends_pings_and_closes_cleanly() {
    let lab = start(Config {
        keep_alive: Duration::from_millis(200),
        ..config()
    })
    .await;
    let mut ws = lab.ws(None).await;
    ws.send(Frame::Ping(b"are you there".to_vec().into()))
        .await
        .expect("ping");
    let mut got_pong = false;
    let mut got_ping = false;
    within(
        SOON,
        async {
            while !(got_pong && got_ping) {
                match ws.next().await {
                    Some(Ok(Frame::Pong(payload))) => {
                        assert_eq!(
                            &payload[..],
                            b"are you there",
                            "a Pong echoes the Ping's payload"
                        );
                        got_pong = true;
                    }
                    Some(Ok(Frame::Ping(_))) => got_ping = true,
                    other => panic!(
                        "before anything is published, expected only a Pong (our Ping \
                         answered) and Pings (keep-alive), got {} (book: 01-transports/websocket.md)",
                        describe(&other)
                    ),
                }
            }
        },
        "a Pong to our Ping and a Ping from the server every `keep_alive` \
         (book: 01-transports/websocket.md)",
    )
    .await;
    ws.send(Frame::Close(Some(
        tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        },
    )))
    .await
    .expect("sending Close");
    let reply = within(
        SOON,
        async {
            loop {
                match ws.next().await {
                    Some(Ok(Frame::Close(frame))) => return Ok(frame),
                    Some(Ok(_)) => continue,
                    other => return Err(describe(&other)),
                }
            }
        },
        "the server's Close frame answering ours",
    )
    .await;
    if let Err(got) = reply {
        panic!(
            "a clean close: expected the server to answer our Close frame with its own before \
             the TCP connection ends (RFC 6455, 5.5.1); instead of a Close frame we got {got}. \
             axum queues that reply and sends it when the socket is next written or \
             flushed (book: 01-transports/websocket.md, \"Closing\")"
        );
    }
}

/// The opening handshake and a few frames, byte for byte, for the book.
#[tokio::test]
async fn step5_websocket_upgrade_and_frames_snapshot() {
    let lab = start(Config {
        keep_alive: Duration::from_secs(60),
        ..config()
    })
    .await;
    // The key from RFC 6455's own example, so the accept value is the RFC's too.
    let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut stream = TcpStream::connect(lab.addr()).await.expect("connect");
    let reply = raw_exchange(&mut stream, request.as_bytes(), |b| {
        String::from_utf8_lossy(b).contains("\r\n\r\n")
    })
    .await;
    let head = String::from_utf8_lossy(&reply).into_owned();
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "the upgrade is answered 101 Switching Protocols, got:\n{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "Sec-WebSocket-Accept is base64(SHA-1(key + GUID)), RFC 6455 section 1.3"
    );
    let mut transcript = Transcript::new();
    transcript
        .note("An ordinary HTTP/1.1 request asks to switch protocols (RFC 6455, section 4.1).")
        .client(request)
        .server(&head)
        .note("From here on the same TCP connection carries WebSocket frames, not HTTP.");
    redact_run(&mut transcript, &head, lab.addr());

    // Server → client: a published message, one unmasked text frame.
    lab.publish("hello").await;
    let frame = read_frame(&mut stream, "the Text frame of message 1").await;
    expect_frame(&frame, 0x81, "the Text frame of message 1");
    transcript
        .note("Server to client: {\"id\":1,\"text\":\"hello\"} as a text frame (FIN=1, opcode=1, no mask).")
        .server(kit::transcript::hex(&frame));

    // Client → server: masked, as RFC 6455 requires of clients (mask key fixed here).
    let payload = br#"{"text":"hi"}"#;
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut client_frame = vec![0x81, 0x80 | payload.len() as u8];
    client_frame.extend_from_slice(&mask);
    client_frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream
        .write_all(&client_frame)
        .await
        .expect("sending the frame");
    transcript
        .note(
            "Client to server: {\"text\":\"hi\"}, masked with the key 37 fa 21 3d (mask bit set).",
        )
        .client(kit::transcript::hex(&client_frame));
    let echoed = read_frame(&mut stream, "the Text frame of message 2, our own").await;
    expect_frame(&echoed, 0x81, "the Text frame of message 2, our own");
    transcript
        .note("The server published it: every client, the sender included, gets message 2.")
        .server(kit::transcript::hex(&echoed));

    // Close: code 1000 (normal), masked; the server answers with its own Close.
    let close = [
        0x88,
        0x82,
        mask[0],
        mask[1],
        mask[2],
        mask[3],
        0x03 ^ mask[0],
        0xe8 ^ mask[1],
    ];
    stream.write_all(&close).await.expect("sending Close");
    transcript
        .note("Client closes: opcode 8, status 1000 (03 e8), masked.")
        .client(kit::transcript::hex(&close));
    let what = "the server's Close frame answering ours (axum sends it when the socket is \
                flushed; book: 01-transports/websocket.md)";
    let reply = read_frame(&mut stream, what).await;
    expect_frame(&reply, 0x88, what);
    transcript
        .note("Server answers Close with status 1000; then the TCP connection ends.")
        .server(kit::transcript::hex(&reply));
    let websocket_handshake = transcript.render();
    insta::assert_snapshot!("websocket_handshake", websocket_handshake);
}

/// Reads the next whole WebSocket frame from the server (payloads under 64 KiB) that is
/// not a Ping, and returns its bytes. A server may ping whenever it likes, at once
/// included (`tokio::time::interval` ticks at once); the snapshot shows data frames.
async fn read_frame(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut pending = Vec::new();
    loop {
        let bytes = read_until(
            stream,
            pending,
            |b| frame_len(b).is_some_and(|len| b.len() >= len),
            what,
        )
        .await;
        let len = frame_len(&bytes).expect("a frame header");
        if bytes[0] & 0x0f == 0x9 {
            pending = bytes[len..].to_vec();
            continue;
        }
        return bytes[..len].to_vec();
    }
}

/// Fails, naming both frames and showing the bytes in hex, unless `frame` starts with
/// `first_byte` (FIN and the opcode).
fn expect_frame(frame: &[u8], first_byte: u8, what: &str) {
    assert!(
        frame[0] == first_byte,
        "{what}: expected a {} frame (first byte {first_byte:02x}), got a {} frame \
         (first byte {:02x}); the frame was {} (book: 01-transports/websocket.md, \"Reading a frame\")",
        frame_kind(first_byte),
        frame_kind(frame[0]),
        frame[0],
        describe_bytes(frame)
    );
}

fn frame_len(b: &[u8]) -> Option<usize> {
    if b.len() < 2 {
        return None;
    }
    let mask = if b[1] & 0x80 != 0 { 4 } else { 0 };
    match b[1] & 0x7f {
        126 if b.len() >= 4 => Some(4 + mask + u16::from_be_bytes([b[2], b[3]]) as usize),
        126 | 127 => None,
        n => Some(2 + mask + n as usize),
    }
}

// ---------------------------------------------------------------------------------------
// Wire snapshots for the polling pages (part of steps 2 and 3).
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step2_short_poll_exchange_snapshot() {
    let lab = start(config()).await;
    lab.publish("hello").await;
    let mut transcript = Transcript::new();
    let mut wire = String::new();
    let mut stream = TcpStream::connect(lab.addr()).await.expect("connect");
    for after in [0, 1] {
        let request = format!("GET /poll?after={after} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let reply = raw_exchange(&mut stream, request.as_bytes(), whole_response).await;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "GET /poll answers 200, got:\n{reply}"
        );
        transcript.client(&request).server(&reply);
        wire.push_str(&reply);
    }
    redact_run(&mut transcript, &wire, lab.addr());
    let short_poll = transcript.render();
    insta::assert_snapshot!("short_poll", short_poll);
}

#[tokio::test]
async fn step3_long_poll_exchange_snapshot() {
    let lab = start(config()).await;
    lab.publish("hello").await;
    let mut transcript = Transcript::new();
    let mut stream = TcpStream::connect(lab.addr()).await.expect("connect");
    let request = "GET /long-poll?after=1&timeout_ms=25000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("send");
    lab.until_subscribers(1, "the long poll to be held").await;
    lab.publish("news for you").await;
    let reply = read_until(&mut stream, Vec::new(), whole_response, "the held reply").await;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "news: 200, got:\n{reply}"
    );
    transcript
        .note("Held by the server until message 2 is published, then answered:")
        .client(request)
        .server(&reply);
    let request2 = "GET /long-poll?after=2&timeout_ms=100 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let timeout = raw_exchange(&mut stream, request2.as_bytes(), whole_response).await;
    let timeout = String::from_utf8_lossy(&timeout).into_owned();
    assert!(
        timeout.starts_with("HTTP/1.1 204"),
        "no news: 204, got:\n{timeout}"
    );
    transcript
        .note("No news within timeout_ms: 204 No Content, and the client asks again.")
        .client(request2)
        .server(&timeout);
    redact_run(&mut transcript, &format!("{reply}\n{timeout}"), lab.addr());
    let long_poll = transcript.render();
    insta::assert_snapshot!("long_poll", long_poll);
}

// ---------------------------------------------------------------------------------------
// Step 6: bad input, slow clients, many clients, Ctrl-C. Book: 01-transports/lab.md
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn step6_bad_input_is_refused_with_the_right_status() {
    let lab = start(config()).await;
    let long = format!(r#"{{"text":"{}"}}"#, "x".repeat(1001));
    let posts: &[(&str, &str, u16)] = &[
        ("empty text", r#"{"text":""}"#, 422),
        ("1001 characters", &long, 422),
        ("no text field", r#"{"txt":"hello"}"#, 422),
        ("text is a number", r#"{"text":5}"#, 422),
        ("JSON but not an object", r#""hello""#, 422),
        ("not JSON", "hello", 400),
        ("truncated JSON", r#"{"text":"hel"#, 400),
        ("empty body", "", 400),
    ];
    let gets: &[(&str, &str, u16)] = &[
        ("negative after", "/poll?after=-1", 400),
        ("after not a number", "/poll?after=abc", 400),
        ("long poll after not a number", "/long-poll?after=x", 400),
        ("negative timeout", "/long-poll?after=0&timeout_ms=-5", 400),
        (
            "timeout not a number",
            "/long-poll?after=0&timeout_ms=soon",
            400,
        ),
        ("lastEventId not a number", "/sse?lastEventId=x", 400),
    ];
    let mut wrong = Vec::new();
    for (case, body, expected) in posts {
        let (status, json) = lab.post_raw(body.to_string()).await;
        if status != *expected || !json["error"].is_string() {
            wrong.push(format!(
                "POST /messages {case}: expected {expected} + JSON error, got {status} {json}"
            ));
        }
    }
    for (case, path, expected) in gets {
        let response = lab.get(path).await;
        let status = response.status().as_u16();
        if status != *expected {
            // Not read: a wrong answer may be a stream that never ends (SSE, a held poll).
            wrong.push(format!(
                "GET {path} ({case}): expected {expected} + JSON error, got {status}"
            ));
            continue;
        }
        let json: serde_json::Value =
            within(SOON, response.json(), &format!("the body of GET {path}"))
                .await
                .unwrap_or_default();
        if !json["error"].is_string() {
            wrong.push(format!(
                "GET {path} ({case}): expected {expected} + JSON error, got {status} {json}"
            ));
        }
    }
    let response = within(
        SOON,
        lab.http
            .get(lab.url("/sse"))
            .header("Last-Event-ID", "yesterday")
            .send(),
        "GET /sse with a bad Last-Event-ID",
    )
    .await
    .expect("GET /sse");
    if response.status().as_u16() != 400 {
        wrong.push(format!(
            "GET /sse with Last-Event-ID: yesterday: expected 400, got {}",
            response.status()
        ));
    }
    let handshake = within(
        SOON,
        tokio_tungstenite::connect_async(lab.server.ws_url("/ws?after=x")),
        "the WebSocket handshake with a bad `after`",
    )
    .await;
    match handshake {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) if response.status() == 400 => {}
        Err(other) => wrong.push(format!(
            "GET /ws?after=x: expected a 400 refusal, got {other}"
        )),
        Ok(_) => wrong.push("GET /ws?after=x: expected a 400 refusal, got 101".to_owned()),
    }
    let mut ws = lab.ws(None).await;
    for (case, frame) in [
        ("empty text", r#"{"text":""}"#.to_owned()),
        ("too long", long.clone()),
        ("not JSON", "hello".to_owned()),
        ("no text field", r#"{"message":"hi"}"#.to_owned()),
    ] {
        ws.send(Frame::text(frame)).await.expect("send");
        let reply = next_json(&mut ws, &format!("the error frame for {case}")).await;
        if !reply["error"].is_string() {
            wrong.push(format!(
                "WebSocket frame {case}: expected {{\"error\": ...}}, got {reply}"
            ));
        }
    }
    assert_eq!(
        lab.poll(0).await,
        vec![],
        "no bad input may publish anything"
    );
    assert!(
        wrong.is_empty(),
        "bad input not refused as specified (book: 01-transports/lab.md):\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn step6_a_subscriber_that_falls_behind_resyncs_from_the_history() {
    // A queue of 4 per subscriber, a history of 100: 20 unread messages overflow the queue.
    let feed = Feed::new(100, 4);
    let mut subscription = feed.subscribe(None);
    for i in 1..=20 {
        feed.publish(format!("m{i}"));
    }
    let mut received = Vec::new();
    for _ in 0..20 {
        let next = within(
            SOON,
            subscription.next(),
            "the next message after overflowing (book: 01-transports/lab.md)",
        )
        .await;
        received.push(
            next.expect(
                "expected the subscriber to be resynchronised from the history, not ended: \
                 its next message is still there (book: 01-transports/lab.md)",
            )
            .id,
        );
    }
    assert_eq!(
        received,
        (1..=20).collect::<Vec<_>>(),
        "a subscriber whose queue overflowed must resume from the history: all 20, in order \
         (book: 01-transports/lab.md)"
    );
}

#[tokio::test]
async fn step6_a_subscriber_behind_the_history_is_ended() {
    // The history (10) no longer holds what the subscriber missed: it must be told.
    let feed = Feed::new(10, 4);
    let mut subscription = feed.subscribe(None);
    for i in 1..=30 {
        feed.publish(format!("m{i}"));
    }
    let next = within(SOON, subscription.next(), "the subscription's verdict").await;
    assert_eq!(
        next,
        Err(Ended::FellBehind {
            cursor: 0,
            oldest: 21
        }),
        "messages 1 to 20 are gone: the subscriber fell behind and must be disconnected \
         (book: 01-transports/lab.md)"
    );
}

#[tokio::test]
async fn step6_a_stalled_client_blocks_neither_the_publisher_nor_the_others() {
    let lab = start(Config {
        client_queue: 8,
        ..config()
    })
    .await;
    // A client that opens an SSE stream and a WebSocket and never reads, with a tiny
    // receive buffer: the server's writes to it stall almost at once.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stalled = socket.connect(lab.addr()).await.expect("connect");
    stalled
        .write_all(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send");
    let mut live = lab.ws(None).await;
    let text = "y".repeat(1000);
    let count = 1500u64;
    let started = Instant::now();
    let publisher = async {
        for _ in 0..count {
            lab.publish(&text).await;
        }
        started.elapsed()
    };
    let reader = async {
        let mut ids = Vec::new();
        while (ids.len() as u64) < count {
            let frame = next_json(&mut live, "the next message on the live socket").await;
            ids.push(frame["id"].as_u64().expect("an id"));
        }
        ids
    };
    let (took, ids) = within(
        Duration::from_secs(60),
        async { tokio::join!(publisher, reader) },
        "1500 publications and their delivery to the live client",
    )
    .await;
    assert_eq!(
        ids,
        (1..=count).collect::<Vec<_>>(),
        "the live client gets everything in order although another client stalls"
    );
    eprintln!("published {count} messages of 1000 characters in {took:?} next to a stalled client");
    drop(stalled);
}

#[tokio::test]
async fn step6_many_clients_on_every_transport_get_every_message_once_in_order() {
    const CLIENTS: usize = 100;
    const MESSAGES: u64 = 50;
    // A small queue: some subscribers overflow it and must resync from the history.
    let lab = start(Config {
        client_queue: 16,
        ..config()
    })
    .await;
    let expected: Vec<Message> = (1..=MESSAGES)
        .map(|id| Message {
            id,
            text: format!("message {id}"),
        })
        .collect();

    let mut sse_streams = Vec::new();
    for _ in 0..CLIENTS {
        sse_streams.push(lab.sse(None).await);
    }
    let mut sockets = Vec::new();
    for _ in 0..CLIENTS {
        sockets.push(lab.ws(None).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut events) in sse_streams.into_iter().enumerate() {
        tasks.spawn(async move {
            let got = next_events(&mut events, MESSAGES as usize, "SSE events").await;
            (format!("SSE client {i}"), got)
        });
    }
    for (i, mut ws) in sockets.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut got = Vec::new();
            while got.len() < MESSAGES as usize {
                let json = next_json(&mut ws, "WebSocket frames").await;
                got.push(serde_json::from_value::<Message>(json).expect("a message"));
            }
            (format!("WebSocket client {i}"), got)
        });
    }
    for i in 0..CLIENTS {
        let http = lab.http.clone();
        let base = lab.url("/long-poll");
        tasks.spawn(async move {
            let mut got: Vec<Message> = Vec::new();
            while got.len() < MESSAGES as usize {
                let after = got.last().map_or(0, |m| m.id);
                let response = within(
                    SOON,
                    http.get(format!("{base}?after={after}&timeout_ms=2000"))
                        .send(),
                    "a long poll",
                )
                .await
                .expect("GET /long-poll");
                match response.status().as_u16() {
                    200 => {
                        let batch =
                            within(SOON, response.json::<Vec<Message>>(), "a long poll's body")
                                .await
                                .expect("JSON");
                        // Without this, a server answering `200 []` at once would keep
                        // the client asking until the overall limit.
                        assert!(
                            !batch.is_empty(),
                            "long-poll client {i}: GET /long-poll?after={after} answered 200 \
                             with an empty array; expected the messages after {after} (200) \
                             or 204 on timeout (book: 01-transports/long-polling.md)"
                        );
                        got.extend(batch);
                    }
                    204 => continue,
                    other => panic!("long poll answered {other}"),
                }
            }
            (format!("long-poll client {i}"), got)
        });
    }
    for message in &expected {
        lab.publish(&message.text).await;
    }
    let results = within(
        Duration::from_secs(10),
        tasks.join_all(),
        "300 clients to receive 50 messages each",
    )
    .await;
    let mut wrong = Vec::new();
    for (who, got) in &results {
        if got != &expected {
            wrong.push(format!("{who}: got ids {:?}", ids(got)));
        }
    }
    assert_eq!(results.len(), 3 * CLIENTS);
    assert!(
        wrong.is_empty(),
        "{} of {} clients did not get messages 1..=50 exactly once in order (book: 01-transports/lab.md):\n{}",
        wrong.len(),
        results.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn step6_ctrl_c_ends_open_streams_promptly() {
    let mut lab = start(config()).await;
    let mut events = lab.sse(None).await;
    let mut ws = lab.ws(None).await;
    let held = tokio::spawn(
        lab.http
            .get(lab.url("/long-poll?after=0&timeout_ms=60000"))
            .send(),
    );
    lab.publish("the last one").await;
    next_events(&mut events, 1, "the SSE event before Ctrl-C").await;
    next_json(&mut ws, "the WebSocket frame before Ctrl-C").await;
    let _ = held.await;
    // A fresh long poll, held when Ctrl-C comes.
    let held = tokio::spawn(
        lab.http
            .get(lab.url("/long-poll?after=1&timeout_ms=60000"))
            .send(),
    );
    // SSE, WebSocket and the long poll: three subscriptions once the poll is held.
    lab.until_subscribers(3, "the long poll to be held before Ctrl-C")
        .await;
    let pressed = Instant::now();
    lab.press_ctrl_c();
    let limit = Duration::from_secs(3);
    let end = within(
        limit,
        events.next(),
        "the SSE stream to end after Ctrl-C: `serve` triggers `shutdown` once the signal \
         comes (book: 01-transports/lab.md)",
    )
    .await;
    assert!(
        end.is_none(),
        "after Ctrl-C the SSE stream ends, got {end:?}"
    );
    let close = within(
        limit,
        async {
            loop {
                match ws.next().await {
                    Some(Ok(Frame::Close(frame))) => return frame.map(|f| f.code),
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        },
        "the WebSocket Close frame after Ctrl-C",
    )
    .await;
    assert_eq!(
        close,
        Some(CloseCode::Away),
        "Ctrl-C closes WebSockets with 1001 Going Away"
    );
    let response = within(limit, held, "the held long poll to end after Ctrl-C").await;
    if let Ok(Ok(response)) = response {
        assert_ne!(
            response.status().as_u16(),
            200,
            "no news: the long poll is not a 200"
        );
    }
    let stopped = lab.stopped.take().expect("not yet stopped");
    let result = within(
        limit,
        stopped,
        "serve() to return after Ctrl-C (book: 01-transports/lab.md)",
    )
    .await;
    assert!(
        matches!(result, Ok(Ok(()))),
        "serve() must return Ok after Ctrl-C, got {result:?}"
    );
    eprintln!("everything closed {:?} after Ctrl-C", pressed.elapsed());
}
