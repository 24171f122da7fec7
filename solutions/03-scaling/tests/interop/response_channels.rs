//! `publishOnSpecificResponseChannel`: answers on the requester's own channel
//! `<key>-response#/#<uid>#`, from Node to Rust and from Rust to Node.

use serde_json::{Value, json};
use socketio::Adapter;

use crate::PAGE;
use crate::cluster::{Mixed, REQUESTS, Specific};

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
