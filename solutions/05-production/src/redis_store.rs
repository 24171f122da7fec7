//! Connection state recovery kept in Redis, so that a client recovers on any instance.
//!
//! The session and the log live in Redis, not in the instance that held the socket: the
//! client may come back through the load balancer to another instance, or after the one it
//! was on has died or been redeployed, and still get its session back. The layout follows
//! `@socket.io/redis-streams-adapter` (see the reference on the wire):
//! - a session is `SET <key>:session:<pid> <json> PX <window>`: Redis forgets it by itself.
//!   It is written while its socket is connected too (chapter 2's `live_refresh`), so that it
//!   survives a killed instance, and deleted after a goodbye;
//! - every recorded broadcast is one entry of the stream `<key>:events`, added with
//!   `XADD ... MAXLEN ~ <n> *`: Redis gives the entry id, `<ms>-<seq>`, which is the offset;
//!   `~` lets Redis trim by whole nodes, cheaper than an exact length;
//! - recovery reads the session (`GET`, then `DEL`: a pid is used once, even by two instances
//!   racing), checks that nothing after the client's offset was trimmed (`XINFO STREAM`:
//!   fewer entries than `entries-added`, and the offset older than the first entry left), and
//!   replays `XRANGE <key>:events (<offset> +`, keeping what
//!   was meant for this socket.
//!
//! An entry holds the packet and its options in chapter 3's msgpack broadcast format.

use std::time::Duration;

use redis::aio::ConnectionManager;
use serde_json::{Map, Value, json};
use socketio::protocol::Packet;
use socketio::{
    BroadcastOptions, RestoredSession, SavedSession, SessionStore, StoreError, StoreFuture,
};

use crate::memory_store::with_offset;
use crate::missed::was_meant_for;
use crate::slow_clients::keeps_session;

/// One entry of an `XRANGE` reply: its id and its field/value pairs.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// Sessions and the broadcast log, in Redis.
#[derive(Clone)]
pub struct RedisStore {
    redis: ConnectionManager,
    /// Prefix of the keys: instances that share it recover each other's clients.
    key: String,
    window: Duration,
    max_packets: usize,
}

impl RedisStore {
    pub fn new(
        redis: ConnectionManager,
        key: impl Into<String>,
        window: Duration,
        max_packets: usize,
    ) -> RedisStore {
        RedisStore {
            redis,
            key: key.into(),
            window,
            max_packets: max_packets.max(1),
        }
    }

    fn session_key(&self, pid: &str) -> String {
        format!("{}:session:{pid}", self.key)
    }

    /// The stream holding the recorded broadcasts.
    pub fn events_key(&self) -> String {
        format!("{}:events", self.key)
    }

    async fn record_now(
        &self,
        packet: &Packet,
        options: &BroadcastOptions,
    ) -> Result<String, StoreError> {
        let entry = scaling::wire::encode_broadcast("", packet, options);
        let mut redis = self.redis.clone();
        // ANCHOR: redis_record
        redis::cmd("XADD")
            .arg(self.events_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_packets)
            .arg("*")
            .arg("packet")
            .arg(entry)
            .query_async::<String>(&mut redis)
            .await
            .map_err(failed)
        // ANCHOR_END: redis_record
    }

    async fn save_now(&self, session: SavedSession) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        redis::cmd("SET")
            .arg(self.session_key(&session.pid))
            .arg(session_to_json(&session).to_string())
            .arg("PX")
            .arg(self.window.as_millis().max(1) as u64)
            .query_async::<()>(&mut redis)
            .await
            .map_err(failed)
    }

    async fn restore_now(
        &self,
        namespace: &str,
        pid: &str,
        offset: Option<&str>,
    ) -> Result<Option<RestoredSession>, StoreError> {
        let mut redis = self.redis.clone();
        let key = self.session_key(pid);
        // ANCHOR: redis_restore
        let Some(text) = redis::cmd("GET")
            .arg(&key)
            .query_async::<Option<String>>(&mut redis)
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let session = session_from_json(&text)?;
        if session.namespace != namespace {
            return Ok(None);
        }
        let taken: u32 = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .map_err(failed)?;
        if taken == 0 {
            // Another instance restored it first.
            return Ok(None);
        }
        let Some(after) = offset
            .or(session.since.as_deref())
            .and_then(StreamId::parse)
        else {
            return Ok(None);
        };
        if !self.complete_after(after).await? {
            return Ok(None);
        }
        let entries: Vec<StreamEntry> = redis::cmd("XRANGE")
            .arg(self.events_key())
            .arg(format!("({after}"))
            .arg("+")
            .query_async(&mut redis)
            .await
            .map_err(failed)?;
        let mut missed = Vec::new();
        for (id, fields) in entries {
            let Some((_, bytes)) = fields.into_iter().find(|(name, _)| name == "packet") else {
                continue;
            };
            let recorded = scaling::wire::decode_broadcast(&bytes)
                .map_err(|error| StoreError(format!("entry {id}: {error}")))?;
            if was_meant_for(&session, &recorded.packet.nsp, &recorded.options) {
                missed.push(with_offset(&recorded.packet, id));
            }
        }
        Ok(Some(RestoredSession { session, missed }))
        // ANCHOR_END: redis_restore
    }

    /// Whether every entry recorded after `after` is still in the log. `MAXLEN ~` trims from
    /// the front: if anything was trimmed (fewer entries than ever added), the entries after
    /// `after` are all there only if `after` is not older than the first entry left.
    async fn complete_after(&self, after: StreamId) -> Result<bool, StoreError> {
        let mut redis = self.redis.clone();
        let info = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(self.events_key())
            .query_async::<redis::Value>(&mut redis)
            .await;
        let info = match info {
            Ok(info) => info,
            // No stream: nothing recorded, so nothing trimmed.
            Err(error) if error.to_string().contains("no such key") => return Ok(true),
            Err(error) => return Err(failed(error)),
        };
        let field = |name: &str| {
            field_of(&info, name)
                .ok_or_else(|| StoreError(format!("XINFO STREAM has no {name} (Redis < 7?)")))
        };
        if field("length")? == field("entries-added")? {
            return Ok(true);
        }
        let first = field("recorded-first-entry-id")?;
        let first = StreamId::parse(&first)
            .ok_or_else(|| StoreError(format!("bad stream id {first:?}")))?;
        Ok(after >= first)
    }

    async fn watermark_now(&self) -> Result<String, StoreError> {
        let mut redis = self.redis.clone();
        let newest: Vec<StreamEntry> = redis::cmd("XREVRANGE")
            .arg(self.events_key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut redis)
            .await
            .map_err(failed)?;
        Ok(newest
            .into_iter()
            .next()
            .map(|(id, _)| id)
            .unwrap_or_else(|| StreamId::ZERO.to_string()))
    }
}

impl SessionStore for RedisStore {
    fn save(&self, session: SavedSession) -> StoreFuture<'_, ()> {
        Box::pin(self.save_now(session))
    }

    fn restore<'a>(
        &'a self,
        namespace: &'a str,
        pid: &'a str,
        offset: Option<&'a str>,
    ) -> StoreFuture<'a, Option<RestoredSession>> {
        Box::pin(self.restore_now(namespace, pid, offset))
    }

    fn record<'a>(
        &'a self,
        packet: &'a Packet,
        options: &'a BroadcastOptions,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move { self.record_now(packet, options).await.map(Some) })
    }

    fn watermark(&self) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move { self.watermark_now().await.map(Some) })
    }

    fn keeps(&self, reason: &str) -> bool {
        keeps_session(reason)
    }

    /// Sessions of connected sockets are kept too, refreshed four times a window: a killed
    /// instance's clients still recover elsewhere, for at least three quarters of the window.
    fn live_refresh(&self) -> Option<Duration> {
        Some((self.window / 4).max(Duration::from_millis(100)))
    }

    fn forget<'a>(&'a self, pid: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut redis = self.redis.clone();
            redis::cmd("DEL")
                .arg(self.session_key(pid))
                .query_async::<()>(&mut redis)
                .await
                .map_err(failed)
        })
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId(pub u64, pub u64);

impl StreamId {
    pub const ZERO: StreamId = StreamId(0, 0);

    /// `<ms>-<seq>` (or `<ms>`, seq 0); anything else is `None`.
    pub fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

fn failed(error: redis::RedisError) -> StoreError {
    StoreError(error.to_string())
}

/// A field of a RESP2 flat array or RESP3 map reply, as text.
fn field_of(reply: &redis::Value, name: &str) -> Option<String> {
    let text = |value: &redis::Value| redis::from_redis_value_ref::<String>(value).ok();
    match reply {
        redis::Value::Array(items) => items
            .chunks(2)
            .find(|pair| text(&pair[0]).as_deref() == Some(name))
            .and_then(|pair| pair.get(1).and_then(text)),
        redis::Value::Map(pairs) => pairs
            .iter()
            .find(|(key, _)| text(key).as_deref() == Some(name))
            .and_then(|(_, value)| text(value)),
        _ => None,
    }
}

fn session_to_json(session: &SavedSession) -> Value {
    json!({
        "pid": session.pid,
        "sid": session.sid,
        "nsp": session.namespace,
        "rooms": session.rooms,
        "data": session.data,
        "since": session.since,
    })
}

fn session_from_json(text: &str) -> Result<SavedSession, StoreError> {
    let corrupt = || StoreError(format!("corrupt session {text:?}"));
    let value: Value = serde_json::from_str(text).map_err(|_| corrupt())?;
    let string = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(SavedSession {
        pid: string("pid").ok_or_else(corrupt)?,
        sid: string("sid").ok_or_else(corrupt)?,
        namespace: string("nsp").ok_or_else(corrupt)?,
        rooms: value
            .get("rooms")
            .and_then(Value::as_array)
            .map(|rooms| {
                rooms
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        data: value
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new),
        since: string("since"),
    })
}
