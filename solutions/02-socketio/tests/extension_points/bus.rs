//! A cluster adapter over an in-process bus: what chapter 3's Redis adapter does, minus Redis.
//!
//! It wraps a `LocalAdapter` as Node's Redis adapter wraps socket.io's in-memory one: local
//! state and delivery stay there, broadcasts are published to the others, and queries are
//! requests that every other server answers. Its only purpose is to prove that the `Adapter`
//! trait is enough for that, method for method.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::ready;
use serde_json::Value;
use socketio::protocol::Packet;
use socketio::{
    AckCollector, AckEvent, Adapter, AdapterContext, AdapterError, AdapterFuture, BroadcastOptions,
    LocalAdapter, ServerAck, SocketInfo,
};
use tokio::sync::{broadcast, mpsc};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
enum Request {
    Fetch(BroadcastOptions),
    AllRooms,
    Join(BroadcastOptions, Vec<String>),
    Leave(BroadcastOptions, Vec<String>),
    Disconnect(BroadcastOptions, bool),
    ServerEvent(String, Vec<Value>, bool),
    BroadcastWithAck(Packet, BroadcastOptions),
}

#[derive(Clone, Debug)]
enum Reply {
    Sockets(Vec<SocketInfo>),
    Rooms(BTreeSet<String>),
    ServerAck(Value),
    Acks(AckEvent),
}

#[derive(Clone, Debug)]
enum Message {
    Broadcast {
        from: usize,
        nsp: String,
        packet: Packet,
        options: BroadcastOptions,
    },
    Request {
        from: usize,
        nsp: String,
        id: u64,
        request: Request,
    },
    Reply {
        to: usize,
        id: u64,
        reply: Reply,
    },
}

/// The bus several servers share, and what the test watches of it.
#[derive(Clone)]
pub struct Bus {
    tx: broadcast::Sender<Message>,
    servers: usize,
    initialised: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    muted: Arc<Mutex<Vec<usize>>>,
}

impl Bus {
    pub fn new(servers: usize) -> Bus {
        Bus {
            tx: broadcast::channel(1024).0,
            servers,
            initialised: Arc::default(),
            closed: Arc::default(),
            muted: Arc::default(),
        }
    }

    /// The adapter factory of server `me`.
    pub fn factory(
        &self,
        me: usize,
    ) -> impl Fn(AdapterContext) -> AdapterFuture<'static, Arc<dyn Adapter>> + Send + Sync + 'static
    {
        let bus = self.clone();
        move |context| {
            let adapter: Arc<dyn Adapter> = BusAdapter::new(bus.clone(), me, context);
            ready(Ok(adapter)).boxed()
        }
    }

    /// A factory that, like one connecting to Redis, is not ready at once.
    pub fn slow_factory(
        &self,
    ) -> impl Fn(AdapterContext) -> AdapterFuture<'static, Arc<dyn Adapter>> + Send + Sync + 'static
    {
        let bus = self.clone();
        move |context| {
            let bus = bus.clone();
            async move {
                tokio::task::yield_now().await;
                let adapter: Arc<dyn Adapter> = BusAdapter::new(bus, 0, context);
                Ok(adapter)
            }
            .boxed()
        }
    }

    /// Server `me` stops answering requests.
    pub fn mute(&self, me: usize) {
        self.muted.lock().unwrap().push(me);
    }

    pub fn initialised(&self) -> usize {
        self.initialised.load(Ordering::SeqCst)
    }

    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

struct BusAdapter {
    bus: Bus,
    me: usize,
    context: AdapterContext,
    local: LocalAdapter,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, mpsc::UnboundedSender<Reply>>>,
    listening: AtomicBool,
    this: Weak<BusAdapter>,
}

impl BusAdapter {
    fn new(bus: Bus, me: usize, context: AdapterContext) -> Arc<BusAdapter> {
        Arc::new_cyclic(|this| BusAdapter {
            this: this.clone(),
            local: LocalAdapter::new(context.clone()),
            bus,
            me,
            context,
            next_id: AtomicU64::new(0),
            pending: Mutex::default(),
            listening: AtomicBool::new(false),
        })
    }

    fn publish(&self, message: Message) {
        let _ = self.bus.tx.send(message);
    }

    /// Sends a request to the others and collects `expected` replies, or times out.
    async fn ask(&self, request: Request, expected: usize) -> Result<Vec<Reply>, AdapterError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.publish(Message::Request {
            from: self.me,
            nsp: self.context.namespace.clone(),
            id,
            request,
        });
        let mut replies = Vec::new();
        let collected = tokio::time::timeout(REQUEST_TIMEOUT, async {
            while replies.len() < expected {
                match rx.recv().await {
                    Some(reply) => replies.push(reply),
                    None => break,
                }
            }
        })
        .await;
        self.pending.lock().unwrap().remove(&id);
        match collected {
            Ok(()) => Ok(replies),
            Err(_) => Err(AdapterError::Timeout {
                operation: "bus request",
                timeout: REQUEST_TIMEOUT,
                answered: replies.len(),
                expected,
            }),
        }
    }

    fn others(&self) -> usize {
        self.bus.servers - 1
    }

    /// What every server does with what the bus carries.
    fn on_message(self: &Arc<Self>, message: Message) {
        match message {
            Message::Broadcast {
                from,
                nsp,
                packet,
                options,
            } => {
                if from != self.me && nsp == self.context.namespace {
                    self.local.broadcast_local(&packet, &options);
                }
            }
            Message::Reply { to, id, reply } => {
                if to == self.me
                    && let Some(tx) = self.pending.lock().unwrap().get(&id)
                {
                    let _ = tx.send(reply);
                }
            }
            Message::Request {
                from,
                nsp,
                id,
                request,
            } => {
                let muted = self.bus.muted.lock().unwrap().contains(&self.me);
                if from != self.me && nsp == self.context.namespace && !muted {
                    self.answer(from, id, request);
                }
            }
        }
    }

    fn answer(self: &Arc<Self>, to: usize, id: u64, request: Request) {
        let reply = move |reply| Message::Reply { to, id, reply };
        match request {
            Request::Fetch(options) => {
                let sockets = self
                    .local
                    .local_sockets(&options)
                    .iter()
                    .map(|s| s.info())
                    .collect();
                self.publish(reply(Reply::Sockets(sockets)));
            }
            Request::AllRooms => self.publish(reply(Reply::Rooms(self.local.local_rooms()))),
            Request::Join(options, rooms) => drop(self.local.add_sockets(options, rooms)),
            Request::Leave(options, rooms) => drop(self.local.del_sockets(options, rooms)),
            Request::Disconnect(options, close) => {
                drop(self.local.disconnect_sockets(options, close))
            }
            Request::ServerEvent(name, args, wants_ack) => {
                let Some(ns) = self.context.namespace() else {
                    return;
                };
                if !wants_ack {
                    ns.handle_server_event(&name, args, None);
                    return;
                }
                let (ack, answer) = ServerAck::new();
                ns.handle_server_event(&name, args, Some(ack));
                let me = self.clone();
                tokio::spawn(async move {
                    if let Ok(value) = answer.await {
                        me.publish(reply(Reply::ServerAck(value)));
                    }
                });
            }
            Request::BroadcastWithAck(packet, options) => {
                // Run it here with a collector that forwards every event to the requester.
                let (collector, mut events) = AckCollector::new();
                self.local
                    .broadcast_with_ack_local(packet, &options, &collector);
                let me = self.clone();
                tokio::spawn(async move {
                    while let Some(event) = events.recv().await {
                        me.publish(reply(Reply::Acks(event)));
                    }
                });
            }
        }
    }
}

impl Adapter for BusAdapter {
    fn init(&self) -> AdapterFuture<'_, ()> {
        // Subscribe before the server accepts anything: nothing published after `start` is
        // missed. The listener holds a weak reference, so a dropped server stops it.
        let mut rx = self.bus.tx.subscribe();
        let weak = self.this.clone();
        self.bus.initialised.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            while let Ok(message) = rx.recv().await {
                let Some(adapter) = weak.upgrade() else {
                    return;
                };
                if !adapter.listening.load(Ordering::SeqCst) {
                    return;
                }
                adapter.on_message(message);
            }
        });
        self.listening.store(true, Ordering::SeqCst);
        ready(Ok(())).boxed()
    }

    fn close(&self) -> AdapterFuture<'_, ()> {
        self.listening.store(false, Ordering::SeqCst);
        self.bus.closed.fetch_add(1, Ordering::SeqCst);
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
        self.local.broadcast_local(&packet, &options);
        if !options.flags.local {
            self.publish(Message::Broadcast {
                from: self.me,
                nsp: self.context.namespace.clone(),
                packet,
                options,
            });
        }
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
        // Remote answers come back as replies to one request id; hand them to `acks`.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.publish(Message::Request {
            from: self.me,
            nsp: self.context.namespace.clone(),
            id,
            request: Request::BroadcastWithAck(packet, options),
        });
        tokio::spawn(async move {
            while let Some(Reply::Acks(event)) = rx.recv().await {
                let open = match event {
                    AckEvent::ClientCount(n) => {
                        acks.server_reported(n);
                        true
                    }
                    AckEvent::Ack(response) => acks.ack(response),
                };
                if !open {
                    return;
                }
            }
        });
        ready(Ok(())).boxed()
    }

    fn add_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        async move {
            self.local
                .add_sockets(options.clone(), rooms.clone())
                .await?;
            if !options.flags.local {
                self.ask(Request::Join(options, rooms), 0).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn del_sockets(&self, options: BroadcastOptions, rooms: Vec<String>) -> AdapterFuture<'_, ()> {
        async move {
            self.local
                .del_sockets(options.clone(), rooms.clone())
                .await?;
            if !options.flags.local {
                self.ask(Request::Leave(options, rooms), 0).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn disconnect_sockets(&self, options: BroadcastOptions, close: bool) -> AdapterFuture<'_, ()> {
        async move {
            self.local
                .disconnect_sockets(options.clone(), close)
                .await?;
            if !options.flags.local {
                self.ask(Request::Disconnect(options, close), 0).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn fetch_sockets(&self, options: BroadcastOptions) -> AdapterFuture<'_, Vec<SocketInfo>> {
        async move {
            let mut sockets = self.local.fetch_sockets(options.clone()).await?;
            if options.flags.local {
                return Ok(sockets);
            }
            for reply in self.ask(Request::Fetch(options), self.others()).await? {
                if let Reply::Sockets(remote) = reply {
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
            for reply in self.ask(Request::AllRooms, self.others()).await? {
                if let Reply::Rooms(remote) = reply {
                    rooms.extend(remote);
                }
            }
            Ok(rooms)
        }
        .boxed()
    }

    fn server_count(&self) -> AdapterFuture<'_, usize> {
        ready(Ok(self.bus.servers)).boxed()
    }

    fn server_side_emit(
        &self,
        name: String,
        args: Vec<Value>,
        ack: Option<std::time::Duration>,
    ) -> AdapterFuture<'_, Vec<Value>> {
        async move {
            let wants_ack = ack.is_some();
            let expected = if wants_ack { self.others() } else { 0 };
            let replies = self
                .ask(Request::ServerEvent(name, args, wants_ack), expected)
                .await?;
            Ok(replies
                .into_iter()
                .filter_map(|reply| match reply {
                    Reply::ServerAck(value) => Some(value),
                    _ => None,
                })
                .collect())
        }
        .boxed()
    }
}
