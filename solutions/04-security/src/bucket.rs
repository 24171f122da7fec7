//! A token bucket per user, kept in Redis so that every instance draws from the same one.
//!
//! With limits kept in each instance's memory, a user connected to three instances (or
//! reconnecting until the balancer picks another) gets three times the allowance. Here the
//! bucket is a Redis hash `<prefix>:bucket:<user>` updated by one Lua script, atomically, with
//! Redis's own clock (`TIME`), so instances with skewed clocks agree.
//!
//! If Redis cannot be reached, each instance falls back to a bucket of its own (fail open, but
//! still bounded per instance): a chat that refuses every message while Redis restarts is an
//! outage, and one instance's allowance is still a limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use redis::aio::ConnectionManager;

/// How many events a user may send: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

/// Takes one token from `KEYS[1]`'s bucket; returns 1 if there was one, 0 otherwise.
/// ARGV: burst, tokens per second.
const TAKE: &str = r"
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return taken
";

/// Where the buckets live.
pub struct Buckets {
    rate: Rate,
    shared: Option<(ConnectionManager, String)>,
    local: Mutex<HashMap<String, (f64, Instant)>>,
    script: redis::Script,
}

/// The answer of [`Buckets::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// A token was taken from the shared bucket.
    Shared(bool),
    /// Redis could not be reached: the answer comes from this instance's bucket.
    Local(bool),
}

impl Taken {
    pub fn allowed(self) -> bool {
        matches!(self, Taken::Shared(true) | Taken::Local(true))
    }
}

impl Buckets {
    /// Buckets in this instance's memory only.
    pub fn local(rate: Rate) -> Buckets {
        Buckets {
            rate,
            shared: None,
            local: Mutex::new(HashMap::new()),
            script: redis::Script::new(TAKE),
        }
    }

    /// Buckets in Redis under `prefix`, shared by every instance using the same prefix.
    pub fn shared(rate: Rate, connection: ConnectionManager, prefix: impl Into<String>) -> Buckets {
        Buckets {
            shared: Some((connection, prefix.into())),
            ..Buckets::local(rate)
        }
    }

    /// Takes one token from `user`'s bucket.
    // ANCHOR: take_shared
    pub async fn take(&self, user: &str) -> Taken {
        let Some((connection, prefix)) = &self.shared else {
            return Taken::Local(self.take_local(user));
        };
        let mut connection = connection.clone();
        let taken: redis::RedisResult<i64> = self
            .script
            .key(format!("{prefix}:bucket:{user}"))
            .arg(self.rate.burst)
            .arg(self.rate.per_second)
            .invoke_async(&mut connection)
            .await;
        match taken {
            Ok(taken) => Taken::Shared(taken == 1),
            Err(error) => {
                tracing::warn!(%error, "shared rate limit unreachable, using this instance's");
                Taken::Local(self.take_local(user))
            }
        }
    }
    // ANCHOR_END: take_shared

    // ANCHOR: local_bucket
    fn take_local(&self, user: &str) -> bool {
        let mut buckets = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (tokens, at) = buckets
            .entry(user.to_owned())
            .or_insert((self.rate.burst, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.rate.per_second;
        *tokens = (*tokens + refill).min(self.rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
    // ANCHOR_END: local_bucket
}
