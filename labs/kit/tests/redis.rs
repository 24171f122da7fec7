//! The kit's Redis provider against a real server: the same path every chapter-3 test takes.

use std::time::Duration;

use futures_util::StreamExt;
use kit::{RedisProvider, start_redis, within};

const LIMIT: Duration = Duration::from_secs(10);

async fn redis_or_explain() -> kit::RedisServer {
    match start_redis().await {
        Ok(server) => server,
        Err(why) => panic!("no Redis for this test:\n{why}"),
    }
}

#[tokio::test]
async fn ping_answers_pong() {
    let redis = redis_or_explain().await;
    println!("Redis provider used: {}", redis.provider());
    if std::env::var("COURSE_REQUIRE_ALL").as_deref() == Ok("1")
        && std::env::var("REDIS_URL").is_err()
    {
        assert!(
            matches!(redis.provider(), RedisProvider::Container { .. }),
            "CI must exercise the testcontainers path"
        );
    }
    let mut conn = within(
        LIMIT,
        redis.client().get_multiplexed_async_connection(),
        "a connection to Redis",
    )
    .await
    .expect("connecting to Redis failed");
    let pong: String = within(LIMIT, redis::cmd("PING").query_async(&mut conn), "PONG")
        .await
        .expect("PING failed");
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn a_published_message_reaches_a_subscriber() {
    let redis = redis_or_explain().await;
    println!("Redis provider used: {}", redis.provider());
    let mut pubsub = within(
        LIMIT,
        redis.client().get_async_pubsub(),
        "a Pub/Sub connection",
    )
    .await
    .expect("opening a Pub/Sub connection failed");
    within(
        LIMIT,
        pubsub.subscribe("kit-test"),
        "SUBSCRIBE to be confirmed",
    )
    .await
    .expect("SUBSCRIBE failed");

    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connecting to Redis failed");
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("kit-test")
        .arg("hello")
        .query_async(&mut conn)
        .await
        .expect("PUBLISH failed");
    assert_eq!(
        receivers, 1,
        "PUBLISH reports how many subscribers got the message"
    );

    let mut messages = pubsub.on_message();
    let message = within(LIMIT, messages.next(), "the published message")
        .await
        .expect("the Pub/Sub stream ended");
    assert_eq!(message.get_channel_name(), "kit-test");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
}
