//! The send path and the end of a server, seen from real clients on 127.0.0.1: what a client
//! that stops reading costs the others, the bounds on a client's queue, a backlog written in
//! batches, volatile packets, graceful shutdown, an aborted polling GET, and the ping timeout's
//! instant over polling.
//!
//! Solution-only tests (not graded): they check the server's robustness, which the lab's steps
//! do not ask the learner to build.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use socketio::engine::packet::Outgoing;
use socketio::engine::session::{CloseReason, Session, SessionHandler};
use socketio::engine::{Engine, EngineHandler};
use socketio::{Config, Socket, SocketIo};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);
const PRODUCTION_PAGE: &str = "book/src/02-socketio/in-production.md";
const ENGINE_PAGE: &str = "book/src/02-socketio/engine-io.md";

/// A server whose namespace `/` speaks the chat contract and reports every disconnect.
fn reporting_io(config: Config) -> (SocketIo, mpsc::UnboundedReceiver<(String, String)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let io = SocketIo::builder()
        .config(config)
        .ns("/", move |socket: Socket| {
            socketio::chat::register(&socket);
            let tx = tx.clone();
            socket.on_disconnect(move |socket, reason| {
                let _ = tx.send((socket.id().to_owned(), reason.to_owned()));
            });
            socket.on("volatile", |socket, event| {
                // Three volatile packets in a row: only a writer parked on an empty queue
                // takes one, so at most the first is queued.
                let session = socket.engine_session();
                let queued: Vec<Value> = (0..3)
                    .map(|i| {
                        Value::Bool(session.send_volatile(Outgoing::text(format!("42[\"v\",{i}]"))))
                    })
                    .collect();
                if let Some(ack) = event.ack {
                    ack.send(vec![Value::Array(queued)]);
                }
            });
            socket.on("burst", |socket, event| {
                // Sent in one go: the writer runs in the same task, so nothing drains meanwhile.
                let count = event.args.first().and_then(Value::as_u64).unwrap_or(0);
                for i in 0..count {
                    socket.emit("big", vec![json!({ "i": i, "pad": "x".repeat(1000) })]);
                }
            });
        })
        .build();
    (io, rx)
}

async fn start(io: &SocketIo) -> kit::TestServer {
    kit::TestServer::start(io.router()).await
}

async fn next_disconnect(
    rx: &mut mpsc::UnboundedReceiver<(String, String)>,
    what: &str,
) -> (String, String) {
    kit::within(WAIT, rx.recv(), what)
        .await
        .unwrap_or_else(|| panic!("the server was dropped before {what}"))
}

type Stream<S> = tokio_tungstenite::WebSocketStream<S>;

/// The next text frame, pings answered; `None` once the server closed the connection.
async fn next_text<S>(ws: &mut Stream<S>, what: &str) -> Option<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    kit::within(
        WAIT,
        async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                        let _ = ws.send(Message::text("3")).await;
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

async fn expect_text<S>(ws: &mut Stream<S>, what: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    next_text(ws, what)
        .await
        .unwrap_or_else(|| panic!("expected {what}, the server closed the connection"))
}

/// Handshake, CONNECT to `/`, and join `room` (chat contract); returns the socket id.
async fn chat_client<S>(ws: &mut Stream<S>, room: &str) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let open = expect_text(ws, "the open packet").await;
    assert!(open.starts_with("0{"), "expected `0{{...}}`, got {open}");
    ws.send(Message::text("40")).await.expect("sending 40");
    let connected = expect_text(ws, "the CONNECT answer").await;
    let sid = connected
        .strip_prefix("40")
        .and_then(|json| serde_json::from_str::<Value>(json).ok())
        .and_then(|json| json["sid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("expected `40{{\"sid\":...}}`, got {connected}"));
    ws.send(Message::text(format!("420[\"join\",\"{room}\"]")))
        .await
        .expect("sending join");
    assert_eq!(expect_text(ws, "the join ack").await, "430[true]");
    sid
}

async fn ws_client(
    server: &kit::TestServer,
) -> Stream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = server.ws_url("/socket.io/?EIO=4&transport=websocket");
    kit::within(
        WAIT,
        tokio_tungstenite::connect_async(url),
        "the WebSocket handshake",
    )
    .await
    .expect("the WebSocket handshake")
    .0
}

// ---------------------------------------------------------------- a client that stops reading

/// A client that never reads again, on a socket with a small receive buffer, while the room it
/// is in is flooded: the others get every packet, paced by their own reading, and the server
/// ends the stalled client's TCP connection within `close_timeout` of giving up on it.
#[tokio::test]
async fn a_stalled_reader_is_cut_off_and_the_others_get_everything() {
    let close_timeout = Duration::from_millis(500);
    let (io, mut gone) = reporting_io(Config {
        max_buffered_bytes: 64 * 1024,
        close_timeout,
        ..Config::default()
    });
    let server = start(&io).await;

    // The stalled client: a small SO_RCVBUF, so the server's writes block early.
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = kit::within(
        WAIT,
        socket.connect(server.addr()),
        "the stalled client's TCP connect",
    )
    .await
    .expect("connect");
    let url = server.ws_url("/socket.io/?EIO=4&transport=websocket");
    let (mut stalled, _) = kit::within(
        WAIT,
        tokio_tungstenite::client_async(url, tcp),
        "its WebSocket handshake",
    )
    .await
    .expect("the stalled client's WebSocket handshake");
    let stalled_sid = chat_client(&mut stalled, "flood").await;

    // Three healthy readers, each reporting how many flood packets it has read.
    let mut counts = Vec::new();
    for _ in 0..3 {
        let mut ws = ws_client(&server).await;
        chat_client(&mut ws, "flood").await;
        let (count_tx, count_rx) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            let mut read = 0;
            while let Some(text) = next_text(&mut ws, "the flood").await {
                if text.starts_with("42[\"flood\"") {
                    read += 1;
                    let _ = count_tx.send(read);
                }
            }
        });
        counts.push(count_rx);
    }

    // Flood in batches, each sent once the healthy readers have read the previous one: they
    // are never behind, so only the stalled client can be too slow.
    let ns = io.of("/").expect("namespace /");
    let pad = "y".repeat(1000);
    let (mut sent, batch, max) = (0u64, 20u64, 8000u64);
    let gave_up = loop {
        for _ in 0..batch {
            ns.to("flood")
                .emit("flood", vec![json!({ "n": sent, "pad": pad })]);
            sent += 1;
        }
        for count in counts.iter_mut() {
            kit::within(
                WAIT,
                count.wait_for(|&read| read >= sent),
                "a healthy client reading the whole batch",
            )
            .await
            .expect("the reader is alive");
        }
        if let Ok((sid, reason)) = gone.try_recv() {
            break (sid, reason, Instant::now());
        }
        assert!(
            sent < max,
            "the server never gave up on a client that read nothing of {sent} packets of 1 KB \
             (max_buffered_bytes 64 KiB; see {PRODUCTION_PAGE})"
        );
    };
    let (sid, reason, at) = gave_up;
    assert_eq!(
        (sid.as_str(), reason.as_str()),
        (stalled_sid.as_str(), "transport buffer full"),
        "only the stalled client is dropped, as too slow (see {PRODUCTION_PAGE})"
    );

    // The server's end of a closed connection answers anything with a reset, and then writes
    // at the client fail (reads would first return what its kernel still buffers). So: send a
    // pong until that fails. Nothing else tells a client that does not read that its
    // connection is gone, hence the probing interval.
    let tcp = stalled.get_ref();
    let masked_pong = [0x81, 0x81, 0, 0, 0, 0, b'3'];
    let mut probe = tokio::time::interval(Duration::from_millis(50));
    let limit = close_timeout + Duration::from_secs(2);
    kit::within(
        limit,
        async {
            loop {
                probe.tick().await;
                match tcp.try_write(&masked_pong) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                    Ok(_) => {}
                }
            }
        },
        "the server to drop the stalled client's TCP connection (close_timeout 500 ms)",
    )
    .await;
    assert!(
        at.elapsed() <= limit,
        "the TCP connection must end within close_timeout of the session's end (see {PRODUCTION_PAGE})"
    );

    // The healthy clients are still there and still get everything.
    ns.to("flood")
        .emit("flood", vec![json!({ "n": sent, "pad": "last" })]);
    sent += 1;
    for count in counts.iter_mut() {
        kit::within(
            WAIT,
            count.wait_for(|&read| read >= sent),
            "the last packet",
        )
        .await
        .expect("the reader is alive");
    }
}

// ---------------------------------------------------------------- the queue's bounds

#[tokio::test]
async fn over_its_byte_bound_a_client_is_closed_as_too_slow() {
    let (io, mut gone) = reporting_io(Config {
        max_buffered_bytes: 10_000,
        ..Config::default()
    });
    let server = start(&io).await;
    let mut ws = ws_client(&server).await;
    let sid = chat_client(&mut ws, "r").await;
    // 30 packets of 1 KB at once: far under max_buffered_packets (1024), over 10,000 bytes.
    ws.send(Message::text("42[\"burst\",30]"))
        .await
        .expect("send");
    let (gone_sid, reason) =
        next_disconnect(&mut gone, "the disconnect of the burst's target").await;
    assert_eq!(
        (gone_sid.as_str(), reason.as_str()),
        (sid.as_str(), "transport buffer full"),
        "a queue over max_buffered_bytes closes the client (see {PRODUCTION_PAGE})"
    );
    // What was queued before the end is delivered, then the connection ends.
    let mut big = 0;
    while let Some(text) = next_text(&mut ws, "the queued packets, then the close").await {
        big += usize::from(text.starts_with("42[\"big\""));
    }
    assert!(
        (1..30).contains(&big),
        "expected the packets queued within the bound (fewer than 30), got {big}"
    );
}

/// A backlog goes out in batches (up to 64 frames a write, see `send_batch` in
/// `engine/websocket.rs`): 300 packets queued at once must all arrive, once each, in order.
#[tokio::test]
async fn a_backlog_is_written_in_batches_whole_and_in_order() {
    let (io, _gone) = reporting_io(Config::default());
    let server = start(&io).await;
    let mut ws = ws_client(&server).await;
    chat_client(&mut ws, "r").await;
    // 300 packets of 1 KB in one handler: about 300 KB, under both bounds (1 MiB, 1024).
    ws.send(Message::text("42[\"burst\",300]"))
        .await
        .expect("send");
    let mut order = Vec::new();
    while order.len() < 300 {
        let text = expect_text(&mut ws, "the burst's packets").await;
        let Some(event) = text.strip_prefix("42") else {
            continue;
        };
        let event: Value = serde_json::from_str(event).expect("JSON in an event");
        order.push(event[1]["i"].as_u64().expect("the packet's index"));
    }
    let expected: Vec<u64> = (0..300).collect();
    assert_eq!(
        order, expected,
        "expected the 300 packets queued at once to arrive whole and in order: a batch takes \
         what is queued behind the first packet, feeds each, then flushes once (see \
         {PRODUCTION_PAGE}, \"Measuring it\")"
    );
}

#[tokio::test]
async fn volatile_packets_are_dropped_unless_the_writer_waits_and_never_close() {
    let (io, mut gone) = reporting_io(Config::default());
    let server = start(&io).await;
    let mut ws = ws_client(&server).await;
    chat_client(&mut ws, "r").await;
    for round in 0..2 {
        ws.send(Message::text("421[\"volatile\"]"))
            .await
            .expect("send");
        // The writer was parked on an empty queue: the first volatile packet is queued, the
        // next two find it busy and are dropped.
        assert_eq!(
            expect_text(&mut ws, "the one volatile packet taken").await,
            "42[\"v\",0]",
            "round {round} (see {PRODUCTION_PAGE})"
        );
        assert_eq!(
            expect_text(&mut ws, "the ack with what was queued").await,
            "431[[true,false,false]]",
            "round {round}: only a waiting writer takes a volatile packet (see {PRODUCTION_PAGE})"
        );
    }
    // Dropping never closed the session.
    ws.send(Message::text("422[\"echo\",1]"))
        .await
        .expect("send");
    assert_eq!(expect_text(&mut ws, "the echo").await, "432[1]");
    assert!(gone.try_recv().is_err(), "nobody was disconnected");
}

// ---------------------------------------------------------------- graceful shutdown

#[tokio::test]
async fn shutdown_disconnects_everyone_waits_for_their_tasks_and_refuses_newcomers() {
    let (io, mut gone) = reporting_io(Config::default());
    let server = start(&io).await;
    let mut sockets = Vec::new();
    for _ in 0..2 {
        let mut ws = ws_client(&server).await;
        chat_client(&mut ws, "r").await;
        sockets.push(ws);
    }
    // A polling client connected to `/`, with a GET pending when the shutdown begins.
    let http = reqwest::Client::new();
    let base = server.url("/socket.io/?EIO=4&transport=polling");
    let open = kit::within(
        WAIT,
        async { http.get(&base).send().await?.text().await },
        "the polling handshake",
    )
    .await
    .expect("handshake");
    let sid = serde_json::from_str::<Value>(&open[1..]).expect("open packet")["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let url = format!("{base}&sid={sid}");
    let posted = kit::within(
        WAIT,
        async { http.post(&url).body("40").send().await?.text().await },
        "POST 40",
    )
    .await
    .expect("POST");
    assert_eq!(posted, "ok");
    let connected = kit::within(
        WAIT,
        async { http.get(&url).send().await?.text().await },
        "the CONNECT answer",
    )
    .await
    .expect("GET");
    assert!(connected.starts_with("40{"), "got {connected}");
    let connected_sid = serde_json::from_str::<Value>(&connected[2..]).expect("40{...}")["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let pending = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move { http.get(&url).send().await?.text().await }
    });
    // The GET is parked once its session would send a packet at once; no event tells it.
    let polling = io
        .of("/")
        .and_then(|ns| ns.socket(&connected_sid))
        .expect("the polling socket");
    kit::within(
        WAIT,
        async {
            while !polling.engine_session().is_writable() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        },
        "the GET to wait for packets",
    )
    .await;

    let deadline = Duration::from_secs(3);
    let started = Instant::now();
    let report = kit::within(
        deadline + Duration::from_secs(1),
        io.shutdown(deadline),
        "shutdown to return",
    )
    .await;
    assert!(
        started.elapsed() < deadline,
        "shutdown returned after {:?}, its deadline is {deadline:?}: every task should have ended (see {PRODUCTION_PAGE})",
        started.elapsed()
    );
    assert_eq!(
        (report.closed_sessions, report.tasks_left),
        (3, 0),
        "three sessions closed, no task left (see {PRODUCTION_PAGE})"
    );
    for n in 0..3 {
        let (_, reason) = next_disconnect(&mut gone, "a disconnect").await;
        assert_eq!(
            reason, "server shutting down",
            "disconnect {n} (see {PRODUCTION_PAGE})"
        );
    }
    // WebSockets get a close frame, the pending GET the close packet `1`.
    for ws in sockets.iter_mut() {
        let frame = kit::within(WAIT, ws.next(), "the close frame").await;
        assert!(
            matches!(frame, Some(Ok(Message::Close(_)))),
            "expected a close frame, got {frame:?} (see {PRODUCTION_PAGE})"
        );
    }
    let last = kit::within(WAIT, pending, "the pending GET's answer")
        .await
        .expect("the GET task")
        .expect("the GET");
    assert_eq!(last, "1", "a pending GET is answered with the close packet");
    // Newcomers are refused, over both transports.
    let refused = kit::within(
        WAIT,
        http.get(&base).send(),
        "a handshake during the shutdown",
    )
    .await
    .expect("GET");
    assert_eq!(refused.status(), 503, "no new session during a shutdown");
    let url = server.ws_url("/socket.io/?EIO=4&transport=websocket");
    let upgrade = kit::within(
        WAIT,
        tokio_tungstenite::connect_async(url),
        "a WebSocket during the shutdown",
    )
    .await;
    assert!(upgrade.is_err(), "no new WebSocket during a shutdown");
}

// ---------------------------------------------------------------- the Engine.IO layer alone

/// An Engine.IO server that hands every new session to the test.
struct Sessions(mpsc::UnboundedSender<Arc<Session>>);

struct Quiet;

impl SessionHandler for Quiet {
    fn on_message<'a>(&'a self, _text: &'a str) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
    fn on_binary(&self, _data: bytes::Bytes) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
    fn on_close(&self, _reason: CloseReason) {}
}

impl EngineHandler for Sessions {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        let _ = self.0.send(session.clone());
        Arc::new(Quiet)
    }
}

async fn engine_server(config: Config) -> (kit::TestServer, mpsc::UnboundedReceiver<Arc<Session>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let engine = Engine::new(config, Arc::new(Sessions(tx)));
    let handler =
        axum::routing::any(move |request: axum::extract::Request| engine.clone().handle(request));
    let router = axum::Router::new().route("/socket.io/", handler);
    (kit::TestServer::start(router).await, rx)
}

async fn polling_open(http: &reqwest::Client, server: &kit::TestServer) -> String {
    let base = server.url("/socket.io/?EIO=4&transport=polling");
    let open = kit::within(
        WAIT,
        async { http.get(&base).send().await?.text().await },
        "the polling handshake",
    )
    .await
    .expect("handshake");
    serde_json::from_str::<Value>(open.strip_prefix('0').unwrap_or("{}")).expect("open packet")["sid"]
        .as_str()
        .expect("a sid")
        .to_owned()
}

#[tokio::test]
async fn an_aborted_polling_get_closes_the_session() {
    let (server, mut sessions) = engine_server(Config::default()).await;
    let http = reqwest::Client::new();
    let sid = polling_open(&http, &server).await;
    let session = kit::within(WAIT, sessions.recv(), "the session")
        .await
        .expect("a session");

    let mut tcp = kit::within(
        WAIT,
        tokio::net::TcpStream::connect(server.addr()),
        "a TCP connection",
    )
    .await
    .expect("connect");
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut tcp, request.as_bytes())
        .await
        .expect("the GET request");
    // The GET is parked once the session says a packet would go out at once; no event tells
    // it, so the state is polled.
    kit::within(
        WAIT,
        async {
            while !session.is_writable() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        },
        "the GET to wait for packets",
    )
    .await;
    drop(tcp);
    kit::within(
        WAIT,
        session.closed(),
        "the session to close after its GET was aborted",
    )
    .await;
    assert_eq!(
        session.close_reason(),
        Some(CloseReason::TransportError),
        "an aborted GET is a transport error, as in the reference server (see {PRODUCTION_PAGE})"
    );
    let url = server.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
    let after = kit::within(WAIT, http.get(&url).send(), "a GET after the abort")
        .await
        .expect("GET");
    assert_eq!(after.status(), 400);
    let body: Value = kit::within(WAIT, after.json(), "its body")
        .await
        .expect("JSON");
    assert_eq!(body, json!({"code": 1, "message": "Session ID unknown"}));
}

#[tokio::test]
async fn over_polling_the_ping_timeout_closes_at_interval_plus_timeout() {
    let (interval, timeout) = (Duration::from_millis(300), Duration::from_millis(200));
    let (server, _sessions) = engine_server(Config {
        ping_interval: interval,
        ping_timeout: timeout,
        ..Config::default()
    })
    .await;
    let http = reqwest::Client::new();
    let before = Instant::now();
    let sid = polling_open(&http, &server).await;
    let after_open = before.elapsed();
    let url = server.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
    let get = || async {
        kit::within(
            WAIT,
            async { http.get(&url).send().await?.text().await },
            "a GET",
        )
        .await
    };
    assert_eq!(
        get().await.expect("GET"),
        "2",
        "the ping, after pingInterval (see {ENGINE_PAGE})"
    );
    // No pong: the next GET waits until the session closes.
    assert_eq!(
        get().await.expect("GET"),
        "1",
        "the close packet at the ping timeout"
    );
    let closed_at = before.elapsed();
    // The session opened between `before` and `after_open`; it must close pingInterval +
    // pingTimeout later, give or take the timer's millisecond and the answer's trip.
    let (earliest, latest) = (
        interval + timeout,
        after_open + interval + timeout + Duration::from_millis(80),
    );
    assert!(
        closed_at >= earliest && closed_at <= latest,
        "the session closed {closed_at:?} after the handshake began; expected between {earliest:?} \
         and {latest:?}: one deadline, pingTimeout after the ping was due (see {ENGINE_PAGE})"
    );
    let gone = kit::within(WAIT, http.get(&url).send(), "a GET after the close")
        .await
        .expect("GET");
    assert_eq!(gone.status(), 400, "the session is gone");
}
