//! Operations on another server's sockets: `socketsJoin`, `socketsLeave`,
//! `disconnectSockets`, and the older form of those requests.

use serde_json::json;

use crate::PAGE;
use crate::cluster::Mixed;

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
