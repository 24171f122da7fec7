//! A mixed cluster on one real Redis, under a prefix of its own: two Rust instances (the
//! library, in process, as chapter 3's own tests run them) and one Node instance.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use scaling::adapter::Handles;
use scaling::{RedisAdapter, RedisAdapterConfig};
use serde_json::Value;
use socketio::{Config, Namespace, SocketIo};

use super::PAGE;
use super::node::{NodeInstance, REPORT};

/// How long a Rust query waits for every server (as the Node instance's `requestsTimeout`).
pub const REQUESTS: Duration = Duration::from_secs(3);

/// One Rust instance: the chat server with a Redis adapter.
pub struct RustInstance {
    pub io: SocketIo,
    pub server: kit::TestServer,
    handles: Handles,
}

impl RustInstance {
    /// Its `/` namespace.
    pub fn ns(&self) -> Arc<Namespace> {
        self.io.of("/").expect("the chat serves `/`")
    }

    /// Its Redis adapter for `/`.
    pub fn adapter(&self) -> Arc<RedisAdapter> {
        self.handles.get("/").expect("a Redis adapter for `/`")
    }

    /// `http://127.0.0.1:PORT`, for a client.
    pub fn url(&self) -> String {
        self.server.url("")
    }
}

/// Which instances answer on the requester's own response channel.
#[derive(Clone, Copy, Default)]
pub struct Specific {
    pub rust: bool,
    pub node: bool,
}

pub struct Mixed {
    pub key: String,
    url: String,
    _redis: kit::redis::RedisServer,
    pub rust: Vec<RustInstance>,
    pub node: NodeInstance,
}

impl Mixed {
    /// Two Rust instances and one Node instance, every one on the default response channel.
    pub async fn start() -> Mixed {
        Self::start_with(Specific::default()).await
    }

    pub async fn start_with(specific: Specific) -> Mixed {
        let redis = kit::redis::start_redis()
            .await
            .unwrap_or_else(|e| panic!("chapter 3's interop tests need a real Redis: {e}"));
        let url = redis.url().to_owned();
        let key = format!("interop-{}", scaling::requests::random_id());
        let mut rust = Vec::new();
        for _ in 0..2 {
            rust.push(start_rust(&url, &key, specific.rust).await);
        }
        let node = NodeInstance::start(&url, &key, specific.node).await;
        Mixed {
            key,
            url,
            _redis: redis,
            rust,
            node,
        }
    }

    /// A raw subscriber to `pattern`, reading what the instances publish.
    pub async fn raw(&self, pattern: &str) -> Raw {
        let client = redis::Client::open(self.url.as_str()).expect("a valid Redis URL");
        let mut pubsub = kit::within(REPORT, client.get_async_pubsub(), "a Redis subscriber")
            .await
            .expect("a Redis subscriber");
        pubsub.psubscribe(pattern).await.expect("PSUBSCRIBE works");
        Raw {
            messages: pubsub.into_on_message().boxed(),
            seen: Vec::new(),
        }
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).expect("a valid Redis URL");
        kit::within(
            REPORT,
            client.get_multiplexed_async_connection(),
            "a Redis connection",
        )
        .await
        .expect("a Redis connection")
    }

    /// `PUBLISH channel payload`, as another server would.
    pub async fn publish(&self, channel: &str, payload: &[u8]) {
        let mut conn = self.connection().await;
        let _: usize = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut conn)
            .await
            .expect("PUBLISH works");
    }

    /// `PUBSUB NUMSUB channel`.
    pub async fn numsub(&self, channel: &str) -> usize {
        let mut conn = self.connection().await;
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .expect("PUBSUB NUMSUB works");
        count
    }
}

async fn start_rust(url: &str, key: &str, specific: bool) -> RustInstance {
    let client = redis::Client::open(url).expect("a valid Redis URL");
    let config = RedisAdapterConfig {
        key: key.to_owned(),
        request_timeout: REQUESTS,
        publish_on_specific_response_channel: specific,
    };
    let (factory, handles) = RedisAdapter::factory(client, config);
    let io = socketio::chat::builder(Config::default())
        .adapter(move |context| factory(context))
        .start()
        .await
        .unwrap_or_else(|e| {
            panic!("a Rust instance could not join Redis at {url}: {e} (see {PAGE})")
        });
    let router = io.router();
    let server = kit::TestServer::start_with(|listener| async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .await
            .expect("the test server failed while serving");
    })
    .await;
    RustInstance {
        io,
        server,
        handles,
    }
}

/// What a raw subscriber read: channel and payload (JSON, or msgpack shown as JSON).
pub struct Raw {
    messages: futures_util::stream::BoxStream<'static, redis::Msg>,
    seen: Vec<(String, Value)>,
}

impl Raw {
    /// Reads one more message, at most [`REPORT`] after the call.
    async fn read_one(&mut self, what: &str) -> (String, Value) {
        let message = kit::within(REPORT, self.messages.next(), what)
            .await
            .unwrap_or_else(|| panic!("the raw subscription ended while waiting for {what}"));
        let read = (
            message.get_channel_name().to_owned(),
            decode(message.get_payload_bytes()),
        );
        self.seen.push(read.clone());
        read
    }

    /// Waits for the first message (read before or arriving) that `matches`.
    pub async fn find(
        &mut self,
        what: &str,
        matches: impl Fn(&str, &Value) -> bool,
    ) -> (String, Value) {
        self.at_least(1, what, matches).await.remove(0)
    }

    /// Waits until `n` messages that `matches` were read, and returns them all.
    pub async fn at_least(
        &mut self,
        n: usize,
        what: &str,
        matches: impl Fn(&str, &Value) -> bool,
    ) -> Vec<(String, Value)> {
        loop {
            let found: Vec<(String, Value)> = self
                .seen
                .iter()
                .filter(|(c, v)| matches(c, v))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            self.read_one(what).await;
        }
    }
}

fn decode(bytes: &[u8]) -> Value {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).unwrap_or(Value::Null);
    }
    rmpv::decode::read_value(&mut &bytes[..])
        .map(|mp| scaling::wire::mp_to_json(&mp, &mut Vec::new()))
        .unwrap_or(Value::Null)
}
