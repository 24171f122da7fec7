//! The kit's Redis provider against a real server: the same path every chapter-3 test takes.
//!
//! The fallback tests run this same test binary again as a child process, with Docker
//! pointed nowhere (`DOCKER_HOST`), because the provider is chosen from the process's
//! environment and tests in one process share it.

use std::process::{Command, Output};
use std::time::Duration;

use futures_util::StreamExt;
use kit::{RedisProvider, redis_for_test, within};

const LIMIT: Duration = Duration::from_secs(10);

/// A Docker endpoint where nothing listens: testcontainers fails at once.
const NO_DOCKER: &str = "tcp://127.0.0.1:1";

/// Set in a child run: the test leaks its server, as a `static` would, so the watchdog
/// alone must stop it when the process ends.
const LEAK: &str = "KIT_TEST_LEAK_REDIS";

#[tokio::test]
async fn ping_answers_pong() {
    let redis = redis_for_test().await;
    println!(
        "Redis provider used: {} at {}",
        redis.provider(),
        redis.url()
    );
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
    if std::env::var_os(LEAK).is_some() {
        std::mem::forget(redis);
    }
}

#[tokio::test]
async fn a_published_message_reaches_a_subscriber() {
    let redis = redis_for_test().await;
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

/// Runs `ping_answers_pong` in a child process of this test binary, without Docker.
fn child_without_docker(path: Option<&std::path::Path>) -> Output {
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"));
    child
        .args(["--exact", "ping_answers_pong", "--nocapture"])
        .env("DOCKER_HOST", NO_DOCKER)
        .env(LEAK, "1")
        // A backtrace must not appear even when asked for: the message is the story.
        .env("RUST_BACKTRACE", "1")
        .env_remove("REDIS_URL")
        .env_remove("COURSE_REQUIRE_ALL");
    if let Some(path) = path {
        child.env("PATH", path);
    }
    child.output().expect("running the test binary again")
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn without_docker_the_kit_starts_the_redis_server_on_path() {
    let Some(binary) = kit::redis::redis_server_on_path() else {
        assert!(
            std::env::var("COURSE_REQUIRE_ALL").as_deref() != Ok("1"),
            "CI must exercise the redis-server fallback: .ci/provision installs redis-server"
        );
        // Without redis-server the child must fail, and say how to fix it.
        let output = child_without_docker(None);
        let text = text_of(&output);
        assert!(
            !output.status.success() && text.contains("2. install Redis"),
            "with no Docker and no redis-server, the kit must fail with the fixes; got:\n{text}"
        );
        return;
    };
    let output = child_without_docker(None);
    let text = text_of(&output);
    assert!(
        output.status.success(),
        "with Docker unreachable, the kit should have started {} itself; the child said:\n{text}",
        binary.display()
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("Redis provider used: "))
        .unwrap_or_else(|| panic!("the child did not say which provider it used:\n{text}"));
    assert!(
        line.contains("redis-server on PATH"),
        "expected the redis-server provider, got: {line}"
    );
    let port: u16 = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    // The child leaked its handle and has exited: the watchdog must have stopped the
    // server. Another process's exit cannot be awaited from here, so poll the port.
    within(
        Duration::from_secs(5),
        async {
            while tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        },
        "the leaked redis-server to stop once the test process ended (its port to close)",
    )
    .await;
}

#[test]
fn with_no_provider_the_failure_names_three_fixes_and_no_backtrace() {
    let empty = tempfile::tempdir().expect("a temporary directory");
    let output = child_without_docker(Some(empty.path()));
    let text = text_of(&output);
    assert!(
        !output.status.success(),
        "no REDIS_URL, no Docker, no redis-server: the test must fail; it passed:\n{text}"
    );
    for fix in [
        "1. start Docker",
        "2. install Redis",
        "3. run a Redis server yourself",
    ] {
        assert!(
            text.contains(fix),
            "the failure should name the fix {fix:?}; got:\n{text}"
        );
    }
    assert!(
        !text.contains("stack backtrace"),
        "the failure should be the message alone, without a backtrace; got:\n{text}"
    );
}
