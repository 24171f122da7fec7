//! Chapter 5's graded tests: slow clients (step 1), connection state recovery in memory
//! (step 2) and in Redis (step 3), leaving the cluster (step 4).
//!
//! Every test talks to the server over the network with a raw Socket.IO client written here
//! (tokio-tungstenite, frames by hand), so that what is checked is what a client sees on the
//! wire: `40{"pid":...,"offset":...}` sent, the missed `42[...]` events, then the CONNECT
//! answer. The official socket.io-client runs the same scenarios in the solution's interop
//! suite. Redis comes from the kit (testcontainers, or `REDIS_URL`).

use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, Instance, WAIT, chat, redis_settings, settings, wait_until};

// ------------------------------------------------------------------ step 2: in memory

#[tokio::test]
async fn step2_a_dropped_client_gets_what_its_room_received_before_the_connect_answer() {
    let server = Instance::start(settings()).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().unwrap_or_else(|| {
        panic!("the CONNECT answer must carry a `pid` when recovery is on (see book/src/05-production/recovery.md)")
    });
    client.join("r1").await;
    server.emit_to("r1", 0).await;
    let first = client.recv_event("the first chat").await;
    let offset = support::offset_of(&first);
    let sid = client.sid.clone();
    client.drop_connection().await;
    server.wait_saved(1).await;
    for n in 1..=3 {
        server.emit_to("r1", n).await;
    }
    server.wait_logged(4).await;

    let back = Client::connect(&server, json!({"pid": pid, "offset": offset}))
        .await
        .expect("reconnected");
    let numbers: Vec<i64> = back.missed.iter().map(support::number_of).collect();
    assert_eq!(
        numbers,
        vec![1, 2, 3],
        "expected the three chats sent to r1 while the client was away, in order and before \
         the CONNECT answer; got {:?} (see book/src/05-production/recovery.md)",
        back.missed
    );
    assert_eq!(
        back.sid, sid,
        "a recovered client gets its socket id back (see book/src/05-production/recovery.md)"
    );
    assert_eq!(back.pid.as_deref(), Some(pid.as_str()), "and its pid");
}

#[tokio::test]
async fn step2_offsets_are_the_last_argument_and_grow() {
    let server = Instance::start(settings()).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    client.join("r1").await;
    let mut offsets = Vec::new();
    for n in 0..3 {
        server.emit_to("r1", n).await;
        let event = client.recv_event("a chat").await;
        offsets.push(support::offset_of(&event));
    }
    let parsed: Vec<Option<u64>> = offsets.iter().map(|o| o.parse().ok()).collect();
    assert!(
        parsed.iter().all(Option::is_some) && parsed.windows(2).all(|w| w[0] < w[1]),
        "expected each recorded chat to end with a string offset, the memory store's a number \
         that grows (1, 2, 3...); got {offsets:?} (see book/src/05-production/recovery.md)"
    );
}

#[tokio::test]
async fn step2_only_what_was_meant_for_the_socket_is_replayed() {
    let server = Instance::start(settings()).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    let sid = client.sid.clone();
    client.drop_connection().await;
    server.wait_saved(1).await;
    let ns = server.namespace("/");
    ns.to("r2").emit("chat", vec![chat(1)]);
    ns.to("r1").except("r1").emit("chat", vec![chat(2)]);
    ns.to("r1").emit("chat", vec![chat(3)]);
    ns.to(sid.clone()).emit("chat", vec![chat(4)]);
    ns.emit("chat", vec![chat(5)]);
    ns.to("r1").except(sid.clone()).emit("chat", vec![chat(6)]);
    server.wait_logged(6).await;

    let back = Client::connect(&server, json!({"pid": pid, "offset": "0"}))
        .await
        .expect("reconnected");
    let numbers: Vec<i64> = back.missed.iter().map(support::number_of).collect();
    assert_eq!(
        numbers,
        vec![3, 4, 5],
        "of six broadcasts (to r2; to r1 except r1; to r1; to the socket's id; to everyone; to \
         r1 except the socket's id), the socket in r1 was meant to get the 3rd, 4th and 5th; it \
         got {numbers:?} (see book/src/05-production/recovery.md, \"Which broadcasts a socket missed\")"
    );
}

#[tokio::test]
async fn step2_broadcasts_of_another_namespace_are_not_replayed() {
    let server = Instance::start(settings()).await;
    let client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.drop_connection().await;
    server.wait_saved(1).await;
    // One store serves every namespace: the log holds the broadcasts of all of them.
    server.namespace("/clients").emit("chat", vec![chat(1)]);
    server.namespace("/").emit("chat", vec![chat(2)]);
    server.wait_logged(2).await;

    let back = Client::connect(&server, json!({"pid": pid, "offset": "0"}))
        .await
        .expect("reconnected");
    let numbers: Vec<i64> = back.missed.iter().map(support::number_of).collect();
    assert_eq!(
        numbers,
        vec![2],
        "a socket of `/` was meant to get the broadcast to `/` only, not the one to `/clients` \
         that the same store logged; it got {numbers:?} (see \
         book/src/05-production/recovery.md, \"Which broadcasts a socket missed\")"
    );
}

#[tokio::test]
async fn step2_recovery_works_twice_in_a_row() {
    let server = Instance::start(settings()).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    let mut offset = Value::Null;
    for round in 0..2 {
        client.drop_connection().await;
        server.wait_saved(1).await;
        let n = 10 * (round + 1);
        server.emit_to("r1", n).await;
        server.wait_logged((round + 1) as usize).await;
        client = Client::connect(&server, json!({"pid": pid, "offset": offset}))
            .await
            .expect("reconnected");
        assert_eq!(
            client
                .missed
                .iter()
                .map(support::number_of)
                .collect::<Vec<_>>(),
            vec![n],
            "round {round}: expected exactly the chat sent while away; socket.io recovers only \
             once (socket.io#4880), this server must recover every time \
             (see book/src/05-production/recovery.md)"
        );
        offset = json!(support::offset_of(&client.missed[0]));
    }
}

#[tokio::test]
async fn step2_a_client_that_saw_no_event_still_recovers() {
    let server = Instance::start(settings()).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    client.drop_connection().await;
    server.wait_saved(1).await;
    server.emit_to("r1", 7).await;
    server.wait_logged(1).await;
    // The official client sends no offset before its first event.
    let back = Client::connect(&server, json!({"pid": pid}))
        .await
        .expect("reconnected");
    assert_eq!(
        back.missed
            .iter()
            .map(support::number_of)
            .collect::<Vec<_>>(),
        vec![7],
        "a client that had received nothing presents no offset; it missed what came after the \
         socket started (`SavedSession::since`) (see book/src/05-production/recovery.md)"
    );
}

#[tokio::test]
async fn step2_after_the_window_a_fresh_session_and_no_replay() {
    let server = Instance::start(production::Settings {
        window: Duration::from_millis(300),
        ..settings()
    })
    .await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    let sid = client.sid.clone();
    client.join("r1").await;
    client.drop_connection().await;
    server.wait_saved(1).await;
    server.emit_to("r1", 1).await;
    server.wait_logged(1).await;
    wait_until("the session to expire", || server.memory().sessions() == 0).await;
    let back = Client::connect(&server, json!({"pid": pid, "offset": "0"}))
        .await
        .expect("reconnected");
    assert!(
        back.missed.is_empty() && back.sid != sid,
        "after the window, expected a fresh session (a new sid, nothing replayed); got sid \
         {:?} (old {sid:?}) and {:?} (see book/src/05-production/recovery.md)",
        back.sid,
        back.missed
    );
}

#[tokio::test]
async fn step2_a_log_trimmed_past_the_offset_refuses_the_recovery() {
    let server = Instance::start(production::Settings {
        max_packets: 3,
        ..settings()
    })
    .await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    client.drop_connection().await;
    server.wait_saved(1).await;
    for n in 1..=5 {
        server.emit_to("r1", n).await;
    }
    server.wait_logged(5).await;
    assert_eq!(
        server.memory().logged(),
        3,
        "expected the log to keep max_packets (3) of the 5 broadcasts, dropping the oldest \
         (see book/src/05-production/recovery.md, \"The memory store\")"
    );
    let back = Client::connect(&server, json!({"pid": pid, "offset": "0"}))
        .await
        .expect("reconnected");
    assert!(
        back.missed.is_empty() && !back.recovered(&pid),
        "the log keeps 3 packets and the client missed 5: a replay would have a hole, so \
         expected a fresh session; got {:?} (see book/src/05-production/recovery.md)",
        back.missed
    );
}

// ------------------------------------------------------------------ step 3: in Redis

#[tokio::test]
async fn step3_a_client_recovers_on_another_instance() {
    let redis = kit::redis::redis_for_test().await;
    let first = Instance::start(redis_settings(&redis, "two")).await;
    let second = Instance::start(redis_settings(&redis, "two")).await;
    let mut client = Client::connect(&first, json!({})).await.expect("connected");
    let pid = client.pid.clone().expect("a pid");
    let sid = client.sid.clone();
    client.join("r1").await;
    first.emit_to("r1", 0).await;
    let offset = support::offset_of(&client.recv_event("the first chat").await);
    client.drop_connection().await;
    support::wait_redis_key(&redis, &format!("two:recovery:session:{pid}")).await;
    for n in 1..=3 {
        second.emit_to("r1", n).await;
    }
    support::wait_stream_len(&redis, "two:recovery:events", 4).await;

    let back = Client::connect(&second, json!({"pid": pid, "offset": offset}))
        .await
        .expect("reconnected to the other instance");
    assert_eq!(
        back.missed
            .iter()
            .map(support::number_of)
            .collect::<Vec<_>>(),
        vec![1, 2, 3],
        "expected the chats missed on the cluster, replayed by the other instance from the \
         stream; got {:?} (see book/src/05-production/recovery.md, \"In Redis\")",
        back.missed
    );
    assert_eq!(back.sid, sid, "the same socket id, on another instance");
}

#[tokio::test]
async fn step3_a_client_recovers_elsewhere_while_its_old_connection_still_looks_alive() {
    // What a killed instance leaves: a client that comes back elsewhere, and no save at the
    // end of its old socket. The session was written while the socket was connected.
    let redis = kit::redis::redis_for_test().await;
    let first = Instance::start(redis_settings(&redis, "alive")).await;
    let second = Instance::start(redis_settings(&redis, "alive")).await;
    let mut client = Client::connect(&first, json!({})).await.expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    first.emit_to("r1", 0).await;
    let offset = support::offset_of(&client.recv_event("the first chat").await);
    support::wait_session_in(&redis, &format!("alive:recovery:session:{pid}"), "r1").await;
    for n in 1..=2 {
        second.emit_to("r1", n).await;
    }
    support::wait_stream_len(&redis, "alive:recovery:events", 3).await;

    let back = Client::connect(&second, json!({"pid": pid, "offset": offset}))
        .await
        .expect("connected to the other instance");
    assert!(
        back.recovered(&pid)
            && back
                .missed
                .iter()
                .map(support::number_of)
                .collect::<Vec<_>>()
                == vec![1, 2],
        "expected the session kept in Redis while its socket was connected (an instance that \
         dies saves nothing at the end) to be restored on the other instance with chats 1 and 2; \
         got recovered = {}, missed {:?} (see book/src/05-production/recovery.md, \"An \
         instance that dies\")",
        back.recovered(&pid),
        back.missed
    );
    drop(client);
}

#[tokio::test]
async fn step3_offsets_are_stream_ids_and_sessions_expire_in_redis() {
    let redis = kit::redis::redis_for_test().await;
    let server = Instance::start(production::Settings {
        window: Duration::from_secs(30),
        ..redis_settings(&redis, "ttl")
    })
    .await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    server.emit_to("r1", 0).await;
    let offset = support::offset_of(&client.recv_event("a chat").await);
    let ids: Vec<(String, Value)> = support::xrange(&redis, "ttl:recovery:events").await;
    assert_eq!(
        ids.first().map(|(id, _)| id.as_str()),
        Some(offset.as_str()),
        "the offset a client gets is the id of the packet's entry in the stream \
         `<key>:recovery:events` (XADD's answer) (see book/src/05-production/recovery.md)"
    );
    client.drop_connection().await;
    let key = format!("ttl:recovery:session:{pid}");
    support::wait_redis_key(&redis, &key).await;
    let ttl: i64 = support::query(&redis, redis::cmd("PTTL").arg(&key)).await;
    assert!(
        (20_000..=30_000).contains(&ttl),
        "a saved session expires by itself after the window (SET ... PX 30000); its PTTL is \
         {ttl} ms (see book/src/05-production/recovery.md)"
    );
}

#[tokio::test]
async fn step3_the_stream_is_trimmed_and_a_trimmed_offset_is_refused() {
    let redis = kit::redis::redis_for_test().await;
    let server = Instance::start(production::Settings {
        max_packets: 100,
        ..redis_settings(&redis, "trim")
    })
    .await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    server.emit_to("r1", 0).await;
    let offset = support::offset_of(&client.recv_event("a chat").await);
    client.drop_connection().await;
    support::wait_redis_key(&redis, &format!("trim:recovery:session:{pid}")).await;
    for n in 1..=1000 {
        server.namespace("/").to("r2").emit("chat", vec![chat(n)]);
    }
    let len = support::wait_stream_trimmed(&redis, "trim:recovery:events", 1001).await;
    assert!(
        len < 400,
        "1001 packets recorded with a log of 100: expected `XADD ... MAXLEN ~ 100` to keep \
         about 100 (whole nodes), the stream holds {len} (see book/src/05-production/recovery.md)"
    );
    let back = Client::connect(&server, json!({"pid": pid, "offset": offset}))
        .await
        .expect("reconnected");
    assert!(
        !back.recovered(&pid),
        "the client's offset was trimmed away: a replay would have a hole, expected a fresh \
         session (see book/src/05-production/recovery.md)"
    );
}

#[tokio::test]
async fn step3_a_session_is_restored_once_across_the_cluster() {
    let redis = kit::redis::redis_for_test().await;
    let first = Instance::start(redis_settings(&redis, "once")).await;
    let second = Instance::start(redis_settings(&redis, "once")).await;
    let mut client = Client::connect(&first, json!({})).await.expect("connected");
    let pid = client.pid.clone().expect("a pid");
    client.join("r1").await;
    client.drop_connection().await;
    support::wait_redis_key(&redis, &format!("once:recovery:session:{pid}")).await;
    let auth = json!({"pid": pid, "offset": "0-0"});
    let (a, b) = tokio::join!(
        Client::connect(&first, auth.clone()),
        Client::connect(&second, auth)
    );
    let recovered = [a.expect("connected"), b.expect("connected")]
        .iter()
        .filter(|c| c.recovered(&pid))
        .count();
    assert_eq!(
        recovered, 1,
        "two instances asked for the same pid at once: exactly one may restore it (GET, then \
         DEL, and only the one whose DEL removed it) (see book/src/05-production/recovery.md)"
    );
}

// ------------------------------------------------------------------ step 1: slow clients

#[tokio::test]
async fn step1_a_stalled_client_is_dropped_within_seconds_not_when_its_queue_is_full() {
    let mut settings = settings();
    // Bounds the stalled client will not reach in this test: only the wait can drop it.
    settings.security.config.max_buffered_packets = 1_000_000;
    settings.security.config.max_buffered_bytes = 1 << 30;
    settings.max_wait = Duration::from_millis(500);
    let server = Instance::start(settings).await;
    let mut stalled = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    stalled.join("r1").await;
    let sid = stalled.sid.clone();
    let mut reader = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    reader.join("r1").await;
    let big = "x".repeat(32 * 1024);
    // Direct emits, one per socket: what a broadcast does for each member.
    let sockets = [
        server
            .namespace("/")
            .socket(&sid)
            .expect("the stalled socket"),
        server
            .namespace("/")
            .socket(&reader.sid)
            .expect("the reading socket"),
    ];
    let stream = async {
        for n in 0..400 {
            for socket in &sockets {
                socket.emit("chat", vec![json!({"n": n, "text": big})]);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let read = async {
        let mut got = 0;
        while got < 400 {
            let frame = reader.recv("the steady stream").await;
            if frame.starts_with("42") {
                got += 1;
            }
        }
        got
    };
    let ((), got) = tokio::join!(stream, read);
    assert_eq!(got, 400, "the reading client gets every chat");
    assert!(
        server.namespace("/").socket(&sid).is_none(),
        "expected a client that stopped reading for 4 s (with 32 KiB chats every 10 ms) to be \
         dropped once a packet waited longer than max_wait (500 ms), long before its queue is \
         full; it is still connected (see book/src/05-production/backpressure.md)"
    );
    drop(stalled);
}

#[tokio::test]
async fn step1_a_client_that_keeps_up_is_kept() {
    let mut settings = settings();
    settings.max_wait = Duration::from_millis(200);
    let server = Instance::start(settings).await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    client.join("r1").await;
    let socket = server
        .namespace("/")
        .socket(&client.sid)
        .expect("the socket");
    for n in 0..50 {
        socket.emit("chat", vec![chat(n)]);
        let event = client.recv_event("a chat").await;
        assert_eq!(support::number_of(&event), n, "in order");
    }
    assert!(
        server.namespace("/").socket(&client.sid).is_some(),
        "expected a client that reads as fast as it is sent to to stay connected: a packet that \
         waited no longer than max_wait is no reason to drop it (see \
         book/src/05-production/backpressure.md)"
    );
}

#[tokio::test]
async fn step1_the_bounds_still_hold() {
    let mut settings = settings();
    settings.security.config.max_buffered_packets = 5;
    settings.max_wait = Duration::from_secs(60);
    let server = Instance::start(settings).await;
    let stalled = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let sid = stalled.sid.clone();
    let socket = server.namespace("/").socket(&sid).expect("the socket");
    // Pushed at once: the writer takes one, the kernel buffers take a few, then the queue fills.
    let pushed = (0..10_000)
        .map(|n| socket.emit("chat", vec![json!({"n": n, "text": "x".repeat(1024)})]))
        .take_while(|queued| *queued)
        .count();
    assert!(
        pushed < 10_000,
        "expected a client's queue to hold at most max_buffered_packets (5) packets, however \
         recent, so that a push among 10,000 is refused; all were queued (see \
         book/src/05-production/backpressure.md)"
    );
    drop(stalled);
}

#[test]
fn step1_a_session_is_kept_after_a_lost_connection_or_a_slow_drop_not_after_a_goodbye() {
    use production::slow_clients::keeps_session;
    let kept: Vec<&str> = [
        "transport close",
        "transport error",
        "ping timeout",
        "forced close",
        "server shutting down",
        "transport buffer full",
    ]
    .into_iter()
    .filter(|reason| !keeps_session(reason))
    .collect();
    assert!(
        kept.is_empty(),
        "expected a socket that lost its connection, or was dropped for reading too slowly \
         (\"transport buffer full\"), to keep its session so that it can recover; these reasons \
         were refused: {kept:?} (see book/src/05-production/backpressure.md, \"Dropped, not \
         forgotten\")"
    );
    let forgotten: Vec<&str> = [
        "client namespace disconnect",
        "server namespace disconnect",
        "parse error",
    ]
    .into_iter()
    .filter(|reason| keeps_session(reason))
    .collect();
    assert!(
        forgotten.is_empty(),
        "expected no session kept for a socket that said goodbye, was disconnected on purpose \
         or sent garbage: its pid must not be usable again; these reasons kept one: \
         {forgotten:?} (see book/src/05-production/recovery.md)"
    );
}

#[tokio::test]
async fn step2_a_client_dropped_as_too_slow_can_recover() {
    let mut settings = settings();
    settings.security.config.max_buffered_packets = 5;
    let server = Instance::start(settings).await;
    let client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let pid = client.pid.clone().expect("a pid");
    let sid = client.sid.clone();
    let socket = server.namespace("/").socket(&sid).expect("the socket");
    while socket.emit("chat", vec![json!({"text": "x".repeat(1024)})]) {}
    server.wait_saved(1).await;
    drop(client);
    let back = Client::connect(&server, json!({"pid": pid, "offset": "0"}))
        .await
        .expect("reconnected");
    assert!(
        back.recovered(&pid),
        "a client dropped for reading too slowly (\"transport buffer full\") keeps its session: \
         being slow costs it a reconnect, not its messages (see \
         book/src/05-production/backpressure.md)"
    );
}

// ------------------------------------------------------------------ step 4: leaving

#[tokio::test]
async fn step4_leaving_says_draining_before_closing_the_sockets() {
    let server = Instance::start(production::Settings {
        leave: production::shutdown::Leave {
            notice: Duration::from_millis(600),
            deadline: Duration::from_secs(3),
        },
        ..settings()
    })
    .await;
    let mut client = Client::connect(&server, json!({}))
        .await
        .expect("connected");
    let sid = client.sid.clone();
    assert_eq!(server.readyz().await, 200, "/readyz before leaving");
    let leaving = server.leave_in_background();
    wait_until_async("/readyz to answer 503", || async {
        server.readyz().await == 503
    })
    .await;
    assert!(
        server.namespace("/").socket(&sid).is_some(),
        "expected the socket still open once /readyz answers 503: during the notice the \
         balancer may still send clients, and sockets stay open until it has seen /readyz fail \
         (see book/src/05-production/deploys.md)"
    );
    let closed = client
        .recv_or_close(WAIT, "the close at the end of the notice")
        .await;
    assert!(
        closed.is_none()
            || closed
                .as_deref()
                .is_some_and(|f| f.starts_with('4') || f == "1"),
        "expected the socket closed once the notice is over, got {closed:?}"
    );
    let report = kit::within(WAIT, leaving, "leave() to return")
        .await
        .expect("left");
    assert_eq!(
        report.closed_sessions, 1,
        "the shutdown closes every session with \"server shutting down\" (see \
         book/src/05-production/deploys.md)"
    );
    server.wait_saved(1).await;
}

#[tokio::test]
async fn step4_clients_of_a_leaving_instance_recover_on_another() {
    let redis = kit::redis::redis_for_test().await;
    let leaving = Instance::start(redis_settings(&redis, "leave")).await;
    let staying = Instance::start(redis_settings(&redis, "leave")).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = Client::connect(&leaving, json!({}))
            .await
            .expect("connected");
        client.join("r1").await;
        clients.push(client);
    }
    let report = kit::within(WAIT, leaving.server.leave(), "leave()").await;
    assert_eq!(report.closed_sessions, 5, "five sessions closed");
    for n in 1..=3 {
        staying.emit_to("r1", n).await;
    }
    support::wait_stream_len(&redis, "leave:recovery:events", 3).await;
    for client in clients {
        let pid = client.pid.clone().expect("a pid");
        let back = Client::connect(&staying, json!({"pid": pid}))
            .await
            .expect("reconnected to the instance that stays");
        assert!(
            back.recovered(&pid),
            "a client told \"server shutting down\" reconnects elsewhere and recovers: its \
             session must be in Redis before the instance exits (see \
             book/src/05-production/deploys.md)"
        );
        assert_eq!(
            back.missed
                .iter()
                .map(support::number_of)
                .collect::<Vec<_>>(),
            vec![1, 2, 3],
            "and gets what r1 received meanwhile"
        );
    }
}

async fn wait_until_async<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    kit::within(
        WAIT,
        async {
            while !condition().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        },
        what,
    )
    .await;
}

mod support {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use production::{Settings, StoreKind};
    use serde_json::{Value, json};
    use socketio::Namespace;
    use tokio_tungstenite::tungstenite::Message;

    pub const WAIT: Duration = Duration::from_secs(5);

    /// The memory store, everything else as shipped.
    pub fn settings() -> Settings {
        Settings::default()
    }

    /// The Redis store and adapter, with `key` as the cluster's prefix.
    pub fn redis_settings(redis: &kit::redis::RedisServer, key: &str) -> Settings {
        let mut settings = Settings {
            store: StoreKind::Redis,
            ..Settings::default()
        };
        settings.security.redis = Some(redis.client());
        settings.security.key = key.to_owned();
        settings
    }

    /// `{"n": n}`, a chat message numbered for comparisons.
    pub fn chat(n: i64) -> Value {
        json!({ "n": n })
    }

    /// A server in this process on port 0.
    pub struct Instance {
        pub server: Arc<production::Server>,
        pub http: kit::TestServer,
    }

    impl Instance {
        pub async fn start(settings: Settings) -> Instance {
            let server = production::start(settings)
                .await
                .unwrap_or_else(|e| panic!("the chapter 5 server did not start: {e}"));
            let router = server.router.clone();
            let http = kit::TestServer::start_with(|listener| async move {
                let app = router.into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener, app).await.expect("serving");
            })
            .await;
            Instance {
                server: Arc::new(server),
                http,
            }
        }

        pub fn namespace(&self, name: &str) -> Arc<Namespace> {
            self.server.io.of(name).expect("the namespace")
        }

        pub fn memory(&self) -> &production::memory_store::MemoryStore {
            self.server.memory.as_ref().expect("the memory store")
        }

        /// Emits chat `n` to `room`, as a server-side broadcast (no rate limit applies).
        pub async fn emit_to(&self, room: &str, n: i64) {
            self.namespace("/").to(room).emit("chat", vec![chat(n)]);
        }

        /// Waits until the memory store holds `count` sessions.
        pub async fn wait_saved(&self, count: usize) {
            let Some(memory) = &self.server.memory else {
                return;
            };
            wait_until(&format!("{count} session(s) saved for recovery"), || {
                memory.sessions() >= count
            })
            .await;
        }

        /// Waits until the memory store logged `count` broadcasts.
        pub async fn wait_logged(&self, count: usize) {
            let memory = self.memory();
            wait_until(&format!("{count} broadcast(s) recorded"), || {
                memory.recorded() >= count as u64
            })
            .await;
        }

        pub async fn readyz(&self) -> u16 {
            kit::within(WAIT, reqwest::get(self.http.url("/readyz")), "/readyz")
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }

        pub fn leave_in_background(
            &self,
        ) -> tokio::task::JoinHandle<socketio::engine::ShutdownReport> {
            let server = self.server.clone();
            tokio::spawn(async move { server.leave().await })
        }
    }

    /// Waits for `condition`, checking every 20 ms, for at most [`WAIT`].
    pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
        kit::within(
            WAIT,
            async {
                while !condition() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            &format!("{what} (a todo! panic in the store is printed above)"),
        )
        .await;
    }

    pub async fn query<T: redis::FromRedisValue>(
        redis: &kit::redis::RedisServer,
        command: &redis::Cmd,
    ) -> T {
        let mut connection = redis
            .client()
            .get_multiplexed_async_connection()
            .await
            .expect("a Redis connection");
        command
            .query_async(&mut connection)
            .await
            .expect("a Redis answer")
    }

    pub async fn wait_redis_key(redis: &kit::redis::RedisServer, key: &str) {
        kit::within(
            WAIT,
            async {
                while query::<i64>(redis, redis::cmd("EXISTS").arg(key)).await == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            &format!("the session saved in Redis as {key} (SET ... PX)"),
        )
        .await;
    }

    /// Waits until the session under `key` lists `room` (written while its socket is
    /// connected, after the join).
    pub async fn wait_session_in(redis: &kit::redis::RedisServer, key: &str, room: &str) {
        let quoted = format!("\"{room}\"");
        kit::within(
            WAIT,
            async {
                while !query::<Option<String>>(redis, redis::cmd("GET").arg(key))
                    .await
                    .is_some_and(|session| session.contains(&quoted))
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            &format!("the connected socket's session in Redis as {key}, with room {room}"),
        )
        .await;
    }

    pub async fn wait_stream_len(redis: &kit::redis::RedisServer, key: &str, len: i64) {
        kit::within(
            WAIT,
            async {
                while query::<i64>(redis, redis::cmd("XLEN").arg(key)).await < len {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            &format!("{len} entries in the stream {key} (XADD)"),
        )
        .await;
    }

    /// Waits until the last of `added` packets is in the stream; returns its length.
    pub async fn wait_stream_trimmed(
        redis: &kit::redis::RedisServer,
        key: &str,
        added: u64,
    ) -> i64 {
        kit::within(
            WAIT,
            async {
                loop {
                    let info: redis::Value =
                        query(redis, redis::cmd("XINFO").arg("STREAM").arg(key)).await;
                    if entries_added(&info) >= added {
                        return query::<i64>(redis, redis::cmd("XLEN").arg(key)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            &format!("{added} entries added to the stream {key}"),
        )
        .await
    }

    /// `entries-added` of an `XINFO STREAM` reply (a flat array of names and values).
    fn entries_added(info: &redis::Value) -> u64 {
        let redis::Value::Array(items) = info else {
            return 0;
        };
        items
            .chunks(2)
            .find(|pair| {
                redis::from_redis_value_ref::<String>(&pair[0])
                    .ok()
                    .as_deref()
                    == Some("entries-added")
            })
            .and_then(|pair| redis::from_redis_value_ref::<u64>(pair.get(1)?).ok())
            .unwrap_or(0)
    }

    /// One entry of an `XRANGE` reply: its id and its field/value pairs.
    type StreamEntry = (String, Vec<(String, Vec<u8>)>);

    pub async fn xrange(redis: &kit::redis::RedisServer, key: &str) -> Vec<(String, Value)> {
        let entries: Vec<StreamEntry> =
            query(redis, redis::cmd("XRANGE").arg(key).arg("-").arg("+")).await;
        entries
            .into_iter()
            .map(|(id, fields)| (id, json!(fields.len())))
            .collect()
    }

    /// The offset an event ends with.
    pub fn offset_of(event: &Value) -> String {
        event
            .as_array()
            .and_then(|items| items.last())
            .and_then(Value::as_str)
            .unwrap_or_else(|| {
                panic!(
                    "expected a recorded event to end with its offset, a string; got {event} \
                     (see book/src/05-production/recovery.md)"
                )
            })
            .to_owned()
    }

    /// The `n` of a chat event `["chat", {"n": n}, offset]`.
    pub fn number_of(event: &Value) -> i64 {
        event[1]["n"]
            .as_i64()
            .unwrap_or_else(|| panic!("expected [\"chat\", {{\"n\": N}}, ...], got {event}"))
    }

    type Stream = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    /// A raw Socket.IO client over one WebSocket; it answers pings itself.
    pub struct Client {
        stream: Stream,
        pub sid: String,
        pub pid: Option<String>,
        /// The events written before the CONNECT answer (a recovery's replay), arrays.
        pub missed: Vec<Value>,
        acks: u64,
    }

    impl Client {
        /// Connects to `/` with `auth`; the refusal's text (`44...`) otherwise.
        pub async fn connect(server: &Instance, auth: Value) -> Result<Client, String> {
            let url = server.http.ws_url("/socket.io/?EIO=4&transport=websocket");
            let (stream, _) = kit::within(
                WAIT,
                tokio_tungstenite::connect_async(url.as_str()),
                "the WebSocket",
            )
            .await
            .unwrap_or_else(|e| panic!("the WebSocket handshake to {url} failed: {e}"));
            let mut client = Client {
                stream,
                sid: String::new(),
                pid: None,
                missed: Vec::new(),
                acks: 0,
            };
            let open = client.recv("the open packet").await;
            assert!(
                open.starts_with("0{"),
                "expected the open packet, got {open:?}"
            );
            client.send(&format!("40{auth}")).await;
            loop {
                let frame = client.recv("the CONNECT answer").await;
                if let Some(event) = frame.strip_prefix("42") {
                    assert!(
                        !event.starts_with('/'),
                        "expected only events of `/` before the CONNECT answer of `/`, got \
                         {frame:?}: a broadcast of another namespace was replayed (see \
                         book/src/05-production/recovery.md, \"Which broadcasts a socket missed\")"
                    );
                    client
                        .missed
                        .push(serde_json::from_str(event).expect("JSON in a missed event"));
                    continue;
                }
                let Some(json) = frame.strip_prefix("40") else {
                    return Err(frame);
                };
                let value: Value = serde_json::from_str(json).expect("JSON in the CONNECT answer");
                client.sid = value["sid"].as_str().expect("a sid").to_owned();
                client.pid = value["pid"].as_str().map(str::to_owned);
                return Ok(client);
            }
        }

        /// Whether the CONNECT answer gave back `pid`: what socket.io-client calls `recovered`.
        pub fn recovered(&self, pid: &str) -> bool {
            self.pid.as_deref() == Some(pid)
        }

        /// Joins `room` and waits for the ack.
        pub async fn join(&mut self, room: &str) {
            self.acks += 1;
            let id = self.acks;
            self.send(&format!("42{id}[\"join\",\"{room}\"]")).await;
            loop {
                let frame = self.recv("the ack of join").await;
                if frame.starts_with(&format!("43{id}")) {
                    return;
                }
            }
        }

        pub async fn send(&mut self, text: &str) {
            let _ = self.stream.send(Message::text(text)).await;
        }

        /// The next event's array (`42[...]`), other frames skipped.
        pub async fn recv_event(&mut self, what: &str) -> Value {
            loop {
                let frame = self.recv(what).await;
                if let Some(event) = frame.strip_prefix("42") {
                    return serde_json::from_str(event).expect("JSON in an event");
                }
            }
        }

        /// The TCP connection goes away without a `41`: a recoverable "transport close".
        pub async fn drop_connection(self) {
            let Client { stream, .. } = self;
            drop(stream);
        }

        /// The next text frame, pings answered; panics on a close or after [`WAIT`].
        pub async fn recv(&mut self, what: &str) -> String {
            kit::within(WAIT, self.next(), what)
                .await
                .unwrap_or_else(|| {
                    panic!(
                        "expected {what}, but the server closed the connection (a client that \
                         reads in time must not be dropped: see \
                         book/src/05-production/backpressure.md)"
                    )
                })
        }

        /// The next text frame, or `None` when the connection closes; panics after `limit`.
        pub async fn recv_or_close(&mut self, limit: Duration, what: &str) -> Option<String> {
            kit::within(limit, self.next(), what).await
        }

        async fn next(&mut self) -> Option<String> {
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
        }
    }
}
