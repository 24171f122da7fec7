//! The cluster you can run: each instance's page says which instance it talks to, and
//! `/instance` lists the sockets it holds, so the page can mark a chat that came from another
//! instance through Redis. Two instances on one real Redis (the kit's).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use scaling::{RedisAdapter, RedisAdapterConfig};
use serde_json::Value;
use socketio::Config;
use tokio_tungstenite::tungstenite::Message;

const PAGE: &str = "book/src/03-scaling/lab.md";
const WAIT: Duration = Duration::from_secs(5);

async fn instance(url: &str, key: &str) -> kit::TestServer {
    let client = redis::Client::open(url).expect("a valid Redis URL");
    let config = RedisAdapterConfig {
        key: key.to_owned(),
        ..RedisAdapterConfig::default()
    };
    let (factory, _) = RedisAdapter::factory(client, config);
    let (_io, router) = scaling::demo::app(Config::default(), Some(factory))
        .await
        .expect("the instance joins Redis");
    kit::TestServer::start_with(|listener| async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.expect("serving");
    })
    .await
}

async fn info(server: &kit::TestServer) -> Value {
    kit::within(WAIT, reqwest::get(server.url("/instance")), "GET /instance")
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON from /instance")
}

#[tokio::test]
async fn each_instance_says_who_it_is_and_which_sockets_it_holds() {
    let redis = kit::redis::start_redis()
        .await
        .unwrap_or_else(|e| panic!("the demo cluster needs a real Redis: {e}"));
    let key = format!("demo-{}", scaling::requests::random_id());
    let one = instance(redis.url(), &key).await;
    let two = instance(redis.url(), &key).await;

    let url = one.ws_url("/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = kit::within(
        WAIT,
        tokio_tungstenite::connect_async(&url),
        "the WebSocket",
    )
    .await
    .expect("a WebSocket");
    ws.send(Message::text("40")).await.expect("CONNECT sent");
    let sid = kit::within(
        WAIT,
        async {
            while let Some(Ok(message)) = ws.next().await {
                if let Some(json) = message.to_text().ok().and_then(|t| t.strip_prefix("40")) {
                    let answer: Value = serde_json::from_str(json).expect("JSON");
                    return answer["sid"].as_str().map(str::to_owned);
                }
            }
            None
        },
        "the CONNECT answer",
    )
    .await
    .expect("a sid");

    let (first, second) = (info(&one).await, info(&two).await);
    assert_eq!(first["clustered"], true, "{first} (see {PAGE})");
    assert_ne!(
        first["id"], second["id"],
        "each instance has an id of its own, for the page to show (see {PAGE})"
    );
    assert_eq!(
        first["sockets"],
        serde_json::json!([sid]),
        "/instance lists the sockets the instance holds on `/` (see {PAGE})"
    );
    assert_eq!(
        second["sockets"],
        serde_json::json!([]),
        "the other instance holds none of them (see {PAGE})"
    );
    let page = kit::within(WAIT, reqwest::get(one.url("/")), "GET /")
        .await
        .expect("an answer")
        .text()
        .await
        .expect("the page");
    assert!(
        page.contains("fetch(\"/instance\")") && page.contains("via another instance"),
        "the page asks /instance and marks chats from other instances (see {PAGE})"
    );
}
