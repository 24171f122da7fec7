//! The Redis adapter: chapter 2's `LocalAdapter` for this instance's sockets, Redis Pub/Sub
//! for the others, in the wire format of Node's `@socket.io/redis-adapter` 8.3.
//!
//! A broadcast is delivered here first, then published once; every other instance receives it
//! through its pattern subscription and delivers it to its own sockets, encoding it once.
//! Queries (`fetch_sockets`, `all_rooms`, `server_side_emit` with acks, broadcasts with acks)
//! are requests on the request channel that every other instance answers on the response
//! channel; the requester expects as many answers as Redis counts subscribers, minus itself.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, ready};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;
use socketio::adapter::AdapterFactory;
use socketio::protocol::Packet;
use socketio::{
    AckCollector, AckEvent, Adapter, AdapterContext, AdapterError, AdapterFuture, BroadcastOptions,
    LocalAdapter, ServerAck, Socket, SocketInfo,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::channels::Channels;
use crate::reconnect::{Stats, run_subscriber};
use crate::replies::Replies;
use crate::requests::{Pending, collect, random_id};
use crate::wire::{self, Broadcast, Request, Response};

/// One publication waiting in the outbox: channel, payload, and when it was queued (for the lag).
type Outgoing = (String, Vec<u8>, Instant);

/// Publications waiting for Redis at most. While Redis is away each PUBLISH takes up to the
/// 1 s connection timeout to fail, so the outbox fills; a message still queued when Redis comes
/// back is delivered late, and beyond this bound new ones are dropped and counted.
pub const OUTBOX_CAPACITY: usize = 10_000;

/// How an adapter is set up.
#[derive(Debug, Clone)]
pub struct RedisAdapterConfig {
    /// The channel prefix (Node's `key` option). Instances form a cluster when they share it.
    pub key: String,
    /// How long a query waits for every server (Node's `requestsTimeout`).
    pub request_timeout: Duration,
    /// Answer each request on its requester's own response channel instead of the shared one
    /// (Node's `publishOnSpecificResponseChannel`, false by default there too).
    pub publish_on_specific_response_channel: bool,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        RedisAdapterConfig {
            key: "socket.io".into(),
            request_timeout: Duration::from_millis(5000),
            publish_on_specific_response_channel: false,
        }
    }
}

/// The adapters a factory created, by namespace: tests and the demo read their counters.
#[derive(Clone, Default)]
pub struct Handles(Arc<Mutex<Vec<Arc<RedisAdapter>>>>);

impl Handles {
    /// The adapter of namespace `nsp`.
    pub fn get(&self, nsp: &str) -> Option<Arc<RedisAdapter>> {
        let list = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        list.iter().find(|a| a.namespace() == nsp).cloned()
    }

    fn push(&self, adapter: Arc<RedisAdapter>) {
        let mut list = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        list.push(adapter);
    }
}

/// One namespace's adapter on one instance.
pub struct RedisAdapter {
    local: LocalAdapter,
    context: AdapterContext,
    uid: String,
    channels: Channels,
    client: redis::Client,
    config: RedisAdapterConfig,
    publisher: OnceLock<ConnectionManager>,
    // One queue for every publication, drained by one task: messages leave in emit order.
    outbox: mpsc::Sender<Outgoing>,
    outbox_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    pending: Pending,
    replies: Replies,
    stats: Arc<Stats>,
    shutdown: watch::Sender<bool>,
    this: Weak<RedisAdapter>,
}

impl RedisAdapter {
    /// A factory for `SocketIoBuilder::adapter`, and the handles of what it creates.
    pub fn factory(client: redis::Client, config: RedisAdapterConfig) -> (AdapterFactory, Handles) {
        let handles = Handles::default();
        let created = handles.clone();
        let factory: AdapterFactory = Arc::new(move |context| {
            let adapter = RedisAdapter::new(client.clone(), config.clone(), context);
            created.push(adapter.clone());
            let adapter: Arc<dyn Adapter> = adapter;
            ready(Ok(adapter)).boxed()
        });
        (factory, handles)
    }

    /// An adapter for one namespace; `init` connects it.
    pub fn new(
        client: redis::Client,
        config: RedisAdapterConfig,
        context: AdapterContext,
    ) -> Arc<RedisAdapter> {
        let uid = random_id();
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let channels = Channels::new(&config.key, &context.namespace, &uid);
        Arc::new_cyclic(|this| RedisAdapter {
            local: LocalAdapter::new(context.clone()),
            replies: Replies::new(
                channels.clone(),
                config.publish_on_specific_response_channel,
            ),
            channels,
            uid,
            context,
            client,
            config,
            publisher: OnceLock::new(),
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            pending: Pending::default(),
            stats: Arc::default(),
            shutdown: watch::channel(false).0,
            this: this.clone(),
        })
    }

    /// This instance's id on the wire (6 random characters, as Node's).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The namespace this adapter serves.
    pub fn namespace(&self) -> &str {
        &self.context.namespace
    }

    /// Its channels.
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// What it ignored, lost and recovered from.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// How many queries wait for answers.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// How many requests of other servers this instance still answers on their own channel.
    pub fn remembered_requesters(&self) -> usize {
        self.replies.len()
    }

    fn publish(&self, channel: String, payload: Vec<u8>) {
        // Full: Redis has been failing long enough to queue OUTBOX_CAPACITY messages. This one
        // is lost now, counted, rather than memory growing for as long as the outage lasts.
        // Counted as queued before the send: the publisher may take it (and count it out) at once.
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if self
            .outbox
            .try_send((channel, payload, Instant::now()))
            .is_err()
        {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            self.stats.publish_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn send_request(&self, request: &Request) {
        self.publish(self.channels.request.clone(), wire::encode_request(request));
    }

    fn respond(&self, response: &Response) {
        // The shared channel by default, the requester's own with
        // `publish_on_specific_response_channel`: Node instances listen on both.
        self.publish(
            self.replies.channel_for(response),
            wire::encode_response(response),
        );
    }

    fn publisher(&self) -> Result<ConnectionManager, AdapterError> {
        self.publisher
            .get()
            .cloned()
            .ok_or_else(|| AdapterError::Unavailable("the adapter is not initialised".into()))
    }

    /// `PUBSUB NUMSUB <request channel>`: every instance of the cluster, this one included.
    async fn num_sub(&self) -> Result<usize, AdapterError> {
        // ANCHOR: server_count
        let mut conn = self.publisher()?;
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&self.channels.request)
            .query_async(&mut conn)
            .await
            .map_err(|e| AdapterError::Unavailable(format!("PUBSUB NUMSUB failed: {e}")))?;
        Ok(count)
        // ANCHOR_END: server_count
    }

    /// Sends `request` (whose id is `request_id`) and waits for `expected` answers.
    async fn ask(
        &self,
        request_id: &str,
        request: Request,
        expected: usize,
        timeout: Duration,
        operation: &'static str,
    ) -> Result<Vec<Response>, AdapterError> {
        let answers = self.pending.register(request_id);
        let _forget = Forget {
            pending: &self.pending,
            id: request_id,
        };
        self.send_request(&request);
        collect(answers, expected, timeout, operation).await
    }

    /// Everything that arrives from Redis.
    fn on_message(self: &Arc<Self>, message: redis::Msg) {
        let channel = message.get_channel_name();
        let payload = message.get_payload_bytes();
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        if let Some(room) = self.channels.room_of(channel) {
            self.on_broadcast(room, payload);
        } else if channel == self.channels.request {
            self.on_request(payload);
        } else if self.channels.is_response(channel) {
            self.on_response(payload);
        } else {
            self.stats.foreign.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_broadcast(&self, room: &str, payload: &[u8]) {
        // A room channel reaches every instance through the pattern; skip it early when no
        // socket here is in that room (before decoding: most instances hold few rooms), unless
        // a socket recovering here may be about to rejoin it.
        if !room.is_empty() && !self.context.sockets.recovering() && !self.holds(room) {
            return;
        }
        let broadcast = match wire::decode_broadcast(payload) {
            Ok(broadcast) => broadcast,
            Err(error) => {
                self.stats.garbled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "ignored a message on a broadcast channel");
                return;
            }
        };
        if self.is_own(&broadcast) {
            return;
        }
        self.deliver(broadcast);
    }

    /// Whether a socket of this instance is in `room` (a socket id is a room too).
    fn holds(&self, room: &str) -> bool {
        // ANCHOR: room_filter
        self.local.local_rooms().contains(room) || self.context.sockets.contains(room)
        // ANCHOR_END: room_filter
    }

    /// Whether this instance published `broadcast` itself: it was delivered here already.
    fn is_own(&self, broadcast: &Broadcast) -> bool {
        // ANCHOR: self_filter
        broadcast.uid == self.uid
        // ANCHOR_END: self_filter
    }

    /// Hands a broadcast from another instance to this instance's sockets.
    fn deliver(&self, broadcast: Broadcast) {
        // ANCHOR: receive
        if broadcast.packet.nsp != self.context.namespace {
            return;
        }
        self.local
            .broadcast_local(&broadcast.packet, &broadcast.options);
        // ANCHOR_END: receive
    }

    fn on_request(self: &Arc<Self>, payload: &[u8]) {
        let request = match wire::decode_request(payload) {
            Ok(Some(request)) => request,
            Ok(None) => {
                self.stats.foreign.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                self.stats.garbled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "ignored a message on the request channel");
                return;
            }
        };
        // Our own requests come back to us: we already did our part locally.
        if request_uid(&request) == self.uid {
            return;
        }
        self.replies.received(&request);
        self.answer(request);
    }

    /// Does what another server asked, and answers when it waits for an answer.
    fn answer(self: &Arc<Self>, request: Request) {
        // ANCHOR: answer_request
        match request {
            Request::AllRooms { request_id, .. } => self.respond(&Response::Rooms {
                request_id,
                rooms: self.local.local_rooms().into_iter().collect(),
            }),
            Request::RemoteFetch {
                request_id,
                options,
                ..
            } => self.respond(&Response::Sockets {
                request_id,
                sockets: self
                    .local
                    .local_sockets(&options)
                    .iter()
                    .map(Socket::info)
                    .collect(),
            }),
            Request::RemoteJoin { options, rooms, .. } => {
                for sid in self.local.recipients(&options) {
                    self.local.add_all(&sid, &rooms);
                }
            }
            Request::RemoteLeave { options, rooms, .. } => {
                for sid in self.local.recipients(&options) {
                    for room in &rooms {
                        self.local.del(&sid, room);
                    }
                }
            }
            Request::RemoteDisconnect { options, close, .. } => {
                for socket in self.local.local_sockets(&options) {
                    socket.disconnect_with(close);
                }
            }
            Request::ServerSideEmit {
                request_id, data, ..
            } => self.run_server_event(request_id, data),
            Request::Broadcast {
                request_id,
                packet,
                options,
                ..
            } => self.broadcast_for_acks(request_id, packet, options),
        }
        // ANCHOR_END: answer_request
    }

    /// Runs a server-side event's handler; with a request id, publishes its answer.
    fn run_server_event(self: &Arc<Self>, request_id: Option<String>, data: Vec<Value>) {
        let Some(ns) = self.context.namespace() else {
            return;
        };
        let mut data = data.into_iter();
        let name = match data.next() {
            Some(Value::String(name)) => name,
            _ => return,
        };
        let args: Vec<Value> = data.collect();
        let Some(request_id) = request_id else {
            ns.handle_server_event(&name, args, None);
            return;
        };
        let (ack, answer) = ServerAck::new();
        ns.handle_server_event(&name, args, Some(ack));
        let me = self.clone();
        tokio::spawn(async move {
            if let Ok(data) = answer.await {
                me.respond(&Response::ServerAck { request_id, data });
            }
        });
    }

    /// Delivers a broadcast with acks here and forwards the client count, then each ack.
    fn broadcast_for_acks(
        self: &Arc<Self>,
        request_id: String,
        packet: Packet,
        options: BroadcastOptions,
    ) {
        let timeout = options.flags.timeout.unwrap_or(self.config.request_timeout);
        let (collector, mut events) = AckCollector::new();
        self.local
            .broadcast_with_ack_local(packet, &options, &collector);
        drop(collector);
        let me = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
                let response = match event {
                    AckEvent::ClientCount(count) => Response::ClientCount {
                        request_id: request_id.clone(),
                        count,
                    },
                    AckEvent::Ack(response) => Response::Ack {
                        request_id: request_id.clone(),
                        response,
                    },
                };
                me.respond(&response);
            }
            me.replies.done(&request_id);
        });
    }

    fn on_response(&self, payload: &[u8]) {
        match wire::decode_response(payload) {
            // An answer to another instance's request is normal on the shared channel.
            Ok(response) => drop(self.pending.deliver(response)),
            Err(error) => {
                self.stats.garbled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "ignored a message on a response channel");
            }
        }
    }

    /// How many other servers must answer a query, and the error when Redis cannot say.
    async fn others(&self) -> Result<usize, AdapterError> {
        Ok(self.num_sub().await?.saturating_sub(1))
    }
}

fn request_uid(request: &Request) -> &str {
    match request {
        Request::AllRooms { uid, .. }
        | Request::RemoteJoin { uid, .. }
        | Request::RemoteLeave { uid, .. }
        | Request::RemoteDisconnect { uid, .. }
        | Request::RemoteFetch { uid, .. }
        | Request::ServerSideEmit { uid, .. }
        | Request::Broadcast { uid, .. } => uid,
    }
}

/// Stops waiting for a request however its future ends (answered, timed out, dropped).
struct Forget<'a> {
    pending: &'a Pending,
    id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.pending.remove(self.id);
    }
}

/// Publishes the outbox in order; a failure is counted and logged once per outage.
async fn run_publisher(
    mut conn: ConnectionManager,
    mut outbox: mpsc::Receiver<Outgoing>,
    stats: Arc<Stats>,
) {
    let mut failing = false;
    while let Some((channel, payload, queued_at)) = outbox.recv().await {
        let result: redis::RedisResult<i64> = conn.publish(&channel, payload).await;
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        if result.is_ok() {
            let lag = queued_at.elapsed().as_micros() as u64;
            stats.publish_lag_micros.fetch_add(lag, Ordering::Relaxed);
            stats.published.fetch_add(1, Ordering::Relaxed);
        }
        match result {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("publishing to Redis again");
            }
            Ok(_) => {}
            Err(error) => {
                stats.publish_failures.fetch_add(1, Ordering::Relaxed);
                if !failing {
                    failing = true;
                    tracing::warn!(%error, "cannot publish to Redis; messages for the other instances are lost until it is back");
                }
            }
        }
    }
}

impl Adapter for RedisAdapter {
    fn init(&self) -> AdapterFuture<'_, ()> {
        async move {
            let unavailable = |e: redis::RedisError| {
                AdapterError::Unavailable(format!("cannot connect to Redis: {e}"))
            };
            // Short timeouts: during an outage a publication fails fast instead of piling up.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_max_delay(Duration::from_secs(1));
            let conn = self
                .client
                .get_connection_manager_with_config(config)
                .await
                .map_err(unavailable)?;
            if self.publisher.set(conn.clone()).is_err() {
                return Ok(());
            }
            let outbox = self
                .outbox_rx
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(outbox) = outbox {
                tokio::spawn(run_publisher(conn, outbox, self.stats.clone()));
            }
            // Subscribed before `init` returns: nothing published after `start` is missed.
            let (ready_tx, ready_rx) = oneshot::channel();
            let weak = self.this.clone();
            tokio::spawn(run_subscriber(
                self.client.clone(),
                self.channels.clone(),
                self.stats.clone(),
                self.shutdown.subscribe(),
                ready_tx,
                move |message| {
                    if let Some(adapter) = weak.upgrade() {
                        adapter.on_message(message);
                    }
                },
            ));
            match ready_rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(unavailable(e)),
                Err(_) => Err(AdapterError::Unavailable("the subscriber stopped".into())),
            }
        }
        .boxed()
    }

    fn close(&self) -> AdapterFuture<'_, ()> {
        let _ = self.shutdown.send(true);
        ready(Ok(())).boxed()
    }

    fn add_all(&self, sid: &str, rooms: &[String]) {
        self.local.add_all(sid, rooms);
    }

    fn del(&self, sid: &str, room: &str) {
        self.local.del(sid, room);
    }

    fn del_all(&self, sid: &str) {
        self.local.del_all(sid);
    }

    fn rooms_of(&self, sid: &str) -> Vec<String> {
        self.local.rooms_of(sid)
    }

    fn sockets_in(&self, rooms: &[String]) -> Vec<String> {
        self.local.sockets_in(rooms)
    }

    fn broadcast(&self, packet: Packet, options: BroadcastOptions) -> AdapterFuture<'static, ()> {
        // ANCHOR: publish
        if !options.flags.local {
            let channel = self.channels.for_broadcast(&options);
            self.publish(
                channel,
                wire::encode_broadcast(&self.uid, &packet, &options),
            );
        }
        // ANCHOR_END: publish
        // Published first, as Node's adapter does: the way through Redis is the longer one, so
        // it starts before this instance spends its time queueing the frame for its own sockets.
        self.local.broadcast_local(&packet, &options);
        ready(Ok(())).boxed()
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        options: BroadcastOptions,
        acks: AckCollector,
    ) -> AdapterFuture<'static, ()> {
        self.local
            .broadcast_with_ack_local(packet.clone(), &options, &acks);
        if options.flags.local {
            return ready(Ok(())).boxed();
        }
        let request_id = random_id();
        let mut answers = self.pending.register(&request_id);
        self.send_request(&Request::Broadcast {
            uid: self.uid.clone(),
            request_id: request_id.clone(),
            packet,
            options: options.clone(),
        });
        // Node forgets an ack request after the broadcast's timeout; so do we.
        let timeout = options.flags.timeout.unwrap_or(self.config.request_timeout);
        let weak = self.this.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, answers.recv()).await {
                let open = match answer {
                    Response::ClientCount { count, .. } => {
                        acks.server_reported(count);
                        true
                    }
                    Response::Ack { response, .. } => acks.ack(response),
                    _ => true,
                };
                if !open {
                    break;
                }
            }
            if let Some(adapter) = weak.upgrade() {
                adapter.pending.remove(&request_id);
            }
        });
        ready(Ok(())).boxed()
    }

    fn add_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        for sid in self.local.recipients(&options) {
            self.local.add_all(&sid, &rooms);
        }
        if !options.flags.local {
            self.send_request(&Request::RemoteJoin {
                uid: self.uid.clone(),
                options,
                rooms,
            });
        }
        ready(Ok(())).boxed()
    }

    fn del_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        for sid in self.local.recipients(&options) {
            for room in &rooms {
                self.local.del(&sid, room);
            }
        }
        if !options.flags.local {
            self.send_request(&Request::RemoteLeave {
                uid: self.uid.clone(),
                options,
                rooms,
            });
        }
        ready(Ok(())).boxed()
    }

    fn disconnect_sockets(&self, options: BroadcastOptions, close: bool) -> AdapterFuture<'_, ()> {
        for socket in self.local.local_sockets(&options) {
            socket.disconnect_with(close);
        }
        if !options.flags.local {
            self.send_request(&Request::RemoteDisconnect {
                uid: self.uid.clone(),
                options,
                close,
            });
        }
        ready(Ok(())).boxed()
    }

    fn fetch_sockets(&self, options: BroadcastOptions) -> AdapterFuture<'_, Vec<SocketInfo>> {
        async move {
            let mut sockets: Vec<SocketInfo> = self
                .local
                .local_sockets(&options)
                .iter()
                .map(Socket::info)
                .collect();
            if options.flags.local {
                return Ok(sockets);
            }
            let others = self.others().await?;
            if others == 0 {
                return Ok(sockets);
            }
            let request_id = random_id();
            let request = Request::RemoteFetch {
                uid: self.uid.clone(),
                request_id: request_id.clone(),
                options,
            };
            let timeout = self.config.request_timeout;
            for answer in self
                .ask(&request_id, request, others, timeout, "fetch_sockets")
                .await?
            {
                if let Response::Sockets {
                    sockets: remote, ..
                } = answer
                {
                    sockets.extend(remote);
                }
            }
            Ok(sockets)
        }
        .boxed()
    }

    fn all_rooms(&self) -> AdapterFuture<'_, BTreeSet<String>> {
        async move {
            let mut rooms = self.local.local_rooms();
            let others = self.others().await?;
            if others == 0 {
                return Ok(rooms);
            }
            let request_id = random_id();
            let request = Request::AllRooms {
                uid: self.uid.clone(),
                request_id: request_id.clone(),
            };
            let timeout = self.config.request_timeout;
            for answer in self
                .ask(&request_id, request, others, timeout, "all_rooms")
                .await?
            {
                if let Response::Rooms { rooms: remote, .. } = answer {
                    rooms.extend(remote);
                }
            }
            Ok(rooms)
        }
        .boxed()
    }

    fn server_count(&self) -> AdapterFuture<'_, usize> {
        async move { self.num_sub().await }.boxed()
    }

    fn server_side_emit(
        &self,
        name: String,
        args: Vec<Value>,
        ack: Option<Duration>,
    ) -> AdapterFuture<'_, Vec<Value>> {
        let work: BoxFuture<'_, Result<Vec<Value>, AdapterError>> = async move {
            let mut data = vec![Value::String(name)];
            data.extend(args);
            let Some(timeout) = ack else {
                self.send_request(&Request::ServerSideEmit {
                    uid: self.uid.clone(),
                    request_id: None,
                    data,
                });
                return Ok(Vec::new());
            };
            let others = self.others().await?;
            if others == 0 {
                return Ok(Vec::new());
            }
            let request_id = random_id();
            let request = Request::ServerSideEmit {
                uid: self.uid.clone(),
                request_id: Some(request_id.clone()),
                data,
            };
            let answers = self
                .ask(&request_id, request, others, timeout, "server_side_emit")
                .await?;
            Ok(answers
                .into_iter()
                .filter_map(|answer| match answer {
                    Response::ServerAck { data, .. } => Some(data),
                    _ => None,
                })
                .collect())
        }
        .boxed();
        work
    }
}
