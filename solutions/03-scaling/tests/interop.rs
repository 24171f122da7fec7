//! Interop: a Node socket.io 4.8 server with `@socket.io/redis-adapter` 8.3 in a cluster with
//! two Rust instances, on one real Redis.
//!
//! Our adapter claims Node's wire format; only Node itself can prove it. Each test starts a
//! Redis (the kit's), two Rust instances in process and `tests/interop/node_instance.mjs`, and
//! checks each feature of the adapter in both directions, Node to Rust and Rust to Node. The
//! clients are the official `socket.io-client` 4.8, held by the Node process. The script only
//! acts and observes; the assertions are here, with the book page that explains them.
//!
//! Behind the `interop` feature (plain `cargo test` needs no Node). `cargo xtask verify`
//! installs the npm packages into `target/interop/node-cluster/` and runs:
//! `cargo test -p solution-03-scaling --features interop --test interop`.

#[path = "interop/cluster.rs"]
mod cluster;
#[path = "interop/node.rs"]
mod node;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use socketio::Adapter;
use tokio::sync::mpsc;

use cluster::{Mixed, REQUESTS, Specific};

const PAGE: &str = "book/src/03-scaling/index.md";

/// A chat as the contract delivers it: the sent object plus `from`.
fn chat_from(sent: &Value, from: &str) -> Value {
    let mut message = sent.clone();
    message["from"] = json!(from);
    message
}

#[tokio::test]
async fn room_broadcasts_cross_between_node_and_rust_and_skip_the_sender() {
    let mut m = Mixed::start().await;
    let (node_url, rust0, rust1) = (m.node.url(), m.rust[0].url(), m.rust[1].url());
    let nina = m.node.connect("nina", &node_url).await;
    let rosa = m.node.connect("rosa", &rust0).await;
    m.node.connect("omar", &rust1).await;
    m.node.join("nina", "general").await;
    m.node.join("rosa", "general").await;

    let from_node = json!({"room": "general", "text": "node to general"});
    m.node.emit("nina", "chat", json!([from_node])).await;
    let got = m
        .node
        .received("rosa", "chat", "nina's chat at rosa (Rust)")
        .await;
    assert_eq!(
        got,
        json!([chat_from(&from_node, &nina)]),
        "a chat to `general` on the Node instance must reach rosa, in `general` on a Rust \
         instance, with `from` = nina's id (see {PAGE})"
    );
    let from_rust = json!({"room": "general", "text": "rust to general"});
    m.node.emit("rosa", "chat", json!([from_rust])).await;
    let got = m
        .node
        .received("nina", "chat", "rosa's chat at nina (Node)")
        .await;
    assert_eq!(
        got,
        json!([chat_from(&from_rust, &rosa)]),
        "a chat to `general` on a Rust instance must reach nina, in `general` on the Node \
         instance (see {PAGE})"
    );
    // `except` from Node: the room is skipped on the Rust instances too.
    m.node
        .call(
            json!({"op": "emit", "except": ["general"], "event": "news", "args": ["not general"]}),
        )
        .await;
    let got = m
        .node
        .received("omar", "news", "Node's news except general at omar")
        .await;
    assert_eq!(
        got,
        json!(["not general"]),
        "omar is not in `general` (see {PAGE})"
    );
    // Fences: a chat to the whole namespace from each side, then an echo on each sender.
    m.node
        .emit("nina", "chat", json!([{"text": "fence node"}]))
        .await;
    m.node
        .received("omar", "chat", "nina's fence at omar")
        .await;
    m.node
        .emit("rosa", "chat", json!([{"text": "fence rust"}]))
        .await;
    m.node
        .received("omar", "chat", "rosa's fence at omar")
        .await;
    m.node
        .received("nina", "chat", "rosa's fence at nina")
        .await;
    m.node
        .received("rosa", "chat", "nina's fence at rosa")
        .await;
    m.node.fence("nina").await;
    m.node.fence("rosa").await;
    m.node.fence("omar").await;
    for who in ["nina", "rosa", "omar"] {
        let extra = m.node.take_received(who);
        assert_eq!(
            extra,
            Vec::<Value>::new(),
            "{who} must receive nothing else: no chat of their own, omar (not in `general`) no \
             room chat, and nina and rosa no broadcast that excepts `general`; got {extra:?} \
             (see {PAGE})"
        );
    }
}

#[tokio::test]
async fn binary_arguments_and_the_volatile_flag_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (node_url, rust0) = (m.node.url(), m.rust[0].url());
    let nina = m.node.connect("nina", &node_url).await;
    let rosa = m.node.connect("rosa", &rust0).await;
    let blob = json!({"$bin": [0, 1, 2, 255]});
    m.node
        .emit("nina", "chat", json!([{"text": "file", "blob": blob}]))
        .await;
    let got = m
        .node
        .received("rosa", "chat", "nina's binary chat at rosa")
        .await;
    assert_eq!(
        got,
        json!([{"text": "file", "blob": blob, "from": nina}]),
        "a Buffer argument from Node travels inline as msgpack bin and must reach a Rust \
         instance's client as binary (see {PAGE})"
    );
    m.node
        .emit("rosa", "chat", json!([{"text": "file back", "blob": blob}]))
        .await;
    let got = m
        .node
        .received("nina", "chat", "rosa's binary chat at nina")
        .await;
    assert_eq!(
        got,
        json!([{"text": "file back", "blob": blob, "from": rosa}]),
        "binary from a Rust instance's client must reach a Node client as a Buffer (see {PAGE})"
    );
    m.node
        .call(json!({"op": "emit", "volatile": true, "event": "news", "args": ["volatile"]}))
        .await;
    let got = m
        .node
        .received("rosa", "news", "Node's volatile news at rosa")
        .await;
    assert_eq!(
        got,
        json!(["volatile"]),
        "a volatile broadcast from Node (flags {{volatile: true}}) must reach a connected Rust \
         client (see {PAGE})"
    );
    // nina, on Node, got Node's own volatile news too.
    m.node
        .received("nina", "news", "Node's volatile news at nina")
        .await;
    m.rust[0]
        .ns()
        .operator()
        .volatile()
        .emit("news", vec![json!("rust volatile")]);
    let got = m
        .node
        .received("nina", "news", "Rust's volatile news at nina")
        .await;
    assert_eq!(
        got,
        json!(["rust volatile"]),
        "a volatile broadcast from Rust (flags {{volatile: true}}) must reach a connected Node \
         client (see {PAGE})"
    );
}

#[tokio::test]
async fn fetch_sockets_sees_the_other_side_with_its_handshake() {
    let mut m = Mixed::start().await;
    let (node_url, rust0) = (m.node.url(), m.rust[0].url());
    let nina = m.node.connect("nina", &node_url).await;
    let rosa = m.node.connect("rosa", &rust0).await;
    m.node.join("nina", "general").await;
    m.node.join("rosa", "general").await;
    m.node.join("rosa", "music").await;

    let sockets = m
        .node
        .call(json!({"op": "fetchSockets", "rooms": ["general"]}))
        .await;
    let ids: BTreeSet<&str> = sockets
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([nina.as_str(), rosa.as_str()]),
        "Node's fetchSockets() on `general` must return nina (Node) and rosa (Rust) (see {PAGE})"
    );
    let remote = sockets
        .as_array()
        .and_then(|list| list.iter().find(|s| s["id"] == rosa.as_str()))
        .expect("rosa");
    let rooms: BTreeSet<&str> = remote["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        rooms,
        BTreeSet::from([rosa.as_str(), "general", "music"]),
        "a Rust socket's RemoteSocket.rooms must hold its own id and its rooms (see {PAGE})"
    );
    assert_handshake(
        &remote["handshake"],
        "rosa",
        "Node's RemoteSocket for a Rust socket",
    );
    assert_eq!(
        remote["data"],
        json!({}),
        "a socket's data starts as {{}} on both sides (socket.io 4: `socket.data = {{}}`) (see {PAGE})"
    );

    let seen = m.rust[1]
        .ns()
        .to("general")
        .fetch_sockets()
        .await
        .unwrap_or_else(|e| panic!("Rust's fetch_sockets across Node failed: {e} (see {PAGE})"));
    let from_node = seen
        .iter()
        .find(|s| s.id == nina)
        .unwrap_or_else(|| {
            panic!("Rust's fetch_sockets on `general` must include nina, on the Node instance; got {seen:?} (see {PAGE})")
        });
    assert_eq!(
        from_node
            .rooms
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([nina.as_str(), "general"]),
        "nina's rooms as Node reports them (see {PAGE})"
    );
    assert_eq!(
        from_node.data,
        json!({}),
        "nina's data as Node reports it (see {PAGE})"
    );
    let handshake = serde_json::to_value(&from_node.handshake).expect("a handshake");
    assert_handshake(&handshake, "nina", "Rust's SocketInfo for a Node socket");
    assert!(
        seen.iter().any(|s| s.id == rosa),
        "Rust's fetch_sockets must include rosa, on the other Rust instance (see {PAGE})"
    );
}

/// The fields socket.io's `socket.handshake` has, as the official client fills them.
fn assert_handshake(handshake: &Value, name: &str, what: &str) {
    let explain = format!("{what}: handshake {handshake} (see {PAGE})");
    assert!(
        handshake["headers"]["host"]
            .as_str()
            .is_some_and(|h| h.starts_with("127.0.0.1:")),
        "headers.host is the server's address; {explain}"
    );
    assert!(
        handshake["time"].as_str().is_some_and(|t| !t.is_empty()),
        "time is a string; {explain}"
    );
    assert!(
        handshake["address"]
            .as_str()
            .is_some_and(|a| a.contains("127.0.0.1")),
        "address is the client's; {explain}"
    );
    assert_eq!(
        handshake["xdomain"].as_bool(),
        Some(false),
        "xdomain is false without an Origin; {explain}"
    );
    assert_eq!(
        handshake["secure"], false,
        "secure is false over plain HTTP; {explain}"
    );
    assert!(
        handshake["issued"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "issued is milliseconds since the epoch; {explain}"
    );
    assert!(
        handshake["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("/socket.io/?")),
        "url is the handshake request's; {explain}"
    );
    assert_eq!(handshake["query"]["EIO"], "4", "query.EIO; {explain}");
    assert_eq!(
        handshake["query"]["transport"], "websocket",
        "query.transport; {explain}"
    );
    assert_eq!(
        handshake["query"]["team"], "blue",
        "query holds the client's own parameters; {explain}"
    );
    assert_eq!(
        handshake["auth"],
        json!({"token": name}),
        "auth is the CONNECT payload; {explain}"
    );
}

#[tokio::test]
async fn server_side_emit_crosses_both_ways_with_acks() {
    let mut m = Mixed::start().await;
    let (tx, mut hellos) = mpsc::unbounded_channel();
    for (i, instance) in m.rust.iter().enumerate() {
        let tx = tx.clone();
        let ns = instance.ns();
        ns.on_server_event("hello", move |args, _| drop(tx.send((i, args))));
        ns.on_server_event("ask", move |args, ack| {
            if let Some(ack) = ack {
                ack.send(json!({"from": format!("rust-{i}"), "got": args}));
            }
        });
    }

    m.rust[0]
        .ns()
        .server_side_emit("hello", vec![json!(1), json!("two")])
        .await
        .expect("serverSideEmit from Rust");
    let report = m
        .node
        .report("Rust's serverSideEmit at Node", |r| {
            r["report"] == "server-event"
        })
        .await;
    assert_eq!(
        report,
        json!({"report": "server-event", "name": "hello", "args": [1, "two"]}),
        "Rust's server_side_emit(\"hello\", 1, \"two\") must run Node's io.on(\"hello\") (see {PAGE})"
    );
    let (at, args) = kit::within(
        node::REPORT,
        hellos.recv(),
        "Rust's hello at the other Rust instance",
    )
    .await
    .expect("a hello");
    assert_eq!((at, args), (1, vec![json!(1), json!("two")]), "see {PAGE}");

    let mut answers = m.rust[0]
        .ns()
        .server_side_emit_with_ack("ask", vec![json!(42)], REQUESTS)
        .await
        .unwrap_or_else(|e| panic!("serverSideEmitWithAck from Rust: {e} (see {PAGE})"));
    answers.sort_by_key(|a| a["from"].as_str().map(str::to_owned));
    assert_eq!(
        answers,
        vec![
            json!({"from": "node", "got": [42]}),
            json!({"from": "rust-1", "got": [42]}),
        ],
        "Rust's serverSideEmitWithAck must get one answer per other server, Node's included \
         (see {PAGE})"
    );

    m.node
        .call(json!({"op": "serverSideEmit", "name": "hello", "args": ["from node"]}))
        .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(
            kit::within(
                node::REPORT,
                hellos.recv(),
                "Node's hello at both Rust instances",
            )
            .await
            .expect("a hello"),
        );
    }
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(
        got,
        vec![(0, vec![json!("from node")]), (1, vec![json!("from node")])],
        "Node's serverSideEmit must run the handler on both Rust instances (see {PAGE})"
    );

    let answers = m
        .node
        .call(json!({"op": "serverSideEmitWithAck", "name": "ask", "args": [7]}))
        .await;
    let mut answers = answers.as_array().cloned().expect("an array of answers");
    answers.sort_by_key(|a| a["from"].as_str().map(str::to_owned));
    assert_eq!(
        answers,
        vec![
            json!({"from": "rust-0", "got": [7]}),
            json!({"from": "rust-1", "got": [7]}),
        ],
        "Node's serverSideEmitWithAck must get an answer from each Rust instance (see {PAGE})"
    );
}

#[tokio::test]
async fn remote_join_leave_and_disconnect_cross_both_ways() {
    let mut m = Mixed::start().await;
    let (node_url, rust0) = (m.node.url(), m.rust[0].url());
    let nina = m.node.connect("nina", &node_url).await;
    let rosa = m.node.connect("rosa", &rust0).await;

    m.node
        .call(json!({"op": "socketsJoin", "rooms": [rosa], "join": ["music"]}))
        .await;
    m.node
        .call(json!({"op": "emit", "rooms": ["music"], "event": "news", "args": ["for music"]}))
        .await;
    let got = m
        .node
        .received("rosa", "news", "news to music at rosa")
        .await;
    assert_eq!(
        got,
        json!(["for music"]),
        "after Node's io.in(rosa).socketsJoin(\"music\"), rosa (on Rust) is in music (see {PAGE})"
    );

    let ns = m.rust[0].ns();
    ns.to(nina.clone())
        .sockets_join(vec!["video-games".into()])
        .await
        .expect("sockets_join from Rust");
    ns.to("video-games")
        .emit("news", vec![json!("for video-games")]);
    let got = m
        .node
        .received("nina", "news", "news to video-games at nina")
        .await;
    assert_eq!(
        got,
        json!(["for video-games"]),
        "after Rust's to(nina).sockets_join([\"video-games\"]), nina (on Node) is in it (see {PAGE})"
    );

    m.node
        .call(json!({"op": "socketsLeave", "rooms": [rosa], "leave": ["music"]}))
        .await;
    ns.to(nina.clone())
        .sockets_leave(vec!["video-games".into()])
        .await
        .expect("sockets_leave from Rust");
    m.node
        .call(json!({"op": "emit", "rooms": ["music"], "event": "news", "args": ["late music"]}))
        .await;
    ns.to("video-games")
        .emit("news", vec![json!("late video-games")]);
    m.node.fence("nina").await;
    m.node.fence("rosa").await;
    // Fences on the instances' queues, not on Redis: wait for one more broadcast from each side.
    m.node
        .call(json!({"op": "emit", "event": "news", "args": ["fence node"]}))
        .await;
    ns.emit("news", vec![json!("fence rust")]);
    for who in ["nina", "rosa"] {
        for fence in ["fence node", "fence rust"] {
            m.node
                .received(who, "news", &format!("{fence} at {who}"))
                .await;
        }
    }
    for (who, left) in [("nina", "video-games"), ("rosa", "music")] {
        let extra = m.node.take_received(who);
        assert!(
            extra.is_empty(),
            "{who} left {left} remotely, so nothing sent to it must arrive; got {extra:?} \
             (see {PAGE})"
        );
    }

    m.node
        .call(json!({"op": "disconnectSockets", "rooms": [rosa], "close": false}))
        .await;
    let got = m
        .node
        .received("rosa", "disconnect", "rosa disconnected by Node")
        .await;
    assert_eq!(
        got,
        json!(["io server disconnect"]),
        "Node's io.in(rosa).disconnectSockets() must disconnect rosa on Rust (see {PAGE})"
    );
    ns.to(nina.clone())
        .disconnect_sockets(false)
        .await
        .expect("disconnect_sockets from Rust");
    let got = m
        .node
        .received("nina", "disconnect", "nina disconnected by Rust")
        .await;
    assert_eq!(
        got,
        json!(["io server disconnect"]),
        "Rust's to(nina).disconnect_sockets() must disconnect nina on Node (see {PAGE})"
    );
}

/// Regression: a remote operation without `opts` once read as "every socket" here, where Node
/// reads the older form (one socket `sid`) and otherwise does nothing.
#[tokio::test]
async fn a_remote_disconnect_without_opts_targets_what_node_targets() {
    let mut m = Mixed::start().await;
    let (node_url, rust0) = (m.node.url(), m.rust[0].url());
    let nina = m.node.connect("nina", &node_url).await;
    m.node.connect("nora", &node_url).await;
    let rosa = m.node.connect("rosa", &rust0).await;
    m.node.connect("omar", &rust0).await;
    let requests = format!("{}-request#/#", m.key);
    let nobody = json!({"uid": "legacy", "requestId": "lgcy01", "type": 4, "close": false});
    m.publish(&requests, nobody.to_string().as_bytes()).await;
    for sid in [&nina, &rosa] {
        let one =
            json!({"uid": "legacy", "requestId": "lgcy02", "type": 4, "sid": sid, "close": false});
        m.publish(&requests, one.to_string().as_bytes()).await;
    }
    for who in ["nina", "rosa"] {
        let got = m
            .node
            .received(
                who,
                "disconnect",
                &format!("{who} disconnected by the older form"),
            )
            .await;
        assert_eq!(got, json!(["io server disconnect"]), "see {PAGE}");
    }
    for who in ["nora", "omar"] {
        m.node.fence(who).await;
        let extra = m.node.take_received(who);
        assert!(
            extra.is_empty(),
            "a REMOTE_DISCONNECT without `opts` targets its `sid` only, or nobody, as Node 8.3 \
             reads it; {who} got {extra:?} (see {PAGE})"
        );
    }
}

#[tokio::test]
async fn server_count_and_all_rooms_agree_on_both_sides() {
    let mut m = Mixed::start().await;
    let count = m.node.call(json!({"op": "serverCount"})).await;
    assert_eq!(
        count,
        json!(3),
        "Node's adapter.serverCount() is PUBSUB NUMSUB of the request channel: 2 Rust + 1 Node \
         (see {PAGE})"
    );
    for (i, instance) in m.rust.iter().enumerate() {
        let count = instance
            .adapter()
            .server_count()
            .await
            .unwrap_or_else(|e| panic!("server_count on Rust instance {i}: {e}"));
        assert_eq!(
            count, 3,
            "Rust instance {i}'s server_count must be 3 (see {PAGE})"
        );
    }

    let (node_url, rust0) = (m.node.url(), m.rust[0].url());
    m.node.connect("nina", &node_url).await;
    m.node.connect("rosa", &rust0).await;
    m.node.join("nina", "node-room").await;
    m.node.join("rosa", "rust-room").await;
    let rooms = m.node.call(json!({"op": "allRooms"})).await;
    let rooms: BTreeSet<&str> = rooms
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        rooms.contains("node-room") && rooms.contains("rust-room"),
        "Node's allRooms() must include the rooms of the Rust instances; got {rooms:?} (see {PAGE})"
    );
    let rooms = m.rust[1]
        .adapter()
        .all_rooms()
        .await
        .unwrap_or_else(|e| panic!("Rust's all_rooms across Node: {e} (see {PAGE})"));
    assert!(
        rooms.contains("node-room") && rooms.contains("rust-room"),
        "Rust's all_rooms must include the Node instance's rooms; got {rooms:?} (see {PAGE})"
    );
}

#[tokio::test]
async fn broadcasts_with_acks_collect_every_client_on_both_sides() {
    let mut m = Mixed::start().await;
    let (node_url, rust0, rust1) = (m.node.url(), m.rust[0].url(), m.rust[1].url());
    for (name, url) in [("nina", &node_url), ("rosa", &rust0), ("ruth", &rust1)] {
        m.node.connect(name, url).await;
        m.node.join(name, "general").await;
    }
    let answers = m
        .node
        .call(json!({"op": "emitWithAck", "rooms": ["general"], "event": "poll", "args": ["q1"]}))
        .await;
    let by: BTreeSet<&str> = answers
        .as_array()
        .expect("answers")
        .iter()
        .filter_map(|a| a["by"].as_str())
        .collect();
    assert_eq!(
        by,
        BTreeSet::from(["nina", "rosa", "ruth"]),
        "Node's io.to(\"general\").timeout().emitWithAck() must collect every client's ack, \
         the Rust instances' included (each answers its client count, then each ack); got \
         {answers} (see {PAGE})"
    );
    let answers = m.rust[0]
        .ns()
        .to("general")
        .timeout(REQUESTS)
        .emit_with_ack("poll", vec![json!("q2")])
        .await
        .unwrap_or_else(|e| panic!("Rust's emit_with_ack across Node failed: {e} (see {PAGE})"));
    let mut got: Vec<Value> = answers.into_iter().map(|a| a.args[0].clone()).collect();
    got.sort_by_key(|a| a["by"].as_str().map(str::to_owned));
    assert_eq!(
        got,
        vec![
            json!({"by": "nina", "got": ["q2"]}),
            json!({"by": "rosa", "got": ["q2"]}),
            json!({"by": "ruth", "got": ["q2"]}),
        ],
        "Rust's emit_with_ack must collect every client's ack, Node's client included (see {PAGE})"
    );
}

#[tokio::test]
async fn node_answers_a_rust_request_on_its_specific_response_channel() {
    let mut m = Mixed::start_with(Specific {
        rust: false,
        node: true,
    })
    .await;
    let asker = m.rust[0].adapter();
    let own = format!("{}-response#/#{}#", m.key, asker.uid());
    assert_eq!(
        m.numsub(&own).await,
        1,
        "a Rust instance must listen on its own response channel {own} (see {PAGE})"
    );
    let mut raw = m.raw(&format!("{}-response#*", m.key)).await;
    let node_url = m.node.url();
    let nina = m.node.connect("nina", &node_url).await;
    m.node.join("nina", "node-room").await;

    let sockets = m.rust[0]
        .ns()
        .operator()
        .fetch_sockets()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "fetch_sockets with a Node instance answering on our own channel: {e} (see {PAGE})"
            )
        });
    assert!(
        sockets.iter().any(|s| s.id == nina),
        "fetch_sockets must include nina; got {sockets:?}"
    );
    let (channel, _) = raw
        .find("Node's answer to fetch_sockets", |_, v| {
            v["sockets"]
                .as_array()
                .is_some_and(|list| list.iter().any(|s| s["id"] == nina.as_str()))
        })
        .await;
    assert_eq!(
        channel, own,
        "with publishOnSpecificResponseChannel, Node answers on the requester's channel (see {PAGE})"
    );

    let rooms = asker.all_rooms().await.unwrap_or_else(|e| {
        panic!("all_rooms with Node answering on our channel: {e} (see {PAGE})")
    });
    assert!(
        rooms.contains("node-room"),
        "all_rooms must include Node's room; got {rooms:?}"
    );
    let (channel, _) = raw
        .find("Node's answer to all_rooms", |_, v| {
            v["rooms"]
                .as_array()
                .is_some_and(|list| list.iter().any(|r| r == "node-room"))
        })
        .await;
    assert_eq!(
        channel, own,
        "Node's allRooms answer goes on the requester's channel (see {PAGE})"
    );

    let answers = m.rust[0]
        .ns()
        .operator()
        .timeout(REQUESTS)
        .emit_with_ack("poll", vec![json!("q")])
        .await
        .unwrap_or_else(|e| {
            panic!("emit_with_ack with Node answering on our channel: {e} (see {PAGE})")
        });
    assert_eq!(
        answers.len(),
        1,
        "nina's ack, the only client; got {answers:?} (see {PAGE})"
    );
    let (channel, ack) = raw
        .find("Node's answer with nina's ack", |_, v| v["type"] == 9)
        .await;
    assert_eq!(
        channel, own,
        "Node forwards its client's ack (type 9) on the requester's channel; got {ack} (see {PAGE})"
    );

    // The one answer Node 8.3 does not route: a server-side emit's, always on the shared channel.
    m.rust[1].ns().on_server_event("ask", |_, ack| {
        if let Some(ack) = ack {
            ack.send(json!("rust-1"));
        }
    });
    let answers = m.rust[0]
        .ns()
        .server_side_emit_with_ack("ask", vec![], REQUESTS)
        .await
        .unwrap_or_else(|e| {
            panic!("server_side_emit_with_ack with Node's option on: {e} (see {PAGE})")
        });
    assert_eq!(
        answers.len(),
        2,
        "Node's and rust-1's answers; got {answers:?}"
    );
    let (channel, _) = raw
        .find("Node's server-side ack", |_, v| {
            v["type"] == 6 && v["data"]["from"] == "node"
        })
        .await;
    assert_eq!(
        channel,
        format!("{}-response#/#", m.key),
        "Node 8.3 publishes a server-side emit's answer on the shared channel even with \
         publishOnSpecificResponseChannel, so we must keep listening there (see {PAGE})"
    );
}

#[tokio::test]
async fn rust_answers_a_node_request_on_its_specific_response_channel() {
    let mut m = Mixed::start_with(Specific {
        rust: true,
        node: false,
    })
    .await;
    let theirs = format!("{}-response#/#{}#", m.key, m.node.uid);
    let mut raw = m.raw(&format!("{}-response#*", m.key)).await;
    let rust0 = m.rust[0].url();
    let rosa = m.node.connect("rosa", &rust0).await;
    m.node.join("rosa", "rust-room").await;

    let sockets = m.node.call(json!({"op": "fetchSockets"})).await;
    assert!(
        sockets
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s["id"] == rosa.as_str())),
        "Node's fetchSockets must include rosa; got {sockets}"
    );
    let (channel, _) = raw
        .find("Rust's answer to fetchSockets", |_, v| {
            v["sockets"]
                .as_array()
                .is_some_and(|list| list.iter().any(|s| s["id"] == rosa.as_str()))
        })
        .await;
    assert_eq!(
        channel, theirs,
        "with publish_on_specific_response_channel, a Rust instance answers on the requester's \
         channel `<key>-response#/#<uid>#` (see {PAGE})"
    );
    let rooms = m.node.call(json!({"op": "allRooms"})).await;
    assert!(
        rooms
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r == "rust-room")),
        "got {rooms}"
    );
    let (channel, _) = raw
        .find("Rust's answer to allRooms", |_, v| {
            v["rooms"]
                .as_array()
                .is_some_and(|list| list.iter().any(|r| r == "rust-room"))
        })
        .await;
    assert_eq!(
        channel, theirs,
        "Rust's allRooms answer goes on the requester's channel (see {PAGE})"
    );
    for (i, instance) in m.rust.iter().enumerate() {
        assert_eq!(
            instance.adapter().remembered_requesters(),
            0,
            "Rust instance {i} must forget a requester once it answered (see {PAGE})"
        );
    }

    let answers = m
        .node
        .call(json!({"op": "emitWithAck", "event": "poll", "args": ["q"]}))
        .await;
    assert_eq!(
        answers.as_array().map(Vec::len),
        Some(1),
        "rosa's ack reaches Node through Rust's answers on Node's channel; got {answers}"
    );
    // Each Rust instance answers a client count (type 8), rosa's also her ack (type 9).
    let answers = raw
        .at_least(3, "the Rust instances' answers to emitWithAck", |_, v| {
            v["type"] == 8 || v["type"] == 9
        })
        .await;
    let elsewhere: Vec<&(String, Value)> = answers.iter().filter(|(c, _)| *c != theirs).collect();
    assert!(
        elsewhere.is_empty(),
        "with the option, every client count and ack goes on the requester's channel {theirs}; \
         these did not: {elsewhere:?} (see {PAGE})"
    );

    // Node 8.3 answers a server-side emit on the shared channel whatever the option; so do we.
    for (i, instance) in m.rust.iter().enumerate() {
        instance.ns().on_server_event("ask", move |_, ack| {
            if let Some(ack) = ack {
                ack.send(json!(format!("rust-{i}")));
            }
        });
    }
    let answers = m
        .node
        .call(json!({"op": "serverSideEmitWithAck", "name": "ask", "args": []}))
        .await;
    assert_eq!(
        answers.as_array().map(Vec::len),
        Some(2),
        "got {answers} (see {PAGE})"
    );
    let shared = format!("{}-response#/#", m.key);
    let acks = raw
        .at_least(2, "the Rust instances' server-side acks", |_, v| {
            v["type"] == 6
        })
        .await;
    assert!(
        acks.iter().all(|(c, _)| *c == shared),
        "a server-side emit's answer goes on the shared channel {shared}, as Node 8.3 sends it \
         even with publishOnSpecificResponseChannel; got {acks:?} (see {PAGE})"
    );
}
