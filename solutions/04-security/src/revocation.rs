//! The revocation list: token ids (`jti`) refused before their expiry, shared by the cluster.
//!
//! A JWT is valid until `exp` wherever it is shown; to take one back (a stolen laptop, a
//! banned user), every instance must consult the same list. It lives in Redis as one key per
//! revoked id, `<prefix>:revoked:<jti>`, expiring with the token: after `exp` the signature
//! check refuses it anyway, so the list never grows beyond the tokens still alive.
//! Without Redis (one instance alone) the list is in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::jwt::now_secs;

/// Where the list is kept.
pub enum Revocations {
    /// One instance alone: `jti` -> expiry.
    Memory(Mutex<HashMap<String, u64>>),
    /// A cluster: keys in Redis under `prefix`.
    Redis {
        connection: ConnectionManager,
        prefix: String,
    },
}

impl Revocations {
    pub fn in_memory() -> Revocations {
        Revocations::Memory(Mutex::new(HashMap::new()))
    }

    pub fn in_redis(connection: ConnectionManager, prefix: impl Into<String>) -> Revocations {
        Revocations::Redis {
            connection,
            prefix: prefix.into(),
        }
    }

    /// Refuses token `jti` until `exp` (seconds since the epoch).
    pub async fn revoke(&self, jti: &str, exp: u64) -> redis::RedisResult<()> {
        let ttl = exp.saturating_sub(now_secs()).max(1);
        match self {
            Revocations::Memory(list) => {
                lock(list).insert(jti.to_owned(), exp);
                Ok(())
            }
            Revocations::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                connection.set_ex(key(prefix, jti), 1, ttl).await
            }
        }
    }

    /// Whether `jti` was revoked. An error means the list could not be read (Redis away):
    /// the caller decides whether that refuses the connection.
    pub async fn is_revoked(&self, jti: &str) -> redis::RedisResult<bool> {
        match self {
            Revocations::Memory(list) => {
                let mut list = lock(list);
                let now = now_secs();
                list.retain(|_, exp| *exp >= now);
                Ok(list.contains_key(jti))
            }
            Revocations::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                connection.exists(key(prefix, jti)).await
            }
        }
    }
}

fn key(prefix: &str, jti: &str) -> String {
    format!("{prefix}:revoked:{jti}")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
