//! Broadcasts across the mixed cluster: rooms, the sender skipped, `except`, binary
//! arguments, the volatile flag, and broadcasts with acks.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::PAGE;
use crate::cluster::{Mixed, REQUESTS};

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
