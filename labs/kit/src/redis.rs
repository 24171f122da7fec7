//! A real Redis server for a test.
//!
//! The course never mocks Redis: chapter 3 is about what Pub/Sub really does (and loses).
//! [`start_redis`] picks a provider in this order:
//! 1. `REDIS_URL` is set: use that server, start nothing.
//! 2. Otherwise start a container with testcontainers, image `COURSE_REDIS_IMAGE`
//!    (default `redis:7-alpine`), and wait for "Ready to accept connections".
//! 3. No container (Docker not running, the image cannot be pulled): start the
//!    `redis-server` found on `PATH`, on a free port (see [`local`]).
//! 4. If none works, fail with a message that names all three fixes. Never skip silently.

mod local;

use std::fmt;
use std::path::PathBuf;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The image started when `COURSE_REDIS_IMAGE` is not set.
pub const DEFAULT_IMAGE: &str = "redis:7-alpine";

/// Where the Redis of a test comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisProvider {
    /// A container started by testcontainers for this test.
    Container { image: String, id: String },
    /// A server the learner runs, named by `REDIS_URL`.
    Url,
    /// The `redis-server` found on `PATH`, started by the kit for this test.
    LocalServer { binary: PathBuf },
}

impl fmt::Display for RedisProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisProvider::Container { image, id } => {
                write!(f, "testcontainers (image {image}, container {:.12})", id)
            }
            RedisProvider::Url => write!(f, "REDIS_URL"),
            RedisProvider::LocalServer { binary } => {
                write!(f, "redis-server on PATH ({})", binary.display())
            }
        }
    }
}

/// A running Redis. Dropping it stops the container or the `redis-server`, if the kit
/// started one.
pub struct RedisServer {
    url: String,
    provider: RedisProvider,
    started: Started,
}

/// What the kit started, and so must stop.
enum Started {
    Nothing,
    Container(Box<ContainerAsync<GenericImage>>),
    Local(local::LocalRedis),
}

impl RedisServer {
    /// `redis://host:port`, ready for `redis::Client::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which provider started this server.
    pub fn provider(&self) -> &RedisProvider {
        &self.provider
    }

    /// A fresh client for this server.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("the kit builds valid redis URLs")
    }

    /// Restarts the server (fault tests: what happens to subscribers when Redis goes away).
    /// It comes back empty, on the same port. With `REDIS_URL` there is nothing we may
    /// restart, so this returns an error.
    pub async fn restart(&self) -> Result<(), RedisUnavailable> {
        self.stop().await?;
        self.start_again().await
    }

    /// Stops the server, keeping what [`RedisServer::start_again`] needs to bring it back on
    /// the same port (fault tests: an outage of the length the test decides).
    pub async fn stop(&self) -> Result<(), RedisUnavailable> {
        match &self.started {
            Started::Nothing => Err(not_ours()),
            Started::Local(server) => {
                server.stop();
                Ok(())
            }
            Started::Container(container) => container
                .stop()
                .await
                .map_err(|e| RedisUnavailable(format!("stopping the Redis container failed: {e}"))),
        }
    }

    /// Starts a stopped server again, empty, on the same port, and waits until it answers PING.
    pub async fn start_again(&self) -> Result<(), RedisUnavailable> {
        match &self.started {
            Started::Nothing => Err(not_ours()),
            Started::Local(server) => server.launch().await.map_err(RedisUnavailable),
            Started::Container(container) => {
                container.start().await.map_err(|e| {
                    RedisUnavailable(format!("restarting the Redis container failed: {e}"))
                })?;
                wait_for_ping(&self.url).await
            }
        }
    }

    /// The process id of the kit's `redis-server` watchdog, when that is the provider
    /// (the kit's tests check that it is gone when the tests end).
    pub fn local_pid(&self) -> Option<u32> {
        match &self.started {
            Started::Local(server) => server.pid(),
            _ => None,
        }
    }
}

fn not_ours() -> RedisUnavailable {
    RedisUnavailable(
        "cannot stop or restart a server given by REDIS_URL (it is yours, not the test's); \
         unset REDIS_URL so the kit starts one (Docker, or a redis-server on PATH)"
            .into(),
    )
}

/// PING until PONG, at most 10 s: a restarted container answers once Redis has loaded.
/// Polling is the only way to learn that another process listens; each try is short.
async fn wait_for_ping(url: &str) -> Result<(), RedisUnavailable> {
    let client = redis::Client::open(url).map_err(|e| RedisUnavailable(e.to_string()))?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let attempt = async {
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        };
        let short = std::time::Duration::from_millis(500);
        if let Ok(Some(_)) = tokio::time::timeout(short, attempt).await {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RedisUnavailable(format!(
                "the restarted Redis at {url} did not answer PING within 10 s"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Why no Redis could be provided, with the fix in the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RedisUnavailable(String);

/// Starts (or finds) a Redis server for one test. See the module docs for the order.
pub async fn start_redis() -> Result<RedisServer, RedisUnavailable> {
    if let Ok(url) = std::env::var("REDIS_URL")
        && !url.trim().is_empty()
    {
        return Ok(announce(RedisServer {
            url,
            provider: RedisProvider::Url,
            started: Started::Nothing,
        }));
    }
    let image = image();
    let container_error = match start_container(&image).await {
        Ok(server) => return Ok(announce(server)),
        Err(error) => error,
    };
    let Some(binary) = local::find_on_path(std::env::var_os("PATH")) else {
        return Err(RedisUnavailable(no_provider(
            &image,
            &container_error,
            None,
        )));
    };
    match local::LocalRedis::start(binary.clone()).await {
        Ok(server) => Ok(announce(RedisServer {
            url: format!("redis://127.0.0.1:{}", server.port()),
            provider: RedisProvider::LocalServer { binary },
            started: Started::Local(server),
        })),
        Err(local_error) => Err(RedisUnavailable(no_provider(
            &image,
            &container_error,
            Some(&local_error),
        ))),
    }
}

/// For tests: a Redis server, or the test fails with the fix and nothing else.
///
/// A panic would print a backtrace around the message under `RUST_BACKTRACE=1`; the
/// message is the whole story, so it goes to stderr (libtest shows it with the failure)
/// and the test unwinds without the panic hook.
pub async fn redis_for_test() -> RedisServer {
    match start_redis().await {
        Ok(server) => server,
        Err(why) => {
            eprintln!("{why}");
            std::panic::resume_unwind(Box::new(why.to_string()))
        }
    }
}

/// The `redis-server` the third provider would start, if `PATH` has one.
pub fn redis_server_on_path() -> Option<PathBuf> {
    local::find_on_path(std::env::var_os("PATH"))
}

/// The image testcontainers starts: `COURSE_REDIS_IMAGE`, else [`DEFAULT_IMAGE`].
pub fn image() -> String {
    std::env::var("COURSE_REDIS_IMAGE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_owned())
}

/// Says on stderr which provider a test got: the first thing to know when it fails.
fn announce(server: RedisServer) -> RedisServer {
    eprintln!(
        "[kit] Redis provider: {} at {}",
        server.provider, server.url
    );
    server
}

async fn start_container(image: &str) -> Result<RedisServer, String> {
    let (name, tag) = split_image(image);
    // A host port chosen here, not by Docker: a container restarted by a fault test keeps an
    // explicit binding, where a random one would come back on another port.
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port for the Redis container: {e}"))?;
    let container = GenericImage::new(name, tag)
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
        .with_mapped_port(host_port, 6379.tcp())
        // Works for the official image (its entrypoint passes these to redis-server) and for
        // a minimal image that only has the binary. No persistence: each test starts empty.
        .with_cmd([
            "redis-server",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .with_startup_timeout(std::time::Duration::from_secs(60))
        .start()
        .await
        .map_err(|e| first_line(&e.to_string()))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| format!("the Redis container has no reachable host: {e}"))?;
    let port = container
        .get_host_port_ipv4(6379)
        .await
        .map_err(|e| format!("the Redis container exposes no port 6379: {e}"))?;
    Ok(RedisServer {
        url: format!("redis://{host}:{port}"),
        provider: RedisProvider::Container {
            image: image.to_owned(),
            id: container.id().to_owned(),
        },
        started: Started::Container(Box::new(container)),
    })
}

/// A long error (some carry their whole cause chain) cut to its first line.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// The message when no provider worked: what each one said, and the three fixes.
fn no_provider(image: &str, container_error: &str, local_error: Option<&str>) -> String {
    let local = match local_error {
        None => "no `redis-server` on PATH".to_owned(),
        Some(error) => format!("the `redis-server` on PATH did not start: {error}"),
    };
    format!(
        "no Redis for this test.\n\
         - REDIS_URL is not set;\n\
         - a container from image `{image}` could not start: {container_error};\n\
         - {local}.\n\
         Any one of these fixes it:\n\
         1. start Docker (`sudo systemctl start docker`, or open Docker Desktop) and make sure \
         the image is available (`docker pull {image}`), or set COURSE_REDIS_IMAGE to an image \
         you have;\n\
         2. install Redis (`sudo apt install redis-server`, `brew install redis`): the kit starts \
         the `redis-server` it finds on PATH itself;\n\
         3. run a Redis server yourself and point the course at it: \
         `REDIS_URL=redis://127.0.0.1:6379 cargo test ...`.\n\
         `cargo xtask doctor` says which of these the course will use."
    )
}

/// `redis:7-alpine` -> (`redis`, `7-alpine`); `host:5000/redis` -> (`host:5000/redis`, `latest`).
fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::{no_provider, split_image};

    #[test]
    fn without_any_provider_the_message_gives_all_three_fixes() {
        let message = no_provider("redis:7-alpine", "connection refused", None);
        assert!(message.contains("connection refused"), "{message}");
        assert!(message.contains("no `redis-server` on PATH"), "{message}");
        assert!(message.contains("start Docker"), "{message}");
        assert!(message.contains("docker pull redis:7-alpine"), "{message}");
        assert!(message.contains("apt install redis-server"), "{message}");
        assert!(message.contains("REDIS_URL=redis://"), "{message}");
        let message = no_provider("redis:7-alpine", "refused", Some("exited (status 1)"));
        assert!(
            message.contains("did not start: exited (status 1)"),
            "{message}"
        );
    }

    #[test]
    fn image_names_split_at_the_tag_not_at_a_registry_port() {
        assert_eq!(split_image("redis:7-alpine"), ("redis", "7-alpine"));
        assert_eq!(split_image("course-redis:local"), ("course-redis", "local"));
        assert_eq!(
            split_image("host:5000/redis"),
            ("host:5000/redis", "latest")
        );
        assert_eq!(split_image("redis"), ("redis", "latest"));
    }
}
