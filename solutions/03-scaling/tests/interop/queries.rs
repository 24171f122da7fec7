//! Questions one server asks the others: `fetchSockets`, the server count, `allRooms`, and
//! server-side emits with their acks.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use socketio::Adapter;
use tokio::sync::mpsc;

use crate::PAGE;
use crate::cluster::{Mixed, REQUESTS};
use crate::node;

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
