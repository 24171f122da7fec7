//! Connections per user and per address, counted in Redis so the whole cluster holds one cap.
//!
//! Each connection takes a slot: a member of the sorted sets `<prefix>:conns:user:<sub>` and
//! `<prefix>:conns:ip:<address>`, scored by when it expires. The instance that holds the
//! connection pushes that expiry forward while it lives and removes the member when it ends;
//! if the instance dies, its slots expire on their own within [`SLOT_TTL`] instead of locking
//! the user out forever (a plain counter, INCR on connect and DECR on disconnect, would leak
//! every slot of a crashed instance). Taking a slot is one Lua script over both sets, with
//! Redis's clock: two instances admitting the same user at once cannot both take the last one.
//!
//! Redis unreachable: the connection is let in (fail open) and counted, as the bucket does.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::FutureExt;
use redis::aio::ConnectionManager;
use serde_json::{Value, json};
use socketio::Socket;
use socketio::middleware::{ConnectError, ConnectMiddleware, ConnectRequest, MiddlewareFuture};

use crate::metrics::Metrics;

/// How long a slot outlives the last sign of its instance.
pub const SLOT_TTL: Duration = Duration::from_secs(60);

/// Returns 0 (taken), 1 (the user is at its cap) or 2 (the address is). KEYS: the user's set
/// (may be absent: then only the address counts), the address's set. ARGV: member, user cap,
/// address cap, ttl in ms.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[4])
local caps = { tonumber(ARGV[2]), tonumber(ARGV[3]) }
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local cap = caps[i + 2 - #KEYS]
  if redis.call('ZCARD', key) >= cap then
    return i + 2 - #KEYS
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 0
";

/// Pushes a live slot's expiry forward. KEYS: its sets; ARGV: member, ttl in ms.
const KEEP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2]))
end
return 0
";

/// The slot a socket holds, kept in its extensions to be given back on disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slot {
    keys: Vec<String>,
    member: String,
}

/// The caps, and where the slots are counted.
pub struct ConnectionLimit {
    pub per_user: u32,
    pub per_address: u32,
    connection: ConnectionManager,
    prefix: String,
    live: Arc<Mutex<HashSet<Slot>>>,
    metrics: Metrics,
}

impl ConnectionLimit {
    /// The limit, and a task that keeps this instance's slots alive (every third of
    /// [`SLOT_TTL`]) until the limit is dropped.
    pub fn start(
        connection: ConnectionManager,
        prefix: impl Into<String>,
        per_user: u32,
        per_address: u32,
        metrics: Metrics,
    ) -> ConnectionLimit {
        let live: Arc<Mutex<HashSet<Slot>>> = Arc::default();
        tokio::spawn(keep_alive(connection.clone(), Arc::downgrade(&live)));
        ConnectionLimit {
            per_user,
            per_address,
            connection,
            prefix: prefix.into(),
            live,
            metrics,
        }
    }

    async fn admit(&self, request: &mut ConnectRequest) -> Result<(), ConnectError> {
        let mut keys = Vec::new();
        if let Some(Value::String(user)) = request.data.get("user") {
            keys.push(format!("{}:conns:user:{user}", self.prefix));
        }
        let Some(address) = request.address else {
            return Ok(());
        };
        keys.push(format!("{}:conns:ip:{}", self.prefix, address.ip()));
        let slot = Slot {
            keys,
            member: crate::random_id(),
        };
        let mut connection = self.connection.clone();
        let take = redis::Script::new(TAKE);
        let mut script = take.prepare_invoke();
        for key in &slot.keys {
            script.key(key);
        }
        let answer: redis::RedisResult<i64> = script
            .arg(&slot.member)
            .arg(self.per_user)
            .arg(self.per_address)
            .arg(SLOT_TTL.as_millis() as u64)
            .invoke_async(&mut connection)
            .await;
        match answer {
            Ok(0) => {
                lock(&self.live).insert(slot.clone());
                request.extensions.insert(slot);
                Ok(())
            }
            Ok(full) => {
                let reason = if full == 1 { "user" } else { "address" };
                Err(ConnectError::new("too many connections")
                    .with_data(json!({ "reason": reason })))
            }
            Err(error) => {
                self.metrics.unchecked(&request.namespace, "connections");
                tracing::warn!(%error, "connection caps unreachable: letting the connection in");
                Ok(())
            }
        }
    }

    /// Gives `socket`'s slot back: call it when the socket disconnects.
    pub fn release(&self, socket: &Socket) {
        let Some(slot) = socket.extension::<Slot>() else {
            return;
        };
        lock(&self.live).remove(&slot);
        let mut connection = self.connection.clone();
        tokio::spawn(async move {
            let mut pipe = redis::pipe();
            for key in &slot.keys {
                pipe.zrem(key, &slot.member).ignore();
            }
            let _: redis::RedisResult<()> = pipe.query_async(&mut connection).await;
        });
    }
}

/// The middleware: a handle on a shared [`ConnectionLimit`] (the disconnect handlers hold
/// another, to give slots back).
pub struct Admission(pub Arc<ConnectionLimit>);

impl ConnectMiddleware for Admission {
    fn call<'a>(&'a self, request: &'a mut ConnectRequest) -> MiddlewareFuture<'a> {
        self.0.admit(request).boxed()
    }
}

async fn keep_alive(connection: ConnectionManager, live: std::sync::Weak<Mutex<HashSet<Slot>>>) {
    let script = redis::Script::new(KEEP);
    loop {
        tokio::time::sleep(SLOT_TTL / 3).await;
        let Some(live) = live.upgrade() else {
            return;
        };
        let slots: Vec<Slot> = lock(&live).iter().cloned().collect();
        drop(live);
        for slot in slots {
            let mut invocation = script.prepare_invoke();
            for key in &slot.keys {
                invocation.key(key);
            }
            let mut connection = connection.clone();
            let _: redis::RedisResult<i64> = invocation
                .arg(&slot.member)
                .arg(SLOT_TTL.as_millis() as u64)
                .invoke_async(&mut connection)
                .await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
