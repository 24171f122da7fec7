//! The messages on the channels, byte for byte as Node's `@socket.io/redis-adapter` 8.3 writes
//! and reads them.
//!
//! - A broadcast is msgpack (Node uses notepack) of `[uid, packet, {rooms, except, flags}]`,
//!   `packet` being socket.io-parser's object `{type: 2, data: ["event", ...args], nsp}`. Binary
//!   arguments travel inline as msgpack `bin`, where chapter 2's packets hold a placeholder.
//! - Requests and answers are JSON, except a broadcast with acks (type 7) and each client's ack
//!   (type 9), which carry packets and so are msgpack. A reader tells them apart by the first
//!   byte: `{` is JSON.
//!
//! Decoding never trusts its input: anything that is not one of these shapes is an error the
//! adapter counts, never a panic.

use std::collections::BTreeSet;

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Number, Value as Json};
use socketio::protocol::{Packet, PacketType};
use socketio::{AckResponse, BroadcastFlags, BroadcastOptions, SocketInfo};

/// The request types of Node's adapter, numbered as on the wire.
pub mod kind {
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// Why a message on a channel could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: impl Into<String>) -> WireError {
    WireError(what.into())
}

/// A broadcast as it travels: who sent it, what, and to whom.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    pub uid: String,
    pub packet: Packet,
    pub options: BroadcastOptions,
}

/// A request from another server, on the request channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    AllRooms {
        uid: String,
        request_id: String,
    },
    RemoteJoin {
        uid: String,
        options: BroadcastOptions,
        rooms: Vec<String>,
    },
    RemoteLeave {
        uid: String,
        options: BroadcastOptions,
        rooms: Vec<String>,
    },
    RemoteDisconnect {
        uid: String,
        options: BroadcastOptions,
        close: bool,
    },
    RemoteFetch {
        uid: String,
        request_id: String,
        options: BroadcastOptions,
    },
    /// `data` is `[event, ...args]`; with a request id the sender waits for answers.
    ServerSideEmit {
        uid: String,
        request_id: Option<String>,
        data: Vec<Json>,
    },
    /// A broadcast whose recipients must acknowledge.
    Broadcast {
        uid: String,
        request_id: String,
        packet: Packet,
        options: BroadcastOptions,
    },
}

/// An answer, on a response channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Rooms {
        request_id: String,
        rooms: Vec<String>,
    },
    Sockets {
        request_id: String,
        sockets: Vec<SocketInfo>,
    },
    ServerAck {
        request_id: String,
        data: Json,
    },
    ClientCount {
        request_id: String,
        count: usize,
    },
    Ack {
        request_id: String,
        response: AckResponse,
    },
}

impl Response {
    /// The request this answers.
    pub fn request_id(&self) -> &str {
        match self {
            Response::Rooms { request_id, .. }
            | Response::Sockets { request_id, .. }
            | Response::ServerAck { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::Ack { request_id, .. } => request_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON <-> msgpack, with binary attachments.

/// JSON to msgpack; a placeholder `{"_placeholder":true,"num":N}` becomes `bin` with
/// `attachments[N]`, as the bytes themselves travel between servers.
pub fn json_to_mp(value: &Json, attachments: &[Bytes]) -> Mp {
    match value {
        Json::Null => Mp::Nil,
        Json::Bool(b) => Mp::Boolean(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_u64() {
                Mp::from(i)
            } else if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else {
                Mp::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Mp::from(s.as_str()),
        Json::Array(items) => Mp::Array(items.iter().map(|v| json_to_mp(v, attachments)).collect()),
        Json::Object(map) => {
            if map.get("_placeholder") == Some(&Json::Bool(true))
                && let Some(bytes) = map
                    .get("num")
                    .and_then(Json::as_u64)
                    .and_then(|n| attachments.get(n as usize))
            {
                return Mp::Binary(bytes.to_vec());
            }
            Mp::Map(
                map.iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), json_to_mp(v, attachments)))
                    .collect(),
            )
        }
    }
}

/// msgpack to JSON; every `bin` (and notepack's typed-array ext 0) becomes a placeholder and its
/// bytes are pushed onto `attachments`. notepack's `undefined` becomes `null`.
pub fn mp_to_json(value: &Mp, attachments: &mut Vec<Bytes>) -> Json {
    match value {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(*b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::from(u),
            (None, Some(s)) => Json::from(s),
            _ => Json::Null,
        },
        Mp::F32(f) => Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        Mp::F64(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Mp::String(s) => Json::String(s.as_str().unwrap_or_default().to_owned()),
        Mp::Binary(bytes) => placeholder_for(bytes.clone(), attachments),
        Mp::Ext(0, data) if data.as_slice() == [0] => Json::Null,
        Mp::Ext(_, data) => placeholder_for(data.clone(), attachments),
        Mp::Array(items) => Json::Array(items.iter().map(|v| mp_to_json(v, attachments)).collect()),
        Mp::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Mp::String(s) => s.as_str().unwrap_or_default().to_owned(),
                    other => other.to_string(),
                };
                map.insert(key, mp_to_json(v, attachments));
            }
            Json::Object(map)
        }
    }
}

fn placeholder_for(bytes: Vec<u8>, attachments: &mut Vec<Bytes>) -> Json {
    let num = attachments.len();
    attachments.push(Bytes::from(bytes));
    socketio::protocol::binary::placeholder(num)
}

fn encode_mp(value: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("writing to a Vec cannot fail");
    out
}

/// A message as a msgpack tree: JSON if it starts with `{`, msgpack otherwise (as Node reads it).
pub fn decode_any(bytes: &[u8]) -> Result<Mp, WireError> {
    if bytes.first() == Some(&b'{') {
        let json: Json =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        return Ok(json_to_mp(&json, &[]));
    }
    let mut reader = bytes;
    let value =
        rmpv::decode::read_value(&mut reader).map_err(|e| bad(format!("invalid msgpack: {e}")))?;
    if !reader.is_empty() {
        return Err(bad("trailing bytes after the msgpack value"));
    }
    Ok(value)
}

fn field<'a>(map: &'a Mp, key: &str) -> Option<&'a Mp> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn string_field(map: &Mp, key: &str) -> Result<String, WireError> {
    field(map, key)
        .and_then(Mp::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("no string `{key}`")))
}

fn strings(value: Option<&Mp>) -> Vec<String> {
    value
        .and_then(Mp::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| match v {
                    Mp::String(s) => s.as_str().map(str::to_owned),
                    // Node accepts numeric rooms; they travel as numbers.
                    Mp::Integer(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Packets and options.

/// socket.io-parser's packet object: `{type: 2, data, nsp}` (plus `id` when there is one).
pub fn packet_to_mp(packet: &Packet) -> Mp {
    let data = packet.data.clone().unwrap_or(Json::Array(Vec::new()));
    let mut entries = vec![
        // EVENT even with binary arguments: the bytes are inline, the parser of each
        // receiving server makes it a BINARY_EVENT when it encodes it for its clients.
        (Mp::from("type"), Mp::from(PacketType::Event as u8)),
        (Mp::from("data"), json_to_mp(&data, &packet.attachments)),
        (Mp::from("nsp"), Mp::from(packet.nsp.as_str())),
    ];
    if let Some(id) = packet.id {
        entries.push((Mp::from("id"), Mp::from(id)));
    }
    Mp::Map(entries)
}

/// The packet of a broadcast; a missing `nsp` means `/`.
pub fn packet_from_mp(value: &Mp) -> Result<Packet, WireError> {
    let kind = field(value, "type").and_then(Mp::as_u64);
    if !matches!(kind, Some(2) | Some(5)) {
        return Err(bad("the packet is not an EVENT"));
    }
    let nsp = field(value, "nsp")
        .and_then(Mp::as_str)
        .unwrap_or("/")
        .to_owned();
    let mut attachments = Vec::new();
    let data = field(value, "data")
        .map(|d| mp_to_json(d, &mut attachments))
        .filter(|d| d.as_array().is_some_and(|a| !a.is_empty()))
        .ok_or_else(|| bad("the packet has no event"))?;
    let kind = if attachments.is_empty() {
        PacketType::Event
    } else {
        PacketType::BinaryEvent
    };
    Ok(Packet {
        kind,
        nsp,
        id: None,
        data: Some(data),
        attachments,
    })
}

fn options_to_mp(options: &BroadcastOptions, with_flags: bool) -> Mp {
    let rooms = options.rooms.iter().map(|r| Mp::from(r.as_str())).collect();
    let except = options
        .except
        .iter()
        .map(|r| Mp::from(r.as_str()))
        .collect();
    let mut entries = vec![
        (Mp::from("rooms"), Mp::Array(rooms)),
        (Mp::from("except"), Mp::Array(except)),
    ];
    if with_flags {
        let flags = serde_json::to_value(&options.flags).unwrap_or(Json::Object(Map::new()));
        entries.push((Mp::from("flags"), json_to_mp(&flags, &[])));
    }
    Mp::Map(entries)
}

fn options_from_mp(value: Option<&Mp>) -> BroadcastOptions {
    let Some(value) = value else {
        return BroadcastOptions::default();
    };
    let flags = field(value, "flags")
        .map(|f| mp_to_json(f, &mut Vec::new()))
        .and_then(|f| serde_json::from_value::<BroadcastFlags>(f).ok())
        .unwrap_or_default();
    BroadcastOptions {
        rooms: strings(field(value, "rooms"))
            .into_iter()
            .collect::<BTreeSet<_>>(),
        except: strings(field(value, "except")).into_iter().collect(),
        flags,
    }
}

// ---------------------------------------------------------------------------------------------
// Broadcasts.

/// `[uid, packet, {rooms, except, flags}]` in msgpack.
pub fn encode_broadcast(uid: &str, packet: &Packet, options: &BroadcastOptions) -> Vec<u8> {
    encode_mp(&Mp::Array(vec![
        Mp::from(uid),
        packet_to_mp(packet),
        options_to_mp(options, true),
    ]))
}

/// Reads a broadcast; anything else is an error.
pub fn decode_broadcast(bytes: &[u8]) -> Result<Broadcast, WireError> {
    let value = decode_any(bytes)?;
    let items = value
        .as_array()
        .filter(|items| items.len() == 3)
        .ok_or_else(|| bad("a broadcast is an array of three"))?;
    let uid = items[0]
        .as_str()
        .ok_or_else(|| bad("the sender's uid is not a string"))?
        .to_owned();
    Ok(Broadcast {
        uid,
        packet: packet_from_mp(&items[1])?,
        options: options_from_mp(Some(&items[2])),
    })
}

// ---------------------------------------------------------------------------------------------
// Requests.

fn json_bytes(value: Json) -> Vec<u8> {
    serde_json::to_vec(&value).expect("JSON values always serialize")
}

fn opts_json(options: &BroadcastOptions) -> Json {
    serde_json::json!({ "rooms": options.rooms, "except": options.except })
}

/// A request as Node writes it: JSON, or msgpack for a broadcast with acks.
pub fn encode_request(request: &Request) -> Vec<u8> {
    use serde_json::json;
    match request {
        Request::AllRooms { uid, request_id } => {
            json_bytes(json!({ "uid": uid, "requestId": request_id, "type": kind::ALL_ROOMS }))
        }
        Request::RemoteJoin {
            uid,
            options,
            rooms,
        } => json_bytes(
            json!({ "uid": uid, "type": kind::REMOTE_JOIN, "opts": opts_json(options), "rooms": rooms }),
        ),
        Request::RemoteLeave {
            uid,
            options,
            rooms,
        } => json_bytes(
            json!({ "uid": uid, "type": kind::REMOTE_LEAVE, "opts": opts_json(options), "rooms": rooms }),
        ),
        Request::RemoteDisconnect {
            uid,
            options,
            close,
        } => json_bytes(
            json!({ "uid": uid, "type": kind::REMOTE_DISCONNECT, "opts": opts_json(options), "close": close }),
        ),
        Request::RemoteFetch {
            uid,
            request_id,
            options,
        } => json_bytes(
            json!({ "uid": uid, "requestId": request_id, "type": kind::REMOTE_FETCH, "opts": opts_json(options) }),
        ),
        Request::ServerSideEmit {
            uid,
            request_id,
            data,
        } => {
            let mut value = json!({ "uid": uid, "type": kind::SERVER_SIDE_EMIT, "data": data });
            if let Some(id) = request_id {
                value["requestId"] = Json::String(id.clone());
            }
            json_bytes(value)
        }
        Request::Broadcast {
            uid,
            request_id,
            packet,
            options,
        } => encode_mp(&Mp::Map(vec![
            (Mp::from("uid"), Mp::from(uid.as_str())),
            (Mp::from("requestId"), Mp::from(request_id.as_str())),
            (Mp::from("type"), Mp::from(kind::BROADCAST)),
            (Mp::from("packet"), packet_to_mp(packet)),
            (Mp::from("opts"), options_to_mp(options, true)),
        ])),
    }
}

/// Who a remote join, leave or disconnect is for, and the rooms to join or leave: `opts` (the
/// form Node 8.3 sends), or the older form's single socket `sid` and `room`, which Node 8.3
/// still reads that way. A request with neither targets nobody, as in Node: without this
/// rule, missing options would read as "every socket of the namespace".
fn remote_targets(value: &Mp) -> Option<(BroadcastOptions, Vec<String>)> {
    if let Some(opts) = field(value, "opts").filter(|opts| !opts.is_nil()) {
        return Some((options_from_mp(Some(opts)), strings(field(value, "rooms"))));
    }
    let sid = field(value, "sid").and_then(Mp::as_str)?;
    let options = BroadcastOptions {
        rooms: BTreeSet::from([sid.to_owned()]),
        ..BroadcastOptions::default()
    };
    let room = field(value, "room").and_then(Mp::as_str).map(str::to_owned);
    Some((options, room.into_iter().collect()))
}

/// Reads a request (JSON or msgpack). `Ok(None)` for a well-formed request of a type this
/// adapter does not know (Node's own SOCKETS=0 is no longer sent), or a remote join, leave or
/// disconnect that targets nobody.
pub fn decode_request(bytes: &[u8]) -> Result<Option<Request>, WireError> {
    let value = decode_any(bytes)?;
    let kind = field(&value, "type")
        .and_then(Mp::as_u64)
        .ok_or_else(|| bad("a request has a numeric `type`"))?;
    let uid = string_field(&value, "uid")?;
    let options = || options_from_mp(field(&value, "opts"));
    let request_id = || string_field(&value, "requestId");
    Ok(Some(match kind {
        kind::ALL_ROOMS => Request::AllRooms {
            uid,
            request_id: request_id()?,
        },
        kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT => {
            let Some((options, rooms)) = remote_targets(&value) else {
                return Ok(None);
            };
            match kind {
                kind::REMOTE_JOIN => Request::RemoteJoin {
                    uid,
                    options,
                    rooms,
                },
                kind::REMOTE_LEAVE => Request::RemoteLeave {
                    uid,
                    options,
                    rooms,
                },
                _ => Request::RemoteDisconnect {
                    uid,
                    options,
                    close: field(&value, "close")
                        .and_then(Mp::as_bool)
                        .unwrap_or(false),
                },
            }
        }
        kind::REMOTE_FETCH => Request::RemoteFetch {
            uid,
            request_id: request_id()?,
            options: options(),
        },
        kind::SERVER_SIDE_EMIT => {
            let data = match field(&value, "data").map(|d| mp_to_json(d, &mut Vec::new())) {
                Some(Json::Array(items)) if !items.is_empty() => items,
                _ => return Err(bad("a server-side emit has an event")),
            };
            Request::ServerSideEmit {
                uid,
                request_id: request_id().ok(),
                data,
            }
        }
        kind::BROADCAST => Request::Broadcast {
            uid,
            request_id: request_id()?,
            packet: packet_from_mp(field(&value, "packet").ok_or_else(|| bad("no packet"))?)?,
            options: options(),
        },
        _ => return Ok(None),
    }))
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// An answer as Node writes it: JSON, or msgpack for a client's ack.
pub fn encode_response(response: &Response) -> Vec<u8> {
    use serde_json::json;
    match response {
        Response::Rooms { request_id, rooms } => {
            json_bytes(json!({ "requestId": request_id, "rooms": rooms }))
        }
        Response::Sockets {
            request_id,
            sockets,
        } => json_bytes(json!({ "requestId": request_id, "sockets": sockets })),
        Response::ServerAck { request_id, data } => json_bytes(
            json!({ "type": kind::SERVER_SIDE_EMIT, "requestId": request_id, "data": data }),
        ),
        Response::ClientCount { request_id, count } => json_bytes(
            json!({ "type": kind::BROADCAST_CLIENT_COUNT, "requestId": request_id, "clientCount": count }),
        ),
        Response::Ack {
            request_id,
            response,
        } => {
            // socket.io hands the broadcaster the client's first argument only.
            let first = response.args.first().cloned().unwrap_or(Json::Null);
            encode_mp(&Mp::Map(vec![
                (Mp::from("type"), Mp::from(kind::BROADCAST_ACK)),
                (Mp::from("requestId"), Mp::from(request_id.as_str())),
                (Mp::from("packet"), json_to_mp(&first, &response.binary)),
            ]))
        }
    }
}

/// Reads an answer, telling the kinds apart as Node does: by `type`, else by its fields.
pub fn decode_response(bytes: &[u8]) -> Result<Response, WireError> {
    let value = decode_any(bytes)?;
    let request_id = string_field(&value, "requestId")?;
    let kind = field(&value, "type").and_then(Mp::as_u64);
    let json_of = |key: &str| field(&value, key).map(|v| mp_to_json(v, &mut Vec::new()));
    match kind {
        Some(kind::SERVER_SIDE_EMIT) => Ok(Response::ServerAck {
            request_id,
            data: json_of("data").unwrap_or(Json::Null),
        }),
        Some(kind::BROADCAST_CLIENT_COUNT) => Ok(Response::ClientCount {
            request_id,
            count: field(&value, "clientCount")
                .and_then(Mp::as_u64)
                .ok_or_else(|| bad("no clientCount"))? as usize,
        }),
        Some(kind::BROADCAST_ACK) => {
            let mut binary = Vec::new();
            let arg = field(&value, "packet")
                .map(|v| mp_to_json(v, &mut binary))
                .unwrap_or(Json::Null);
            Ok(Response::Ack {
                request_id,
                response: AckResponse {
                    args: vec![arg],
                    binary,
                },
            })
        }
        _ => {
            if let Some(rooms) = field(&value, "rooms") {
                return Ok(Response::Rooms {
                    request_id,
                    rooms: strings(Some(rooms)),
                });
            }
            let Some(Json::Array(items)) = json_of("sockets") else {
                return Err(bad("an answer without a known type, rooms or sockets"));
            };
            let sockets = items
                .into_iter()
                .map(|mut item| {
                    // Node leaves `data` out when a socket never set it.
                    if let Some(map) = item.as_object_mut() {
                        map.entry("data").or_insert(Json::Null);
                    }
                    serde_json::from_value(item).map_err(|e| bad(format!("a socket: {e}")))
                })
                .collect::<Result<_, _>>()?;
            Ok(Response::Sockets {
                request_id,
                sockets,
            })
        }
    }
}
