//! A real Redis server for a test.
//!
//! The course never mocks Redis: chapter 3 is about what Pub/Sub really does (and loses).
//! [`start_redis`] picks a provider in this order:
//! 1. `REDIS_URL` is set: use that server, start nothing (for learners without Docker).
//! 2. Otherwise start a container with testcontainers, image `COURSE_REDIS_IMAGE`
//!    (default `redis:7-alpine`), and wait for "Ready to accept connections".
//! 3. If neither works, fail with a message that says how to fix it. Never skip silently.

use std::fmt;

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
}

impl fmt::Display for RedisProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisProvider::Container { image, id } => {
                write!(f, "testcontainers (image {image}, container {:.12})", id)
            }
            RedisProvider::Url => write!(f, "REDIS_URL"),
        }
    }
}

/// A running Redis. Dropping it stops the container, if there is one.
pub struct RedisServer {
    url: String,
    provider: RedisProvider,
    container: Option<ContainerAsync<GenericImage>>,
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

    /// Restarts the container (fault tests: what happens to subscribers when Redis goes away).
    /// With `REDIS_URL` there is nothing we may restart, so this returns an error.
    pub async fn restart(&self) -> Result<(), RedisUnavailable> {
        let Some(container) = &self.container else {
            return Err(RedisUnavailable(
                "cannot restart a server given by REDIS_URL; unset it to let the kit start a container"
                    .into(),
            ));
        };
        container
            .stop()
            .await
            .map_err(|e| RedisUnavailable(format!("stopping the Redis container failed: {e}")))?;
        container
            .start()
            .await
            .map_err(|e| RedisUnavailable(format!("restarting the Redis container failed: {e}")))
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
        let server = RedisServer {
            url,
            provider: RedisProvider::Url,
            container: None,
        };
        eprintln!(
            "[kit] Redis provider: {} at {}",
            server.provider, server.url
        );
        return Ok(server);
    }
    let image = std::env::var("COURSE_REDIS_IMAGE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
    let (name, tag) = split_image(&image);
    let container = GenericImage::new(name, tag)
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
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
        .map_err(|e| RedisUnavailable(container_failed(&image, &e.to_string())))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| RedisUnavailable(format!("the Redis container has no reachable host: {e}")))?;
    let port = container
        .get_host_port_ipv4(6379)
        .await
        .map_err(|e| RedisUnavailable(format!("the Redis container exposes no port 6379: {e}")))?;
    let server = RedisServer {
        url: format!("redis://{host}:{port}"),
        provider: RedisProvider::Container {
            image: image.clone(),
            id: container.id().to_owned(),
        },
        container: Some(container),
    };
    eprintln!(
        "[kit] Redis provider: {} at {}",
        server.provider, server.url
    );
    Ok(server)
}

/// The message when no container could be started: what failed, and both ways to fix it.
fn container_failed(image: &str, error: &str) -> String {
    format!(
        "could not start a Redis container from image `{image}`: {error}\n\
         How to fix it, either:\n\
         - start Docker (`sudo systemctl start docker`, or open Docker Desktop) and make sure \
         the image is available (`docker pull {image}`), or set COURSE_REDIS_IMAGE to an image \
         you have;\n\
         - or run a Redis server yourself and point the course at it: \
         `REDIS_URL=redis://127.0.0.1:6379 cargo test ...`.\n\
         `cargo xtask doctor` checks both."
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
    use super::{container_failed, split_image};

    #[test]
    fn without_docker_the_message_gives_both_fixes() {
        let message = container_failed("redis:7-alpine", "connection refused");
        assert!(message.contains("connection refused"), "{message}");
        assert!(message.contains("start Docker"), "{message}");
        assert!(message.contains("REDIS_URL=redis://"), "{message}");
        assert!(message.contains("docker pull redis:7-alpine"), "{message}");
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
